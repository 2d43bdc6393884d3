# Gradient Lab — the two commands:
#   make lab    set up (first time only) and open JupyterLab on notebooks/
#   make test   set up (first time only) and run the whole test suite
# Set-up is a virtual environment in .venv with the pinned stack from pyproject.toml; it is
# redone only when pyproject.toml changes, so re-running either command is quick.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
export PATH := $(BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?=

.PHONY: lab test setup browser student clean help

help:
	@echo "make lab   - open JupyterLab on the notebooks (installs on first use)"
	@echo "make test  - install and run the whole test suite"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	@# torch first and pinned: the CPU build; an unpinned torch can pull a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -c "import toolkit.livechart as l; l.javascript_bundle()"
	@touch $(STAMP)

setup: $(STAMP)

browser: $(STAMP)
	@bash scripts/ensure_browser.sh

lab: $(STAMP)
	cd notebooks && $(BIN)/jupyter lab $(ROOT_FLAG) 00_start_here.ipynb

test: $(STAMP) browser
	GRADIENT_LAB_STRICT=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache test-results
