# Atrium: `make run` to try it, `make test` to check it, `make bench B=name` to measure it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Listening ports stay below the kernel's ephemeral range (32768-60999).
export PGPORT ?= 15432
export REDIS_PORT ?= 6390
# DATABASE_URL / REDIS_URL, when set, point at servers of your own and nothing is started.
SERVICES := PY=$(PY) deploy/local/services.sh

.PHONY: install run test lint format bench services stop-services lock clean

# requirements.lock is what production installs (deploy/Dockerfile); requirements-dev.lock
# adds the test and dev tools at the same versions, and is what make installs.
$(VENV)/.installed: requirements-dev.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

install: $(VENV)/.installed

services: install
	@$(SERVICES) start

stop-services:
	@$(SERVICES) stop

run: services
	DJANGO_DEBUG=1 SITE_PORT=$(PORT) PORT=$(PORT) deploy/local/run-dev.sh

# ruff, then the architecture: import-linter's contracts in pyproject.toml.
lint: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: services lint
	@$(SERVICES) test-deps
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# `make bench` runs every benchmark; `make bench B=provisioning` runs bench/provisioning.py.
# Each prints its figures and, last, one JSON line.
BENCHES := $(if $(B),$(B),$(basename $(notdir $(wildcard bench/[a-z]*.py))))
bench: services
	@$(SERVICES) bench-deps
	@set -e; for b in $(BENCHES); do echo "== bench/$$b.py"; $(PY) bench/$$b.py; done

lock: install
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url \
	  --no-emit-find-links --output-file requirements.lock pyproject.toml
	$(VENV)/bin/pip-compile --quiet --strip-extras --extra dev --no-emit-index-url \
	  --no-emit-find-links --constraint requirements.lock \
	  --output-file requirements-dev.lock pyproject.toml

clean: stop-services
	rm -rf var $(VENV)
