# fluxlab: `make demo` runs a simulated closed-loop campaign, `make test` runs the checks and tests.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
SRC := schemas services simulators benchmarks

LOCK := requirements.lock
LATEST ?= .venv-latest

.PHONY: install demo test test-slow test-all lint unit bench clean lock test-latest

install: $(VENV)/.installed

# The lock holds the exact versions the suite last passed with; installs use it as constraints.
$(VENV)/.installed: pyproject.toml $(LOCK)
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c $(LOCK) -e ".[test,postgres]"
	touch $@

# A separate venv with the newest versions pyproject.toml's ranges allow (no lock): drift shows here first.
$(LATEST)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	rm -rf $(LATEST) && $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install -q -e ".[test,postgres]"
	touch $@

# Run the suite against the newest allowed versions (not part of CI; CI uses the lock).
test-latest:
	rm -rf $(LATEST)
	$(MAKE) $(LATEST)/.installed
	$(LATEST)/bin/pip freeze --exclude-editable | sed 's/^\(torch==[^+]*\)+.*/\1/'
	$(LATEST)/bin/ruff check $(SRC) tests examples deploy
	$(LATEST)/bin/mypy $(SRC)
	$(LATEST)/bin/pytest -q -m "not slow"

# Regenerate the lock from a fresh resolve of pyproject.toml (then run `make test` to check it).
lock:
	rm -rf $(LATEST) && $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install -q -c constraints/preferred.txt -e ".[test,postgres,bench]"
	scripts/write-lock $(LATEST)/bin/python $(LOCK)
	rm -rf $(LATEST)

demo: install
	$(BIN)/fluxlab demo

lint: install
	$(BIN)/ruff check $(SRC) tests examples deploy
	$(BIN)/mypy $(SRC)
	$(BIN)/fluxlab schemas export --check

# The suite without the tests marked slow (quick benchmarks, Biolog CV, the kill and permission loops):
# CI runs this on 2 cores in under 20 minutes. `make test-slow` runs the rest, `make test-all` both.
test: lint
	$(BIN)/pytest -q -m "not slow"

test-slow: install
	$(BIN)/pytest -q -m slow

test-all: lint
	$(BIN)/pytest -q

bench: install
	for b in ingest simulator predictor loop; do $(BIN)/fluxlab bench $$b --json || exit 1; done

clean:
	rm -rf $(VENV) $(LATEST) .fluxlab .pytest_cache .mypy_cache .ruff_cache
