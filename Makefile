# fluxlab: `make demo` runs a simulated closed-loop campaign, `make test` runs the checks and tests.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
SRC := schemas services simulators benchmarks

.PHONY: install demo test lint unit bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e ".[test,postgres]"
	touch $@

demo: install
	$(BIN)/fluxlab demo

lint: install
	$(BIN)/ruff check $(SRC) tests examples deploy
	$(BIN)/mypy $(SRC)
	$(BIN)/fluxlab schemas export --check

test: lint
	$(BIN)/pytest -q

bench: install
	for b in ingest simulator predictor loop; do $(BIN)/fluxlab bench $$b --json || exit 1; done

clean:
	rm -rf $(VENV) .fluxlab .pytest_cache .mypy_cache .ruff_cache
