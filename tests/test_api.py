"""The public API is curated: ``__all__`` lists exactly the public names."""

import inspect

import pandas as pd
import pytest

import qdbtools
from qdbtools.accessor import QdbAccessor


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


@pytest.mark.parametrize(
    ("accessor_method", "target", "frame_parameter"),
    [
        ("write_ticks", "Database.write_ticks", "frame"),
        ("write", "Database.write_frame", "frame"),
        ("save_indicators", "Database.save_indicators", "frame"),
        ("plot", "plot_indicators", "ohlcv"),
    ],
)
def test_accessor_methods_have_the_signature_of_what_they_call(accessor_method, target, frame_parameter):
    from qdbtools.plotting import plot_indicators

    called = plot_indicators if target == "plot_indicators" else getattr(qdbtools.Database, target[9:])
    theirs = dict(inspect.signature(called).parameters)
    ours = dict(inspect.signature(getattr(QdbAccessor, accessor_method)).parameters)
    for name in ("self", frame_parameter):
        theirs.pop(name, None)
    ours.pop("self")
    ours.pop("db", None)
    # The accessor may make a positional parameter keyword-only, nothing else may differ.
    assert list(ours) == [n for n in theirs if n in ours] and set(ours) <= set(theirs), (ours, theirs)
    missing = set(theirs) - set(ours)
    assert all(theirs[n].default is not inspect.Parameter.empty for n in missing), missing
    for name, parameter in ours.items():
        assert parameter.default == theirs[name].default, name
        assert parameter.annotation == theirs[name].annotation, name
    if target != "plot_indicators":
        doc = getattr(QdbAccessor, accessor_method).__doc__
        assert "Parameters\n----------" in doc and "Examples\n--------" in doc


def test_the_accessor_holds_only_its_frame():
    frame = pd.DataFrame({"close": [1.0]})
    assert QdbAccessor.__slots__ == ("_obj",)
    with pytest.raises(AttributeError):
        frame.qdb.anything = 1
