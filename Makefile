# Laypath: `make run` (set up + demo platform) and `make test` (set up + lint + whole test suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)

.PHONY: setup venv frontend run test lint unit demo-data clean

setup: venv frontend

venv: $(VENV)/.installed

# torch==2.13.0 resolves to the CPU build on this machine's disk; the lock pins the whole tree.
$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.2
	$(PY) -m pip install --quiet -r requirements.lock
	touch $@

frontend: frontend/dist/.built

frontend/dist/.built: frontend/package.json frontend/package-lock.json frontend/build.mjs $(shell find frontend/src -type f 2>/dev/null)
	cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build
	touch $@

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

unit: setup
	cd frontend && node --test test/

test: setup lint unit
	$(VENV)/bin/pytest -q

run: setup
	bash scripts/run.sh

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist staticfiles
