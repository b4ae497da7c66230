# Minhu: `make run` serves the web chat on http://127.0.0.1:8000, `make test` runs every check.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
export MINHU_DATA_DIR ?= var

.PHONY: install run test lint typecheck imports pytest bench clean

$(BIN)/minhu: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

install: $(BIN)/minhu

run: install
	$(BIN)/minhu db upgrade
	$(BIN)/minhu demo
	$(BIN)/minhu nlu train --if-missing
	$(BIN)/minhu serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

imports: install
	$(BIN)/lint-imports

pytest: install
	$(BIN)/python -m pytest

test: lint typecheck imports pytest

bench: install
	$(BIN)/python bench/nlu.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
