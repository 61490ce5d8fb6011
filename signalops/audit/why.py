"""Why did it trade, or not? One decision record and its follow-ups, told to a trader.

Everything shown comes from the log alone (the trace, the risk checks, the order and execution
dicts, the follow-up records), never from the strategy file or the code as they are today: a
decision made last month is explained with last month's tree, values and thresholds. A compact
decision's trace is re-derived from the tree the log stored for it
(``signalops.audit.expand.expanded``); ``find_decision`` and ``find_decisions`` return records
expanded, and ``why``/``why_json`` expand any compact record they are given (with trees this
process has read already: pass ``log`` for the others). When the re-derivation disagrees with
the record, or the tree cannot be had, the story says so in a WARNING line.

``why`` returns rich ``Text`` lines, the trees drawn by the one renderer
(``signalops.explain.render``, record view) and the figures written for people
(``signalops.explain.figures``: ``500.00``, ``2d``, ``5%``); ``why_json`` the same facts as a
dict for programs, every figure as the record holds it (its headline and summaries too).
A reading answered from SEC filings carries, in both, the filed facts its observation's detail
cites (``with_facts``: the trace itself keeps no adapter's detail), so a fundamental says which
filing it came from (form, filing date, period).
Find the record with ``AuditLog.get(decision_id)`` or by asset and time with ``find_decision``;
``find_decisions`` gives every strategy's decision at that time, which ``why_grouped`` (and
``why_json_grouped``) tell one after the other under each strategy's name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.text import Text

from signalops.audit.expand import PROBLEMS, derive, expanded, is_compact, veto_statuses
from signalops.audit.record import APPROVAL, DECISION, EXPIRY, FILL, ORDER_RESULT, ORDER_SUBMITTED
from signalops.evaluation.nodes import Status
from signalops.explain import figures
from signalops.explain.render import RECORD, plain, tree_lines

if TYPE_CHECKING:
    from signalops.audit.interface import AuditStore

Record = Mapping[str, Any]

_PAST = {"BUY": "BOUGHT", "SELL": "SOLD"}
_VERB = {"BUY": "bought", "SELL": "sold"}
# Outcome -> style of the headline.
_OUTCOME_STYLE = {
    "FILLED": "bold green",
    "HOLD": "bold",
    "BLOCKED": "bold red",
    "DENIED": "bold red",
    "REJECTED": "bold red",
    "FAILED": "bold red",
    "EXPIRED": "bold yellow",
    "PENDING_APPROVAL": "bold yellow",
}


# --- what happened, in one word and one line ---------------------------------------------------


def outcome(record: Record, followups: Sequence[Record] = ()) -> str:
    """Where the decision ended up: HOLD, BLOCKED, DENIED, or the latest execution state.

    Execution states: FILLED, SUBMITTED, FAILED, NOT_EXECUTED, PENDING_APPROVAL, APPROVED,
    REJECTED, EXPIRED, or SIGNAL when no execution was recorded (an evaluation without orders).
    An approval that states its execution (``outcome``: a paper fill, or NOT_EXECUTED when its
    re-check failed) ends there; APPROVED is an approval whose order is still to come.
    """
    verdict = record["verdict"]
    if verdict in ("HOLD", "BLOCKED"):
        return verdict
    risk = record.get("risk")
    if risk is not None and not risk.get("approved"):
        return "DENIED"
    state = (record.get("execution") or {}).get("status") or "SIGNAL"
    for item in followups:
        kind = item["kind"]
        if kind == APPROVAL and item.get("approved"):
            state = (item.get("outcome") or {}).get("status") or "APPROVED"
        elif kind == APPROVAL:
            state = "REJECTED"
        elif kind == EXPIRY:
            state = "EXPIRED"
        elif kind == ORDER_SUBMITTED:
            state = "SUBMITTED"
        elif kind == ORDER_RESULT:
            state = (item.get("execution") or {}).get("status") or state
        elif kind == FILL:
            state = "FILLED"
    return state


def details_text(details: Any, *, exact: bool = False) -> str:
    """A risk check's details in words: ``actual 1d, last trade 2023-03-10T00:00:00Z, limit
    3d, unit time since the last trade on the asset`` (``signalops.explain.figures``);
    ``exact``: every figure as the record holds it (``actual 86400, ...``)."""
    if details in (None, "", {}, []):
        return ""
    if not exact:
        return figures.details_text(details)
    if isinstance(details, Mapping):
        # Sorted: a stored record's keys are (canonical JSON), so the text is the same before
        # and after the record went through the log.
        items = sorted(details.items())
        return ", ".join(f"{k.replace('_', ' ')} {plain(v)}" for k, v in items)
    return plain(details)


def failed_recheck(approval: Record) -> tuple[str, ...] | None:
    """The codes an approval's failed re-check was denied with (empty: none recorded), or None
    when it is not an approval whose re-check failed (``signalops.pipeline.approvals`` records
    those approved, with ``outcome: {status: NOT_EXECUTED}``)."""
    if approval.get("kind") != APPROVAL or not approval.get("approved"):
        return None
    if (approval.get("outcome") or {}).get("status") != "NOT_EXECUTED":
        return None
    checks = ((approval.get("recheck") or {}).get("risk") or {}).get("checks") or []
    return tuple(str(c.get("code")) for c in checks if not c.get("passed"))


def recheck_text(codes: Sequence[str]) -> str:
    """``re-check failed (COOLDOWN)``: the words for ``failed_recheck``'s codes."""
    return "re-check failed" + (f" ({', '.join(codes)})" if codes else "")


