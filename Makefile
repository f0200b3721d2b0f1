# nerflow: `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build: on this kind of machine pip takes the wheel lying on disk. Elsewhere, for a
# CPU-only install, add: TORCH_INDEX=--index-url https://download.pytorch.org/whl/cpu
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
# A local copy of the corpus for offline machines; empty means download the pinned files.
BTC_DIR ?= $(wildcard $(CURDIR)/../shared/data/broad_twitter_corpus)
TRAIN_ARGS ?=
TUNE_ARGS ?=
MLFLOW_PORT ?= 5000
PREFECT_PORT ?= 4200
MODEL ?= models:/btc-ner@champion
MODEL_PORT ?= 5001
PREFECT_API := http://127.0.0.1:$(PREFECT_PORT)/api
# Empty: the deployment's own schedule (nightly at 02:00 UTC, deployments/retrain.py).
RETRAIN_CRON ?=
RETRAIN_TZ ?=
SERVE_ARGS ?=

export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
ifneq ($(BTC_DIR),)
export NERFLOW_BTC_DIR ?= $(BTC_DIR)
endif

.DEFAULT_GOAL := help
.PHONY: help install lock browser postgres train tune test lint format ui server serve serve-model deploy worker bench bench-quick clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Exact versions of everything but torch, resolved against the CPU build of torch (whose
# dependencies differ from the CUDA build's): where pip finds that build here, else its index.
# Two locks: LOCK, the runtime dependencies (what the Docker image installs), and DEV_LOCK, the
# runtime plus the dev and docs extras (what make install installs).
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
TORCH_SOURCE ?= $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS),--extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match)
UV_COMPILE = $(VENV)/bin/uv pip compile pyproject.toml --python-version 3.11 --quiet \
	$(TORCH_SOURCE) --no-emit-package torch --no-emit-package setuptools

$(VENV)/.installed: pyproject.toml $(LOCK) $(DEV_LOCK)
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)" $(TORCH_INDEX)
	$(PY) -m pip install --quiet -r $(DEV_LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed ## create .venv: the CPU torch, the dev lock's versions, the project (editable)

# uv keeps the pins already in an output file where they still fit; the runtime lock starts
# from the dev lock's pins, so the two locks agree on every version they share.
lock: install ## re-resolve both locks from pyproject.toml's ranges (pins kept), then reinstall
	$(UV_COMPILE) --extra dev -o $(DEV_LOCK)
	cp $(DEV_LOCK) $(LOCK)
	$(UV_COMPILE) -o $(LOCK)
	$(MAKE) install

train: install ## train on BTC with the offline MiniLM, log and register in MLflow, print a summary
	$(VENV)/bin/nerflow train $(TRAIN_ARGS)

tune: install ## the study behind the default recipe (deployments/tune.toml, about an hour; resumes)
	$(VENV)/bin/nerflow tune --config deployments/tune.toml $(TUNE_ARGS)

browser: ## install Debian's chromium + chromium-driver for the browser test (needs root)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium chromium-driver >/dev/null; }

postgres: ## install Debian's postgresql for the PostgreSQL-backed server tests (needs root)
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			postgresql >/dev/null; }

test: install ## run the whole test suite (a test whose corpus copy, browser or PostgreSQL is missing skips, saying why)
	$(PY) -m pytest

