"""Venues and assets from configuration: signalops.yaml's venues:, assets:, default_venue:,
executor:, the CLI's --venue, and the auto executor built from them (signalops.venues)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import ccxt
import pytest
from click.testing import CliRunner, Result

from signalops.cli import cli
from signalops.config import load_config, loads_config
from signalops.errors import ConfigError, ExecutionError, InputError
from signalops.execution.auto import LIVE_REFUSAL, CcxtExecutor, build_auto_executor
from signalops.venues import VenueKind
from signalops.workspace import with_venue

ROOT = Path(__file__).resolve().parents[1]
STRATEGY = (ROOT / "tests" / "fixtures" / "original_readme.yaml").read_text()  # BTC, ETH, SOL
KEYS = {"SIGNALOPS_EXCHANGE_API_KEY": "k-123", "SIGNALOPS_EXCHANGE_SECRET": "s-456"}

EXAMPLE = """\
venues:
  coinbase: {exchange: coinbaseexchange, quote: USD, rate_limit: 350}
  stocks: {exchange: yfinance, quote: USD}
assets:
  ETH: {venue: coinbase, symbol: ETH-USD}
  AAPL: {venue: stocks}
"""


def run(folder: Path, *args: str) -> Result:
    """The CLI in ``folder`` (the test's cwd), with s.yaml and the test's ``files`` there."""
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()
    (folder / "s.yaml").write_text(STRATEGY)
    for name, text in FILES.items():
        (folder / name).write_text(textwrap.dedent(text))
    return runner.invoke(cli, list(args), prog_name="signalops")


FILES: dict[str, str] = {}
# s.yaml is in notify mode, and these configs have no webhooks.
UNRECORDED = (  # original_readme.yaml's market: no data of it is recorded
    "warning: s.yaml:15:19: rules[1].conditions[0].market: no data of Polymarket market "
    "'crypto_regulation_crackdown_2025' is recorded in examples/replay: its conditions are "
    "UNKNOWN at every bar of a replay or backtest, though a live run may find it (download it "
    "with 'signalops data download --source polymarket --asset crypto_regulation_crackdown_2025' "
    "or import a file with 'signalops data import FILE --source polymarket --asset "
    "crypto_regulation_crackdown_2025')\n"
    '          - market: "crypto_regulation_crackdown_2025"   # a market is named by slug\n'
    "                    ^"
)
CRYPTO_FUNDAMENTALS = (  # its price_to_sales rule, on BTC, ETH and SOL: NOT_APPLICABLE
    "warning: s.yaml:9:19: rules[0].conditions[0].metric: the condition on price_to_sales can "
    "never pass: BTC, ETH and SOL are crypto assets, and fundamentals exist for stocks only "
    "(NOT_APPLICABLE at every decision)\n"
    '          - metric: "price_to_sales"\n'
    "                    ^"
)
NOTIFY_UNHEARD = (
    "warning: s.yaml: notify mode with no webhooks in the config: approvals wait in "
    "'signalops approvals', nobody is told"
)


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.chdir(tmp_path)
    FILES.clear()
    yield FILES
    FILES.clear()


# --- the configuration ----------------------------------------------------------------------


def test_without_venues_every_asset_is_base_usdt_on_binance_and_auto_is_binance_testnet():
    venues = load_config().venues

    assert (venues.venue_of("BTC").exchange, venues.symbol_of("BTC")) == ("binance", "BTC/USDT")
    executor = venues.executor_venue()
    assert (executor.exchange, executor.sandbox) == ("binance", True)


def test_assets_map_to_their_venue_and_symbol_and_the_rest_stay_on_binance():
    venues = loads_config(EXAMPLE).venues

    assert (venues.venue_of("ETH").exchange, venues.symbol_of("ETH")) == (
        "coinbaseexchange",
        "ETH-USD",
    )
    assert venues.venue_of("ETH").ccxt_options() == {"enableRateLimit": True, "rateLimit": 350}
    assert (venues.venue_of("AAPL").kind, venues.symbol_of("AAPL")) == (VenueKind.YFINANCE, "AAPL")
    assert (venues.venue_of("BTC").exchange, venues.symbol_of("BTC")) == ("binance", "BTC/USDT")


def test_unknown_exchange_id_is_a_config_error_at_its_position_with_did_you_mean():
    with pytest.raises(ConfigError) as raised:
        loads_config("venues:\n  k: {exchange: krakn}\n", "signalops.yaml")

    assert str(raised.value) == (
        "signalops.yaml:2:17: venues.k.exchange: unknown exchange 'krakn': not a ccxt exchange "
        "id, yfinance or polymarket (did you mean 'kraken'?)"
    )


def test_an_asset_on_a_venue_that_is_not_configured_is_a_config_error():
    with pytest.raises(
        ConfigError, match=r"c.yaml:3:16: assets.ETH.venue: unknown venue 'coinbse'"
    ):
        loads_config("venues: {coinbase: {exchange: coinbaseexchange}}\nassets:\n"
                     "  ETH: {venue: coinbse}\n", "c.yaml")  # fmt: skip


def test_a_mistyped_venue_name_is_told_the_one_it_likely_means():
    with pytest.raises(ConfigError) as raised:
        loads_config("venues: {kraken: {exchange: kraken, quote: EUR}}\nassets:\n"
                     "  BTC: {venue: krakn}\n", "c.yaml")  # fmt: skip

    assert str(raised.value) == (
        "c.yaml:3:16: assets.BTC.venue: unknown venue 'krakn' (configured: binance, kraken, "
        "polymarket) (did you mean 'kraken'?)"
    )


def test_a_yfinance_venue_cannot_be_the_executor():
    with pytest.raises(ConfigError, match="venue 'stocks' \\(yfinance\\) cannot place orders"):
        loads_config(EXAMPLE + "executor: stocks\n")


def test_cli_prints_the_unknown_exchange_with_its_line_and_caret(tmp_path, files):
    files["signalops.yaml"] = "venues:\n  coinbase: {exchange: coinbasexchange, quote: USD}\n"

    result = run(tmp_path, "validate", "--config", "signalops.yaml", "s.yaml")

    assert result.exit_code == 1
    # The strategy is still checked, and the invalid config counted among the files.
    assert result.stdout == (
        "ok s.yaml  Multi_Source_Momentum: 2 entry rules, 0 exit rules, 0 vetoes, 2 conditions\n"
        "2 files: 1 valid, 1 invalid (1 error)\n"
    )
    assert result.stderr == (
        "error: signalops.yaml:2:24: venues.coinbase.exchange: unknown exchange "
        "'coinbasexchange': not a ccxt exchange id, yfinance or polymarket (did you mean "
        "'coinbaseexchange'?)\n"
        "    coinbase: {exchange: coinbasexchange, quote: USD}\n"
        "                         ^\n"
        f"{UNRECORDED}\n"
        f"{CRYPTO_FUNDAMENTALS}\n"
        "warning: venues and news feeds of the strategies not checked: the config "
        "signalops.yaml is invalid\n"
    )


def test_run_refuses_the_same_config_before_any_cycle(tmp_path, files):
    files["c.yaml"] = "executor: binanse\n"

    result = run(tmp_path, "run", "--config", "c.yaml", "s.yaml", "--once")

    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "error: c.yaml:1:11: executor: unknown exchange 'binanse': not a ccxt exchange id, "
        "yfinance or polymarket (did you mean 'binance'?)"
    )


# --- validate's warning ------------------------------------------------------------------------


def test_validate_warns_for_each_asset_no_configured_venue_serves(tmp_path, files):
    files["signalops.yaml"] = """\
        venues: {coinbase: {exchange: coinbaseexchange, quote: USD}}
        assets: {ETH: {venue: coinbase, symbol: ETH/USD}}
        default_venue: null
        """

    result = run(tmp_path, "validate", "s.yaml")

    assert result.exit_code == 0  # a warning, not an error
    assert result.stdout.endswith("1 file: 1 valid\n")
    assert result.stderr == (
        f"{UNRECORDED}\n"
        f"{CRYPTO_FUNDAMENTALS}\n"
        "warning: s.yaml: no configured venue serves asset BTC\n"
        "warning: s.yaml: no configured venue serves asset SOL\n"
        f"{NOTIFY_UNHEARD}\n"
    )


def test_validate_with_default_venues_warns_about_nothing(tmp_path, files):
    result = run(tmp_path, "validate", "s.yaml")

    # None of venues: the market, fundamentals and notify-mode warnings are of other things.
    warned = f"{UNRECORDED}\n{CRYPTO_FUNDAMENTALS}\n{NOTIFY_UNHEARD}\n"
    assert (result.exit_code, result.stderr) == (0, warned)


# --- --venue -----------------------------------------------------------------------------------


def test_venue_option_puts_every_asset_and_auto_mode_on_that_venue():
    config = with_venue(loads_config(EXAMPLE), "coinbase")
    venues = config.venues

    assert {a: venues.symbol_of(a) for a in ("BTC", "ETH")} == {"BTC": "BTC/USD", "ETH": "ETH-USD"}
    assert {venues.venue_of(a).exchange for a in ("BTC", "ETH", "AAPL")} == {"coinbaseexchange"}
    assert venues.executor_venue().exchange == "coinbaseexchange"


def test_venue_option_may_name_a_ccxt_exchange_directly():
    venues = with_venue(load_config(), "kraken").venues

    assert (venues.venue_of("BTC").exchange, venues.symbol_of("BTC")) == ("kraken", "BTC/USDT")


def test_venue_option_with_an_unknown_name_says_what_would_do(tmp_path, files):
    result = run(tmp_path, "validate", "s.yaml", "--venue", "krakn")

    assert result.exit_code == 1
    assert result.stderr == (
        "error: --venue: unknown exchange 'krakn': not a ccxt exchange id, yfinance or "
        "polymarket; configured venues: binance, polymarket (did you mean 'kraken'?)\n"
    )


def test_venue_option_on_evaluate_asks_that_venues_series_for_the_candles(
    tmp_path, files, replay_dir
):
    strategy = str(ROOT / "strategies" / "technical_baseline.yaml")
    common = ("evaluate", strategy, "--at", "2023-03-12", "--asset", "BTC", "--data")

    default = run(tmp_path, *common, str(replay_dir))
    kraken = run(tmp_path, *common, str(replay_dir), "--venue", "kraken")

    assert (default.exit_code, kraken.exit_code) == (0, 0)
    assert "NO_DATA" not in default.stdout
    assert (
        "        rsi(14): NO_DATA: no recorded 1d candles for BTC/USDT on kraken: download it with"
        " 'signalops data download --source technical --asset BTC/USDT --venue kraken"
        f" --timeframe 1d --since 2022-07-05 --until 2023-03-12 --to {replay_dir}' or import a"
        " file with 'signalops data import FILE --source technical --asset BTC/USDT --venue"
        f" kraken --timeframe 1d --to {replay_dir}'\n"
    ) in kraken.stdout


def test_venue_option_naming_nothing_known_is_an_input_error():
    with pytest.raises(InputError):
        with_venue(load_config(), "nasdaq")


# --- auto mode's venue -------------------------------------------------------------------------


def test_mainnet_venue_without_live_is_refused():
    venue = loads_config("venues: {k: {exchange: kraken, sandbox: false}}\nexecutor: k\n")
    with pytest.raises(ExecutionError) as refused:
        build_auto_executor(live=False, env=KEYS, venue=venue.venues.executor_venue())

    assert str(refused.value) == LIVE_REFUSAL


def test_mainnet_venue_with_live_trades_on_mainnet_with_its_quote():
    config = loads_config("venues: {k: {exchange: kraken, quote: USD, sandbox: false}}\n"
                          "executor: k\n")  # fmt: skip

    built = build_auto_executor(live=True, env=KEYS, venue=config.venues.executor_venue())

    assert isinstance(built, CcxtExecutor)
    assert type(built.exchange) is ccxt.kraken
    assert (built.sandbox, built.venue, built.quote) == (False, "kraken", "USD")


def test_sandbox_venue_on_an_exchange_without_a_testnet_is_refused_not_sent_to_mainnet():
    config = loads_config("executor: kraken\n")  # sandbox is the default

    with pytest.raises(ExecutionError) as refused:
        build_auto_executor(live=True, env=KEYS, venue=config.venues.executor_venue())

    assert str(refused.value) == (
        "kraken has no sandbox in ccxt; set sandbox: false on venue 'kraken' to trade on its "
        "mainnet (with --live)"
    )


def test_configured_exchange_testnet_is_used_when_sandbox_is_left_true():
    config = loads_config("venues: {cb: {exchange: coinbaseexchange}}\nexecutor: cb\n")
    env = {**KEYS, "SIGNALOPS_EXCHANGE_PASSWORD": "p-789"}

    built = build_auto_executor(live=True, env=env, venue=config.venues.executor_venue())

    assert isinstance(built, CcxtExecutor)
    assert built.venue == "coinbaseexchange:sandbox"
    assert "sandbox" in built.exchange.urls["api"]["public"]


def test_polymarket_executor_needs_sandbox_false_stated_in_the_config():
    config = loads_config("executor: polymarket\n")

    with pytest.raises(ExecutionError) as refused:
        build_auto_executor(live=True, env={}, venue=config.venues.executor_venue())

    assert str(refused.value) == (
        "Polymarket has no sandbox: auto mode there trades real funds; "
        "configure its venue with sandbox: false to confirm"
    )


def test_polymarket_venue_with_sandbox_false_asks_for_its_key():
    config = loads_config("venues: {pm: {exchange: polymarket, sandbox: false}}\nexecutor: pm\n")

    with pytest.raises(ExecutionError, match="SIGNALOPS_POLYMARKET_PRIVATE_KEY is not set"):
        build_auto_executor(live=True, env={}, venue=config.venues.executor_venue())
