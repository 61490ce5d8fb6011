"""Compiling a large strategy: every position stays exact, and the fast paths agree with the
reference ones.

Loading has fast paths: libyaml's events instead of PyYAML's pure-Python scanner, a
recursive-descent parser instead of lark, a quick yes/no schema check before jsonschema, and an
evaluator generated on its first call. Each gives up whenever it is unsure and the reference path
(PyYAML, lark, jsonschema) takes over and words every error, exactly as before. These tests hold
the two to the same results: on a 500-leaf generated strategy, on the bundled strategies, and on
randomly damaged variants of them (fixed seeds). No timings: bench/bench_compile.py measures.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.bench_compile import generated_strategy
from signalops.catalogue.builtin import BUILTIN
from signalops.errors import ExpressionSyntaxError, StrategyError
from signalops.evaluation.nodes import Predicate
from signalops.strategy import _yaml, expression, loads, schema
from signalops.strategy.check import check_files

REPO = Path(__file__).resolve().parents[1]
BUNDLED = sorted((REPO / "strategies").glob("*.yaml"))
README_FIXTURE = REPO / "tests" / "fixtures" / "original_readme.yaml"
BIG = generated_strategy(500)
SOURCES = tuple(BUILTIN.sources)


def position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of character ``index``, counted independently of the loader."""
    return text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index)


def offset(text: str, line: int, column: int) -> int:
    """The character at 1-based ``line`` and ``column`` (lines end at \\n only: BIG's do)."""
    lines = text.split("\n")
    return sum(len(earlier) + 1 for earlier in lines[: line - 1]) + column - 1


def leaves_in_file_order(text: str, file: str = "big.yaml") -> list[Predicate]:
    leaves = loads(text, file).tree.leaves()
    return sorted(leaves, key=lambda leaf: (leaf.span.line, leaf.span.column))


def is_structured(text: str, leaf: Predicate) -> bool:
    """A metric/market condition, whose span is the condition's mapping, not an expression."""
    return text.startswith(("metric:", "market:"), offset(text, leaf.span.line, leaf.span.column))


def loads_error(text: str, file: str = "big.yaml") -> StrategyError:
    with pytest.raises(StrategyError) as info:
        loads(text, file)
    return info.value


def line_of(text: str, line: int) -> str:
    return text.split("\n")[line - 1]


def use_reference_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, only the reference paths: PyYAML in Python, lark and jsonschema."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("fast path switched off")

    monkeypatch.setattr(_yaml, "_load_fast", lambda text, file: None)
    monkeypatch.setattr(expression, "_FastParser", refuse)
    monkeypatch.setattr(schema, "_quick_check", lambda sources=None: None)


# --- a large strategy ----------------------------------------------------------------------------


def test_a_500_leaf_strategy_compiles_with_every_leaf_span_on_its_own_condition():
    leaves = leaves_in_file_order(BIG)

    assert len(leaves) == 500
    for leaf in leaves:
        assert leaf.span.file == "big.yaml"
        if is_structured(BIG, leaf):
            continue
        # A when: leaf points at its own comparison inside the expression, which starts with
        # the metric the leaf reads first.
        written = line_of(BIG, leaf.span.line)[leaf.span.column - 1 :]
        metric = re.match(r"[A-Za-z_]\w*", leaf.text)
        assert metric is not None
        assert written.startswith(metric.group()), (leaf.path, leaf.span, written)


def test_an_unknown_metric_planted_in_leaf_480_is_reported_at_its_line_and_column():
    leaf = next(
        leaf
        for leaf in leaves_in_file_order(BIG)[480:]
        if not is_structured(BIG, leaf) and leaf.rule.endswith("_technical")
    )
    at = offset(BIG, leaf.span.line, leaf.span.column)
    name = re.match(r"[A-Za-z_]\w*", BIG[at:])
    assert name is not None
    damaged = BIG[:at] + "rsx_bogus" + BIG[at + len(name.group()) :]

    error = loads_error(damaged)

    assert (error.line, error.column) == position(damaged, at)
    assert error.message == "unknown metric 'rsx_bogus' in source 'technical'"
    assert error.source_line == line_of(damaged, error.line)


