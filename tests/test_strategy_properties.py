"""Property tests: whatever text a trader (or a fuzzer) hands to ``loads``, the only exception is a
``StrategyError`` that points at a real place in the file.

Inputs are random YAML documents (shaped like strategies, so that they get past the YAML layer into
the schema and the compiler), structural mutations of the bundled strategies (keys deleted,
renamed, values of the wrong type) and textual mutations (insertions, deletions, truncation).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalops.errors import StrategyError
from signalops.strategy import Strategy, loads
from signalops.strategy._yaml import load_yaml

ROOT = Path(__file__).resolve().parents[1]
FILES = [
    *sorted((ROOT / "strategies").glob("*.yaml")),
    ROOT / "tests/fixtures/original_readme.yaml",
]
TEXTS = {path.name: path.read_text(encoding="utf-8") for path in FILES}
DOCUMENTS = {name: load_yaml(text, name).data for name, text in TEXTS.items()}
HASHES = {name: loads(text, name).content_hash for name, text in TEXTS.items()}

NAME = "mutant.yaml"
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_loads_only_raises_strategy_errors(text: str, file: str = NAME) -> Strategy | None:
    """``loads(text)`` either compiles, or raises StrategyError(s) that each point into the file."""
    try:
        return loads(text, file)
    except StrategyError as exc:
        errors = exc.errors
        assert errors, "a StrategyErrors group is never empty"
        assert str(exc).startswith(file)
        for error in errors:
            assert isinstance(error, StrategyError)
            assert error.file == file
            assert error.line >= 1, str(error)
            assert error.column >= 1, str(error)
            assert str(error).startswith(f"{file}:{error.line}:{error.column}: "), str(error)
            assert error.message
            if error.source_line is not None:
                assert error.source_line == text.splitlines()[error.line - 1]
                assert error.column <= len(error.source_line) + 1, str(error)
            assert isinstance(error.excerpt, str)
        positions = [(error.line, error.column) for error in errors]
        assert positions == sorted(positions), "errors come in source order"
        return None


# --- random documents shaped like strategies -----------------------------------------------------

KEYS = [
    "strategy", "name", "description", "assets", "params", "defaults", "rules", "exit", "vetoes",
    "execution", "id", "source", "max_age", "conditions", "blocks", "metric", "operator",
    "threshold", "market", "outcome", "when", "all", "any", "at_least", "n", "of", "not",
    "require_confirmations", "position_size", "action_mode", "timeframe", "window",
]  # fmt: skip
WORDS = [
    "technical", "fundamental", "polymarket", "onchain", "news", "rsi", "rsi_14", "sma_50",
    "pe_ratio", "price_to_sales", "exchange_net_flow_24h", "yes", "no", "spread", "change",
    "<", "<=", "=<", ">", "between", "paper", "notify", "auto", "BUY", "sell", "1h", "2d",
    "0s", "7d", "5%", "100M", "-1B", "$p", "$missing", "BTC", "ETH", "some-market",
    "rsi(14) < 30", "close > sma(200) * 0.9", "polymarket('x').yes > 0.5", "rsi(14) < < 3",
    "stablecoin_net_flow('USDC', '24h') > 100M", "not (macd_hist > 0)", "rsi(n=14) between 1 and 2",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), children, max_size=5
        ),
    ),
    max_leaves=25,
)


@FAST
@given(document=st.dictionaries(st.sampled_from(KEYS), values, max_size=6))
def test_random_strategy_shaped_document_only_raises_strategy_errors(document):
    text = yaml.safe_dump({"strategy": document}, allow_unicode=True)

    assert_loads_only_raises_strategy_errors(text)


@FAST
@given(document=values)
def test_random_yaml_document_only_raises_strategy_errors(document):
    text = yaml.safe_dump(document, allow_unicode=True, default_flow_style=None)

    assert_loads_only_raises_strategy_errors(text)


@FAST
@given(text=st.text(max_size=200))
def test_random_text_only_raises_strategy_errors(text):
    assert_loads_only_raises_strategy_errors(text)


@FAST
@given(text=st.text(alphabet=" \t\n\r-:[]{}'\"$#&*!|>%?,.<=0123456789abstruenoy_\\", max_size=120))
def test_random_yaml_punctuation_only_raises_strategy_errors(text):
    assert_loads_only_raises_strategy_errors(text)


# --- structural mutations of the bundled strategies ----------------------------------------------


def _paths(data: Any, path: tuple = ()) -> list[tuple]:
    """Every path below the root, parents before children."""
    found = []
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return found
    for key, value in items:
        found.append((*path, key))
        found.extend(_paths(value, (*path, key)))
    return found


def _parent(data: Any, path: tuple) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


def _rename(key: str, how: int) -> str:
    if not key:
        return "x"
    position = how % len(key)
    edits = [
        key[:position] + key[position + 1 :],  # a letter dropped
        key[:position] + key[position] * 2 + key[position + 1 :],  # a letter doubled
        key.upper(),
        key + "s",
        key[:position] + "_" + key[position:],
    ]
    return edits[how % len(edits)] or "x"


replacements = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from(KEYS), scalars, max_size=3),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(DOCUMENTS)),
    data=st.data(),
    kind=st.sampled_from(["delete", "rename", "replace"]),
    rounds=st.integers(min_value=1, max_value=3),
)
def test_structurally_mutated_strategy_only_raises_strategy_errors(name, data, kind, rounds):
    document = copy.deepcopy(DOCUMENTS[name])
    for _ in range(rounds):
        paths = _paths(document)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        parent = _parent(document, path)
        key = path[-1]
        if kind == "delete":
            del parent[key]
        elif kind == "rename" and isinstance(parent, dict):
            renamed = _rename(key, data.draw(st.integers(0, 50), label="edit"))
            parent[renamed] = parent.pop(key)
        else:
            parent[key] = data.draw(replacements, label="value")
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)

    assert_loads_only_raises_strategy_errors(text)


@FAST
@given(name=st.sampled_from(sorted(DOCUMENTS)), data=st.data())
def test_renamed_key_is_reported_as_an_unknown_key_at_that_key(name, data):
    document = copy.deepcopy(DOCUMENTS[name])
    paths = [p for p in _paths(document) if isinstance(p[-1], str) and p[-1] != "strategy"]
    path = data.draw(st.sampled_from(paths), label="path")
    parent = _parent(document, path)
    if path[-2:-1] == ("params",):
        return  # params, defaults.params and condition params take any name
    parent[path[-1] + "zz"] = parent.pop(path[-1])
    text = yaml.safe_dump(document, sort_keys=False)

    try:
        loads(text, NAME)
    except StrategyError as exc:
        unknown = [e for e in exc.errors if e.message == f"unknown key '{path[-1]}zz'"]
        assert unknown, str(exc)
        (error,) = unknown
        assert error.source_line.lstrip(" -").startswith(f"{path[-1]}zz:")
    else:
        raise AssertionError(f"renaming {path} to {path[-1]}zz was accepted")


# --- textual mutations ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(TEXTS)),
    data=st.data(),
    insert=st.text(
        alphabet=st.sampled_from(list(" \t\n-:[]{}'\"$#&*!|>%().,<=0123456789abnotwhe_")),
        max_size=8,
    ),
    cut=st.integers(min_value=0, max_value=12),
)
def test_text_inserted_or_deleted_anywhere_only_raises_strategy_errors(name, data, insert, cut):
    text = TEXTS[name]
    at = data.draw(st.integers(min_value=0, max_value=len(text)), label="at")

    assert_loads_only_raises_strategy_errors(text[:at] + insert + text[at + cut :])


@FAST
@given(name=st.sampled_from(sorted(TEXTS)), data=st.data())
def test_truncated_strategy_only_raises_strategy_errors(name, data):
    text = TEXTS[name]
    at = data.draw(st.integers(min_value=0, max_value=len(text)), label="at")

    assert_loads_only_raises_strategy_errors(text[:at])


@FAST
@given(name=st.sampled_from(sorted(TEXTS)), data=st.data())
def test_strategy_with_lines_swapped_or_repeated_only_raises_strategy_errors(name, data):
    lines = TEXTS[name].splitlines(keepends=True)
    i = data.draw(st.integers(min_value=0, max_value=len(lines) - 1), label="i")
    j = data.draw(st.integers(min_value=0, max_value=len(lines) - 1), label="j")
    if data.draw(st.booleans(), label="swap"):
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines.insert(j, lines[i])

    assert_loads_only_raises_strategy_errors("".join(lines))


# --- formatting never changes the content hash ---------------------------------------------------


@FAST
@given(
    name=st.sampled_from(sorted(DOCUMENTS)),
    flow=st.sampled_from([None, True, False]),
    indent=st.integers(min_value=2, max_value=6),
    width=st.integers(min_value=20, max_value=200),
    sort_keys=st.booleans(),
)
def test_reformatted_strategy_compiles_to_the_same_content_hash(
    name, flow, indent, width, sort_keys
):
    text = yaml.safe_dump(
        DOCUMENTS[name],
        default_flow_style=flow,
        indent=indent,
        width=width,
        sort_keys=sort_keys,
        allow_unicode=True,
    )

    strategy = loads(text, NAME)

    assert strategy.content_hash == HASHES[name]


@FAST
@given(name=st.sampled_from(sorted(DOCUMENTS)), data=st.data())
def test_changing_one_number_changes_the_content_hash(name, data):
    document = copy.deepcopy(DOCUMENTS[name])
    numbers = [
        p
        for p in _paths(document)
        if isinstance(_parent(document, p)[p[-1]], int | float)
        and not isinstance(_parent(document, p)[p[-1]], bool)
    ]
    if not numbers:
        return
    path = data.draw(st.sampled_from(numbers), label="path")
    parent = _parent(document, path)
    parent[path[-1]] = parent[path[-1]] + 1
    assert math.isfinite(parent[path[-1]])

    result = assert_loads_only_raises_strategy_errors(yaml.safe_dump(document))

    if result is not None:
        assert result.content_hash != HASHES[name]
