"""Alerts: what a trader leaving the engine running wants to hear about, on the notify webhooks.

    alerts: {on: [fill, halt, kill_switch, outage, stale, reconcile], outage_cycles: 3}

Each event is posted, as one plain-text message, to every webhook of ``notify: webhooks`` (Slack,
Discord, Telegram; see ``signalops.execution.notify``) when it is listed in ``alerts: on``:

    fill           an order filled (paper or venue)
    halt           a circuit breaker halted trading (``signalops.breakers``)
    kill_switch    the kill switch file appeared
    outage         sources unreachable for ``outage_cycles`` cycles in a row (once per outage)
    stale          leaves UNKNOWN on data that stopped updating (STALE, and not a stock's night,
                   weekend or holiday) for ``outage_cycles`` cycles in a row (once per such run)
    reconcile      a decision denied because the venue's holdings and the books disagree
    verify_failed  the audit log did not verify (``run`` does not start, or stops before a cycle)
    reload_failed  a changed strategy or config file did not validate (the old one keeps running)

Best effort: a webhook that fails is one WARNING log line (logger ``signalops.alerts``, with its
reason code and no secret); nothing here ever raises into the run loop.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from signalops import numbers
from signalops.codes import Code
from signalops.config import AlertsConfig
from signalops.execution.notify import Webhook, WebhookConfig, send
from signalops.logs import event

log = logging.getLogger("signalops.alerts")


class Alerts:
    """Posts the events ``config.on`` chooses to ``webhooks``; ``transport`` is the test seam."""

    def __init__(
        self,
        config: AlertsConfig,
        webhooks: Sequence[WebhookConfig],
        *,
        transport: httpx.BaseTransport | None = None,
        env: Mapping[str, str] = os.environ,
        timeout: float = 5.0,
    ) -> None:
        self.config = config
        self.webhooks = tuple(
            w if isinstance(w, Webhook) else Webhook(w.kind, w.url_env, w.chat_id) for w in webhooks
        )
        self.env = env
        self._client = httpx.Client(transport=transport, timeout=timeout)

    def wants(self, name: str) -> bool:
        return name in self.config.on and bool(self.webhooks)

    def send(self, name: str, text: str, **fields: Any) -> int:
        """Post ``text`` for the event ``name`` if chosen; how many webhooks took it."""
        if not self.wants(name):
            return 0
        delivered = 0
        for webhook in self.webhooks:
            try:
                failure = send(self._client, webhook, text, self.env)
            except Exception as exc:  # best effort, whatever happens
                failure = {
                    "reason": Code.ERROR.value,
                    "message": f"{webhook.kind}: {type(exc).__name__}",
                }
            if failure is None:
                delivered += 1
                continue
            event(
                log,
                logging.WARNING,
                "alert_failed",
                f"{name} alert not delivered: {failure['message']}",
                alert=name,
                code=failure["reason"],
                **fields,
            )
        return delivered

    def close(self) -> None:
        self._client.close()


def fill_text(fill: Mapping[str, Any], strategy: str) -> str:
    """``SignalOps filled: BUY 0.02455527 BTC at 20,372.40 (S)``: the price as ``why`` writes it
    (the record's 20372.401110 is a figure for the books, not a phone)."""
    quantity, price = numbers.quantity(fill["quantity"]), numbers.trade_price(fill["price"])
    return f"SignalOps filled: {fill['side']} {quantity} {fill['asset']} at {price} ({strategy})"


def halt_text(trigger: str, message: str) -> str:
    return (
        f"SignalOps HALTED by the {trigger} breaker: {message}. Every order is denied until "
        "`signalops resume`."
    )


def kill_switch_text(file: str | None) -> str:
    return f"SignalOps kill switch is ON ({file}): every order is denied until it is removed."


def outage_text(cycles: int, errors: str) -> str:
    return f"SignalOps data outage: {cycles} cycles in a row with sources unreachable ({errors})."


def stale_text(cycles: int, stale: str) -> str:
    return (
        f"SignalOps stale data: {cycles} cycles in a row decided with leaves UNKNOWN on data "
        f"that stopped updating ({stale})."
    )


def reconcile_text(strategy: str, asset: str, codes: Sequence[str]) -> str:
    return (
        f"SignalOps reconcile mismatch: {strategy} on {asset} denied ({', '.join(codes)}); "
        "the venue's holdings and the books disagree."
    )


def verify_failed_text(audit: str, problem: str) -> str:
    return f"SignalOps audit log {audit} FAILED verification: {problem}"


__all__ = [
    "Alerts",
    "fill_text",
    "halt_text",
    "kill_switch_text",
    "outage_text",
    "reconcile_text",
    "stale_text",
    "verify_failed_text",
]
