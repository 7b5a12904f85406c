# charla: the index of every command a contributor needs. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQUIREMENTS := $(wildcard requirements-*.txt)
# The CDK CLI pinned in package.json/package-lock.json; `npx --no-install` never fetches another.
NPM_STAMP := node_modules/.installed
CDK := npx --no-install cdk
# jsii prints a banner on every start under Node 20 (end of life); the CLI still works.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 20

.DEFAULT_GOAL := help
.PHONY: help install demo chat test lint synth deploy-local deploy-local-down faults schemas queues bench bench-quick clean

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): $(REQUIREMENTS) pyproject.toml clients/node/package-lock.json
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	npm ci --prefix clients/node --no-audit --no-fund --loglevel=error
	@touch $@

install: $(STAMP) $(NPM_STAMP) ## Create .venv, install Python and Node dependencies (idempotent)

demo: install ## Run the bot locally end to end: one signed "ping" mention, print the reply, stop
	$(PY) -m scripts.demo

chat: install ## Start the local stack and talk to the bot at a prompt
	$(PY) -m scripts.chat

.PHONY: chat-slack
chat-slack: install ## Your own Slack workspace talks to the local stack over Socket Mode (docs/SLACK_LOCAL.md)
	$(PY) -m scripts.chat_slack

test: install ## Run every test (unit, integration, infra, e2e, faults, bench smoke, Node client)
	$(PY) -m pytest

faults: install ## The fault-injection suite: one line of figures per scenario
	$(PY) -m pytest tests/faults -q -p no:cacheprovider

schemas: install ## Regenerate contract/schemas/ and the task table in docs/CONTRACT.md from contract/
	$(PY) -m scripts.generate_schemas

queues: install ## Queues, dead letters and live workers of the running stack (charla status)
	$(PY) -m charla_cli status

lint: install ## ruff and mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy contract lambda_handler workers scripts infra bench charla_cli

bench: install ## Measure the nine figures against both floors and Bolt; rewrite docs/BENCHMARKS.md, benchmarks.json, README figures (~20 min)
	$(PY) -m bench

bench-quick: install ## The benchmarks with small samples (< 2 min; writes to a temp dir, not docs/)
	$(PY) -m bench --quick


$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

synth: install $(NPM_STAMP) ## CDK: synth via the pinned CLI (cdk-nag on), template assertions, cfn-lint
	$(CDK) synth --quiet
	@rc=0; $(VENV)/bin/cfn-lint cdk.out/*.template.json || rc=$$?; \
	  if (( rc & 3 )); then echo "cfn-lint found errors"; exit 1; fi  # 4/8 = warnings/info only
	$(PY) -m pytest tests/infra -q -m "not slow"

deploy-local: install $(NPM_STAMP) ## Deploy cdk.out into a local moto CloudFormation, answer one mention; stays up for chat
	$(CDK) synth --quiet
	$(PY) -m scripts.deploy_local up

deploy-local-down: install ## Stop the moto server that make deploy-local left running
	$(PY) -m scripts.deploy_local down

clean: ## Remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache cdk.out
