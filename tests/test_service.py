"""The seed-compatible IndicatorPersistenceService against the real QuestDB (and CSV mode)."""

from __future__ import annotations

import asyncio
import json
import logging

import numpy as np
import pandas as pd
import pytest

from qdbtools.checksum import values_checksum
from qdbtools.config import Settings
from qdbtools.database import Database
from qdbtools.exceptions import DatabaseUnavailableError, InvalidInputError
from qdbtools.server import free_ports
from qdbtools.service import IndicatorPersistenceService, IndicatorValue


class RecordingLogger:
    def __init__(self):
        self.events = []

    def __getattr__(self, level):
        return lambda event, context=None: self.events.append((level, event, context))


class RecordingBus:
    def __init__(self):
        self.published = []

    async def publish(self, name, payload):
        self.published.append((name, payload))


def make_values(n: int, *, start: float = 1_709_251_200.0, offset: float = 0.0) -> list[IndicatorValue]:
    return [
        IndicatorValue(
            timestamp=start + 60 * i + 0.123456,
            value=50.0 + i + offset,
            confidence=0.0 if i % 3 == 0 else 0.9,
            indicator_type="momentum",
            indicator_name="Relative Strength Index",
            metadata={"period": 14, "note": 'zażółć "q", i=' + str(i)},
            scope="scope-a",
            user_id="u1" if i % 2 else None,
            created_by="engine",
        )
        for i in range(n)
    ]


def run(coro):
    return asyncio.run(coro)


def test_save_100_values_and_load_them_back(qdb, unique_id):
    logger, bus = RecordingLogger(), RecordingBus()
    service = IndicatorPersistenceService(bus, logger, questdb_provider=qdb)
    values = make_values(100)
    assert run(service.save_values(unique_id, "BTC_USDT", "RSI_14", values, variant_type="momentum")) == 100
    loaded = run(service.load_values(unique_id, "BTC_USDT", "RSI_14", variant_type="momentum"))
    assert len(loaded) == 100
    for original, back in zip(values, loaded, strict=True):
        assert back.timestamp == pytest.approx(original.timestamp, abs=1e-6)
        assert back.value == original.value and back.confidence == original.confidence
        assert back.metadata == original.metadata
        assert (back.scope, back.user_id, back.created_by) == (
            original.scope,
            original.user_id,
            original.created_by,
        )
        assert (back.indicator_id, back.indicator_type) == ("RSI_14", "momentum")
    assert loaded[0].confidence == 0.0  # not None
    saved = [e for e in logger.events if e[1] == "indicator_persistence.saved_to_questdb"]
    assert saved and saved[0][2]["count"] == 100 and saved[0][2]["variant_id"] == "RSI_14"
    assert bus.published[0][0] == "indicator_values.saved" and bus.published[0][1]["count"] == 100


def test_load_limit_and_exact_variant(qdb, unique_id):
    service = IndicatorPersistenceService(None, None, questdb_provider=qdb)
    run(service.save_values(unique_id, "X", "RSI_14", make_values(10)))
    run(service.save_values(unique_id, "X", "RSI_140", make_values(10, offset=1000)))
    first = run(service.load_values(unique_id, "X", "RSI_14", limit=3))
    assert [v.value for v in first] == [50.0, 51.0, 52.0]
    assert run(service.load_values(unique_id, "X", "RSI_1")) == []


def test_overwrite_replaces_and_file_info_reports_it(qdb, unique_id):
    service = IndicatorPersistenceService(None, None, questdb_provider=qdb)
    run(service.save_values(unique_id, "X", "EMA_12", make_values(50)))
    run(service.save_values(unique_id, "X", "EMA_12", make_values(5, offset=7), mode="overwrite"))
    assert [v.value for v in run(service.load_values(unique_id, "X", "EMA_12"))] == [
        57.0,
        58.0,
        59.0,
        60.0,
        61.0,
    ]
    info = run(service.get_file_info(unique_id, "X", "EMA_12"))
    assert info["exists"] is True and info["rows"] == 5 and info["storage"] == "questdb"
    assert info["path"] == f"questdb://indicators/{unique_id}/X/EMA_12"
    assert info["size_is_estimate"] is True and "estimate" in info["size_note"]
    missing = run(service.get_file_info(unique_id, "X", "NOPE_1"))
    assert missing["exists"] is False and missing["rows"] == 0


def test_outage_raises_instead_of_returning_empty(unique_id, caplog):
    (port,) = free_ports(1)
    down = Database(Settings(http_port=port, pg_port=port, connect_timeout=2, request_timeout=5))
    logger, bus = RecordingLogger(), RecordingBus()
    service = IndicatorPersistenceService(bus, logger, questdb_provider=down)
    with pytest.raises(DatabaseUnavailableError):
        run(service.load_values(unique_id, "X", "RSI_14"))
    with pytest.raises(DatabaseUnavailableError):
        run(service.save_values(unique_id, "X", "RSI_14", make_values(3)))
    events = [e[1] for e in logger.events]
    assert "indicator_persistence.load_failed" in events and "indicator_persistence.save_failed" in events
    assert bus.published[-1][0] == "indicator_values.save_failed"


