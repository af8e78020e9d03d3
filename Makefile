# MI Admin: the two commands are `make run` (the whole demo) and `make test` (lint, types, suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The project itself, editable (`pip install -e . --no-deps`): it puts the `mi` console script
# (mi_cli/) in $(VENV)/bin; redone when pyproject.toml changes.
INSTALLED := $(VENV)/.installed-project

.PHONY: run test lint typecheck check pytest deps services bench clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

$(INSTALLED): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(INSTALLED)

deps: $(INSTALLED)

## make run: fleet simulator, local OIDC provider, web, Celery worker and beat on 127.0.0.1
run: $(INSTALLED)
	$(PY) scripts/devstack.py

## make test: installs and starts what the tests need, then lint, type checks and the suite
test: $(INSTALLED) services lint typecheck check pytest

services:
	@bash scripts/ensure-test-services.sh

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(INSTALLED)
	$(VENV)/bin/mypy .

check: $(INSTALLED)
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py check --fail-level WARNING
	DATABASE_URL=sqlite://:memory: DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py makemigrations --check --dry-run

pytest: $(INSTALLED)
	$(VENV)/bin/pytest -p no:randomly

bench: $(INSTALLED)
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf var artifacts staticfiles .mypy_cache .ruff_cache
