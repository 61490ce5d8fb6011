"""Log lines through the CLI: ``-v/-q``, ``--log-file``, ``--log-format json``, and no secrets.

The runs are the paper run of the March 2023 banking crisis on the bundled real data (a BUY
filled on 03-10, a BUY denied by the cooldown on 03-11), with a second strategy on a series the
bundled data does not have (Solana's TVL: NO_DATA), and notify-mode approvals answered on the
same replay. The secrets runs are live cycles with the network gone at the libraries' transport
boundaries, the secret quoted by every transport error, as a careless proxy or library does.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import test_auto_mode as auto
from click.testing import CliRunner, Result
from conftest import ROOT
from test_record import CRISIS_STRATEGY
from test_run_data_errors import NO_SOLANA, offline

from signalops import logs
from signalops.adapters.http import protect_logs
from signalops.adapters.registry import Connections
from signalops.cli import cli

STRATEGY = "tests/fixtures/banking_crisis_pipeline.yaml"
TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"

# Secrets as the environment holds them (the names the audit record's scrubbing recognises).
SECRETS = {
    "BINANCE_API_KEY": "binance-key-AKIA1234567890",
    "BINANCE_SECRET": "s3cr3t-binance-0987654321",
    "SIGNALOPS_WEBHOOK_URL": "https://hooks.example.com/services/T000/B000/XXXXSECRET",
}
# A secret only a client declared (``protect_logs``), in no environment variable.
DECLARED = "clob-declared-f00dfeed4242"


def invoke(*args: str, connections: Connections | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), obj=connections, prog_name="signalops")


def json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def only(lines: list[dict[str, Any]], **wanted: Any) -> dict[str, Any]:
    (found,) = [line for line in lines if all(line.get(k) == v for k, v in wanted.items())]
    return found


@pytest.fixture
def march(replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``signalops [OPTIONS] run`` over 2023-03-10..11 with both strategies; returns a runner."""
    monkeypatch.chdir(ROOT)
    solana = tmp_path / "solana.yaml"
    solana.write_text(NO_SOLANA)

    def run(*options: str, audit: str = "audit.db") -> Result:
        return invoke(
            *options, "run", STRATEGY, str(solana), "--replay", str(replay_dir), "--from",
            "2023-03-10", "--to", "2023-03-11", "--every", "1d", "--audit", str(tmp_path / audit),
        )  # fmt: skip

    return run


# --- what is logged ------------------------------------------------------------------------------


def test_verbose_json_log_file_has_a_line_per_adapter_error_denial_and_fill(
    march, tmp_path: Path
) -> None:
    log = tmp_path / "signalops.log"

    result = march("-v", "--log-format", "json", "--log-file", str(log))

    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # the lines went to the file instead
    lines = json_lines(log)
    for line in lines:
        assert re.fullmatch(TIME, line["time"])
        assert {"time", "level", "logger", "event", "message"} <= line.keys()
    fill = only(lines, event="order_filled")
    assert fill == {
        "time": fill["time"],
        "level": "INFO",
        "logger": "signalops.execution",
        "event": "order_filled",
        "message": "order so-06b9f3bcf8279e462f0c49f6 filled: BUY 0.02455527 BTC at 20372.401110",
        "client_order_id": "so-06b9f3bcf8279e462f0c49f6",
        "decision_id": "dec-06b9f3bcf8279e462f0c49f6",
        "asset": "BTC",
        "side": "BUY",
        "quantity": "0.02455527",
        "price": "20372.401110",
        "venue": "paper",
    }
    denial = only(lines, event="denial")
    assert denial == {
        "time": denial["time"],
        "level": "INFO",
        "logger": "signalops.pipeline",
        "event": "denial",
        "message": "risk gate denied BUY BTC: COOLDOWN",
        "code": "COOLDOWN",
        "details": "COOLDOWN: limit=259200 actual=86400 unit=seconds since the last trade of "
        "this strategy on the asset last_trade=2023-03-10T00:00:00Z book=Banking_Crisis_Pipeline",
        "strategy": "Banking_Crisis_Pipeline",
        "asset": "BTC",
        "decision_id": denial["decision_id"],
        "as_of": "2023-03-11T00:00:00Z",
    }
    missing = [line for line in lines if line["event"] == "adapter_error"]
    assert [(m["source"], m["metric"], m["code"], m["as_of"]) for m in missing] == [
        ("onchain", "chain_tvl", "NO_DATA", "2023-03-10T00:00:00Z"),
        ("onchain", "chain_tvl", "NO_DATA", "2023-03-11T00:00:00Z"),
    ]
    assert missing[0]["logger"] == "signalops.adapters"
    assert missing[0]["params"] == {"chain": "Solana"}
    assert missing[0]["message"].startswith(
        "onchain chain_tvl: no recorded series chain_tvl/solana: download it with"
    )
    # The cycle's own warning, one per cycle that lacked data.
    warnings = [line for line in lines if line["event"] == "data_errors"]
    assert [(w["level"], w["as_of"], w["counts"]) for w in warnings] == [
        ("WARNING", "2023-03-10T00:00:00Z", {"NO_DATA": 1}),
        ("WARNING", "2023-03-11T00:00:00Z", {"NO_DATA": 1}),
    ]


