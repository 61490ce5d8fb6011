"""How records sit in the ``records`` table: the layout of logs written before compact records
(``LegacyLayout``) and the compact one new logs get (``CompactLayout``).

A record's hash is over its canonical JSON (``signalops.audit.chain``); a layout only decides how
that record is kept, and must give back exactly the same record. Both layouts keep ``seq`` as the
primary key and copy the fields ``decisions`` filters on into indexed columns, which ``verify``
checks against the record.

Legacy (a log's ``PRAGMA user_version`` 0): every column is text, ``body`` is the sealed
record's canonical JSON, whole. A writer keeps appending in this layout (compact decisions too),
so an old log stays one file that old and new readers can read.

Compact (``user_version`` 2, or 3 in a backtest's log that keeps runs of records beside its
rows: ``signalops.audit.runs``, whose records are these rows, stored by column), what a new log
gets::

    records  seq INTEGER PRIMARY KEY, id TEXT (the record's id), kind TEXT,
             decision_id TEXT      follow-ups only (a decision's decision_id is its id)
             as_of INTEGER         decisions: UTC seconds since 1970 (REAL when fractional)
             strategy INTEGER      decisions: names.id of the strategy's name
             context INTEGER       contexts.id of the record's {mode, schema, strategy}
                                   (and, for a decision, its outcome when it repeats)
             asset, verdict, status TEXT   decisions: asset, verdict, execution status
             recorded_at INTEGER   seconds, like as_of
             prev_hash, hash BLOB  32 bytes each
             body                  the rest of the record: canonical JSON (TEXT), or, from
                                   COMPRESS_AT bytes on, a BLOB: a dictionary id (LEB128) and
                                   the JSON deflated with that dictionary
    names(id, name)  contexts(id, json)  dictionaries(id, key, data)   append-only, like records

A field leaves the body only when its column gives it back exactly (``as_of`` is kept in the
body if its text is not the canonical ``...Z`` form of its seconds, and so on); ``verdict`` and
the execution status stay in the record, their columns are copies. The context of a strategy's
decisions (``{"mode", "schema", "strategy"}``, ~250 bytes) is stored once, like a name. A
decision whose outcome (``OUTCOME_KEYS``: its verdict, action, vetoes, risk answer, order and
execution) repeats one this connection wrote before gets a context holding that outcome as well
(at most ``OUTCOMES_PER_STRATEGY`` per strategy version), and its body keeps the rest (a HOLD's
observations: ~180 bytes instead of ~420). Bodies are deflated against a dictionary per (kind,
context, asset): the body of an earlier record of the same kind, so what repeats from record to
record (the details of an observation, the risk checks, an outcome without a context of its
own) costs a few bytes; a record that compresses poorly against it becomes the next dictionary.

Decisions are indexed by (verdict, as_of), (asset, verdict, as_of), (strategy, verdict, as_of),
(asset, strategy, verdict, as_of), (context, verdict, as_of) and (asset, context, verdict,
as_of). A filter without a verdict merges the four verdicts' ranges, and a content hash the
ranges of its contexts (an outcome context's for its one verdict), so every filter reads one
index range per verdict (and context), in the order of its answer.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, NamedTuple

from signalops.audit.prepared import Shape
from signalops.audit.record import (
    CONTEXT_KEYS,
    DECISION,
    DECISION_SCHEMA,
    VERDICTS,
    PreparedRecord,
    canonical_json_of_plain,
    loads_record,
)
from signalops.audit.runs import BODY_SLOTS, RUN_SLOTS, RUN_STATUS, RunPlan
from signalops.canonical import json_safe, parse_iso
from signalops.errors import AuditIntegrityError, Undecodable
from signalops.observation import utc

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_sha256 = hashlib.sha256
_fromhex = bytes.fromhex
COMPACT_VERSION = 2

# Bodies shorter than this stay plain JSON: deflating costs ~10 µs, and a short body (a HOLD
# on one metric) is already smaller than its row and index entries.
COMPRESS_AT = 512
# A body that deflates to more than this share of its size against its dictionary becomes the
# next dictionary of its key (the records have drifted from the one the dictionary came from).
REFRESH_ABOVE = 0.3
# Deflate with an 8 KB window (a dictionary is at most its last DICTIONARY_MAX bytes) and a
# small hash table: copying a primed compressor is then cheap, and inflating takes any window.
_LEVEL, _WBITS, _MEMLEVEL = 1, 13, 5
DICTIONARY_MAX = (1 << _WBITS) - 262
# Dictionaries a connection keeps: primed compressors for writing (~58 KB each: one per kind,
# context and asset, so a runner over a universe held one per asset for ever) and dictionaries
# for reading (at most 8 KB each); one forgotten is read from its table again.
_DICTIONARIES_PRIMED = 1024
_DICTIONARIES_READ = 4096
_MSG_NOT_JSON = "the body is not a JSON record"


# --- times as numbers ----------------------------------------------------------------------------

_SECONDS: dict[str, tuple[int | float | None, bool]] = {}
_WHOLE_SECOND = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def seconds(text: Any) -> tuple[int | float | None, bool]:
    """``(column value, exact)`` of a record's time: UTC seconds since 1970 (an int when whole,
    else a float) and whether ``stamp`` of it gives ``text`` back; ``(None, False)`` when it is
    not a time. Remembered per text: decision times repeat (one as_of per cycle)."""
    found = _SECONDS.get(text) if isinstance(text, str) else None
    if found is not None:
        return found
    if not isinstance(text, str):
        return None, False
    if _WHOLE_SECOND.fullmatch(text):
        # The builders' whole-second form: its fields give the seconds, and print it back.
        try:
            moment = datetime(
                int(text[:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]),
                int(text[14:16]), int(text[17:19]), tzinfo=UTC,
            )  # fmt: skip
        except ValueError:
            return None, False
        if moment.year >= 1000:
            return int(moment.timestamp()), True
    try:
        moment = parse_iso(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        micros = (moment - EPOCH) // timedelta(microseconds=1)
    except (ValueError, OverflowError):
        found = (None, False)
    else:
        value = micros // 1_000_000 if micros % 1_000_000 == 0 else micros / 1_000_000
        found = (value, stamp(value) == text)
    if len(_SECONDS) > 4096:
        _SECONDS.clear()
    _SECONDS[text] = found
    return found


_STAMPS: dict[int | float, str] = {}
_DAYS: dict[int, str] = {}  # days since 1970 -> "2023-03-12T"
_MINUTES = tuple(f"{m // 60:02d}:{m % 60:02d}:" for m in range(1440))
_SECONDS_TEXT = tuple(f"{s:02d}Z" for s in range(60))


def stamp(value: int | float) -> str:
    """The record's text of a time column: ``2023-03-12T00:00:00Z`` (microseconds when set)."""
    found = _STAMPS.get(value)
    if found is not None:
        return found
    if isinstance(value, int):
        # A read of scattered history (a filter's 50 rows an hour apart, anywhere in a 1M log)
        # meets a new hour per row, more than the cache keeps: the day's text is kept, the
        # time of day read from tables (0.4 µs, where a datetime and strftime took 2.3).
        day, second = divmod(value, 86_400)
        date = _DAYS.get(day)
        if date is None:
            date = (EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
            if len(_DAYS) > 4096:
                _DAYS.clear()
            _DAYS[day] = date
        minute, second = divmod(second, 60)
        text = date + _MINUTES[minute] + _SECONDS_TEXT[second]
    else:
        moment = EPOCH + timedelta(microseconds=round(value * 1_000_000))
        micro = moment.microsecond
        text = moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{micro:06d}Z" if micro else "Z")
    if len(_STAMPS) > 4096:
        _STAMPS.clear()
    _STAMPS[value] = text
    return text


def time_column(when: datetime) -> int | float:
    """A datetime as a compact time column (for comparisons in queries)."""
    micros = (utc(when) - EPOCH) // timedelta(microseconds=1)
    return micros // 1_000_000 if micros % 1_000_000 == 0 else micros / 1_000_000


# --- sealing, shared by both layouts -------------------------------------------------------------


def joined(members: Iterable[tuple[str, str]]) -> str:
    return "{" + ",".join([member for _, member in members]) + "}"


class _Plan(NamedTuple):
    """Where ``prev_hash`` and ``seq`` go among a key set's members, and which members of the
    sealed record a body keeps (worked out once per key set and what leaves the body)."""

    prev_at: int
    seq_at: int
    body: tuple[int, ...]
    pick: Callable[[Sequence[str]], Sequence[str]]  # the body's members of the sealed ones


def _picker(body: tuple[int, ...]) -> Callable[[Sequence[str]], Sequence[str]]:
    """A function picking the members at the indexes ``body`` from a sealed record's members,
    in one C call (``itemgetter`` of one index gives the member itself, not a tuple: wrapped)."""
    if len(body) == 1:
        only = body[0]
        return lambda texts: (texts[only],)
    if not body:
        return lambda texts: ()
    return itemgetter(*body)


_PLANS: dict[tuple[tuple[str, ...], frozenset[str]], _Plan] = {}
# The last plan given, by the identity of its keys and leave: a run's records share both objects
# (``DECISION_KEYS``, the layout's leave sets), and hashing 17 keys per record was a tenth of
# sealing one. One tuple, read and replaced whole: two threads sealing at once never see one's
# keys with the other's plan.
_LAST_PLAN: list[tuple[Any, Any, Any]] = [(None, None, None)]


def _plan(keys: tuple[str, ...], leave: frozenset[str]) -> _Plan:
    last_keys, last_leave, last = _LAST_PLAN[0]
    if keys is last_keys and leave is last_leave:
        plan: _Plan = last
        return plan
    found = _PLANS.get((keys, leave))
    if found is None:
        for key in ("hash", "prev_hash", "seq"):
            if key in keys:
                raise ValueError(
                    "the record is already sealed (hash)"
                    if key == "hash"
                    else f"record {key} is set by the audit log, not the caller"
                )
        sealed = sorted((*keys, "prev_hash", "seq"))
        body = tuple(i for i, key in enumerate(sealed) if key not in leave)
        found = _Plan(sealed.index("prev_hash"), sealed.index("seq"), body, _picker(body))
        if len(_PLANS) > 1024:
            _PLANS.clear()
        _PLANS[(keys, leave)] = found
    _LAST_PLAN[0] = (keys, leave, found)
    return found


def seal_texts(
    prepared: PreparedRecord, seq: int, prev_hash: str, leave: frozenset[str] = frozenset()
) -> tuple[list[str], str, _Plan]:
    """``(the sealed record's members, its hash, the plan)``: the hash is the sha256 of the
    canonical JSON of the members (``prev_hash`` and ``seq`` spliced in)."""
    try:
        plan = _plan(prepared.keys, leave)
    except ValueError as exc:
        raise ValueError(f"record {prepared.id}: {exc}") from None
    texts, p, q = prepared.texts, plan.prev_at, plan.seq_at
    sealed = [
        *texts[:p],
        f'"prev_hash":"{prev_hash}"',
        *texts[p : q - 1],
        f'"seq":{seq}',
        *texts[q - 1 :],
    ]
    digest = _sha256(("{" + ",".join(sealed) + "}").encode("utf-8")).hexdigest()
    return sealed, digest, plan


# --- the legacy layout ---------------------------------------------------------------------------

# The columns copied from a record's body, in table order (``body`` comes last).
COLUMNS = (
    "seq",
    "id",
    "kind",
    "decision_id",
    "recorded_at",
    "as_of",
    "strategy",
    "strategy_hash",
    "asset",
    "verdict",
    "mode",
    "status",
    "prev_hash",
    "hash",
)
_SORTABLE = "%Y-%m-%dT%H:%M:%S.%fZ"


def sortable_time(value: str | None) -> str | None:
    """Fixed-width UTC text (microseconds always shown), so that string order is time order.

    ``...:00Z`` and ``...:00.5Z`` would otherwise sort the wrong way round ('.' < 'Z').
    """
    if value is None:
        return None
    if len(value) == 20 and value[19] == "Z" and value[10] == "T":
        return value[:19] + ".000000Z"  # the common whole-second form, without parsing
    moment = parse_iso(value)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime(_SORTABLE)


def index_columns(record: Mapping[str, Any]) -> dict[str, Any]:
    """The legacy layout's indexed columns for a sealed record, all derived from the record."""
    decision = record.get("kind") == DECISION
    strategy = record.get("strategy") if decision else None
    strategy = strategy if isinstance(strategy, Mapping) else {}
    execution = record.get("execution") if decision else None
    execution = execution if isinstance(execution, Mapping) else {}
    return {
        "seq": record.get("seq"),
        "id": record.get("id"),
        "kind": record.get("kind"),
        "decision_id": record.get("decision_id"),
        "recorded_at": sortable_time(record.get("recorded_at")),
        "as_of": sortable_time(record.get("as_of")) if decision else None,
        "strategy": strategy.get("name"),
        "strategy_hash": strategy.get("hash"),
        "asset": record.get("asset") if decision else None,
        "verdict": record.get("verdict") if decision else None,
        "mode": record.get("mode") if decision else None,
        "status": execution.get("status"),
        "prev_hash": record.get("prev_hash"),
        "hash": record.get("hash"),
    }


class Stored(NamedTuple):
    """One stored row read back: its columns by name, and the record (None when the row does
    not give one back, with ``error`` saying why)."""

    seq: int
    id: Any
    columns: dict[str, Any]
    record: dict[str, Any] | None
    error: str | None

    @property
    def hash(self) -> Any:
        value = self.columns.get("hash")
        return value.hex() if isinstance(value, bytes) else value


class LegacyLayout:
    """The text columns and whole JSON bodies of logs written before compact records."""

    compact = False
    columns = COLUMNS
    select = ", ".join((*COLUMNS, "body"))
    insert = (
        f"INSERT INTO records ({', '.join(COLUMNS)}, body) "
        f"VALUES ({', '.join('?' * (len(COLUMNS) + 1))})"
    )

    def reset(self) -> None:
        """Nothing is cached."""

    def row(
        self, prepared: PreparedRecord, seq: int, prev_hash: str, *, compress: bool = True
    ) -> tuple[tuple[Any, ...], str]:
        """The INSERT parameters of ``prepared`` sealed at ``seq`` after ``prev_hash``, and its
        hash (``compress`` has no effect: legacy bodies are plain JSON)."""
        texts, digest, _ = seal_texts(prepared, seq, prev_hash)
        keys = sorted((*prepared.keys, "prev_hash", "seq"))
        members = list(zip(keys, texts, strict=True))
        bisect.insort(members, ("hash", f'"hash":"{digest}"'))
        body = joined(members)
        sealed = {**prepared.record, "seq": seq, "prev_hash": prev_hash, "hash": digest}
        columns = index_columns(sealed)
        return (*(columns[name] for name in COLUMNS), body), digest

    def decode(self, row: Sequence[Any]) -> dict[str, Any]:
        try:
            return loads_record(row[-1])
        except (ValueError, TypeError):
            raise Undecodable(_MSG_NOT_JSON) from None

    def text(self, row: Sequence[Any]) -> str:
        """The sealed record's canonical JSON, as stored."""
        self.decode(row)  # raises for a damaged body
        return str(row[-1])

    def stored(self, row: Sequence[Any]) -> Stored:
        columns = dict(zip(COLUMNS, row, strict=False))
        try:
            record = self.decode(row)
        except Undecodable as exc:
            return Stored(row[0], row[1], columns, None, str(exc))
        return Stored(row[0], row[1], columns, record, None)

    def columns_problem(self, stored: Stored) -> str | None:
        assert stored.record is not None
        try:
            expected = index_columns(stored.record)
        except (ValueError, TypeError, AttributeError) as exc:
            return f"the record's fields are malformed ({exc})"
        wrong = [
            f"{name} says {stored.columns[name]!r}, the record says {expected[name]!r}"
            for name in COLUMNS
            if name != "seq" and stored.columns[name] != expected[name]
        ]
        return "column " + "; column ".join(wrong) if wrong else None

    def hash_value(self, digest: str) -> Any:
        return digest

    def time_bound(self, moment: datetime) -> Any:
        # The year by hand: strftime's %Y leaves a year before 1000 unpadded ("2-12-31..."),
        # which sorts after "2023-..." as text: a bound in year 2 read the log's days wrong.
        moment = utc(moment)
        return f"{moment.year:04d}{moment.strftime(_SORTABLE[2:])}"


# --- the compact layout --------------------------------------------------------------------------

COMPACT_COLUMNS = (
    "seq",
    "id",
    "kind",
    "decision_id",
    "as_of",
    "strategy",
    "context",
    "asset",
    "verdict",
    "status",
    "recorded_at",
    "prev_hash",
    "hash",
)
# Fields a compact body never holds: their columns are where they are kept.
_OWNED = frozenset(("id", "kind", "prev_hash", "hash"))
# What leaves a body for its columns: always (_LEAVES), for a decision, and when exact.
_LEAVES = frozenset(("id", "kind", "prev_hash"))
_DECISION_LEAVES = _LEAVES | {"decision_id", "asset"}
_DECISION_ID = frozenset(("decision_id",))
_AS_OF = frozenset(("as_of",))
_RECORDED_AT = frozenset(("recorded_at",))
_CONTEXT = frozenset(CONTEXT_KEYS)
# What a decision decided and what became of it: the same for thousands of decisions in a row
# (a HOLD's "no entry or exit signal", the gate's same denial of a SELL while nothing is held),
# so when they repeat they join the decision's context (``CompactLayout.row``).
OUTCOME_KEYS = ("action", "blocked_by", "conflicts", "execution", "order", "risk", "verdict")
_OUTCOME = frozenset(OUTCOME_KEYS)
_WIDE_KEYS = tuple(sorted((*CONTEXT_KEYS, *OUTCOME_KEYS)))


def _leave_sets() -> tuple[frozenset[str], ...]:
    """What leaves a body, by the index ``CompactLayout.row`` works out (see ``_LEAVE_SETS``):
    one set object per case, so a plan is found by identity (``_plan``) and no set is made per
    record."""
    sets = []
    for at in range(32):
        wide, decision, first, recorded, context = (bool(at & bit) for bit in (16, 8, 4, 2, 1))
        leave = _DECISION_LEAVES if decision else _LEAVES
        if first:
            leave = leave | (_AS_OF if decision else _DECISION_ID)
        if recorded:
            leave = leave | _RECORDED_AT
        if context:
            leave = leave | _CONTEXT
        if wide:
            leave = leave | _OUTCOME
        sets.append(leave)
    return tuple(sets)


# Indexed by 16 (the context holds the outcome too) + 8 (a decision) + 4 (its exact as_of; a
# follow-up's decision_id) + 2 (an exact recorded_at) + 1 (a context).
_LEAVE_SETS = _leave_sets()
# A record's keys -> how to pick its context and outcome members from its texts (None: it
# lacks some).
_WIDE_PICKS: dict[tuple[str, ...], Callable[[Sequence[str]], tuple[str, ...]] | None] = {}


def _wide_pick(keys: tuple[str, ...]) -> Callable[[Sequence[str]], tuple[str, ...]] | None:
    """How to pick a record's ``_WIDE_KEYS`` members from its texts (None: it lacks some)."""
    if keys not in _WIDE_PICKS:
        at = {key: i for i, key in enumerate(keys)}
        found = None
        if all(key in at for key in _WIDE_KEYS):
            found = itemgetter(*(at[key] for key in _WIDE_KEYS))
        if len(_WIDE_PICKS) > 1024:
            _WIDE_PICKS.clear()
        _WIDE_PICKS[keys] = found
    return _WIDE_PICKS[keys]


_STRATEGY_AT = _WIDE_KEYS.index("strategy")
# Outcome contexts a strategy version may have in one log (the rest of its outcomes stay in
# their bodies), and those a connection remembers: seen once (one more sighting makes them a
# context), and made contexts (a forgotten one is looked up by its text again).
OUTCOMES_PER_STRATEGY = 32
_OUTCOMES_SEEN = 1024
_OUTCOMES_KEPT = 1024


def _keep(kept: dict[Any, Any], key: Any, value: Any, most: int) -> None:
    """``kept[key] = value``, the oldest entry forgotten first past ``most`` entries."""
    if len(kept) >= most:
        del kept[next(iter(kept))]
    kept[key] = value


def compact_schema() -> list[str]:
    """The CREATE statements of a new log's records and side tables (each IF NOT EXISTS)."""
    return [
        "CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, "
        "kind TEXT NOT NULL, decision_id TEXT, as_of INTEGER, strategy INTEGER, context INTEGER, "
        "asset TEXT, verdict TEXT, status TEXT, recorded_at INTEGER, prev_hash BLOB NOT NULL, "
        "hash BLOB NOT NULL, body NOT NULL)",
        "CREATE TABLE IF NOT EXISTS names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
        "CREATE TABLE IF NOT EXISTS contexts (id INTEGER PRIMARY KEY, json TEXT NOT NULL UNIQUE)",
        "CREATE TABLE IF NOT EXISTS dictionaries (id INTEGER PRIMARY KEY, key TEXT NOT NULL, "
        "data BLOB NOT NULL)",
    ]


# (name, columns, unique, partial WHERE): the compact layout's indexes. Decisions only have an
# as_of, asset, strategy and verdict, so those indexes hold decisions only; follow-ups are found
# by kind (their seq order) and by decision_id; the approval queue by its one status.
COMPACT_INDEXES = (
    ("records_id", ("id",), True, None),
    ("records_verdict_as_of", ("verdict", "as_of"), False, "verdict IS NOT NULL"),
    ("records_asset_verdict_as_of", ("asset", "verdict", "as_of"), False, "asset IS NOT NULL"),
    (
        "records_strategy_verdict_as_of",
        ("strategy", "verdict", "as_of"),
        False,
        "strategy IS NOT NULL",
    ),
    (
        "records_asset_strategy_verdict_as_of",
        ("asset", "strategy", "verdict", "as_of"),
        False,
        "asset IS NOT NULL",
    ),
    # A strategy's content hash is its contexts (one per mode, and one per repeated outcome).
    (
        "records_context_verdict_as_of",
        ("context", "verdict", "as_of"),
        False,
        "verdict IS NOT NULL",
    ),
    (
        "records_asset_context_verdict_as_of",
        ("asset", "context", "verdict", "as_of"),
        False,
        "asset IS NOT NULL",
    ),
    ("records_followups", ("kind",), False, "as_of IS NULL"),
    ("records_decision_id", ("decision_id",), False, "decision_id IS NOT NULL"),
    ("records_pending", ("status",), False, "status = 'PENDING_APPROVAL'"),
)


def _leb128(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_leb128(data: bytes) -> tuple[int, int]:
    value = shift = 0
    for at, byte in enumerate(data):
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at + 1
        shift += 7
        if shift > 63:
            break
    raise Undecodable(_MSG_NOT_JSON)


class _Dictionary(NamedTuple):
    id: int
    data: bytes
    primed: Any  # a compressor primed with ``data``; each body deflates with a copy of it
    prefix: bytes  # ``_leb128(id)``, which starts each body deflated with it


class CompactLayout:
    """The compact layout (see the module docstring) over one connection.

    The side tables are read into memory as they are used (they are append-only: an id always
    names the same row). Rows this connection inserts in a transaction that is rolled back
    never existed: ``reset`` forgets everything, and the next use reads the tables again.
    """

    compact = True
    columns = COMPACT_COLUMNS
    select = ", ".join((*COMPACT_COLUMNS, "body"))
    insert = (
        f"INSERT INTO records ({', '.join(COMPACT_COLUMNS)}, body) "
        f"VALUES ({', '.join('?' * (len(COMPACT_COLUMNS) + 1))})"
    )

    def __init__(self, query: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]) -> None:
        self._query = query
        self.reset()

    def reset(self) -> None:
        self._names: dict[str, int] = {}
        self._name_of: dict[int, str] = {}
        self._contexts: dict[str, int] = {}
        self._context_of: dict[int, dict[str, Any]] = {}
        self._latest: dict[str, _Dictionary | None] = {}
        self._dictionary_of: dict[int, bytes] = {}
        self._outcomes: dict[tuple[str, ...], int] = {}  # context and outcome members -> id
        self._seen_once: dict[tuple[str, ...], None] = {}
        self._outcome_counts: dict[str, int] = {}  # strategy hash -> its outcome contexts
        self._plans: dict[int, tuple[Shape, RunPlan | None]] = {}  # id(shape) -> its plan

    # --- the side tables -------------------------------------------------------------------

    def name_id(self, name: str, *, create: bool = False) -> int | None:
        found = self._names.get(name)
        if found is None:
            if create:
                self._query("INSERT OR IGNORE INTO names (name) VALUES (?)", [name])
            rows = self._query("SELECT id FROM names WHERE name = ?", [name])
            if not rows:
                return None
            found = rows[0][0]
            self._names[name] = found
            self._name_of[found] = name
        return found

    def name(self, ident: int) -> str | None:
        found = self._name_of.get(ident)
        if found is None:
            rows = self._query("SELECT name FROM names WHERE id = ?", [ident])
            if not rows:
                return None
            found = rows[0][0]
            self._name_of[ident] = found
            self._names[found] = ident
        return found

    def outcome_context(self, prepared: PreparedRecord) -> int | None:
        """The id of a context holding ``prepared``'s outcome with its context, when that
        outcome repeats (this connection saw it before); None: its body keeps its outcome.

        A decision's outcome members (``OUTCOME_KEYS``) are ~200 bytes of a HOLD's 420, and
        they are the same from bar to bar: in the context they are stored once, the body
        keeps what changes (the observations), and it stays short enough not to be deflated.
        An outcome seen once stays in the body: one that never repeats (a fill's) would only
        add a context row. A strategy version gets at most ``OUTCOMES_PER_STRATEGY`` of them
        in a log (outcomes that differ by a value, such as a denial quoting the equity, could
        add one per value): a filter by its content hash reads one range per context."""
        pick = _wide_pick(prepared.keys)
        if pick is None:
            return None
        members = pick(prepared.texts)
        found = self._outcomes.get(members)
        if found is not None:
            return found
        seen = self._seen_once
        if members not in seen:
            _keep(seen, members, None, _OUTCOMES_SEEN)
            return None
        del seen[members]
        return self._outcome_context_of(members)

    def _outcome_context_of(self, members: tuple[str, ...]) -> int | None:
        """The id of the context holding these outcome members, made when missing (None: the
        strategy version has ``OUTCOMES_PER_STRATEGY`` already), and remembered."""
        text = "{" + ",".join(members) + "}"
        rows = self._query("SELECT id FROM contexts WHERE json = ?", [text])
        if not rows:
            strategy = self._strategy_hash(members[_STRATEGY_AT])
            if self._outcome_count(strategy) >= OUTCOMES_PER_STRATEGY:
                return None
            self._query("INSERT INTO contexts (json) VALUES (?)", [text])
            rows = self._query("SELECT last_insert_rowid()", [])
            self._outcome_counts[strategy] += 1
        _keep(self._outcomes, members, rows[0][0], _OUTCOMES_KEPT)
        return int(rows[0][0])

    @staticmethod
    def _strategy_hash(member: str) -> str:
        """The content hash a context's ``"strategy":{...}`` member names (read only when a
        context is about to be made)."""
        strategy = loads_record("{" + member + "}")["strategy"]
        return str(strategy.get("hash")) if isinstance(strategy, Mapping) else ""

    def _outcome_count(self, strategy_hash: str) -> int:
        """How many outcome contexts the log holds for this strategy version (read once,
        then counted as this connection adds them)."""
        if strategy_hash not in self._outcome_counts:
            cited = self.contexts_citing(strategy_hash)
            self._outcome_counts[strategy_hash] = sum(verdict is not None for _, verdict in cited)
        return self._outcome_counts[strategy_hash]

    def context_id(self, text: str, *, create: bool = False) -> int | None:
        found = self._contexts.get(text)
        if found is None:
            if create:
                self._query("INSERT OR IGNORE INTO contexts (json) VALUES (?)", [text])
            rows = self._query("SELECT id FROM contexts WHERE json = ?", [text])
            if not rows:
                return None
            found = rows[0][0]
            self._contexts[text] = found
        return found

    def context(self, ident: int) -> dict[str, Any]:
        found = self._context_of.get(ident)
        if found is None:
            rows = self._query("SELECT json FROM contexts WHERE id = ?", [ident])
            if not rows:
                raise Undecodable(f"its context {ident} is not in the log")
            try:
                found = loads_record(rows[0][0])
            except ValueError:
                raise Undecodable(f"its context {ident} is not a JSON object") from None
            self._context_of[ident] = found
        return found

    def contexts_citing(self, strategy_hash: str) -> list[tuple[int, str | None]]:
        """``(id, verdict)`` of the contexts whose strategy has this content hash: the verdict
        of an outcome context (every decision citing it has it), None for a plain one."""
        found = []
        # Only the rows whose text holds the hash are parsed (a log has a context per outcome).
        rows = self._query("SELECT id, json FROM contexts WHERE instr(json, ?)", [strategy_hash])
        for ident, text in rows:
            try:
                context = loads_record(text)
            except ValueError:
                continue
            strategy = context.get("strategy")
            if isinstance(strategy, Mapping) and strategy.get("hash") == strategy_hash:
                verdict = context.get("verdict")
                found.append((ident, verdict if isinstance(verdict, str) else None))
        return found

    def _dictionary(self, ident: int) -> bytes:
        found = self._dictionary_of.get(ident)
        if found is None:
            rows = self._query("SELECT data FROM dictionaries WHERE id = ?", [ident])
            if not rows or not isinstance(rows[0][0], bytes):
                raise Undecodable(_MSG_NOT_JSON)
            found = rows[0][0]
            _keep(self._dictionary_of, ident, found, _DICTIONARIES_READ)
        return found

    def _latest_dictionary(self, key: str) -> _Dictionary | None:
        if key in self._latest:
            return self._latest[key]
        rows = self._query(
            "SELECT id, data FROM dictionaries WHERE key = ? ORDER BY id DESC LIMIT 1", [key]
        )
        found = _primed(rows[0][0], rows[0][1]) if rows else None
        _keep(self._latest, key, found, _DICTIONARIES_PRIMED)
        return found

    def _new_dictionary(self, key: str, body: bytes) -> _Dictionary:
        data = body[-DICTIONARY_MAX:]
        self._query("INSERT INTO dictionaries (key, data) VALUES (?, ?)", [key, data])
        ident = self._query("SELECT last_insert_rowid()", [])[0][0]
        found = _primed(ident, data)
        _keep(self._latest, key, found, _DICTIONARIES_PRIMED)
        _keep(self._dictionary_of, ident, data, _DICTIONARIES_READ)
        return found

    # --- writing ---------------------------------------------------------------------------

    def row(
        self, prepared: PreparedRecord, seq: int, prev_hash: str, *, compress: bool = True
    ) -> tuple[tuple[Any, ...], str]:
        """The INSERT parameters of ``prepared`` sealed at ``seq`` after ``prev_hash``, and its
        hash (see the module docstring for what goes where; ``compress=False`` keeps the body
        plain JSON whatever its size)."""
        kind = prepared.kind
        decision = kind == DECISION
        decision_id = None
        as_of: int | float | None = None
        asset = name_id = verdict = status = None
        if decision:
            at = 8
            as_of = prepared.as_of_seconds
            exact = as_of is not None
            if not exact:
                as_of, exact = seconds(prepared.as_of)
                if as_of is None:
                    raise ValueError(f"decision {prepared.id}: as_of {prepared.as_of!r} is no time")
            if exact:
                at = 12
            asset, verdict, status = prepared.asset, prepared.verdict, prepared.status
            if isinstance(prepared.strategy_name, str):
                name_id = self.name_id(prepared.strategy_name, create=True)
        else:
            at = 0
            if isinstance(prepared.decision_id, str):
                decision_id = prepared.decision_id
                at = 4
        recorded_at: int | float | None = prepared.recorded_seconds
        exact = recorded_at is not None
        if not exact:
            recorded_at, exact = seconds(prepared.recorded_at)
        if exact:
            at += 2
        else:
            recorded_at = None
        context = None
        if prepared.context is not None:
            if decision:
                context = self.outcome_context(prepared)
            if context is None:
                context = self.context_id(prepared.context, create=True)
            else:
                at += 16
            at += 1
        texts, digest, plan = seal_texts(prepared, seq, prev_hash, _LEAVE_SETS[at])
        body = "{" + ",".join(plan.pick(texts)) + "}"
        key = f"{kind}|{context}|{asset if decision else ''}"
        packed = self._pack(body, key) if compress else body
        row = (
            seq,
            prepared.id,
            kind,
            decision_id,
            as_of,
            name_id,
            context,
            asset,
            verdict,
            status,
            recorded_at,
            _fromhex(prev_hash),
            _fromhex(digest),
            packed,
        )
        return row, digest

    def packed(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        """A row ``row(..., compress=False)`` made, with its body deflated as ``row`` would have
        (for a record that was meant for a run and is stored as a row after all)."""
        kind, context, asset = row[2], row[6], row[7]
        key = f"{kind}|{context}|{asset if kind == DECISION else ''}"
        return (*row[:13], self._pack(row[13], key))

    def run_plan(self, shape: Shape, sample: Callable[[], PreparedRecord]) -> RunPlan | None:
        """How records of ``shape`` are sealed and kept in a run (None: as rows); ``sample``
        gives one of them, asked for the first time only.

        Their outcome goes to a context at once (the shape exists because it repeats), unless
        the strategy version has its ``OUTCOMES_PER_STRATEGY`` already; the body keeps the
        observations and seq, as a row's of the same outcome would."""
        found = self._plans.get(id(shape))
        if found is not None and found[0] is shape:
            return found[1]
        plan = self._plan_of(sample(), shape)
        _keep(self._plans, id(shape), (shape, plan), _OUTCOMES_KEPT)
        return plan

    def _plan_of(self, prepared: PreparedRecord, shape: Shape) -> RunPlan | None:
        name = prepared.strategy_name
        pick = _wide_pick(prepared.keys)
        if (
            prepared.kind != DECISION
            or prepared.schema != DECISION_SCHEMA
            or prepared.status != RUN_STATUS
            or prepared.verdict not in VERDICTS
            or not isinstance(prepared.asset, str)
            or not isinstance(name, str)
            or prepared.context is None
            or pick is None
        ):
            return None
        context = self._run_context(pick(shape.texts))
        at = 31  # a decision with exact times and a context holding its outcome (_LEAVE_SETS)
        if context is None:
            context, at = self.context_id(prepared.context, create=True), 15
        sealed, slots = shape.cut()
        body, kept = shape.cut(_LEAVE_SETS[at])
        name_id = self.name_id(name, create=True)
        if slots != RUN_SLOTS or kept != BODY_SLOTS or context is None or name_id is None:
            return None
        return RunPlan(shape, sealed, body, (prepared.asset, name_id, context, prepared.verdict))

    def _run_context(self, members: tuple[str, ...]) -> int | None:
        """``outcome_context``'s context of these outcome members, made at their first sight
        (None: the strategy version has as many as it may)."""
        found = self._outcomes.get(members)
        if found is not None:
            return found
        return self._outcome_context_of(members)

    def _pack(self, body: str, key: str) -> str | bytes:
        if len(body) < COMPRESS_AT:
            return body
        raw = body.encode("utf-8")
        dictionary = self._latest_dictionary(key)
        if dictionary is None:
            dictionary = self._new_dictionary(key, raw)
        packed = _deflate(dictionary, raw)
        if len(packed) > len(raw) * REFRESH_ABOVE:
            dictionary = self._new_dictionary(key, raw)
            packed = _deflate(dictionary, raw)
        return dictionary.prefix + packed

    # --- reading ---------------------------------------------------------------------------

    def body_text(self, stored: Any) -> str | bytes:
        """The JSON of a row's body (inflated when it is deflated)."""
        if not isinstance(stored, bytes):
            return stored
        try:
            ident, at = _read_leb128(stored)
            inflate = zlib.decompressobj(-15, zdict=self._dictionary(ident))
            text = inflate.decompress(stored[at:]) + inflate.flush()
        except zlib.error:
            raise Undecodable(_MSG_NOT_JSON) from None
        if not inflate.eof or inflate.unused_data:
            raise Undecodable(_MSG_NOT_JSON)
        return text

    def body(self, stored: Any) -> dict[str, Any]:
        """The body of a row as a dict (the record without what its columns hold)."""
        try:
            return loads_record(self.body_text(stored))
        except (ValueError, TypeError):
            raise Undecodable(_MSG_NOT_JSON) from None

    def decode(self, row: Sequence[Any]) -> dict[str, Any]:
        """The record a row holds (``Undecodable`` when it does not give one back)."""
        ident, kind, decision_id, as_of = row[1], row[2], row[3], row[4]
        context, asset, recorded_at, prev, digest, stored = (
            row[6],
            row[7],
            row[10],
            row[11],
            row[12],
            row[13],
        )
        record = self.body(stored)
        if not _OWNED.isdisjoint(record):
            raise Undecodable("its body holds fields its columns keep")
        if not isinstance(prev, bytes) or not isinstance(digest, bytes):
            raise Undecodable("its hash columns are not 32-byte values")
        record["id"] = ident
        record["kind"] = kind
        if kind == DECISION:
            if "decision_id" not in record:
                record["decision_id"] = ident
            if as_of is not None and "as_of" not in record:
                record["as_of"] = _stamp_column(as_of)
            if asset is not None and "asset" not in record:
                record["asset"] = asset
        elif decision_id is not None:
            record["decision_id"] = decision_id
        if recorded_at is not None and "recorded_at" not in record:
            record["recorded_at"] = _stamp_column(recorded_at)
        record["prev_hash"] = prev.hex()
        record["hash"] = digest.hex()
        if context is not None:
            shared = self.context(context)
            if not shared.keys().isdisjoint(record):
                raise Undecodable("its body holds fields its context keeps")
            for key, value in shared.items():
                record[key] = json_safe(value)  # plain data: an equal copy, the record's own
        return record

    def text(self, row: Sequence[Any]) -> str:
        """The sealed record's canonical JSON."""
        return canonical_json_of_plain(self.decode(row))

    def stored(self, row: Sequence[Any]) -> Stored:
        columns = dict(zip(COMPACT_COLUMNS, row, strict=False))
        try:
            record = self.decode(row)
        except Undecodable as exc:
            return Stored(row[0], row[1], columns, None, str(exc))
        except sqlite3.DatabaseError:
            raise
        return Stored(row[0], row[1], columns, record, None)

    def expected_columns(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The copied columns a record's row should hold (``verify`` compares them)."""
        decision = record.get("kind") == DECISION
        strategy = record.get("strategy") if decision else None
        name = strategy.get("name") if isinstance(strategy, Mapping) else None
        execution = record.get("execution") if decision else None
        return {
            "as_of": seconds(record.get("as_of"))[0] if decision else None,
            "strategy": self.name_id(name) if isinstance(name, str) else None,
            "asset": record.get("asset") if decision else None,
            "verdict": record.get("verdict") if decision else None,
            "status": execution.get("status") if isinstance(execution, Mapping) else None,
        }

    def columns_problem(self, stored: Stored) -> str | None:
        assert stored.record is not None
        try:
            expected = self.expected_columns(stored.record)
        except (ValueError, TypeError, AttributeError) as exc:
            return f"the record's fields are malformed ({exc})"
        wrong = []
        for name, value in expected.items():
            held = stored.columns[name]
            if held != value or type(held) is not type(value):
                if name == "strategy":
                    held = f"{held} ({self.name(held) if isinstance(held, int) else '?'})"
                    value = f"{value} ({stored.record['strategy'].get('name')})"
                wrong.append(f"{name} says {held!r}, the record says {value!r}")
        return "column " + "; column ".join(wrong) if wrong else None

    def hash_value(self, digest: str) -> Any:
        try:
            return bytes.fromhex(digest)
        except ValueError:
            return None

    def time_bound(self, moment: datetime) -> Any:
        return time_column(moment)


def _stamp_column(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Undecodable("its time columns are not numbers")
    try:
        return stamp(value)
    except (OverflowError, ValueError):
        raise Undecodable("its time columns are out of range") from None


def _primed(ident: int, data: bytes) -> _Dictionary:
    compressor = zlib.compressobj(
        _LEVEL, zlib.DEFLATED, -_WBITS, _MEMLEVEL, zlib.Z_DEFAULT_STRATEGY, data
    )
    return _Dictionary(ident, data, compressor, _leb128(ident))


def _deflate(dictionary: _Dictionary, raw: bytes) -> bytes:
    compressor = dictionary.primed.copy()
    return compressor.compress(raw) + compressor.flush()


Layout = LegacyLayout | CompactLayout


def records_of(layout: Layout, rows: Iterable[Sequence[Any]], where: Any) -> list[dict[str, Any]]:
    """The records of stored rows (a run's too), a row that does not give one back raising
    ``AuditIntegrityError`` for the log at ``where`` (``verify`` says what is wrong)."""
    decode = layout.decode
    try:
        return [decode(row) for row in rows]
    except Undecodable as exc:
        raise AuditIntegrityError(
            f"{where}: a record cannot be read ({exc}); `signalops audit verify` lists every "
            "problem"
        ) from None


__all__ = [
    "COLUMNS",
    "COMPACT_COLUMNS",
    "COMPACT_INDEXES",
    "COMPACT_VERSION",
    "COMPRESS_AT",
    "VERDICTS",
    "CompactLayout",
    "Layout",
    "LegacyLayout",
    "Stored",
    "Undecodable",
    "compact_schema",
    "index_columns",
    "records_of",
    "seconds",
    "sortable_time",
    "stamp",
    "time_column",
]
