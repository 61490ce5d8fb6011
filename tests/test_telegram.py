"""Approve from the phone: Telegram's Approve / Reject buttons answered by `signalops telegram`.

The Bot API is served by ``httpx.MockTransport`` from the payloads in tests/fixtures/telegram/,
written after the Bot API documentation (no bot was recorded): ``getUpdates`` results holding
a ``callback_query`` (who pressed, the message with its inline keyboard, the ``callback_data``),
``answerCallbackQuery`` answering ``true``, ``editMessageText`` the edited message, and the 409
a second poller gets. The pending approval is a real notify-mode decision on the replayed data
of 2023-03-10, as in test_approvals.py; each press is re-checked on the same replay.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from conftest import ROOT

from signalops.audit.store import AuditLog
from signalops.cli.main import cli
from signalops.cli.telegram import telegram_command
from signalops.errors import AdapterError
from signalops.execution.notify import NotifyExecutor, Webhook
from signalops.orders import Mode, OrderIntent, Side, client_order_id, decision_id
from signalops.telegram import TelegramBot, allowed_chats

FIXTURES = ROOT / "tests" / "fixtures" / "telegram"
STRATEGY = "tests/fixtures/banking_crisis_pipeline.yaml"
TOKEN = "7000000001:AAFakeTelegramBotTokenSecret_0123456"
DESK = "-1001234567890"
APPROVAL = "apv-dc0be3002d77a2f4a5dc5107"  # the approval the fixtures' buttons name

if "telegram" not in cli.commands:  # until signalops/cli/main.py registers it
    cli.add_command(telegram_command)


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


class BotApi:
    """The Bot API: ``getUpdates`` answers the given fixtures in turn, then nothing."""

    def __init__(self, *updates: str) -> None:
        self.updates = list(updates)
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.host == "api.telegram.org"
        assert request.url.path.startswith(f"/bot{TOKEN}/")
        method = request.url.path.rsplit("/", 1)[1]
        self.calls.append((method, json.loads(request.content)))
        if method == "getUpdates":
            name = self.updates.pop(0) if self.updates else "getUpdates_empty.json"
            status = 409 if "conflict" in name else 200
            return httpx.Response(status, json=fixture(name))
        return httpx.Response(200, json=fixture(f"{method}.json"))

    def bodies(self, method: str) -> list[dict]:
        return [body for called, body in self.calls if called == method]


def invoke(*args: str, api: BotApi | None = None) -> Result:
    transport = httpx.MockTransport(api) if api is not None else None
    return CliRunner().invoke(cli, list(args), obj=transport, prog_name="signalops")


@pytest.fixture
def pending(replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A notify-mode BUY awaiting approval, a config naming the bot and the desk's chat."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("SIGNALOPS_TELEGRAM_ALLOWED_CHATS", raising=False)
    config = tmp_path / "signalops.yaml"
    config.write_text(
        "notify:\n"
        "  webhooks:\n"
        f'    - {{kind: telegram, url_env: SIGNALOPS_TELEGRAM_TOKEN, chat_id: "{DESK}"}}\n'
        f"  telegram: {{allowed_chat_ids: [{DESK}]}}\n"
    )
    db = tmp_path / "audit.db"
    # No token while deciding: the notifier posts nothing (its own tests cover the message).
    monkeypatch.delenv("SIGNALOPS_TELEGRAM_TOKEN", raising=False)
    made = invoke(
        "run", STRATEGY, "--mode", "notify", "--replay", str(replay_dir), "--from",
        "2023-03-10", "--audit", str(db), "--config", str(config),
    )  # fmt: skip
    assert "1 awaiting approval" in made.stdout, made.output
    listed = invoke("approvals", "--at", "2023-03-10T00:01:00Z", "--audit", str(db))
    assert listed.stdout.split()[0] == APPROVAL, "the fixtures' buttons name another approval"
    monkeypatch.setenv("SIGNALOPS_TELEGRAM_TOKEN", TOKEN)
    return db, config, replay_dir


def bot(pending, api: BotApi, at: str = "2023-03-10T00:05:00Z") -> Result:
    db, config, replay = pending
    return invoke(
        "telegram", "--once", "--replay", str(replay), "--at", at, "--audit", str(db),
        "--config", str(config), api=api,
    )  # fmt: skip


def approvals_of(db: Path) -> list[dict]:
    return [r for r in AuditLog(db).records() if r["kind"] == "approval"]


def test_an_approve_press_from_the_desk_approves_records_who_and_edits_the_message(pending):
    api = BotApi("getUpdates_approve_from_desk.json")

    result = bot(pending, api)

    assert result.exit_code == 0, result.output
    told = f"{APPROVAL}: FILLED — paper BUY 0.02455527 BTC at 20,372.40 USDT (fee 0.50 USDT)"
    assert result.stdout == f"telegram:@alice_trader (chat {DESK}) approve {APPROVAL}: {told}\n"
    (approval,) = approvals_of(pending[0])
    assert (approval["by"], approval["approved"], approval["approval_id"]) == (
        "telegram:@alice_trader",
        True,
        APPROVAL,
    )
    assert [r["kind"] for r in AuditLog(pending[0]).records()] == ["decision", "approval", "fill"]
    assert api.bodies("getUpdates") == [{"timeout": 30, "allowed_updates": ["callback_query"]}]
    assert api.bodies("answerCallbackQuery") == [
        {"callback_query_id": "4771902310497519617", "text": told, "show_alert": False}
    ]
    press = fixture("getUpdates_approve_from_desk.json")["result"][0]["callback_query"]
    assert api.bodies("editMessageText") == [
        {
            "chat_id": DESK,
            "message_id": 57,
            "text": f"{press['message']['text']}\n\nApprove pressed by telegram:@alice_trader: "
            f"{told}",
        }
    ]


def test_a_press_from_a_chat_not_on_the_allow_list_is_refused_and_records_nothing(pending):
    api = BotApi("getUpdates_approve_from_stranger.json")

    result = bot(pending, api)

    assert result.exit_code == 0
    refused = "refused: chat 555000111 may not answer approvals"
    assert result.stdout == f"telegram:@mallory_m (chat 555000111) approve {APPROVAL}: {refused}\n"
    assert [r["kind"] for r in AuditLog(pending[0]).records()] == ["decision"]
    assert api.bodies("answerCallbackQuery") == [
        {"callback_query_id": "2354437718412895331", "text": refused, "show_alert": True}
    ]
    assert api.bodies("editMessageText") == []
    assert "not on the allow-list: nothing recorded" in result.stderr


def test_a_second_press_on_an_answered_approval_shows_who_answered_it(pending):
    db, config, replay = pending
    first = invoke(
        "approve", APPROVAL, "--by", "alice", "--replay", str(replay), "--at",
        "2023-03-10T00:04:00Z", "--audit", str(db), "--config", str(config),
    )  # fmt: skip
    assert first.exit_code == 0, first.output
    api = BotApi("getUpdates_approve_again_from_desk.json")

    result = bot(pending, api)

    already = f"approval {APPROVAL} was already approved by alice at 2023-03-10T00:04:00Z"
    assert result.stdout == f"telegram:222222222 (chat {DESK}) approve {APPROVAL}: {already}\n"
    assert api.bodies("answerCallbackQuery")[0]["text"] == already
    assert [a["by"] for a in approvals_of(db)] == ["alice"]


def test_a_reject_press_rejects_and_plain_messages_are_skipped(pending):
    api = BotApi("getUpdates_reject_from_desk.json")

    result = bot(pending, api)

    assert result.stdout == (
        f"telegram:@alice_trader (chat {DESK}) reject {APPROVAL}: "
        f"{APPROVAL}: REJECTED — rejected from Telegram\n"
    )
    (approval,) = approvals_of(pending[0])
    assert (approval["approved"], approval["note"]) == (False, "rejected from Telegram")


def test_the_offset_moves_past_every_update_so_a_press_is_handled_once():
    api = BotApi("getUpdates_approve_from_desk.json", "getUpdates_reject_from_desk.json")
    answered: list[tuple[str, bool, str]] = []

    def answer(approval: str, approve: bool, by: str) -> str:
        answered.append((approval, approve, by))
        return "ok"

    telegram = TelegramBot(
        TOKEN, frozenset({DESK}), answer, transport=httpx.MockTransport(api), poll_seconds=30
    )
    offset, _ = telegram.poll()
    offset, _ = telegram.poll(offset)
    offset, handled = telegram.poll(offset)

    assert [body.get("offset") for body in api.bodies("getUpdates")] == [
        None,
        804211378,
        804211382,
    ]
    assert (offset, handled) == (804211382, [])
    assert answered == [
        (APPROVAL, True, "telegram:@alice_trader"),
        (APPROVAL, False, "telegram:@alice_trader"),
    ]


def test_a_refused_poll_is_an_adapter_error_without_the_token():
    api = BotApi("getUpdates_conflict.json")
    telegram = TelegramBot(
        TOKEN, frozenset({DESK}), lambda *a: "", transport=httpx.MockTransport(api)
    )

    with pytest.raises(AdapterError) as raised:
        telegram.run(threading.Event(), once=True)

    assert str(raised.value) == (
        "telegram getUpdates: HTTP 409: Conflict: terminated by other getUpdates request; make "
        "sure that only one bot instance is running"
    )
    assert raised.value.reason == "BAD_REQUEST"


def test_the_allow_list_comes_from_the_config_and_the_environment():
    env = {"SIGNALOPS_TELEGRAM_ALLOWED_CHATS": " 42, -100777 ,"}
    assert allowed_chats(("-1001234567890",), env) == {"-1001234567890", "42", "-100777"}
    assert allowed_chats((), {}) == frozenset()


def test_without_any_allowed_chat_the_bot_refuses_to_start(pending):
    db, config, _ = pending
    config.write_text(
        config.read_text().replace(f"  telegram: {{allowed_chat_ids: [{DESK}]}}\n", "")
    )

    result = invoke("telegram", "--once", "--audit", str(db), "--config", str(config))

    assert result.exit_code == 1
    assert result.stderr == (
        "error: no chat may answer: list them in notify: telegram: allowed_chat_ids "
        "(or $SIGNALOPS_TELEGRAM_ALLOWED_CHATS)\n"
    )


def test_a_telegram_approval_request_carries_approve_and_reject_buttons():
    sent: list[tuple[str, dict]] = []

    def chat(request: httpx.Request) -> httpx.Response:
        sent.append((request.url.host, json.loads(request.content)))
        if request.url.host == "api.telegram.org":
            return httpx.Response(200, json=fixture("sendMessage.json"))
        return httpx.Response(200, text="ok")

    as_of = datetime(2023, 3, 10, tzinfo=UTC)
    did = decision_id("hash", "BTC", as_of, "notify")
    intent = OrderIntent(
        decision_id=did,
        client_order_id=client_order_id(did),
        strategy="Banking_Crisis_Pipeline",
        asset="BTC",
        side=Side.BUY,
        quantity=Decimal("0.02455527"),
        reference_price=Decimal("20372.4"),
        notional=Decimal("500.25"),
        as_of=as_of,
        mode=Mode.NOTIFY,
    )
    notifier = NotifyExecutor(
        [Webhook("telegram", "TOKEN", DESK), Webhook("slack", "SLACK")],
        approval_ttl=timedelta(minutes=15),
        transport=httpx.MockTransport(chat),
        env={"TOKEN": TOKEN, "SLACK": "https://hooks.slack.com/services/T0/B0/x"},
    )

    result = notifier.execute(intent, as_of=as_of)

    approval = result.approval_id
    assert sent[0][1]["reply_markup"] == {
        "inline_keyboard": [
            [
                {"text": "Approve", "callback_data": f"a:{approval}"},
                {"text": "Reject", "callback_data": f"r:{approval}"},
            ]
        ]
    }
    assert len(f"a:{approval}".encode()) <= 64  # Telegram's callback_data limit
    assert set(sent[1][1]) == {"text"}  # Slack: no buttons
