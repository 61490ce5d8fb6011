# `make test` and `make demo` work on a fresh machine with only Python 3.11 and make:
# both create or refresh .venv from pyproject.toml before doing anything else.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint typecheck format venv clean browser postgres

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

# Settings and the list of untyped third-party libraries live in [tool.mypy] in pyproject.toml.
typecheck: $(STAMP)
	$(BIN)/mypy

# The dashboard's end-to-end test drives Debian's chromium (Playwright never downloads a browser
# here). Installing it needs root and apt; where that fails the test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "note: could not install chromium; the browser test will be skipped"; }

# The PostgreSQL audit-log tests start a throw-away cluster with Debian's server binaries
# (initdb + pg_ctl on a free port); where apt cannot install them those tests skip and say why.
postgres:
	@{ command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; } || { \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } \
	  || echo "note: could not install postgresql; the PostgreSQL tests will be skipped"; }

test: lint typecheck browser postgres
	$(BIN)/python -m pytest

# The demo: real bundled data, offline, in well under a minute. Backtests run through the same
# pipeline as live trading (replay adapters, risk gate, paper fills at the next bar's open, audit).
DEMO_REPORTS := reports

demo: $(STAMP)
	$(BIN)/signalops validate strategies/
	@echo
	$(BIN)/signalops data import
	@echo
	@echo "== 1. March 2023 banking crisis: RSI-oversold BTC entry, on-chain veto on USDC outflows"
	$(BIN)/signalops backtest strategies/banking_crisis_dip.yaml --from 2023-01-01 --to 2023-06-30 --report $(DEMO_REPORTS)/banking_crisis_dip
	@echo
	@echo "== 2. The 2024 US election: BTC trend entry gated by Polymarket odds, on-chain confirmation"
	$(BIN)/signalops backtest strategies/election_odds_gate.yaml --from 2024-10-01 --to 2025-01-31 --report $(DEMO_REPORTS)/election_odds_gate
	@echo
	@echo "== 3. Technical-only baseline of the same RSI entry"
	$(BIN)/signalops backtest strategies/technical_baseline.yaml --from 2023-01-01 --to 2023-06-30 --report $(DEMO_REPORTS)/technical_baseline --no-baseline
	@echo
	@echo "== 4. Graham Value + Event Filter on US stocks (SEC EDGAR point-in-time fundamentals) vs buy-and-hold of the S&P 500"
	$(BIN)/signalops backtest strategies/graham_value_event_filter.yaml --config examples/signalops.equities.yaml --from 2019-01-01 --to 2023-12-31 --benchmark GSPC --no-baseline --report $(DEMO_REPORTS)/graham_value_event_filter
	@echo
	@echo "== Why was a trade blocked? (from the audit record alone)"
	$(BIN)/signalops why BTC --at 2024-10-15 --audit $(DEMO_REPORTS)/election_odds_gate/backtest.db
	@echo
	@echo "== Every decision replayed from its audit record alone (same verdict, same trace hash)"
	$(BIN)/signalops audit replay --all --audit $(DEMO_REPORTS)/election_odds_gate/backtest.db
	@echo
	@echo "Reports: $(DEMO_REPORTS)/*/report.html (equity, drawdown, blocked trades), metrics.json, trades.csv"

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .mypy_cache .hypothesis
