"""A cycle decided on leaves no source could answer says so, and ``run --once`` then exits 1.

The live run goes through the real adapters and client libraries with the network gone at their
own transport boundaries (``registry.Connections``): httpx's transport refuses to connect (as
it does when DNS fails) for DeFiLlama and Polymarket Gamma, and ccxt's ``requests`` session
refuses for Binance. Every leaf is then UNKNOWN with CONNECTION_ERROR; the decision is recorded
all the same (fail closed), the line ends with the codes and counts, and the exit status is 1.

What counts: every metric of a strategy's tree a source answered with a ``DataError``, counted
per strategy x asset x metric, whatever the code (a replay missing a series, NO_DATA, counts
as a live connection error does: either way the leaf was decided blind).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ccxt
import httpx
import pytest
import requests
from click.testing import CliRunner, Result
from conftest import ROOT
from test_record import BTC_USDT, CRISIS_STRATEGY

from signalops.adapters.registry import Connections
from signalops.audit.store import AuditLog
from signalops.cli import cli
from signalops.codes import Code
from signalops.evaluation.tree import Verdict
from signalops.orders import ExecutionStatus
from signalops.pipeline.summary import CycleSummary, Outcome
from signalops.venues import Venue

CRISIS = datetime(2023, 3, 11, 12, tzinfo=UTC)
PIPELINE_STRATEGY = "tests/fixtures/banking_crisis_pipeline.yaml"
DURATION = r"  \[\d+\.\d\ds\]"

# A strategy on a series the bundled data does not have: every replayed cycle lacks it.
NO_SOLANA = """\
strategy:
  name: "Solana_Tvl"
  assets: ["BTC"]
  rules:
    - id: solana_tvl
      source: onchain
      conditions:
        - when: "chain_tvl('Solana') > 1B"
  execution:
    position_size: 0.05
    action_mode: paper
"""


# --- the network, gone ---------------------------------------------------------------------------


class Unreachable(requests.adapters.BaseAdapter):
    """Binance's host, unreachable: what ``requests`` raises when the connection fails."""

    def __init__(self, message: str = "Max retries exceeded (Failed to establish a connection)"):
        super().__init__()
        self.message = message
        self.attempts = 0

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.attempts += 1
        raise requests.exceptions.ConnectionError(self.message, request=request)

    def close(self) -> None:
        pass


