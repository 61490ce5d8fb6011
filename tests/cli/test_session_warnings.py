"""A strategy on stocks whose leaves would be UNKNOWN every Monday is warned about, once a file.

Regression tests: an AAPL strategy (on a yfinance venue) with the default max age of its daily
candle leaves (two candles: 2d) was UNKNOWN at every Monday's and every post-holiday decision,
entry and exit (its stop-loss too), and ``validate`` and ``run`` said nothing: Friday's close
(16:00 New York) is 2 to 3 days old on a Monday, 3 to 4 after a long weekend.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import invoke as run

CONFIG = """\
venues:
  stocks: {exchange: yfinance, quote: USD}
  etfs: {exchange: yfinance, quote: USD}
assets:
  AAPL: {venue: stocks}
  MSFT: {venue: stocks}
  SPY: {venue: etfs}
"""
DIP = """\
strategy:
  name: Dip_Buyer
  assets: [AAPL]
  params: {oversold: 30}
  rules:
    - id: dip
      source: technical
      conditions: [{when: "rsi(14) < $oversold"}]
  exit:
    rules:
      - {id: recovered, source: technical, conditions: [{when: "rsi(14) > 60"}]}
      - {id: stop, source: technical, conditions: [{when: "return(10d) < -10%"}]}
  execution: {position_size: 0.1}
