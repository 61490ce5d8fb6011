"""A percent compared with an amount, and an amount's k/M/B/T compared with what is no amount,
are errors at the threshold.

Regression test: ``stablecoin_net_flow('USDC', 2d) < -5%`` validated and read as "less than
-0.05 USD"; ``close > 5%``, ``return(7d) < 5B`` and ``chain_tvl_change(...) > 5B`` too, and a
sweep of ``stop=5B`` on a return ran with no trade and no word.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_thresholds_mixed_units import _validate

AMOUNT_HINT = (
    "(a percent is for fractions and probabilities: compare a change with return(...) or "
    "chain_tvl_change(...), or write the amount)"
)
NO_AMOUNT_HINT = "(k, M, B and T are for amounts: USD, shares, volumes)"


@pytest.mark.parametrize(
    ("when", "column", "message"),
    [
        (
            "stablecoin_net_flow('USDC', 2d) < -5%",
            52,
            "stablecoin_net_flow('USDC', 2d) < -5%: stablecoin_net_flow is an amount in USD, so "
            f"-5% reads as -0.05 USD {AMOUNT_HINT}",
        ),
        (
            "close > 5%",
            26,
            f"close > 5%: close is an amount in quote currency, so 5% reads as 0.05 quote "
            f"currency {AMOUNT_HINT}",
        ),
        (
            "return(7d) < 5B",
            31,
            f"return(7d) < 5B: return is a fraction (0.05 = 5%), not an amount, so 5B reads as "
            f"5,000,000,000 {NO_AMOUNT_HINT}",
        ),
        (
            "polymarket('m').yes > 1k",
            40,
            f"polymarket('m').yes > 1k: yes is a probability (0 to 1), not an amount, so 1k reads "
            f"as 1,000 {NO_AMOUNT_HINT}",
        ),
    ],
)
def test_a_threshold_in_another_kind_of_unit_is_an_error_at_it(
    tmp_path: Path, when: str, column: int, message: str
):
    result = _validate(tmp_path, f'- when: "{when}"\n')

    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        f"error: {tmp_path / 's.yaml'}:7:{column}: rules[0].conditions[0].when: {message}",
        f'          - when: "{when}"',
    ]


@pytest.mark.parametrize(
    "when",
    [
        "stablecoin_net_flow('USDC', 2d) < -500M",
        "return(7d) < -5%",
        "polymarket('m').yes > 60%",
        "volume > 1.5k",
        "current_ratio > 150%",
    ],
)
def test_a_threshold_in_the_metrics_kind_of_unit_validates(tmp_path: Path, when: str):
    result = _validate(tmp_path, f'- when: "{when}"\n')

    assert result.exit_code == 0, result.stderr
