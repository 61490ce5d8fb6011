"""A backtest after the data's end says what it lacks: a candle for its orders to fill at.

Regression tests: ``backtest --from 2025-01-02 --to 2025-01-03`` of an AAPL strategy (the
bundled prices end with 2024-12-31's session) ran "2 sessions" with every order FAILED
NO_PRICE and a total return of +0.00%, and BTC's the same on the day its last candle closes.
The coverage check asked for a bar to read (its first decision reads the data's last close)
but not for one to fill at: the candle that opens at or after a decision, which a period
after the data's end does not have. Now both are asked; a one-session stock period still runs
(tests/backtest/test_one_session.py): it reads the previous close and fills at that day's
open, after the period's 00:00.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_one_session import CONFIG, backtest

STRATEGY = """\
strategy:
  name: after_the_data
  assets: [ASSET]
  defaults: {max_age: 4d}
  rules:
    - id: oversold
      source: technical
      conditions: [{when: "rsi(14) < 99"}]
  execution: {position_size: 0.1}
"""
# The last bundled session of AAPL and GSPC: 2024-12-31, 09:30 to 16:00 New York.
AAPL_ENDS = (
    "the recorded data ends with the candle opening at 2024-12-31T14:30:00Z (closing at "
    "2024-12-31T21:00:00Z)"
)


@pytest.fixture
def in_tmp(in_tmp: Path) -> Path:
    """The root conftest's empty folder, with the config and a strategy per asset."""
    tmp_path = in_tmp
    (tmp_path / "signalops.yaml").write_text(CONFIG, encoding="utf-8")
    for asset in ("AAPL", "BTC"):
        text = STRATEGY.replace("ASSET", asset)
        (tmp_path / f"{asset.lower()}.yaml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("strategy", "start", "end", "message"),
    [
        (
            "aapl.yaml", "2025-01-02", "2025-01-03",
            "error: no 1d AAPL candle opens between 2025-01-02T00:00:00Z and "
            "2025-01-03T14:30:00Z (the first session's open from 2025-01-03T00:00:00Z) for the "
            f"period's orders to fill at: {AAPL_ENDS}\n",
        ),
        (  # New Year's Day: the first session from it is 01-02's
            "aapl.yaml", "2025-01-01", "2025-01-01",
            "error: no 1d AAPL candle opens between 2025-01-01T00:00:00Z and "
            "2025-01-02T14:30:00Z (the first session's open from 2025-01-01T00:00:00Z) for the "
            f"period's orders to fill at: {AAPL_ENDS}\n",
        ),
        (  # BTC's last candle opens 2026-03-30 00:00 and closes at 03-31 00:00
            "btc.yaml", "2026-03-31", "2026-04-02",
            "error: no 1d BTC candle opens between 2026-03-31T00:00:00Z and "
            "2026-04-02T00:00:00Z for the period's orders to fill at: the recorded data ends "
            "with the candle opening at 2026-03-30T00:00:00Z (closing at 2026-03-31T00:00:00Z)\n",
        ),
    ],
)  # fmt: skip
def test_a_period_after_the_data_is_refused_for_want_of_a_candle_to_fill_at(
    in_tmp: Path, replay_dir: Path, strategy: str, start: str, end: str, message: str
):
    result = backtest(replay_dir, strategy, start, end)

    assert (result.exit_code, result.stdout, result.stderr) == (1, "", message)
    assert not (in_tmp / "r").exists()


def test_a_benchmark_whose_data_ends_before_the_period_is_refused_too(
    in_tmp: Path, replay_dir: Path
):
    """BTC has candles in 2025; the GSPC benchmark's bundled sessions end with 2024's."""
    result = backtest(replay_dir, "btc.yaml", "2025-01-02", "2025-01-03", "--benchmark", "GSPC")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "error: no 1d GSPC candle opens between 2025-01-02T00:00:00Z and 2025-01-03T14:30:00Z "
        "(the first session's open from 2025-01-03T00:00:00Z) for the period's orders to fill "
        f"at: {AAPL_ENDS}\n"
    )
    assert not (in_tmp / "r").exists()


@pytest.mark.parametrize(
    ("strategy", "start", "end", "headline"),
    [
        # The last session's decision reads 12-30's close and fills at 12-31's open.
        ("aapl.yaml", "2024-12-31", "2024-12-31",
         "after_the_data · AAPL · 2024-12-31 → 2024-12-31 · 1 session"),
        # The decision at 03-30 00:00 fills at the last candle's open, then.
        ("btc.yaml", "2026-03-30", "2026-03-30",
         "after_the_data · BTC · 2026-03-30 → 2026-03-30 · 1 period of 1d"),
    ],
)  # fmt: skip
def test_the_last_period_with_a_candle_to_fill_at_runs(
    in_tmp: Path, replay_dir: Path, strategy: str, start: str, end: str, headline: str
):
    result = backtest(replay_dir, strategy, start, end)

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines()[0] == headline