def _last(followups: Sequence[Record], kind: str) -> Record | None:
    found = [f for f in followups if f["kind"] == kind]
    return found[-1] if found else None


def headline(
    record: Record,
    followups: Sequence[Record] = (),
    log: AuditStore | None = None,
    *,
    exact: bool = False,
) -> str:
    """The verdict in words: ``BOUGHT``, ``would have bought but BLOCKED by veto x``...

    A compact record's entry and veto statuses are re-derived (with the trees this process has
    read, or ``log``'s): a HOLD and a block say whether their data was unknown. A denial's
    figures are written for people (``actual 1d``), or with ``exact`` as recorded.
    """
    state = outcome(record, followups)
    action = record.get("action") or ""
    if state == "HOLD":
        if record.get("conflicts"):
            return f"HOLD: {record['conflicts'][0]}"
        if _entry_status(record, log) == "UNKNOWN":
            return "HOLD: no entry signal (the entry data is unknown)"
        return "HOLD: no entry signal"
    if state == "BLOCKED":
        statuses = veto_statuses(record, log)
        names = [
            f"{veto} (data unknown)" if statuses.get(veto) == "UNKNOWN" else veto
            for veto in record.get("blocked_by", [])
        ]
        word = "veto" if len(names) == 1 else "vetoes"
        return f"would have {_VERB.get(action, action)} but BLOCKED by {word} {', '.join(names)}"
    if state == "DENIED":
        failed = [c for c in (record.get("risk") or {}).get("checks", []) if not c.get("passed")]
        said = [(c["code"], details_text(c.get("details"), exact=exact)) for c in failed]
        reasons = [f"{code} ({words})" if words else code for code, words in said]
        return "DENIED by the risk gate: " + ("; ".join(reasons) or "no reason recorded")
    execution = record.get("execution") or {}
    if state == "FILLED":
        return _PAST.get(action, action)
    if state == "PENDING_APPROVAL":
        expires = execution.get("expires_at")
        return f"{action} awaiting approval" + (f" until {expires}" if expires else "")
    approval = _last(followups, APPROVAL) or {}
    if state == "REJECTED":
        return f"{action} REJECTED by {approval.get('by')}"
    if state == "APPROVED":
        return f"{action} approved by {approval.get('by')}, not filled yet"
    codes = failed_recheck(approval)
    if state == "NOT_EXECUTED" and codes is not None:
        return f"{action} approved by {approval.get('by')}; {recheck_text(codes)}: not executed"
    if state == "EXPIRED":
        return f"{action} EXPIRED without approval"
    if state == "SUBMITTED":
        return f"{action} order submitted, not filled yet"
    # The latest word on the execution: the decision's, an approval's paper outcome, a venue's.
    result = _last(followups, ORDER_RESULT) or {}
    message = execution.get("message") or ""
    for told in (approval.get("outcome"), result.get("execution")):
        message = (told or {}).get("message") or message
    if state == "FAILED":
        return f"{action} FAILED" + (f": {message}" if message else "")
    if state == "NOT_EXECUTED":
        return f"{action} signal, not executed" + (f": {message}" if message else "")
    return f"{action} signal (no order recorded)"


