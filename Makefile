# clipood — the two commands users need are `make study` and `make test` (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test readme study study-tiny study-scale study-family paper paper-rehearsal docs lab
WORKERS ?=
EXECUTOR ?= local

# The environment: a virtualenv with the package (editable) and its dev and docs extras (tests/test_docs.py builds a site).
# Re-installs when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[dev,docs]" 2>&1 | { grep -v "^WARNING: Location" || true; }
	@touch $(STAMP)

install: $(STAMP)

# JupyterLab on the notebooks (its own extra: make study / make test do not need it)
lab: install
	$(BIN)/pip install --quiet -e ".[dev,docs,lab]" 2>&1 | { grep -v "^WARNING: Location" || true; }
	$(BIN)/jupyter lab nbs/

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

# README.md is generated from nbs/index.ipynb (Quarto, which nbdev-readme needs, is not installable here), with the
# main table, run times and claim verdicts of the last `make study` (runs/synthetic/) inserted; nothing typed by hand.
readme: install
	$(BIN)/python scripts/make_readme.py

# The main job: install if needed, pretrain the tiny CLIP if needed, run configs/synthetic.yaml
# (local workers, resumable), render runs/synthetic/report.html and print its path. A second
# `make study` reuses everything.
study: install
	$(BIN)/clipood-study --config configs/synthetic.yaml $(if $(WORKERS),--workers $(WORKERS))

# Smoke test of the whole chain (a handful of runs, about a minute): runs/tiny/report.html
study-tiny: install
	$(BIN)/clipood-study --config configs/tiny.yaml

# Temperature and model scale (configs/synthetic-scale.yaml): zero-shot CLIP and Tip-Adapter on three sizes of the
# tiny CLIP (clipood-tiny-xs, clipood-tiny-s, clipood-tiny; shipped checkpoints), seeds 1-3, 13 temperatures:
# runs/synthetic-scale/report.html, whose temperature figure has one column per size and marks each size's best tau
study-scale: install
	$(BIN)/clipood-study --config configs/synthetic-scale.yaml $(if $(WORKERS),--workers $(WORKERS))

# Model families (configs/synthetic-family.yaml): a tiny CLIP and a tiny SigLIP with the same ViT image tower and the
# same pretraining recipe (shipped checkpoints), the paper's five methods (+ LoCoOp and GL-MCM on the CLIP) x seeds
# 1-5: runs/synthetic-family/report.html, one main table and set of verdicts per family
study-family: install
	$(BIN)/clipood-study --config configs/synthetic-family.yaml $(if $(WORKERS),--workers $(WORKERS))

# The paper's grid: make paper DATA=/path/to/data [WORKERS=1] [EXECUTOR=local|slurm]
# (needs the datasets under DATA and downloadable or cached CLIP weights; a GPU machine or Slurm).
paper: install
	@test -n "$(DATA)" || { echo "usage: make paper DATA=/path/to/data [EXECUTOR=slurm] (see configs/paper.yaml)"; exit 2; }
	-$(BIN)/clipood-data-check --root "$(DATA)"
	$(BIN)/clipood-sweep configs/paper.yaml --set data_root="$(DATA)" --executor $(EXECUTOR) $(if $(WORKERS),--workers $(WORKERS))
	$(BIN)/clipood-collect runs/paper --report

# Rehearse `make paper` on the CPU, with no data or weights (about 25 minutes on 2 cores): generated JPEGs in every
# dataset's real layout and class count, a random ViT-B-16, every (ID dataset, method) cell of the paper grid at
# 1 shot and one step (configs/paper-rehearsal.yaml), collection, report, then the time and peak memory per method
# (runs/paper-rehearsal/cost.md).
REHEARSAL_DATA ?= runs/paper-rehearsal-data
paper-rehearsal: install
	@start=$$(date +%s) && \
	$(BIN)/clipood-fake-data "$(REHEARSAL_DATA)" --images-per-class 2 --overwrite --quiet && \
	$(BIN)/clipood-data-check --root "$(REHEARSAL_DATA)" --names imagenet caltech101 stanford_cars food101 oxford_pets inaturalist sun places texture ninco ssb_hard imagenet_o && \
	$(BIN)/clipood-sweep configs/paper-rehearsal.yaml --set data_root="$(abspath $(REHEARSAL_DATA))" && \
	$(BIN)/clipood-collect runs/paper-rehearsal --report && \
	$(BIN)/python benchmarks/rehearsal_cost.py runs/paper-rehearsal --wall $$(( $$(date +%s) - start ))

# Docs: nbdev-docs where Quarto is installed; otherwise a static Sphinx site in _docs/ (open _docs/index.html), built
# from nbdev's processed notebooks with their outputs (notebooks executed once, cached in .cache/docs-exec/) and the
# latest study report (runs/synthetic/) as a page. Checked after the build: every page, API entry, link and image.
docs: install
	$(BIN)/python scripts/docs.py
