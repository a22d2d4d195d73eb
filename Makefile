# ordersite: `make run` brings the whole system up; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell bin/find-python)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
FLOWER_PORT ?= 5555
export FLOWER_PORT

.PHONY: run test lint services setup bench bench-full clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

services:
	@bin/ensure-services ordersite

setup: $(BIN)/.installed services
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v 0
	@mkdir -p var
	$(BIN)/python manage.py seed_demo | tee var/demo-logins.txt

run: setup
	@password=$$(cat var/admin-password); \
	echo; \
	echo "  API root  http://127.0.0.1:$(PORT)/api/v1/"; \
	echo "  Admin     http://127.0.0.1:$(PORT)/admin/   (admin / $$password)"; \
	echo "  API docs  http://127.0.0.1:$(PORT)/api/docs/"; \
	echo "  Dashboard http://127.0.0.1:$(PORT)/admin/dashboard/"; \
	echo "  Flower    http://127.0.0.1:$(FLOWER_PORT)/  (admin / $$password)"; \
	echo "  Ctrl-C stops everything."; echo; \
	export FLOWER_BASIC_AUTH=$${FLOWER_BASIC_AUTH:-admin:$$password}; \
	export GUNICORN_CMD_ARGS=$${GUNICORN_CMD_ARGS:-"--bind 127.0.0.1:$(PORT) --workers 3"}; \
	export PATH=$(CURDIR)/$(BIN):$$PATH; \
	exec $(BIN)/honcho start

test: $(BIN)/.installed services
	@bin/ensure-chromium
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

# Open-loop load beside the floors, make run's processes and defaults, medians of 3 runs (~8 min).
bench: $(BIN)/.installed services
	$(BIN)/python bench/load.py --runs 3 --label bench

# Also: a hot product, 50 ms ± 20 ms gateways, a burst of 10,000 orders (time until every one
# ended, none lost, memory before and after) and a million orders of history (~40 min).
bench-full: bench
	$(BIN)/python bench/load.py --runs 3 --hot --label bench-hot
	$(BIN)/python bench/load.py --runs 3 --latency-ms 50 --jitter-ms 20 --label bench-latency
	$(BIN)/python bench/load.py --runs 1 --burst-orders 10000 --label bench-burst
	$(BIN)/python bench/growth.py --orders 1000000

clean:
	rm -rf $(VENV) staticfiles var