def test_a_syntax_error_planted_in_leaf_480_points_inside_its_expression():
    leaf = next(leaf for leaf in leaves_in_file_order(BIG)[480:] if not is_structured(BIG, leaf))
    start = offset(BIG, leaf.span.line, leaf.span.column)
    operator = re.compile(r" (<=|>=|<|>|between) ").search(BIG, start)
    assert operator is not None
    at = operator.start(1)
    damaged = BIG[:at] + "<<" + BIG[at + len(operator.group(1)) :]
    expression_start = damaged.rindex('"', 0, at) + 1
    expression_text = damaged[expression_start : damaged.index('"', at)]
    with pytest.raises(ExpressionSyntaxError) as expected:
        expression._parse_with_lark(expression_text)

    error = loads_error(damaged)

    assert (error.line, error.column) == position(damaged, expression_start + expected.value.offset)
    assert error.message == expected.value.message
    assert error.expected == expected.value.expected


def test_an_unknown_key_planted_in_a_late_condition_gets_its_position_and_a_hint():
    leaf = next(leaf for leaf in leaves_in_file_order(BIG)[480:] if is_structured(BIG, leaf))
    at = BIG.index("operator:", offset(BIG, leaf.span.line, leaf.span.column))
    damaged = BIG[:at] + "operatr:" + BIG[at + len("operator:") :]

    error = loads_error(damaged)

    assert (error.line, error.column) == position(damaged, at)
    assert error.message == "unknown key 'operatr'"
    assert error.hint == "did you mean 'operator'?"


def test_a_duplicate_key_near_the_end_of_a_large_file_is_reported_where_it_is():
    start = BIG.rindex("\n", 0, BIG.rindex(" source: ")) + 1
    line = BIG[start : BIG.index("\n", start) + 1]
    damaged = BIG[:start] + line + BIG[start:]
    indent = len(line) - len(line.lstrip(" "))

    error = loads_error(damaged)

    assert (error.line, error.column) == position(damaged, start + len(line) + indent)
    assert error.message == "duplicate key 'source'"


def test_a_large_strategy_compiles_to_what_the_reference_paths_give(
    monkeypatch: pytest.MonkeyPatch,
):
    fast = loads(BIG, "big.yaml")
    use_reference_paths(monkeypatch)
    reference = loads(BIG, "big.yaml")

    assert fast.tree == reference.tree
    assert fast.tree.source_code == reference.tree.source_code
    assert (fast.content_hash, fast.document) == (reference.content_hash, reference.document)


@pytest.mark.parametrize("path", [*BUNDLED, README_FIXTURE], ids=lambda p: p.name)
def test_each_bundled_strategy_compiles_to_what_the_reference_paths_give(
    path: Path, monkeypatch: pytest.MonkeyPatch
):
    text = path.read_text(encoding="utf-8")
    fast = loads(text, path.name)
    use_reference_paths(monkeypatch)
    reference = loads(text, path.name)

    assert fast.tree == reference.tree
    assert [leaf.span for leaf in fast.tree.leaves()] == [
        leaf.span for leaf in reference.tree.leaves()
    ]
    assert fast.tree.source_code == reference.tree.source_code
    assert fast.content_hash == reference.content_hash


def test_the_fast_paths_are_the_ones_taken_for_the_bundled_and_generated_strategies():
    quick = schema._quick_check(SOURCES)
    assert quick is not None
    for text in [BIG, *(path.read_text(encoding="utf-8") for path in BUNDLED)]:
        doc = _yaml._load_fast(text, "s.yaml")
        assert doc is not None
        assert quick(doc.data)
        for condition in _when_texts(doc.data):
            expression._FastParser(condition).parse()  # raises if it would fall back to lark


def test_the_evaluator_generated_on_first_use_decides_like_one_compiled_at_once():
    as_of = datetime(2024, 3, 12, tzinfo=UTC)
    tree = loads(BIG).tree
    missing = (None,) * len(tree.metrics)

    first = tree.evaluate_aligned(missing, as_of, "BTC")
    second = tree.evaluate_aligned(missing, as_of, "BTC")
    namespace: dict[str, Any] = dict(tree._run.__globals__)
    exec(compile(tree.source_code, "<check>", "exec"), namespace)

    assert first.statuses == second.statuses
    assert first.statuses == namespace["run"](missing, as_of.timestamp())[0]


