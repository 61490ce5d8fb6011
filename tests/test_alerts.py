"""Alerts through the notify webhooks: fills, halts, the kill switch, outages, a broken chain.

The webhooks are served by ``httpx.MockTransport`` (passed as the run's live connections, which
carry the alerts too), capturing the JSON each service is sent; their answers are the services'
documented ones (Slack ``ok`` as text, Telegram ``{"ok": true, "result": {...}}``). Decisions are
made on the replayed real data of March 2023, or on a live run with the sources unreachable.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from conftest import ROOT
from test_record import CRISIS_STRATEGY
from test_run_data_errors import offline

from signalops.adapters.registry import Connections
from signalops.alerts import Alerts
from signalops.cli.main import cli
from signalops.config import AlertsConfig, Webhook

STRATEGY = "tests/fixtures/banking_crisis_pipeline.yaml"
SLACK_URL = "https://hooks.slack.com/services/T0FAKE000/B0FAKE000/sEcReTsLaCkToKeN123456"
TELEGRAM_TOKEN = "7000000001:AAFakeTelegramBotTokenSecret_0123456"
CHAT = "-1001234567890"
WEBHOOKS = f"""\
notify:
  webhooks:
    - {{kind: slack, url_env: SIGNALOPS_SLACK_WEBHOOK}}
    - {{kind: telegram, url_env: SIGNALOPS_TELEGRAM_TOKEN, chat_id: "{CHAT}"}}
"""
FILL = "SignalOps filled: BUY 0.02455527 BTC at 20,372.40 (Banking_Crisis_Pipeline)"


class Chat:
    """Slack and Telegram answering as documented; every other host unreachable (the sources of
    a live run). ``status`` makes the webhooks fail."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.posted: list[tuple[str, dict]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host not in ("hooks.slack.com", "api.telegram.org"):
            raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")
        self.posted.append((host, json.loads(request.content)))
        if self.status >= 300:
            return httpx.Response(self.status, text="upstream error")
        if host == "hooks.slack.com":
            return httpx.Response(200, text="ok")
        return httpx.Response(200, json={"ok": True, "result": {"message_id": 1}})

    def texts(self) -> list[tuple[str, str]]:
        return [(host, body.get("text", "")) for host, body in self.posted]


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNALOPS_SLACK_WEBHOOK", SLACK_URL)
    monkeypatch.setenv("SIGNALOPS_TELEGRAM_TOKEN", TELEGRAM_TOKEN)


def run_replay(replay_dir: Path, tmp_path: Path, config: str, chat: Chat, *dates: str) -> Result:
    (tmp_path / "signalops.yaml").write_text(WEBHOOKS + config)
    span = ["--from", dates[0], *(["--to", dates[1]] if len(dates) > 1 else [])]
    args = [
        "run", STRATEGY, "--replay", str(replay_dir), *span, "--audit", str(tmp_path / "a.db"),
        "--config", str(tmp_path / "signalops.yaml"),
    ]  # fmt: skip
    connections = Connections(http=httpx.MockTransport(chat))
    return CliRunner().invoke(cli, args, obj=connections, prog_name="signalops")


def both(text: str) -> list[tuple[str, str]]:
    return [("hooks.slack.com", text), ("api.telegram.org", text)]


