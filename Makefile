# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
PORT ?= 4599

.PHONY: bootstrap venv demo test lint typecheck unit integration infrastructure e2e synth security deploy local clean

venv: $(STAMP)

$(STAMP): requirements.txt functions/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

demo: venv
	$(PY) -m runbook demo --port $(PORT)

test: venv lint typecheck
	$(PY) -m pytest -q

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy functions stacks runbook app.py

unit: venv
	$(PY) -m pytest -q tests/unit

integration: venv
	$(PY) -m pytest -q tests/integration

infrastructure: venv
	$(PY) -m pytest -q tests/infrastructure

e2e: venv
	$(PY) -m pytest -q tests/e2e

synth: venv
	PATH=$(abspath $(BIN)):$$PATH $(PY) -m runbook synth

# cfn-lint (also run by `make test`) and checkov on the synthesised template (docs/security.md).
# checkov pins an older boto3 than requirements.txt, so it gets a virtual environment of its own.
CHECKOV_VERSION ?= 3.3.30
CHECKOV_VENV := build/checkov-venv
security: synth
	$(BIN)/cfn-lint --config-file .cfnlintrc.yaml -- cdk.out/IncidentRunbook.template.json
	test -x $(CHECKOV_VENV)/bin/checkov || ($(PYTHON) -m venv $(CHECKOV_VENV) && \
		$(CHECKOV_VENV)/bin/pip install --quiet checkov==$(CHECKOV_VERSION))
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml -f cdk.out/IncidentRunbook.template.json

# Deploy to the AWS account of your current credentials (AWS_PROFILE / AWS_REGION).
# Uses the AWS CDK CLI through npx with the Node.js that the virtual environment carries.
CDK_CLI_VERSION ?= 2.1148.1
deploy: venv
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/npx --yes aws-cdk@$(CDK_CLI_VERSION) deploy IncidentRunbook --require-approval broadening

local: venv
	$(PY) -m runbook local up --port $(PORT)

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache build

bootstrap: venv
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/npx --yes aws-cdk@$(CDK_CLI_VERSION) bootstrap
