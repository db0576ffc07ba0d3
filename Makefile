# Two commands for a fresh machine:  `make demo` (set up + run the main job), `make test`.
# `make demo` installs only the core dependencies (what `poolstride compare` needs);
# `make test` adds the `dev` extra (Ray, timm, MLflow, ONNX, pytest, ...) to the same venv.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CORE_STAMP := $(VENV)/.installed-core

.PHONY: demo test lint bench setup

$(CORE_STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -e .
	touch $(CORE_STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(CORE_STAMP)
	$(VENV)/bin/poolstride compare

test: $(STAMP)
	$(PY) -m ruff check src tests bench
	$(PY) -m ruff format --check src tests bench
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -n 2

bench: $(STAMP)
	$(PY) bench/kernels.py
