# qdbtools developer commands. `make demo` and `make test` work from a clean clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test lint notebooks bench-env bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

## setup: virtualenv with qdbtools[dev], the pinned QuestDB jar (Maven) and a Java check
setup: $(BIN)/.installed
	$(BIN)/qdbtools server install

## demo: the main job on the embedded default
demo: setup
	$(BIN)/qdbtools demo

## test: lint, then the whole test suite against a real QuestDB started by the pytest plugin
test: setup lint
	$(BIN)/python -m pytest

## lint: ruff (rules and formatting) over the package, tests, benchmarks and notebooks; mypy --strict
## over the package ([tool.mypy] in pyproject.toml)
lint: setup
	$(BIN)/ruff check qdbtools tests benchmarks notebooks
	$(BIN)/ruff format --check --extend-exclude "*.ipynb" qdbtools tests benchmarks notebooks
	$(BIN)/python -m mypy

## notebooks: JupyterLab (with jupytext) on notebooks/ in the same environment; NN_name.py are the
## sources, paired with the .ipynb; `python notebooks/_build.py` rebuilds the .ipynb from them
notebooks: setup
	$(BIN)/python -m pip install --quiet -e '.[dev,notebooks]'
	$(BIN)/jupyter lab notebooks/

## bench-env: a separate environment for ArcticDB, the outside reference of the persistence
## benchmark (ArcticDB 6.28 requires pandas < 3, qdbtools pandas >= 3)
bench-env: .venv-arcticdb/bin/python

.venv-arcticdb/bin/python:
	$(PYTHON) -m venv .venv-arcticdb
	.venv-arcticdb/bin/python -m pip install --quiet 'arcticdb>=6.28,<7' 'pandas<3' pyarrow

## bench: every benchmark script; tables are printed, JSON goes to benchmarks/results/
bench: setup bench-env
	$(BIN)/python benchmarks/bench_io.py --rows 1000000 --repeat 3
	$(BIN)/python benchmarks/bench_persistence.py --repeat 20
	$(BIN)/python benchmarks/bench_indicators.py --rows 1000000 --repeat 3 --skip-pandas-ta

clean:
	rm -rf $(VENV) .venv-arcticdb build *.egg-info