def test_default_logger_uses_stdlib_logging(qdb, unique_id, caplog):
    service = IndicatorPersistenceService(questdb_provider=qdb)
    with caplog.at_level(logging.INFO, logger="qdbtools.service"):
        run(service.save_values(unique_id, "X", "RSI_14", make_values(2)))
    record = next(r for r in caplog.records if r.getMessage() == "indicator_persistence.saved_to_questdb")
    assert record.context["count"] == 2


def test_default_database_is_used_when_no_provider_is_given(qdb, unique_id):
    service = IndicatorPersistenceService()
    run(service.save_values(unique_id, "X", "RSI_14", make_values(4)))
    assert len(run(service.load_values(unique_id, "X", "RSI_14"))) == 4
    assert service.db is qdb


def test_csv_mode_keeps_the_legacy_layout(tmp_path, unique_id):
    service = IndicatorPersistenceService(base_data_dir=tmp_path, storage="csv")
    values = make_values(20)
    run(service.save_values(unique_id, "BTC_USDT", "RSI_14", values, variant_type="momentum"))
    run(
        service.save_values(
            unique_id,
            "BTC_USDT",
            "RSI_14",
            make_values(5, start=values[-1].timestamp + 60),
            variant_type="momentum",
        )
    )
    path = tmp_path / unique_id / "BTC_USDT" / "indicators" / "momentum_RSI_14.csv"
    assert path.exists()
    loaded = run(service.load_values(unique_id, "BTC_USDT", "RSI_14", variant_type="momentum"))
    assert len(loaded) == 25
    assert [v.confidence for v in loaded[:3]] == [0.0, 0.9, 0.9]
    assert loaded[1].metadata == values[1].metadata
    info = run(service.get_file_info(unique_id, "BTC_USDT", "RSI_14", variant_type="momentum"))
    assert info["rows"] == 25 and info["size"] == path.stat().st_size and info["size_is_estimate"] is False


def test_equal_looking_metadata_of_different_types_stays_distinct():
    from qdbtools.service import values_to_frame

    shared = {"period": 14}
    metadata = [
        {"a": 1},
        {"a": True},
        {"a": 1.0},
        {"a": [1]},
        {"a": {"b": 1}},
        {},
        shared,
        shared,
        {"a": 1},
        {"a": 0.0},
        {"a": -0.0},
        {"a": [-0.0]},
    ]
    values = [IndicatorValue(1_709_251_200.0 + 60 * i, 1.0, metadata=m) for i, m in enumerate(metadata)]
    column = values_to_frame(values, "RSI_14", "general")["metadata"]
    texts = [None if isinstance(text, float) else text for text in column.tolist()]  # NaN: none
    assert texts == [
        '{"a": 1}',
        '{"a": true}',
        '{"a": 1.0}',
        '{"a": [1]}',
        '{"a": {"b": 1}}',
        None,
        '{"period": 14}',
        '{"period": 14}',
        '{"a": 1}',
        '{"a": 0.0}',
        '{"a": -0.0}',
        '{"a": [-0.0]}',
    ]


def _mixed_values(n: int) -> list[IndicatorValue]:
    """Unsorted stamps, an exact repeat, NaN values, None confidences, odd texts and metadata."""
    texts = [None, "plain", "it's", 'q"uote', "back\\slash", "tab\tnew\nline", "zażółć 🚀", "100%"]
    values = [
        IndicatorValue(
            timestamp=1_709_251_200.0 + 60 * ((i * 7) % n) + 0.000001 * i,
            value=float("nan") if i % 11 == 5 else 40.0 + i / 3,
            confidence=None if i % 4 == 1 else i / n,
            indicator_name=texts[i % len(texts)],
            metadata={} if i % 5 == 0 else {"period": 14, "note": texts[(i + 1) % len(texts)], "f": 1.0},
            scope=texts[(i + 2) % len(texts)],
            user_id=texts[(i + 3) % len(texts)],
            created_by=texts[(i + 4) % len(texts)],
        )
        for i in range(n)
    ]
    return [*values, values[-1]]  # an exact repeat is stored once


