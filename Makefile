# One entry point for people and CI. `make setup` is idempotent.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
Q ?= Where will NATO's new command for coordinating military aid to Ukraine be based?

.PHONY: setup ask test test-fast lint format bench clean-index

setup: $(VENV)/.installed

# torch is installed first and pinned: an unpinned torch pulls gigabytes of CUDA wheels.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

ask: setup
	$(BIN)/rag ask "$(Q)"

test: setup
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not browser"

lint: setup
	$(BIN)/ruff check rag api tests benchmarks
	$(BIN)/ruff format --check rag api tests benchmarks
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format rag api tests benchmarks
	$(BIN)/ruff check --fix rag api tests benchmarks

bench: setup
	$(BIN)/python benchmarks/run_all.py

clean-index:
	rm -rf index/build-* index/CURRENT index/.CURRENT.*