def test_validating_a_large_strategy_runs_its_evaluator(tmp_path: Path):
    (tmp_path / "big.yaml").write_text(BIG, encoding="utf-8")

    (checked,) = check_files([tmp_path / "big.yaml"])

    assert checked.error is None and checked.strategy is not None
    assert checked.strategy.tree._run.__code__.co_filename.startswith("<signalops-tree-")


# --- YAML: libyaml's events against PyYAML in Python ---------------------------------------------

TRICKY_YAML = [
    "a: 1\r\nb: 2\r\n",
    "a: 1\rb: 2\r",
    "a: 1\x85b: 2\n",
    "a: 'x\u2028y'\nb: 1",
    "é: ü\nb: '😀😀'\nc: [😀, é]\n",
    "a: |\n  line1\n  line2\n\nb: >\n  folded\n  text\n\n\n",
    "a: |-\n  x\nb: |+\n  y\n\n",
    'a: "esc\\n\\t\\u00e9"\n',
    "a: plain\n  continued\n  more\n",
    "- &x {a: 1}\n- *x\n",
    "? complex\n: value\n",
    "{a: 1, b: [1, {c: d}]}",
    "a: !!str 1\nb: !!int '3'\nc: !!float 1\n",
    "a: .inf\nb: -.nan\nc: 0x1F\nd: 1_000\n",
    "a: yes\nb: no\nc: 2024-11-06\ne: True\n",
    "a: ~\nb: null\nc:\n",
    "x: ",
    "- ",
    "? b",
    "!\n",
    "a: |#x\n  y\n",
    "a: [x: ]\n",
    "a: {b: c? d}\n",
    "a: 1\n---\nb: 2\n",
    "\ta: 1",
    "%YAML 1.3\n---\na: 1\n",
    "\ufeffa: 1\n",
    "a: \x07\n",
    "<<: {a: 1}\n",
    "a: 1\na: 2\n",
    "[a]: b\n",
    "a: *undefined\n",
    "[" * 40 + "]" * 40,
    "",
]


def same_document(fast: _yaml.Document, reference: _yaml.Document) -> bool:
    return (
        repr(fast.data) == repr(reference.data)
        and fast.values == reference.values
        and fast.keys == reference.keys
        and fast.styles == reference.styles
    )


def reference_document(text: str) -> _yaml.Document | None:
    try:
        return _yaml._load_python(text, "s.yaml")
    except StrategyError:
        return None


def yaml_corpus(seed: int, count: int) -> list[str]:
    """Bundled strategies and the generated one, each damaged by a few random edits."""
    rnd = random.Random(seed)
    originals = [path.read_text(encoding="utf-8") for path in BUNDLED] + [generated_strategy(20)]
    pieces = [" ", "\n", "- ", ": ", ":", "'", '"', "[", "]", "{", "}", ",", "#", "&x ", "*x"]
    pieces += ["!!str ", "? ", "|", ">", "é", "\r\n", "\r", "\\", "  ", "~", "%", "!", "\u2028"]
    texts = []
    for _ in range(count):
        text = rnd.choice(originals)
        for _ in range(rnd.randint(1, 3)):
            at = rnd.randrange(len(text) + 1)
            if rnd.random() < 0.5:
                text = text[:at] + rnd.choice(pieces) + text[at:]
            else:
                text = text[:at] + text[at + rnd.randint(1, 4) :]
        texts.append(text)
    return texts


@pytest.mark.parametrize("text", TRICKY_YAML, ids=repr)
def test_libyaml_events_give_pyyamls_document_or_leave_it_to_pyyaml(text: str):
    fast = _yaml._load_fast(text, "s.yaml")
    reference = reference_document(text)

    if reference is None:
        assert fast is None
    elif fast is not None:
        assert same_document(fast, reference)


def test_libyaml_events_agree_with_pyyaml_on_damaged_strategy_files():
    taken = 0
    for text in yaml_corpus(seed=7, count=400):
        fast = _yaml._load_fast(text, "s.yaml")
        reference = reference_document(text)
        if reference is None:
            assert fast is None, text
        elif fast is not None:
            assert same_document(fast, reference), text
            taken += 1
    assert taken > 100  # most damaged files are still YAML, and the fast path reads them


