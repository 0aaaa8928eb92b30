# leadscore: every target does its own set-up first (virtualenv, pinned packages, Delta Lake jars).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LAKEHOUSE ?= ./lakehouse

# The Databricks CLI: a Go module, built from source by `go install` at this pinned version. Keep it equal to
# databricks-bundles in requirements.lock, whose job model (generated from this CLI's schema) `make validate` uses.
DATABRICKS_CLI_VERSION := 0.280.0
DATABRICKS := .cache/databricks-cli/v$(DATABRICKS_CLI_VERSION)/databricks
# Exactly what `databricks bundle schema` prints at that version, kept beside the repository for machines where the
# CLI cannot be installed.
BUNDLE_SCHEMA := ../shared/databricks/bundle-schema-v$(DATABRICKS_CLI_VERSION).json

.PHONY: setup jars class-archive test lint demo console bench bench-quick bench-smoke validate databricks-cli clean

setup: $(STAMP) jars class-archive

# Re-installs only when the pins or the package metadata change.
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.lock
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	touch $@

jars: $(STAMP)
	@$(PY) -m leadscore.spark fetch-jars >/dev/null

# The JVM's class-data archive (src/leadscore/class_archive.py): made once for this JDK and these pins, then mapped
# by every local session, which starts sooner (docs/performance.md, Ingest). A no-op while .cache/jvm holds it.
class-archive: jars
	@$(PY) -m leadscore.class_archive

test: setup
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/pytest -q -m "not bench" --durations=25

lint: setup
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

demo: setup
	$(VENV)/bin/leadscore demo --fresh --lakehouse $(LAKEHOUSE)

# The agents' console on the local lakehouse (the one `make demo` filled); prints its URL. PORT=8502 for another port.
console: setup
	$(VENV)/bin/leadscore console --lakehouse $(LAKEHOUSE) $(if $(PORT),--port $(PORT))

# Installs the pinned CLI once; a no-op while .cache holds it. `go install` names the binary after the module (cli).
databricks-cli: $(DATABRICKS)

$(DATABRICKS):
	GOBIN=$(abspath $(@D)) go install github.com/databricks/cli@v$(DATABRICKS_CLI_VERSION)
	mv $(@D)/cli $@

# Offline checks of databricks.yml and resources/ always run (tests/bundle/bundle_check.py). Every bundle file is
# also validated against the CLI's JSON schema: the installed CLI's `bundle schema` when there is one, otherwise
# $(BUNDLE_SCHEMA) when it is beside the repository; the output says which. With a workspace configured
# (DATABRICKS_HOST or DATABRICKS_CONFIG_PROFILE) `bundle validate` runs for each target.
# LEADSCORE_REQUIRE_DATABRICKS_CLI=1 makes a CLI that cannot be installed an error instead of a notice.
validate: setup
	@$(MAKE) --no-print-directory databricks-cli 2>/dev/null || echo "validate: could not install Databricks CLI v$(DATABRICKS_CLI_VERSION)"
	@if [ -x $(DATABRICKS) ]; then \
	  echo "validate: against the JSON schema of the installed Databricks CLI v$(DATABRICKS_CLI_VERSION)"; \
	  $(DATABRICKS) bundle schema > .cache/bundle-schema.json && \
	  $(PY) tests/bundle/bundle_check.py --schema .cache/bundle-schema.json; \
	elif [ -n "$$LEADSCORE_REQUIRE_DATABRICKS_CLI" ]; then \
	  echo "validate: the Databricks CLI is required (LEADSCORE_REQUIRE_DATABRICKS_CLI)"; exit 1; \
	elif [ -f $(BUNDLE_SCHEMA) ]; then \
	  echo "validate: no Databricks CLI; against the CLI v$(DATABRICKS_CLI_VERSION) JSON schema in $(BUNDLE_SCHEMA)"; \
	  $(PY) tests/bundle/bundle_check.py --schema $(BUNDLE_SCHEMA); \
	else \
	  echo "validate: no Databricks CLI and no $(BUNDLE_SCHEMA): offline checks only, no CLI schema"; \
	  $(PY) tests/bundle/bundle_check.py; \
	fi
	@if [ -z "$$DATABRICKS_HOST$$DATABRICKS_CONFIG_PROFILE" ]; then \
	  echo "validate: no workspace configured: \`databricks bundle validate\` not run"; \
	elif [ -x $(DATABRICKS) ]; then \
	  for target in dev prod; do $(DATABRICKS) bundle validate -t $$target || exit 1; done; \
	fi

# The benchmark (docs/performance.md, Method): full scale by default; BENCH_SCALE=small|tiny for a quick pass,
# BENCH_ARGS for flags (e.g. BENCH_ARGS="--phases ingest_small,latency"). Writes bench/results/latest.{json,md}.
bench: setup
	$(PY) bench/run.py $(BENCH_ARGS)

# The headline figures, each beside the stack's own ceiling, in under 10 minutes: writes bench/results/quick.{json,md}
# with latest.json's keys. BENCH_BASELINE=<another checkout> runs each leg for that checkout and this one alternately
# (A B A B, BENCH_ROUNDS rounds, 2 by default) and prints both with B/A. Sizes: bench/quick.py.
bench-quick: setup
	$(PY) bench/quick.py

# Both benchmarks end to end at a tiny size: every phase and leg runs and writes the stable keys.
bench-smoke: setup
	$(VENV)/bin/pytest -q -m bench

clean:
	rm -rf $(LAKEHOUSE) spark-warehouse .pytest_cache dist
