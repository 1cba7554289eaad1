# Two commands for a new user: `make demo` and `make test`. Each makes .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
NODE_STAMP := node_modules/.bin/claude

.PHONY: demo test lint typecheck bench clean system-deps

# The PostgreSQL store's tests and benchmarks start a real server from Debian's binaries
# (/usr/lib/postgresql/N/bin), and the browser test of `oneie serve` drives Debian's
# /usr/bin/chromium (Playwright's own download cannot work offline); both are installed
# here when missing, so no test skips for want of them.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

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

system-deps:
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing the PostgreSQL server binaries (apt-get install postgresql)"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q postgresql; \
	fi
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Chromium for the browser test of oneie serve (apt-get install chromium)"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; \
	fi

test: system-deps $(DEVSTAMP) $(NODE_STAMP)
	PATH="$(CURDIR)/node_modules/.bin:$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q

lint: $(DEVSTAMP)
	$(BIN)/ruff check oneie_tui tests benchmarks
	$(BIN)/mypy

bench: system-deps $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) node_modules build dist *.egg-info