def test_a_file_with_no_final_line_break_keeps_pyyamls_end_positions():
    text = BIG.rstrip("\n")

    fast = _yaml._load_fast(text, "s.yaml")
    reference = reference_document(text)

    assert fast is not None and reference is not None
    assert same_document(fast, reference)


def test_every_yaml_problem_reads_as_before_with_the_fast_path_on():
    for text in yaml_corpus(seed=11, count=150):
        try:
            _yaml._load_python(text, "s.yaml")
        except StrategyError as expected:
            with pytest.raises(StrategyError) as got:
                _yaml.load_yaml(text, "s.yaml")
            assert str(got.value) == str(expected)
            assert (got.value.line, got.value.column) == (expected.line, expected.column)


# --- expressions: the recursive-descent parser against lark ---------------------------------------


def _when_texts(data: Any) -> list[str]:
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            found += [value] if key == "when" and isinstance(value, str) else _when_texts(value)
    elif isinstance(data, list):
        for value in data:
            found += _when_texts(value)
    return found


NAMES = ["rsi", "close", "sma", "technical", "polymarket", "x", "android", "AND", "nota", "yes"]
VALUES = ["1", "0.5", ".5", "5%", "1.5k", "2B", "1e3", "15m", "2d", "'s'", '"d"', "'a\\'b'", "$p"]
VALUES += ["close", "rsi(14)", "sma(n=50, timeframe=4h)", "polymarket('m').yes", "f()", "x.y.z"]


def expression_corpus(seed: int, count: int) -> list[str]:
    """Random conditions from the grammar, some damaged by a random edit."""
    rnd = random.Random(seed)

    def space() -> str:
        return rnd.choice(["", " ", " ", "  ", "\t", "\n"])

    def value(depth: int) -> str:
        r = rnd.random()
        if depth > 3 or r < 0.35:
            return rnd.choice(VALUES)
        if r < 0.45:
            return "-" + space() + value(depth + 1)
        if r < 0.6:
            return "(" + space() + value(depth + 1) + space() + ")"
        if r < 0.8:
            return value(depth + 1) + space() + rnd.choice("+-*/") + space() + value(depth + 1)
        args = [
            (rnd.choice(NAMES) + "=" if rnd.random() < 0.4 else "") + value(depth + 1)
            for _ in range(rnd.randint(0, 3))
        ]
        return rnd.choice(NAMES) + "(" + ", ".join(args) + ")"

    def condition(depth: int) -> str:
        r = rnd.random()
        if depth > 3 or r < 0.4:
            if rnd.random() < 0.15:
                return f"{value(depth)} between {value(depth + 1)} and {value(depth + 1)}"
            op = rnd.choice(["<", "<=", ">", ">=", "==", "!="])
            return value(depth) + space() + op + space() + value(depth)
        if r < 0.55:
            return "not " + condition(depth + 1)
        if r < 0.7:
            return "(" + condition(depth + 1) + ")"
        joiner = " and " if r < 0.85 else " or "
        return condition(depth + 1) + joiner + condition(depth + 1)

    edits = ["(", ")", ",", ".", "=", "<", "and ", "not ", "$", "'", "1.2.3", "5mins", ""]
    texts = []
    for _ in range(count):
        text = condition(0)
        if rnd.random() < 0.3:
            at = rnd.randrange(len(text) + 1)
            text = text[:at] + rnd.choice(edits) + text[at + rnd.randint(0, 2) :]
        texts.append(text)
    return texts


def lark_result(text: str) -> expression.BoolExpr | None:
    try:
        return expression._parse_with_lark(text)
    except ExpressionSyntaxError:
        return None


def test_the_fast_expression_parser_gives_larks_tree_or_leaves_it_to_lark():
    accepted = 0
    for text in expression_corpus(seed=3, count=3000):
        try:
            fast = expression._FastParser(text).parse()
        except Exception:
            fast = None
        expected = lark_result(text)
        if fast is not None:
            assert fast == expected, text
            accepted += 1
        elif expected is not None:
            # Only what lark parses without recursing too deep for the fast parser.
            assert _depth(expected) > 40, text
    assert accepted > 500


