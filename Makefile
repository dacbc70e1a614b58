# qdbtools developer commands. `make demo` and `make test` work from a clean clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test lint notebooks clean

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

## test: the whole test suite against a real QuestDB started by the pytest plugin
test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check qdbtools tests benchmarks

## notebooks: JupyterLab on notebooks/ in the same environment
notebooks: setup
	$(BIN)/python -m pip install --quiet -e '.[dev,notebooks]'
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) build *.egg-info