def offline(message: str = "[Errno -3] Temporary failure in name resolution") -> Connections:
    """Every live source's transport refusing to connect, ``message`` in each error."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(message, request=request)

    def exchange(venue: Venue) -> Any:
        built = getattr(ccxt, venue.exchange)(venue.ccxt_options())
        built.enableRateLimit = False
        built.set_markets([BTC_USDT])  # load_markets' answer: the run fails at the candles
        built.session.mount("https://", Unreachable(message))
        return built

    return Connections(
        http=httpx.MockTransport(refuse),
        exchange=exchange,
        now=lambda: CRISIS,
        sleep=lambda seconds: None,
    )


def invoke(*args: str, connections: Connections | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), obj=connections, prog_name="signalops")


def lines_without_duration(stdout: str) -> list[str]:
    for line in stdout.splitlines():
        assert re.search(DURATION + "$", line), line
    return [re.sub(DURATION + "$", "", line) for line in stdout.splitlines()]


# --- a live cycle with every source down ---------------------------------------------------------


def test_a_live_once_cycle_with_every_source_unreachable_warns_with_codes_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "crisis.yaml").write_text(CRISIS_STRATEGY)

    result = invoke(
        "run", "crisis.yaml", "--once", "--audit", "live.db", connections=offline()
    )  # fmt: skip

    assert result.exit_code == 1
    # rsi, close and sma (Binance), chain_tvl and the USDC flow (DeFiLlama), liquidity (Gamma).
    assert lines_without_duration(result.stdout) == [
        "2023-03-11T12:00:00Z  1 decision: 1 HOLD  WARNING data errors: CONNECTION_ERROR x6"
    ]
    (warning,) = result.stderr.splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING signalops\.pipeline: cycle "
        r"2023-03-11T12:00:00Z decided with leaves UNKNOWN for lack of data: CONNECTION_ERROR x6 "
        r'as_of=2023-03-11T12:00:00Z code=CONNECTION_ERROR counts=\{"CONNECTION_ERROR":6\}',
        warning,
    ), warning
    # Failing closed is still a decision: recorded, with each leaf's reason.
    (decision,) = [r for r in AuditLog(tmp_path / "live.db").records() if r["kind"] == "decision"]
    assert decision["verdict"] == "HOLD"
    assert {o["error"]["reason"] for o in decision["observations"]} == {"CONNECTION_ERROR"}


def test_a_healthy_replayed_once_cycle_has_no_warning_and_exits_0(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)

    result = invoke(
        "run", PIPELINE_STRATEGY, "--replay", str(replay_dir), "--from", "2023-03-10", "--once",
        "--audit", str(tmp_path / "audit.db"),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert lines_without_duration(result.stdout) == [
        "2023-03-10T00:00:00Z  1 decision: 1 BUY (1 filled)"
    ]
    assert result.stderr == ""


# --- replays missing a series --------------------------------------------------------------------


def test_a_replayed_once_cycle_missing_a_series_warns_no_data_and_exits_1(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    strategy = tmp_path / "solana.yaml"
    strategy.write_text(NO_SOLANA)

    result = invoke(
        "run", PIPELINE_STRATEGY, str(strategy), "--replay", str(replay_dir), "--from",
        "2023-03-10", "--audit", str(tmp_path / "audit.db"),
    )  # fmt: skip

    assert result.exit_code == 1
    assert lines_without_duration(result.stdout) == [
        "2023-03-10T00:00:00Z  2 decisions: 1 BUY, 1 HOLD (1 filled)  "
        "WARNING data errors: NO_DATA x1"
    ]


def test_a_run_of_several_cycles_warns_in_each_line_and_keeps_going_to_exit_0(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    strategy = tmp_path / "solana.yaml"
    strategy.write_text(NO_SOLANA)

    result = invoke(
        "run", str(strategy), "--replay", str(replay_dir), "--from", "2023-03-10", "--to",
        "2023-03-12", "--every", "1d", "--audit", str(tmp_path / "audit.db"),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert lines_without_duration(result.stdout) == [
        f"2023-03-{day}T00:00:00Z  1 decision: 1 HOLD  WARNING data errors: NO_DATA x1"
        for day in (10, 11, 12)
    ]
    assert len(result.stderr.splitlines()) == 3  # one WARNING log line per cycle


def test_a_restarted_once_cycle_already_recorded_fetches_nothing_and_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "crisis.yaml").write_text(CRISIS_STRATEGY)
    args = ("run", "crisis.yaml", "--once", "--audit", "live.db")
    assert invoke(*args, connections=offline()).exit_code == 1

    again = invoke(*args, connections=offline())

    assert again.exit_code == 0
    assert lines_without_duration(again.stdout) == [
        "2023-03-11T12:00:00Z  0 decisions: nothing new (1 already recorded)"
    ]


# --- the line itself -----------------------------------------------------------------------------


def outcome(*errors: Code, skipped: bool = False) -> Outcome:
    return Outcome(
        "dec-1", "s", "BTC", Verdict.HOLD, ExecutionStatus.NOT_EXECUTED, (), skipped, errors
    )


def test_the_warning_lists_codes_most_frequent_first_then_by_name() -> None:
    summary = CycleSummary(
        datetime(2024, 5, 1, tzinfo=UTC),
        (
            outcome(Code.NO_DATA, Code.CONNECTION_ERROR),
            outcome(Code.CONNECTION_ERROR, Code.TIMEOUT),
            outcome(Code.CONNECTION_ERROR),
            outcome(Code.HTTP_ERROR, skipped=True),  # already recorded: nothing was fetched
        ),
        expired=0,
        reconciled=0,
        seconds=0.5,
    )

    assert summary.line() == (
        "2024-05-01T00:00:00Z  3 decisions: 3 HOLD (1 already recorded)  "
        "WARNING data errors: CONNECTION_ERROR x3, NO_DATA x1, TIMEOUT x1  [0.50s]"
    )
