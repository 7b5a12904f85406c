# charla: the index of every command a contributor needs. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQUIREMENTS := $(wildcard requirements-*.txt)

.DEFAULT_GOAL := help
.PHONY: help install demo chat test lint synth deploy-local faults bench bench-quick clean

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): $(REQUIREMENTS)
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

install: $(STAMP) ## Create .venv and install everything (idempotent)

demo: install ## Run the bot locally end to end: one signed "ping" mention, print the reply, stop
	$(PY) -m scripts.demo

chat: install ## Start the local stack and talk to the bot at a prompt
	$(PY) -m scripts.chat

test: install ## Run every test (unit, integration, infra, e2e, faults, bench smoke)
	$(PY) -m pytest

lint: install ## ruff and mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy contract lambda_handler workers scripts

clean: ## Remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache cdk.out
