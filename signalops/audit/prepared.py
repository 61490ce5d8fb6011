"""A record ready to seal: its canonical JSON member by member (``PreparedRecord``).

The store seals a record by splicing ``seq`` and ``prev_hash`` (and, in the legacy layout,
``hash``) among its members, and keeps in a compact body only the members its columns do not
hold: with the record encoded member by member once, neither needs to encode it again.
``DecisionTemplate`` (``signalops.audit.record``) makes them for decisions directly; ``prepare``
makes one from any plain record. ``loads_record`` reads a record's JSON back.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Mapping, Sequence
from itertools import accumulate
from typing import Any

import orjson

from signalops.canonical import _ORJSON_DIFFERS, canonical_json, canonical_json_of_plain


def _value(value: Any) -> str:
    """Canonical JSON of a value that is plain JSON data already."""
    return canonical_json_of_plain(value)


_SORTED = orjson.OPT_SORT_KEYS


def _values(values: Sequence[Any]) -> list[str]:
    """``_value`` of each: orjson's bytes, checked once for the numbers orjson writes apart
    from the stdlib (a check per member cost more than the encoding)."""
    try:
        encoded = [orjson.dumps(value, option=_SORTED) for value in values]
    except TypeError:  # an int beyond 64 bits, a non-str key: the stdlib's way for all
        return [canonical_json(value) for value in values]
    joined = b",".join(encoded)
    if _ORJSON_DIFFERS.search(joined) is None:
        return [text.decode("utf-8") for text in encoded]
    # Only the members near a match (a "sha256:5e..." in a string is enough) take the stdlib's
    # slower way; a match at a separator may start the next member, so both are redone.
    starts = list(accumulate((len(text) + 1 for text in encoded), initial=0))
    redo: set[int] = set()
    for match in _ORJSON_DIFFERS.finditer(joined):
        at = bisect.bisect_right(starts, match.start()) - 1
        redo.update((at, at + 1))
    return [
        canonical_json(value) if i in redo else text.decode("utf-8")
        for i, (value, text) in enumerate(zip(values, encoded, strict=True))
    ]


def _member(key: str, value_json: str) -> str:
    return f"{_key(key)}:{value_json}"


_KEYS: dict[str, str] = {}


def _key(key: str) -> str:
    """A key as canonical JSON writes it (``"as_of"``), worked out once per key."""
    found = _KEYS.get(key)
    if found is None:
        found = canonical_json(key)
        if len(_KEYS) < 4096:  # records from outside may carry any keys; keep the common ones
            _KEYS[key] = found
    return found


# The top-level keys whose values say which strategy, schema and mode a record belongs to: the
# same for every record of one template, so the store keeps them once (``signalops.audit.layout``).
CONTEXT_KEYS = ("mode", "schema", "strategy")


# The members a repeat writes anew, and the ``PreparedRecord`` attribute each is written from.
REPEATED = (
    ("as_of", "as_of"),
    ("decision_id", "id"),
    ("id", "id"),
    ("observations", "observed"),
    ("recorded_at", "recorded_at"),
)
_SEALING = ("prev_hash", "seq")  # what the store splices into a record as it seals it
_SLOT = re.compile("\x00([a-z_]+)\x00")  # canonical JSON writes a NUL as \u0000: never in text


class Shape:
    """What the records repeating one decision's outcome share: every member but those
    ``REPEATED`` (their time, ids and observations), which each writes anew.

    ``DecisionTemplate`` makes one per outcome it builds (a backtest's HOLD, its repeated "no
    position" denial), and its repeats are ``PreparedRecord``s of this shape whose members are
    written out only when asked for (``members``). A store that seals many of them cuts the
    sealed record's text at its variable parts once (``cut``) and joins each record's values
    in (``signalops.audit.runs``).
    """

    __slots__ = ("_at", "_cuts", "keys", "texts")

    def __init__(self, keys: tuple[str, ...], texts: Sequence[str]) -> None:
        self.keys = keys
        self.texts = tuple(texts)
        self._at = tuple(keys.index(key) for key, _ in REPEATED)
        self._cuts: dict[frozenset[str] | None, tuple[tuple[str, ...], tuple[str, ...]]] = {}

    def members(self, record: PreparedRecord) -> list[str]:
        """``record``'s members (a record of this shape)."""
        texts = list(self.texts)
        as_of, decision_id, ident, observations, recorded = self._at
        texts[as_of] = f'"as_of":"{record.as_of}"'
        texts[decision_id] = f'"decision_id":"{record.id}"'
        texts[ident] = f'"id":"{record.id}"'
        texts[observations] = f'"observations":{record.observed}'
        texts[recorded] = f'"recorded_at":"{record.recorded_at}"'
        return texts

    def cut(self, leave: frozenset[str] | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The canonical JSON of a sealed record of this shape (``prev_hash`` and ``seq``
        spliced in), without the members ``leave`` names, as ``(pieces, slots)``: the text is
        ``pieces[0] + value of slots[0] + pieces[1] + ...``, a slot naming a ``REPEATED`` key
        or one of ``prev_hash`` and ``seq``, in the order the text has them."""
        found = self._cuts.get(leave)
        if found is None:
            given = dict(zip(self.keys, self.texts, strict=True))
            for key, _ in REPEATED:
                given[key] = ""
            members = []
            for key in sorted((*self.keys, *_SEALING)):
                if leave is not None and key in leave:
                    continue
                if given.get(key):
                    members.append(given[key])
                elif key in ("observations", "seq"):  # numbers and arrays: no quotes
                    members.append(f"{_key(key)}:\x00{key}\x00")
                else:
                    members.append(f'{_key(key)}:"\x00{key}\x00"')
            parts = _SLOT.split("{" + ",".join(members) + "}")
            found = self._cuts[leave] = (tuple(parts[0::2]), tuple(parts[1::2]))
        return found


class PreparedRecord:
    """A record ready to seal: its canonical JSON member by member, and what the store indexes.

    ``keys`` are the record's keys in order and ``texts`` their members (``'"key":value'``,
    each value canonical JSON), so ``text`` (``{`` + the members joined by ``,`` + ``}``) is
    exactly ``canonical_json(record)`` and the store can splice in ``seq``/``prev_hash``/``hash``
    and leave out what its columns hold without encoding anything again. ``record`` is the plain
    dict (built on first use). ``as_of_seconds``/``recorded_seconds`` are those times as UTC
    seconds when the builder knows that they print back as their text (else None, and the store
    works it out). Made by ``DecisionTemplate.prepare`` or ``prepare(record)``; immutable.
    """

    __slots__ = (
        "_record",
        "_texts",
        "as_of",
        "as_of_seconds",
        "asset",
        "context",
        "decision_id",
        "id",
        "keys",
        "kind",
        "observed",
        "recorded_at",
        "recorded_seconds",
        "schema",
        "shape",
        "status",
        "strategy_name",
        "verdict",
    )

    def __init__(
        self,
        keys: tuple[str, ...],
        texts: Sequence[str] | None,
        record: dict[str, Any] | Callable[[], dict[str, Any]] | None,
        kind: str | None,
        id: str | None,
        schema: str | None,
        decision_id: str | None,
        as_of: str | None,
        asset: str | None,
        verdict: str | None,
        status: str | None,
        recorded_at: str | None,
        context: str | None,
        strategy_name: str | None,
        as_of_seconds: int | None = None,
        recorded_seconds: int | None = None,
        shape: Shape | None = None,
        observed: str | None = None,
    ) -> None:
        self.keys = keys
        self._texts = texts
        self._record = record
        self.kind = kind
        self.id = id
        self.schema = schema
        self.decision_id = decision_id
        self.as_of = as_of
        self.asset = asset
        self.verdict = verdict
        self.status = status
        self.recorded_at = recorded_at
        self.context = context
        self.strategy_name = strategy_name
        self.as_of_seconds = as_of_seconds
        self.recorded_seconds = recorded_seconds
        self.shape = shape
        self.observed = observed

    @property
    def texts(self) -> Sequence[str]:
        """The members, in key order (a repeat's, written out from its shape on first use)."""
        found = self._texts
        if found is None:
            assert self.shape is not None  # no texts: a repeat, made with its shape
            found = self._texts = self.shape.members(self)
        return found

    @property
    def members(self) -> tuple[tuple[str, str], ...]:
        """``(key, member)`` pairs in key order."""
        return tuple(zip(self.keys, self.texts, strict=True))

    @property
    def text(self) -> str:
        """The canonical JSON of the (unsealed) record."""
        return "{" + ",".join(self.texts) + "}"

    @property
    def record(self) -> dict[str, Any]:
        found = self._record
        if found is None:
            found = self._record = loads_record(self.text)
        elif not isinstance(found, dict):  # the builder's own: its keys in the builder's order
            found = self._record = found()
        return found

    def get(self, key: str, default: Any = None) -> Any:
        return self.record.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.record[key]


def prepare(record: Mapping[str, Any]) -> PreparedRecord:
    """A plain record (a builder's output, or one read back) as a ``PreparedRecord``."""
    if isinstance(record, PreparedRecord):
        return record
    keys = tuple(sorted(record))
    texts = [
        f"{_key(key)}:{text}"
        for key, text in zip(keys, _values([record[key] for key in keys]), strict=True)
    ]
    kind = record.get("kind")
    strategy = record.get("strategy")
    context = [text for key, text in zip(keys, texts, strict=True) if key in CONTEXT_KEYS]
    execution = record.get("execution")
    return PreparedRecord(
        keys,
        texts,
        dict(record),
        kind=kind,
        id=record.get("id"),
        schema=record.get("schema"),
        decision_id=record.get("decision_id"),
        as_of=record.get("as_of"),
        asset=record.get("asset"),
        verdict=record.get("verdict"),
        status=execution.get("status") if isinstance(execution, Mapping) else None,
        recorded_at=record.get("recorded_at"),
        context="{" + ",".join(context) + "}" if context else None,
        strategy_name=strategy.get("name") if isinstance(strategy, Mapping) else None,
    )


def loads_record(text: str | bytes) -> dict[str, Any]:
    """A record from its canonical JSON text (one line of an export, one stored body)."""
    try:
        if _BIG_INT.search(text if isinstance(text, bytes) else text.encode("utf-8")) is None:
            value = orjson.loads(text)
        else:  # orjson reads integers beyond 64 bits as floats: the stdlib keeps them exact
            value = json.loads(text)
    except (orjson.JSONDecodeError, UnicodeError):
        try:
            value = json.loads(text)  # e.g. a lone surrogate, which orjson refuses
        except ValueError:
            raise ValueError("an audit record is JSON") from None
    if not isinstance(value, dict):
        raise ValueError("an audit record is a JSON object")
    return value


# An integer of 19 digits or more outside a string's quotes may not fit in 64 bits (inside a
# string it only costs the slower stdlib parse).
_BIG_INT = re.compile(rb"[0-9]{19}")
