"""Canonical JSON and content hashes: one byte sequence per value, so hashes are reproducible.

Also the one conversion of SignalOps values (Decimal, datetime, enums, ``to_dict`` objects) to
plain JSON data, used by orders, risk decisions and audit records alike.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from typing import Any

import orjson
import re2

from signalops.observation import utc


def canonical_json(value: Any) -> str:
    """Sorted keys, no insignificant whitespace, UTF-8 text, and no NaN/Infinity (not JSON)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


# Where orjson writes a number differently from Python's ``repr`` (which ``json`` uses): below
# 1e-4 (orjson ``0.00001``, Python ``1e-05``) and in exponent form (``1e16`` vs ``1e+16``). A
# match anywhere (even inside a string, which only costs the slow path) sends the value to the
# stdlib encoder, so the bytes are always the stdlib's. RE2 scans a record in a fifth of the
# time ``re`` takes.
_ORJSON_DIFFERS = re2.compile(rb"(?:^|[:,\[])-?(?:0\.0000|[0-9]+(?:\.[0-9]+)?e)")


def canonical_json_of_plain(value: Any) -> str:
    """``canonical_json(value)`` for plain JSON data with finite floats (what ``json_safe``
    returns, what a stored record holds), through orjson: the same text, several times faster.

    orjson would write NaN as ``null`` where ``canonical_json`` raises, hence "finite floats":
    callers pass ``json_safe`` output, which spells them as text.
    """
    try:
        data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an int beyond 64 bits, a non-str key, a type orjson does not know
        return canonical_json(value)
    if _ORJSON_DIFFERS.search(data):
        return canonical_json(value)
    return data.decode("utf-8")


def content_hash(value: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``value``."""
    return "sha256:" + hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def parse_iso(text: str) -> datetime:
    """The datetime of a record's timestamp (``iso``'s inverse; a trailing Z is UTC)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso(moment: datetime | None) -> str | None:
    """UTC ISO-8601 with a Z, the one timestamp format of every record."""
    if moment is None:
        return None
    if moment.__class__ is datetime and moment.tzinfo is UTC and moment.year >= 1000:
        return _utc_stamp(moment)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


_TWO_DIGITS = tuple(f"{i:02d}" for i in range(100))


def _utc_stamp(moment: datetime) -> str:
    """``iso(moment)`` of an exact ``datetime`` in ``UTC`` from year 1000 on (the caller checks
    that), printed from its fields: ``astimezone`` and ``isoformat`` cost four times this, and
    every record prints two or three times."""
    two = _TWO_DIGITS
    micro = moment.microsecond
    return (
        f"{moment.year}-{two[moment.month]}-{two[moment.day]}"
        f"T{two[moment.hour]}:{two[moment.minute]}:{two[moment.second]}"
        f"{f'.{micro:06d}Z' if micro else 'Z'}"
    )


def is_plain_finite(value: Any) -> bool:
    """Whether ``value`` is plain JSON data of exact types (dict with str keys, list, str, int,
    bool, None) and finite floats: what ``json_safe`` gives back unchanged, and what orjson
    writes without turning a NaN into ``null``."""
    # Loops with the leaves checked inline, not all() over generators: an adapter's detail is
    # walked for every record (a third of the time, that way).
    kind = value.__class__
    if kind is dict:
        for key in value:
            if key.__class__ is not str:
                return False
        items: Any = value.values()
    elif kind is list:
        items = value
    else:
        items = None
    if items is not None:
        for item in items:
            inner = item.__class__
            if inner is str or inner is int or inner is bool or item is None:
                continue
            if inner is float:
                if item - item != 0:
                    return False
            elif not is_plain_finite(item):
                return False
        return True
    if kind is str or kind is int or kind is bool or value is None:
        return True
    return kind is float and value - value == 0


def writes_as_stdlib(value: Any) -> bool:
    """Whether orjson writes the plain data ``value`` byte for byte as the stdlib does without
    looking at its bytes: dicts with str keys, lists, str, int, bool, None, and str enums whose
    value is their text (``text_enum``); no float (orjson writes some apart: ``1e16``)."""
    kind = value.__class__
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is dict:
        return all(k.__class__ is str and writes_as_stdlib(v) for k, v in value.items())
    if kind is list:
        return all(writes_as_stdlib(v) for v in value)
    return isinstance(value, str) and text_enum(kind)


