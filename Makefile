# Developer commands. `make demo` and `make test` create the virtual
# environment on first use; nothing needs installing by hand.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test venv worker intake emulator migrate protos lint bench

$(INSTALLED): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

venv: $(INSTALLED)

# Runs the whole pipeline on the photo in tests/data and prints the result.
demo: $(INSTALLED)
	$(BIN)/python -m demo

test: $(INSTALLED)
	$(BIN)/python -m pytest

# Development worker that restarts when a Python file changes.
worker: $(INSTALLED)
	$(BIN)/dramatiq ai_worker.actors --watch .

intake: $(INSTALLED)
	$(BIN)/python -m intake_service

emulator: $(INSTALLED)
	$(BIN)/python -m gemini_emulator --port 18080

migrate: $(INSTALLED)
	$(BIN)/python -m shared.migrate

protos: $(INSTALLED)
	$(BIN)/python -m protos.generate

# Runs every benchmark (about 4 to 5 minutes) and prints figures with ratios to
# baselines from the same run; see BENCHMARKS.md. BENCH_ARGS=--quick for a
# check that the scripts work.
bench: $(INSTALLED)
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
