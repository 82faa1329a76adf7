# MLP Ops: `make run` starts the whole local system, `make test` runs every test.
# Both set up the virtual environment and the Kafka jars first.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROCFILE ?= deploy/local/Procfile

# Defaults of the local stack; every MLP_ variable already set is passed through.
export MLP_ENV ?= development
export MLP_KAFKA_PORT ?= 9092
export MLP_KAFKA_BOOTSTRAP ?= 127.0.0.1:$(MLP_KAFKA_PORT)
export MLP_MONGO_PORT ?= 27017
export MLP_MONGO_URI ?= mongodb://127.0.0.1:$(MLP_MONGO_PORT)/?directConnection=true
export MLP_SMTP_HOST ?= 127.0.0.1
export MLP_SMTP_PORT ?= 1025
export MLP_MAIL_DIR ?= var/mail
export MLP_JWT_SECRET ?= mlp-development-secret-change-me
export PYTHONPATH := .$(if $(PYTHONPATH),:$(PYTHONPATH))

.PHONY: all prereqs venv jars run test lint format bench demo clean-var manifests contracts contracts-check dlq-replay

all: test

prereqs:
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is missing; install Python 3.11 or newer."; exit 1; }
	@command -v java >/dev/null || { echo "java is missing; install a Java 17+ runtime (it runs the local Kafka broker)."; exit 1; }
	@command -v mvn >/dev/null || { echo "mvn is missing; install Maven (it fetches the Kafka jars)."; exit 1; }

venv: prereqs $(STAMP)

$(STAMP): requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.lock
	@touch $(STAMP)

jars: venv
	@$(PY) -m deploy.local.infra jars >/dev/null

run: venv jars
	@$(PY) -m deploy.local.infra check-ports
	@mkdir -p var
	exec $(VENV)/bin/honcho -f $(PROCFILE) -d . start

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: venv jars lint
	$(PY) -m pytest tests -q

# Each benchmark starts its own Kafka and Mongo-wire server and prints its figures.
bench: venv jars
	$(PY) -m bench
	$(PY) -m bench.invitations
	$(PY) -m bench.documents
	$(PY) -m bench.notifications

demo: venv jars
	$(PY) -m deploy.local.demo

# Regenerate docker-compose.yml, deploy/k8s/base and the image's runtime pins from
# deploy/catalog.py and requirements.lock (tests fail while they are stale).
manifests: venv
	$(PY) -m deploy.requirements
	$(PY) -m deploy.manifests

# Regenerate docs/asyncapi.yaml, docs/schemas/*.json and docs/openapi/*.json from the
# marshmallow schemas and blueprints; refuses a backward-incompatible payload change.
contracts: venv
	$(PY) -m deploy.contracts write

# Fail when the contract files are stale or a payload schema broke compatibility;
# CONTRACT_BASE=origin/main also compares with that git ref (tests/deploy runs the rest).
contracts-check: venv
	$(PY) -m deploy.contracts check $(if $(CONTRACT_BASE),--against $(CONTRACT_BASE))

# Re-publish a service's dead-letter topic to the original topics and commit:
#   make dlq-replay SERVICE=events [DRY_RUN=1]   (uses MLP_KAFKA_BOOTSTRAP)
dlq-replay: venv
	@test -n "$(SERVICE)" || { echo "usage: make dlq-replay SERVICE=<events|invitations|documents|notifications> [DRY_RUN=1]"; exit 2; }
	$(PY) -m shared.dlq replay --service $(SERVICE) $(if $(DRY_RUN),--dry-run)

clean-var:
	rm -rf var
