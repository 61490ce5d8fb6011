"""Validate a loaded strategy document against ``schemas/strategy.schema.json``.

The JSON Schema is the single source of truth for the file's shape (it is also what
``signalops schema`` prints for editors); this module only translates jsonschema's findings into
``StrategyError``s that point at the offending key or value and suggest the likely fix.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from signalops.errors import StrategyError
from signalops.strategy._yaml import Document

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "nothing",
}


def schema_path(name: str = "strategy.schema.json") -> Path:
    """Where the schema lives: inside an installed wheel, or in the checkout's ``schemas/``."""
    packaged = resources.files("signalops") / "schemas" / name
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "schemas" / name


@cache
def strategy_schema() -> dict[str, Any]:
    return json.loads(schema_path().read_text(encoding="utf-8"))


@cache
def _validator(sources: tuple[str, ...] | None = None) -> Draft202012Validator:
    """The schema, with ``source`` narrowed to the installed sources when they are given.

    The published schema only checks the *shape* of a source name, so that a plugin's source is
    valid; validating against the installed names keeps a typo such as 'technicl' in the same
    pass as every other shape error, with its "did you mean".
    """
    schema = strategy_schema()
    if sources is not None:
        schema = copy.deepcopy(schema)
        schema["$defs"]["source"] = {"enum": list(sources)}
    return Draft202012Validator(schema)


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


def check_schema(doc: Document, sources: tuple[str, ...] | None = None) -> list[StrategyError]:
    """Every schema problem in ``doc``, in source order (``sources``: the installed ones)."""
    validator = _validator(sources)
    raw = sorted(validator.iter_errors(doc.data), key=lambda e: list(map(str, e.absolute_path)))
    errors: list[tuple[tuple[int, int], StrategyError]] = []
    suggested: set[tuple[tuple[Any, ...], str]] = set()
    pending_required: list[ValidationError] = []
    for error in raw:
        if error.validator == "required":
            pending_required.append(error)
            continue
        for found in _translate(doc, error, suggested):
            errors.append(((found.line, found.column), found))
    for error in pending_required:
        path = tuple(error.absolute_path)
        for key in _listed(error.validator_value):
            if isinstance(error.instance, dict) and key not in error.instance:
                # 'treshold' already got "did you mean 'threshold'?"; saying "missing
                # 'threshold'" as well would be the same mistake reported twice.
                if (path, key) in suggested or (path, "*") in suggested:
                    continue
                found = doc.error(f"missing required key '{key}'", path)
                errors.append(((found.line, found.column), found))
    for found in _non_finite(doc, doc.data, ()):
        errors.append(((found.line, found.column), found))
    unique: dict[str, StrategyError] = {}
    for _, found in sorted(errors, key=lambda item: item[0]):
        unique.setdefault(str(found), found)
    return list(unique.values())


def _translate(
    doc: Document, error: ValidationError, suggested: set[tuple[tuple[Any, ...], str]]
) -> list[StrategyError]:
    path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    kind = error.validator

    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = list(schema.get("properties", {}))
        # x-suggest: keys that are not allowed here but select another form of the same thing
        # (a condition missing its 'when' lands in the metric form); 'whne' should still get
        # "did you mean 'when'?", and then the metric form's required keys are beside the point.
        others = list(schema.get("x-suggest", []))
        found = []
        for key in instance:
            if key in allowed:
                continue
            hint = did_you_mean(key, allowed + others)
            if hint:
                suggestion = hint.split("'")[1]
                suggested.add((path, "*" if suggestion in others else suggestion))
            elif allowed:
                hint = "allowed keys: " + ", ".join(allowed)
            found.append(
                doc.error(f"unknown key '{key}'", path, at=doc.key_mark((*path, key)), hint=hint)
            )
        return found
    if kind == "type":
        names = _listed(error.validator_value)
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        return [doc.error(f"expected {wanted}, got {_describe(instance)}", path)]
    if kind == "enum":
        choices = [str(c) for c in _listed(error.validator_value)]
        hint = None
        if isinstance(instance, str):
            flipped = instance[::-1]  # '=<' and '=>' are the usual operator slips
            hint = f"did you mean '{flipped}'?" if flipped in choices else None
            hint = hint or did_you_mean(instance, choices)
        return [
            doc.error(
                f"{_describe(instance)} is not one of: {', '.join(choices)}",
                path,
                hint=hint,
            )
        ]
    if kind == "const":
        return [doc.error(f"must be '{error.validator_value}', got {_describe(instance)}", path)]
    if kind in ("minItems", "minLength", "minProperties"):
        if error.validator_value == 1:
            return [doc.error("must not be empty", path)]
        return [doc.error(f"needs at least {error.validator_value} items", path)]
    if kind == "uniqueItems":
        return [doc.error("has duplicate items", path)]
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        sign = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
        return [doc.error(f"must be {sign[kind]} {error.validator_value}, got {instance}", path)]
    if kind == "pattern":
        message = schema.get("x-message", f"does not match {error.validator_value}")
        at = None
        if isinstance(instance, str) and (*path, instance) in doc.keys:
            at = doc.key_mark((*path, instance))  # a propertyNames failure: point at the key
        return [doc.error(f"{_describe(instance)} {message}", path, at=at)]
    return [doc.error(error.message, path)]  # pragma: no cover - every validator we use is above


def _listed(value: object) -> list[Any]:
    """A validator's argument as a list: ``type`` may be one name or several."""
    return list(value) if isinstance(value, list | tuple) else [value]


def _non_finite(doc: Document, value: Any, path: tuple[Any, ...]) -> list[StrategyError]:
    """YAML's .nan and .inf: JSON has no such numbers, so the schema cannot refuse them, and the
    content hash (canonical JSON) cannot represent them."""
    if isinstance(value, float) and not math.isfinite(value):
        return [doc.error(f"must be a finite number, got {value}", path)]
    if isinstance(value, dict):
        return [e for key, item in value.items() for e in _non_finite(doc, item, (*path, key))]
    if isinstance(value, list):
        return [e for i, item in enumerate(value) for e in _non_finite(doc, item, (*path, i))]
    return []


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"'{value}'"
    return repr(value)
