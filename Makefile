# leadscore: every target does its own set-up first (virtualenv, pinned packages, Delta Lake jars).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LAKEHOUSE ?= ./lakehouse

.PHONY: setup jars test lint demo bench validate clean

setup: $(STAMP) jars

# Re-installs only when the pins or the package metadata change.
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.lock
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	touch $@

jars: $(STAMP)
	@$(PY) -m leadscore.spark fetch-jars >/dev/null

test: setup
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

demo: setup
	$(VENV)/bin/leadscore demo --lakehouse $(LAKEHOUSE)

bench: setup
	$(PY) bench/run.py

clean:
	rm -rf $(LAKEHOUSE) spark-warehouse .pytest_cache
