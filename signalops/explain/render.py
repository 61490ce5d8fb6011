"""The one text renderer of a tree: rich ``Text`` lines drawn from the node JSON alone.

Every view of a logic tree goes through ``tree_lines``: ``signalops explain`` (the tree JSON of
``tree_to_dict``, no statuses), ``signalops evaluate`` (the same JSON with a trace laid over it by
``with_trace``), and ``signalops why`` and the dashboard (the trace JSON of a decision record,
re-derived for a compact one by ``signalops.audit.expand``). The JSON formats are
``signalops.evaluation.trace_json``'s; nothing here reads a compiled tree or evaluates anything,
so the drawing of a record can never drift from the drawing of a live evaluation.

Two densities, chosen with ``View``: the live view (``explain``, ``evaluate``) gives each leaf its
source, max ages and line in the file, then each metric as the author wrote it; the record view
(``why``) gives each leaf its value against its threshold, then each metric with all of its
parameters (the record keeps them all, not how they were written), and under a reading computed
from filed facts (``facts``: a fundamental from SEC EDGAR) each filing it drew on.

Values read in their metric's unit (the catalogue's): a return as a percentage (``-1.93%``),
as is any leaf whose threshold is written as one (``< -15%``); a price to six significant
digits (``20,362.22``). Only the words: the JSON keeps the exact numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from signalops import numbers
from signalops.catalogue.spec import format_duration
from signalops.codes import Code
from signalops.evaluation.trace_json import with_trace
from signalops.explain.text import (
    FRACTION,
    describe_reason,
    format_age,
    format_in_unit,
    format_value,
    metric_unit,
)

Json = Mapping[str, Any]

_STYLE = {"PASS": "green", "FAIL": "red", "UNKNOWN": "yellow"}
VERDICT_STYLE = {"BUY": "green", "SELL": "red", "HOLD": "blue", "BLOCKED": "magenta"}


@dataclass(frozen=True, slots=True)
class View:
    """How much of each leaf to show: ``record`` for ``why``; ``file_lines`` adds YAML lines."""

    record: bool = False
    file_lines: bool = False


LIVE = View()
RECORD = View(record=True)


# --- values ------------------------------------------------------------------------------------


def plain(value: Any) -> str:
    """A stored value in words: numbers via ``format_value``, lists joined with ``/``."""
    if isinstance(value, float):
        return format_value(value)
    if isinstance(value, list):
        return "/".join(plain(v) for v in value)
    return str(value)


def _shown(value: Any) -> str:
    return "unknown" if value is None else plain(value)


def reading_name(reading: Json) -> str:
    """A stored reading's metric with every parameter: ``rsi(n=14, timeframe=1d)``."""
    params = dict(reading.get("params") or {})
    prefix = ""
    if "market" in params:
        prefix = f"{reading.get('source')}({params.pop('market')!r})."
    # Sorted, like every stored record's keys: the same line before and after storage.
    shown = ", ".join(f"{k}={plain(v)}" for k, v in sorted(params.items()))
    return f"{prefix}{reading.get('metric')}" + (f"({shown})" if shown else "")


def threshold_text(leaf: Json, shown: Callable[[Any], str] | None = None) -> str:
    """``< 30``; ``< -15% (= -0.15)`` when the number compared with is not what is written
    (units, parameters, a threshold that reads another metric). ``shown`` writes the number
    compared with (``leaf_number(leaf)``: ``< -0.15 (= -15%)`` for a return; by default as
    ``plain``); a threshold written as ``plain`` says it is not repeated in another form
    (``> 20000``, not ``> 20000 (= 20,000.00)``), unless it reads as a percentage."""
    show = shown or _shown
    text = leaf.get("threshold") or ""
    computed = leaf.get("threshold_value")
    if computed is None:
        return text
    if isinstance(computed, list):
        said = " and ".join(show(c) for c in computed)
        written = text.removeprefix("between ")
    else:
        said = show(computed)
        operator = leaf.get("operator") or ""
        written = text.removeprefix(operator).strip()
    same = written == said or (show is not _as_percent and _same_number(written, computed))
    return text if same else f"{text} (= {said})"