def test_text_lines_carry_the_same_fields_as_key_values(march, tmp_path: Path) -> None:
    log = tmp_path / "signalops.log"

    assert march("-v", "--log-file", str(log)).exit_code == 0

    text = log.read_text(encoding="utf-8")
    assert re.search(
        rf"^{TIME} INFO signalops\.pipeline: risk gate denied BUY BTC: COOLDOWN code=COOLDOWN "
        r'details="COOLDOWN: limit=259200 actual=86400 unit=seconds since the last trade of this '
        r'strategy on the asset last_trade=2023-03-10T00:00:00Z book=Banking_Crisis_Pipeline" '
        r"strategy=Banking_Crisis_Pipeline asset=BTC "
        r"decision_id=dec-[0-9a-f]{24} as_of=2023-03-11T00:00:00Z$",
        text,
        re.MULTILINE,
    ), text
    assert re.search(
        rf"^{TIME} INFO signalops\.adapters: onchain chain_tvl: no recorded series "
        r".* source=onchain metric=chain_tvl params=\{\"chain\":\"Solana\"\} code=NO_DATA "
        r"as_of=2023-03-10T00:00:00Z$",
        text,
        re.MULTILINE,
    ), text


def test_the_log_file_is_appended_to_not_replaced(march, tmp_path: Path) -> None:
    log = tmp_path / "signalops.log"
    log.write_text("an earlier line\n")

    march("-v", "--log-file", str(log), audit="one.db")
    first = log.read_text().splitlines()
    march("-v", "--log-file", str(log), audit="two.db")

    lines = log.read_text().splitlines()
    assert lines[: len(first)] == first and first[0] == "an earlier line"
    assert len(lines) == 2 * len(first) - 1


def test_by_default_only_warnings_reach_stderr_and_quiet_leaves_errors_only(march) -> None:
    default = march(audit="default.db")
    quiet = march("-q", audit="quiet.db")

    for line, day in zip(default.stderr.splitlines(), ("10", "11"), strict=True):
        assert re.fullmatch(
            rf"{TIME} WARNING signalops\.pipeline: cycle 2023-03-{day}T00:00:00Z decided with "
            rf"leaves UNKNOWN for lack of data: NO_DATA x1 as_of=2023-03-{day}T00:00:00Z "
            r'code=NO_DATA counts=\{"NO_DATA":1\}',
            line,
        ), line
    assert quiet.stderr == ""
    # The summary lines are output, not log lines: -q does not silence them.
    assert quiet.stdout.count("WARNING data errors: NO_DATA x1") == 2


