# ordersite: `make run` brings the whole system up; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell bin/find-python)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
LIVE_PORT ?= 8001

.PHONY: run test test-rabbitmq lint lock services setup bench bench-full bench-autoscale bench-events clean

# Installs exactly the hashed lock (every transitive dependency pinned), never a fresh resolve.
$(BIN)/.installed: requirements-dev.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	@touch $@

# Re-resolve the lock files after editing requirements*.txt (existing pins are kept unless a
# requirement moved). Resolved against PyPI alone, whatever pip.conf adds on this machine, so
# the hashes are PyPI's and a fresh machine installs the same files.
PIP_COMPILE := env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL PIP_CONFIG_FILE=/dev/null \
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe \
	--strip-extras --no-emit-index-url --no-emit-find-links --index-url https://pypi.org/simple
lock: $(BIN)/.installed
	$(PIP_COMPILE) -o requirements-dev.lock requirements-dev.txt
	$(PIP_COMPILE) -c requirements-dev.lock -o requirements.lock requirements.txt
	$(BIN)/python bin/check-lock

services:
	@bin/ensure-services ordersite

setup: $(BIN)/.installed services
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v 0
	@mkdir -p var
	$(BIN)/python manage.py seed_demo | tee var/demo-logins.txt

# The environment wins over .env, which wins over these defaults (bin/run-procfile; honcho alone
# would let .env override the environment).
run: setup
	@export PATH=$(CURDIR)/$(BIN):$$PATH; \
	exec $(BIN)/python bin/run-procfile \
	  --default "GUNICORN_CMD_ARGS=--bind 127.0.0.1:$(PORT) --workers 3" \
	  --default "LIVE_PORT=$(LIVE_PORT)" --default "LIVE_PUBLIC_URL=http://127.0.0.1:$(LIVE_PORT)" \
	  --default "FLOWER_BASIC_AUTH=admin:$$(cat var/admin-password)"

# Every test, on Redis (or on RabbitMQ if TEST_BROKER_URL or CELERY_BROKER_URL is an amqp:// URL).
test: $(BIN)/.installed services
	@bin/ensure-chromium
	@bin/ensure-rabbitmq $$($(BIN)/python -m tests.broker)
	@bin/ensure-pgbouncer
	$(BIN)/pytest $(PYTEST_ARGS)

# The pipeline's end-to-end, fault and dead-letter tests again, with RabbitMQ as the broker (its
# queues in RABBITMQ_TEST_URL's vhost are emptied; `<vhost>-isolated` is made for the DLQ tests).
RABBITMQ_TEST_URL ?= amqp://guest:guest@127.0.0.1:5672//
test-rabbitmq: $(BIN)/.installed services
	@bin/ensure-chromium
	@bin/ensure-pgbouncer
	@export TEST_BROKER_URL=$(RABBITMQ_TEST_URL); bin/ensure-rabbitmq $$($(BIN)/python -m tests.broker) && \
	  $(BIN)/pytest tests/e2e tests/dlq tests/ordersite/test_queues.py $(PYTEST_ARGS)

# The same commands as .pre-commit-config.yaml's hooks (tests/test_lint_config.py keeps them
# equal). The last line checks production's defaults (DEBUG off) with a throwaway key.
DEPLOY_CHECK_ENV := DEBUG=false SECRET_KEY=make-lint-deploy-check-only-not-a-secret-0123456789abcdef
lint: $(BIN)/.installed
	$(BIN)/python bin/check-lock
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	env $(DEPLOY_CHECK_ENV) $(BIN)/python manage.py check --deploy --fail-level WARNING

# Open-loop load beside the floors, make run's processes and defaults, medians of 3 runs (~8 min).
bench: $(BIN)/.installed services
	$(BIN)/python bench/load.py --runs 3 --label bench

# Also: a hot product, 50 ms ± 20 ms gateways, a burst of 10,000 orders (time until every one
# ended, none lost, memory before and after), memory over 50,000 orders at 70 % of saturation
# (RSS, Redis and stored results every 5,000) and a million orders of history (~80 min).
bench-full: bench
	$(BIN)/python bench/load.py --runs 3 --hot --label bench-hot
	$(BIN)/python bench/load.py --runs 3 --latency-ms 50 --jitter-ms 20 --label bench-latency
	$(BIN)/python bench/load.py --runs 1 --burst-orders 10000 --label bench-burst
	$(BIN)/python bench/load.py --runs 1 --memory-orders 50000 --label bench-memory
	$(BIN)/python bench/growth.py --orders 1000000

# Celery's autoscaler against ours (ordersite/autoscale.py) under a burst: each pool from MIN to
# MAX and back, threads and prefork (~4 min).
bench-autoscale: $(BIN)/.installed services
	$(BIN)/python bench/autoscale.py

# verify_events (the event log replayed and compared) over 100,000 orders in a scratch database.
bench-events: $(BIN)/.installed services
	$(BIN)/python bench/verify_events.py --orders 100000

clean:
	rm -rf $(VENV) staticfiles var
