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
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from signalops.errors import StrategyError
from signalops.strategy._yaml import Document

_PERCENT = re.compile(r"[0-9]+(\.[0-9]+)?%")
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


@cache
def _quick_check(sources: tuple[str, ...] | None = None) -> Callable[[Any], bool] | None:
    """A yes/no validity test of the same schema, ~20x faster than jsonschema (None if the schema
    uses a keyword it does not know).

    It only decides whether jsonschema needs to run: a document it passes has no schema error,
    and for any other document jsonschema finds and words every error, as it always has. When
    unsure (a type JSON does not have, a non-string enum), it answers False.
    """
    return _CheckCompiler(cast(dict[str, Any], _validator(sources).schema)).compile()


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


def check_schema(doc: Document, sources: tuple[str, ...] | None = None) -> list[StrategyError]:
    """Every schema problem in ``doc``, in source order (``sources``: the installed ones)."""
    quick = _quick_check(sources)
    if quick is not None and quick(doc.data):
        raw: list[ValidationError] = []
    else:
        raw = sorted(
            _validator(sources).iter_errors(doc.data),
            key=lambda e: list(map(str, e.absolute_path)),
        )
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
        hint = None
        fraction = schema.get("maximum") == 1  # fractions alone (not fee_bps, not cash)
        if fraction and isinstance(instance, str) and _PERCENT.fullmatch(instance):
            # risk.max_position: 10% (max_drawdown and capital take one, these do not)
            hint = f"write {float(instance[:-1]) / 100:g}: a fraction, not a percentage"
        return [doc.error(f"expected {wanted}, got {_describe(instance)}", path, hint=hint)]
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
    if kind == "uniqueItems" and isinstance(instance, list):
        return _repeated(doc, path, instance)
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        sign = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
        return [doc.error(f"must be {sign[kind]} {error.validator_value}, got {instance}", path)]
    if kind == "pattern":
        message = schema.get("x-message", f"does not match {error.validator_value}")
        at = hint = None
        if isinstance(instance, str) and (*path, instance) in doc.keys:
            at = doc.key_mark((*path, instance))  # a propertyNames failure: point at the key
        if isinstance(instance, str) and "duration" in message:
            from signalops.strategy.expression import duration_slip

            hint = duration_slip(instance.replace(" ", ""))  # '4hours', '5 minutes': write 4h
        return [doc.error(f"{_describe(instance)} {message}", path, at=at, hint=hint)]
    if kind == "oneOf" and "x-message" in schema:  # a value in one of two forms, both missed
        return [doc.error(f"{schema['x-message']}, got {_describe(instance)}", path)]
    return [doc.error(error.message, path)]  # pragma: no cover - every validator we use is above


def _repeated(doc: Document, path: tuple[Any, ...], items: list[Any]) -> list[StrategyError]:
    """Each item listed again, at its second place: ``MSFT is listed twice``."""
    errors = []
    first: dict[str, int] = {}
    told: set[str] = set()  # a third time adds nothing
    for i, item in enumerate(items):
        key = json.dumps(item, sort_keys=True)  # strings and enums here; anything else as JSON
        at = first.setdefault(key, i)
        if at == i or key in told:
            continue
        told.add(key)
        was, mark = doc.mark((*path, at)), doc.mark((*path, i))
        hint = f"first on line {was.line}" if was.line != mark.line else None
        shown = item if isinstance(item, str) else _describe(item)
        errors.append(doc.error(f"{shown} is listed twice", path, at=mark, hint=hint))
    return errors


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


# --- the quick check ----------------------------------------------------------------------------

Check = Callable[[Any], bool]
# Keywords that never make a document invalid.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples"}
)


class _Unsupported(Exception):
    """The schema uses a keyword the quick check does not implement."""


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


# JSON Schema's types as jsonschema's draft 2020-12 checker defines them for YAML's values.
_TYPES: dict[str, Check] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "number": _number,
    "integer": lambda x: _number(x) and (isinstance(x, int) or x.is_integer()),
}


