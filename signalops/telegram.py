"""Approve from the phone: the Telegram bot that answers the Approve / Reject buttons.

Notify mode's Telegram message carries two inline buttons (``signalops.execution.notify``,
``callback_data`` ``a:<approval id>`` or ``r:<approval id>``). This bot long-polls the Bot API
(``getUpdates`` with an ``offset`` one past the last update seen, so each press is handled once)
and, for each ``callback_query``:

- a press from a chat that is not on the allow-list (``notify: telegram: allowed_chat_ids``, or
  ``$SIGNALOPS_TELEGRAM_ALLOWED_CHATS``) is refused: the presser is told so and nothing is
  recorded;
- otherwise the press goes through ``answer`` -- the same approvals function as ``signalops
  approve/reject`` -- with ``by`` naming who pressed (``telegram:@username``, or the user id);
- the bot answers the press (``answerCallbackQuery``: the outcome, or why it was refused, such as
  "already approved by ...") and edits the message to show the outcome (which also removes the
  buttons).

The bot token is a secret: it is only in request URLs, registered with the log scrubber, and a
failing request is logged by its exception's name, never its text (which quotes the URL).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from signalops.adapters.http import protect_logs
from signalops.codes import Code
from signalops.errors import AdapterError
from signalops.execution.notify import APPROVE_PREFIX, REJECT_PREFIX, TELEGRAM_API
from signalops.logs import event

log = logging.getLogger("signalops.telegram")

ALLOWED_ENV = "SIGNALOPS_TELEGRAM_ALLOWED_CHATS"
POLL_SECONDS = 30  # Telegram holds a getUpdates this long when there is nothing to say
CALLBACK_TEXT_LIMIT = 200  # answerCallbackQuery's text is 0-200 characters

# What the approvals function is asked: (approval id, approve?, by) -> what the presser is told.
Answer = Callable[[str, bool, str], str]


@dataclass(frozen=True)
class Press:
    """One button press: a ``callback_query`` update with our ``callback_data``."""

    update_id: int
    query_id: str
    chat_id: str | None
    message_id: int | None
    message_text: str
    by: str
    approve: bool
    approval_id: str


@dataclass(frozen=True)
class Handled:
    press: Press
    allowed: bool
    told: str  # what the presser was shown


def allowed_chats(configured: Iterable[str], env: Mapping[str, str]) -> frozenset[str]:
    """The config's chat ids and the environment's (comma-separated), as strings."""
    from_env = [c.strip() for c in env.get(ALLOWED_ENV, "").split(",") if c.strip()]
    return frozenset(str(c) for c in (*configured, *from_env))


def who(user: Mapping[str, Any]) -> str:
    """``telegram:@username``, else ``telegram:<id>``: what the audit record's ``by`` says."""
    name = user.get("username")
    return f"telegram:@{name}" if name else f"telegram:{user.get('id')}"


def parse_press(update: Mapping[str, Any]) -> Press | None:
    """The press in ``update``, or None for anything else (a message, another bot's button)."""
    query = update.get("callback_query")
    if not isinstance(query, Mapping):
        return None
    data = query.get("data") or ""
    for prefix, approve in ((APPROVE_PREFIX, True), (REJECT_PREFIX, False)):
        if data.startswith(prefix) and len(data) > len(prefix):
            message = query.get("message") or {}
            chat = message.get("chat") or {}
            return Press(
                update_id=int(update["update_id"]),
                query_id=str(query["id"]),
                chat_id=None if chat.get("id") is None else str(chat["id"]),
                message_id=message.get("message_id"),
                message_text=message.get("text") or "",
                by=who(query.get("from") or {}),
                approve=approve,
                approval_id=data[len(prefix) :],
            )
    return None


