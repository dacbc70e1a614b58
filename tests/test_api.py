"""The public API is curated: ``__all__`` lists exactly the public names."""

import qdbtools


def test_all_matches_public_names():
    public = {name for name in vars(qdbtools) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(qdbtools, name)).__name__ == "module"}
    assert sorted(qdbtools.__all__) == sorted((public - modules) | {"__version__"})


def test_all_has_no_duplicates():
    assert len(qdbtools.__all__) == len(set(qdbtools.__all__))


def test_every_error_derives_from_the_root():
    errors = [getattr(qdbtools, n) for n in qdbtools.__all__ if n.endswith("Error")]
    assert errors
    for error in errors:
        assert issubclass(error, qdbtools.QdbToolsError)


def test_results_print_short_and_show_as_tables_in_jupyter():
    import pandas as pd

    from qdbtools.offline import EngineRun
    from qdbtools.store import SaveResult

    save = SaveResult(
        10_000,
        "overwrite",
        {"RSI_14": 1_796_122_071_023_123_456},
        {"RSI_14": "ab" * 32},
        0.0512,
        pd.Timestamp("2026-12-01T12:00:00.123456Z"),
    )
    run = EngineRun("sess", "BTC_USDT", bars=1429, rows={"RSI_14": 1415}, seconds={"compute": 0.01})
    for result in (save, run):
        text = repr(result)
        assert len(text) < 200 and "1796122071023123456" not in text and "ab" * 32 not in text, text
        assert result._repr_html_().startswith("<table><caption>")
    assert "rows=10,000" in repr(save) and "RSI_14" in repr(save)
    assert "rows=1,415" in repr(run)
