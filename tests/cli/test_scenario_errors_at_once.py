"""A stress scenario file's mistakes are told in one run, as a strategy file's are: what the
schema refuses (``pct: 20%``) beside what only the meaning shows (a source that does not exist,
a date that is not one, a gap of 0%), each at its file:line:column, in the file's order.

Regression test: ``pct: 20%`` was told alone; ``source: onchian`` only on the next run, once the
schema's errors were fixed.
"""

from __future__ import annotations

from pathlib import Path

from conftest import STRATEGIES
from conftest import invoke as run


def stress_errors(scenario: str, data: Path) -> list[str]:
    Path("bad.yaml").write_text(scenario, encoding="utf-8")
    result = run(
        "stress", str(STRATEGIES / "banking_crisis_dip.yaml"), "--scenario", "bad.yaml",
        "--data", str(data), "--report", "r",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    return result.stderr.splitlines()


def test_a_bad_percentage_and_a_misspelt_source_are_told_together(in_tmp: Path, replay_dir: Path):
    scenario = (
        "name: bad\nfrom: 2023-03-01\nto: 2023-03-31\nshocks:\n"
        "  - gap: {asset: BTC, at: 2023-03-11, pct: 20%}\n"
        "  - outage: {source: onchian, from: 2023-03-10, hours: 48}\n"
    )
    assert stress_errors(scenario, replay_dir) == [
        "error: bad.yaml:5:44: shocks[0].gap.pct: expected a number, got '20%'",
        "    - gap: {asset: BTC, at: 2023-03-11, pct: 20%}",
        "                                             ^",
        "error: bad.yaml:6:22: shocks[1].outage.source: no data source 'onchian' (did you mean "
        "'onchain'?)",
        "    - outage: {source: onchian, from: 2023-03-10, hours: 48}",
        "                       ^",
    ]


def test_the_meaning_of_what_the_schema_took_is_checked_beside_what_it_refused(
    in_tmp: Path, replay_dir: Path
):
    # 'to' is no real date: the shock's time is not judged against the window it cannot have.
    scenario = (
        "name: bad\nfrom: 2023-03-01\nto: 2023-02-30\nevery: 1 day\nshocks:\n"
        "  - gap: {asset: BTC, at: 2023-04-11, pct: 0}\n"
        "  - venue_rejects: {from: 2023-03-10}\n"
    )
    assert stress_errors(scenario, replay_dir) == [
        "error: bad.yaml:3:5: to: '2023-02-30' is not a real date or time",
        "  to: 2023-02-30",
        "      ^",
        "error: bad.yaml:4:8: every: '1 day' must be a duration such as '1h', '4h' or '1d' "
        "(write 1d)",
        "  every: 1 day",
        "         ^",
        "error: bad.yaml:6:44: shocks[0].gap.pct: a gap of 0% changes nothing",
        "    - gap: {asset: BTC, at: 2023-04-11, pct: 0}",
        "                                             ^",
        "error: bad.yaml:7:20: shocks[1].venue_rejects: missing required key 'hours'",
        "    - venue_rejects: {from: 2023-03-10}",
        "                     ^",
    ]
