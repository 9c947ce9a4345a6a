# Quick start: `make plan` (offline plan of a stack) and `make test` (lint + the whole suite).
# Both create .venv and install the pinned requirements on first use; `make setup` does only that.
STACK ?= dev
VENV  ?= .venv
PY    := $(VENV)/bin/python

.PHONY: setup plan test lint format bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

plan: setup
	$(PY) -m tools.plan $(STACK)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint
	$(PY) -m pytest

bench: setup
	$(PY) -m benchmarks.plan_overhead

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
