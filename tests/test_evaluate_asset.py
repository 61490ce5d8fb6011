"""``signalops evaluate --asset`` takes one of the strategy's assets: another one would only
evaluate every leaf to NO_DATA, so it is an error naming the strategy's assets; the asset's own
spelling in another case is that asset."""

from __future__ import annotations

from pathlib import Path

from conftest import STRATEGIES, invoke

BANKING = STRATEGIES / "banking_crisis_dip.yaml"


def test_an_asset_the_strategy_does_not_trade_is_an_error_naming_its_assets(replay_dir: Path):
    result = invoke(
        "evaluate", str(BANKING), "--at", "2023-03-12", "--asset", "DOGE", "--data", str(replay_dir)
    )

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: --asset: DOGE is not one of {BANKING}'s assets (BTC); leave --asset out to "
        "evaluate each of them"
    ]


def test_an_asset_in_another_case_is_the_strategys_own(replay_dir: Path):
    def evaluate(asset: str) -> list[str]:
        result = invoke(
            "evaluate", str(BANKING), "--at", "2023-03-12", "--asset", asset,
            "--data", str(replay_dir),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        return result.stdout.splitlines()

    lower = evaluate("btc")

    assert lower[0] == "Banking_Crisis_Dip · BTC · 2023-03-12T00:00:00Z: HOLD"
    assert lower == evaluate("BTC")