def _entry_status(record: Record, log: AuditStore | None) -> str | None:
    if not is_compact(record) or "trace" in record:
        entry = (record.get("trace") or {}).get("entry") or {}
        return entry.get("status")
    derivation = derive(record, log)
    if derivation.tree is None or derivation.evaluation is None:
        return None
    return Status(derivation.evaluation.statuses[derivation.tree.entry.index]).name


def followup_summary(item: Record, quote: str | None = None, *, exact: bool = False) -> str:
    """One follow-up in words: ``approved by alice``, ``filled 0.05 BTC at 20,010.00 USDT,
    fee 1.00 USDT (paper)`` (``quote``: the story's currency, when known); ``exact``: the
    figures as recorded (``filled 0.05 BTC at 20010, fee 1.0005 (paper)``)."""
    kind = item["kind"]
    if kind == APPROVAL:
        text = f"{'approved' if item.get('approved') else 'rejected'} by {item.get('by')}"
        text += f": {item['note']}" if item.get("note") else ""
        codes = failed_recheck(item)
        return text + (f"; {recheck_text(codes)}: not executed" if codes is not None else "")
    if kind == EXPIRY:
        return f"expired (approval {item.get('approval_id')} was due by {item.get('expires_at')})"
    if kind == FILL:
        fill = item.get("fill") or {}
        return "filled " + (_fill_text(fill) if exact else figures.fill_text(fill, quote))
    if kind == ORDER_SUBMITTED:
        return f"order {item.get('client_order_id')} submitted"
    if kind == ORDER_RESULT:
        execution = item.get("execution") or {}
        text = f"order {item.get('client_order_id')}: {execution.get('status')}"
        message = execution.get("message") if exact else figures.execution_message(execution)
        return text + (f": {message}" if message else "")
    return kind


def _fill_text(fill: Record) -> str:
    """A fill's figures exactly as recorded (``why_json``'s summaries)."""
    text = f"{fill.get('quantity')} {fill.get('asset')} at {fill.get('price')}"
    text += f", fee {fill.get('fee')}"
    if fill.get("venue"):
        text += f" ({fill['venue']})"
    return text


# --- the trees, from the trace JSON -----------------------------------------------------------


def trees(trace: Record) -> Iterator[Text]:
    """Entry, exit and veto trees with each node's status and each leaf's data."""
    return tree_lines(trace, RECORD)


# A fact cited from a filing (``signalops.adapters._facts.Fact.cite``: concept, val, end, accn,
# form, filed, start?): what a fundamental from SEC EDGAR was computed from.
_CITED = ("accn", "filed", "end")


def cited_facts(detail: Any) -> list[dict[str, Any]]:
    """Every filed fact an observation's ``detail`` cites, each once, in the order it cites
    them (a derived quarter cites again the quarters it subtracts); empty for a detail that
    cites none (prices, on-chain series, Yahoo's fundamentals)."""
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            if all(key in value for key in _CITED):
                fact = dict(value)
                if fact not in found:
                    found.append(fact)
                return
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(detail)
    return found


def _reading_key(source: Any, metric: Any, data_time: Any, value: Any) -> tuple[str, ...]:
    return (str(source), str(metric), str(data_time), repr(value))


def with_facts(trace: Record, observations: Sequence[Record]) -> dict[str, Any]:
    """``trace`` with, on each reading whose observation cites filed facts, those facts
    (``facts``), the leaves and ``triggers_met`` alike; ``trace`` itself is left as it is.

    A reading is its observation's source, metric, data time and value (the trace names no
    request); readings that two observations with different facts would both match get none.
    """
    found: dict[tuple[str, ...], list[dict[str, Any]] | None] = {}
    for observation in observations:
        facts = cited_facts(observation.get("detail"))
        if not facts:
            continue
        key = _reading_key(
            observation.get("source"),
            observation.get("metric"),
            observation.get("data_time"),
            observation.get("value"),
        )
        if key in found and found[key] != facts:
            found[key] = None  # read alike, cited differently: which reading is whose is unknown
        else:
            found[key] = facts
    if not any(found.values()):
        return dict(trace)

    def told(leaf: Record) -> dict[str, Any]:
        readings = []
        for reading in leaf.get("readings") or []:
            key = _reading_key(
                reading.get("source"),
                reading.get("metric"),
                reading.get("data_timestamp"),
                reading.get("value"),
            )
            facts = found.get(key)
            readings.append({**reading, "facts": facts} if facts else reading)
        return {**leaf, "readings": readings}

    out = dict(trace)
    for name in ("leaves", "triggers_met"):
        if trace.get(name):
            out[name] = [told(leaf) for leaf in trace[name]]
    return out


def _told_trace(record: Record) -> dict[str, Any]:
    """The record's trace as ``why`` tells it: with each reading's filed facts."""
    return with_facts(record.get("trace") or {}, record.get("observations") or [])


# --- the whole story ---------------------------------------------------------------------------


def story_quote(record: Record, followups: Sequence[Record] = ()) -> str | None:
    """The quote currency a decision's execution, or a follow-up's, states (the paper
    account's ``USDT``, or the one of the venue's symbol: an auto order's result); None when
    none does (a denial, a HOLD: figures without it)."""
    executions = [record.get("execution")]
    for item in followups:
        executions += [item.get("outcome"), item.get("execution")]
    found = (figures.quote_of(e) for e in executions if isinstance(e, Mapping))
    return next((quote for quote in found if quote), None)


def _risk_lines(risk: Record | None) -> Iterator[Text]:
    if risk is None:
        yield Text("RISK: not checked (no order to check)", style="dim")
        return
    approved = risk.get("approved")
    head = Text("RISK: ", style="bold")
    head.append("approved" if approved else "DENIED", style="green" if approved else "bold red")
    yield head
    for check in risk.get("checks", []):
        passed = check.get("passed")
        line = Text(f"  {'PASS' if passed else 'FAIL':<7} ", style="green" if passed else "red")
        line.append(str(check.get("code")), style="bold")
        details = details_text(check.get("details"))
        if details:
            line.append(f": {details}")
        yield line


def _outcome_lines(record: Record, quote: str | None) -> Iterator[Text]:
    order = record.get("order")
    if order:
        line = Text("ORDER: ", style="bold")
        line.append(
            f"{figures.order_text(order, quote)}, client order {order.get('client_order_id')}"
        )
        yield line
    else:
        yield Text("ORDER: none", style="dim")
    execution = record.get("execution")
    if not execution:
        yield Text("EXECUTION: none", style="dim")
        return
    line = Text("EXECUTION: ", style="bold")
    line.append(str(execution.get("status")))
    message = figures.execution_message(execution)
    if message:
        line.append(f": {message}")
    yield line
    if execution.get("fill"):
        fill = execution["fill"]
        yield Text(f"  fill {figures.fill_text(fill, quote)} at {fill.get('at')}")
    if execution.get("approval_id"):
        text = f"  approval {execution['approval_id']}"
        if execution.get("expires_at"):
            text += f", expires {execution['expires_at']}"
        yield Text(text)
    if execution.get("venue_order_id"):
        yield Text(f"  venue order {execution['venue_order_id']}")


def full(record: Record, log: AuditStore | None = None) -> Record:
    """``record`` with its trace: expanded when it is a compact decision not expanded yet."""
    if is_compact(record) and "trace" not in record:
        return expanded(record, log)
    return record