class _CheckCompiler:
    """Turns a JSON Schema (the keywords the strategy schema uses) into nested closures."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def compile(self) -> Check | None:
        try:
            return self.schema(self.root)
        except _Unsupported:
            return None

    def schema(self, schema: Any) -> Check:
        if schema is True or schema == {}:
            return lambda x: True
        if schema is False:
            return lambda x: False
        if not isinstance(schema, dict):
            raise _Unsupported
        checks: list[Check] = []
        for key, value in schema.items():
            check = self.keyword(key, value, schema)
            if check is not None:
                checks.append(check)
        if len(checks) == 1:
            return checks[0]
        return lambda x: all(check(x) for check in checks)

    def ref(self, ref: str) -> Check:
        prefix = "#/$defs/"
        if not ref.startswith(prefix) or "/" in ref[len(prefix) :] or "~" in ref:
            raise _Unsupported
        name = ref[len(prefix) :]
        if name not in self.refs:
            self.refs[name] = lambda x: False  # a placeholder while a recursive $def compiles
            self.refs[name] = self.schema(self.root["$defs"][name])
        refs = self.refs
        return lambda x: refs[name](x)

    def keyword(self, key: str, value: Any, schema: dict[str, Any]) -> Check | None:
        if key in _ANNOTATIONS or key.startswith("x-") or key in ("then", "else"):
            return None
        method = getattr(self, "k_" + key.replace("$", "dollar_"), None)
        if method is None:
            raise _Unsupported
        return cast(Check, method(value, schema))

    # One method per keyword, each true for a type it does not apply to, as in jsonschema.

    def k_dollar_ref(self, ref: str, schema: dict[str, Any]) -> Check:
        return self.ref(ref)

    def k_type(self, types: str | list[str], schema: dict[str, Any]) -> Check:
        tests = [_TYPES[t] for t in ([types] if isinstance(types, str) else types)]
        return lambda x: any(test(x) for test in tests)

    def k_properties(self, properties: dict[str, Any], schema: dict[str, Any]) -> Check:
        subs = {name: self.schema(sub) for name, sub in properties.items()}

        def check(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            return all(sub(x[name]) for name, sub in subs.items() if name in x)

        return check

    def k_additionalProperties(self, extra: Any, schema: dict[str, Any]) -> Check:
        if "patternProperties" in schema:
            raise _Unsupported
        known = frozenset(schema.get("properties", {}))
        if extra is False:
            return lambda x: not isinstance(x, dict) or known.issuperset(x)
        sub = self.schema(extra)

        def check(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            return all(sub(v) for k, v in x.items() if k not in known)

        return check

    def k_required(self, required: list[str], schema: dict[str, Any]) -> Check:
        return lambda x: not isinstance(x, dict) or all(name in x for name in required)

    def k_propertyNames(self, names: Any, schema: dict[str, Any]) -> Check:
        sub = self.schema(names)
        return lambda x: not isinstance(x, dict) or all(sub(k) for k in x)

    def k_items(self, items: Any, schema: dict[str, Any]) -> Check:
        if "prefixItems" in schema:
            raise _Unsupported
        sub = self.schema(items)
        return lambda x: not isinstance(x, list) or all(sub(item) for item in x)

    def k_minItems(self, n: int, schema: dict[str, Any]) -> Check:
        return lambda x: not isinstance(x, list) or len(x) >= n

    def k_uniqueItems(self, unique: bool, schema: dict[str, Any]) -> Check | None:
        if not unique:
            return None
        # Strings only: jsonschema's equality (1 is not true, 1 is 1.0) is not Python's.
        return lambda x: (
            not isinstance(x, list)
            or (all(isinstance(i, str) for i in x) and len(set(x)) == len(x))
        )

    def k_minLength(self, n: int, schema: dict[str, Any]) -> Check:
        return lambda x: not isinstance(x, str) or len(x) >= n

    def k_pattern(self, pattern: str, schema: dict[str, Any]) -> Check:
        search = re.compile(pattern).search
        return lambda x: not isinstance(x, str) or search(x) is not None

    def k_enum(self, choices: list[Any], schema: dict[str, Any]) -> Check:
        if not all(isinstance(c, str) for c in choices):
            raise _Unsupported
        allowed = frozenset(choices)
        return lambda x: isinstance(x, str) and x in allowed

    def k_const(self, const: Any, schema: dict[str, Any]) -> Check:
        if not isinstance(const, str):
            raise _Unsupported
        return lambda x: isinstance(x, str) and x == const

    def k_minimum(self, bound: float, schema: dict[str, Any]) -> Check:
        return lambda x: not _number(x) or x >= bound

    def k_maximum(self, bound: float, schema: dict[str, Any]) -> Check:
        return lambda x: not _number(x) or x <= bound

    def k_exclusiveMinimum(self, bound: float, schema: dict[str, Any]) -> Check:
        return lambda x: not _number(x) or x > bound

    def k_exclusiveMaximum(self, bound: float, schema: dict[str, Any]) -> Check:
        return lambda x: not _number(x) or x < bound

    def k_if(self, condition: Any, schema: dict[str, Any]) -> Check:
        test = self.schema(condition)
        then = self.schema(schema.get("then", True))
        otherwise = self.schema(schema.get("else", True))
        return lambda x: then(x) if test(x) else otherwise(x)
