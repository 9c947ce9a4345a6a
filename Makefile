# Quick start: `make plan` (offline plan of a stack) and `make test` (lint + the whole suite).
# Both create .venv and install the pinned requirements on first use; `make setup` does only that.
# `make plan STACK=dev FILE=my.yaml` (and `make review ... FILE=...`) read a stack file of your own.
STACK ?= dev
BASE  ?= HEAD
FILE  ?=
VENV  ?= .venv
PY    := $(VENV)/bin/python
FILE_ARG = $(if $(FILE),--file '$(FILE)')

.PHONY: setup plan diagrams docs review cost diff snapshots schema test lint format bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

# The plan ends with the Well-Architected review, the diagram, dev vs prod cost and the estimated
# duration of a fresh `pulumi up`, and fails on mandatory findings; the stack's committed diagram
# is rewritten too (not for a FILE of your own, which has none; the plan still prints it). One
# process and one program run: the other stacks' costs are cached in .cache/ (keyed by their
# stack file and the program's sources).
plan: setup
	$(PY) -m tools.plan $(STACK) $(if $(FILE),$(FILE_ARG),--write-diagram)

# Regenerate docs/diagrams/<stack>.md for every stack and the diagrams in the docs pages.
diagrams: setup
	$(PY) -m tools.diagram

# Regenerate every generated part of README.md and docs/: the config reference (from the schema's
# field docstrings and the profiles), the rules, each pattern's resources and map, the diagrams.
docs: setup
	$(PY) -m tools.reference
	$(PY) -m tools.diagram

review: setup
	$(PY) -m tools.review $(STACK) $(FILE_ARG)

cost: setup
	$(PY) -m tools.cost

# What the working tree changes in every stack against BASE (a git ref): resources, replacements
# and renames, data-loss risk (exit 1 unless ALLOW_DATA_LOSS=1), cost and findings deltas, the
# marked diagram. DIFF_OUT=dir also writes diff.md, diff.json and review.sarif there.
diff: setup
	$(PY) -m tools.diff --base $(BASE) $(if $(DIFF_OUT),--out $(DIFF_OUT)) $(if $(ALLOW_DATA_LOSS),--allow-data-loss)

# Rewrite snapshots/<stack>.txt (every URN) after a deliberate change of resource identities.
snapshots: setup
	$(PY) -m tools.snapshots

# Regenerate schema/stack.schema.json (editors validate stack files with it) from the config model.
schema: setup
	$(PY) -m tools.schema

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
	$(PY) -m benchmarks.plan_overhead
	$(PY) -m benchmarks.microservices_scale
	$(PY) -m benchmarks.handler_init
	$(PY) -m benchmarks.diff_timing

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .cache