# mypy resolves modules by folder, so it checks a tree of links laid out as pip installs the
# package (nerflow/tasks -> tasks/, ...); paths in its messages are relative to that tree.
TYPECHECK := build/typecheck
lint: install ## ruff lint + format check, mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)/nerflow
	ln -s $(CURDIR)/nerflow/* $(TYPECHECK)/nerflow/
	for layer in tasks flows deployments; do ln -s $(CURDIR)/$$layer $(TYPECHECK)/nerflow/$$layer; done
	ln -s $(CURDIR)/benchmarks $(TYPECHECK)/benchmarks
	cd $(TYPECHECK) && $(CURDIR)/$(VENV)/bin/mypy --config-file $(CURDIR)/pyproject.toml

format: install ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The site's reference pages are generated from the Typer app and the config models at build
# time (mkdocs.yml); --strict turns a broken link or a missing page into a failure.
DOCS_PORT ?= 8000
.PHONY: docs docs-serve
docs: install ## build the documentation site into build/site (strict: a broken link fails)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

docs-serve: install ## serve the documentation, rebuilt on each edit, on http://127.0.0.1:8000 (DOCS_PORT=...)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --strict --dev-addr 127.0.0.1:$(DOCS_PORT)

ui: install ## open the MLflow UI over ./mlruns on http://127.0.0.1:5000 (MLFLOW_PORT=...)
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlruns/mlflow.db \
		--default-artifact-root $(CURDIR)/mlruns/artifacts --host 127.0.0.1 --port $(MLFLOW_PORT)

server: install ## Prefect server with its scheduler and UI on http://127.0.0.1:4200, database in .prefect/
	mkdir -p $(PREFECT_HOME)
	PREFECT_API_DATABASE_CONNECTION_URL=sqlite+aiosqlite:///$(PREFECT_HOME)/prefect.db \
	PREFECT_UI_API_URL=$(PREFECT_API) \
		$(VENV)/bin/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT)

serve: install ## serve the retraining deployment (RETRAIN_CRON, RETRAIN_TZ); needs make server
	PREFECT_API_URL=$(PREFECT_API) $(VENV)/bin/nerflow serve \
		$(if $(RETRAIN_CRON),--cron "$(RETRAIN_CRON)") $(if $(RETRAIN_TZ),--timezone "$(RETRAIN_TZ)") $(SERVE_ARGS)

serve-model: install ## serve the registry's champion over HTTP on 127.0.0.1:5001 (MODEL=..., MODEL_PORT=...)
	$(VENV)/bin/nerflow serve-model --model "$(MODEL)" --port $(MODEL_PORT)

# make tag TWEETS=tweets.txt SPANS=tweets.spans.jsonl [TAG_ARGS="--chunk-size 500"]
TWEETS ?=
SPANS ?=
TAG_ARGS ?=
.PHONY: tag
tag: install ## tag raw tweets with the champion: TWEETS=file-or-folder SPANS=out.jsonl (resumes)
	@test -n "$(TWEETS)" -a -n "$(SPANS)" || { echo "usage: make tag TWEETS=tweets.txt SPANS=tweets.spans.jsonl" >&2; exit 2; }
	$(VENV)/bin/nerflow tag "$(TWEETS)" --output "$(SPANS)" $(TAG_ARGS)

deploy: install ## register prefect.yaml's process-pool deployment (pool nerflow-process); needs make server
	PREFECT_API_URL=$(PREFECT_API) $(VENV)/bin/prefect work-pool create nerflow-process --type process --overwrite
	PREFECT_API_URL=$(PREFECT_API) $(VENV)/bin/prefect --no-prompt deploy --name nightly-retrain-process

worker: install ## run a process worker for the deployed retraining; needs make server and make deploy
	NERFLOW_ROOT=$(CURDIR) PREFECT_API_URL=$(PREFECT_API) \
		$(VENV)/bin/prefect worker start --pool nerflow-process

.PHONY: bench-gpu
bench: install ## full benchmark vs the seed pipeline (about 10 min on 2 cores): bench/benchmark.md
	$(PY) -m benchmarks --full --out bench

bench-quick: install ## the same comparisons with small step counts (minutes)
	$(PY) -m benchmarks --quick --out bench

bench-gpu: install ## GPU training throughput and MFU of a random bert-base-cased: bench/gpu_benchmark.json
	$(PY) -m benchmarks --gpu --out bench

clean: ## remove caches of datasets and models (.nerflow) and Prefect's local state (.prefect)
	rm -rf .nerflow .prefect
