# Two commands for a new user: `make demo` and `make test`. Each makes .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
NODE_STAMP := node_modules/.bin/claude

.PHONY: demo test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

# The Claude Code CLI, installed locally for the end-to-end tests of the claude-code backend.
$(NODE_STAMP): package.json
	npm install --no-audit --no-fund --silent
	touch $@

# The demo runs at a tenth of the spec's speed (about 25 s instead of 2 s), long enough to
# try pause (p), cancel (c), restart (r), zoom (enter) and the Gantt (g) while it runs.
DEMO_SPEED ?= 0.08

demo: $(STAMP)
	$(BIN)/oneie tui specs/course-crud.toml --run --speed $(DEMO_SPEED)

test: $(DEVSTAMP) $(NODE_STAMP)
	PATH="$(CURDIR)/node_modules/.bin:$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q

lint: $(DEVSTAMP)
	$(BIN)/ruff check oneie_tui tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) node_modules build dist *.egg-info
