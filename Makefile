# The README's two commands: `make up` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: up test lint install clean-local

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## make up: local Synapse + demo city + yakuba in the foreground (Ctrl-C stops all)
up: install
	$(BIN)/yakuba demo -c config/demo.yaml --state .local

## make test: lint, type-check, then the whole suite (integration tests on a real Synapse)
test: install lint
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check bots appservice tests bench synapse-compose
	$(BIN)/ruff format --check bots appservice tests bench synapse-compose
	$(BIN)/mypy

## forget the demo's state (Synapse database, bot keys, generated secrets)
clean-local:
	rm -rf .local
