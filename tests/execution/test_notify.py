"""Notify mode: pending approvals, webhook messages, failures that never block, secrets kept.

Webhooks are served by ``httpx.MockTransport``. Their answers are the services' documented
ones (no chat service was recorded): Slack answers 200 ``ok`` as text, Discord 204 with no
body, Telegram 200 ``{"ok": true, "result": {...}}`` and, for an unknown chat, 400
``{"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from signalops.errors import SignalOpsError
from signalops.execution.base import Executor
from signalops.execution.notify import NotifyExecutor, Webhook, approval_id
from signalops.orders import (
    ExecutionStatus,
    Mode,
    OrderIntent,
    Side,
    client_order_id,
    decision_id,
)

AS_OF = datetime(2024, 11, 6, 14, 0, tzinfo=UTC)
DECISION = decision_id("strategy-hash", "BTC", AS_OF, "notify")
INTENT = OrderIntent(
    decision_id=DECISION,
    client_order_id=client_order_id(DECISION),
    strategy="Multi_Source_Momentum",
    asset="BTC",
    side=Side.BUY,
    quantity=Decimal("0.0421"),
    reference_price=Decimal("71250.5"),
    notional=Decimal("2999.646050"),
    as_of=AS_OF,
    mode=Mode.NOTIFY,
)

# Fake secrets shaped like the real ones, so that a leak would be recognisable.
SLACK_URL = "https://hooks.slack.com/services/T0FAKE000/B0FAKE000/sEcReTsLaCkToKeN123456"
DISCORD_URL = "https://discord.com/api/webhooks/123456789012345678/dIsCoRdSeCrEtToKeN-abcdef"
TELEGRAM_TOKEN = "7000000001:AAFakeTelegramBotTokenSecret_0123456"
SECRETS = (SLACK_URL, DISCORD_URL, TELEGRAM_TOKEN, "sEcReTsLaCk", "dIsCoRdSeCrEt", "AAFake")
ENV = {
    "SIGNALOPS_SLACK_WEBHOOK": SLACK_URL,
    "SIGNALOPS_DISCORD_WEBHOOK": DISCORD_URL,
    "SIGNALOPS_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
}
WEBHOOKS = [
    Webhook("slack", "SIGNALOPS_SLACK_WEBHOOK"),
    Webhook("discord", "SIGNALOPS_DISCORD_WEBHOOK"),
    Webhook("telegram", "SIGNALOPS_TELEGRAM_TOKEN", chat_id="-1001234567890"),
]

Handler = Callable[[httpx.Request], httpx.Response]


def documented_answer(request: httpx.Request) -> httpx.Response:
    if request.url.host == "hooks.slack.com":
        return httpx.Response(200, text="ok")
    if request.url.host == "discord.com":
        return httpx.Response(204)
    body = json.loads(request.content)
    message = {"message_id": 42, "chat": {"id": int(body["chat_id"])}, "text": body["text"]}
    return httpx.Response(200, json={"ok": True, "result": message})


class Chat:
    """Records every request, answers with ``handler``."""

    def __init__(self, handler: Handler = documented_answer) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def body(self, host: str) -> dict:
        (request,) = [r for r in self.requests if r.url.host == host]
        return json.loads(request.content)


def notifier(chat: Chat, env: dict[str, str] = ENV, **kwargs) -> NotifyExecutor:
    return NotifyExecutor(WEBHOOKS, transport=httpx.MockTransport(chat), env=env, **kwargs)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


# --- the approval ---------------------------------------------------------------------------


def test_notify_executor_is_an_executor_in_notify_mode() -> None:
    executor = notifier(Chat())

    assert isinstance(executor, Executor)
    assert executor.mode is Mode.NOTIFY


def test_execute_creates_a_pending_approval_derived_from_the_decision_with_an_expiry() -> None:
    result = notifier(Chat(), approval_ttl=timedelta(minutes=30)).execute(INTENT, as_of=AS_OF)

    assert result.status is ExecutionStatus.PENDING_APPROVAL
    assert result.approval_id == "apv-" + DECISION.removeprefix("dec-")
    assert result.expires_at == AS_OF + timedelta(minutes=30)
    assert result.fill is None and result.venue_order_id is None  # no order exists
    assert result.details == {"notified": ["slack", "discord", "telegram"], "failed": []}


def test_the_same_decision_always_asks_for_the_same_approval() -> None:
    first = notifier(Chat()).execute(INTENT, as_of=AS_OF)
    after_restart = notifier(Chat()).execute(INTENT, as_of=AS_OF)

    assert first.approval_id == after_restart.approval_id == approval_id(DECISION)


def test_default_ttl_is_one_hour() -> None:
    result = notifier(Chat()).execute(INTENT, as_of=AS_OF)

    assert result.expires_at == datetime(2024, 11, 6, 15, 0, tzinfo=UTC)


# --- the messages ---------------------------------------------------------------------------


def test_each_service_gets_its_own_payload_shape() -> None:
    chat = Chat()

    notifier(chat).execute(INTENT, as_of=AS_OF, why="rsi 28 < 35 and volume_z 2.4 > 2")

    assert set(chat.body("hooks.slack.com")) == {"text"}
    assert set(chat.body("discord.com")) == {"content"}
    telegram = chat.body("api.telegram.org")
    assert telegram["chat_id"] == "-1001234567890"
    (sent,) = [r for r in chat.requests if r.url.host == "api.telegram.org"]
    assert sent.method == "POST"
    assert sent.url.path == f"/bot{TELEGRAM_TOKEN}/sendMessage"
    assert [str(r.url) for r in chat.requests if r.url.host != "api.telegram.org"] == [
        SLACK_URL,
        DISCORD_URL,
    ]


def test_message_says_what_the_engine_wants_and_how_to_approve() -> None:
    chat = Chat()

    notifier(chat).execute(INTENT, as_of=AS_OF, why="rsi 28 < 35 and volume_z 2.4 > 2")

    text = chat.body("hooks.slack.com")["text"]
    apv = approval_id(DECISION)
    assert text.splitlines() == [
        "SignalOps wants to BUY 0.0421 BTC at ~71250.5 USDT (about 2999.64605 USDT)",
        "Strategy: Multi_Source_Momentum",
        "Why: rsi 28 < 35 and volume_z 2.4 > 2",
        f"Approval {apv} expires 2024-11-06T15:00:00Z",
        f"Approve with: signalops approve {apv}",
    ]
    assert chat.body("discord.com")["content"] == text
    assert chat.body("api.telegram.org")["text"] == text


def test_a_multi_line_why_is_sent_as_one_line() -> None:
    chat = Chat()

    notifier(chat).execute(INTENT, as_of=AS_OF, why="value_screen PASS\n  event_filter PASS\n")

    assert "Why: value_screen PASS event_filter PASS\n" in chat.body("hooks.slack.com")["text"]


def test_a_missing_why_still_gives_a_reason_line() -> None:
    chat = Chat()

    notifier(chat).execute(INTENT, as_of=AS_OF)

    assert "Why: the strategy rules for this action passed" in chat.body("discord.com")["content"]


# --- failures never block the approval ------------------------------------------------------


def test_missing_environment_variable_is_a_failed_notification_not_a_crash() -> None:
    env = {k: v for k, v in ENV.items() if k != "SIGNALOPS_DISCORD_WEBHOOK"}
    chat = Chat()

    result = notifier(chat, env=env).execute(INTENT, as_of=AS_OF)

    assert result.status is ExecutionStatus.PENDING_APPROVAL
    assert result.details["notified"] == ["slack", "telegram"]
    (failure,) = result.details["failed"]
    assert failure["kind"] == "discord"
    assert failure["reason"] == "MISSING_ENV"
    assert "SIGNALOPS_DISCORD_WEBHOOK is not set" in failure["message"]
    assert all(r.url.host != "discord.com" for r in chat.requests)


def test_every_webhook_failing_still_creates_the_approval() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        if request.url.host == "hooks.slack.com":
            raise httpx.ReadTimeout("timed out", request=request)
        if request.url.host == "discord.com":
            return httpx.Response(429, json={"message": "You are being rate limited."})
        return httpx.Response(500)

    result = notifier(Chat(broken)).execute(INTENT, as_of=AS_OF)

    assert result.status is ExecutionStatus.PENDING_APPROVAL
    assert result.approval_id == approval_id(DECISION)
    assert result.details["notified"] == []
    assert [(f["kind"], f["reason"]) for f in result.details["failed"]] == [
        ("slack", "TIMEOUT"),
        ("discord", "RATE_LIMITED"),
        ("telegram", "HTTP_ERROR"),
    ]
    assert "no webhook notified" in result.message


def test_an_unreachable_webhook_says_it_could_not_connect() -> None:
    """It said only 'ConnectError', the exception's name (its text holds the secret URL)."""

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")

    result = notifier(Chat(unreachable)).execute(INTENT, as_of=AS_OF)

    messages = {f["kind"]: f["message"] for f in result.details["failed"]}
    assert (
        messages["slack"]
        == "slack webhook (SIGNALOPS_SLACK_WEBHOOK): could not connect (ConnectError)"
    )


