"""A stress run in which every scenario is skipped fails (exit 1), a line for each scenario
saying why, and writes nothing: not even the ``--report`` folder.

Regression test: it printed ``0 scenarios run, 1 skipped``, exited 0 and left an empty report
folder, as if the strategy had come through a stress test.
"""

from __future__ import annotations

from pathlib import Path

from conftest import STRATEGIES
from conftest import invoke as run

# Nothing the strategy (BTC, technical and on-chain data) reads: an ETH gap and a news outage.
ELSEWHERE = """\
name: elsewhere
from: 2023-03-01
to: 2023-03-31
shocks:
  - gap: {asset: ETH, at: 2023-03-11, pct: -20}
  - outage: {source: news, from: 2023-03-10, hours: 24}
"""
# Before the bundled daily BTC candles start (2017-08-18).
TOO_EARLY = "name: too_early\nfrom: 2016-03-01\nto: 2016-03-31\n"


def test_a_run_of_skipped_scenarios_fails_saying_why_each_was_skipped_and_writes_nothing(
    in_tmp: Path, replay_dir: Path
):
    Path("elsewhere.yaml").write_text(ELSEWHERE, encoding="utf-8")
    Path("too_early.yaml").write_text(TOO_EARLY, encoding="utf-8")
    result = run(
        "stress", str(STRATEGIES / "banking_crisis_dip.yaml"), "--data", str(replay_dir),
        "--scenario", "elsewhere.yaml", "--scenario", "too_early.yaml", "--report", "out/r",
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: no scenario ran (2 skipped; nothing written to out/r)",
        "skipped elsewhere: not applicable: Banking_Crisis_Dip does not trade ETH (it trades "
        "BTC); Banking_Crisis_Dip reads no news data",
        "skipped too_early: not covered by the data: the 1d BTC candles run from 2017-08-18 to "
        "2026-03-31, the window is 2016-03-01 to 2016-03-31",
    ]
    assert not (in_tmp / "out").exists()


def test_with_json_too(in_tmp: Path, replay_dir: Path):
    Path("elsewhere.yaml").write_text(ELSEWHERE, encoding="utf-8")
    result = run(
        "stress", str(STRATEGIES / "banking_crisis_dip.yaml"), "--data", str(replay_dir),
        "--scenario", "elsewhere.yaml", "--report", "r", "--json",
    )  # fmt: skip
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("error: no scenario ran (1 skipped; nothing written to r)\n")
    assert not (in_tmp / "r").exists()
