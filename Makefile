# diffinv — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install test test-slow test-all demo lint clean

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
	$(PY) -m pip install -q -e '.[fem,dev]'
	@touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

test-all: $(STAMP)
	$(PY) -m pytest -m 'not gpu' $(PYTEST_ARGS)

demo: $(STAMP)
	$(PY) experiments/exact_score_sampling.py

lint: $(STAMP)
	$(PY) -m ruff check diffinv data_gen experiments tests
	$(PY) -m ruff format --check diffinv data_gen experiments tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
