"""One paper account holds one currency: assets whose venues quote different currencies, or a
``paper.quote`` that is not their venues', are refused by ``backtest`` and ``run`` before
anything runs, and ``validate`` warns of them.

Regression: with BTC on Kraken in EUR and KO on yfinance in USD, ``backtest --asset BTC
--asset KO`` printed ``portfolio +232.04 = BTC +273.21 + KO -41.17``, euros and dollars added
up with no conversion (SignalOps has no exchange rates) and the currency label dropped; with
``paper: {quote: EUR}`` KO's USD closes were booked as EUR.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import invoke

from signalops.config import loads_config
from signalops.errors import InputError

CONFIG = """\
venues:
  kraken: {exchange: kraken, quote: EUR}
  stocks: {exchange: yfinance, quote: USD}
assets:
  BTC: {venue: kraken}
  KO: {venue: stocks}
default_venue: null
"""
PAPER_EUR = "paper: {quote: EUR}\n"
STRATEGY = """\
strategy:
  name: Dip
  assets: [{assets}]
  defaults: {{max_age: 4d}}
  rules:
    - id: dip
      source: technical
      conditions: [{{when: "rsi(14) < 30"}}]
  execution: {{position_size: 0.1, action_mode: paper}}
"""
MIXED = (
    "BTC is quoted in EUR (venue kraken) and KO in USD (venue stocks), and SignalOps converts "
    "no currency: one paper account cannot hold them; backtest or run the assets of each "
    "currency apart, one account per currency"
)
BOOKED_AS_EUR = (
    "paper.quote is EUR but KO is quoted in USD (venue stocks), and SignalOps converts no "
    "currency: its prices would be booked as EUR; write paper.quote: USD, or leave it out (one "
    "account per currency)"
)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    return tmp_path


def files(folder: Path, assets: str, extra: str = "") -> tuple[str, str]:
    (folder / "signalops.yaml").write_text(CONFIG + extra, encoding="utf-8")
    (folder / "dip.yaml").write_text(STRATEGY.format(assets=assets), encoding="utf-8")
    return "dip.yaml", "signalops.yaml"


def backtest(*args: str):
    return invoke(
        "backtest", *args, "--data", "data", "--from", "2022-03-01", "--to", "2022-06-30",
        "--report", "out",
    )  # fmt: skip


def test_a_backtest_of_assets_quoted_in_euros_and_dollars_is_refused_naming_each_quote(
    folder: Path,
):
    strategy, config = files(folder, "BTC")

    result = backtest(strategy, "--asset", "BTC", "--asset", "KO", "--config", config)

    assert result.exit_code == 1
    assert result.stderr == f"error: {MIXED}\n"
    assert not (folder / "out").exists()


def test_a_run_of_them_is_refused_before_its_audit_log_is_made(folder: Path):
    strategy, config = files(folder, "BTC, KO")

    result = invoke(
        "run", strategy, "--config", config, "--replay", "data", "--from", "2022-03-01",
        "--to", "2022-03-02", "--mode", "paper", "--audit", "a.db",
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr == f"error: {MIXED}\n"
    assert not (folder / "a.db").exists()


def test_a_paper_quote_that_is_not_the_venues_is_refused_not_booked_as_it(folder: Path):
    strategy, config = files(folder, "KO", PAPER_EUR)

    result = backtest(strategy, "--config", config)

    assert result.exit_code == 1
    assert result.stderr == f"error: {BOOKED_AS_EUR}\n"
    assert not (folder / "out").exists()


def test_the_api_refuses_them_too() -> None:
    config = loads_config(CONFIG + PAPER_EUR)
    assert config.quote_problem(["BTC"]) is None  # EUR on Kraken, as paper.quote says
    assert config.quote_problem(["BTC", "KO"]) == MIXED
    assert config.quote_problem(["KO"]) == BOOKED_AS_EUR
    assert config.quote_problem(["DOGE"]) is None  # no venue serves it: said elsewhere
    with pytest.raises(InputError, match=r"^paper\.quote is EUR but KO is quoted in USD"):
        config.check_quotes(["KO"])


def test_validate_of_a_strategy_with_the_config_warns_of_it(folder: Path):
    strategy, config = files(folder, "BTC, KO")

    result = invoke("validate", strategy, "--config", config)

    assert result.exit_code == 0
    assert result.stderr == f"warning: dip.yaml: {MIXED} (backtest and run refuse it)\n"


def test_validate_of_a_strategy_warns_of_a_paper_quote_its_venues_do_not_quote(folder: Path):
    strategy, config = files(folder, "KO", PAPER_EUR)

    result = invoke("validate", strategy, "--config", config)

    assert result.exit_code == 0
    assert result.stderr == f"warning: dip.yaml: {BOOKED_AS_EUR} (backtest and run refuse it)\n"


def test_validate_of_the_config_alone_warns_of_the_assets_it_lists(folder: Path):
    _, config = files(folder, "BTC")

    result = invoke("validate", config)

    assert result.exit_code == 0
    assert result.stderr == (
        f"warning: signalops.yaml: {MIXED} (backtest and run refuse them together)\n"
    )


DOLLARS_CONFIG = """\
venues:
  binance: {exchange: binance, quote: USDT}
  stocks: {exchange: yfinance, quote: USD}
assets:
  AAPL: {venue: stocks}
"""
PAR = (
    "warning: BTC in USDT (venue binance) and AAPL in USD (venue stocks) are added at par in "
    "one USD account (1 USD = 1 USDT): SignalOps has no exchange rates, and a stablecoin's "
    "depeg is not modelled\n"
)


def test_dollars_and_a_dollar_stablecoin_share_one_usd_account_at_par_and_say_so(
    folder: Path, replay_dir: Path
):
    # Crypto on Binance (USDT) beside stocks (USD): refused as two currencies, which left no
    # way to backtest or run a strategy over both. At par, in USD, and said.
    (folder / "signalops.yaml").write_text(DOLLARS_CONFIG, encoding="utf-8")
    (folder / "dip.yaml").write_text(STRATEGY.format(assets="BTC, AAPL"), encoding="utf-8")

    result = invoke(
        "backtest", "dip.yaml", "--config", "signalops.yaml", "--data", str(replay_dir),
        "--from", "2022-03-01", "--to", "2022-06-30", "--report", "out",
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith(PAR)
    assert "end equity (USD)" in result.stdout
    assert loads_config(DOLLARS_CONFIG).account_quote(["BTC", "AAPL"]) == "USD"
    assert loads_config(DOLLARS_CONFIG).par_note(["BTC"]) is None  # one currency: nothing to say


def test_a_paper_quote_in_euros_over_dollars_at_par_is_still_refused() -> None:
    config = loads_config(DOLLARS_CONFIG + PAPER_EUR)
    with pytest.raises(InputError, match=r"^paper\.quote is EUR but BTC is quoted in USDT"):
        config.check_quotes(["BTC", "AAPL"])