def why(
    record: Record, followups: Sequence[Record] = (), log: AuditStore | None = None
) -> list[Text]:
    """A decision and what followed it, as lines for a terminal (``.plain`` for plain text)."""
    if record.get("kind") != DECISION:
        raise ValueError(f"record {record.get('id')} is a {record.get('kind')}, not a decision")
    record = full(record, log)
    state = outcome(record, followups)
    strategy = record.get("strategy") or {}
    head = Text(f"{record['asset']} at {record['as_of']}: ", style="bold")
    head.append(headline(record, followups), style=_OUTCOME_STYLE.get(state, "bold"))
    facts = Text(style="dim")
    facts.append(f"{strategy.get('name')}  {str(strategy.get('hash'))[:19]}…  ")
    facts.append(f"mode {record.get('mode')}  ({strategy.get('file')})")
    ident = Text(f"decision {record['id']}  recorded {record.get('recorded_at')}", style="dim")
    if record.get("seq") is not None:
        ident.append(f"  seq {record['seq']}  hash {str(record.get('hash'))[:12]}…")
    lines = [head, facts, ident]
    lines += [
        Text(f"WARNING: {problem}", style="bold red") for problem in record.get(PROBLEMS) or ()
    ]
    if record.get("verdict") == "BLOCKED":
        lines += [Text(f"conflict: {c}", style="magenta") for c in record.get("conflicts", [])]
    if record.get("trace"):
        lines += list(trees(_told_trace(record)))
    else:
        lines.append(Text("TREES: cannot be shown (see the warning above)", style="bold red"))
    quote = story_quote(record, followups)
    lines += list(_risk_lines(record.get("risk")))
    lines += list(_outcome_lines(record, quote))
    if not followups:
        lines.append(Text("FOLLOW-UPS: none", style="dim"))
    else:
        lines.append(Text("FOLLOW-UPS:", style="bold"))
        for item in followups:
            lines.append(Text(f"  {followup_time(item)}  {followup_summary(item, quote)}"))
    return lines


def followup_time(item: Record) -> Any:
    """When a follow-up happened: a fill's own time, else when it was recorded. A backtest
    records a fill at the decision's time but fills it at the next bar's open (a stock's next
    session, a day and more later); a paper fill in a run is recorded as it fills."""
    fill = item.get("fill") if item.get("kind") == FILL else None
    return (fill or {}).get("at") or item.get("recorded_at")


def why_json(
    record: Record, followups: Sequence[Record] = (), log: AuditStore | None = None
) -> dict[str, Any]:
    """The same story for programs: the outcome, the headline, the trees and every follow-up,
    every figure as the record holds it (``why`` writes them for people)."""
    if record.get("kind") != DECISION:
        raise ValueError(f"record {record.get('id')} is a {record.get('kind')}, not a decision")
    record = full(record, log)
    trace = _told_trace(record)
    told = {
        "decision_id": record["decision_id"],
        "asset": record["asset"],
        "as_of": record["as_of"],
        "recorded_at": record.get("recorded_at"),
        "seq": record.get("seq"),
        "hash": record.get("hash"),
        "strategy": record.get("strategy"),
        "mode": record.get("mode"),
        "verdict": record["verdict"],
        "action": record.get("action"),
        "outcome": outcome(record, followups),
        "headline": headline(record, followups, exact=True),
        "blocked_by": record.get("blocked_by", []),
        "conflicts": record.get("conflicts", []),
        "triggers_met": trace.get("triggers_met", []),
        "entry": trace.get("entry"),
        "exit": trace.get("exit"),
        "vetoes": trace.get("vetoes", []),
        "leaves": trace.get("leaves", []),
        "risk": record.get("risk"),
        "order": record.get("order"),
        "execution": record.get("execution"),
        "followups": [
            {
                "kind": item["kind"],
                "id": item["id"],
                "recorded_at": item.get("recorded_at"),
                "summary": followup_summary(item, exact=True),
                "record": dict(sorted(item.items())),  # one order whatever the layout
            }
            for item in followups
        ],
    }
    if record.get(PROBLEMS):
        told[PROBLEMS] = list(record[PROBLEMS])
    return told


def find_decisions(
    log: AuditStore, asset: str, when: datetime | date, *, strategy: str | None = None
) -> list[dict[str, Any]]:
    """Every strategy's decision on ``asset`` in force at ``when``, in the order they were
    recorded (one per strategy: with a date, its latest that UTC day; with a datetime, its
    latest at or before it). ``strategy`` narrows it to one name (or ``sha256:`` hash)."""
    from signalops.audit.queries import decision_values

    names = [strategy] if strategy is not None else decision_values(log, "strategy")
    found = [log.decision_at(asset, when, strategy=name) for name in names]
    if strategy is None and not any(found):  # a log whose index names no strategy
        found = [log.decision_at(asset, when)]
    records = sorted((r for r in found if r is not None), key=lambda r: r.get("seq") or 0)
    return [expanded(record, log) for record in records]


