"""A ``between`` of a probability or a fraction whose bounds are written in two units, one a
percent and the other a plain number past the range (``yes between 35% and 65``), is an error
at the plain bound with ``did you mean 65%?`` (``signalops.strategy.thresholds``): the plain
bound limits nothing. A sweep value that makes such a range fails as the file would.

Regression test: ``yes between 35% and 65`` (0.35 to 65 on a 0-1 metric) validated.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import Result
from conftest import invoke

from signalops.adapters import registry
from signalops.backtest.sweep import CompiledGrid
from signalops.errors import InputError
from signalops.strategy import loads


def _validate(tmp_path: Path, condition: str) -> Result:
    """``signalops validate s.yaml`` of a one-condition strategy on BTC."""
    (tmp_path / "s.yaml").write_text(
        "strategy:\n"
        "  name: T\n"
        "  assets: [BTC]\n"
        "  rules:\n"
        "    - id: r\n"
        "      conditions:\n"
        f"{textwrap.indent(condition, '        ')}"
    )
    return invoke("validate", str(tmp_path / "s.yaml"))


@pytest.mark.parametrize(
    ("when", "column", "message"),
    [
        (
            "polymarket('m').yes between 35% and 65",
            54,
            "polymarket('m').yes between 35% and 65: 35% is a percent but 65 is not, and 65 is "
            "past the range: yes is a probability, from 0 to 1 (did you mean 65%?)",
        ),
        (
            "return(7d) between -50 and 5%",
            37,
            "return(7d) between -50 and 5%: 5% is a percent but -50 is not, and -50 is past the "
            "range: return is a fraction, never below -1 (did you mean -50%?)",
        ),
    ],
)
def test_a_range_in_two_units_is_an_error_at_the_plain_bound(
    tmp_path: Path, when: str, column: int, message: str
):
    result = _validate(tmp_path, f'- when: "{when}"\n')

    assert result.exit_code == 1
    assert result.stdout.splitlines() == ["1 file: 0 valid, 1 invalid (1 error)"]
    assert result.stderr.splitlines() == [
        f"error: {tmp_path / 's.yaml'}:7:{column}: rules[0].conditions[0].when: {message}",
        f'          - when: "{when}"',
        "  " + " " * (column - 1) + "^",
    ]


def test_the_structured_range_is_checked_at_its_plain_bound(tmp_path: Path):
    result = _validate(tmp_path, "- market: m\n  operator: between\n  threshold: [35%, 65]\n")

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: {tmp_path / 's.yaml'}:9:28: rules[0].conditions[0].threshold: "
        "polymarket('m').yes between 35% and 65: 35% is a percent but 65 is not, and 65 is past "
        "the range: yes is a probability, from 0 to 1 (did you mean 65%?)",
        "            threshold: [35%, 65]",
        "  " + " " * 27 + "^",
    ]


@pytest.mark.parametrize(
    "when",
    [
        # A market the bundled data records: validate has nothing else to warn of.
        "polymarket('511754').yes between 35% and 0.65",  # two units, both within the range
        "polymarket('511754').yes between 0.35 and 65%",
        "polymarket('511754').yes between 35% and 65%",
        "return(7d) between -0.5 and 300",  # one unit: a tripling is rare, not impossible
    ],
)
def test_a_range_within_the_metrics_range_or_in_one_unit_is_left_alone(tmp_path: Path, when: str):
    result = _validate(tmp_path, f'- when: "{when}"\n')

    assert result.exit_code == 0, result.output
    assert "warning: " + str(tmp_path) not in result.stderr


def test_the_scale_error_comes_first_on_a_0_100_metric(tmp_path: Path):
    result = _validate(tmp_path, '- when: "rsi(14) between 30% and 150"\n')

    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"error: {tmp_path / 's.yaml'}:7:34: rules[0].conditions[0].when: rsi(14) between 30% "
        "and 150: rsi is on a 0-100 scale, so 30% reads as 0.3 (did you mean 30?)"
    )


BAND = """
strategy:
  name: band
  assets: [BTC]
  params: {hi: 60%}
  rules:
    - id: band
      source: polymarket
      conditions:
        - when: "polymarket('m').yes between 35% and $hi"
"""


def test_a_sweep_value_that_makes_a_range_of_two_units_fails_as_in_the_file():
    # The third value is checked against the tree the first two compile to, not compiled.
    grid = CompiledGrid(
        loads(BAND).document, {"hi": ["60%", "70%", 65]}, registry.catalogue(), "b.yaml"
    )

    with pytest.raises(InputError) as raised:
        grid.combination(2)

    assert str(raised.value) == (
        "b.yaml with hi=65: rules[0].conditions[0].when: polymarket('m').yes between 35% and 65: "
        "35% is a percent but 65 is not, and 65 is past the range: yes is a probability, from 0 "
        "to 1 (did you mean 65%?)"
    )
