# `make test` and `make demo` work on a fresh machine with only Python 3.11 and make:
# both create or refresh .venv from pyproject.toml before doing anything else.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint format venv clean browser

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no python3.11 or python3 on PATH (SignalOps needs Python 3.11+)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: $(PYTHON) is older than 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The dashboard's end-to-end test drives Debian's chromium (Playwright never downloads a browser
# here). Installing it needs root and apt; where that fails the test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "note: could not install chromium; the browser test will be skipped"; }

test: lint browser
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/signalops validate strategies/
	@for f in strategies/*.yaml; do echo; $(BIN)/signalops explain "$$f" || exit 1; done
	@echo
	$(BIN)/signalops data import
	@echo
	$(BIN)/signalops evaluate strategies/banking_crisis_dip.yaml --at 2023-03-11
	@echo
	$(BIN)/signalops evaluate strategies/banking_crisis_dip.yaml --at 2023-03-13

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .hypothesis