@pytest.mark.parametrize("n", [1, 40, 300])
def test_small_saves_without_a_dataframe_store_what_the_frame_path_stores(qdb, unique_id, monkeypatch, n):
    service = IndicatorPersistenceService(questdb_provider=qdb)
    values = _mixed_values(n)

    def save(suffix):
        return asyncio.run(service.save_values(unique_id + suffix, "S'1", "RSI_14", values, mode="overwrite"))

    row_by_row = save("_rows")
    monkeypatch.setattr("qdbtools.store._columns.ROW_BY_ROW_MAX_ROWS", -1)  # force rows_from_columns
    by_frame = save("_frame")
    assert row_by_row == by_frame == len({v.timestamp for v in values if v.value == v.value})
    qdb.wait_until_visible("indicators")
    columns = "timestamp, symbol, indicator_type, indicator_id, commit_mode, indicator_name, value, "
    columns += "confidence, metadata, scope, user_id, created_by"
    query = f"SELECT {columns} FROM indicators WHERE session_id = :s ORDER BY commit_mode, timestamp"
    stored = [qdb.sql(query, {"s": unique_id + suffix}) for suffix in ("_rows", "_frame")]
    markers = [frame["commit_mode"].notna() for frame in stored]
    values_part = [frame[~mask].reset_index(drop=True) for frame, mask in zip(stored, markers, strict=True)]
    pd.testing.assert_frame_equal(values_part[0], values_part[1], check_exact=True)
    assert len(values_part[0]) == row_by_row
    details = [json.loads(f.loc[mask, "metadata"].iat[0]) for f, mask in zip(stored, markers, strict=True)]
    for detail, suffix, part in zip(details, ("_rows", "_frame"), values_part, strict=True):
        ids = (unique_id + suffix, "S'1", "general", "RSI_14")
        assert detail.pop("checksum") == values_checksum(
            *ids, part["timestamp"], part["value"], part["confidence"]
        )
    assert details[0] == details[1] and details[0]["rows"] == row_by_row
    loaded = [asyncio.run(service.load_values(unique_id + s, "S'1", "RSI_14")) for s in ("_rows", "_frame")]
    assert loaded[0] == loaded[1] and len(loaded[0]) == row_by_row


@pytest.mark.parametrize("metadata", ["text", 5, [1, 2], "", 0, [], np.array([1.0, 2.0])])
def test_service_metadata_must_be_a_dict(qdb, unique_id, metadata):
    service = IndicatorPersistenceService(questdb_provider=qdb)
    bad = [IndicatorValue(timestamp=1_709_251_200.0, value=1.0), IndicatorValue(1_709_251_260.0, 2.0)]
    bad[1].metadata = metadata
    with pytest.raises(InvalidInputError, match=r"indicator_values\[1\]\.metadata must be a dict"):
        asyncio.run(service.save_values(unique_id, "BTC", "RSI_14", bad))


@pytest.mark.parametrize(("session_id", "symbol"), [("", "X"), ("s", "  ")])
def test_a_save_under_an_empty_or_blank_key_is_refused(qdb, session_id, symbol):
    service = IndicatorPersistenceService(questdb_provider=qdb)
    with pytest.raises(InvalidInputError, match=r"a save needs a (session_id|symbol) that names it"):
        run(service.save_values(session_id, symbol, "RSI_14", make_values(3)))


def test_a_notebook_save_without_a_variant_type_never_replaces_the_systems_values(qdb, unique_id):
    service = IndicatorPersistenceService(questdb_provider=qdb)
    system = [IndicatorValue(1_709_251_200.0 + 60 * i, 50.0 + i) for i in range(5)]
    run(service.save_values(unique_id, "BTC_USDT", "RSI_14", system, mode="overwrite"))  # "general"
    index = pd.to_datetime([v.timestamp for v in system], unit="s", utc=True)
    mine = pd.DataFrame({"RSI_14": [70.0] * 5}, index=index)
    result = mine.qdb.save_indicators(session_id=unique_id, symbol="BTC_USDT", mode="overwrite", db=qdb)
    assert result.rows == 5
    assert [v.value for v in run(service.load_values(unique_id, "BTC_USDT", "RSI_14"))] == [
        50.0 + i for i in range(5)
    ]
    both = qdb.list_indicators(session_id=unique_id)
    assert sorted(both["indicator_type"]) == ["custom", "general"]
    assert (
        qdb.load_indicators(unique_id, "BTC_USDT", ["RSI_14"], variant_type="custom")["RSI_14"].tolist()
        == [70.0] * 5
    )


@pytest.mark.parametrize("enabled", [True, False])
def test_converting_frames_to_values_leaves_the_garbage_collector_as_it_found_it(enabled):
    import gc

    from qdbtools.service import frame_to_values, values_to_frame

    values = [IndicatorValue(1_709_251_200.0 + 60 * i, float(i), metadata={"i": i}) for i in range(100)]
    frame = values_to_frame(values, "RSI_14", "general")
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        back = frame_to_values(frame)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert [(v.timestamp, v.value, v.metadata) for v in back] == [
        (v.timestamp, v.value, v.metadata) for v in values
    ]
