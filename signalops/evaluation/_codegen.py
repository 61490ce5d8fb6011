"""Generate one Python function that evaluates a whole ``DecisionTree`` with its full trace.

Why generate code: a tree walk pays a Python call per node and an object per status; the generated
function keeps every status and value in local variables and returns them as four flat tuples,
which is what makes tracing nearly free (see ``bench/bench_eval.py``). The function is plain,
readable Python, kept on ``DecisionTree.source_code`` and registered with ``linecache`` so that
tracebacks and debuggers show it like any other source. Python compiles it on its first call
(``signalops validate`` makes that call), which keeps loading a strategy cheap.

The generated code must agree with the semantics documented in ``signalops.evaluation.tree``; the
property tests compare it with a direct recursive evaluator.
"""

from __future__ import annotations

import hashlib
import linecache
from typing import TYPE_CHECKING, Any

from signalops.evaluation.nodes import (
    ADAPTER_ERROR,
    FUTURE,
    MATH_ERROR,
    MISSING,
    NOT_A_NUMBER,
    STALE,
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
    Weighted,
)
from signalops.evaluation.weighted import vote_function
from signalops.observation import Observation

if TYPE_CHECKING:
    from signalops.evaluation.tree import DecisionTree


def generate(tree: DecisionTree) -> Any:
    """Compile ``tree`` into ``run(observations, now_epoch) -> (statuses, reasons)``, with its
    source on ``run.source``; Python compiles that source when ``run`` is first called.

    Only statuses and UNKNOWN reasons are produced here; operand values are a pure function of
    the observations, so the trace recomputes them when someone reads it instead of paying for
    them on every evaluation.
    """
    metric_index = {m: i for i, m in enumerate(tree.metrics)}
    lines = ["def run(obs, now):"]
    emit = lines.append

    for i, metric in enumerate(tree.metrics):
        emit(f"    # v{i}: {metric.source}.{metric.render(full=True)}")
        emit(f"    o = obs[{i}]")
        emit("    if o.__class__ is Observation:")
        emit(f"        v{i} = o.value")
        emit(f"        a{i} = now - o.epoch")
        # NaN - NaN is NaN and infinities give NaN too: the test is "finite" for floats.
        emit(f"        if v{i} - v{i} == 0:")
        emit(f"            e{i} = None if a{i} >= 0 else FUTURE")
        emit("        else:")
        emit(f"            e{i} = NOT_A_NUMBER")
        emit("    elif o is None:")
        emit(f"        e{i} = MISSING")
        emit("    else:")
        emit(f"        e{i} = ADAPTER_ERROR")

    roots = [tree.entry, *([tree.exit] if tree.exit else []), *(v.node for v in tree.vetoes)]
    for root in roots:
        for node in _postorder(root):
            _emit_node(node, metric_index, emit)

    count = len(tree.nodes)
    leaves = {n.index for n in tree.nodes if isinstance(n, Predicate)}
    trailing = "," if count == 1 else ""
    statuses = "(" + ", ".join(f"s{i}" for i in range(count)) + trailing + ")"
    reasons = "(" + ", ".join(f"w{i}" if i in leaves else "None" for i in range(count))
    emit(f"    return {statuses}, {reasons}{trailing})")
    source = "\n".join(lines) + "\n"

    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    filename = f"<signalops-tree-{digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {
        "Observation": Observation,
        "MISSING": MISSING,
        "STALE": STALE,
        "FUTURE": FUTURE,
        "NOT_A_NUMBER": NOT_A_NUMBER,
        "ADAPTER_ERROR": ADAPTER_ERROR,
        "MATH_ERROR": MATH_ERROR,
    }
    # A weighted vote reads its weights from observations and sums floats: one function per
    # node, shared with the trace's arithmetic (``signalops.evaluation.weighted``).
    for node in tree.nodes:
        if isinstance(node, Weighted):
            slots = tuple(metric_index[m] for m in node.metrics)
            namespace[f"_vote{node.index}"] = vote_function(node, slots)
    # The function is compiled on its first call, not here: CPython's compile() is ~45% of
    # loading a large strategy, and many loads (explain, the dashboard, a reload that is not
    # used) never evaluate. Until then ``run`` is a stub whose first call compiles the source and
    # gives the stub the generated code, so that every later call runs that code directly.
    exec(_STUB, namespace)
    run = namespace["run"]
    stub_code = run.__code__

    def first_call(obs: Any, now: float) -> Any:
        if run.__code__ is stub_code:  # two threads may both get here: both compile, same code
            exec(compile(source, filename, "exec"), namespace)
            run.__code__ = namespace["run"].__code__
        return run(obs, now)

    namespace["_first_call"] = first_call
    run.source = source
    return run


_STUB = compile(
    "def run(obs, now):\n    return _first_call(obs, now)\n", "<signalops-tree>", "exec"
)


