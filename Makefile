# The one interface for developers and CI. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
ASSETS := src/envtrace/web/static/vendor/.built

.PHONY: demo test lint fmt check-types bench bench-quick assets venv clean fuzz contracts

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

venv: $(STAMP)

# Front-end libraries come from the npm registry through web/frontend/package-lock.json.
$(ASSETS): $(wildcard web/frontend/package-lock.json) $(wildcard web/frontend/build.mjs)
	scripts/build-assets

assets: $(ASSETS)

demo: $(STAMP) assets
	$(BIN)/envtrace demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools fuzz
	$(BIN)/ruff format --check src tests bench tools fuzz
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench tools fuzz
	$(BIN)/ruff check --fix src tests bench tools fuzz

test: $(STAMP) assets lint
	scripts/ensure-browser
	scripts/with-postgres $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

bench-quick: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b --quick || exit 1; done

fuzz: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,fuzz]'
	$(BIN)/python fuzz/fuzz_hj212.py -max_total_time=60 fuzz/corpus

contracts: $(STAMP) assets
	../shared/contracts/check all

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist
