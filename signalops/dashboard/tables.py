"""The dashboard's data, shaped for tables and charts; no Streamlit here, so it tests plainly.

Everything about a decision is read from its audit record and follow-ups (as ``signalops why``
does), never from today's strategy files: the dashboard shows what the engine saw then.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from signalops import numbers
from signalops.audit import why
from signalops.audit.expand import PROBLEMS
from signalops.audit.interface import AuditStore
from signalops.audit.queries import decision_values, newest_first
from signalops.audit.store import PendingApproval
from signalops.config import Config
from signalops.dashboard.formatting import detail_text, risk_figure
from signalops.execution.paper import VENUE as PAPER_VENUE
from signalops.explain.render import leaf_number, leaf_value, threshold_text
from signalops.explain.text import format_age
from signalops.orders import Fill, Side

Record = Mapping[str, Any]
# An asset's quote currency (the currency of its prices and of an order's notional).
QuoteOf = Callable[[str], str | None]


def no_quote(asset: str) -> str | None:
    return None


def quotes(config: Config, fallback: str | None = None) -> QuoteOf:
    """Each asset's quote currency: its venue's (``USDT`` on Binance, ``USD`` on Coinbase or
    Yahoo; a Yahoo coin's own, ``Venues.asset_quote``), else ``fallback`` (the paper
    account's)."""

    def quote(asset: str) -> str | None:
        return config.venues.asset_quote(asset) or fallback

    return quote


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def signed_duration(delta: timedelta) -> str:
    """``4m``, ``2.5h``; negative spans read ``-4m`` (a replayed decision in the future)."""
    seconds = delta.total_seconds()
    return ("-" if seconds < 0 else "") + format_age(abs(seconds))


# --- the approval queue ------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingRow:
    approval_id: str
    decision_id: str
    asset: str
    side: str
    quantity: str
    price: str
    notional: str
    strategy: str
    decided_at: str
    age: str
    expires_at: str
    expires_in: str
    expired: bool

    def label(self) -> str:
        return f"{self.side} {self.quantity} {self.asset} · {self.strategy} · {self.approval_id}"

    def table_row(self) -> dict[str, Any]:
        # What a trader weighs first, first: on a phone's 390 px only the first columns show
        # without scrolling the grid sideways; the id (in the open approval's heading) last.
        return {
            "side": self.side,
            "asset": self.asset,
            "size": self.quantity,
            "notional": self.notional,
            "expires in": "EXPIRED" if self.expired else self.expires_in,
            "price": self.price,
            "strategy": self.strategy,
            "age": self.age,
            "approval": self.approval_id,
        }


def pending_rows(
    pending: Sequence[PendingApproval], now: datetime, quote_of: QuoteOf = no_quote
) -> list[PendingRow]:
    """The queue's rows; size exactly as ordered, price and notional as money in the asset's
    quote currency (``499.97 USDT``)."""
    rows = []
    for item in pending:
        order = item.record.get("order") or {}
        expires = item.expires_at
        quote = quote_of(item.asset)
        rows.append(
            PendingRow(
                approval_id=item.approval_id or item.decision_id,
                decision_id=item.decision_id,
                asset=item.asset,
                side=str(order.get("side", "?")),
                quantity=_quantity(order.get("quantity")),
                price=_price(order.get("reference_price"), quote),
                notional=_money(order.get("notional"), quote),
                strategy=item.strategy,
                decided_at=item.as_of,
                age=signed_duration(now - parse_iso(item.as_of)),
                expires_at=expires.isoformat().replace("+00:00", "Z") if expires else "never",
                expires_in=signed_duration(expires - now) if expires else "never",
                expired=item.expired,
            )
        )
    return rows


def _quantity(value: Any) -> str:
    return "" if value is None else numbers.quantity(value)


def _price(value: Any, quote: str | None = None) -> str:
    return "" if value is None else numbers.price(value, quote)


def _money(value: Any, quote: str | None = None) -> str:
    return "" if value is None else numbers.money(value, quote)


# --- one decision ------------------------------------------------------------------------------


def why_text(record: Record, followups: Sequence[Record]) -> str:
    """Exactly the lines ``signalops why`` prints, as plain text."""
    return "\n".join(line.plain for line in why.why(record, followups))


def tree_gap(record: Record, audit: AuditStore) -> str | None:
    """Why an expanded decision has no logic tree to draw (its ``trace`` is None), in words for
    the page; None when it has one. A compact record's trace is re-derived from the tree the log
    stores: one appended without its strategy (through the API alone) cites a tree the log does
    not hold."""
    if record.get("trace") is not None:
        return None
    reference = record.get("strategy")
    cited = reference.get("tree") if isinstance(reference, Mapping) else None
    if isinstance(cited, str) and audit.tree_document(cited) is None:
        return (
            f"tree not stored in the log (the record cites tree `{cited[:19]}…`, which the log "
            "does not hold: the decision was appended without its strategy)"
        )
    problems = [str(p) for p in record.get(PROBLEMS) or ()]
    return "; ".join(problems) or "the record holds no trace"


def leaf_rows(record: Record) -> list[dict[str, Any]]:
    """Every condition of the decision's trees: status, value, threshold, data time and age.

    ``record`` is expanded (``signalops.audit.expand.expanded``): a compact one has no trace.
    """
    rows = []
    for leaf in (record.get("trace") or {}).get("leaves", []):
        age = leaf.get("age_seconds")
        limit = leaf.get("max_age_seconds")
        shown = leaf_number(leaf)  # as ``why`` writes them: a return as -1.93%, not -0.0193101
        rows.append(
            {
                "status": leaf.get("status"),
                "condition": leaf.get("text"),
                "rule": leaf.get("rule"),
                "source": leaf.get("source"),
                "value": leaf_value(leaf, shown),
                "threshold": threshold_text(leaf, shown),
                "data time": leaf.get("data_timestamp") or "no data",
                "age": "" if age is None else format_age(age),
                "max age": "" if limit is None else format_age(limit),
                "why unknown": leaf.get("reason") or "",
            }
        )
    return rows


def veto_rows(record: Record) -> list[dict[str, Any]]:
    rows = []
    for veto in (record.get("trace") or {}).get("vetoes", []):
        status = veto.get("status")
        rows.append(
            {
                "veto": veto.get("id"),
                "blocks": "/".join(veto.get("blocks", [])),
                "state": "clear" if status == "FAIL" else "BLOCKS",
                "status": status,
                "description": veto.get("description") or "",
            }
        )
    return rows


def risk_rows(risk: Record | None, quote: str | None = None) -> list[dict[str, Any]]:
    """Each check with its actual value and limit in the check's unit (``5.00%`` of equity,
    ``2d``, ``499.97 USDT``), the other details after them."""
    if not risk:
        return []
    return [_risk_row(check, quote) for check in risk.get("checks", [])]


def _risk_row(check: Record, quote: str | None) -> dict[str, Any]:
    details = check.get("details")
    found = dict(details) if isinstance(details, Mapping) else {}
    unit = found.pop("unit", None)
    actual, limit = found.pop("actual", None), found.pop("limit", None)
    if not isinstance(details, Mapping):  # an older record: details as one text
        return {
            "check": check.get("code"),
            "result": "PASS" if check.get("passed") else "FAIL",
            "actual": "",
            "limit": "",
            "unit": "",
            "details": why.details_text(details),
        }
    return {
        "check": check.get("code"),
        "result": "PASS" if check.get("passed") else "FAIL",
        "actual": risk_figure(actual, unit, quote),
        "limit": risk_figure(limit, unit, quote),
        "unit": unit or "",
        "details": ", ".join(
            f"{name.replace('_', ' ')} {detail_text(name, value, quote)}"
            for name, value in sorted(found.items())
        ),
    }


# --- the decision feed -------------------------------------------------------------------------


def has_records(audit: AuditStore) -> bool:
    """Whether the log holds any record: the head says so; counted (a walk of an index) only
    when there is no head, i.e. an empty log or one that lost its head row."""
    return audit.head() is not None or audit.count() > 0


def distinct_values(audit: AuditStore, column: str) -> list[str]:
    """Values of an indexed decision column (strategy or asset), for the feed's filters."""
    return decision_values(audit, column)


def runners(audit: AuditStore) -> list[str]:
    """The named runners of a shared (PostgreSQL) log, for the feed's runner column and filter;
    none on SQLite (one unnamed writer), whose feed has neither."""
    return audit.runners()


def decision_rows(
    audit: AuditStore,
    *,
    strategy: str | None = None,
    asset: str | None = None,
    verdict: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 200,
    runner: str | None = None,
    runners: Sequence[str] = (),
    quote_of: QuoteOf = no_quote,
) -> list[dict[str, Any]]:
    """The feed, newest first: one row per evaluation (HOLD and BLOCKED included).

    ``runners``: the log's named runners (``runners(audit)``); when there are any, each row
    says which one decided, and ``runner`` keeps one runner's decisions. ``quote_of``: the
    currency each asset's notional is in.
    """
    filters: dict[str, Any] = {
        "asset": asset,
        "strategy": strategy,
        "verdict": verdict,
        "since": since,
        "until": until,
    }
    if not runners:
        return [
            _feed_row(audit, record, quote_of) for record in audit.decisions(**filters, limit=limit)
        ]
    return [
        _feed_row(audit, record, quote_of, runner=name)
        for name, record in _runner_decisions(
            audit, filters, limit, [runner] if runner else runners
        )
    ]


def _runner_decisions(
    audit: AuditStore, filters: dict[str, Any], limit: int, runners: Sequence[str]
) -> list[tuple[str, dict[str, Any]]]:
    """(runner, decision) of the newest ``limit`` decisions of these runners, newest first.

    The runner is a column of the shared log, outside the hashed record: each runner's newest
    ``limit`` are asked for on their own (``decisions(runner=...)``) and merged, which holds
    the newest ``limit`` of them all.
    """
    found = [
        (name, record)
        for name in runners
        for record in audit.decisions(**filters, limit=limit, runner=name)
    ]
    found.sort(key=lambda pair: (pair[1]["as_of"], pair[1]["seq"]), reverse=True)
    return found[:limit]


def _feed_row(
    audit: AuditStore, record: Record, quote_of: QuoteOf, *, runner: str | None = None
) -> dict[str, Any]:
    followups = audit.followups(record["decision_id"])
    order = record.get("order") or {}
    row = {"as of": record["as_of"], "asset": record["asset"]}
    if runner is not None:  # next to what it decided about: in view without scrolling
        row["runner"] = runner
    row.update(
        {
            "verdict": record["verdict"],
            "outcome": why.outcome(record, followups),
            "size": _quantity(order.get("quantity")),
            "notional": _money(order.get("notional"), quote_of(record["asset"])),
            "what happened": why.headline(record, followups, audit),
            "strategy": record["strategy"]["name"],
            "mode": record.get("mode"),
            "decision": record["decision_id"],
        }
    )
    return row


# --- the portfolio -----------------------------------------------------------------------------


def equity_points(
    fills: Sequence[Fill], starting_cash: Decimal, until: datetime
) -> list[dict[str, Any]]:
    """Equity after each fill up to ``until``, positions marked at their latest fill price.

    The ledger holds no market prices between fills, so this is the equity the account would
    show at each trade; the last point repeats it at ``until`` so the line reaches today.
    """
    cash = starting_cash
    held: dict[str, Decimal] = {}
    marks: dict[str, Decimal] = {}
    points: list[dict[str, Any]] = []
    for fill in sorted(fills, key=lambda f: f.at):
        if fill.at > until:
            break
        if not points:
            points.append({"time": fill.at, "equity": float(starting_cash)})
        notional = fill.quantity * fill.price
        if fill.side is Side.BUY:
            cash -= notional + fill.fee
            held[fill.asset] = held.get(fill.asset, Decimal(0)) + fill.quantity
        else:
            cash += notional - fill.fee
            held[fill.asset] = held.get(fill.asset, Decimal(0)) - fill.quantity
        marks[fill.asset] = fill.price
        equity = cash + sum((q * marks[a] for a, q in held.items()), Decimal(0))
        points.append({"time": fill.at, "equity": float(equity)})
    if points and points[-1]["time"] < until:
        points.append({"time": until, "equity": points[-1]["equity"]})
    return points


def fill_rows(fills: Sequence[Fill], until: datetime, quote: str) -> list[dict[str, Any]]:
    """The paper fills up to ``until``, newest first; prices and fees in ``quote`` (the paper
    account's currency, named in the column headers)."""
    return [
        {
            "time": fill.at.isoformat().replace("+00:00", "Z"),
            "asset": fill.asset,
            "side": fill.side.value,
            "quantity": numbers.quantity(fill.quantity),
            f"price ({quote})": numbers.price(fill.price),
            f"fee ({quote})": numbers.price(fill.fee),
            "order": fill.venue_order_id or fill.client_order_id,
        }
        for fill in sorted(fills, key=lambda f: f.at, reverse=True)
        if fill.at <= until
    ]


def live_fill_rows(audit: AuditStore) -> list[dict[str, Any]]:
    """Fills from venues other than the paper ledger (auto mode), as the audit log has them."""
    rows = []
    for record in newest_first(audit, "fill"):
        fill = record.get("fill") or {}
        if fill.get("venue") in (None, PAPER_VENUE):
            continue
        rows.append(
            {
                "time": fill.get("at"),
                "venue": fill.get("venue"),
                "asset": fill.get("asset"),
                "side": fill.get("side"),
                "quantity": _quantity(fill.get("quantity")),
                "price": _price(fill.get("price")),
                "fee": _price(fill.get("fee")),
            }
        )
    return rows