class TelegramBot:
    """Long-polls ``getUpdates`` and answers presses through ``answer``."""

    def __init__(
        self,
        token: str,
        allowed: frozenset[str],
        answer: Answer,
        *,
        transport: httpx.BaseTransport | None = None,
        poll_seconds: int = POLL_SECONDS,
    ) -> None:
        protect_logs(token)
        self.allowed = allowed
        self.answer = answer
        self.poll_seconds = poll_seconds
        self._base = f"{TELEGRAM_API}/bot{token}"
        # The read timeout outlasts the long poll, which Telegram holds open on purpose.
        self._client = httpx.Client(transport=transport, timeout=poll_seconds + 10)

    def close(self) -> None:
        self._client.close()

    def poll(self, offset: int | None = None) -> tuple[int | None, list[Handled]]:
        """One ``getUpdates``; the next offset and what was done with each press.

        Raises ``AdapterError`` when the Bot API cannot be reached or says no (the caller
        waits and polls again); a press that was read is never read again (the offset)."""
        body: dict[str, Any] = {"timeout": self.poll_seconds, "allowed_updates": ["callback_query"]}
        if offset is not None:
            body["offset"] = offset
        updates = self._call("getUpdates", body)
        handled = []
        for update in updates if isinstance(updates, list) else []:
            offset = max(offset or 0, int(update["update_id"]) + 1)
            press = parse_press(update)
            if press is not None:
                handled.append(self.handle(press))
        return offset, handled

    def handle(self, press: Press) -> Handled:
        if press.chat_id not in self.allowed:
            told = f"refused: chat {press.chat_id} may not answer approvals"
            event(
                log,
                logging.WARNING,
                "press_refused",
                f"{press.by} pressed on {press.approval_id} from chat {press.chat_id}, which is "
                "not on the allow-list: nothing recorded",
                approval_id=press.approval_id,
                chat_id=press.chat_id,
                by=press.by,
            )
            self._tell(press, told, alert=True)
            return Handled(press, False, told)
        told = self.answer(press.approval_id, press.approve, press.by)
        self._tell(press, told, alert=False)
        self._edit(press, told)
        return Handled(press, True, told)

    def run(
        self,
        stop: threading.Event,
        *,
        once: bool = False,
        retry: float = 5.0,
        on_press: Callable[[Handled], None] | None = None,
    ) -> int:
        """Poll until ``stop`` (or one poll with ``once``); how many presses were handled."""
        offset: int | None = None
        count = 0
        while not stop.is_set():
            try:
                offset, handled = self.poll(offset)
                count += len(handled)
                if on_press is not None:
                    for done in handled:
                        on_press(done)
            except AdapterError as exc:
                if once:
                    raise
                event(log, logging.WARNING, "poll_failed", str(exc), code=exc.reason)
                stop.wait(retry)
            if once:
                break
        return count

    # --- the Bot API ---

    def _call(self, method: str, body: Mapping[str, Any]) -> Any:
        try:
            response = self._client.post(f"{self._base}/{method}", json=dict(body))
        except httpx.TimeoutException:
            raise _api_error(method, Code.TIMEOUT, "timed out") from None
        except httpx.HTTPError as exc:  # the name only: the text quotes the URL and its token
            raise _api_error(method, Code.CONNECTION_ERROR, type(exc).__name__) from None
        try:
            payload = response.json()
        except ValueError:
            raise _api_error(method, Code.BAD_RESPONSE, f"HTTP {response.status_code}") from None
        if not isinstance(payload, Mapping) or not payload.get("ok"):
            description = payload.get("description") if isinstance(payload, Mapping) else None
            code = Code.RATE_LIMITED if response.status_code == 429 else Code.BAD_REQUEST
            raise _api_error(method, code, f"HTTP {response.status_code}: {description}")
        return payload.get("result")

    def _tell(self, press: Press, text: str, *, alert: bool) -> None:
        body = {
            "callback_query_id": press.query_id,
            "text": text[:CALLBACK_TEXT_LIMIT],
            "show_alert": alert,
        }
        self._best_effort("answerCallbackQuery", body)

    def _edit(self, press: Press, outcome: str) -> None:
        if press.chat_id is None or press.message_id is None:
            return  # an inline-mode message: nothing to edit by chat and id
        body = {
            "chat_id": press.chat_id,
            "message_id": press.message_id,
            "text": f"{press.message_text}\n\n{_verb(press)} by {press.by}: {outcome}",
        }
        self._best_effort("editMessageText", body)

    def _best_effort(self, method: str, body: Mapping[str, Any]) -> None:
        """The approval is recorded already: a failed reply to the presser is only logged."""
        try:
            self._call(method, body)
        except AdapterError as exc:
            event(log, logging.WARNING, "reply_failed", str(exc), code=exc.reason)


def _verb(press: Press) -> str:
    return "Approve pressed" if press.approve else "Reject pressed"


def _api_error(method: str, code: Code, message: str) -> AdapterError:
    return AdapterError(f"telegram {method}: {message}", reason=code)


__all__ = ["ALLOWED_ENV", "Handled", "Press", "TelegramBot", "allowed_chats", "parse_press", "who"]