def test_a_fill_and_a_halt_are_posted_to_every_webhook(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    chat = Chat()
    config = "alerts: {on: [fill, halt]}\nbreakers: {max_drawdown: 0.05%}\n"

    result = run_replay(replay_dir, tmp_path, config, chat, "2023-03-09", "2023-03-12")

    assert result.exit_code == 0, result.output
    halt = (
        "SignalOps HALTED by the max_drawdown breaker: drawdown 0.06% from the peak equity "
        "10,000.00 USDT (now 9,994.06 USDT) is beyond max_drawdown 0.05%. Every order is denied "
        "until `signalops resume`."
    )
    assert chat.texts() == both(FILL) + both(halt)
    assert chat.posted[1][1] == {"chat_id": CHAT, "text": FILL}  # no buttons on an alert
    assert chat.posted[0][1] == {"text": FILL}


def test_events_not_chosen_are_not_posted(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    chat = Chat()

    run_replay(replay_dir, tmp_path, "alerts: {on: [halt]}\n", chat, "2023-03-09", "2023-03-12")

    assert chat.posted == []


def test_the_kill_switch_is_alerted_once_while_it_stays_on(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    (tmp_path / "KILL").touch()
    chat = Chat()
    config = "kill_switch: KILL\nalerts: {on: [kill_switch, fill]}\n"

    result = run_replay(replay_dir, tmp_path, config, chat, "2023-03-09", "2023-03-11")

    assert "1 BUY (1 denied by risk)" in result.stdout  # 03-10 would have filled
    text = (
        f"SignalOps kill switch is ON ({tmp_path / 'KILL'}): every order is denied until it is "
        "removed."
    )
    assert chat.texts() == both(text)


def test_a_failing_webhook_is_a_warning_and_trading_goes_on(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    chat = Chat(status=500)

    result = run_replay(replay_dir, tmp_path, "alerts: {on: [fill]}\n", chat, "2023-03-10")

    assert result.exit_code == 0
    assert "1 BUY (1 filled)" in result.stdout
    lines = result.stderr.splitlines()
    assert [re.sub(r"^\S+ ", "", line) for line in lines] == [
        "WARNING signalops.alerts: fill alert not delivered: slack webhook "
        "(SIGNALOPS_SLACK_WEBHOOK): HTTP 500 alert=fill code=HTTP_ERROR "
        "decision_id=dec-06b9f3bcf8279e462f0c49f6",
        "WARNING signalops.alerts: fill alert not delivered: telegram webhook "
        "(SIGNALOPS_TELEGRAM_TOKEN): HTTP 500 alert=fill code=HTTP_ERROR "
        "decision_id=dec-06b9f3bcf8279e462f0c49f6",
    ]
    assert "sEcReT" not in result.stderr and "AAFake" not in result.stderr


def test_an_outage_is_alerted_once_when_it_reaches_n_cycles_even_across_once_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "crisis.yaml").write_text(CRISIS_STRATEGY)
    (tmp_path / "signalops.yaml").write_text(
        WEBHOOKS + "alerts: {on: [outage], outage_cycles: 2}\nbreakers: {max_outage_cycles: 9}\n"
    )
    chat = Chat()

    for hour in (12, 13, 14):
        at = datetime(2023, 3, 11, hour, tzinfo=UTC)
        connections = replace(offline(), http=httpx.MockTransport(chat), now=lambda at=at: at)
        result = CliRunner().invoke(
            cli, ["run", "crisis.yaml", "--once", "--audit", "live.db"], obj=connections
        )
        assert result.exit_code == 1  # every leaf UNKNOWN

    text = (
        "SignalOps data outage: 2 cycles in a row with sources unreachable (CONNECTION_ERROR x6)."
    )
    assert chat.texts() == both(text)


def test_a_log_that_fails_verification_is_alerted_and_logged(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    chat = Chat()
    run_replay(replay_dir, tmp_path, "", chat, "2023-03-09")
    # As after a run killed before its last check: the start check reads the whole log (a
    # finished run's check covers its records, and an edit of them is audit verify's to find).
    (tmp_path / "a.db.verified.json").unlink()
    tamper = sqlite3.connect(tmp_path / "a.db")
    tamper.execute("DROP TRIGGER IF EXISTS records_no_update")
    tamper.execute("UPDATE records SET verdict = 'BUY' WHERE seq = 1")
    tamper.commit()
    tamper.close()

    result = run_replay(
        replay_dir, tmp_path, "alerts: {on: [verify_failed]}\n", chat, "2023-03-10", "2023-03-11"
    )

    assert result.exit_code == 1  # alerted, and refused: nothing is decided on a broken log
    ((_, text),) = chat.texts()[:1]
    assert text.startswith(f"SignalOps audit log {tmp_path / 'a.db'} FAILED verification: ")
    assert len(chat.posted) == 2  # once per run, not once per cycle
    assert f"error: {tmp_path / 'a.db'} FAILED verification, so the run" in result.stderr


def test_alerts_never_raise_whatever_the_webhook_does() -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug in a transport")

    alerts = Alerts(
        AlertsConfig(on=frozenset({"halt"})),
        [Webhook("slack", "SIGNALOPS_SLACK_WEBHOOK")],
        transport=httpx.MockTransport(explode),
    )
    assert alerts.send("halt", "x") == 0
    assert alerts.send("fill", "not chosen") == 0


def test_a_strategy_edit_that_does_not_validate_is_alerted_and_the_run_goes_on(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from signalops.pipeline.loop import RunPlan, run_plan

    monkeypatch.chdir(ROOT)
    chat = Chat()
    (tmp_path / "signalops.yaml").write_text(WEBHOOKS + "alerts: {on: [reload_failed]}\n")
    strategy = tmp_path / "dip.yaml"
    original = (ROOT / STRATEGY).read_text()
    strategy.write_text(original)
    broken = original.replace('"rsi(14) < $oversold"', '"rsi(14) < < $oversold"')
    plan = RunPlan(
        strategies=(strategy,),
        replay=replay_dir,
        start=datetime(2023, 3, 8, tzinfo=UTC),
        end=datetime(2023, 3, 10, tzinfo=UTC),
        every=timedelta(days=1),
        audit=tmp_path / "a.db",
        config=tmp_path / "signalops.yaml",
    )

    result = run_plan(
        plan,
        on_cycle=lambda _summary: strategy.write_text(broken),
        alert_transport=httpx.MockTransport(chat),
    )

    assert len(result.summaries) == 3  # the old version kept running
    texts = [text for _, text in chat.texts()]
    assert len(texts) == 2  # Slack and Telegram, once: each bad version is reported once
    assert all(text.startswith("SignalOps reload refused") for text in texts)
    assert f"{strategy}:13:" in texts[0]


def test_an_approved_order_that_fills_is_alerted_like_the_loops_fills(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from signalops.pipeline import approvals
    from signalops.workspace import open_workspace

    monkeypatch.chdir(ROOT)
    (tmp_path / "signalops.yaml").write_text(WEBHOOKS + "alerts: {on: [fill]}\n")
    db, config = tmp_path / "a.db", tmp_path / "signalops.yaml"
    made = CliRunner().invoke(
        cli,
        ["run", STRATEGY, "--mode", "notify", "--replay", str(replay_dir), "--from",
         "2023-03-10", "--audit", str(db), "--config", str(config)],
    )  # fmt: skip
    assert "1 awaiting approval" in made.stdout, made.output
    workspace = open_workspace(audit=db, config=config)
    (waiting,) = workspace.audit.pending_approvals(datetime(2023, 3, 10, 0, 1, tzinfo=UTC))
    chat = Chat()
    alerts = Alerts(
        workspace.config.alerts,
        workspace.config.notify.webhooks,
        transport=httpx.MockTransport(chat),
    )

    outcome = approvals.answer(
        workspace,
        waiting.approval_id,
        approve=True,
        by="alice",
        now=datetime(2023, 3, 10, 0, 5, tzinfo=UTC),
        replay=replay_dir,
        alerts=alerts,
    )

    assert outcome.status == "FILLED"
    filled = "SignalOps filled: BUY 0.02455527 BTC at 20,372.40 (Banking_Crisis_Pipeline)"
    assert chat.texts() == both(filled)
    workspace.close()


def run_strategy(replay_dir: Path, tmp_path: Path, strategy: Path, config: str, *span: str):
    """``run STRATEGY --mode paper --replay`` from ``span[0]`` to ``span[1]``, daily, with the
    webhooks and ``config``: the chat the alerts went to, and what the run printed."""
    (tmp_path / "signalops.yaml").write_text(WEBHOOKS + config)
    args = [
        "run", str(strategy), "--mode", "paper", "--replay", str(replay_dir), "--from", span[0],
        "--to", span[1], "--audit", str(tmp_path / "a.db"),
        "--config", str(tmp_path / "signalops.yaml"),
    ]  # fmt: skip
    chat = Chat()
    result = CliRunner().invoke(cli, args, obj=Connections(http=httpx.MockTransport(chat)))
    assert result.exit_code == 0, result.output
    return chat, result.stdout


def test_data_that_stopped_updating_is_alerted_once_when_it_reaches_n_cycles(
    replay_dir: Path, tmp_path: Path
) -> None:
    """It was only a log line each cycle: the election market resolved on 2025-01-20 and its
    last recorded price (2025-01-21) went stale two days later, the veto UNKNOWN from then on,
    while the sources answered and no outage was counted."""
    chat, _ = run_strategy(
        replay_dir, tmp_path, ROOT / "strategies" / "election_odds_gate.yaml",
        "alerts: {on: [stale], outage_cycles: 3}\n", "2025-01-20", "2025-01-31",
    )  # fmt: skip

    # Stale from 2025-01-24 (3 days old): the third such cycle is 2025-01-26's.
    text = (
        "SignalOps stale data: 3 cycles in a row decided with leaves UNKNOWN on data that "
        "stopped updating (STALE x1 (newest 5 days old))."
    )
    assert chat.texts() == both(text)


def test_a_stocks_weekend_is_not_stale_data_to_alert_of(replay_dir: Path, tmp_path: Path) -> None:
    """On a Monday a daily stock strategy with the default 2d max age finds Friday's close too
    old (its leaves UNKNOWN, as validate warns), but no session closed since: the market paused,
    the feed did not stop."""
    strategy = tmp_path / "dip.yaml"
    strategy.write_text(
        "strategy:\n  name: Dip\n  assets: [AAPL]\n  defaults: {params: {timeframe: 1d}}\n"
        "  rules:\n    - {id: dip, source: technical, conditions: [{when: 'rsi(14) < 30'}]}\n"
        "  execution: {position_size: 0.1}\n"
    )
    stocks = "venues: {stocks: {exchange: yfinance, quote: USD}}\nassets: {AAPL: {venue: stocks}}\n"

    chat, printed = run_strategy(
        replay_dir, tmp_path, strategy, stocks + "alerts: {on: [stale], outage_cycles: 1}\n",
        "2022-06-10", "2022-06-14",
    )  # fmt: skip

    (monday,) = [line for line in printed.splitlines() if line.startswith("2022-06-13")]
    assert "WARNING stale data: STALE x1" in monday  # the leaf was stale...
    assert chat.texts() == []  # ...and nobody was woken for it
