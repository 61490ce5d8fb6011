"""Compile a schema-valid strategy document into a ``Strategy`` with its ``DecisionTree``.

The schema has already checked the document's shape; here we check its meaning against the metric
catalogue (names, parameter counts and types; windows of whole candles; thresholds against each
metric's range and unit, and conditions that must pass together but never can,
``signalops.strategy.thresholds``), resolve ``$params`` and defaults, parse ``when:``
expressions, and build frozen nodes that remember their YAML position. Problems are collected, not
raised one by one, so a trader sees every mistake in a file at once: a bad default is told once,
and the conditions that use it are checked with the catalogue's default standing in (but for what
needs its value; one the catalogue has no default for still stops its condition).

Semantics fixed here (and shown by ``signalops explain``):
- a rule passes when all of its conditions pass;
- the strategy BUYs when ``execution.require_confirmations`` entry rules pass (default: all);
- it SELLs when ``exit.require_confirmations`` exit rules pass (default: 1, any exit);
- a veto blocks the actions in its ``blocks`` list (default: BUY) when its conditions pass or
  cannot be evaluated;
- ``execution.weighted`` (``exit.weighted``) replaces the count of confirmations by a weighted
  vote over the entry (exit) rules, and a ``weighted:`` condition votes over its ``of:`` list
  (``signalops.evaluation.weighted``). A hit rate counts rises for a vote that argues for a BUY
  and falls for one that argues for a SELL or blocks a BUY (``direction``, which a ``not``
  reverses, and which a veto that blocks both sides must state).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from signalops.canonical import content_hash
from signalops.catalogue.builtin import BUILTIN
from signalops.catalogue.spec import (
    Catalogue,
    MetricSpec,
    Param,
    format_duration,
    parse_duration,
)
from signalops.errors import StrategyError
from signalops.evaluation.nodes import (
    AllOf,
    AnyOf,
    Arith,
    AtLeast,
    Const,
    Metric,
    Neg,
    Node,
    Not,
    Operand,
    Predicate,
    Span,
    Weighted,
    operand_metrics,
    render_operand,
)
from signalops.evaluation.tree import DecisionTree, Veto, confirmation_text
from signalops.side import Side
from signalops.strategy import expression as ex
from signalops.strategy import thresholds, votes
from signalops.strategy._yaml import Document, Mark, Path, format_path
from signalops.strategy.literals import parse_number
from signalops.strategy.model import DEFAULT_ACTION_MODE, DEFAULT_POSITION_SIZE, Execution, Strategy
from signalops.strategy.schema import did_you_mean

# No real condition nests this deep (rsi(14) < 30 is 5 levels); far deeper ones (`- - - ... x`,
# `x + 1 + 1 + ...`) would overflow the Python stack or the 200 nested parentheses Python allows
# in the generated evaluator.
MAX_EXPRESSION_DEPTH = 50


@dataclass(frozen=True, slots=True)
class _Context:
    """What a condition inherits from its rule: the default source, max_age and the rule id;
    ``direction``, the move a PASS argues for (a hit rate's default: up for an entry, down for
    an exit or a BUY veto, None where no side is implied); ``measured``, whether the condition
    is inside a hit-rate vote's child (which is evaluated on past bars by itself)."""

    path: Path
    source: str | None
    max_age: int | None
    rule: str
    direction: str | None = field(default=None)
    measured: bool = False


class _Fail(Exception):
    """Internal: abandon the current condition after its error has been recorded."""


def compile_document(doc: Document, catalogue: Catalogue = BUILTIN) -> Strategy:
    """Compile a schema-valid document; raises ``StrategyError`` (possibly several together)."""
    return _Compiler(doc, catalogue).run()


@dataclass(frozen=True)
class Compiled:
    """A compile as values: the strategy, or its error (a group for several); either way the
    compiler's warnings and the conditions that compiled, so that ``signalops validate`` shows
    a file's warnings beside its errors (``rsi(14) < 0.3`` is not kept from view by a typo
    elsewhere in the file)."""

    strategy: Strategy | None = None
    error: StrategyError | None = None
    warnings: tuple[StrategyError, ...] = ()
    leaves: tuple[Predicate, ...] = ()


def compile_checked(doc: Document, catalogue: Catalogue = BUILTIN) -> Compiled:
    """``compile_document``'s outcome as a value."""
    compiler = _Compiler(doc, catalogue)
    try:
        strategy = compiler.run()
    except StrategyError as error:
        return Compiled(
            error=error, warnings=compiler.sorted_warnings(), leaves=tuple(compiler.leaves)
        )
    return Compiled(strategy, warnings=strategy.warnings, leaves=strategy.tree.leaves())


# What traders call a metric that the catalogue names otherwise: spelling alone would lead
# elsewhere (price_to_earnings is nearest price_to_sales).
_OTHER_NAMES = {
    "price_to_earnings": "trailing_pe",
    "pe": "trailing_pe",
    "pe_ratio": "trailing_pe",
    "p_e": "trailing_pe",
    "price_earnings": "trailing_pe",
    "forward_price_to_earnings": "forward_pe",
    "p_b": "price_to_book",
    "pb": "price_to_book",
    "pb_ratio": "price_to_book",
    "p_s": "price_to_sales",
    "ps_ratio": "price_to_sales",
    "marketcap": "market_cap",
}


