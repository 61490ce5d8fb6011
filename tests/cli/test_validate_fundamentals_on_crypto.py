"""``validate`` warns of fundamental conditions on a strategy that trades only crypto assets.

Regression test: the original SignalOps README's example (price_to_sales < 3 on BTC, ETH and
SOL) validated without a word, while ``evaluate`` found the rule NOT_APPLICABLE at every
decision: crypto assets have no company fundamentals, so the rule could never pass. One warning
a file, at the first metric that reads fundamentals, naming the assets; none when an asset may
be a stock.
"""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT
from conftest import invoke as run

NEVER = "and fundamentals exist for stocks only (NOT_APPLICABLE at every decision)"


def strategy(assets: str, *conditions: str) -> str:
    return (
        f"strategy:\n  name: Cheap\n  assets: {assets}\n  rules:\n"
        "    - id: cheap\n      source: fundamental\n      conditions:\n"
        + "".join(f"        {condition}\n" for condition in conditions)
    )


def test_the_original_readme_example_is_told_its_value_rule_never_passes(in_tmp: Path):
    text = (ROOT / "tests" / "fixtures" / "original_readme.yaml").read_text(encoding="utf-8")
    Path("s.yaml").write_text(text, encoding="utf-8")

    result = run("validate", "s.yaml")

    assert result.exit_code == 0  # a warning: the strategy itself is valid
    assert (
        "warning: s.yaml:9:19: rules[0].conditions[0].metric: the condition on price_to_sales "
        f"can never pass: BTC, ETH and SOL are crypto assets, {NEVER}\n"
        '          - metric: "price_to_sales"\n'
        "                    ^\n"
    ) in result.stderr


def test_one_warning_a_file_at_the_first_fundamental_metric_counting_the_others(in_tmp: Path):
    Path("s.yaml").write_text(
        strategy(
            "[eth-usd]",
            '- when: "technical.rsi(14) < 30 and price_to_book < 1.5"',
            '- when: "pe < 15"',  # an alias of trailing_pe
            '- when: "technical.close < 0.67 * fundamental.ncav_per_share"',
        ),
        encoding="utf-8",
    )

    result = run("validate", "s.yaml")

    assert result.exit_code == 0
    assert result.stderr == (
        "warning: s.yaml:8:45: rules[0].conditions[0].when: the conditions on price_to_book "
        f"and 2 more fundamental metrics can never pass: eth-usd is a crypto asset, {NEVER}\n"
        '          - when: "technical.rsi(14) < 30 and price_to_book < 1.5"\n'
        "                                              ^\n"
    )


def test_a_strategy_with_a_stock_among_its_assets_is_not_warned(in_tmp: Path):
    Path("s.yaml").write_text(
        strategy("[BTC, AAPL]", '- when: "price_to_sales < 3"'), encoding="utf-8"
    )

    result = run("validate", "s.yaml")

    assert result.exit_code == 0
    assert NEVER not in result.stderr
    # Without a config AAPL goes to Binance: that is warned of (``test_stocks_on_crypto``).
    assert result.stderr.startswith("warning: s.yaml: AAPL looks like a stock ")


def test_a_ticker_the_config_trades_as_a_stock_is_one_whatever_the_coin_of_that_name(
    in_tmp: Path, replay_dir: Path
):
    """SUI (Sun Communities) and LINK (Interlink) are US stocks on a yfinance venue: validate
    called them crypto assets whose fundamentals can never pass, and the fundamental adapter
    answered them NOT_APPLICABLE without asking."""
    Path("s.yaml").write_text(
        strategy('["SUI", "LINK"]', '- when: "price_to_book < 3"'), encoding="utf-8"
    )
    Path("stocks.yaml").write_text(
        "venues:\n  stocks: {exchange: yfinance, quote: USD}\n"
        "assets:\n  SUI: {venue: stocks}\n  LINK: {venue: stocks}\n",
        encoding="utf-8",
    )

    assert NEVER not in run("validate", "s.yaml", "--config", "stocks.yaml").stderr
    assert NEVER in run("validate", "s.yaml").stderr  # Binance's SUI/USDT and LINK/USDT
    evaluated = run(
        "evaluate", "s.yaml", "--config", "stocks.yaml", "--at", "2024-01-02",
        "--data", str(replay_dir), "--asset", "SUI",
    )  # fmt: skip
    assert "NOT_APPLICABLE" not in evaluated.stdout + evaluated.stderr
    assert "NO_DATA" in evaluated.stdout  # asked for, and none is recorded
