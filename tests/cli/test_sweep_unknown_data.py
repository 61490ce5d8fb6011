"""``sweep`` says which data is UNKNOWN: a --grid value naming a Polymarket market nothing
recorded is screened with ``validate``'s warning, and a row whose condition was UNKNOWN at every
decision says so under the table.

Regression test (a trader walkthrough): ``sweep strategies/election_odds_gate.yaml --grid
election_market=511754,511745`` printed ``511745 +0.00% ... 0 trades ... 57 blocked bars`` with no
reason, where ``validate`` warns that no data of market 511745 is recorded (did you mean
'511754'?) and ``backtest`` notes the veto's market UNKNOWN at all decisions. The README says a
grid value ``validate`` warns of is screened with that warning; only the compiler's warnings were.
"""

from __future__ import annotations

from pathlib import Path

from conftest import STRATEGIES
from conftest import invoke as run

ELECTION = str(STRATEGIES / "election_odds_gate.yaml")
PERIOD = ("--from", "2024-10-01", "--to", "2025-01-31")
FOOTER = (
    "fast screen: one all-in entry per signal, sold at the next SELL (the backtest buys "
    "position_size at every BUY, up to max_position), no risk gate; confirm with signalops "
    "backtest"
)
GATED = """
strategy:
  name: gated
  assets: [BTC]
  params: {oversold: 30}
  rules:
    - id: dip
      source: technical
      conditions:
        - when: "rsi(14) < $oversold"
  vetoes:
    - id: odds
      source: polymarket
      conditions:
        - market: "511745"
          operator: "<"
          threshold: 0.5
"""


def unrecorded(replay_dir: Path) -> str:
    return (
        f"params.election_market: no data of Polymarket market '511745' is recorded in "
        f"{replay_dir}: its conditions are UNKNOWN at every bar of a replay or backtest, though a "
        "live run may find it (did you mean '511754'?)"
    )


def test_a_market_nothing_recorded_is_screened_with_validates_warning(replay_dir: Path):
    result = run(
        "sweep", ELECTION, "--grid", "election_market=511754,511745", *PERIOD,
        "--data", str(replay_dir),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"warning: --grid election_market=511745: {ELECTION}: {unrecorded(replay_dir)}\n"
    )
    assert result.stdout.splitlines() == [
        "Election_Odds_Gate · BTC · 2024-10-01 .. 2025-01-31 every 1d · 2 combinations · "
        "fee 10 bps, slippage 5 bps",
        "election_market    return    max DD      trades   win rate   exposure   blocked bars",
        "────────────────────────────────────────────────────────────────────────────────────",
        "         511754   +41.12%   -16.53%   1 +1 open       100%      64.2%             11",
        "         511745    +0.00%     0.00%           0          —       0.0%             57",
        "note: election_market=511745: polymarket('511745').yes (polymarket) was UNKNOWN at all "
        "123 decisions: ADAPTER_ERROR",
        FOOTER,
    ]


def test_validate_warns_of_the_same_value_in_the_file(replay_dir: Path, tmp_path: Path):
    text = Path(ELECTION).read_text(encoding="utf-8").replace('"511754"', '"511745"')
    file = tmp_path / "election.yaml"
    file.write_text(text, encoding="utf-8")

    result = run("validate", str(file), "--data", str(replay_dir))

    assert unrecorded(replay_dir) in result.stderr


def test_a_walk_forward_warns_of_it_too(replay_dir: Path):
    result = run(
        "walkforward", ELECTION, "--grid", "election_market=511754,511745", "--from",
        "2024-01-01", "--to", "2025-01-31", "--train", "180d", "--test", "90d",
        "--data", str(replay_dir),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"warning: --grid election_market=511745: {ELECTION}: {unrecorded(replay_dir)}\n"
    )


def test_a_condition_unknown_in_every_row_is_said_once(replay_dir: Path, tmp_path: Path):
    file = tmp_path / "gated.yaml"
    file.write_text(GATED, encoding="utf-8")

    result = run(
        "sweep", str(file), "--grid", "oversold=25,30", "--from", "2024-01-01",
        "--to", "2024-12-31", "--data", str(replay_dir),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # the file's own market: validate's warning, not the grid's
    assert result.stdout.splitlines()[-2:] == [
        "note: every combination: polymarket('511745').yes (polymarket) was UNKNOWN at all "
        "366 decisions: ADAPTER_ERROR",
        FOOTER,
    ]
