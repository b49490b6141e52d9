# make run: a working Runboard on a fresh machine. make test / lint / clean for development.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test lint clean bench

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamp files: a second run installs nothing unless a requirements file changed since.
$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap
	exec $(PY) manage.py serve

test: $(VENV)/.installed-dev
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Seeds once (BENCH_RUNS runs; BENCH_DATABASE_URL, default SQLite under /tmp/runboard-bench), then times the pages.
BENCH_RUNS ?= 1000000
bench: $(VENV)/.installed
	$(PY) bench/seed.py --runs $(BENCH_RUNS)
	$(PY) bench/run.py

clean:
	rm -rf var