"""
SESSIONS = "trades in sessions (venue stocks, yfinance): its last close is 2 to 3 days old on "
WEEKEND = "Mondays and 3 to 4 after a long weekend, past the "
DIP_WARNING = (
    f"warning: dip.yaml: AAPL {SESSIONS}{WEEKEND}2d max age of rsi(14) < 30 and 2 more leaves, "
    "which are then UNKNOWN; add defaults: {max_age: 4d} to the strategy\n"
)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "signalops.yaml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def write(folder: Path, name: str, text: str) -> str:
    (folder / name).write_text(text, encoding="utf-8")
    return name


def edited(*changes: tuple[str, str]) -> str:
    text = DIP
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    return text


def with_defaults(defaults: str) -> str:
    return edited(("  execution:", f"  defaults: {defaults}\n  execution:"))


def test_validate_warns_once_for_a_stock_strategy_with_two_day_leaves(in_tmp: Path):
    result = run("validate", write(in_tmp, "dip.yaml", DIP))

    assert (result.exit_code, result.stdout) == (
        0,
        "ok dip.yaml  Dip_Buyer: 1 entry rule, 2 exit rules, 0 vetoes, 3 conditions\n"
        "1 file: 1 valid\n",
    )
    assert result.stderr == DIP_WARNING


@pytest.mark.parametrize(
    ("change", "ending"),
    [
        (  # a defaults section without max_age
            ("  execution:", "  defaults: {params: {timeframe: 1d}}\n  execution:"),
            "2d max age of rsi(14) < 30 and 2 more leaves, which are then UNKNOWN; "
            "add max_age: 4d to the strategy's defaults",
        ),
        (
            ("  execution:", "  defaults: {max_age: 3d}\n  execution:"),
            "3d max age of rsi(14) < 30 and 2 more leaves, which are then UNKNOWN; "
            "raise the max_age of the strategy's defaults to 4d",
        ),
        (  # the stop's own rule sets 36h: the defaults would not reach it
            ("{id: stop, source: technical,", "{id: stop, source: technical, max_age: 36h,"),
            "36h max age of return(10d) < -10% and 2 more leaves, which are then UNKNOWN; "
            "add defaults: {max_age: 4d} to the strategy and raise max_age to 4d where their "
            "rules or conditions set it",
        ),
        (  # the entry's condition sets a long weekend's: the two exits are short
            ('rsi(14) < $oversold"}', 'rsi(14) < $oversold", max_age: 4d}'),
            "2d max age of rsi(14) > 60 and 1 more leaf, which are then UNKNOWN; "
            "add defaults: {max_age: 4d} to the strategy",
        ),
    ],
)
def test_the_warning_says_where_the_max_age_to_raise_is(
    in_tmp: Path, change: tuple[str, str], ending: str
):
    result = run("validate", write(in_tmp, "dip.yaml", edited(change)))

    assert result.exit_code == 0
    assert result.stderr == f"warning: dip.yaml: AAPL {SESSIONS}{WEEKEND}{ending}\n"


def test_one_line_names_every_asset_in_sessions_and_its_venues(in_tmp: Path):
    text = edited(("assets: [AAPL]", "assets: [AAPL, BTC, SPY]"), ("rsi(14) > 60", "close > 1"))

    result = run("validate", write(in_tmp, "dip.yaml", text))

    assert result.exit_code == 0
    assert result.stderr == (
        "warning: dip.yaml: AAPL and SPY trade in sessions (venues stocks and etfs, yfinance): "
        f"their last close is 2 to 3 days old on {WEEKEND}2d max age of rsi(14) < 30 and 2 more "
        "leaves, which are then UNKNOWN; add defaults: {max_age: 4d} to the strategy\n"
    )


def test_only_the_strategy_a_long_weekend_makes_unknown_is_warned_about(in_tmp: Path):
    known = {
        "four_days.yaml": with_defaults("{max_age: 4d}"),
        "crypto.yaml": edited(("assets: [AAPL]", "assets: [BTC]")),  # Binance: around the clock
        "hourly.yaml": with_defaults("{params: {timeframe: 1h}}"),
        "weekly.yaml": edited(  # max age: two candles, 2w; a window of whole weeks
            ("  execution:", "  defaults: {params: {timeframe: 1w}}\n  execution:"),
            ("return(10d)", "return(14d)"),
        ),
    }
    # One strategy name per file: run refuses two of one name, and validate warns of them.
    names = [
        write(in_tmp, name, text.replace("Dip_Buyer", name.removesuffix(".yaml")))
        for name, text in known.items()
    ]

    result = run("validate", write(in_tmp, "dip.yaml", DIP), *names)

    assert result.stdout.endswith("5 files: 5 valid\n")
    assert (result.exit_code, result.stderr) == (0, DIP_WARNING)


def test_validate_follows_the_venue_option(in_tmp: Path):
    text = edited(("assets: [AAPL]", "assets: [NVDA]"))  # not in the config: on Binance
    name = write(in_tmp, "dip.yaml", text)

    around_the_clock = run("validate", name)
    on_stocks = run("validate", name, "--venue", "stocks")

    assert (around_the_clock.exit_code, around_the_clock.stderr) == (0, "")
    assert (on_stocks.exit_code, on_stocks.stderr) == (0, DIP_WARNING.replace("AAPL", "NVDA"))


def test_run_warns_once_as_it_starts(in_tmp: Path, replay_dir: Path):
    short = write(in_tmp, "dip.yaml", DIP)
    known = write(
        in_tmp, "dip4d.yaml", with_defaults("{max_age: 4d}").replace("Dip_Buyer", "Dip4d")
    )

    result = run(
        "run", short, known, "--replay", str(replay_dir), "--from", "2022-06-15",
        "--to", "2022-06-16", "--audit", "run.db",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    # And, a replay of a stock, how its paper fills are priced (test_replay_fills_note.py).
    assert result.stderr == DIP_WARNING + (
        "warning: AAPL fills on paper at each decision's reference price, the last close "
        "(Friday's for a Monday 00:00 UTC decision), not at the next session's open as in a "
        "backtest: a replay's PnL differs from a backtest's of the same decisions by each gap "
        "from a close to the next open\n"
    )
    assert [line.split("  [")[0] for line in result.stdout.splitlines()] == [
        "2022-06-15T00:00:00Z  2 decisions: 2 HOLD",
        "2022-06-16T00:00:00Z  2 decisions: 2 HOLD",
    ]


def test_backtest_and_sweep_warn_as_validate_does(in_tmp: Path, replay_dir: Path):
    short = write(in_tmp, "dip.yaml", DIP)
    data = ("--data", str(replay_dir), "--from", "2022-06-13", "--to", "2022-06-17")

    backtest = run("backtest", short, *data, "--report", "report", "--no-baseline")
    sweep = run("sweep", short, *data, "--grid", "oversold=30,35")
    universe = run("backtest", short, *data, "--universe", "MSFT", "--report", "u")

    # A backtest then says how often (the Monday of the week).
    monday = (
        "note: rsi(14) and return(10d) (technical) were UNKNOWN at 1 of 5 decisions of AAPL: "
        "STALE: the data is from 2022-06-10T20:00:00Z (2.2d old, max 2d) (the first: signalops "
        "why {} --audit {}/backtest.db)\n"
    )
    aapl = monday.format("dec-5ee466224dcbe6bb662722d0", "report")
    assert (backtest.exit_code, backtest.stderr) == (0, DIP_WARNING + aapl)
    assert (sweep.exit_code, sweep.stderr) == (0, DIP_WARNING)
    # The assets a command runs are the ones warned about (here, --universe's).
    msft = monday.format("dec-fa159b1a2cf124a6799304c0", "u").replace("AAPL", "MSFT")
    assert universe.stderr == DIP_WARNING.replace("AAPL", "MSFT") + msft