def test_every_expression_error_reads_as_before_with_the_fast_parser_on():
    for text in expression_corpus(seed=5, count=1500):
        try:
            expression._parse_with_lark(text)
        except ExpressionSyntaxError as expected:
            with pytest.raises(ExpressionSyntaxError) as got:
                expression.parse(text)
            assert (got.value.message, got.value.offset, got.value.expected) == (
                expected.message,
                expected.offset,
                expected.expected,
            )


def test_deeply_nested_expressions_are_left_to_lark_and_parse_the_same():
    for text in ["(" * 45 + "a < 1" + ")" * 45, "not " * 60 + "a < 1", "a < " + "-" * 60 + "1"]:
        assert expression.parse(text) == expression._parse_with_lark(text)


def test_children_lists_every_node_inside_a_node_in_field_order():
    node_types = {
        kind
        for kind in vars(expression).values()
        if isinstance(kind, type)
        and dataclasses.is_dataclass(kind)
        and kind.__module__ == expression.__name__
    }
    assert set(expression._CHILD_FIELDS) == node_types
    for text in expression_corpus(seed=17, count=300):
        tree = lark_result(text)
        stack = [tree] if tree is not None else []
        while stack:
            node = stack.pop()
            inside = [
                child
                for field in dataclasses.fields(node)
                for child in _as_tuple(getattr(node, field.name))
                if dataclasses.is_dataclass(child)
            ]
            assert expression.children(node) == inside
            stack.extend(inside)


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def _depth(node: expression.Node) -> int:
    return 1 + max((_depth(child) for child in expression.children(node)), default=0)


# --- the schema: the quick check against jsonschema -----------------------------------------------

ODD_VALUES: list[Any] = [None, True, False, 0, 1, -1, 1.5, 2.0, float("inf"), float("nan"), ""]
ODD_VALUES += ["x", "BUY", "buy", "technical", "Technicl", "2d", "0s", "<", "=<", "between"]
ODD_VALUES += [[], [1], ["a", "a"], ["BUY", "BUY"], [1, True], {}, {"x": 1}, {"when": "x"}]
ODD_VALUES += [{"all": []}, {"n": 1, "of": []}, 10**30, "$p", "halted", "auto"]
ODD_KEYS = ["extra", "whne", "blocks", "max_age", "source", "params", "outcome", "metric", "n"]


def damaged_documents(seed: int, count: int) -> list[Any]:
    rnd = random.Random(seed)
    originals = [yaml.safe_load(path.read_text(encoding="utf-8")) for path in BUNDLED]
    originals.append(_yaml.load_yaml(generated_strategy(30), "g.yaml").data)
    documents = []
    for _ in range(count):
        document = copy.deepcopy(rnd.choice(originals))
        for _ in range(rnd.randint(1, 3)):
            places = list(_places(document))
            if not places:
                break  # nothing left to damage: the whole strategy is gone
            parent, key = rnd.choice(places)
            if rnd.random() < 0.5:
                parent[key] = copy.deepcopy(rnd.choice(ODD_VALUES))
            elif isinstance(parent, dict) and rnd.random() < 0.5:
                del parent[key]
            elif isinstance(parent, dict):
                parent[rnd.choice(ODD_KEYS)] = copy.deepcopy(rnd.choice(ODD_VALUES))
            else:
                parent.append(copy.deepcopy(rnd.choice(parent)))
        documents.append(document)
    return documents


def _places(value: Any) -> Any:
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in list(items):
        yield value, key
        if isinstance(item, dict | list) and item:
            yield from _places(item)


@pytest.mark.parametrize("sources", [SOURCES, None], ids=["installed sources", "any source"])
def test_the_quick_schema_check_passes_only_documents_jsonschema_passes(sources):
    quick = schema._quick_check(sources)
    validator = schema._validator(sources)
    assert quick is not None
    passed = 0
    for document in damaged_documents(seed=13, count=600):
        if quick(document):
            assert list(validator.iter_errors(document)) == [], document
            passed += 1
    assert passed > 50
