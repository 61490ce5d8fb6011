"""A threshold its metric can never meet, or written in a unit the metric does not use, is found
by ``signalops validate`` with its line and caret (``signalops.strategy.thresholds``); one that
only looks like another unit is a warning. Bundled strategies raise neither."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import Result
from conftest import ROOT, STRATEGIES, invoke

from signalops.adapters import registry
from signalops.backtest.sweep import with_params
from signalops.errors import InputError
from signalops.strategy import loads


def _validate(tmp_path: Path, condition: str, params: str = "", assets: str = "BTC") -> Result:
    """``signalops validate s.yaml`` of a one-condition strategy on BTC (or ``assets``)."""
    (tmp_path / "s.yaml").write_text(
        "strategy:\n"
        "  name: T\n"
        f"  assets: [{assets}]\n"
        f"{params}"
        "  rules:\n"
        "    - id: r\n"
        "      conditions:\n"
        f"{textwrap.indent(condition, '        ')}"
    )
    return invoke("validate", str(tmp_path / "s.yaml"))


def _refused(result: Result, tmp_path: Path, where: str, message: str, line: str, caret: int):
    assert result.exit_code == 1
    assert result.stdout.splitlines() == ["1 file: 0 valid, 1 invalid (1 error)"]
    assert result.stderr.splitlines() == [
        f"error: {tmp_path / 's.yaml'}:{where}: {message}",
        f"  {line}",
        "  " + " " * (caret - 1) + "^",
    ]


@pytest.mark.parametrize(
    ("when", "column", "message"),
    [
        ("rsi(14) > 150", 28, "rsi(14) > 150 is never true: rsi is from 0 to 100"),
        ("150 < rsi(14)", 18, "150 < rsi(14) is never true: rsi is from 0 to 100"),
        ("rsi(14) < -5", 28, "rsi(14) < -5 is never true: rsi is from 0 to 100"),
        ("rsi(14) <= 500", 29, "rsi(14) <= 500 is always true: rsi is from 0 to 100"),
        (
            "rsi(14) between 120 and 130",
            34,
            "rsi(14) between 120 and 130 is never true: rsi is from 0 to 100",
        ),
        (
            "polymarket('m').yes > 60",
            40,
            "polymarket('m').yes > 60 is never true: yes is a probability, from 0 to 1 "
            "(did you mean 60%?)",
        ),
        (
            "polymarket('m').yes < 60",
            40,
            "polymarket('m').yes < 60 is always true: yes is a probability, from 0 to 1 "
            "(did you mean 60%?)",
        ),
        (
            "polymarket('m').yes between 20 and 80",
            46,
            "polymarket('m').yes between 20 and 80 is never true: yes is a probability, from 0 "
            "to 1 (did you mean 20% and 80%?)",
        ),
        (
            "return(7d) < -15",
            31,
            "return(7d) < -15 is never true: return is a fraction, never below -1 "
            "(did you mean -15%?)",
        ),
        (
            "news_count('hack') < 0",
            39,
            "news_count('hack') < 0 is never true: news_count is never below 0",
        ),
        (
            "rsi(14) < 30%",
            28,
            "rsi(14) < 30%: rsi is on a 0-100 scale, so 30% reads as 0.3 (did you mean 30?)",
        ),
        (
            "debt_to_equity < 50%",
            35,
            "debt_to_equity < 50%: debt_to_equity is in percent, so 50% reads as 0.5% "
            "(did you mean 50?)",
        ),
    ],
)
def test_a_threshold_the_metric_cannot_meet_is_an_error_at_its_line_and_caret(
    tmp_path: Path, when: str, column: int, message: str
):
    result = _validate(tmp_path, f'- when: "{when}"\n')

    where = f"7:{column}: rules[0].conditions[0].when"
    _refused(result, tmp_path, where, message, f'        - when: "{when}"', column)


def test_a_param_out_of_range_is_refused_where_the_condition_names_it(tmp_path: Path):
    result = _validate(tmp_path, '- when: "rsi(14) < $oversold"\n', "  params: {oversold: 500}\n")

    where = "8:28: rules[0].conditions[0].when"
    message = "rsi(14) < 500 is always true: rsi is from 0 to 100"
    _refused(result, tmp_path, where, message, '        - when: "rsi(14) < $oversold"', 28)


def test_the_structured_forms_are_checked_at_their_threshold(tmp_path: Path):
    market = _validate(tmp_path, "- market: some-market\n  operator: '>'\n  threshold: 60\n")
    _refused(
        market,
        tmp_path,
        "9:22: rules[0].conditions[0].threshold",
        "polymarket('some-market').yes > 60 is never true: yes is a probability, from 0 to 1 "
        "(did you mean 60%?)",
        "          threshold: 60",
        22,
    )
    between = _validate(
        tmp_path,
        "- metric: rsi\n  source: technical\n  operator: between\n  threshold: [20%, 80]\n",
    )
    _refused(
        between,
        tmp_path,
        "10:23: rules[0].conditions[0].threshold",
        "rsi between 20% and 80: rsi is on a 0-100 scale, so 20% reads as 0.2 (did you mean 20?)",
        "          threshold: [20%, 80]",
        23,
    )


def test_a_plain_fraction_on_a_0_100_scale_is_a_warning_and_the_file_valid(tmp_path: Path):
    result = _validate(
        tmp_path,
        '- when: "rsi(14) < 0.3"\n'
        "- metric: debt_to_equity\n  source: fundamental\n  operator: '<'\n  threshold: 0.5\n",
    )

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"ok {tmp_path / 's.yaml'}  T: 1 entry rule, 0 exit rules, 0 vetoes, 2 conditions",
        "1 file: 1 valid",
    ]
    assert result.stderr.splitlines()[:6] == [
        f"warning: {tmp_path / 's.yaml'}:7:28: rules[0].conditions[0].when: rsi(14) < 0.3: rsi "
        "is on a 0-100 scale, where 0.3 is under 1% (did you mean 30?)",
        '          - when: "rsi(14) < 0.3"',
        "                             ^",
        f"warning: {tmp_path / 's.yaml'}:11:22: rules[0].conditions[1].threshold: "
        "debt_to_equity < 0.5: debt_to_equity is in percent, where 0.5 is under 1% "
        "(did you mean 50?)",
        "            threshold: 0.5",
        "                       ^",
    ]


def test_a_company_size_without_its_magnitude_is_a_warning_and_the_file_valid(tmp_path: Path):
    # market_cap > 100 passed silently: every listed company is worth more than 100 dollars.
    result = _validate(tmp_path, '- when: "market_cap > 100"\n  source: fundamental\n', "", "AAPL")

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[:3] == [
        f"warning: {tmp_path / 's.yaml'}:7:31: rules[0].conditions[0].when: market_cap > 100: "
        "market_cap is an amount of money, so 100 means 100, not 100 million or billion "
        "(did you mean 100M or 100B?)",
        '          - when: "market_cap > 100"',
        "                                ^",
    ]


@pytest.mark.parametrize(
    "when",
    ["market_cap > 100B", "market_cap > 2000000000", "market_cap > 0"],
)
def test_a_company_size_with_its_magnitude_or_in_full_is_no_warning(tmp_path: Path, when: str):
    result = _validate(tmp_path, f'- when: "{when}"\n  source: fundamental\n', "", "AAPL")

    assert result.exit_code == 0, result.output
    assert "million or billion" not in result.stderr


@pytest.mark.parametrize(
    "when",
    [
        "volume >= 0",  # always true only at a bound: it still requires the data
        "rsi(14) <= 100",
        "rsi(14) between 0 and 100",
        "rsi(14) between 20 and 120",  # can pass and fail
        "rsi(14) == 100",
        "close - sma(50) > 150",  # arithmetic: no range to check against
        "rsi(14) > rsi(14, 4h)",
        "-rsi(14) < -150",
        "polymarket('511754').yes >= 60%",  # a market the bundled data records
        "polymarket('511754').change(1d) < -0.5",
        "return(30d) > 3",  # a quadrupling: rare, not impossible
        "macd_hist < 5",  # an amount in the quote currency (5% of one is refused: a unit slip)
        "stablecoin_net_flow('USDC', 2d) < -1B",
        "debt_to_equity < 150",
    ],
)
def test_a_threshold_that_can_be_met_is_left_alone(tmp_path: Path, when: str):
    # On BTC a fundamental condition is warned of as never passing: fundamentals are a stock's.
    assets = "AAPL" if when.startswith("debt_to_equity") else "BTC"
    result = _validate(tmp_path, f'- when: "{when}"\n', assets=assets)

    assert result.exit_code == 0, result.output
    assert "never true" not in result.stderr and "always true" not in result.stderr
    # AAPL under the default config goes to Binance: that warning is the venue's, not the
    # threshold's.
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert [line for line in warned if "looks like a stock" not in line] == []


def test_the_bundled_strategies_raise_no_threshold_error_or_warning(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.chdir(ROOT)
    fixtures = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests" / "fixtures").glob("*.yaml")
        if path.name != "slow_feed_pipeline.yaml"  # a plugin's source, installed by its test
    )
    result = invoke("validate", "strategies/", "examples/", *fixtures)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-1].endswith(" valid")
    assert "error:" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    # Warnings about other things than thresholds: notify mode without webhooks, a stock
    # fixture (aapl_trend.yaml) whose daily leaves keep the default 2d max age, Polymarket
    # markets no data is recorded of (original_readme.yaml's), original_readme.yaml's
    # price_to_sales on crypto assets, and value_screen.yaml's GOOG beside the equities
    # config's GOOGL.
    others = (
        "notify mode with no webhooks",
        "trades in sessions",
        "no data of Polymarket market",
        "fundamentals exist for stocks only",
        "is not among the configured assets",
        "look like stocks",  # value_screen.yaml's AMZN and CRM, which the config maps nowhere
    )
    assert [line for line in warnings if not any(other in line for other in others)] == []


def test_a_sweep_value_out_of_range_is_refused_as_the_compiler_refuses_it():
    document = loads((STRATEGIES / "technical_baseline.yaml").read_text()).document

    with pytest.raises(InputError) as raised:
        with_params(document, {"oversold": 500}, registry.catalogue(), "t.yaml")

    assert str(raised.value) == (
        "t.yaml with oversold=500: rules[0].conditions[0].threshold: rsi(14) < 500 is always "
        "true: rsi is from 0 to 100"
    )


def test_sweep_lists_the_grid_values_out_of_range_as_failed(replay_dir: Path):
    result = invoke(
        "sweep", str(STRATEGIES / "technical_baseline.yaml"), "--grid", "oversold=-5,500",
        "--from", "2023-01-01", "--to", "2023-03-31", "--data", str(replay_dir),
    )  # fmt: skip

    assert result.exit_code == 1
    baseline = STRATEGIES / "technical_baseline.yaml"
    assert result.stderr.splitlines() == [
        f"failed: BTC oversold=-5: {baseline} with oversold=-5: rules[0].conditions[0].threshold: "
        "rsi(14) < -5 is never true: rsi is from 0 to 100",
        f"failed: BTC oversold=500: {baseline} with oversold=500: "
        "rules[0].conditions[0].threshold: rsi(14) < 500 is always true: rsi is from 0 to 100",
        "error: all 2 combinations failed",
    ]