def canonical_json_without_floats(value: Any) -> str:
    """``canonical_json_of_plain(value)`` for plain data the caller knows ``writes_as_stdlib``:
    the scan of orjson's bytes for the numbers it writes apart (a few µs a record) is skipped."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except TypeError:  # an int beyond 64 bits, a non-str key
        return canonical_json(value)


def json_ready(mapping: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """``(json_safe(mapping), sure)`` for encoding at once with orjson, ``sure`` when the
    result ``writes_as_stdlib``: a copy of the mapping with only what JSON cannot write as it
    is converted (a Decimal, a time, a value ``json_safe`` walks); its text, ints, None, lists
    of text and plain values are kept as they are, shared with the mapping (nothing must edit
    them before the result is encoded). A risk check's details and an execution's are encoded
    so for every audit record.

    Keys are kept as they are: one that is not exactly a str (which ``json_safe`` turns to
    text) makes orjson refuse the copy (TypeError), and the caller then takes the general way.
    """
    out: Any = None
    if mapping.__class__ is MappingProxyType:
        # A view's copy is its dict's, made at once (``dict(view)`` asks for each key); a view
        # of another kind of mapping may have no ``copy``, or one that gives no dict.
        try:  # free unless it raises (``contextlib.suppress`` costs a call per check)
            out = mapping.copy()
        except AttributeError:
            out = None
    if out.__class__ is not dict:
        out = dict(mapping)
    sure = True
    for key, value in out.items():  # values replaced in place: no key is added or removed
        kind = value.__class__
        if kind is Decimal:
            out[key] = str(value)
        elif kind is str or kind is int or kind is bool or value is None:
            pass
        elif kind is datetime:
            out[key] = iso(value if value.tzinfo is UTC else utc(value))
        elif isinstance(value, str):  # a StrEnum member stays itself, as in json_safe
            sure = sure and text_enum(kind)
        elif kind is list and all_text(value):
            pass
        elif writes_as_stdlib(value):
            pass  # plain already (the day's marks): json_safe would give an equal copy
        else:
            plain = out[key] = json_safe(value)
            sure = sure and writes_as_stdlib(plain)
    return out, sure


def ready_json(value: Any, sure: bool) -> str | None:
    """``canonical_json`` of ``value``, data made of ``json_ready`` copies (``sure``: each
    said so): orjson's bytes, scanned for the numbers it writes apart only when not ``sure``.
    None when orjson refuses it (a key that is not text, an int beyond 64 bits): the caller
    then encodes what ``json_safe`` makes of its source the general way."""
    try:
        data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
    if sure or _ORJSON_DIFFERS.search(data) is None:
        return data.decode()
    return canonical_json(value)  # a number orjson writes apart: the stdlib's bytes


def all_text(values: list[Any]) -> bool:
    """Whether every one of ``values`` is text orjson writes as the stdlib does: a str, or a
    member of a str enum whose value is its text (TRADING_STATE's allowed sides)."""
    for value in values:
        kind = value.__class__
        if kind is not str and not (isinstance(value, str) and text_enum(kind)):
            return False
    return True


_TEXT_ENUMS: dict[type, bool] = {}


def text_enum(kind: type) -> bool:
    """Whether ``kind`` is a str enum whose every member's value is exactly its text (a
    ``StrEnum``'s always is): orjson writes such a member's value, the stdlib its text, so
    both write the same bytes. Worked out once per class (an enum's members are fixed)."""
    found = _TEXT_ENUMS.get(kind)
    if found is None:
        found = (
            issubclass(kind, Enum)
            and issubclass(kind, str)
            and all(
                type(member._value_) is str and member._value_ == str.__str__(member)
                for member in kind.__members__.values()
            )
        )
        _TEXT_ENUMS[kind] = found
    return found


def json_safe(value: Any) -> Any:
    """Plain JSON data for ``value``; NaN/inf as text so they stay visible (JSON has neither)."""
    # Exact types first: a record is thousands of plain str/int/float/dict/list nodes, and the
    # isinstance checks below (an ABC among them) made this a third of a backtest's time.
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): json_safe(v) for k, v in value.items()}
    if kind is list:
        return [json_safe(v) for v in value]
    if kind is float:
        return value if math.isfinite(value) else repr(value)
    return _json_safe_other(value)


def _json_safe_other(value: Any) -> Any:
    kind = value.__class__
    # The exact types an order, a fill and a check hold, before the isinstance chain.
    if kind is Decimal:
        return str(value)
    if kind is datetime:
        return iso(utc(value))
    if isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return iso(utc(value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return json_safe(value.value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [json_safe(v) for v in value]
        return sorted(items, key=canonical_json) if isinstance(value, set | frozenset) else items
    if hasattr(value, "to_dict"):
        return json_safe(value.to_dict())
    return str(value)  # an adapter's opaque detail object: keep what it says, not the object
