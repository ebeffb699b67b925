# Set-up and checks, on a fresh machine with Python 3.11+ (`PYTHON=python3.12 make test`
# picks another interpreter). Each target creates .venv when it is missing.
#
#   make demo     installs the core and every plugin (editable), nothing else, and runs
#                 the example pipeline
#   make test     the same plus the test dependencies (the `dev` extra), then the suite
#   make cluster  the demo pipeline on PostgreSQL, SeaweedFS and 4 Dask workers started here
#   make dist     a wheel and an sdist of each of the seven distributions into dist/,
#                 checked with twine; then `pip install --find-links dist 'conveyor[s3]'`
#                 installs conveyor into any other environment
#   make version V=X.Y.Z   sets the one version of all of them (.ci/versions.py)
#
# Re-running is quick: an install is redone only when a pyproject.toml (or a plugin's C
# source) changed. Two stamps: $(STAMP_DEMO) for the demo's set, $(STAMP_TEST) for the
# test set on top of it, so a venv that only ran the demo gets the test dependencies
# from `make test`. (The test set is a second pip step: pip resolves the core's
# dependency on the plugin distributions only once the core itself is installed.)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_TEST := $(VENV)/.installed-test
PLUGINS := $(filter-out plugins/_template/%,$(wildcard plugins/*/pyproject.toml))
PYTEST_ARGS ?=
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# The build frontend and the checker of `make dist`: chosen dependencies of the project,
# installed into .venv by the dist step only (never a dependency of conveyor itself).
# The `dev` extra lists the same two for the suite's wheel-install test: keep them equal.
DIST_TOOLS := 'build>=1.2' 'twine>=6.1'
DIST   := dist

.PHONY: install demo cluster test dist version bench bench-all lint clean

install: $(STAMP_TEST)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "conveyor needs Python 3.11 or newer; set PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)

# A plugin's C source (the JSON plugin's optional proof) is compiled by its editable
# install, so a change to it reinstalls too.
C_SOURCES := $(wildcard plugins/*/*/*.c)

$(STAMP_DEMO): $(BIN)/python pyproject.toml $(PLUGINS) $(C_SOURCES)
	$(PIP) -e . $(foreach p,$(dir $(PLUGINS)),-e ./$(p))
	@touch $(STAMP_DEMO)

$(STAMP_TEST): $(STAMP_DEMO)
	$(PIP) -e '.[s3,postgres,dask,dev]'
	@touch $(STAMP_TEST)

demo: $(STAMP_DEMO)
	$(BIN)/python examples/pipeline.py

# The demo pipeline on a cluster started here: PostgreSQL (pgserver), SeaweedFS (S3) and a
# Dask LocalCluster of 4 worker processes; see docs/scale-out.md.
cluster: $(STAMP_TEST)
	$(BIN)/python examples/cluster/run.py

test: $(STAMP_TEST)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Each distribution is built from its own folder by the standard frontend (an sdist,
# then the wheel from that sdist), so what is checked is what a user would install.
dist: $(BIN)/python
	$(PIP) $(DIST_TOOLS)
	$(BIN)/python .ci/versions.py check
	rm -rf $(DIST)
	@for d in . $(dir $(PLUGINS)); do \
		echo "== python -m build $$d"; \
		$(BIN)/python -m build --outdir $(DIST) $$d > $(VENV)/build.log 2>&1 \
			|| { cat $(VENV)/build.log; exit 1; }; \
	done
	$(BIN)/python -m twine check --strict $(DIST)/*
	@echo "Built $(DIST)/: pip install --find-links $(DIST) 'conveyor[s3]'"

version:
	@test -n "$(V)" || { echo "usage: make version V=X.Y.Z"; exit 2; }
	$(PYTHON) .ci/versions.py set $(V)

# `make bench`: issue 14's table (each hot path against its raw limit, under a minute);
# joblib is a benchmark-only dependency (the `bench` extra), the outside-a-flow cache
# hit's yardstick. `make bench-all` runs every benchmark in bench/ (longer).
bench: $(STAMP_TEST)
	$(PIP) -e '.[bench]'
	$(BIN)/python bench/bench_hotpaths.py

bench-all: bench
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP_TEST)
	$(BIN)/python -m pip install --quiet ruff mypy
	$(BIN)/ruff check core plugins tests

# The venv, the demo's results, the builds, and the C modules the editable installs
# compiled in place (for that venv's Python).
clean:
	rm -rf $(VENV) .conveyor-results build $(DIST)
	rm -f $(C_SOURCES:.c=.*.so)