def _same_number(written: str, computed: Any) -> bool:
    """Whether a threshold written as a plain number (or numbers, ``30 and 70``) is the number
    compared with: ``20000`` is 20,000, whatever separators ``plain`` writes it with."""
    values = computed if isinstance(computed, list) else [computed]
    parts = written.split(" and ") if isinstance(computed, list) else [written]
    if len(parts) != len(values):
        return False
    for part, value in zip(parts, values, strict=True):
        try:
            if float(part.replace(",", "")) != value:
                return False
        except (TypeError, ValueError):
            return False
    return True


# A threshold that is one number written as a percentage: ``-15%``, ``2.5%`` (not ``$x``,
# ``5`` or ``sma(20) * 95%``, which compares a price).
_WRITTEN_PERCENT = re.compile(r"[-+]?[0-9][0-9,]*(\.[0-9]+)?%")


def _subject_unit(leaf: Json) -> str | None:
    """The catalogue unit of what a leaf compares when that is its first metric as it is
    (``return(7d) < -0.15``, not ``return(7d) * 100 < -15``); None otherwise."""
    readings = leaf.get("readings") or []
    if not readings or leaf.get("value") is None or readings[0].get("value") != leaf["value"]:
        return None
    return metric_unit(readings[0].get("source"), readings[0].get("metric"))


def reads_as_percent(leaf: Json) -> bool:
    """Whether a leaf's value and threshold read as percentages: its threshold is written as
    one (``< -15%``), or it compares a fraction metric (a return) as it is."""
    if _written_as_percent(leaf):
        return True
    return _subject_unit(leaf) == FRACTION


def _written_as_percent(leaf: Json) -> bool:
    """Whether each number a leaf's threshold is compared with is written as a percentage."""
    text = str(leaf.get("threshold") or "")
    if text.startswith("between "):
        parts = text.removeprefix("between ").split(" and ")
    else:
        parts = [text.removeprefix(str(leaf.get("operator") or "")).strip()]
    return all(_WRITTEN_PERCENT.fullmatch(part.strip()) for part in parts)


def _as_percent(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return numbers.percent_trimmed(value, digits=2)
    return _shown(value)


def leaf_number(leaf: Json) -> Callable[[Any], str]:
    """How a leaf's value and threshold are written: as percentages (``-1.93%``, see
    ``reads_as_percent``), in the unit of the metric it compares (a price: ``20,362.22``),
    else as ``plain``; ``unknown`` for a value not there."""
    if reads_as_percent(leaf):
        return _as_percent
    unit = _subject_unit(leaf)
    if not unit:
        return _shown
    return lambda value: "unknown" if value is None else format_in_unit(value, unit)


def leaf_value(leaf: Json, shown: Callable[[Any], str]) -> str:
    """The leaf's value, more exactly where the usual places would read as its threshold
    (``-15%`` failing ``< -15%``: it was -14.9996%)."""
    value, computed = leaf.get("value"), leaf.get("threshold_value")
    text = shown(value)
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (value, computed))
    if not numeric or value == computed or text != shown(computed):
        return text
    if shown is not _as_percent:
        return numbers.quantity(value)  # every digit the float has
    digits = 2
    while text == shown(computed) and digits < 12:
        digits += 2
        text = numbers.percent_trimmed(value, digits=digits)
    return text


def _reading_value(reading: Json) -> str:
    """A reading's value as its metric's unit reads (a return as ``-1.93%``)."""
    if reading.get("value") is None:
        return "unknown"
    return format_in_unit(
        reading.get("value"), metric_unit(reading.get("source"), reading.get("metric"))
    )


# --- one node ----------------------------------------------------------------------------------


