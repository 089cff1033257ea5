# clipood — the two commands users need are `make study` and `make test` (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test readme

# The environment: a virtualenv with the package (editable) and its dev extras.
# Re-installs when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[dev]" 2>&1 | { grep -v "^WARNING: Location" || true; }
	@touch $(STAMP)

install: $(STAMP)

# Everything: notebooks clean, library in sync with the notebooks, then pytest (which also
# executes every notebook through nbdev.test.test_nb).
test: install
	@echo "== nbdev-clean (notebooks must already be clean)"
	$(BIN)/nbdev-clean
	@bash scripts/check_no_diff.sh nbs "nbdev-clean changed notebooks: run 'make test' locally and commit the cleaned notebooks"
	@echo "== nbdev-export (clipood/ must match nbs/)"
	$(BIN)/nbdev-export
	@bash scripts/check_no_diff.sh clipood "nbdev-export changed clipood/: export the notebooks and commit the result"
	@echo "== pytest"
	$(BIN)/python -m pytest tests/

# README.md is generated from nbs/index.ipynb (Quarto, which nbdev-readme needs, is not installable here).
readme: install
	$(BIN)/python scripts/make_readme.py
