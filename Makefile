# Quick start: `make plan` (offline plan of a stack) and `make test` (lint + the whole suite).
# Both create .venv and install the pinned requirements on first use; `make setup` does only that.
STACK ?= dev
VENV  ?= .venv
PY    := $(VENV)/bin/python

.PHONY: setup plan diagrams docs review cost test lint format bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

# The plan ends with the Well-Architected review, the diagram and dev vs prod cost, and fails
# on mandatory findings; the diagram is written first so it is updated either way.
plan: setup
	$(PY) -m tools.diagram $(STACK)
	$(PY) -m tools.plan $(STACK)

# Regenerate docs/diagrams/<stack>.md for every stack and the diagrams in the docs pages.
diagrams: setup
	$(PY) -m tools.diagram

# Regenerate every generated part of README.md and docs/: the config reference (from the schema's
# field docstrings and the profiles), the rules, each pattern's resources and map, the diagrams.
docs: setup
	$(PY) -m tools.reference
	$(PY) -m tools.diagram

review: setup
	$(PY) -m tools.review $(STACK)

cost: setup
	$(PY) -m tools.cost

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# On every core. A test module runs on one worker (--dist loadfile): the PostgreSQL-backed tests
# (tests/test_web_app.py) share one database and role and must not run side by side.
test: lint
	$(PY) -m pytest -n auto --dist loadfile

bench: setup
	$(PY) -m benchmarks.plan_overhead

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