def _marked(word: str | None, status: str | None, view: View) -> Text:
    """A line starting with ``word`` (a status, BLOCKS/clear) in the status colour.

    The record view colours the whole line (the status is the line's base style); the live view
    only the word, so that values and thresholds stay readable beside it.
    """
    if word is None or status is None:
        return Text()
    style = f"bold {_STYLE.get(status, '')}"
    if view.record:
        return Text(f"{word:<7} ", style=style)
    return Text().append(f"{word:<7} ", style=style)


def _status(node: Json, view: View) -> str | None:
    # A stored node always has a status; drawing an old or hand-made record, say UNKNOWN.
    return node.get("status", "UNKNOWN" if view.record else None)


def _reading_lines(
    leaf: Json, names: Sequence[str | None], shown: Callable[[Any], str]
) -> Iterator[Text]:
    for i, reading in enumerate(leaf.get("readings") or []):
        # The tree JSON has each metric as the author wrote it; a stored trace only the full one.
        name = names[i] if i < len(names) else reading_name(reading)
        if reading.get("error"):
            yield Text(f"{name}: {reading['error']}", style="yellow")
        elif reading.get("data_timestamp") is None:
            yield Text(f"{name}: no data", style="yellow")
        else:
            value = _reading_value(reading)
            if i == 0 and shown is _as_percent and reading.get("value") == leaf.get("value"):
                value = shown(reading.get("value"))  # the subject, read as its threshold is
            line = Text(f"{name} = {value}")
            age = format_age(reading.get("age_seconds") or 0.0)
            limit = reading.get("max_age_seconds")
            limit_text = f", max {format_duration(limit)}" if limit is not None else ""
            line.append(f" at {reading['data_timestamp']} ({age} old{limit_text})", style="dim")
            yield line
            yield from _filing_lines(reading.get("facts") or ())


def _filing_lines(facts: Sequence[Json]) -> Iterator[Text]:
    """Under a reading computed from filed facts, each filing it drew on, newest first: its
    form, the day it was filed and the periods its statement figures end
    (``10-Q filed 2023-02-03, period ended 2022-12-31``); a filing read only for its cover page
    (the share count) says that page's date (``cover page as of 2023-01-20``)."""
    filings: dict[tuple[str, str, str], list[Json]] = {}
    for fact in facts:
        key = (str(fact.get("filed")), str(fact.get("accn")), str(fact.get("form") or ""))
        filings.setdefault(key, []).append(fact)
    for (filed, _, form), cited in sorted(filings.items(), reverse=True):
        # The dei taxonomy is the cover page: its date is the filing's, not a fiscal period's.
        statements = [f for f in cited if not str(f.get("concept", "")).startswith("dei:")]
        ends = sorted({str(f.get("end")) for f in statements}, reverse=True)
        if ends:
            said = f"period{'s' if len(ends) > 1 else ''} ended {_and(ends)}"
        else:
            said = f"cover page as of {max(str(f.get('end')) for f in cited)}"
        yield Text(f"  {form + ' ' if form else ''}filed {filed}, {said}", style="dim")


