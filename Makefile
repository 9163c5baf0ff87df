# Tocsin: `make demo` runs the embedded default, `make test` installs and runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CODE   := bot adapters commands
ALL    := $(CODE) tests bench

.PHONY: install demo check lint types test test-fast system-deps bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,all]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/tocsin demo

lint: install
	$(BIN)/ruff check $(ALL)
	$(BIN)/ruff format --check $(ALL)

types: install
	$(BIN)/mypy

check: lint types

system-deps:
	scripts/system-deps.sh

test: install system-deps check
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not e2e" -x -q

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/escalation.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis tocsin-demo
