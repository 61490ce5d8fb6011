"""One trace format and one renderer: every view of a tree is drawn from its JSON, building a
record does not import rich, and the evaluation layers import each other in one direction."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest
from audit_scenarios import SCENARIOS, STRATEGY
from conftest import ROOT

from signalops.audit import why
from signalops.audit.expand import expanded
from signalops.canonical import canonical_json
from signalops.explain import (
    RECORD,
    View,
    evaluation_lines,
    header_lines,
    strategy_lines,
    trace_to_dict,
    tree_json,
    tree_lines,
    tree_to_dict,
    with_trace,
)


def plain(lines) -> list[str]:
    return [line.plain for line in lines]


def test_a_live_tree_is_drawn_from_its_json_with_the_trace_laid_over_it():
    evaluation = SCENARIOS.evaluate((25.0, -0.02, -5e8))
    trace = json.loads(json.dumps(evaluation.to_dict()))  # JSON only, no Python objects

    drawn = plain(evaluation_lines(tree_to_dict(STRATEGY), evaluation.to_dict()))[1:]
    from_json = plain(
        tree_lines(with_trace(tree_json(STRATEGY.tree), trace), View(file_lines=True))
    )

    assert drawn == from_json
    assert drawn[0] == "PASS    BUY when this rule passes"


def test_evaluate_lines_are_the_verdict_then_the_traced_tree():
    evaluation = SCENARIOS.evaluate((25.0, -0.02, -5e8))

    lines = plain(evaluation_lines(tree_to_dict(STRATEGY), evaluation.to_dict()))

    assert lines[0] == "Banking_Crisis_Dip · BTC · 2023-03-13T00:00:00Z: BUY"
    traced = with_trace(tree_json(STRATEGY.tree), trace_to_dict(evaluation.trace))
    assert lines[1:] == plain(tree_lines(traced, View(file_lines=True)))


def test_explain_lines_are_the_header_then_the_tree_without_statuses():
    lines = plain(strategy_lines(tree_to_dict(STRATEGY)))

    header = plain(header_lines(tree_to_dict(STRATEGY)))
    assert lines[: len(header)] == header
    assert lines[len(header) :] == plain(
        tree_lines(tree_json(STRATEGY.tree), View(file_lines=True))
    )
    assert not any(line.startswith(("PASS", "FAIL", "UNKNOWN")) for line in lines)


@pytest.mark.parametrize("situation", ["buy", "blocked", "hold"])
def test_why_and_evaluate_draw_the_same_headings_and_veto_lines(situation: str):
    record = expanded(SCENARIOS.record(situation), strategy=STRATEGY)
    stored = json.loads(canonical_json(record["trace"]))

    live = plain(tree_lines(with_trace(tree_json(STRATEGY.tree), stored)))
    told = plain(why.trees(stored))

    def unindented(lines: list[str]) -> list[str]:
        return [line for line in lines if not line.startswith((" ", "├", "└", "│"))]

    assert unindented(live) == unindented(told)
    assert plain(tree_lines(stored, RECORD)) == told


def test_building_a_record_does_not_import_rich():
    code = "import sys, signalops.audit.record; print('rich' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "False"


# Modules whose imports used to run in circles (tree <-> _codegen <-> explain, study <-> report).
LAYERED = [
    "signalops/evaluation/nodes.py",
    "signalops/evaluation/_codegen.py",
    "signalops/evaluation/trace_json.py",
    "signalops/evaluation/tree.py",
    "signalops/explain/__init__.py",
    "signalops/explain/render.py",
    "signalops/explain/text.py",
    "signalops/backtest/comparison.py",
    "signalops/backtest/study.py",
    "signalops/backtest/report.py",
    "signalops/backtest/filters.py",
    "signalops/backtest/sweep.py",
]
# Imported where they are used because they are slow to import, not to dodge a cycle.
HEAVY = {"matplotlib.figure", "matplotlib.dates", "talib"}


@pytest.mark.parametrize("path", LAYERED)
def test_imports_sit_at_the_top_of_the_module_except_heavy_optional_ones(path: str):
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    late = [
        node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert [name for name in late if name not in HEAVY] == []


@pytest.mark.parametrize(
    "module",
    [
        "signalops.evaluation._codegen",
        "signalops.evaluation.trace_json",
        "signalops.backtest.report",
    ],
)
def test_a_lower_module_imports_first_in_a_fresh_interpreter(module: str):
    # With a cycle, importing the lower half first fails on a partly initialised module.
    subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, check=True)


def test_reason_lines_of_a_stored_unknown_leaf_read_the_same_in_both_views():
    record = expanded(SCENARIOS.record("hold", values=(None, -0.02, -5e8)), strategy=STRATEGY)
    stored = record["trace"]

    live = plain(tree_lines(with_trace(tree_json(STRATEGY.tree), stored)))
    told = plain(why.trees(stored))

    reasons = [line.strip() for line in told if "UNKNOWN: " in line and "no data" in line]
    assert reasons and all(any(reason in line for line in live) for reason in reasons)
