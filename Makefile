# Gradient Lab — the two commands:
#   make lab         set up (first time only) and open JupyterLab on notebooks/ (student set-up)
#   make test        set up (first time only, with the test extras) and run the whole test suite
# and one for teachers:
#   make instructor  like `make lab`, plus the grading extras (nbgrader's formgrader and menus)
# and one for developers:
#   make lint        the import contracts (lint-imports; also run by `make test`) and ruff
# Set-up is a virtual environment in .venv with the pinned stack from pyproject.toml; it is
# redone only when pyproject.toml changes, so re-running any command is quick. Two stamps:
#   .venv/.installed        the student stack (what the notebooks need)     <- make lab
#   .venv/.installed-test   + the [test] extra (pytest, nbval, nbgrader...) <- make test / instructor
# Jupyter settings shipped in lab/ (JupyterLab: no news pop-up, no update check -> share/jupyter/lab/
# settings/overrides.json; Voila: an offline template as the default) are installed into the
# environment by scripts/install_lab_config.sh; `make lab` also puts lab/student on JUPYTER_CONFIG_PATH,
# which switches the grading extensions off if `make test` installed them into the same environment.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
LAB_SETTINGS := $(VENV)/.lab-config
LAB_CONFIG_FILES := lab/overrides.json lab/etc/voila.json $(wildcard lab/jupyter-data/voila/templates/gradient-lab/*)
STUDENT_CONFIG := $(abspath lab/student)
# axe-core (npm) for the accessibility audit in tests/browser: fetched at build time, never at run time
AXE_VERSION := 4.14.1
AXE := build/axe/axe.min.js
export PATH := $(BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
IS_ROOT := $(filter 0,$(shell id -u))
ROOT_FLAG := $(if $(IS_ROOT),--allow-root,)
PYTEST_ARGS ?=

.PHONY: lab instructor test lint setup browser axe student clean help root-note

help:
	@echo "make lab         - open JupyterLab on the notebooks (installs the student set-up on first use)"
	@echo "make instructor  - the same with the grading extras (nbgrader formgrader; installs the [test] extra)"
	@echo "make test        - install the test extras and run the whole test suite"
	@echo "make lint        - import contracts (lint-imports) and lint rules (ruff), as set in pyproject.toml"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	@# torch first and pinned: the CPU build; an unpinned torch can pull a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -c "import toolkit.livechart as l; l.javascript_bundle()"
	@touch $(STAMP)

$(TEST_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(TEST_STAMP)

$(LAB_SETTINGS): $(LAB_CONFIG_FILES) scripts/install_lab_config.sh | $(STAMP)
	bash scripts/install_lab_config.sh $(abspath $(VENV))
	@touch $(LAB_SETTINGS)

setup: $(TEST_STAMP) $(LAB_SETTINGS)

browser: $(TEST_STAMP)
	@bash scripts/ensure_browser.sh

axe: $(AXE)

$(AXE):
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --prefix build/axe-npm --no-save --no-audit --no-fund --no-package-lock --silent \
	    axe-core@$(AXE_VERSION) && mkdir -p $(dir $(AXE)) && \
	  cp build/axe-npm/node_modules/axe-core/axe.min.js $(AXE); \
	else \
	  echo "npm not found: the accessibility audit (tests/browser/test_accessibility.py) will be skipped" >&2; \
	  test "$${CI:-}" != "true"; \
	fi

root-note:
ifneq ($(IS_ROOT),)
	@echo "NOTE: you are running as root, so JupyterLab is started with --allow-root (it refuses root" >&2
	@echo "      otherwise). Anyone who can reach its port can run code as root: prefer a normal user." >&2
endif

lab: $(STAMP) $(LAB_SETTINGS) root-note
	cd notebooks && JUPYTER_CONFIG_PATH="$(STUDENT_CONFIG)$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
		$(BIN)/jupyter lab $(ROOT_FLAG) 00_start_here.ipynb

instructor: $(TEST_STAMP) $(LAB_SETTINGS) root-note
	@echo "Instructor lab: nbgrader's Formgrader is under the Nbgrader menu (see notebooks/README.md)."
	cd notebooks && $(BIN)/jupyter lab $(ROOT_FLAG) 00_start_here.ipynb

# the import contracts and the lint rules first: a broken layer or a lint finding fails in seconds,
# before the 10-minute suite starts
test: $(TEST_STAMP) $(LAB_SETTINGS) browser axe
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check --no-cache .
	GRADIENT_LAB_STRICT=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

# contracts, lint rules and the layout (ruff format) of pyproject.toml; `ruff format .` applies the layout
lint: $(TEST_STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check --no-cache .
	$(BIN)/ruff format --check --no-cache .

clean:
	rm -rf $(VENV) .pytest_cache test-results build/axe build/axe-npm