def _postorder(node: Node):
    for child in node.children:
        yield from _postorder(child)
    yield node


def _emit_node(node: Node, metric_index: dict[Metric, int], emit) -> None:
    i = node.index
    if isinstance(node, Predicate):
        _emit_predicate(node, metric_index, emit)
        return
    kids = [f"s{c.index}" for c in node.children]
    emit(f"    # n{i}: {type(node).__name__} {node.path}")
    if isinstance(node, AllOf | AnyOf) and len(kids) == 1:
        emit(f"    s{i} = {kids[0]}")
    elif isinstance(node, AllOf):
        emit(f"    s{i} = 0 if ({_any(kids, 0)}) else (2 if ({_any(kids, 2)}) else 1)")
    elif isinstance(node, AnyOf):
        emit(f"    s{i} = 1 if ({_any(kids, 1)}) else (2 if ({_any(kids, 2)}) else 0)")
    elif isinstance(node, AtLeast):
        # Counted over a flat tuple: a chain "a + b + ..." nests one AST level per child, and
        # CPython's compiler overflows its recursion limit on a few thousand of them.
        emit(f"    t = {_tuple(kids)}")
        emit("    p = t.count(1)")
        emit(f"    s{i} = 1 if p >= {node.n} else (2 if p + t.count(2) >= {node.n} else 0)")
    elif isinstance(node, Not):
        child = kids[0]
        emit(f"    s{i} = 2 if {child} == 2 else 1 - {child}")
    elif isinstance(node, Weighted):
        emit(f"    s{i} = _vote{i}({_tuple(kids)}, obs, now)")
    else:  # pragma: no cover - the compiler only builds the node types above
        raise TypeError(f"cannot generate code for {type(node).__name__}")


def _any(kids: list[str], status: int) -> str:
    return f"{status} in {_tuple(kids)}"


def _tuple(kids: list[str]) -> str:
    return "(" + ", ".join(kids) + ",)"


def _emit_predicate(node: Node, metric_index: dict[Metric, int], emit) -> None:
    assert isinstance(node, Predicate)
    i = node.index
    emit(f"    # n{i}: {node.text}  [{node.path}]")
    usable = []
    errors = []
    for metric in node.metrics:
        m = metric_index[metric]
        usable.append(f"e{m} is None")
        errors.append(f"e{m}")
    for metric, max_age in zip(node.metrics, node.max_ages, strict=True):
        usable.append(f"a{metric_index[metric]} <= {max_age}")

    left = _operand(node.left, metric_index)
    rights = [_operand(r, metric_index) for r in node.right]
    if node.op == "between":
        compare = f"{rights[0]} <= {left} <= {rights[1]}"
    else:
        compare = f"{left} {node.op} {rights[0]}"
    computed = not _simple(node.left) or any(not _simple(r) for r in node.right)

    indent = "    "
    if usable:
        emit(f"    if {' and '.join(usable)}:")
        indent = "        "
    if not computed:
        emit(f"{indent}s{i} = 1 if {compare} else 0")
        emit(f"{indent}w{i} = None")
    else:
        # Arithmetic can divide by zero or overflow to infinity: both make the leaf UNKNOWN.
        emit(f"{indent}try:")
        emit(f"{indent}    x = {left}")
        finite = ["x - x == 0"]
        for k, right in enumerate(rights):
            emit(f"{indent}    y{k} = {right}")
            finite.append(f"y{k} - y{k} == 0")
        emit(f"{indent}except ZeroDivisionError:")
        emit(f"{indent}    s{i} = 2")
        emit(f"{indent}    w{i} = MATH_ERROR")
        emit(f"{indent}else:")
        emit(f"{indent}    if {' and '.join(finite)}:")
        test = "y0 <= x <= y1" if node.op == "between" else f"x {node.op} y0"
        emit(f"{indent}        s{i} = 1 if {test} else 0")
        emit(f"{indent}        w{i} = None")
        emit(f"{indent}    else:")
        emit(f"{indent}        s{i} = 2")
        emit(f"{indent}        w{i} = MATH_ERROR")
    if usable:
        emit("    else:")
        emit(f"        s{i} = 2")
        emit(f"        w{i} = {' or '.join([*errors, 'STALE'])}")


def _operand(operand: Operand, metric_index: dict[Metric, int]) -> str:
    if isinstance(operand, Metric):
        return f"v{metric_index[operand]}"
    if isinstance(operand, Const):
        return repr(float(operand.value))
    if isinstance(operand, Neg):
        return f"(-{_operand(operand.operand, metric_index)})"
    if isinstance(operand, Arith):
        left = _operand(operand.left, metric_index)
        right = _operand(operand.right, metric_index)
        return f"({left} {operand.op} {right})"
    raise TypeError(f"not an operand: {operand!r}")  # pragma: no cover


def _simple(operand: Operand) -> bool:
    return isinstance(operand, Metric | Const)
