# Set-up and checks. `make demo` and `make test` do everything on a fresh machine with
# Python 3.11+: create .venv, install the core and every plugin (editable) with the test
# dependencies, then run. (Two pip steps: pip resolves the core's dependency on the
# plugin distributions only once the core itself is installed.) Re-running is quick: the install is redone only when a
# pyproject.toml changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PLUGINS := $(filter-out plugins/_template/%,$(wildcard plugins/*/pyproject.toml))
PYTEST_ARGS ?=
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: install demo test bench lint clean

install: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "conveyor needs Python 3.11 or newer; set PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml $(PLUGINS)
	$(PIP) -e . $(foreach p,$(dir $(PLUGINS)),-e ./$(p))
	$(PIP) -e '.[s3,dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/pipeline.py

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/python -m pip install --quiet ruff mypy
	$(BIN)/ruff check core plugins tests

clean:
	rm -rf $(VENV) .conveyor-results build dist
