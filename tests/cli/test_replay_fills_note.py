"""``signalops run --replay`` of stocks says, as it starts, that its paper fills are at the
decision's reference price and not at the next session's open as a backtest's are.

Regression test: a paper replay filled MRVL decided at Monday 2024-08-05 00:00 UTC at Friday's
close (59.28) where the backtest filled it at Monday's open (53.46), about 11% apart, and
nothing said the two price fills differently.
"""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT, STRATEGIES
from conftest import invoke as run

EQUITIES = str(ROOT / "examples" / "signalops.equities.yaml")
GRAHAM = str(STRATEGIES / "graham_value_event_filter.yaml")
BASELINE = str(STRATEGIES / "technical_baseline.yaml")

NOTE = (
    "warning: AAPL, MSFT, GOOGL and 3 more fill on paper at each decision's reference price, "
    "the last close (Friday's for a Monday 00:00 UTC decision), not at the next session's open "
    "as in a backtest: a replay's PnL differs from a backtest's of the same decisions by each "
    "gap from a close to the next open"
)


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning: ")]


def replay(replay_dir: Path, *strategies: str, log: str = "a.db"):
    return run(
        "run", *strategies, "--config", EQUITIES, "--replay", str(replay_dir), "--from",
        "2022-04-08", "--to", "2022-04-11", "--every", "1d", "--audit", log,
    )  # fmt: skip


def test_a_stock_replay_says_once_how_its_fills_are_priced(in_tmp: Path, replay_dir: Path):
    result = replay(replay_dir, GRAHAM)

    assert result.exit_code == 0, result.stderr
    assert warnings(result.stderr) == [NOTE]
    # With a coin beside them, once (the coin's USDT is added at par to the stocks' USD).
    mixed = replay(replay_dir, GRAHAM, BASELINE, log="b.db")
    assert [line for line in warnings(mixed.stderr) if "at par" not in line] == [NOTE]


def test_one_stock_fills_and_a_coin_replay_says_nothing(in_tmp: Path, replay_dir: Path):
    text = Path(GRAHAM).read_text(encoding="utf-8")
    one = '  assets: ["AAPL", "MSFT", "GOOGL", "NVDA", "JPM", "TSLA"]'
    assert one in text
    (in_tmp / "aapl.yaml").write_text(text.replace(one, '  assets: ["AAPL"]'), encoding="utf-8")

    alone = replay(replay_dir, str(in_tmp / "aapl.yaml"))
    coins = replay(replay_dir, BASELINE, log="b.db")

    assert warnings(alone.stderr) == [
        "warning: AAPL fills on paper at each decision's reference price, the last close "
        "(Friday's for a Monday 00:00 UTC decision), not at the next session's open as in a "
        "backtest: a replay's PnL differs from a backtest's of the same decisions by each gap "
        "from a close to the next open"
    ]
    assert (coins.exit_code, warnings(coins.stderr)) == (0, [])
