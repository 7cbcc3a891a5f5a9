# PRM — the two commands that matter:
#   make run    serve the app with demo data, a Celery worker and beat (Ctrl-C stops it all)
#   make test   the whole suite, as CI runs it
# The work is done by scripts/prmctl.py; this file creates the virtualenv and installs the
# requirements only when a requirements file changed (stamp files inside .venv).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
PIP := $(PY) -m pip install --disable-pip-version-check --quiet

.DEFAULT_GOAL := help
.PHONY: help run test check lint fmt bench seed install install-dev

help:
	@echo "make run     serve on http://127.0.0.1:$${PORT:-8000} with worker + beat (PORT=, DATABASE_URL=, REDIS_URL=)"
	@echo "make test    ruff, migrations check, compilemessages, pytest incl. browser tests"
	@echo "make check   same as make test"
	@echo "make lint    ruff check + ruff format --check"
	@echo "make fmt     ruff format + ruff check --fix"
	@echo "make seed    (re)load the demo data"
	@echo "make bench   run bench/bench_*.py against the prm_bench database"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): requirements.txt | $(PY)
	$(PIP) -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PIP) -r requirements-dev.txt
	touch $@ $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)
install-dev: $(DEV_STAMP)

run: $(RUNTIME_STAMP)
	$(PY) -m scripts.prmctl run

seed: $(RUNTIME_STAMP)
	$(PY) -m scripts.prmctl seed

test: $(DEV_STAMP)
	$(PY) -m scripts.prmctl test $(PYTEST_ARGS)

check: test

lint: $(DEV_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

fmt: $(DEV_STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: $(DEV_STAMP)
	$(PY) -m scripts.prmctl bench $(BENCH)
