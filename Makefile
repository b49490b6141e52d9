# make run: a working Runboard on a fresh machine. make test / lint / clean for development.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test lint clean bench azureml-if-configured

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamp files: a second run installs nothing unless a requirements file changed since.
$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt requirements-azureml.txt | $(PY)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.installed $(VENV)/.installed-azureml

$(VENV)/.installed-azureml: requirements-azureml.txt | $(PY)
	$(PY) -m pip install -q -r requirements-azureml.txt
	touch $@

# The Azure ML SDK is big: installed only when the backends file names an azureml engine.
azureml-if-configured: $(VENV)/.installed
	@if [ -n "$$RUNBOARD_BACKENDS" ] && grep -Eq '^[[:space:]]*engine:[[:space:]]*["'"'"']?azureml' "$$RUNBOARD_BACKENDS" 2>/dev/null; then \
	  echo "$$RUNBOARD_BACKENDS names an azureml backend: it needs azure-ai-ml and azure-identity (requirements-azureml.txt)"; \
	  $(MAKE) --no-print-directory $(VENV)/.installed-azureml; \
	fi

run: $(VENV)/.installed azureml-if-configured
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
