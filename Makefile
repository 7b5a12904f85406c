# charla: the index of every command a contributor needs. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
# The interpreter the venv is made from; `make PYTHON=python3.12 ...` picks another.
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQUIREMENTS := $(wildcard requirements-*.txt)
# Exit 0 on Python 3.11 or newer (what pyproject.toml's requires-python says).
IS_311 := -c 'import sys; sys.exit(sys.version_info < (3, 11))'
# The CDK CLI pinned in package.json/package-lock.json; `npx --no-install` never fetches another.
NPM_STAMP := node_modules/.installed
# The Node client's dependencies (clients/node), and charla-send linked beside charla in the venv.
NODE_CLIENT_STAMP := clients/node/node_modules/.installed
CDK := npx --no-install cdk
# jsii prints a banner on every start under Node 20 (end of life); the CLI still works.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 20

.DEFAULT_GOAL := help
.PHONY: help venv lambda-python install install-python demo chat stop test lint synth deploy-local deploy-local-down faults schemas queues bench bench-quick clean

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

# Checked before anything is installed: a too-old Python says so in one line (not 60 lines of
# pip ending in "No matching distribution"), and a venv made by one is rebuilt, not reused.
venv:
	@$(PYTHON) $(IS_311) 2>/dev/null || { \
	  echo "charla needs Python 3.11+, and $(PYTHON) is $$($(PYTHON) --version 2>&1 || echo 'not found'): install 3.11 or newer, or run make PYTHON=python3.12 ..." >&2; \
	  exit 1; }
	@if [ -e $(PY) ] && ! $(PY) $(IS_311) 2>/dev/null; then \
	  echo "$(VENV) was made with $$($(PY) --version 2>&1 || echo 'a Python that is gone'), too old for charla: rebuilding it"; \
	  rm -rf $(VENV); fi
	@test -x $(PY) || { echo "==> creating $(VENV) with $$($(PYTHON) --version)"; $(PYTHON) -m venv $(VENV); }

$(STAMP): $(REQUIREMENTS) pyproject.toml | venv
	@echo "==> Python packages into $(VENV) (requirements-dev.txt: a few minutes the first time, seconds after)"
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --disable-pip-version-check --progress-bar off -r requirements-dev.txt \
	  | grep --line-buffered -E '^(Collecting|Successfully installed)' | cut -c1-100; exit $${PIPESTATUS[0]}
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

$(NODE_CLIENT_STAMP): clients/node/package-lock.json | $(STAMP)
	@echo "==> Node client dependencies (clients/node)"
	npm ci --prefix clients/node --no-audit --no-fund --loglevel=error
	@touch $@

# charla-send on PATH beside charla (source .venv/bin/activate): it finds .stack/ as charla does.
$(VENV)/bin/charla-send: | $(STAMP)
	ln -sf $(CURDIR)/clients/node/bin/charla-send.js $@

install-python: $(STAMP) ## Create .venv and install the Python side only (all that demo and chat need)

install: $(STAMP) $(NODE_CLIENT_STAMP) $(VENV)/bin/charla-send $(NPM_STAMP) ## Create .venv, install Python and Node dependencies (idempotent)

demo: install-python ## Run the bot locally end to end: one signed "ping" mention, print the reply, stop
	$(PY) -m scripts.demo

chat: install-python ## Start the local stack and talk to the bot at a prompt (EXECUTOR=lambda: answers on the Lambda executor)
	$(PY) -m scripts.chat $(if $(EXECUTOR),--executor $(EXECUTOR))

stop: ## Stop what a local stack left running (a killed `make chat`) and remove .stack/endpoints.json
	@if [ -x $(PY) ]; then $(PY) -m scripts.stop; else echo "nothing was running (no $(VENV))"; fi

.PHONY: chat-slack
chat-slack: install-python ## Your own Slack workspace talks to the local stack over Socket Mode (docs/SLACK_LOCAL.md)
	$(PY) -m scripts.chat_slack

test: install ## Run every test (unit, integration, infra, e2e, faults, bench smoke, Node client)
	$(PY) -m pytest

faults: install ## The fault-injection suite: one line of figures per scenario
	$(PY) -m pytest tests/faults -q -p no:cacheprovider

schemas: install-python ## Regenerate contract/schemas/ and the task table in docs/CONTRACT.md from contract/
	$(PY) -m scripts.generate_schemas

queues: install-python ## Queues, dead letters and live workers of the running stack (charla status)
	$(PY) -m charla_cli status

lint: install-python ## ruff and mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy contract commands jobs lambda_handler workers scripts infra bench charla_cli

bench: install ## Measure the nine figures against both floors and Bolt; rewrite docs/BENCHMARKS.md, benchmarks.json, README figures (~20 min)
	$(PY) -m bench

bench-quick: install ## The benchmarks with small samples (< 2 min; writes to a temp dir, not docs/)
	$(PY) -m bench --quick


# The Lambda bundles carry bytecode for the runtime's Python (3.12; infra/bundling.py), which only
# a Python 3.12 can compile. The development machines ship one (pyenv); elsewhere uv installs one.
UV_VERSION := 0.13.8
lambda-python: install-python ## Find (or install with uv) the Python 3.12 that compiles the Lambda bundles' bytecode
	@$(PY) -m infra.bundling 2>/dev/null || { \
	  echo "==> no Python 3.12 found: installing one with uv $(UV_VERSION)"; \
	  $(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION) && \
	  $(VENV)/bin/uv python install 3.12 && $(PY) -m infra.bundling; }

$(NPM_STAMP): package.json package-lock.json
	@echo "==> the pinned CDK CLI (node_modules)"
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

synth: install $(NPM_STAMP) lambda-python ## CDK: synth via the pinned CLI (cdk-nag on), template assertions, cfn-lint
	$(CDK) synth --quiet
	@rc=0; $(VENV)/bin/cfn-lint cdk.out/*.template.json || rc=$$?; \
	  if (( rc & 3 )); then echo "cfn-lint found errors"; exit 1; fi  # 4/8 = warnings/info only
	$(PY) -m pytest tests/infra -q -m "not slow"

deploy-local: install $(NPM_STAMP) lambda-python ## Deploy cdk.out into a local moto CloudFormation, answer one mention; stays up for chat
	$(CDK) synth --quiet
	$(PY) -m scripts.deploy_local up

deploy-local-down: install-python ## Stop the moto server that make deploy-local left running
	$(PY) -m scripts.deploy_local down

clean: stop ## Stop a local stack, remove the venv, node_modules, caches, build output and .stack/ (logs)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis cdk.out node_modules clients/node/node_modules \
	  *.egg-info build dist .stack
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
