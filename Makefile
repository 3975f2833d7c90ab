# realtime_widget: `make test` and `make demo` set everything up from a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8888
SERVER_PORT ?= 8765

.PHONY: help venv lint typecheck pytest nodetest test bench soak demo server clean

help:
	@echo "make test   - set up .venv and run ruff, mypy, pytest and node --test"
	@echo "make demo   - set up .venv and open examples.ipynb in JupyterLab on the local server"
	@echo "make bench  - run the benchmarks and print the table"
	@echo "make soak   - run the long fuzzing and soak profiles"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check realtime_widget tests benchmarks
	$(BIN)/ruff format --check realtime_widget tests benchmarks

typecheck: venv
	$(BIN)/mypy

pytest: venv
	$(BIN)/pytest -q

nodetest:
	@if [ -d js/tests ]; then node --test js/tests/; fi

test: lint typecheck pytest nodetest

bench: venv
	$(BIN)/python -m benchmarks

soak: venv
	HYPOTHESIS_PROFILE=nightly $(BIN)/pytest -q -m soak -o addopts=""

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist
