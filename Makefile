# dealer-voice: every target sets itself up (a fresh machine needs only python3, make, git).
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO := data/demo
TEST_DEMO := .cache/demo-small
DEMO_INPUTS := analysis/synthetic.py $(wildcard params/*.yaml)
export PYTHONHASHSEED := 0
# no MPLBACKEND here: kernels (papermill, nbval, make lab) draw inline figures; scripts without a
# display fall back to Agg by themselves
CHROMIUM ?= /usr/bin/chromium

EXAMPLE := examples/survey_export.csv

.PHONY: help venv lock demo report example test lint unit nbval validation validation-refresh lab \
  bench bench-quick bench-ooc store-trials clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

# the versions every report was tested with: requirements.lock (pip's constraints, from `make lock`)
$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $@

venv: $(STAMP) ## create .venv with the package and its dev tools, at the locked versions

LOCK_VENV := .cache/lock-venv
lock: ## refresh requirements.lock: the newest versions pyproject.toml allows, in a fresh venv
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install --quiet -e '.[dev]'
	$(LOCK_VENV)/bin/python -m pip freeze --exclude-editable > requirements.lock
	rm -rf $(LOCK_VENV)
	@echo "requirements.lock refreshed: run make test, then commit it"

# the demo goes the way real data goes: messy exports -> ingest (quarantine) -> the store
$(DEMO)/processed/.stamp: $(DEMO_INPUTS) analysis/ingest.py analysis/demo_exports.py analysis/schemas.py | $(STAMP)
	rm -rf $(DEMO)
	$(PY) -m analysis demo-data --out $(DEMO)
	$(PY) -m analysis ingest --demo $(DEMO) --via-exports --data $(DEMO)
	@touch $@

demo: $(STAMP) $(DEMO)/processed/.stamp ## demo network: exports in data/demo/, store in data/demo/processed/

report: $(STAMP) ## demo data if no data is configured, then every monthly report
	@if [ -z "$$DEALER_VOICE_DATA" ] && [ ! -d data/processed ]; then \
	  $(MAKE) --no-print-directory demo; fi
	$(PY) -m analysis report --region all --language en ru

example: $(STAMP) ## README's walkthrough on examples/survey_export.csv: check, ingest, report
	$(PY) -m analysis ingest $(EXAMPLE) --check
	$(PY) -m analysis ingest $(EXAMPLE) --data data/example
	$(PY) -m analysis report --data data/example/processed --out reports/example --language ru en
	@echo "open reports/example/index.html"

$(TEST_DEMO)/processed/.stamp: $(DEMO_INPUTS) analysis/ingest.py analysis/demo_exports.py analysis/schemas.py | $(STAMP)
	rm -rf $(TEST_DEMO)
	$(PY) -m analysis demo-data --out $(TEST_DEMO) --dealers 18 --regions 3 \
	  --responses-per-month 1500
	$(PY) -m analysis ingest --demo $(TEST_DEMO) --via-exports --data $(TEST_DEMO)
	@touch $@

lint: $(STAMP) ## ruff over code and notebooks
	$(VENV)/bin/ruff check analysis tests benchmarks notebooks

# the browser test (tests/test_browser.py) opens every report of the test demo in headless
# Chromium: installed here when missing (Debian/Ubuntu; CI runs as root), nothing if present
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "install Chromium at $(CHROMIUM) (or set CHROMIUM=)"; exit 1; }
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq chromium

unit: $(STAMP) $(TEST_DEMO)/processed/.stamp | $(CHROMIUM) ## pytest over tests/ (with the browser test)
	CHROMIUM=$(CHROMIUM) DEALER_VOICE_TEST_DEMO=$(CURDIR)/$(TEST_DEMO)/processed \
	  $(PY) -m pytest -n 2 tests

nbval: $(STAMP) $(TEST_DEMO)/processed/.stamp validation ## every notebook under nbval: the validation ones strictly, the others on a small demo network
	DEALER_VOICE_DATA=$(CURDIR)/$(TEST_DEMO)/processed $(PY) -m pytest -p no:randomly --nbval-lax \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg --ignore=$(VALIDATION) notebooks

# The validation notebooks keep their outputs and strict nbval compares every one (README.md,
# "Validated notebooks"). Their numbers must not depend on the machine: one thread in every
# BLAS and OpenMP pool (sums split over threads round differently); PYTHONHASHSEED is above.
VALIDATION := notebooks/validation
ONE_THREAD := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
validation: $(STAMP) ## the validation notebooks under strict nbval: every number they print is compared
	$(ONE_THREAD) $(PY) -m pytest -p no:randomly -v --nbval \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg $(VALIDATION)

# inputs from whichever of the pair was edited last, then run and write outputs without timings
validation-refresh: $(STAMP) ## re-run the validation notebooks and write their outputs: review the diff
	$(VENV)/bin/jupytext --sync $(VALIDATION)/*.ipynb
	$(ONE_THREAD) $(VENV)/bin/jupyter nbconvert --execute --to notebook --inplace \
	  --ExecutePreprocessor.timeout=600 --ExecutePreprocessor.record_timing=False \
	  --ClearMetadataPreprocessor.enabled=True \
	  --ClearMetadataPreprocessor.preserve_cell_metadata_mask=tags \
	  --ClearMetadataPreprocessor.preserve_nb_metadata_mask=kernelspec \
	  --ClearMetadataPreprocessor.preserve_nb_metadata_mask=jupytext $(VALIDATION)/*.ipynb

test: lint unit nbval ## ruff, pytest and nbval: what CI runs

# JupyterLab serves on IP:PORT without opening a browser (a server or a container has none); as
# root (containers, CI) it needs --allow-root. Open the URL with the token it prints.
PORT ?= 8888
IP ?= 127.0.0.1
LAB_ROOT = $(if $(filter 0,$(shell id -u)),--allow-root)
lab: $(STAMP) ## JupyterLab on notebooks/ (PORT=8888 IP=127.0.0.1; works as root)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --no-browser --ip=$(IP) --port=$(PORT) $(LAB_ROOT)

# the full run includes Dask out of core on 100 M answers: their store is written once (about
# 4 GB, some minutes) into .cache/bench/ and reused
bench: $(STAMP) ## every benchmark (with the 100 M out-of-core run); prints ratios, writes reports/bench.json
	$(PY) -m benchmarks.run

bench-quick: $(STAMP) ## small benchmarks for a smoke run (under 2 minutes)
	$(PY) -m benchmarks.run --quick --out reports/bench-quick.json

bench-ooc: $(STAMP) ## only the Dask out-of-core run on 100 M answers (time, peak memory)
	$(PY) -m benchmarks.bench_dask --ooc

store-trials: $(STAMP) ## 20 trials each of concurrent ingests, kill -9 mid-ingest and in a first ingest (200 k answers)
	$(PY) -m benchmarks.store_trials --trials 20 --rows 200000 --out reports/store-trials.json

clean: ## remove generated data, reports and caches (keeps .venv)
	rm -rf $(DEMO) $(TEST_DEMO) reports .pytest_cache .ruff_cache
