# The two commands: `make run` starts everything, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench unit lint format clean lock chaos compose-images compose-test test-testcontainers

# The venv installs exactly what requirements-dev.lock pins (hashes checked), then the project itself.
$(STAMP): pyproject.toml requirements-dev.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $(STAMP)

# Regenerate the lock files from pyproject.toml (docs/adr/0004-locked-dependencies.md): runtime dependencies in
# requirements.lock (the Docker image), with the test, embedded and lint extras in requirements-dev.lock (make test,
# make lint); the runtime lock is resolved within the dev lock, so the image runs the versions the tests ran.
# Pins already in a lock file are kept; `make lock LOCK_FLAGS=--upgrade` moves everything to the newest allowed.
LOCK_FLAGS ?=
UV_COMPILE = $(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--quiet --custom-compile-command 'make lock' $(LOCK_FLAGS)

lock:
	@test -x $(VENV)/bin/uv || { test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV); $(BIN)/pip install --quiet 'uv>=0.5'; }
	$(UV_COMPILE) --extra test --extra embedded --extra lint -o requirements-dev.lock
	$(UV_COMPILE) --constraint requirements-dev.lock -o requirements.lock  # the image gets the versions tested

run: $(STAMP)
	$(BIN)/pengaduan run

test: $(STAMP)
	$(BIN)/python -m pytest

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit -q

# The house rules as code (pyproject.toml: [tool.ruff], [tool.mypy], [tool.importlinter]): formatting, lint, strict
# types in every domain and in shared/contracts, and the import boundaries (shared imports no service, no service
# imports another, a domain imports no adapter, database or web library). Every check runs, and `make lint` fails
# if any did. `make format` applies ruff's safe fixes and the formatter; what remains is fixed by hand.
lint: $(STAMP)
	@failed=""; \
	$(BIN)/ruff format --check --output-format concise . || failed="$$failed ruff-format"; \
	$(BIN)/ruff check . || failed="$$failed ruff-check"; \
	$(BIN)/mypy || failed="$$failed mypy"; \
	$(BIN)/lint-imports || failed="$$failed import-linter"; \
	if [ -n "$$failed" ]; then echo "make lint: failed:$$failed"; exit 1; fi

format: $(STAMP)
	$(BIN)/ruff check --fix-only .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m bench

# Kill each part of the stack under load, check nothing is lost (chaos/README.md). By hand: the full run (~10 min)
# or CHAOS_FLAGS=--quick; CI: CHAOS_FLAGS=--ci (every fault, 2/s, <= 10 min; fails on any lost, doubled, 500,
# dead letter, stream gap, leftover in the outbox, deliveries, hand-offs or broker queues, or process not restarted)
CHAOS_FLAGS ?=
chaos: $(STAMP)
	$(BIN)/python -m chaos $(CHAOS_FLAGS)

# docker-compose.yml brought up for real on podman (runc) and driven from outside through nginx (tests/compose,
# docs in README "Deployment"): the images built here from Debian's packages first (deploy/ci/images.py; the base
# image is kept between runs for a week). Needs root, podman, runc and mmdebstrap (Debian packages).
compose-images: $(STAMP)
	$(BIN)/python deploy/ci/images.py

compose-test: compose-images
	$(BIN)/python -m pytest tests/compose -m compose

# The integration suite with PostgreSQL and Redis from testcontainers (the path a developer with Docker takes), on
# podman's Docker-compatible socket and the images compose-images builds (deploy/ci/podman_socket.py).
test-testcontainers: $(STAMP)
	$(BIN)/python deploy/ci/images.py --only postgres redis
	$(BIN)/python deploy/ci/podman_socket.py -- $(BIN)/python -m pytest tests/integration

clean:
	rm -rf $(VENV) .data .pytest_cache bench/results test-artifacts/compose .mypy_cache .ruff_cache .import_linter_cache
