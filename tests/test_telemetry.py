"""Operational metrics: OpenTelemetry instruments and spans, Database.stats(), a Prometheus scrape.

Everything runs against the real QuestDB of the test plugin; the OpenTelemetry SDK's
in-memory reader and span exporter stand in for an operator's collector.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pandas as pd
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from qdbtools import Database, NoDataError
from qdbtools.exceptions import DatabaseUnavailableError
from qdbtools.health import check_health
from qdbtools.service import IndicatorPersistenceService, IndicatorValue
from qdbtools.telemetry import STATS_COLUMNS, Telemetry


def _frame(n: int = 50) -> pd.DataFrame:
    index = pd.date_range("2024-03-01", periods=n, freq="1min", tz="UTC")
    return pd.DataFrame({"RSI_14": np.linspace(1.0, 2.0, n)}, index=index)


class Observed:
    """A Database on the test server whose telemetry goes to in-memory SDK readers."""

    def __init__(self, settings, *, record_ids: bool = False, server=None) -> None:
        self.metrics = InMemoryMetricReader()
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.telemetry = Telemetry(
            meter_provider=MeterProvider(metric_readers=[self.metrics]),
            tracer_provider=tracer_provider,
            record_ids=record_ids,
        )
        self.db = Database(settings, telemetry=self.telemetry, server=server)

    def points(self, name: str) -> list:
        data = self.metrics.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found


def test_each_call_is_one_histogram_point_with_its_attributes_and_no_ids(qdb, unique_id):
    seen = Observed(qdb.settings)
    for _ in range(3):
        seen.db.save_indicators(_frame(), unique_id, "BTC'\\%", "overwrite")
    seen.db.save_indicators(_frame(), unique_id, "BTC'\\%", "append")
    for _ in range(2):
        assert len(seen.db.load_indicators(unique_id, "BTC'\\%", ["RSI_14"])) == 50
    seen.db.list_indicators(session_id=unique_id)

    points = {tuple(sorted(p.attributes.items())): p for p in seen.points("qdbtools.operation.duration")}
    save = (("mode", "overwrite"), ("operation", "save"), ("outcome", "ok"), ("table", "indicators"))
    append = (("mode", "append"), ("operation", "save"), ("outcome", "ok"), ("table", "indicators"))
    assert points[save].count == 3 and points[append].count == 1
    loads = [p for key, p in points.items() if ("operation", "load") in key]
    assert len(loads) == 1 and loads[0].count == 2 and loads[0].attributes["outcome"] == "ok"
    assert all(p.sum > 0 for p in points.values())
    assert not any("session_id" in p.attributes or "symbol" in p.attributes for p in points.values())
    calls = {
        p.attributes["operation"]: p.value
        for p in seen.points("qdbtools.operation.calls")
        if p.attributes["outcome"] == "ok" and p.attributes.get("mode") != "append"
    }
    assert calls == {"save": 3, "load": 2, "list": 1}
    assert seen.points("qdbtools.operation.errors") == []


def test_ids_are_attributes_only_when_asked_for(qdb, unique_id):
    seen = Observed(qdb.settings, record_ids=True)
    seen.db.save_indicators(_frame(), unique_id, "ÉTH/€", "overwrite")
    (point,) = seen.points("qdbtools.operation.duration")
    assert point.attributes["session_id"] == unique_id and point.attributes["symbol"] == "ÉTH/€"


def test_a_save_and_a_load_are_spans_whose_children_are_their_round_trips(qdb, unique_id):
    seen = Observed(qdb.settings)
    seen.db.save_indicators(_frame(), unique_id, "B", "overwrite", wait=True)
    seen.db.load_indicators(unique_id, "B")
    spans = seen.spans.get_finished_spans()
    by_name: dict[str, list] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    (save,) = by_name["qdbtools.save"]
    (load,) = by_name["qdbtools.load"]
    children = {}
    for span in spans:
        if span.parent is not None:
            children.setdefault(span.parent.span_id, set()).add(span.name)
    assert {"serialize", "request", "wait_visible"} <= children[save.context.span_id]
    assert {"markers", "query"} <= children[load.context.span_id]
    assert save.attributes["outcome"] == "ok" and save.attributes["mode"] == "overwrite"
    request = next(s for s in by_name["request"] if s.parent.span_id == save.context.span_id)
    assert save.start_time <= request.start_time <= request.end_time <= save.end_time


def test_stats_agree_with_the_calls_made(qdb, unique_id):
    seen = Observed(qdb.settings)
    for _ in range(4):
        seen.db.save_indicators(_frame(), unique_id, "B", "overwrite")
    for _ in range(6):
        seen.db.load_indicators(unique_id, "B")
    stats = seen.db.stats()
    assert list(stats.columns) == list(STATS_COLUMNS)
    rows = stats.set_index("operation")
    assert rows.loc["save", "calls"] == 4 and rows.loc["load", "calls"] == 6
    assert (rows["errors"] == 0).all() and (rows["error_rate"] == 0.0).all()
    assert (rows["p50_ms"] > 0).all() and (rows["p50_ms"] <= rows["p95_ms"]).all()
    assert (rows["p95_ms"] <= rows["p99_ms"]).all()
    seen.db.reset_stats()
    assert seen.db.stats().empty


def test_a_stopped_server_counts_as_an_error_of_its_class(qdb_server_factory, unique_id):
    server = qdb_server_factory()
    seen = Observed(server.settings, server=server)
    seen.db.migrate()
    seen.db.save_indicators(_frame(), unique_id, "B", "overwrite", wait=True)
    server.stop()
    with pytest.raises(DatabaseUnavailableError):
        seen.db.load_indicators(unique_id, "B")
    (error,) = seen.points("qdbtools.operation.errors")
    assert error.value == 1
    assert error.attributes["error.type"] == "DatabaseUnavailableError"
    assert error.attributes["operation"] == "load"
    rows = seen.db.stats().set_index("operation")
    assert rows.loc["load", "errors"] == 1 and rows.loc["load", "error_rate"] == 1.0
    assert rows.loc["save", "errors"] == 0
    (span,) = [s for s in seen.spans.get_finished_spans() if s.name == "qdbtools.load"]
    assert span.attributes["outcome"] == "error" and not span.status.is_ok


def test_no_data_is_its_own_outcome_not_an_error():
    telemetry = Telemetry(meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()]))
    with pytest.raises(NoDataError), telemetry.operation("load", {}):
        raise NoDataError("nothing stored for that variant")
    row = telemetry.stats.frame().iloc[0]
    assert (row["calls"], row["errors"], row["no_data"], row["error_rate"]) == (1, 0, 1, 0.0)


def test_the_service_calls_are_measured_on_the_database(qdb, unique_id):
    seen = Observed(qdb.settings)
    service = IndicatorPersistenceService(questdb_provider=seen.db)
    values = [IndicatorValue(1_709_251_200.0 + 60 * i, float(i)) for i in range(10)]

    async def calls() -> None:
        await service.save_values(unique_id, "B", "RSI_14", values, mode="overwrite")
        assert len(await service.load_values(unique_id, "B", "RSI_14")) == 10
        assert (await service.get_file_info(unique_id, "B", "RSI_14"))["rows"] == 10

    asyncio.run(calls())
    rows = seen.db.stats().set_index("operation")
    assert {"service.save", "service.load", "service.info"} <= set(rows.index)
    assert rows.loc[["service.save", "service.load", "service.info"], "calls"].tolist() == [1, 1, 1]
    (save,) = [
        p for p in seen.points("qdbtools.operation.duration") if p.attributes["operation"] == "service.save"
    ]
    assert save.attributes["mode"] == "overwrite"


def test_prometheus_scrapes_the_counters_and_histograms(qdb, unique_id):
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import start_http_server

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = MeterProvider(metric_readers=[PrometheusMetricReader()])
    http_server, thread = start_http_server(port, addr="127.0.0.1")
    try:
        db = Database(qdb.settings, telemetry=Telemetry(meter_provider=provider))
        for _ in range(3):
            db.save_indicators(_frame(), unique_id, "B", "overwrite")
        db.load_indicators(unique_id, "B")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
    finally:
        http_server.shutdown()
        thread.join(10)
        provider.shutdown()  # unregisters the reader's collector from prometheus_client's registry
    calls = [line for line in text.splitlines() if line.startswith("qdbtools_operation_calls_total{")]
    assert any('operation="save"' in line and line.endswith(" 3.0") for line in calls), calls
    assert any('operation="load"' in line and line.endswith(" 1.0") for line in calls), calls
    buckets = [
        line for line in text.splitlines() if line.startswith("qdbtools_operation_duration_seconds_bucket{")
    ]
    assert any(
        'operation="save"' in line and 'le="+Inf"' in line and line.endswith(" 3.0") for line in buckets
    )
    assert "qdbtools_operation_duration_seconds_count" in text


def test_the_health_probe_passes_within_limits_and_names_what_is_over(qdb):
    report = check_health(qdb, latency_ms=60_000, error_rate=0.001, loads=5, values=50)
    assert report.ok, report.problems
    rows = report.stats.set_index("operation")
    assert rows.loc["save", "calls"] == 1 and rows.loc["load", "calls"] == 5
    assert report.error_rate == 0.0 and 0 < report.latency_ms < 60_000
    strict = check_health(qdb, latency_ms=0.0001, loads=3)
    assert not strict.ok
    assert strict.problems == [f"p99 load latency {strict.latency_ms:.1f} ms is over the limit 0.0001 ms"]
    assert "session" not in qdb.stats().columns  # the probe's figures stay in its own Database


def test_the_health_probe_fails_on_a_stopped_server_within_its_bound(qdb_server_factory):
    server = qdb_server_factory()
    with Database(server.settings, server=server) as db:
        db.migrate()
        server.stop()
        started = time.monotonic()
        report = check_health(db, loads=20)
    assert time.monotonic() - started < 30
    assert not report.ok and report.error_rate == 1.0
    assert report.problems[0].startswith("a probe call failed: DatabaseUnavailableError")
    assert "error rate 100.00% of 1 calls is over the limit 0.10%" in report.problems


def test_the_documented_global_setup_works_even_after_the_database_was_made(qdb, unique_id):
    # Global providers can be set once per process: a subprocess keeps this test's state its own.
    script = f"""
import pandas as pd
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import qdbtools

db = qdbtools.connect(conf="http::addr=127.0.0.1:{qdb.settings.http_port};",
                      url="questdb://admin:{qdb.settings.password}@127.0.0.1:{qdb.settings.pg_port}/qdb")
assert not db.telemetry.tracing()
reader, spans = InMemoryMetricReader(), InMemorySpanExporter()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(spans))
trace.set_tracer_provider(provider)
frame = pd.DataFrame({{"RSI_14": [1.0, 2.0]}}, index=pd.date_range("2024-03-01", periods=2, tz="UTC"))
db.save_indicators(frame, "{unique_id}", "B", "overwrite")
data = reader.get_metrics_data()
names = [m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics]
print(sorted(set(names)), sorted({{s.name for s in spans.get_finished_spans()}}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "['qdbtools.operation.calls', 'qdbtools.operation.duration']" in result.stdout, result.stdout
    assert "'qdbtools.save'" in result.stdout and "'request'" in result.stdout, result.stdout
