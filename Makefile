# Atrium: `make run` to try it, `make test` to check it, `make bench B=name` to measure it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Listening ports stay below the kernel's ephemeral range (32768-60999).
export PGPORT ?= 15432
export REDIS_PORT ?= 6390
# The Stripe emulator (localstripe) of `make run` and `make test`.
export STRIPE_EMULATOR_PORT ?= 12111
# Python's bytecode cache (__pycache__/, ignored by git) on, even where the environment
# turns it off (containers often set PYTHONDONTWRITEBYTECODE): without it every process
# compiles the project again and pytest rewrites every test module's asserts on each run,
# about 4 s of collection per xdist worker (tests/README.md).
unexport PYTHONDONTWRITEBYTECODE
# DATABASE_URL / REDIS_URL, when set, point at servers of your own and nothing is started.
SERVICES := PY=$(PY) deploy/local/services.sh

.PHONY: install run test fuzz lint format bench services stop-services lock clean openapi \
	citus citus-up citus-down test-citus

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

# pytest-xdist: one worker per core and one more, which works while others wait on their
# servers and browsers (at most 8), each with its own test database, Redis database and
# file folders; whole modules handed out in collection order, where the long tests come
# first (tests/README.md). TEST_WORKERS=0 runs in this process.
TEST_WORKERS ?= $(shell echo $$(($$(nproc) + 1)))
test: services lint
	@$(SERVICES) test-deps
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --maxprocesses 8 --dist loadscope --no-loadscope-reorder \
	  $(PYTEST_ARGS)

# The API fuzzed for FUZZ_SECONDS (schemathesis repeats its phases with new cases until
# they are spent) instead of the suite's fixed example counts; .ci/run runs it.
FUZZ_SECONDS ?= 120
fuzz: services
	@$(SERVICES) test-deps
	SCHEMATHESIS_MAX_TIME=$(FUZZ_SECONDS) $(VENV)/bin/pytest \
	  tests/api/test_schema.py::test_schemathesis_finds_nothing $(PYTEST_ARGS)

# Citus (deploy/scaling.md): `make citus` builds it once under var/citus/ from
# CITUS_SOURCE (default ../shared/citus/citus-14.0.1.tar.gz); `make citus-up` / `citus-down`
# start and stop a coordinator (CITUS_PORT, default 15460) and two workers on loopback.
CITUS := PY=$(PY) deploy/local/citus.sh
CITUS_TESTS ?= tests/tenants tests/citus tests/test_citus_ready.py \
	tests/uploads/test_documents.py tests/audit/test_recording.py
citus: install
	@$(CITUS) build

citus-up: citus
	@$(CITUS) up

citus-down:
	@$(CITUS) down

# The Citus lane: the tenancy tests against the coordinator, in a test database that has
# the extension on every node (made here; pytest reuses it instead of creating its own).
test-citus: services citus-up
	@$(CITUS) createdb test_atrium_citus
	DATABASE_URL=$$($(CITUS) url atrium) TEST_DB_NAME=test_atrium_citus \
	  $(VENV)/bin/pytest --reuse-db $(CITUS_TESTS) $(PYTEST_ARGS)

# The API's OpenAPI schema, committed (tests/api/test_schema.py fails when it is stale).
openapi: install
	DJANGO_DEBUG=1 $(PY) manage.py spectacular --validate --fail-on-warn \
	  --file platform/api/openapi.yaml

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
