# The two quick-start commands: `make run` and `make test`. Both create .venv when missing
# and are idempotent (dependencies are reinstalled only when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 7860
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test lint bench stress clean-venv llama rebuild-llama

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=25"
	# The CPU build of torch must come first: a bare torch requirement pulls a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0

# llama-cpp-python is compiled here, for this CPU without AMX, and installed from a wheel
# keyed by version, flags and CPU (scripts/install_llama.py): never from pip's cache. It runs
# on every `make run`/`make test` and does nothing when the installed build still matches.
llama: | $(BIN)/python
	$(BIN)/python scripts/install_llama.py

rebuild-llama: | $(BIN)/python
	$(BIN)/python scripts/install_llama.py --force

$(VENV)/.installed: pyproject.toml | llama
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev,report]'
	touch $@

run: llama $(VENV)/.installed
	$(BIN)/rag ingest seeds/
	$(BIN)/rag serve --host $(HOST) --port $(PORT)

test: llama $(VENV)/.installed-dev
	bash scripts/ensure-chromium.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# Every check runs, then the target fails if any did. The dependency audit runs pip-audit and
# checks offline (tests/security/advisories.json) what pip-audit cannot reach.
lint: $(VENV)/.installed-dev
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	$(BIN)/mypy || status=1; \
	$(BIN)/python tests/security/dep_audit.py || status=1; \
	exit $$status

# The full-size reliability and security tests: crash/restart at scale with the real embedding
# model, 2,000-question and real-LLM soaks, six real-model injection questions (slow).
stress: $(VENV)/.installed-dev
	NEWSQA_STRESS=1 $(BIN)/pytest tests/reliability tests/security -ra

bench: $(VENV)/.installed-dev
	# Each prints a table and writes bench/results/<name>.json (+ .png). Run on a quiet machine.
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/retrieval.py
	$(BIN)/python bench/retrieval_quality.py
	$(BIN)/python bench/answer.py
	$(BIN)/python bench/quality.py --config configs/wide.toml --withhold-gold
	$(BIN)/python bench/footprint.py
	$(BIN)/python bench/rules.py  # each abstain/verify rule on and off, by half (long)
	$(BIN)/python bench/injection.py  # canaries of injected instructions reaching answers (target 0)
	$(BIN)/python bench/news_eval.py  # rag eval news on tests/data/news_gold.jsonl, real model
	# The README's and docs' figures, from those files (tests/test_readme_figures.py checks).
	$(BIN)/python bench/readme.py

clean-venv:
	rm -rf $(VENV)
