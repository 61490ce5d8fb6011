"""``validate`` shows a file's warnings with its errors: the errors first, then the verdict, then
the warnings of the conditions that compiled; the exit status is the errors' (1).

Regression test: with an error in a condition, ``rsi(14) < 0.3`` (did you mean 30?) and
``'USCD'`` (did you mean 'USDC'?) were not told until every error was fixed.
"""

from __future__ import annotations

from pathlib import Path

from conftest import invoke as run

STRATEGY = """\
strategy:
  name: Slips
  assets: [BTC]
  rules:
    - id: oversold
      source: technical
      conditions:
        - when: "rsi(14) < 0.3"
        - when: "rsi(14) < < 35"
    - id: flows
      source: onchain
      conditions:
        - when: "stablecoin_net_flow('USCD', 2d) < -1B"
        - when: "stablecoin_netflow('USDC', 2d) < -1B"
"""


def test_the_warnings_follow_the_errors_of_the_same_file(in_tmp: Path):
    Path("s.yaml").write_text(STRATEGY, encoding="utf-8")

    result = run("validate", "s.yaml")

    assert result.exit_code == 1
    assert result.stdout == "1 file: 0 valid, 1 invalid (2 errors)\n"
    assert result.stderr.splitlines() == [
        "error: s.yaml:9:28: rules[0].conditions[1].when: unexpected '<'",
        '          - when: "rsi(14) < < 35"',
        "                             ^",
        "  expected one of: '$param', '(', '-', duration, name, number, string",
        "error: s.yaml:14:18: rules[1].conditions[1].when: unknown metric 'stablecoin_netflow' "
        "in source 'onchain' (did you mean 'stablecoin_net_flow'?)",
        "          - when: \"stablecoin_netflow('USDC', 2d) < -1B\"",
        "                   ^",
        "warning: s.yaml:8:28: rules[0].conditions[0].when: rsi(14) < 0.3: rsi is on a 0-100 "
        "scale, where 0.3 is under 1% (did you mean 30?)",
        '          - when: "rsi(14) < 0.3"',
        "                             ^",
        "warning: s.yaml:13:38: rules[1].conditions[0].when: 'USCD' is not a stablecoin "
        "DeFiLlama lists (did you mean 'USDC'?)",
        "          - when: \"stablecoin_net_flow('USCD', 2d) < -1B\"",
        "                                       ^",
    ]