def nearest_days(
    log: AuditStore, asset: str, when: datetime | date, *, strategy: str | None = None
) -> tuple[date | None, date | None]:
    """The UTC days of the decisions on ``asset`` (``strategy``'s, if given) nearest ``when``,
    which ``find_decisions`` found none at: the latest day before it and the earliest after
    (None: the log has none on that side). A date with none is most often a stock's weekend or
    holiday, or past either end of a backtest: these are the days to ask about instead."""
    if isinstance(when, datetime):
        # ``find_decisions`` found none at or before it: only later ones can be there.
        return None, _first_day(log, asset, strategy, when)
    # The first and last days a date can be have no day before or after them.
    before = (
        []
        if when == date.min
        else log.decisions(asset=asset, strategy=strategy, until=when - timedelta(days=1), limit=1)
    )
    after = None if when == date.max else _first_day(log, asset, strategy, when + timedelta(days=1))
    return (_day(before[0]["as_of"]) if before else None), after


def nearest_text(before: date | None, after: date | None) -> str | None:
    """``nearest_days`` in words: ``the nearest are on 2022-01-28 and 2022-01-31``."""
    if before is not None and after is not None:
        return f"the nearest are on {before} and {after}"
    if before is not None:
        return f"the last is on {before}"
    if after is not None:
        return f"the first is on {after}"
    return None


def _first_day(
    log: AuditStore, asset: str, strategy: str | None, since: datetime | date
) -> date | None:
    """The first UTC day holding a decision at or after ``since``. The log reads decisions
    newest first, so the day is found by asking whether ``[since, day]`` holds any (one index
    seek each, ``limit=1``): spans doubling from ``since`` until one does, then halving inside
    the last: a weekend's gap costs three or four seeks, a gap of years some twenty."""

    def any_by(day: date) -> bool:
        return bool(log.decisions(asset=asset, strategy=strategy, since=since, until=day, limit=1))

    newest = log.decisions(asset=asset, strategy=strategy, since=since, limit=1)
    if not newest:
        return None
    first = since.date() if isinstance(since, datetime) else since
    low, high, span = first, _day(newest[0]["as_of"]), 1
    while True:  # ends by the newest's day, which holds one
        probe = min(first + timedelta(days=span - 1), high)
        if any_by(probe):
            high = probe
            break
        low, span = probe + timedelta(days=1), span * 2
    while low < high:  # none before ``low``; one by ``high``
        middle = low + (high - low) // 2
        if any_by(middle):
            high = middle
        else:
            low = middle + timedelta(days=1)
    return high


def _day(as_of: Any) -> date:
    """The UTC day of a record's ``as_of`` (``2022-01-28T00:00:00Z``)."""
    return date.fromisoformat(str(as_of)[:10])


def why_grouped(stories: Sequence[tuple[Record, Sequence[Record]]]) -> list[Text]:
    """Several decisions (record, follow-ups) at one moment, each under its strategy's name.

    One decision is told exactly as ``why`` tells it: the grouping only appears when there is
    something to group.
    """
    if len(stories) == 1:
        return why(*stories[0])
    first = stories[0][0]
    moments = {record["as_of"] for record, _ in stories}
    at = f" at {first['as_of']}" if len(moments) == 1 else ""
    lines = [Text(f"{first['asset']}{at}: {len(stories)} decisions, by strategy", style="bold")]
    for record, followups in stories:
        name = (record.get("strategy") or {}).get("name")
        lines.append(Text(""))
        lines.append(Text(f"== {name} ==", style="bold cyan"))
        lines += why(record, followups)
    return lines


def why_json_grouped(stories: Sequence[tuple[Record, Sequence[Record]]]) -> dict[str, Any]:
    """``why_json`` of one decision; of several, ``{"asset", "decisions": [...]}`` in the
    order they were recorded (each names its strategy)."""
    if len(stories) == 1:
        return why_json(*stories[0])
    return {
        "asset": stories[0][0]["asset"],
        "decisions": [why_json(record, followups) for record, followups in stories],
    }


def find_decision(
    log: AuditStore, ref: str, when: datetime | date | None = None
) -> dict[str, Any] | None:
    """A decision by id (``dec-…``), or by asset and time: ``find_decision(log, "BTC", day)``.

    With a date, the asset's latest decision that UTC day; with a datetime, the latest at or
    before it (see ``AuditLog.decision_at``).
    """
    record = log.decision_at(ref, when) if when is not None else log.get(ref)
    if record is None or record.get("kind") != DECISION:
        return None
    return expanded(record, log)