def test_telegram_refusal_reports_telegrams_description() -> None:
    def unknown_chat(request: httpx.Request) -> httpx.Response:
        if request.url.host != "api.telegram.org":
            return documented_answer(request)
        return httpx.Response(
            400,
            json={"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
        )

    result = notifier(Chat(unknown_chat)).execute(INTENT, as_of=AS_OF)

    (failure,) = result.details["failed"]
    assert failure["reason"] == "BAD_REQUEST"
    assert failure["message"].endswith("HTTP 400: Bad Request: chat not found")


def test_no_webhooks_configured_still_creates_the_approval() -> None:
    result = NotifyExecutor([], env={}).execute(INTENT, as_of=AS_OF)

    assert result.status is ExecutionStatus.PENDING_APPROVAL
    assert result.details == {"notified": [], "failed": []}


# --- secrets --------------------------------------------------------------------------------


def _leaky(request: httpx.Request) -> httpx.Response:
    """Failures whose exception texts and bodies quote the secret URL, as real ones can."""
    if request.url.host == "hooks.slack.com":
        raise httpx.ConnectError(f"[Errno 111] Connection refused: {request.url}", request=request)
    if request.url.host == "discord.com":
        raise httpx.ReadTimeout(f"read timeout on {request.url}", request=request)
    return httpx.Response(401, json={"ok": False, "description": f"Unauthorized {request.url}"})


@pytest.mark.parametrize("handler", [documented_answer, _leaky], ids=["delivered", "failing"])
def test_webhook_secrets_never_reach_the_result_or_the_logs(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, handler: Handler
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)  # httpx logs every request URL at INFO
    executor = NotifyExecutor(WEBHOOKS, transport=httpx.MockTransport(Chat(handler)))

    result = executor.execute(INTENT, as_of=AS_OF, why="rsi 28 < 35")

    assert result.status is ExecutionStatus.PENDING_APPROVAL
    assert any(r.name == "httpx" for r in caplog.records)  # the URLs were logged...
    assert_no_secret(json.dumps(result.to_dict()), result.message, caplog.text)  # ...scrubbed
    assert_no_secret(*(f["message"] for f in result.details["failed"]))


@pytest.mark.parametrize(
    "value", ["sEcReTsLaCk-not-a-url", "http://hooks.slack.com/services/sEcReTsLaCk"]
)
def test_a_value_that_is_not_an_https_url_is_reported_without_quoting_it_or_sending(
    caplog: pytest.LogCaptureFixture, value: str
) -> None:
    env = {**ENV, "SIGNALOPS_SLACK_WEBHOOK": value}
    caplog.set_level(logging.DEBUG)
    chat = Chat()

    result = notifier(chat, env=env).execute(INTENT, as_of=AS_OF)

    (failure,) = result.details["failed"]
    assert failure["reason"] == "BAD_URL"
    assert "SIGNALOPS_SLACK_WEBHOOK does not hold an https URL" in failure["message"]
    assert_no_secret(json.dumps(result.to_dict()), caplog.text)
    assert [r.url.host for r in chat.requests] == ["discord.com", "api.telegram.org"]


def test_webhook_config_holds_only_the_variable_names() -> None:
    assert_no_secret(repr(WEBHOOKS))


def test_webhook_entries_from_the_config_file_and_a_ttl_in_seconds_are_accepted() -> None:
    @dataclass(frozen=True)
    class ConfigEntry:  # the shape of signalops.config.Webhook
        kind: str
        url_env: str
        chat_id: str | None = None

    chat = Chat()
    executor = NotifyExecutor(
        [ConfigEntry("slack", "SIGNALOPS_SLACK_WEBHOOK")],
        approval_ttl=900,
        transport=httpx.MockTransport(chat),
        env=ENV,
    )

    result = executor.execute(INTENT, as_of=AS_OF)

    assert result.details["notified"] == ["slack"]
    assert result.expires_at == AS_OF + timedelta(minutes=15)


# --- configuration errors -------------------------------------------------------------------


def test_unknown_webhook_kind_is_a_configuration_error() -> None:
    with pytest.raises(SignalOpsError, match="unknown webhook kind 'teams'"):
        Webhook("teams", "SIGNALOPS_TEAMS_WEBHOOK")


def test_telegram_without_a_chat_id_is_a_configuration_error() -> None:
    with pytest.raises(SignalOpsError, match="chat_id"):
        Webhook("telegram", "SIGNALOPS_TELEGRAM_TOKEN")


def test_non_positive_ttl_is_a_configuration_error() -> None:
    with pytest.raises(SignalOpsError, match="approval_ttl"):
        NotifyExecutor([], approval_ttl=timedelta(0))


def test_discord_content_is_cut_to_discords_limit() -> None:
    chat = Chat()

    notifier(chat).execute(INTENT, as_of=AS_OF, why="x" * 5000)

    assert len(chat.body("discord.com")["content"]) <= 2000
    assert len(chat.body("hooks.slack.com")["text"]) < 1000  # the why is capped too