def test_approvals_requested_approved_and_rejected_are_lines_with_who(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    log = tmp_path / "signalops.log"
    options = ("-v", "--log-format", "json", "--log-file", str(log))
    audits = [str(tmp_path / name) for name in ("a.db", "b.db")]
    for audit in audits:
        made = invoke(
            *options, "run", STRATEGY, "--mode", "notify", "--replay", str(replay_dir),
            "--from", "2023-03-10", "--audit", audit,
        )  # fmt: skip
        assert made.exit_code == 0, made.output
    requested = [line for line in json_lines(log) if line["event"] == "approval_requested"]
    approval_id = requested[0]["approval_id"]
    answer = ("--replay", str(replay_dir), "--at", "2023-03-10T00:05:00Z")
    approved = invoke(*options, "approve", approval_id, *answer, "--by", "alice",
                      "--audit", audits[0])  # fmt: skip
    rejected = invoke(*options, "reject", approval_id, *answer, "--by", "carol",
                      "--note", "FOMC in an hour", "--audit", audits[1])  # fmt: skip

    assert (approved.exit_code, rejected.exit_code) == (0, 0), approved.output + rejected.output
    lines = json_lines(log)
    assert requested[0]["logger"] == "signalops.approvals"
    assert requested[0]["expires_at"] == "2023-03-10T00:15:00Z"
    assert requested[0]["strategy"] == "Banking_Crisis_Pipeline"
    yes, no = only(lines, event="approved"), only(lines, event="rejected")
    assert (yes["approval_id"], yes["by"], yes["status"]) == (approval_id, "alice", "FILLED")
    assert yes["message"] == f"approval {approval_id} approved by alice"
    assert (no["approval_id"], no["by"], no["note"]) == (approval_id, "carol", "FOMC in an hour")
    assert only(lines, event="order_filled")["decision_id"] == yes["decision_id"]


def test_an_expired_approval_is_a_line(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    log = tmp_path / "signalops.log"
    options = ("-v", "--log-format", "json", "--log-file", str(log))
    audit = str(tmp_path / "audit.db")
    invoke(*options, "run", STRATEGY, "--mode", "notify", "--replay", str(replay_dir),
           "--from", "2023-03-10", "--audit", audit)  # fmt: skip
    approval_id = only(json_lines(log), event="approval_requested")["approval_id"]

    late = invoke(*options, "approve", approval_id, "--replay", str(replay_dir), "--at",
                  "2023-03-10T01:00:00Z", "--audit", audit)  # fmt: skip

    expired = only(json_lines(log), event="expired")
    assert late.stdout.startswith(f"{approval_id}: EXPIRED")
    assert (expired["approval_id"], expired["expires_at"]) == (approval_id, "2023-03-10T00:15:00Z")


def test_a_log_file_that_cannot_be_opened_is_an_error_line(tmp_path: Path) -> None:
    result = invoke("--log-file", str(tmp_path / "no" / "such" / "dir.log"), "metrics")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: cannot open log file {tmp_path / 'no' / 'such' / 'dir.log'}: "
        "No such file or directory\n"
    )


# --- secrets -------------------------------------------------------------------------------------


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_secrets_in_the_environment_and_in_adapter_errors_never_reach_the_log(
    log_format: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    protect_logs(DECLARED)  # as the CLOB executor declares a key's unprefixed form
    monkeypatch.chdir(tmp_path)
    (tmp_path / "crisis.yaml").write_text(CRISIS_STRATEGY)
    log = tmp_path / "signalops.log"
    # Every transport error quotes every secret, and an api_key parameter.
    quoted = f"proxy refused {' '.join(SECRETS.values())} {DECLARED} for ?api_key=abc123xyz"

    def broken_proxy(request: httpx.Request) -> httpx.Response:
        raise OSError(quoted)  # an error httpx has no class for: its text reaches the DataError

    connections = replace(offline(quoted), http=httpx.MockTransport(broken_proxy))
    result = invoke(
        "-vv", "--log-format", log_format, "--log-file", str(log),
        "run", "crisis.yaml", "--once", "--audit", "live.db", connections=connections,
    )  # fmt: skip

    assert result.exit_code == 1, result.output
    assert result.stdout.startswith(
        "2023-03-11T12:00:00Z  1 decision: 1 HOLD  "
        "WARNING data errors: CONNECTION_ERROR x3, TRANSPORT_ERROR x3  ["
    )
    text = log.read_text(encoding="utf-8")
    for secret in (*SECRETS.values(), DECLARED, "abc123xyz"):
        assert secret not in text
    # The lines are there, scrubbed: three adapter errors quoting the proxy's message.
    assert text.count("proxy refused *** *** *** *** for ?api_key=***") == 3


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_auto_orders_are_sent_and_filled_lines_and_the_exchange_key_never_appears(
    log_format: str, replay_store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The auto-mode scrubbing test of the audit file (tests/test_auto_mode.py), on the log at
    DEBUG: ccxt logs every signed request with its headers, and the venue echoes the key."""
    for name, value in auto.EXCHANGE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SIGNALOPS_AUDIT", raising=False)
    monkeypatch.chdir(tmp_path)
    log, audit = tmp_path / "signalops.log", tmp_path / "audit.db"
    echo = {"code": -2015, "msg": f"Invalid API-key {auto.API_KEY}, IP, or permissions."}

    undo = logs.configure(logs.LogSettings(verbose=2, file=log, format=log_format))
    try:
        filled = auto.auto_pipeline(audit, auto.BinanceSpot(), replay_store, auto.DAY_BEFORE)
        filled.cycle(auto.DAY_BEFORE)
        filled.audit.close()
        refused = auto.auto_pipeline(audit, auto.BinanceSpot(refuse=echo), replay_store, auto.AS_OF)
        refused.cycle(auto.AS_OF)
        refused.audit.close()
    finally:
        undo()

    text = log.read_text(encoding="utf-8")
    assert "X-MBX-APIKEY" in text  # ccxt's request lines are there, with their headers...
    for secret in (auto.API_KEY, auto.API_SECRET):
        assert secret not in text and secret[:16] not in text  # ...and no key in them
    assert "Invalid API-key ***" in text
    if log_format == "json":
        lines = json_lines(log)
        sent, filled_line = only(lines, event="order_sent"), only(lines, event="order_filled")
        assert sent["client_order_id"] == filled_line["client_order_id"]
        assert (sent["logger"], sent["side"]) == ("signalops.execution", "BUY")
        assert filled_line["venue"] == "binance:sandbox"
        assert only(lines, event="denial")["code"] == "PORTFOLIO_UNAVAILABLE"


@pytest.mark.parametrize(("verbose", "shown"), [(0, False), (1, True)])
def test_yfinance_warnings_show_from_verbose_on_and_its_level_comes_back(
    tmp_path: Path, verbose: int, shown: bool
) -> None:
    # Offline, yfinance's "Cookie/crumb fetch failed (DNSError)" came before SignalOps' own
    # error line, which says the same with its reason.
    log = tmp_path / "signalops.log"
    yfinance = logging.getLogger("yfinance")
    before = yfinance.level
    undo = logs.configure(logs.LogSettings(verbose=verbose, file=log))
    try:
        yfinance.warning("Cookie/crumb fetch failed (DNSError), continuing without crumb")
        yfinance.error("an error of its own")
    finally:
        undo()

    text = log.read_text(encoding="utf-8")
    assert ("Cookie/crumb fetch failed" in text) is shown
    assert "an error of its own" in text
    assert yfinance.level == before
