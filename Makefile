# The two set-up commands: `make demo` and `make test`. Both work on a fresh machine with
# Python 3.11, pip and Debian's apt; they install everything else they need.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit bench-tracking bench-serving bench-drift bench-monitor bench-ui system-deps wrk clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[examples]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

# PostgreSQL and Chromium come from Debian; the tests start a throwaway cluster of their own
# and drive the browser with Playwright (which never downloads one).
system-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing Debian's postgresql for the store tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's wrk drives the serving benchmark (and one test of its harness).
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "installing Debian's wrk for the serving benchmark"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

# The whole loop on real e-mail: train, gate, deploy, serve April's traffic, detect the drift,
# retrain, gate, canary, promote; then the server and UI stay up (Ctrl-C stops them).
# WORKLOAD=recsys runs film recommendations (MovieLens), WORKLOAD=forecast the ridership
# forecast (Chicago), instead.
WORKLOAD ?= moderation
demo: $(VENV)/.demo-installed
	$(BIN)/opsloop demo $(WORKLOAD)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

unit: $(VENV)/.test-installed system-deps wrk
	$(BIN)/pytest

test: lint typecheck unit

bench-tracking: $(VENV)/.test-installed
	$(BIN)/python benchmarks/tracking.py

bench-drift: $(VENV)/.test-installed
	$(BIN)/python benchmarks/drift.py

bench-monitor: $(VENV)/.test-installed
	$(BIN)/python benchmarks/monitor.py

bench-ui: $(VENV)/.test-installed
	$(BIN)/python benchmarks/ui.py

bench-serving: $(VENV)/.test-installed wrk
	$(BIN)/python benchmarks/serving.py

clean:
	rm -rf $(VENV) .bench-venvs .opsloop .pytest_cache .mypy_cache .ruff_cache .hypothesis test-output
