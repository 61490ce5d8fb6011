"""A window that is not a whole number of the metric's candles (or of DeFiLlama's daily points,
for the on-chain changes) is an error at the argument, with the whole ones around it: a return
is measured from one candle's close to another's, so the window would silently read as the next
whole number of candles. Windows measured in time (a Polymarket price change, a news count) are
left alone.

Regression test: ``return(36h)`` on daily candles validated, and read as ``return(2d)``.
"""

from __future__ import annotations

from pathlib import Path

from conftest import invoke as run

STRATEGY = """\
strategy:
  name: Windows
  assets: [BTC]
  rules:
    - id: dip
      source: technical
      conditions:
        - when: "return(36h) < -5%"
        - when: "return(window=12h, timeframe=4h) < -1%"
    - id: flows
      source: onchain
      conditions:
        - when: "stablecoin_net_flow('USDC', 36h) < -1B"
    - id: timed
      conditions:
        - when: "polymarket('511754').change(36h) > 10%"
        - when: "news_count('fed', 36h) > 1"
"""


def test_validate_refuses_a_window_of_part_of_a_candle_at_the_argument(in_tmp: Path):
    Path("s.yaml").write_text(STRATEGY, encoding="utf-8")

    result = run("validate", "s.yaml")

    assert result.exit_code == 1
    assert result.stdout == "1 file: 0 valid, 1 invalid (2 errors)\n"
    assert result.stderr.splitlines() == [
        "error: s.yaml:8:25: rules[0].conditions[0].when: 36h is not a whole number of 1d "
        "candles: write 1d or 2d",
        '          - when: "return(36h) < -5%"',
        "                          ^",
        "error: s.yaml:13:46: rules[1].conditions[0].when: 36h is not a whole number of 1d "
        "points of onchain data: write 1d or 2d",
        "          - when: \"stablecoin_net_flow('USDC', 36h) < -1B\"",
        "                                               ^",
    ]


def test_whole_windows_validate(in_tmp: Path):
    text = STRATEGY.replace("return(36h)", "return(48h)").replace("'USDC', 36h", "'USDC', 2d")
    Path("s.yaml").write_text(text, encoding="utf-8")

    result = run("validate", "s.yaml")

    assert (result.exit_code, result.stderr) == (0, "")