class _Compiler:
    def __init__(self, doc: Document, catalogue: Catalogue) -> None:
        self.doc = doc
        self.catalogue = catalogue
        self.errors: list[StrategyError] = []
        self.warnings: list[StrategyError] = []  # validate shows them, with any errors
        self.leaves: list[Predicate] = []  # every condition compiled, in order
        self.places: dict[int, Path] = {}  # where each leaf is written, by its index
        self.told_never: set[int] = set()  # leaves already warned of as never true together
        self.standing_in: set[str] = set()  # defaults.params that did not coerce
        self.next_index = 0
        spec = doc.data["strategy"]
        self.spec = spec
        self.params: dict[str, Any] = dict(spec.get("params", {}))
        defaults = spec.get("defaults", {})
        self.default_max_age = self.max_age_of(defaults, ("strategy", "defaults"))
        self.default_params: dict[str, Any] = dict(defaults.get("params", {}))
        self.rule_ids: dict[str, Path] = {}
        self.check_default_params()

    # --- entry point ---------------------------------------------------------------------------

    def run(self) -> Strategy:
        spec = self.spec
        root: Path = ("strategy",)
        rules = spec["rules"]
        execution = spec.get("execution", {})
        n_entry = execution.get("require_confirmations", len(rules))
        if n_entry > len(rules):
            self.error(
                f"require_confirmations is {n_entry} but there {_are(len(rules))}",
                (*root, "execution", "require_confirmations"),
                hint=f"use a number from 1 to {len(rules)}",
            )
        self.one_way_to_confirm(execution, (*root, "execution"))
        entry_index = self.take_index()
        entry_rules = self.rules(rules, (*root, "rules"), votes.UP)
        confirmations = AtLeast(
            index=entry_index,
            path="rules",
            span=self.span((*root, "rules")),
            text=confirmation_text("BUY", n_entry, len(rules)),
            n=n_entry,
            items=tuple(entry_rules),
        )
        entry: Node = confirmations
        if "weighted" in execution:
            entry = self.rule_vote(
                confirmations,
                "BUY",
                execution["weighted"],
                (*root, "execution", "weighted"),
                count=len(rules),
                direction=votes.UP,
            )

        exit_node: Node | None = None
        n_exit = None
        if "exit" in spec:
            exit_rules_doc = spec["exit"]["rules"]
            n_exit = spec["exit"].get("require_confirmations", 1)
            if n_exit > len(exit_rules_doc):
                self.error(
                    f"require_confirmations is {n_exit} but there {_are(len(exit_rules_doc))}",
                    (*root, "exit", "require_confirmations"),
                    hint=f"use a number from 1 to {len(exit_rules_doc)}",
                )
            self.one_way_to_confirm(spec["exit"], (*root, "exit"))
            exit_index = self.take_index()
            exit_rules = self.rules(exit_rules_doc, (*root, "exit", "rules"), votes.DOWN)
            exit_confirmations = AtLeast(
                index=exit_index,
                path="exit.rules",
                span=self.span((*root, "exit")),
                text=confirmation_text("SELL", n_exit, len(exit_rules_doc)),
                n=n_exit,
                items=tuple(exit_rules),
            )
            exit_node = exit_confirmations
            if "weighted" in spec["exit"]:
                exit_node = self.rule_vote(
                    exit_confirmations,
                    "SELL",
                    spec["exit"]["weighted"],
                    (*root, "exit", "weighted"),
                    count=len(exit_rules_doc),
                    direction=votes.DOWN,
                )

        vetoes = []
        for i, veto in enumerate(spec.get("vetoes", [])):
            path = (*root, "vetoes", i)
            blocks = frozenset(Side(b.upper()) for b in veto.get("blocks", ["BUY"]))
            node = self.rule(veto, path, votes.veto_direction(blocks))
            if node is not None:
                vetoes.append(Veto(veto["id"], node, blocks, veto.get("description")))

        if self.errors:
            from signalops.errors import raise_collected

            self.errors.sort(key=lambda e: (e.line, e.column))
            # A bad defaults.params value is found again by every metric that uses it; once is
            # enough.
            raise_collected(list({str(e): e for e in self.errors}.values()))

        tree = DecisionTree(entry=entry, exit=exit_node, vetoes=tuple(vetoes))
        return Strategy(
            name=spec["name"],
            description=spec.get("description"),
            assets=tuple(spec["assets"]),
            params=MappingProxyType(dict(self.params)),
            tree=tree,
            execution=Execution(
                require_confirmations=n_entry,
                position_size=float(execution.get("position_size", DEFAULT_POSITION_SIZE)),
                action_mode=execution.get("action_mode", DEFAULT_ACTION_MODE),
            ),
            exit_confirmations=n_exit,
            content_hash=content_hash(self.doc.data),
            file=self.doc.file,
            document=MappingProxyType(self.doc.data),
            risk=MappingProxyType(dict(spec.get("risk", {}))),
            warnings=self.sorted_warnings(),
        )

    def sorted_warnings(self) -> tuple[StrategyError, ...]:
        return tuple(sorted(self.warnings, key=lambda w: (w.line, w.column)))

    def compiled(self, leaf: Predicate, path: Path) -> Predicate:
        """``leaf``, its text rendered, noted as compiled (written at ``path``)."""
        leaf = _with_rendered_text(leaf)
        self.leaves.append(leaf)
        self.places[leaf.index] = path
        return leaf

    def check_together(self, nodes: list[Node]) -> None:
        """Warn of a condition that can never pass together with an earlier one that must pass
        with it (``signalops.strategy.thresholds.never_together``): ``nodes`` must all pass,
        and so must the items of any ``all``/``and`` among them. Each condition is told once,
        though its group is checked again inside a larger one."""
        # A metric with a bad default's stand-in is not the metric the file will have.
        leaves = [leaf for leaf in _conjuncts(nodes) if not self.stands_in(leaf)]
        for leaf, earlier in thresholds.never_together(leaves):
            if leaf.index in self.told_never:
                continue
            self.told_never.add(leaf.index)
            # The line shown with the warning needs no naming again; nor does a sweep's grid
            # value, compiled from a one-line JSON document whose lines are not the file's.
            line = earlier.span.line
            where = "" if line == leaf.span.line else f"line {line}: "
            self.warnings.append(
                self.doc.error(
                    f"{leaf.text} can never be true together with {where}{earlier.text}",
                    self.places[leaf.index],
                    at=Mark(leaf.span.line, leaf.span.column, 0),
                )
            )

    def stands_in(self, leaf: Predicate) -> bool:
        """Whether a metric of ``leaf`` reads a stand-in for a bad ``defaults.params`` value."""
        return any(
            name in self.standing_in and name not in metric.given
            for metric in leaf.metrics
            for name, _ in metric.params
        )

    # --- helpers -------------------------------------------------------------------------------

    def take_index(self) -> int:
        index = self.next_index
        self.next_index += 1
        return index

    def span(self, path: Path, at: Mark | None = None) -> Span:
        mark = at or self.doc.mark(path)
        return Span(self.doc.file, mark.line, mark.column)

    def error(
        self,
        message: str,
        path: Path,
        *,
        at: Mark | None = None,
        hint: str | None = None,
        expected: tuple[str, ...] = (),
    ) -> None:
        self.errors.append(self.doc.error(message, path, at=at, hint=hint, expected=expected))

    def fail(self, message: str, path: Path, **kwargs: Any) -> _Fail:
        self.error(message, path, **kwargs)
        return _Fail()

    def check_thresholds(
        self,
        left: Operand,
        op: str,
        right: tuple[Operand, ...],
        path: Path,
        place: Callable[[int], Mark],
    ) -> None:
        """Refuse a threshold the metric can never meet or written in the wrong unit; warn of
        one that looks wrong (``signalops.strategy.thresholds``). ``place(i)`` is where operand
        ``i`` is written (0 the left one, then the right ones): asked only for a problem."""
        problem = thresholds.check(left, op, right)
        if problem is None:
            return
        at, hint = place(problem.at), problem.hint
        if problem.warning:
            self.warnings.append(self.doc.error(problem.message, path, at=at, hint=hint))
            return
        raise self.fail(problem.message, path, at=at, hint=hint)

    def max_age_of(self, mapping: dict[str, Any], path: Path) -> int | None:
        """The ``max_age`` of a condition, rule or the defaults, in seconds (None if not set)."""
        value = mapping.get("max_age")
        if value is None:
            return None
        seconds = _duration(value)
        if seconds is None:
            # The schema's pattern admits '0s' and '0.5s'; read as "not set", they would silently
            # fall back to a longer default, the one thing a staleness limit must not do.
            self.error(
                f"max_age '{value}' is not a whole number of seconds above 0",
                (*path, "max_age"),
                hint="e.g. 30m, 4h, 2d",
            )
        return seconds

    def check_default_params(self) -> None:
        """defaults.params names parameters; a typo there would otherwise be silently unused."""
        known = sorted(
            {
                param.name
                for source in self.catalogue.sources.values()
                for spec in source.metrics.values()
                for param in spec.params
            }
        )
        for name in self.default_params:
            if name in known:
                continue
            path = ("strategy", "defaults", "params", name)
            self.error(
                f"no metric has a parameter '{name}'",
                path,
                at=self.doc.key_mark(path),
                hint=did_you_mean(name, known) or "parameters: " + ", ".join(known),
            )

    # --- rules and conditions ------------------------------------------------------------------

    def rules(self, rules: list[dict[str, Any]], path: Path, direction: str) -> list[Node]:
        nodes = []
        for i, rule in enumerate(rules):
            node = self.rule(rule, (*path, i), direction)
            if node is not None:
                nodes.append(node)
        return nodes

    def rule(self, rule: dict[str, Any], path: Path, direction: str | None) -> Node | None:
        rule_id = rule["id"]
        if rule_id in self.rule_ids:
            first = self.doc.mark(self.rule_ids[rule_id])
            self.error(
                f"duplicate rule id '{rule_id}'",
                (*path, "id"),
                hint=f"first used at line {first.line}",
            )
        else:
            self.rule_ids[rule_id] = (*path, "id")
        if not self.known_source(rule.get("source"), (*path, "source")):
            return None
        index = self.take_index()
        context = _Context(
            path=path,
            source=rule.get("source"),
            max_age=self.max_age_of(rule, path),
            rule=rule_id,
            direction=direction,
        )
        items = self.conditions(rule["conditions"], (*path, "conditions"), context, together=True)
        if items is None:
            return None
        return AllOf(
            index=index,
            path=format_path(path),
            span=self.span(path),
            text=rule_id,
            items=tuple(items),
            label=rule_id,
            source=rule.get("source"),
            description=rule.get("description"),
        )

    def conditions(
        self,
        conditions: list[dict[str, Any]],
        path: Path,
        context: _Context,
        *,
        together: bool = False,
    ) -> list[Node] | None:
        """The nodes of ``conditions``, or None when one did not compile. ``together``: they
        must all pass (a rule, an ``all``), checked for ones that never can, the ones that
        compiled even beside one that did not."""
        nodes: list[Node] = []
        ok = True
        for i, condition in enumerate(conditions):
            node = self.condition(condition, (*path, i), context)
            if node is None:
                ok = False
            else:
                nodes.append(node)
        if together:
            self.check_together(nodes)
        return nodes if ok else None

    def condition(self, condition: dict[str, Any], path: Path, context: _Context) -> Node | None:
        try:
            if "all" in condition:
                return self.group(AllOf, condition["all"], (*path, "all"), path, context, "all of")
            if "any" in condition:
                return self.group(AnyOf, condition["any"], (*path, "any"), path, context, "any of")
            if "at_least" in condition:
                return self.at_least(condition["at_least"], path, context)
            if "weighted" in condition:
                return self.weighted(condition["weighted"], path, context)
            if "not" in condition:
                index = self.take_index()
                reversed_ = replace(context, direction=votes.reverse(context.direction))
                child = self.condition(condition["not"], (*path, "not"), reversed_)
                if child is None:
                    return None
                return Not(
                    index=index,
                    path=format_path(path),
                    span=self.span(path),
                    text="not",
                    item=child,
                )
            if "when" in condition:
                return self.when(condition, path, context)
            if "market" in condition:
                return self.market(condition, path, context)
            return self.structured(condition, path, context)
        except _Fail:
            return None

    def group(
        self,
        kind: type[AllOf] | type[AnyOf],
        items: list[dict[str, Any]],
        items_path: Path,
        path: Path,
        context: _Context,
        text: str,
    ) -> Node | None:
        index = self.take_index()
        children = self.conditions(items, items_path, context, together=kind is AllOf)
        if children is None:
            return None
        return kind(
            index=index,
            path=format_path(path),
            span=self.span(path),
            text=text,
            items=tuple(children),
        )

    def at_least(self, spec: dict[str, Any], path: Path, context: _Context) -> Node | None:
        n, of = spec["n"], spec["of"]
        if n > len(of):
            self.error(
                f"at_least needs {n} but lists only {len(of)} conditions",
                (*path, "at_least", "n"),
                hint=f"use a number from 1 to {len(of)}",
            )
        index = self.take_index()
        children = self.conditions(of, (*path, "at_least", "of"), context)
        if children is None:
            return None
        return AtLeast(
            index=index,
            path=format_path(path),
            span=self.span(path),
            text=f"at least {n} of",
            n=n,
            items=tuple(children),
        )

    # --- weighted votes ------------------------------------------------------------------------

    def one_way_to_confirm(self, section: dict[str, Any], path: Path) -> None:
        if "weighted" in section and "require_confirmations" in section:
            self.error(
                "give either require_confirmations or weighted, not both",
                (*path, "weighted"),
                at=self.doc.key_mark((*path, "weighted")),
                hint="weighted replaces the count of rules by a vote of their weights",
            )

    def weighted(self, spec: dict[str, Any], path: Path, context: _Context) -> Node | None:
        wpath = (*path, "weighted")
        index = self.take_index()
        of = spec["of"]
        vote = votes.VoteReader(self, wpath, len(of), "conditions", context.direction)
        pass_at, weights, hit_rate = vote.read(spec)
        inner = replace(context, measured=context.measured or hit_rate is not None)
        if hit_rate is not None and context.measured:
            self.error(
                "a hit-rate vote cannot be inside another hit-rate vote's child",
                (*wpath, "weights"),
                hint="the outer vote measures its children on past bars; give this one fixed "
                "weights",
            )
            return None
        children = self.conditions(of, (*wpath, "of"), inner)
        if children is None or pass_at is None or (weights is None and hit_rate is None):
            return None
        return Weighted(
            index=index,
            path=format_path(path),
            span=self.span(path),
            text="weighted vote",
            items=tuple(children),
            pass_at=pass_at,
            weights=weights or (),
            hit_rate=hit_rate,
        )

    def rule_vote(
        self,
        confirmations: AtLeast,
        action: str,
        spec: dict[str, Any],
        vpath: Path,
        *,
        count: int,
        direction: str,
    ) -> Node:
        """The entry (or exit) node as a weighted vote over the rules (``execution.weighted``)
        in the place of the count of ``confirmations``; ``count`` is how many rules the file
        lists (the node holds those that compiled)."""
        rules = confirmations.items
        vote = votes.VoteReader(self, vpath, count, "rules", direction)
        pass_at, weights, hit_rate = vote.read(spec)
        measured = [
            rule.text
            for rule in rules
            if any(isinstance(n, Weighted) and n.hit_rate for n in rule.walk())
        ]
        if hit_rate is not None and measured:
            self.error(
                f"rule '{measured[0]}' has a hit-rate vote, and the rules are weighed by hit "
                "rate: a measured rule cannot measure again",
                (*vpath, "weights"),
                hint="give the rules fixed weights, or the inner vote fixed weights",
            )
            hit_rate = None  # the file is refused; this node only stands in
        return Weighted(
            index=confirmations.index,
            path=confirmations.path,
            span=confirmations.span,
            text=votes.rule_vote_text(action, pass_at or 1.0),
            items=rules,
            pass_at=pass_at or 1.0,
            weights=weights or (1.0,) * len(rules) if hit_rate is None else (),
            hit_rate=hit_rate,
            label=confirmations.path,
        )

    def known_source(self, source: str | None, path: Path) -> bool:
        """Sources are checked here, not in the schema, so that plugin sources are accepted."""
        if source is None or source in self.catalogue.sources:
            return True
        names = list(self.catalogue.sources)
        self.error(
            f"unknown source '{source}'",
            path,
            hint=did_you_mean(source, names) or "installed sources: " + ", ".join(names),
        )
        return False

    # --- the structured forms of the original README ---------------------------------------------

    def structured(self, condition: dict[str, Any], path: Path, context: _Context) -> Node:
        name = condition["metric"]
        source = condition.get("source", context.source)
        if not self.known_source(source, (*path, "source")):
            raise _Fail
        given = dict(condition.get("params", {}))
        metric = self.metric(
            name,
            source,
            positional=[],
            keywords={k: (v, (*path, "params", k)) for k, v in given.items()},
            path=(*path, "metric"),
        )
        return self.threshold_leaf(condition, path, context, metric)

    def market(self, condition: dict[str, Any], path: Path, context: _Context) -> Node:
        market = self.resolve_param_text(condition["market"], (*path, "market"))
        outcome = condition.get("outcome")
        metric_name = condition.get("metric")
        keywords: dict[str, tuple[Any, Path]] = {"market": (market, (*path, "market"))}
        for key, value in condition.get("params", {}).items():
            keywords[key] = (value, (*path, "params", key))
        if metric_name is None:
            if outcome is None or outcome.lower() in ("yes", "no"):
                metric_name = (outcome or "yes").lower()
            else:
                metric_name = "outcome"
                keywords["name"] = (outcome, (*path, "outcome"))
        elif outcome is not None:
            keywords["name" if metric_name == "outcome" else "outcome"] = (
                outcome,
                (*path, "outcome"),
            )
        metric = self.metric(
            metric_name, "polymarket", positional=[], keywords=keywords, path=(*path, "market")
        )
        return self.threshold_leaf(condition, path, context, metric)

    def threshold_leaf(
        self,
        condition: dict[str, Any],
        path: Path,
        context: _Context,
        metric: Metric,
    ) -> Predicate:
        op = condition["operator"]
        raw = condition["threshold"]
        tpath = (*path, "threshold")
        if op == "between":
            if not isinstance(raw, list) or len(raw) != 2:
                raise self.fail(
                    "'between' needs a threshold of two numbers [low, high]",
                    tpath,
                    hint="e.g. threshold: [30, 70]",
                )
            low = self.threshold_value(raw[0], (*tpath, 0))
            high = self.threshold_value(raw[1], (*tpath, 1))
            if low.value > high.value:
                raise self.fail(f"the range [{low.text}, {high.text}] is empty", tpath)
            right: tuple[Operand, ...] = (low, high)
        else:
            if isinstance(raw, list):
                raise self.fail(
                    f"operator '{op}' needs one threshold, got a list",
                    tpath,
                    hint="a list is only for 'between'",
                )
            right = (self.threshold_value(raw, tpath),)
        written = [path, *([(*tpath, 0), (*tpath, 1)] if op == "between" else [tpath])]
        self.check_thresholds(metric, op, right, tpath, lambda i: self.doc.mark(written[i]))
        max_age = self.max_ages(condition, context, (metric,), path)
        predicate = Predicate(
            index=self.take_index(),
            path=format_path(path),
            span=self.span(path),
            text="",
            left=metric,
            op=op,
            right=right,
            metrics=(metric,),
            max_ages=max_age,
            rule=context.rule,
            description=condition.get("description"),
        )
        return self.compiled(predicate, path)

    def threshold_value(self, raw: Any, path: Path) -> Const:
        if isinstance(raw, bool) or raw is None:
            raise self.fail(f"a threshold must be a number, got {raw!r}", path)
        if isinstance(raw, int | float):
            number = _finite(raw)
            if number is None:
                raise self.fail("a threshold must be a finite number", path)
            return Const(number, _number_text(raw))
        text = str(raw).strip()
        if text.startswith("$"):
            value = self.param_number(text[1:], path)
            return Const(value, _param_text(self.params[text[1:]], value))
        parsed = parse_number(text)
        if parsed is None:
            raise self.fail(
                f"'{text}' is not a number",
                path,
                hint="use a number, a suffixed number like 5%, 1.5k, 100M, 2B, or a $param; "
                "to compare two metrics write a when: expression",
            )
        return Const(parsed, text)

    # --- parameters ----------------------------------------------------------------------------

    def param(self, name: str, path: Path, at: Mark | None = None) -> Any:
        if name not in self.params:
            known = sorted(self.params)
            hint = did_you_mean(name, known)
            if hint:
                hint = hint.replace("'", "'$", 1)
            elif known:
                hint = "defined params: " + ", ".join(f"${k}" for k in known)
            else:
                hint = "define it under strategy.params"
            raise self.fail(f"unknown parameter '${name}'", path, at=at, hint=hint)
        return self.params[name]

    def param_number(self, name: str, path: Path, at: Mark | None = None) -> float:
        value = self.param(name, path, at)
        if isinstance(value, int | float) and not isinstance(value, bool):
            number: float | None = _finite(value)
        else:
            number = parse_number(str(value))
        if number is None or not math.isfinite(number):
            raise self.fail(
                f"parameter '${name}' is {value!r}, not a number",
                path,
                at=at,
                hint=f"see strategy.params.{name}",
            )
        return number

    def resolve_param_text(self, value: Any, path: Path) -> Any:
        if isinstance(value, str) and value.startswith("$"):
            return self.param(value[1:], path)
        return value

    def max_ages(
        self,
        condition: dict[str, Any],
        context: _Context,
        metrics: tuple[Metric, ...],
        path: Path,
    ) -> tuple[int, ...]:
        explicit = self.max_age_of(condition, path)
        chosen = explicit or context.max_age or self.default_max_age
        if chosen is not None:
            return tuple(chosen for _ in metrics)
        return tuple(m.spec.default_max_age(dict(m.params)) if m.spec else 0 for m in metrics)

    # --- metrics -------------------------------------------------------------------------------

    def lookup(
        self, name: str, source: str | None, path: Path, at: Mark | None
    ) -> tuple[str, MetricSpec, Any]:
        """Find ``name`` in ``source`` (or anywhere); the third item is a shorthand argument."""
        found = self.find(name, source)
        if found:
            return (*found, None)
        if "_" in name:
            base, suffix = name.rsplit("_", 1)
            for src, spec in self.candidates(base, source):
                if spec.params:
                    first = spec.params[0]
                    try:
                        value = first.coerce(_shorthand_value(suffix, first))
                    except ValueError:
                        continue
                    return src, spec, value
        if source is not None:
            elsewhere = self.catalogue.find(name)
            if elsewhere:
                other = elsewhere[0][0].source
                raise self.fail(
                    f"metric '{name}' belongs to source '{other}', not '{source}'",
                    path,
                    at=at,
                    hint=f"use source: {other}, or write {other}.{name} in a when: expression",
                )
            names = self.catalogue.sources[source].names()
            where = f"source '{source}'"
        else:
            names = self.catalogue.all_names()
            where = "any source"
        meant = _OTHER_NAMES.get(name.lower())
        hint = f"did you mean '{meant}'?" if meant in names else did_you_mean(name, names)
        if hint is None and "_" in name:
            hint = did_you_mean(name.rsplit("_", 1)[0], names)
        raise self.fail(
            f"unknown metric '{name}' in {where}",
            path,
            at=at,
            hint=hint or "run 'signalops metrics' to list every metric",
        )

    def find(self, name: str, source: str | None) -> tuple[str, MetricSpec] | None:
        candidates = self.candidates(name, source)
        if len(candidates) > 1:
            sources = ", ".join(src for src, _ in candidates)
            raise _Ambiguous(name, sources)
        return candidates[0] if candidates else None

    def candidates(self, name: str, source: str | None) -> list[tuple[str, MetricSpec]]:
        if source is not None:
            spec = self.catalogue.sources[source].get(name)
            return [(source, spec)] if spec else []
        return [(src.source, spec) for src, spec in self.catalogue.find(name)]

    def metric(
        self,
        name: str,
        source: str | None,
        *,
        positional: list[tuple[Any, Path, Mark | None]],
        keywords: dict[str, tuple[Any, Path]] | dict[str, tuple[Any, Path, Mark | None]],
        path: Path,
        at: Mark | None = None,
    ) -> Metric:
        try:
            src, spec, shorthand = self.lookup(name, source, path, at)
        except _Ambiguous as exc:
            raise self.fail(
                f"metric '{name}' exists in several sources ({exc.sources})",
                path,
                at=at,
                hint="set the rule's source, or qualify it, e.g. technical.close",
            ) from None
        values: dict[str, Any] = {}
        given: set[str] = set()
        # Where each value is written: the metric itself for a catalogue default.
        written: dict[str, tuple[Path, Mark | None]] = {p.name: (path, at) for p in spec.params}
        unknown: set[str] = set()  # defaults that did not coerce: their error is told
        if shorthand is not None:
            values[spec.params[0].name] = shorthand
            given.add(spec.params[0].name)
            if positional:
                raise self.fail(
                    f"'{name}' already sets {spec.params[0].name}; do not pass arguments too",
                    path,
                    at=at,
                )
        if len(positional) > len(spec.params):
            extra = positional[len(spec.params)]
            raise self.fail(
                f"{spec.name} takes at most {len(spec.params)} argument"
                f"{'' if len(spec.params) == 1 else 's'}, got {len(positional)}",
                extra[1],
                at=extra[2],
                hint=f"signature: {spec.signature()}",
            )
        for param, (value, vpath, vat) in zip(spec.params, positional, strict=False):
            values[param.name] = self.coerce(param, value, vpath, vat)
            given.add(param.name)
            written[param.name] = (vpath, vat)
        for key, item in keywords.items():
            value, vpath = item[0], item[1]
            vat = item[2] if len(item) > 2 else None
            declared = spec.param(key)
            if declared is None:
                names = [p.name for p in spec.params]
                raise self.fail(
                    f"{spec.name} has no parameter '{key}'",
                    vpath,
                    at=vat,
                    hint=did_you_mean(key, names) or f"signature: {spec.signature()}",
                )
            if key in values:
                raise self.fail(f"parameter '{key}' is given twice", vpath, at=vat)
            values[key] = self.coerce(declared, value, vpath, vat)
            given.add(key)
            written[key] = (vpath, vat)
        for param in spec.params:
            if param.name in values:
                continue
            if param.name in self.default_params:
                value = self.default_params[param.name]
                default_path: Path = ("strategy", "defaults", "params", param.name)
                written[param.name] = (default_path, None)
                try:
                    values[param.name] = self.coerce(param, value, default_path, None)
                except _Fail:
                    if param.required:
                        raise
                    # Its error is told (once, however many metrics use it); the rest of the
                    # condition is still checked, with the catalogue's default standing in, so
                    # that one bad default does not hide every other error of the file.
                    values[param.name] = param.default
                    unknown.add(param.name)
                    self.standing_in.add(param.name)
            elif param.required:
                raise self.fail(
                    f"{spec.name} needs parameter '{param.name}'",
                    path,
                    at=at,
                    hint=f"signature: {spec.signature()}",
                )
            else:
                values[param.name] = param.default
        self.check_windows(src, spec, values, written, unknown)
        params = tuple((p.name, values[p.name]) for p in spec.params)
        return Metric(src, spec.name, params, spec.asset_scoped, spec, frozenset(given))

    def check_windows(
        self,
        source: str,
        spec: MetricSpec,
        values: dict[str, Any],
        written: dict[str, tuple[Path, Mark | None]],
        unknown: set[str],
    ) -> None:
        """Refuse a window that is not a whole number of the metric's candles (or of the points
        of its source, ``MetricSpec.window_step``): it is measured from one to another, so
        ``return(36h)`` on daily candles would silently read 2d. Not checked when the timeframe
        (or the window) is a default that did not coerce: its error is told."""
        timeframe = spec.param("timeframe")
        if timeframe is not None and timeframe.type == "duration":
            if "timeframe" in unknown:
                return
            step, points = values["timeframe"], "candles"
        elif spec.window_step is not None:
            step, points = spec.window_step, f"points of {source} data"
        else:
            return
        for param in spec.params:
            if param.type != "duration" or param is timeframe or param.name in unknown:
                continue
            window = values[param.name]
            if window % step == 0:
                continue
            whole = [n * step for n in (window // step, window // step + 1) if n > 0]
            vpath, vat = written[param.name]
            raise self.fail(
                f"{format_duration(window)} is not a whole number of {format_duration(step)} "
                f"{points}: write {' or '.join(format_duration(w) for w in whole)}",
                vpath,
                at=vat,
            )

    def coerce(self, param: Param, value: Any, path: Path, at: Mark | None) -> Any:
        if isinstance(value, str) and value.startswith("$"):
            value = self.param(value[1:], path, at)
        if param.type in ("int", "number") and isinstance(value, str):
            number = parse_number(value)
            value = number if number is not None else value
        if param.type == "number" and isinstance(value, int) and _finite(value) is None:
            # An int too large for a float would make the catalogue's finiteness check overflow.
            raise self.fail(f"parameter '{param.name}' must be finite, got {value!r}", path, at=at)
        try:
            return param.coerce(value)
        except ValueError as exc:
            raise self.fail(str(exc), path, at=at) from None

    # --- when: expressions ---------------------------------------------------------------------

    def when(self, condition: dict[str, Any], path: Path, context: _Context) -> Node:
        text = condition["when"]
        wpath = (*path, "when")
        try:
            tree = ex.parse(text)
        except ex.ExpressionSyntaxError as exc:
            raise self.fail(
                exc.message,
                wpath,
                at=self.doc.offset_mark(wpath, exc.offset),
                expected=exc.expected,
            ) from None
        deep = _too_deep(tree, MAX_EXPRESSION_DEPTH)
        if deep is not None:
            raise self.fail(
                f"the expression is nested too deeply (more than {MAX_EXPRESSION_DEPTH} levels)",
                wpath,
                at=self.doc.offset_mark(wpath, deep.start),
                hint="split it into several conditions",
            )
        source = condition.get("source", context.source)
        if not self.known_source(source, (*path, "source")):
            raise _Fail
        max_age = self.max_age_of(condition, path)
        return _ExpressionCompiler(self, text, wpath, source, max_age, context, condition).bool(
            tree
        )


class _Ambiguous(Exception):
    def __init__(self, name: str, sources: str) -> None:
        self.name = name
        self.sources = sources


class _ExpressionCompiler:
    """Turns one parsed ``when:`` expression into nodes, reporting errors at exact offsets."""

    def __init__(
        self,
        parent: _Compiler,
        text: str,
        path: Path,
        source: str | None,
        max_age: int | None,
        context: _Context,
        condition: dict[str, Any],
    ) -> None:
        self.c = parent
        self.text = text
        self.path = path
        self.source = source
        self.max_age = max_age
        self.context = context
        self.condition = condition
        self.node_path = format_path(path[:-1])

    def at(self, offset: int) -> Mark:
        return self.c.doc.offset_mark(self.path, offset)

    def fail(self, message: str, offset: int, hint: str | None = None) -> _Fail:
        return self.c.fail(message, self.path, at=self.at(offset), hint=hint)

    def bool(self, node: ex.BoolExpr) -> Node:
        index = self.c.take_index()
        span = self.c.span(self.path, self.at(node.start))
        text = self.text[node.start : node.end]
        if isinstance(node, ex.And | ex.Or):
            items = tuple(self.bool(item) for item in node.operands)
            if isinstance(node, ex.And):
                self.c.check_together(list(items))
            kind = AllOf if isinstance(node, ex.And) else AnyOf
            return kind(index=index, path=self.node_path, span=span, text=text, items=items)
        if isinstance(node, ex.Not):
            item = self.bool(node.operand)
            return Not(index=index, path=self.node_path, span=span, text=text, item=item)
        if isinstance(node, ex.Compare):
            left = self.value(node.left)
            right: tuple[Operand, ...] = (self.value(node.right),)
            op = node.op
            written: tuple[ex.ValueExpr, ...] = (node.left, node.right)
        else:
            left = self.value(node.subject)
            right = (self.value(node.low), self.value(node.high))
            op = "between"
            written = (node.subject, node.low, node.high)
            low, high = right
            if isinstance(low, Const) and isinstance(high, Const) and low.value > high.value:
                raise self.fail(f"the range {low.text} to {high.text} is empty", node.low.start)
        metrics = tuple(dict.fromkeys(m for side in (left, *right) for m in operand_metrics(side)))
        if not metrics:
            raise self.fail(
                "this comparison reads no metric, so it is always true or always false",
                node.start,
            )
        self.c.check_thresholds(left, op, right, self.path, lambda i: self.at(written[i].start))
        chosen = self.max_age or self.context.max_age or self.c.default_max_age
        if chosen is not None:
            max_ages = tuple(chosen for _ in metrics)
        else:
            max_ages = tuple(m.spec.default_max_age(dict(m.params)) for m in metrics if m.spec)
        predicate = Predicate(
            index=index,
            path=self.node_path,
            span=span,
            text=text,
            left=left,
            op=op,
            right=right,
            metrics=metrics,
            max_ages=max_ages,
            rule=self.context.rule,
            description=self.condition.get("description"),
        )
        return self.c.compiled(predicate, self.path)

    def value(self, node: ex.ValueExpr) -> Operand:
        if isinstance(node, ex.Num):
            return Const(node.value, node.text)
        if isinstance(node, ex.Param):
            number = self.c.param_number(node.name, self.path, self.at(node.start))
            return Const(number, _param_text(self.c.params[node.name], number))
        if isinstance(node, ex.Neg):
            inner = self.value(node.operand)
            if isinstance(inner, Const):
                return Const(-inner.value, f"-{inner.text}")
            return Neg(inner)
        if isinstance(node, ex.BinOp):
            left, right = self.value(node.left), self.value(node.right)
            if isinstance(right, Const) and right.value == 0 and node.op == "/":
                raise self.fail("division by zero", node.right.start)
            return Arith(node.op, left, right)
        if isinstance(node, ex.Ref):
            return self.ref(node)
        if isinstance(node, ex.Str):
            raise self.fail(
                "text can only be an argument, e.g. polymarket('some-market').yes",
                node.start,
            )
        if isinstance(node, ex.Duration):
            raise self.fail("a duration can only be an argument, e.g. return(7d)", node.start)
        raise self.fail("unsupported expression", node.start)  # pragma: no cover

    def ref(self, node: ex.Ref) -> Metric:
        segments = node.segments
        source = self.source
        if len(segments) == 2 and segments[0].name in self.c.catalogue.sources:
            head, tail = segments
            source = head.name
            args = [*(head.args or ()), *(tail.args or ())]
            name_segment = tail
        elif len(segments) == 1:
            name_segment = segments[0]
            args = list(name_segment.args or ())
            if name_segment.args is not None and name_segment.name in self.c.catalogue.sources:
                raise self.fail(
                    f"'{name_segment.name}(...)' names a source; add the metric, "
                    f"e.g. {name_segment.name}(...).yes",
                    node.end,
                )
        else:
            first = segments[0].name
            sources = list(self.c.catalogue.sources)
            # Suggesting 'polymarket' for polymarket('x').yes.foo would be no help at all.
            hint = did_you_mean(first, sources) if first not in sources else None
            raise self.fail(
                f"'{self.text[node.start : node.end]}' is not a metric reference",
                node.start,
                hint=hint or "write metric(args) or source(args).metric",
            )
        positional: list[tuple[Any, Path, Mark | None]] = []
        keywords: dict[str, tuple[Any, Path, Mark | None]] = {}
        for arg in args:
            value = self.argument(arg.value)
            if arg.name is None:
                positional.append((value, self.path, self.at(arg.start)))
            else:
                keywords[arg.name] = (value, self.path, self.at(arg.start))
        return self.c.metric(
            name_segment.name,
            source,
            positional=positional,
            keywords=keywords,
            path=self.path,
            at=self.at(name_segment.start),
        )

    def argument(self, node: ex.ValueExpr) -> Any:
        if isinstance(node, ex.Num):
            return node.value
        if isinstance(node, ex.Neg) and isinstance(node.operand, ex.Num):
            return -node.operand.value
        if isinstance(node, ex.Duration):
            return node.text
        if isinstance(node, ex.Str):
            return node.value
        if isinstance(node, ex.Param):
            return "$" + node.name
        raise self.fail(
            "an argument must be a number, a duration, a 'string' or a $param", node.start
        )


def _with_rendered_text(node: Predicate) -> Predicate:
    """Leaves read as what will be evaluated: $params resolved, shorthands spelled out."""
    return replace(node, text=f"{render_operand(node.left)} {node.threshold_text()}")


def _conjuncts(nodes: list[Node]) -> list[Predicate]:
    """The leaves that must all pass for ``nodes`` to: theirs and those of nested ``all``s,
    in order; a leaf under ``any``, ``not`` or a vote is not one."""
    found: list[Predicate] = []
    for node in nodes:
        if isinstance(node, Predicate):
            found.append(node)
        elif isinstance(node, AllOf):
            found.extend(_conjuncts(list(node.items)))
    return found


def _duration(value: Any) -> int | None:
    return parse_duration(value) if isinstance(value, str) else None


def _too_deep(node: ex.Node, limit: int) -> ex.Node | None:
    """The leftmost node nested more than ``limit`` levels deep, if any; iterative on purpose."""
    if _within(node, limit):
        return None
    stack: list[tuple[Any, int]] = [(node, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return item
        stack.extend((child, depth + 1) for child in reversed(ex.children(item)))
    return None


def _within(node: ex.Node, levels: int) -> bool:
    """Whether ``node`` nests at most ``levels`` deep; recursion bounded by ``levels``."""
    if levels <= 0:
        return False
    return all(_within(child, levels - 1) for child in ex.children(node))


def _finite(value: int | float) -> float | None:
    """``value`` as a float; None for NaN, infinity and ints too large for a float (10**400)."""
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _param_text(raw: Any, value: float) -> str:
    """A parameter shows as its author wrote it (``-1B``), not as ``-1e+09``."""
    return raw.strip() if isinstance(raw, str) else _number_text(value)


def _number_text(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e15 else repr(value)


def _shorthand_value(suffix: str, param: Param) -> Any:
    if param.type in ("int", "number"):
        number = parse_number(suffix)
        return number if number is not None else suffix
    return suffix


def _are(count: int) -> str:
    return f"is only {count} rule" if count == 1 else f"are only {count} rules"


__all__ = ["compile_document", "parse_number"]
