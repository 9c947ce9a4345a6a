# Quick start: `make plan` (offline plan of a stack) and `make test` (lint + the whole suite).
# Both create .venv and install the pinned requirements on first use; `make setup` does only that.
STACK ?= dev
VENV  ?= .venv
PY    := $(VENV)/bin/python

.PHONY: setup plan diagrams review cost test lint format bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

# The plan ends with the Well-Architected review, the diagram, dev vs prod cost and the estimated
# duration of a fresh `pulumi up`, and fails on mandatory findings; the stack's diagram is
# rewritten first so it is updated either way. One process and one program run: the other
# stacks' costs are cached in .cache/ (keyed by their stack file and the program's sources).
plan: setup
	$(PY) -m tools.plan $(STACK) --write-diagram

# Regenerate docs/diagrams/<stack>.md for every stack and the README's copy of prod's.
diagrams: setup
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

# Figures only (CPU and wall time against their floors); takes several minutes. See benchmarks/.
bench: setup
	$(PY) -m benchmarks.plan
	$(PY) -m benchmarks.scaling
	$(PY) -m benchmarks.handlers

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .cache
