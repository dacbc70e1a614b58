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
