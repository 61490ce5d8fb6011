"""Notify mode: no order, a pending approval announced to chat webhooks; a human decides.

``execute`` returns ``PENDING_APPROVAL`` with an ``approval_id`` derived from the decision id (a
restart computes the same id, so approving it twice is one approval) and ``expires_at`` =
as_of + ttl. The pipeline records it; the audit log's approval queue (``pending_approvals``)
is where it waits, and ``signalops approve <id>`` acts on it.

Each configured ``Webhook`` is told what the engine wants, in one plain-text message:

  slack     POST <url> {"text": ...}                    (incoming webhook)
  discord   POST <url> {"content": ...}                 (webhook; at most 2000 characters)
  telegram  POST https://api.telegram.org/bot<token>/sendMessage {"chat_id", "text"}

Webhook URLs and bot tokens are secrets (anyone holding one can post to the channel): the
config names the environment variable that holds each, and the value is read at send time,
registered with the httpx log scrubber (``protect_logs``) and never put in a result, a message
or a log line. A missing variable, an HTTP error, a timeout, anything at all going wrong with a
webhook is one entry in ``details["failed"]`` -- the approval is created regardless, because
the approval queue (not the chat message) is what a human acts on. One attempt per webhook, no
retries: a slow chat service must not hold up the evaluation loop.

Across a restart the same decision re-notifies (same approval id) unless the pipeline first
checks the approval queue; duplicate messages are harmless, a duplicate approval cannot exist.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx

from signalops.adapters.http import protect_logs, redact
from signalops.canonical import iso
from signalops.codes import Code
from signalops.errors import ExecutionError
from signalops.orders import ExecutionResult, ExecutionStatus, Mode, OrderIntent

from .outcomes import check_intent, plain, require_aware

log = logging.getLogger(__name__)

KINDS = ("slack", "discord", "telegram")
TELEGRAM_API = "https://api.telegram.org"
DISCORD_LIMIT = 2000
WHY_LIMIT = 300


def approval_id(decision_id: str) -> str:
    """Derived, not random: the same decision always asks for the same approval."""
    return "apv-" + decision_id.removeprefix("dec-")


class WebhookConfig(Protocol):
    """Anything shaped like a webhook entry (``signalops.config.Webhook`` included).

    Read-only members, so that frozen dataclasses match."""

    @property
    def kind(self) -> str: ...
    @property
    def url_env(self) -> str: ...
    @property
    def chat_id(self) -> str | None: ...


@dataclass(frozen=True)
class Webhook:
    """Where to announce approvals. ``url_env`` names the environment variable holding the
    webhook URL (slack, discord) or the bot token (telegram); ``chat_id`` is telegram's chat."""

    kind: str
    url_env: str
    chat_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ExecutionError(
                f"unknown webhook kind {self.kind!r}; expected one of {', '.join(KINDS)}"
            )
        if not self.url_env:
            raise ExecutionError(f"{self.kind} webhook needs the name of an environment variable")
        if self.kind == "telegram" and not self.chat_id:
            raise ExecutionError("telegram webhook needs a chat_id")

    def request(
        self, secret: str, text: str, approval: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """The URL and JSON body to post ``text`` with this webhook's ``secret``.

        With ``approval``, a Telegram message carries Approve / Reject buttons whose presses
        the bot (``signalops telegram``) answers; Slack and Discord webhooks cannot take them.
        """
        if self.kind == "slack":
            return secret, {"text": text}
        if self.kind == "discord":
            return secret, {"content": text[:DISCORD_LIMIT]}
        body: dict[str, Any] = {"chat_id": self.chat_id, "text": text}
        if approval is not None:
            body["reply_markup"] = approval_buttons(approval)
        return f"{TELEGRAM_API}/bot{secret}/sendMessage", body


# callback_data is at most 64 bytes: a verb letter and the approval id (28 characters).
APPROVE_PREFIX = "a:"
REJECT_PREFIX = "r:"


def approval_buttons(approval: str) -> dict[str, Any]:
    """Telegram's inline keyboard: one row, Approve and Reject, each naming the approval."""
    return {
        "inline_keyboard": [
            [
                {"text": "Approve", "callback_data": APPROVE_PREFIX + approval},
                {"text": "Reject", "callback_data": REJECT_PREFIX + approval},
            ]
        ]
    }


def one_line(text: str, limit: int = WHY_LIMIT) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def approval_message(
    intent: OrderIntent, approval: str, expires_at: datetime, why: str, quote: str
) -> str:
    side = intent.side.value
    return "\n".join(
        [
            f"SignalOps wants to {side} {plain(intent.quantity)} {intent.asset} at "
            f"~{plain(intent.reference_price)} {quote} (about {plain(intent.notional)} {quote})",
            f"Strategy: {intent.strategy}",
            f"Why: {one_line(why) if why.strip() else 'the strategy rules for this action passed'}",
            f"Approval {approval} expires {iso(expires_at)}",
            f"Approve with: signalops approve {approval}",
        ]
    )


class NotifyExecutor:
    """Creates a pending approval and announces it; never places an order.

    ``webhooks`` may be this module's ``Webhook`` or any object with ``kind``, ``url_env`` and
    ``chat_id`` (the config file's entries); ``approval_ttl`` a timedelta or seconds.
    """

    mode = Mode.NOTIFY

    def __init__(
        self,
        webhooks: Sequence[WebhookConfig],
        *,
        approval_ttl: timedelta | float = timedelta(hours=1),
        transport: httpx.BaseTransport | None = None,
        env: Mapping[str, str] = os.environ,
        timeout: float = 5.0,
        quote: str = "USDT",
    ) -> None:
        if not isinstance(approval_ttl, timedelta):
            approval_ttl = timedelta(seconds=approval_ttl)  # the config file's seconds
        if approval_ttl <= timedelta(0):
            raise ExecutionError("approval_ttl must be positive")
        self.webhooks = tuple(
            w if isinstance(w, Webhook) else Webhook(w.kind, w.url_env, w.chat_id) for w in webhooks
        )
        self.approval_ttl = approval_ttl
        self.env = env
        self.quote = quote
        self._client = httpx.Client(transport=transport, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def execute(self, intent: OrderIntent, *, as_of: datetime, why: str = "") -> ExecutionResult:
        """``why``: the decision's explanation in one line (the pipeline passes it; optional
        so that the call matches the ``Executor`` protocol)."""
        require_aware(as_of)
        problem = check_intent(intent)
        if problem is not None:
            return problem
        approval = approval_id(intent.decision_id)
        expires_at = as_of + self.approval_ttl
        text = approval_message(intent, approval, expires_at, why, self.quote)
        notified: list[str] = []
        failures: list[dict[str, str]] = []
        for webhook in self.webhooks:
            failure = send(self._client, webhook, text, self.env, approval=approval)
            if failure is None:
                notified.append(webhook.kind)
            else:
                failures.append(failure)
                log.warning("approval %s: %s", approval, failure["message"])
        status = f"notified {', '.join(notified)}" if notified else "no webhook notified"
        return ExecutionResult(
            ExecutionStatus.PENDING_APPROVAL,
            message=f"waiting for approval {approval} until {iso(expires_at)} ({status})",
            approval_id=approval,
            expires_at=expires_at,
            details={"notified": notified, "failed": failures},
        )


def send(
    client: httpx.Client,
    webhook: Webhook,
    text: str,
    env: Mapping[str, str],
    *,
    approval: str | None = None,
) -> dict[str, str] | None:
    """Post one message; None when delivered, else a failure entry free of the secret.

    Shared by approval requests and alerts (``signalops.alerts``): never raises.
    """
    secret = (env.get(webhook.url_env) or "").strip()
    if not secret:
        return _failure(
            webhook, Code.MISSING_ENV, f"environment variable {webhook.url_env} is not set"
        )
    protect_logs(secret)
    url, body = webhook.request(secret, text, approval)
    if not _is_https(url):
        # Checked here rather than left to httpx: its error text would quote the URL, and a
        # webhook secret must not travel over plain http.
        return _failure(webhook, Code.BAD_URL, f"{webhook.url_env} does not hold an https URL")
    try:
        response = client.post(url, json=body)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol):
        return _failure(webhook, Code.BAD_URL, f"{webhook.url_env} does not hold a usable URL")
    except httpx.TimeoutException:
        return _failure(webhook, Code.TIMEOUT, "timed out")
    except httpx.TransportError as exc:  # exception names only: their text has the URL
        return _failure(webhook, Code.CONNECTION_ERROR, f"could not connect ({type(exc).__name__})")
    except Exception as exc:  # a webhook must never stop the approval being created
        return _failure(webhook, Code.ERROR, type(exc).__name__)
    if response.status_code >= 300:
        detail = _telegram_description(response) if webhook.kind == "telegram" else ""
        message = redact(f"HTTP {response.status_code}{detail}", (secret,))
        return _failure(webhook, _http_code(response.status_code), message)
    return None


def _is_https(url: str) -> bool:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    return parsed.scheme == "https" and bool(parsed.host)


def _http_code(status: int) -> Code:
    if status == 429:
        return Code.RATE_LIMITED
    return Code.BAD_REQUEST if 400 <= status < 500 else Code.HTTP_ERROR


def _failure(webhook: Webhook, reason: Code, message: str) -> dict[str, str]:
    return {
        "kind": webhook.kind,
        "env": webhook.url_env,
        "reason": reason,
        "message": f"{webhook.kind} webhook ({webhook.url_env}): {message}",
    }


def _telegram_description(response: httpx.Response) -> str:
    """Telegram says why (``chat not found``); Slack and Discord bodies add little."""
    try:
        description = response.json().get("description")
    except (ValueError, AttributeError):
        return ""
    return f": {one_line(str(description), 120)}" if description else ""