def _and(words: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _leaf_lines(node: Json, leaf: Json, view: View) -> Iterator[Text]:
    shown = leaf_number(leaf)
    if view.record:
        value = leaf_value(leaf, shown)
        yield Text(f"value {value} · threshold {threshold_text(leaf, shown)}", style="dim")
    yield from _reading_lines(leaf, node.get("metric_names") or (), shown)
    computed = leaf.get("threshold_value")
    if leaf.get("reason"):
        errors = [reading.get("error") for reading in leaf.get("readings") or []]
        yield Text(f"UNKNOWN: {describe_reason(leaf['reason'], errors)}", style="yellow")
    elif not view.record and computed is not None and node.get("computed_threshold"):
        if isinstance(computed, list):
            low, high = (shown(c) for c in computed)
            yield Text(f"range = {low} .. {high}", style="dim")
        else:
            yield Text(f"threshold = {shown(computed)}", style="dim")


def _predicate_details(node: Json, leaf: Json, view: View) -> str | None:
    if view.record:
        return f"   {leaf['source']}" if leaf.get("source") else None
    metrics = node.get("metrics") or []
    details = [metrics[0]["source"] if metrics else ""]
    if metrics:
        ages = dict.fromkeys(format_duration(m["max_age"]) for m in metrics)
        details.append("max age " + "/".join(ages))
    if view.file_lines:
        details.append(f"line {str(node['span']).rsplit(':', 2)[1]}")
    return "   " + " · ".join(details)


def _sources(node: Json, leaves: Mapping[int, Json]) -> set[str]:
    if node.get("kind") == "predicate":
        leaf = leaves.get(node["node"]) or {}
        return {leaf["source"]} if leaf.get("source") else set()
    return {s for child in node.get("children", []) for s in _sources(child, leaves)}


def _rule_source(node: Json, leaves: Mapping[int, Json]) -> str | None:
    # The tree JSON says the rule's declared source; a stored trace does not, so a rule whose
    # leaves all read one source shows that one.
    if "source" in node:
        return node["source"]
    sources = _sources(node, leaves)
    return next(iter(sources)) if len(sources) == 1 else None


def _label(node: Json, leaves: Mapping[int, Json], view: View) -> list[Text]:
    status = _status(node, view)
    text = _marked(status, status, view)
    kind = node.get("kind")
    if kind == "predicate":
        leaf = leaves.get(node["node"])
        text.append(node.get("text", ""), style="bold")
        details = _predicate_details(node, leaf or {}, view)
        if details is not None:
            text.append(details, style="dim")
        if leaf is None and not view.record:  # the tree alone: nothing was read
            return [text]
        return [text, *_leaf_lines(node, leaf or {}, view)]
    if kind == "all_of" and node.get("rule"):
        text.append(f"rule {node['rule']}", style="bold cyan")
        source = _rule_source(node, leaves)
        if source:
            text.append(f" [{source}]", style="cyan")
        text.append(": all of")
        if node.get("description"):
            text.append(f" — {node['description']}", style="dim")
    elif kind == "at_least":
        text.append(f"at least {node.get('n')} of")
    elif kind == "weighted":
        text.append(f"weighted vote: passes at {_percent(node.get('pass_at'))} of the weight")
        return [text, *_vote_lines(node)]
    elif kind in ("all_of", "any_of"):
        words = "all of" if kind == "all_of" else "any of"
        shown = node.get("text")
        text.append(f"{words}: {shown}" if shown and shown != words else words)
    else:
        text.append(str(kind))
    return [text]


# --- weighted votes ----------------------------------------------------------------------------


def _percent(value: Any) -> str:
    return f"{value * 100:.4g}%" if isinstance(value, int | float) else "?"


def _vote_lines(node: Json) -> list[Text]:
    """Under a weighted vote: the share of the weight that passed, and how weights are measured."""
    lines = []
    low, high = node.get("vote"), node.get("vote_high")
    if "weights" in node and "vote" in node:
        if low is None:
            lines.append(Text("vote unknown: a weight is unknown", style="yellow"))
        elif high is not None and high != low:
            lines.append(
                Text(
                    f"passing weight {_percent(low)}, {_percent(high)} if the unknown pass",
                    style="dim",
                )
            )
        else:
            lines.append(Text(f"passing weight {_percent(low)}", style="dim"))
    spec = node.get("hit_rate")
    if spec:
        move = "rise" if spec.get("direction") != "down" else "fall"
        lines.append(
            Text(
                f"weights: hit rate over {spec.get('window')}: a PASS then a {move} of more than "
                f"{_percent(spec.get('min_return'))} within {spec.get('horizon')} "
                f"({spec.get('step')} bars); under {spec.get('min_samples')} signals: prior "
                f"{plain(spec.get('prior'))}",
                style="dim",
            )
        )
    return lines


def _weight_line(weight: Json, minimum: Any = None) -> Text:
    """One child's weight and where it came from (``minimum``: the vote's min_samples)."""
    source = weight.get("source")
    value = weight.get("weight")
    if value is None:
        reason = weight.get("reason") or Code.MISSING.value
        errors = [weight.get("error")]
        why = _BAD_COUNTS if reason == Code.BAD_DATA else describe_reason(reason, errors)
        said = f" ({weight['error']})" if weight.get("error") else ""
        return Text(f"weight unknown: the hit-rate counts: {why}{said}", style="yellow")
    line = f"weight {plain(value)} · {source}"
    if source in ("hit_rate", "prior"):
        hits, signals = weight.get("hits"), weight.get("signals")
        detail = weight.get("detail") or {}
        if source == "hit_rate":
            line = f"weight {plain(value)} · hit rate {hits} of {signals} signals"
        else:
            needed = f", {minimum} needed" if minimum is not None else ""
            line = f"weight {plain(value)} · prior, n < min ({signals} signals{needed})"
        if "bars" in detail:
            line += f" over {detail['bars']} bars"
            if detail.get("evaluated") != detail["bars"]:
                line += f" ({detail.get('evaluated')} evaluated)"
        if weight.get("data_timestamp"):
            line += f" to {weight['data_timestamp']}"
        if detail.get("unpriced"):
            line += f"; {detail['unpriced']} unpriced"
    return Text(line, style="dim")


_BAD_COUNTS = "counts are not whole numbers with hits <= signals"


def _child_weights(node: Json) -> list[Text | None]:
    """The weight line of each child of ``node`` (None for a child that has no weight)."""
    children = node.get("children", [])
    weights = node.get("weights") if node.get("kind") == "weighted" else None
    if not isinstance(weights, list) or len(weights) != len(children):
        return [None] * len(children)
    minimum = (node.get("hit_rate") or {}).get("min_samples")
    return [_weight_line(w, minimum) if isinstance(w, Mapping) else None for w in weights]


# --- the trees ---------------------------------------------------------------------------------


def _draw(
    node: Json,
    leaves: Mapping[int, Json],
    view: View,
    prefix: str,
    last: bool,
    weight: Text | None = None,
) -> Iterator[Text]:
    label = _label(node, leaves, view)
    if weight is not None:
        label.append(weight)
    first = Text(prefix + ("└── " if last else "├── "))
    first.append_text(label[0])
    yield first
    continuation = prefix + ("    " if last else "│   ")
    for extra in label[1:]:
        line = Text(continuation + "    ")
        line.append_text(extra)
        yield line
    children = node.get("children", [])
    weights = _child_weights(node)
    for i, child in enumerate(children):
        yield from _draw(child, leaves, view, continuation, i == len(children) - 1, weights[i])


def _children(node: Json, leaves: Mapping[int, Json], view: View) -> Iterator[Text]:
    children = node.get("children", [])
    weights = _child_weights(node)
    for i, child in enumerate(children):
        yield from _draw(child, leaves, view, "", i == len(children) - 1, weights[i])


def _heading(node: Json, view: View) -> Text:
    status = _status(node, view)
    text = _marked(status, status, view)
    text.append(node.get("text", ""), style="bold")
    return text


def _root(node: Json, leaves: Mapping[int, Json], view: View) -> Iterator[Text]:
    """A root's heading (an entry or exit vote's share of the weight under it), its children."""
    yield _heading(node, view)
    if node.get("kind") == "weighted":
        for line in _vote_lines(node):
            yield Text("    ").append_text(line)
    yield from _children(node, leaves, view)


def _veto_word(veto: Json, status: str | None, doc: Json) -> str:
    """``clear``, ``BLOCKS`` (it stopped the decision's action) or ``would block``: it passed
    (or is unknown) but there was no action of the kind it blocks to stop (a HOLD, a SELL
    beside a BUY-only veto). A tree or trace that does not say what was decided says BLOCKS."""
    if status == "FAIL":
        return "clear"
    decision = doc.get("decision")
    if decision is None:
        return "BLOCKS"
    blockers = doc.get("blocked_by") or [veto["id"]]  # a record without the list: the verdict
    return "BLOCKS" if decision == "BLOCKED" and veto["id"] in blockers else "would block"


def _veto_line(veto: Json, view: View, doc: Json) -> Text:
    status = _status(veto, view)
    line = _marked(_veto_word(veto, status, doc), status, view)
    line.append(f"VETO {veto['id']}", style="bold magenta")
    one = len(veto["tree"].get("children", [])) == 1
    these = "this passes or is unknown" if one else "all of these pass or are unknown"
    line.append(f": blocks {'/'.join(veto.get('blocks', []))} when {these}")
    if veto.get("description"):
        line.append(f" — {veto['description']}", style="dim")
    return line


def tree_lines(doc: Json, view: View = LIVE) -> Iterator[Text]:
    """Entry, exit and veto trees of a tree or trace JSON; statuses and leaf data when present."""
    leaves = {leaf["node"]: leaf for leaf in doc.get("leaves", [])}
    yield from _root(doc["entry"], leaves, view)
    if doc.get("exit"):
        yield from _root(doc["exit"], leaves, view)
    else:
        yield Text("SELL: no exit rules", style="bold")
    if not doc.get("vetoes"):
        yield Text("VETOES: none", style="bold")
    for veto in doc.get("vetoes", []):
        yield _veto_line(veto, view, doc)
        yield from _children(veto["tree"], leaves, view)


# --- whole screens -----------------------------------------------------------------------------


def header_lines(doc: Json) -> list[Text]:
    """Name, file, hash, assets, mode and size of a strategy, from its ``tree_to_dict`` JSON."""
    head = Text()
    head.append(doc["name"], style="bold")
    head.append(f"  ({doc['file']})", style="dim")
    ex = doc["execution"]
    facts = Text(style="dim")
    facts.append(f"hash {doc['hash'][:19]}…  ")
    facts.append(f"assets {', '.join(doc['assets'])}  ")
    facts.append(f"mode {ex['action_mode']}  ")
    facts.append(f"position {ex['position_size'] * 100:g}% of portfolio")
    lines = [head, facts]
    if doc.get("description"):
        lines.append(Text(doc["description"], style="italic"))
    return lines


def strategy_lines(doc: Json) -> list[Text]:
    """``signalops explain``: the header and the tree of a strategy's ``tree_to_dict`` JSON."""
    return [*header_lines(doc), *tree_lines(doc, View(file_lines=True))]


def evaluation_lines(doc: Json, trace: Json) -> list[Text]:
    """``signalops evaluate``: the verdict line, conflicts and the traced tree of one asset.

    ``doc`` is the strategy's ``tree_to_dict`` JSON, ``trace`` the evaluation's ``to_dict``.
    """
    verdict = trace["decision"]
    head = Text(f"{doc['name']} · {trace['asset']} · {trace['timestamp']}: ", style="bold")
    head.append(verdict, style=f"bold {VERDICT_STYLE[verdict]}")
    if trace.get("blocked_by"):
        head.append(f" ({trace['action']} blocked by {', '.join(trace['blocked_by'])})")
    lines = [head]
    lines += [Text(f"conflict: {note}", style="magenta") for note in trace.get("conflicts", [])]
    # What was decided, for the vetoes' lines: one that passed blocks only an action it stopped.
    decided = {"decision": verdict, "blocked_by": trace.get("blocked_by") or []}
    return lines + list(tree_lines({**with_trace(doc, trace), **decided}, View(file_lines=True)))
