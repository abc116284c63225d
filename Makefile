# diffinv — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install test test-slow test-all demo table2 lint docs clean bench bench-quick

# The first interpreter found that is Python >= 3.12 (pyenv shims honour .python-version).
FIND_PYTHON = for c in $${PYTHON:-} python3.12 python3.13 python3.14 python3 python; do \
	  command -v $$c >/dev/null 2>&1 || continue; \
	  $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { command -v $$c; exit 0; }; \
	done; exit 1

install: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x $(PY) ]; then \
	  py=$$($(FIND_PYTHON)) || { echo "error: no Python >= 3.12 found on PATH. Install Python 3.12 (e.g. 'pyenv install 3.12' or your OS package 'python3.12 python3.12-venv') or set PYTHON=/path/to/python3.12." >&2; exit 1; }; \
	  echo "creating $(VENV) with $$py ($$($$py --version))"; \
	  $$py -m venv $(VENV); \
	fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[fem,dev,docs]'
	@touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

test-all: $(STAMP)
	$(PY) -m pytest -m 'not gpu' $(PYTEST_ARGS)

# The demo, the default run (problem=advdiff_demo): the linear boundary-flux inverse problem end to end — FEniCSx data
# (170x40 mesh, 9,000 + 200 pairs) made on first use, 400 epochs, posterior samples (ode and sde) of 100 test
# measurements (200 each), flux-posterior and calibration figures, `results: <dir>` (~2 min on 2 CPU cores,
# docs/usage.md §1). The 2-D density benchmark: python -m diffinv.train problem=tanh.
demo: $(STAMP)
	$(PY) -m diffinv.train

# Paper Table 2 (docs/problems.md §1): 3 problems x {VE, VP} trained once each, sampled with ODE and SDE (joblib multirun),
# then the report in the paper's layout. TABLE2_ARGS=trainer.max_epochs=2000 for a shorter run.
TABLE2_ARGS ?=
table2: $(STAMP)
	$(PY) -m diffinv.train experiment=table2 $(TABLE2_ARGS)
	$(PY) -m diffinv.report $$(ls -d outputs/table2/multiruns/*/ | tail -n 1) --out experiments/table2

# Benchmarks (benchmarks/, issue 6): each prints medians and ratios to its baseline and appends a dated table to
# benchmarks/RESULTS.md. Data files from data_gen are read from data/ (a synthetic stand-in or a skip where
# missing). BENCH_ARGS=--threads=N on a machine with free cores. bench_sbi needs the `bench` extra (sbi) and trains
# three advection models of 1,000 epochs (ours, ours with recipe=paper, sbi's NPSE): 20 min to over an hour.
BENCHMARKS := training sampling accuracy datagen sinkhorn sbi library
# `make bench` samples the paper's 10^6 (1,000 x 1,000) with sampler=ode (~2.5 min on one loaded core; issue 13's
# target <= 5 min), every sampler and SciPy on 10 x 1,000 (~1 min); BENCH_SAMPLING_ARGS= adds sde at 10^6 (~5 min).
BENCH_ARGS ?=
BENCH_SAMPLING_ARGS ?= --full ode
bench: $(STAMP)
	@set -e; for b in $(BENCHMARKS); do echo "== bench_$$b"; \
	  $(PY) -m benchmarks.bench_$$b $(BENCH_ARGS) $$([ $$b = sampling ] && echo $(BENCH_SAMPLING_ARGS)); done

bench-quick: $(STAMP)
	@set -e; for b in $(BENCHMARKS); do echo "== bench_$$b --quick"; $(PY) -m benchmarks.bench_$$b --quick $(BENCH_ARGS); done

# ruff, then the import-linter contracts of pyproject.toml (layers of diffinv, docs/design.md §1).
lint: $(STAMP)
	$(PY) -m ruff check diffinv data_gen examples experiments tests benchmarks
	$(PY) -m ruff format --check diffinv data_gen examples experiments tests benchmarks
	$(VENV)/bin/lint-imports

# The documentation site (mkdocs.yml) into site/; --strict turns every warning into an error. Neither the build
# nor a reader fetches anything: MathJax is served from site/, and the build fails on a page that would load a
# script or stylesheet from another host (docs/hooks/offline_site.py). NO_MKDOCS_2_WARNING silences Material's
# end-of-life banner, which is no build problem.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .import_linter_cache site
