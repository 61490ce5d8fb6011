"""Runs: many decision records of a backtest's log in one stored row.

A row per record costs a backtest ~8 µs of SQLite work per bar (the insert, then its six filter
indexes), most of what a bar may take. A backtest's own log (``AuditLog.start_bulk_load`` with
``private=True``) keeps the decisions that placed nothing (its HOLDs and denials, nearly all of
its records) in runs instead: each ``append_many`` stores its stretch of them as one row of
``runs``, their per-record values in columns. Every other record (an order's decision, a fill)
is a row of ``records`` as before, and a log that holds runs says so with ``PRAGMA
user_version`` 3 (``RUNS_VERSION``); an older version reading it takes it for a legacy log and
fails to read its rows rather than miss the runs' records.

Nothing about a record changes: it is sealed as a row would be (``CompactLayout.row``: the same
canonical JSON, hash, context and body), and a run gives back exactly the row tuples it was made
of (``decode``), which the compact layout decodes as any row. Most are repeats of an outcome
built before (``Repeat``), sealed from its ``Shape`` without writing their members out
(``RunBuilder.seal_repeats``). So every reader of the store
(``get``, ``decisions``, ``records``, ``verify``, export, copy) sees the same records whichever
way they were kept. What a run leaves out is what its records share: the kind (decision), the
execution status (``NOT_EXECUTED``: never a decision waiting for approval, which
``pending_approvals`` finds by its status column), the seq (consecutive from ``first``), the
``prev_hash`` (the hash before: the run's own for its first record).

::

    runs     first INTEGER PRIMARY KEY   the seq of its first record
             last                        the seq of its last (the records are first..last)
             since, until                the earliest and latest as_of (UTC seconds)
             kinds                       JSON array of its records' kinds: [asset, strategy
                                         name id, context id, verdict] (a ``decisions``
                                         filter skips a run none of whose kinds it wants)
             prev_hash                   32 bytes: the hash before its first record
             ids                         12 bytes per record: its id's 24 hex digits
             hashes                      32 bytes per record
             data                        a Zstandard frame (zlib's deflate in the first
                                         runs written): a format byte and the count, then per
                                         record as_of and recorded_at (int64), the index of its
                                         kind in ``kinds`` (uint16); then the bodies, joined by
                                         newlines (canonical JSON has none)
    run_ids  id TEXT PRIMARY KEY         a record's id -> the run holding it (``first``):
             first                       ``get(id)`` is one lookup; written once, when the
                                         backtest has filled its log, in id order
    run_kinds kind, until, first (KEY)   each kind of each run, with its since: a filter
             since                       reads the runs of the kinds it wants latest first
                                         (an index range per kind, or one for all of them
                                         when it wants most), as a row filter reads an
                                         index range per verdict; written with ``run_ids``
                                         (a log written before it reads every run's kinds)

The tables are append-only like ``records`` (triggers refuse UPDATE and DELETE). ``verify``
walks a run's records as rows: an edited body or hash breaks the chain where a row's would, a
run deleted leaves a gap, a run that no longer decodes is reported record by record (and every
lookup that meets it fails, as one meeting a damaged row does); and it checks what the runs'
own columns say against their records (``Runs.problems``): runs that overlap, a time range, an
id table or a kinds table that is not theirs, a kinds column that does not decode, a last seq or
times that are not integers (such a run is left out of the walk and the other checks, and a lookup
or filter that meets it fails).
"""

from __future__ import annotations

import array
import hashlib
import heapq
import json
import re
import struct
import sys
import threading
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, cast

from signalops.audit.prepared import Shape
from signalops.audit.record import DECISION, VERDICTS, Repeat
from signalops.errors import DuplicateRecordError, Undecodable

RUNS_VERSION = 3  # PRAGMA user_version of a compact log that holds runs
RUN_MAX = 4096  # records per run at most (a run is read whole)
RUN_STATUS = "NOT_EXECUTED"  # the execution status of every decision in a run

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS runs (first INTEGER PRIMARY KEY, last INTEGER NOT NULL, "
    "since INTEGER NOT NULL, until INTEGER NOT NULL, kinds TEXT NOT NULL, "
    "prev_hash BLOB NOT NULL, ids BLOB NOT NULL, hashes BLOB NOT NULL, data BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS run_ids (id TEXT PRIMARY KEY, first INTEGER NOT NULL) "
    "WITHOUT ROWID",
)
_INSERT = "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
# The id table, filled in one go from a JSON object of ids in id order (``Runs.finish_packing``,
# ``_ids_object``): each appended at its B-tree's end, no Python call per record. Ids are hex
# digits after "dec-": nothing in them to escape.
_INSERT_IDS = "INSERT INTO run_ids (id, first) SELECT key, value FROM json_each(?)"
# Every run's first seq and number of ids, and their id columns one after the other, as one row:
# read a run at a time, the indexing thread took the GIL back at each of hundreds of rows, and
# waited each time for the results worked out beside it to let go of it (both aggregates go
# over the same runs in the same order).
_IDS_OF_RUNS = (
    "SELECT group_concat(first || ' ' || (length(ids) / 12), ' '), group_concat(hex(ids), '') "
    "FROM runs"
)
_SELECT = "first, last, kinds, prev_hash, ids, hashes, data"
_NAMED_PER_RUN = "SELECT first, count(*) FROM run_ids WHERE first >= ? GROUP BY first"
# Each kind's runs, newest first (``Runs.newest``: one index range per kind wanted, as a row
# filter reads one per verdict), written when the backtest has filled its log: its presence
# says it is whole. Logs written before it read every run's kinds instead.
KINDS_TABLE = "run_kinds"
_KINDS_SCHEMA = (
    "CREATE TABLE run_kinds (kind TEXT NOT NULL, until INTEGER NOT NULL, "
    "since INTEGER NOT NULL, first INTEGER NOT NULL, PRIMARY KEY (kind, until, first)) "
    "WITHOUT ROWID",
    "INSERT INTO run_kinds (kind, until, since, first) "
    "SELECT value, until, since, first FROM runs, json_each(runs.kinds)",
    # The longest run in time, one index step (a time filter starts that far after its end).
    "CREATE INDEX runs_span ON runs(until - since)",
    # Every kind's runs in one range, latest first: a filter that wants many kinds.
    "CREATE INDEX run_kinds_until ON run_kinds(until, first)",
)
_KINDS_ROWS = "SELECT kind, first FROM run_kinds"
# A run's kinds column as SQL may read it (as none where it is not JSON text: json_each of it
# would fail the whole statement). Its runs are ``_UNREAD_KINDS``, left out of the checks.
_JSON_KINDS = "CASE WHEN typeof({0}) = 'text' AND json_valid({0}) THEN {0} ELSE '[]' END"
_KINDS_OF_RUNS = "SELECT value, first FROM runs, json_each(runs.kinds)"
# Where a run's column is not JSON text: the guard parses every column once more (80 ms a
# query at 81,632 runs), so it is read only when ``_UNREAD_KINDS`` found one.
_KINDS_OF_RUNS_GUARDED = (
    f"SELECT value, first FROM runs, json_each({_JSON_KINDS.format('runs.kinds')})"
)
_KINDS_TIMES = (
    "SELECT k.kind, k.first, k.until, k.since, r.until, r.since, r.last FROM run_kinds k "
    "JOIN runs r ON r.first = k.first WHERE (k.until IS NOT r.until OR k.since IS NOT r.since) "
    f"AND k.kind IN (SELECT value FROM json_each({_JSON_KINDS.format('r.kinds')})) ORDER BY 2, 1"
)
# The runs whose kinds column is not JSON text of an array, which does not decode
# (``_kinds_of``): one pass over the runs, parsing each column once (65 ms over the scan's 60
# at 81,632 runs; checking each element too took 410). An element that is not a kind is not
# in the kinds table, which holds kinds alone (``_kind_list``): ``_kinds_problems`` meets its
# run and decodes it then. CASE, not AND: SQLite may evaluate both sides of an AND, and a
# JSON function given what is not JSON fails the statement.
_UNREAD_KINDS = (
    "SELECT first, last FROM runs WHERE CASE WHEN typeof(kinds) = 'text' AND json_valid(kinds) "
    "THEN json_type(kinds) IS NOT 'array' ELSE 1 END ORDER BY first"
)
_PAGE = 64  # a kind's runs read at a time
# Kinds wanted at most to read each one's runs apart (an index range each) whatever their
# share; beyond, when they are most kinds, the runs of every kind are read in one range.
_STREAMS_MAX = 16
_LOOKUP_CHUNK = 500  # ids per lookup: under SQLite's 999 bound parameters of old builds

_ID = re.compile(r"dec-[0-9a-f]{24}")
_ID_BYTES, _HASH_BYTES = 12, 32
# The layout of ``data`` (its first byte): 1, deflated (zlib), as the first runs were written;
# 2, a Zstandard frame, as they are now (a third of zlib's time at level 1, and smaller).
_DEFLATED, _ZSTD = 1, 2
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # every Zstandard frame's first bytes; zlib's is 0x78
_HEADER = struct.Struct("<BI")
_SWAP = sys.byteorder == "big"  # the columns are little-endian
_DAMAGED = "its run does not decode"
# A run whose last seq or times are not integers (SQLite's affinity keeps the text or the real
# number an INSERT gives it; ``first`` is the rowid, always one): what its seqs or times are
# cannot be told, so no walk or check reads it, and a lookup or filter that meets it fails.
_UNPLACED = "a run's last seq or times are not whole numbers"
_PLACED = (
    "(typeof({0}last) = 'integer' AND typeof({0}since) = 'integer' "
    "AND typeof({0}until) = 'integer')"
)
_RUNS_KEPT = 8  # runs a connection keeps decoded (a walk in seq order reads each once)
_sha256 = hashlib.sha256

# What a run's records differ by besides their times, ids, hashes and bodies: (asset, strategy
# name id, context id, verdict), one of a run's ``kinds``.
Kind = tuple[str, int, int, str]


class RunPlan(NamedTuple):
    """How the repeats of one shape are sealed and kept in a run (``CompactLayout.run_plan``):
    ``sealed`` and ``body`` are the pieces of the sealed record's text and of its body, cut
    at ``RUN_SLOTS`` and ``BODY_SLOTS``."""

    shape: Shape
    sealed: tuple[str, ...]
    body: tuple[str, ...]
    kind: Kind


RUN_SLOTS = ("as_of", "decision_id", "id", "observations", "prev_hash", "recorded_at", "seq")
BODY_SLOTS = ("observations", "seq")


def fits(row: Sequence[Any]) -> bool:
    """Whether a compact row (``CompactLayout.row``'s) can be kept in a run: a decision that
    placed nothing, whose id, times, strategy, context and body the run's columns hold."""
    return (
        row[2] == DECISION
        and row[3] is None
        and row[9] == RUN_STATUS
        and type(row[4]) is int
        and type(row[10]) is int
        and type(row[5]) is int
        and type(row[6]) is int
        and type(row[7]) is str
        and row[8] in VERDICTS
        and type(row[13]) is str
        and "\n" not in row[13]
        and _ID.fullmatch(row[1]) is not None
    )


class RunBuilder:
    """The records of one run as they are added, in seq order; ``Runs.insert`` stores them."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.first = 0
        self.prev = b""
        self.ids: list[str] = []
        self.hashes: list[bytes] = []
        self.as_of: list[int] = []
        self.recorded: list[int] = []
        self.kinds: list[int] = []
        self.bodies: list[str] = []
        self._kinds: dict[Kind, int] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def takes(self, seq: int) -> bool:
        """Whether the record at ``seq`` can follow: the next seq, and room."""
        count = len(self.ids)
        return not count or (seq == self.first + count and count < RUN_MAX)

    def add(self, row: tuple[Any, ...]) -> None:
        """Add a compact row that ``fits`` (and ``takes`` its seq)."""
        if not self.ids:
            self.first, self.prev = row[0], row[11]
        self._append(row[1], row[12], row[4], row[10], (row[7], row[5], row[6], row[8]), row[13])

    def seal_repeats(
        self, plan: RunPlan, items: Sequence[Any], at: int, seq: int, prev: str, rows: set[str]
    ) -> tuple[int, str]:
        """``seal`` the ``Repeat``s of ``items`` from ``at`` on while they are of ``plan``'s
        shape, fit a run (times with exact seconds) and the run has room: ``(how many, the
        last one's hash)``. A repeat of a decision stored as a row (its id in ``rows``) is a
        ``DuplicateRecordError``. ``seq`` is the seq before the first."""
        ids, hashes, as_ofs, recordeds, kinds, bodies = (
            self.ids,
            self.hashes,
            self.as_of,
            self.recorded,
            self.kinds,
            self.bodies,
        )
        shape, (p0, p1, p2, p3, p4, p5, p6, p7), (b0, b1, b2) = plan.shape, plan.sealed, plan.body
        room = RUN_MAX - len(ids)
        if not ids and room:
            self.first, self.prev = seq + 1, bytes.fromhex(prev)
        code = self._code(plan.kind) if room else 0
        count, end, sha256 = 0, len(items), _sha256
        while count < room and at + count < end:
            item = items[at + count]
            if item.__class__ is not Repeat:
                break
            _, outcome, _, _, as_of, ident, observed, seconds = item
            if outcome.shape is not shape or type(seconds) is not int:
                break
            if ident in rows:
                raise DuplicateRecordError([ident])
            seq += 1
            digest = sha256(
                f"{p0}{as_of}{p1}{ident}{p2}{ident}{p3}{observed}{p4}{prev}{p5}{as_of}{p6}{seq}{p7}"
                .encode()
            ).digest()  # fmt: skip
            prev = digest.hex()
            ids.append(ident)
            hashes.append(digest)
            as_ofs.append(seconds)
            recordeds.append(seconds)
            kinds.append(code)
            bodies.append(f"{b0}{observed}{b1}{seq}{b2}")
            count += 1
        return count, prev

    def _code(self, kind: Kind) -> int:
        found = self._kinds.get(kind)
        if found is None:
            found = self._kinds[kind] = len(self._kinds)
        return found

    def _append(
        self, ident: str, digest: bytes, as_of: int, recorded: int, kind: Kind, body: str
    ) -> None:
        self.ids.append(ident)
        self.hashes.append(digest)
        self.as_of.append(as_of)
        self.recorded.append(recorded)
        self.kinds.append(self._code(kind))
        self.bodies.append(body)

    def rows(self) -> list[tuple[Any, ...]]:
        """The compact rows of its records (those ``decode`` gives back once it is stored)."""
        kinds = list(self._kinds)
        found, prev = [], self.prev
        for i, ident in enumerate(self.ids):
            asset, name, context, verdict = kinds[self.kinds[i]]
            digest = self.hashes[i]
            found.append((self.first + i, ident, DECISION, None, self.as_of[i], name, context,
                          asset, verdict, RUN_STATUS, self.recorded[i], prev, digest,
                          self.bodies[i]))  # fmt: skip
            prev = digest
        return found

    def params(self) -> tuple[Any, ...] | None:
        """The run's ``runs`` row; None when a record cannot be kept in a run after all: an id
        not of the form ``ids`` keeps (``dec-`` and 24 hex digits), a body holding a newline
        (newlines part the bodies in ``data``). Checked here for all of them at once."""
        bodies = self.bodies
        if not bodies:
            return None
        ids = _id_bytes(self.ids)
        if ids is None or "\n" in "".join(bodies):  # one C scan each, not one per record
            return None
        as_of = _column("q", self.as_of)
        # A repeat is recorded when it is decided: the same column twice, made once.
        recorded = as_of if self.recorded == self.as_of else _column("q", self.recorded)
        data = b"".join(
            [
                _HEADER.pack(_ZSTD, len(bodies)),
                as_of,
                recorded,
                _column("H", self.kinds),
                "\n".join(bodies).encode("utf-8"),
            ]
        )
        return (
            self.first,
            self.first + len(bodies) - 1,
            min(self.as_of),
            max(self.as_of),
            _json([list(kind) for kind in self._kinds]),
            self.prev,
            ids,
            b"".join(self.hashes),
            _codec().compress(data),
        )


def _id_bytes(ids: list[str]) -> bytes | None:
    """The ``ids`` column of these ids (each one's 24 hex digits as 12 bytes); None when one
    is not ``dec-`` and 24 lowercase hex digits. Checked for all of them at once, in C: each is
    28 characters long, their joined text has ``dec-`` at every 28th character, and what is
    left without those (24 characters each: none inside was taken) reads back as hex."""
    count = len(ids)
    joined = "".join(ids)
    if not count or len(joined) != 28 * count or min(map(len, ids)) != 28:
        return None
    for at, char in enumerate("dec-"):
        if joined[at::28] != char * count:
            return None
    digits = joined.replace("dec-", "")
    try:
        found = bytes.fromhex(digits)
    except ValueError:
        return None
    # ``fromhex`` also takes capitals and skips spaces: the hex it gives back must be the text.
    return found if len(found) == 12 * count and found.hex() == digits else None


def _column(code: str, values: list[int]) -> bytes:
    """``values`` as a little-endian column of ``array`` items of type ``code``."""
    column = array.array(code, values)
    if _SWAP:
        column.byteswap()
    return column.tobytes()


class _Codec:
    """This thread's Zstandard compressor and decompressor (neither may be shared by threads;
    made once each, not per run: ~20 µs apiece)."""

    def __init__(self) -> None:
        import zstandard  # ~10 ms: only a command that writes or reads runs pays for it

        # With its checksum: a frame that is damaged must not decode (it could to other rows
        # without it; zlib's adler32 caught that in the first format).
        self.compress = zstandard.ZstdCompressor(level=1, write_checksum=True).compress
        self.parameters = zstandard.get_frame_parameters
        self.decompressor = zstandard.ZstdDecompressor()
        self.error = zstandard.ZstdError


_codecs = threading.local()


def _codec() -> _Codec:
    codec: _Codec | None = getattr(_codecs, "codec", None)
    if codec is None:
        codec = _codecs.codec = _Codec()
    return codec


# ``json.dumps(values, separators=(",", ":"))`` without making an encoder per call (a run's kinds).
_json = json.JSONEncoder(separators=(",", ":")).encode


def _ids_object(runs: Sequence[tuple[int, int]], ids: bytes) -> str:
    """``{"dec-<24 hex digits>": first, ...}`` in id order: the id of each record of the runs
    ``(first, how many ids)``, whose id columns are ``ids`` one after the other, mapped to its
    run (each number after spaces, all of one width: JSON's whitespace). Made as one block of
    bytes: the ids sorted as 12-byte strings (the order of their hex digits), each line's bytes
    set a column at a time; no Python step per record (the ids' sort and text were a fifth of
    the index build, and held the GIL the backtest's results were being worked out with), and
    SQLite appends them in order without sorting them."""
    import numpy as np  # only a backtest's log has runs to write, and it has numpy loaded

    kept = [(first, count) for first, count in runs if count]
    if not kept:
        return "{}"
    column = np.frombuffer(ids, dtype=f"S{_ID_BYTES}")
    order = np.argsort(column)  # ids are unique: any sort gives one order
    width = len(str(max(first for first, _ in kept)))
    numbers = "".join(f"{first:>{width}}" for first, _ in kept).encode()
    firsts = np.frombuffer(numbers, np.uint8).reshape(len(kept), width)
    digits = 2 * _ID_BYTES
    lines = np.empty((len(column), 5 + digits + 2 + width + 1), np.uint8)  # "dec-…":  first,
    lines[:, :5] = np.frombuffer(b'"dec-', np.uint8)
    hexed = column[order].tobytes().hex().encode()
    lines[:, 5 : 5 + digits] = np.frombuffer(hexed, np.uint8).reshape(len(column), digits)
    lines[:, 5 + digits : 7 + digits] = np.frombuffer(b'":', np.uint8)
    lines[:, 7 + digits : -1] = np.repeat(firsts, [count for _, count in kept], axis=0)[order]
    lines[:, -1] = ord(",")
    return "{" + lines.tobytes()[:-1].decode("ascii") + "}"


def decode(stored: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The compact rows of a ``runs`` row selected with ``_SELECT`` (``Undecodable`` when it
    does not give them back)."""
    first, last, kinds_text, prev, ids, hashes, data = stored
    try:
        count = last - first + 1
        kinds = _kinds_of(kinds_text)
        zstd = data[:4] == _ZSTD_MAGIC
        if zstd and not _codec().parameters(data).has_checksum:
            raise ValueError("a frame without its checksum")
        raw = _codec().decompressor.decompress(data) if zstd else zlib.decompress(data)
        version, n = _HEADER.unpack_from(raw)
    except (zlib.error, struct.error, ValueError, TypeError, MemoryError, _codec().error):
        raise Undecodable(_DAMAGED) from None
    if (
        version != (_ZSTD if zstd else _DEFLATED)
        or n != count
        or not isinstance(prev, bytes)
        or not isinstance(ids, bytes)
        or not isinstance(hashes, bytes)
        or len(ids) != n * _ID_BYTES
        or len(hashes) != n * _HASH_BYTES
    ):
        raise Undecodable(_DAMAGED)
    at = _HEADER.size
    columns = []
    for code, size in (("q", 8), ("q", 8), ("H", 2)):
        column = array.array(code, raw[at : at + n * size])
        if _SWAP:
            column.byteswap()
        columns.append(column)
        at += n * size
    as_of, recorded, kinds_of = columns
    try:
        bodies = raw[at:].decode("utf-8").split("\n")
        if len(bodies) != n or len(kinds_of) != n:
            raise ValueError
        found = []
        for i in range(n):
            asset, name, context, verdict = kinds[kinds_of[i]]
            digest = hashes[i * _HASH_BYTES : (i + 1) * _HASH_BYTES]
            found.append(
                (
                    first + i,
                    "dec-" + ids[i * _ID_BYTES : (i + 1) * _ID_BYTES].hex(),
                    DECISION,
                    None,
                    as_of[i],
                    name,
                    context,
                    asset,
                    verdict,
                    RUN_STATUS,
                    recorded[i],
                    prev,
                    digest,
                    bodies[i],
                )
            )
            prev = digest
    except (ValueError, IndexError, TypeError):
        raise Undecodable(_DAMAGED) from None
    return found


def _kinds_of(text: Any) -> list[Kind]:
    """The kinds of a run's ``kinds`` column: JSON text of an array of arrays of four, as
    ``RunBuilder.params`` writes it (``ValueError`` else; ``_UNREAD_KINDS`` finds the same runs
    in SQL). Four letters of a string are not a kind."""
    if type(text) is not str:
        raise ValueError("a kinds column that is not text")
    try:
        found = json.loads(text)
    except RecursionError:  # arrays nested deeper than Python's stack
        raise ValueError("a kinds column nested too deep") from None
    if type(found) is not list or not all(type(kind) is list and len(kind) == 4 for kind in found):
        raise ValueError("a kinds column that is not a list of kinds")
    return [cast(Kind, tuple(kind)) for kind in found]


def _wanted(kinds: Any, keep: Callable[[Kind], bool]) -> set[Kind]:
    """The kinds of a run's ``kinds`` column that ``keep`` takes (``Undecodable``: a column
    that cannot be read, whose run's records a filter must not pass over as not wanted)."""
    try:
        found = _kinds_of(kinds)
    except ValueError:
        raise Undecodable(_DAMAGED) from None
    return {kind for kind in found if keep(kind)}


def _ids_of(column: bytes) -> list[str]:
    """The ids of a run's ``ids`` column, in seq order."""
    digits = column.hex()
    step = 2 * _ID_BYTES
    return ["dec-" + digits[at : at + step] for at in range(0, len(digits), step)]


def _unread(first: int, last: int) -> tuple[str, int | None, str | None, str]:
    """The problem of a run whose kinds column does not decode."""
    return ("EDITED", first, None, f"the kinds column of the run of seqs {first}..{last} does not "
            "decode")  # fmt: skip


def _times_problem(
    first: int, last: int, since: int, until: int, span: tuple[int, int]
) -> tuple[str, int | None, str | None, str]:
    """The problem of a run whose own time columns are not its records' ``span``."""
    return ("EDITED", first, None, f"the run of seqs {first}..{last} says its decisions are from "
            f"{since} to {until}; they are from {span[0]} to {span[1]}")  # fmt: skip


def _newest(row: tuple[Any, ...]) -> tuple[Any, Any]:
    return row[4], row[0]


def _span(rows: Sequence[tuple[Any, ...]]) -> tuple[int, int] | None:
    """The earliest and latest as_of of a run's ``rows``; None for a run that does not decode
    (its ``damaged`` rows) or is not there."""
    if not rows or rows[0][1] is None:
        return None
    times = [row[4] for row in rows]
    return min(times), max(times)


def damaged(first: int, last: int) -> Iterator[tuple[Any, ...]]:
    """Rows standing for the records of a run that does not decode: each fails to decode as a
    record (``verify`` reports every one of them)."""
    for seq in range(first, last + 1):
        yield (seq, None, DECISION, None, None, None, None, None, None, RUN_STATUS, None,
               b"", b"", b"\x00")  # fmt: skip


class Runs:
    """The runs of one log, read through ``query`` (the store's) and kept decoded a few at a
    time. Runs never change once written; ``reset`` forgets them after a rollback.

    Runs are written while a backtest fills its own log (``start_packing`` ..
    ``finish_packing``): their ids are kept here meanwhile, and the id table is written in one
    go at the end (one random insert per record into its B-tree cost more than sealing one)."""

    def __init__(self, query: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]) -> None:
        self._query = query
        self._decoded: OrderedDict[int, list[tuple[Any, ...]]] = OrderedDict()
        self._packed: dict[str, int] | None = None  # while packing: id -> its run's first
        self._stale = False  # a rollback may have undone runs: read their ids again
        self._kinds: list[tuple[str, Kind]] | None = None  # ``run_kinds``' kinds, once read
        # The runs the last walk (``after``) decoded: the earliest and latest as_of of each
        # one's records, None for one that does not decode. ``problems`` takes them, so that
        # ``verify`` decodes each run once (its walk, then the runs' own columns).
        self._walked: dict[int, tuple[int, int] | None] = {}

    def reset(self) -> None:
        self._decoded.clear()
        self._kinds = None
        self._walked = {}
        if self._packed is not None:
            self._stale = True

    # --- writing -------------------------------------------------------------------------------

    def start_packing(self) -> None:
        """Runs are about to be written into a log that holds none (an empty one)."""
        self._packed, self._stale = {}, False

    def finish_packing(self) -> None:
        """Write the id table of the runs written since ``start_packing`` (every run of the
        log: it held none before), unpacked by SQLite from one JSON object made of the runs'
        ``ids`` columns, in id order."""
        if self._packed is not None:
            sizes, ids = self._query(_IDS_OF_RUNS, [])[0]
            numbers = [int(number) for number in (sizes or "").split()]
            runs = list(zip(numbers[::2], numbers[1::2], strict=True))
            self._query(_INSERT_IDS, [_ids_object(runs, bytes.fromhex(ids or ""))])
            for statement in _KINDS_SCHEMA:
                self._query(statement, [])
        self._packed = None
        self._kinds = None

    def insert(self, run: RunBuilder) -> list[str] | None:
        """Store ``run`` while packing: the ids another run holds, or that ``run`` holds twice
        (sorted; then nothing is stored), or None when a run cannot keep its records
        (``RunBuilder.params``: they are rows then)."""
        packed = self._packing_ids()
        ids = run.ids
        added = dict.fromkeys(ids, run.first)  # fewer keys than ids: one is there twice
        taken = packed.keys() & added.keys()  # in C: a Python test per id was most of this
        if taken or len(added) != len(ids):
            return sorted(taken | {i for i, count in Counter(ids).items() if count > 1})
        params = run.params()
        if params is None:
            return None
        self._query(_INSERT, params)
        packed.update(added)
        return []

    def _packing_ids(self) -> dict[str, int]:
        packed = self._packed
        if packed is None:
            raise RuntimeError("runs are written while a backtest fills its log (start_packing)")
        if self._stale:
            packed.clear()
            for first, ids in self._query("SELECT first, ids FROM runs", []):
                for at in range(0, len(ids), _ID_BYTES):
                    packed["dec-" + ids[at : at + _ID_BYTES].hex()] = first
            self._stale = False
        return packed

    def holds(self, ident: str) -> bool:
        """Whether a run holds a record of this id."""
        if self._packed is not None:
            return ident in self._packing_ids()
        return bool(self._query("SELECT 1 FROM run_ids WHERE id = ?", [ident]))

    # --- reading -------------------------------------------------------------------------------

    def rows(self, first: int) -> list[tuple[Any, ...]]:
        """The rows of the run starting at ``first`` (none: no such run, or one whose last seq
        or times are not integers, ``_UNPLACED``, which ``problems`` reports; a run that does not
        decode gives ``damaged`` rows, which the walk of ``verify`` reports one by one)."""
        try:
            return self._read(first)
        except Undecodable:
            return []

    def _read(self, first: int) -> list[tuple[Any, ...]]:
        """``rows``, ``Undecodable`` for a run whose last seq or times are not integers."""
        found = self._decoded.get(first)
        if found is not None:
            self._decoded.move_to_end(first)
            return found
        stored = self._query(
            f"SELECT {_SELECT}, {_PLACED.format('')} FROM runs WHERE first = ?", [first]
        )
        if not stored:
            return []
        if not stored[0][-1]:
            raise Undecodable(_UNPLACED)
        try:
            found = decode(stored[0][:-1])
        except Undecodable:
            found = list(damaged(stored[0][0], stored[0][1]))
        self._decoded[first] = found
        if len(self._decoded) > _RUNS_KEPT:
            self._decoded.popitem(last=False)
        return found

    def _sound(self, first: int) -> list[tuple[Any, ...]]:
        """``rows`` of a run a lookup reads: ``Undecodable`` when it does not decode (a lookup
        that skipped its records would answer as if they were not there)."""
        found = self._read(first)
        if found and found[0][1] is None:
            raise Undecodable(_DAMAGED)
        return found

    def last(self) -> tuple[int, bytes] | None:
        """``(seq, hash)`` of the last record kept in a run."""
        stored = self._query(
            f"SELECT first FROM runs WHERE {_PLACED.format('')} ORDER BY first DESC LIMIT 1", []
        )
        if not stored:
            return None
        rows = self.rows(stored[0][0])
        return (rows[-1][0], rows[-1][12]) if rows else None

    def count(self) -> int:
        return int(
            self._query(
                f"SELECT coalesce(sum(last - first + 1), 0) FROM runs WHERE {_PLACED.format('')}",
                [],
            )[0][0]
        )

    def at(self, seq: int, *, sound: bool = True) -> tuple[Any, ...] | None:
        """The row of the record at ``seq``, if a run holds it (``sound``: ``Undecodable`` when
        the run does not decode; else a ``damaged`` row, for a check that reports it)."""
        stored = self._query(
            "SELECT first, last FROM runs WHERE first <= ? ORDER BY first DESC LIMIT 1", [seq]
        )
        if stored and type(stored[0][1]) is not int:
            if sound:
                raise Undecodable(_UNPLACED)
            return None
        if not stored or stored[0][1] < seq:
            return None
        rows = self._sound(stored[0][0]) if sound else self.rows(stored[0][0])
        at = seq - stored[0][0]
        return rows[at] if at < len(rows) else None

    def hash_at(self, seq: int) -> bytes | None:
        """The hash of the record at ``seq``, read from its run's hashes alone."""
        stored = self._query(
            "SELECT first, last, hashes FROM runs WHERE first <= ? ORDER BY first DESC LIMIT 1",
            [seq],
        )
        if (
            not stored
            or type(stored[0][1]) is not int
            or stored[0][1] < seq
            or not isinstance(stored[0][2], bytes)
        ):
            return None
        at = (seq - stored[0][0]) * _HASH_BYTES
        digest: bytes = stored[0][2][at : at + _HASH_BYTES]
        return digest if len(digest) == _HASH_BYTES else None

    def by_id(self, ident: str) -> tuple[Any, ...] | None:
        """The row of the decision with this id, if a run holds it."""
        if self._packed is not None:
            first = self._packing_ids().get(ident)
        else:
            found = self._query("SELECT first FROM run_ids WHERE id = ?", [ident])
            first = found[0][0] if found else None
        if first is None:
            return None
        for row in self._sound(first):
            if row[1] == ident:
                return row
        return None

    def after(self, seq: int) -> Iterator[tuple[Any, ...]]:
        """The rows of every record kept in runs after ``seq``, in seq order: every run's, a
        run another one's seqs overlap too (written by no writer of the log: ``verify``'s
        walk meets its seqs twice, and says so)."""
        cursor = None
        walked = self._walked = {}
        while True:
            if cursor is None:
                sql, params = "SELECT first FROM runs WHERE last > ? ORDER BY first LIMIT 1", [seq]
            else:
                sql, params = (
                    "SELECT first FROM runs WHERE first > ? ORDER BY first LIMIT 1",
                    [cursor],
                )
            stored = self._query(sql, params)
            if not stored:
                return
            cursor = stored[0][0]
            rows = self.rows(cursor)
            walked[cursor] = _span(rows)
            for row in rows:
                if row[0] > seq:
                    yield row

    def newest(
        self,
        keep: Callable[[Kind], bool],
        *,
        since: float | None,
        until: float | None,
        until_inclusive: bool,
        limit: int | None,
    ) -> list[tuple[Any, ...]]:
        """The rows whose kind (asset, strategy name id, context id, verdict) ``keep`` takes
        and whose as_of is in ``[since, until]`` (or ``[since, until)``), newest as_of first
        (then the higher seq), ``limit`` of them at most. Runs are read latest first, skipped
        by their kinds when none is wanted, and no more are read once no earlier one can hold
        a newer record: found through ``run_kinds`` where the log has it."""
        if limit is not None and limit <= 0:
            return []
        kinds = self._kind_list()
        if kinds is not None:
            taken = {kind for _, kind in kinds if keep(kind)}
            texts = [text for text, kind in kinds if kind in taken]
            # Most kinds wanted: one range for all, the others' runs passed over (an index
            # range each would be a query each); fewer: a range each (the runs of a kind that
            # stopped long ago, a strategy's old version, are found where they are).
            one = len(texts) > _STREAMS_MAX and 2 * len(texts) > len(kinds)
            ordered = self._runs_of_kinds(texts, since, until, one_range=one)
            return self._read_newest(ordered, taken, since, until, until_inclusive, limit)
        where, params = [], []
        if since is not None:
            where.append("until >= ?")
            params.append(since)
        if until is not None:
            where.append("since <= ?" if until_inclusive else "since < ?")
            params.append(until)
        sql = "SELECT until, first, since, kinds FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        wanted: set[Kind] = set()  # a kind wanted in one run is wanted in all

        def scanned() -> Iterator[tuple[int, int, int]]:
            for latest, first, earliest, kinds in self._query(
                sql + " ORDER BY until DESC, first DESC", params
            ):
                found = _wanted(kinds, keep)
                if found:
                    wanted.update(found)
                    yield latest, first, earliest

        return self._read_newest(scanned(), wanted, since, until, until_inclusive, limit)

    def _kind_list(self) -> list[tuple[str, Kind]] | None:
        """The kinds ``run_kinds`` holds (its text and the kind), one index step each; None
        when the log has no such table (written before it, or still being filled)."""
        if self._kinds is None:
            if not self._query(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [KINDS_TABLE]
            ):
                return None
            found, last = [], ""
            while True:
                step = self._query(
                    "SELECT kind FROM run_kinds WHERE kind > ? ORDER BY kind LIMIT 1", [last]
                )
                if not step:
                    break
                last = step[0][0]
                try:
                    kind = tuple(json.loads(last))
                except (ValueError, TypeError):
                    kind = ()
                if len(kind) != 4:  # a filter must not pass over runs it cannot tell
                    raise Undecodable(f"the runs' kinds table holds {last!r}, not a kind")
                found.append((last, cast(Kind, kind)))
            self._kinds = found
        return self._kinds

    def _runs_of_kinds(
        self, texts: Sequence[str], since: float | None, until: float | None, *, one_range: bool
    ) -> Iterator[tuple[int, int, int]]:
        """``(until, first, since)`` of the runs holding any of these kinds, latest first
        (each run once), from those ending by ``until`` plus the longest run's span (no run
        ending later starts by ``until``) down to those ending at ``since``."""
        top = None
        if until is not None:
            span = self._query("SELECT max(until - since) FROM runs", [])[0][0]
            top = until + (span or 0)
        streams: list[Iterator[tuple[Any, ...]]]
        if one_range:
            wanted = set(texts)
            streams = [(f for f in self._runs_of_kind(None, since, top) if f[3] in wanted)]
        else:
            streams = [self._runs_of_kind(text, since, top) for text in texts]
        last = None
        for latest, first, earliest, _ in heapq.merge(*streams, reverse=True):
            if first != last:  # a run holding two of the kinds comes once from each
                last = first
                yield latest, first, earliest

    def _runs_of_kind(
        self, text: str | None, since: float | None, top: float | None
    ) -> Iterator[tuple[Any, ...]]:
        """``(until, first, since, kind)`` of the runs holding ``text``'s kind (None: any),
        latest first, a page at a time."""
        where: list[str] = []
        params: list[Any] = []
        if text is not None:
            where.append("kind = ?")
            params.append(text)
        if since is not None:
            where.append("until >= ?")
            params.append(since)
        if top is not None:
            where.append("until <= ?")
            params.append(top)
        sql = f"SELECT until, first, since, kind FROM run_kinds WHERE {' AND '.join(where) or 1}"
        after: list[Any] = []
        while True:  # (until, first, kind): a run's kinds may be cut by a page's end
            page = self._query(
                sql + (" AND (until, first, kind) < (?, ?, ?)" if after else "")
                + f" ORDER BY until DESC, first DESC, kind DESC LIMIT {_PAGE}",
                [*params, *after],
            )  # fmt: skip
            for row in page:
                if type(row[0]) is not int or type(row[2]) is not int:
                    raise Undecodable(_UNPLACED)  # (before a merge compares them)
                yield row
            if len(page) < _PAGE:
                return
            after = [page[-1][0], page[-1][1], page[-1][3]]

    def _read_newest(
        self,
        ordered: Iterator[tuple[int, int, int]],
        wanted: set[Kind],
        since: float | None,
        until: float | None,
        until_inclusive: bool,
        limit: int | None,
    ) -> list[tuple[Any, ...]]:
        """``newest``'s rows from the runs ``ordered`` gives, latest first."""
        found: list[tuple[Any, ...]] = []
        for latest, first, earliest in ordered:
            if type(latest) is not int or type(earliest) is not int:
                raise Undecodable(_UNPLACED)  # (a filter must not pass over its records)
            if limit is not None and len(found) >= limit and found[limit - 1][4] > latest:
                break
            if until is not None and (
                earliest > until or (earliest == until and not until_inclusive)
            ):
                continue
            for row in self._sound(first):
                if (row[7], row[5], row[6], row[8]) not in wanted:
                    continue
                as_of = row[4]
                if since is not None and as_of < since:
                    continue
                if until is not None and (
                    as_of > until or (as_of == until and not until_inclusive)
                ):
                    continue
                found.append(row)
            if limit is not None:
                found.sort(key=_newest, reverse=True)
                del found[limit:]
        if limit is None:
            found.sort(key=_newest, reverse=True)
        return found

    def problems(
        self, after_seq: int = 0, *, before: int = 0
    ) -> list[tuple[str, int | None, str | None, str]]:
        """What in the runs' own columns disagrees with the records they hold, as ``verify``
        reports it (kind, seq, id, message): a time range that is not its decisions' (filters
        by time would pass over them), an id table that does not name each record's run, or
        names one no run holds (``get`` by id would miss them). Of the runs holding records
        after ``after_seq`` (runs never change: a check that goes on from an earlier one reads
        the new ones). A run that does not decode is reported by the walk, record by record.

        And, whole whatever ``after_seq``, where the runs are (``_place_problems``), their kinds
        columns (``_unread_kinds``: one that does not decode, once), the kinds table
        (``_kinds_table_problems``), the id table's rows for the other runs
        (``_id_table_problems``) and the rows of ``records`` at their seqs (``_rows_in_runs``):
        no table refuses an INSERT, a row added since the earlier check cannot be told from the
        others, and one out of place is read by lookups by seq or by filters in place of the
        records it covers (or beside them). A scan of the runs' seqs, a few rows of kinds per
        run and two counts: milliseconds on a backtest's log.

        The walk just before (``after``, in the same read) decoded these runs: their records'
        times are taken from it and their ids from their ``ids`` column, so that no run is
        decoded twice; a run it did not read is decoded here. ``before``: how many rows of
        ``records`` are before seq 1 (the caller reported them: ``AuditLog.storage_problems``),
        which the count of the rows takes as placed."""
        walked, self._walked = self._walked, {}
        found, held, reach, unplaced = self._place_problems()
        # (a run that is not in place is left out of the kinds checks as one whose kinds column
        # does not decode is: its times cannot be compared)
        unread = self._unread_kinds(found) | unplaced
        unsound: set[int] = set()  # of them, those whose time range is not their records'
        # How many ids the table names each run for: one scan (a scan per run made verify
        # quadratic in a backtest log's size: the table is keyed by id, not by run).
        named: dict[int, int] | None = None
        for first, last, since, until, ids in self._runs_after(after_seq):
            if first in unplaced:
                continue
            if named is None:
                named = dict(self._query(_NAMED_PER_RUN, [first]))
            kept = self._held(first, ids, walked)
            if kept is None:
                unsound.add(first)
                continue
            span, own = kept
            if (since, until) != span:
                found.append(_times_problem(first, last, since, until, span))
                unsound.add(first)
            found += self._id_problems(first, last, own, named.get(first, 0))
        found += self._kinds_table_problems(after_seq, unsound, unread)
        suspect = bool(found)
        found += self._id_table_problems(after_seq, held, suspect=suspect)
        found += self._rows_in_runs(after_seq, held, reach, before, suspect=suspect)
        return found

    def _id_problems(
        self, first: int, last: int, own: Sequence[str], named: int
    ) -> list[tuple[str, int | None, str | None, str]]:
        """Where the id table does not name the run of seqs ``first..last`` for each of its
        ids ``own``, or names it for ids it does not hold (``named`` ids in all)."""
        found: list[tuple[str, int | None, str | None, str]] = []
        where = f"the run of seqs {first}..{last}"
        runs_of = self._runs_of(own)
        kept: set[str] = set()  # its ids the table names it for (each id once)
        for seq, ident in enumerate(own, first):
            if runs_of.get(ident) == first and ident not in kept:
                kept.add(ident)
                continue
            found.append(("EDITED", seq, ident, f"the runs' id table does not name {where} for it"))
        if named > len(kept):  # ids it names this run for, not its own
            for (ident,) in self._query(
                "SELECT id FROM run_ids WHERE first = ? ORDER BY id", [first]
            ):
                if ident not in kept:
                    found.append(
                        ("EDITED", first, ident,
                         f"the runs' id table names {where} for it, which does not hold it")
                    )  # fmt: skip
        return found

    def _id_table_problems(
        self, after_seq: int, held: int, *, suspect: bool
    ) -> list[tuple[str, int | None, str | None, str]]:
        """The id table's rows that ``problems`` did not check against the ids of the runs
        after ``after_seq``: those of the runs up to it (an earlier check read them) and those
        naming a run that is not there. A row can be added without a trigger dropped (``get``
        finds no record of its id, but a decision of that id is refused as already in the log),
        and the table holds one row per record of the runs, ``held``: so they are searched for
        only when it holds another number, or something is wrong already (``suspect``). Its
        count is one step (7 ms at 818,750 ids); the search scans it (1.1 s)."""
        (count,) = self._query("SELECT count(*) FROM run_ids", [])[0]
        if count == held and not suspect:
            return []
        found: list[tuple[str, int | None, str | None, str]] = []
        named = dict(self._query("SELECT first, count(*) FROM run_ids GROUP BY first", []))
        for first, last in self._query(
            f"SELECT first, last FROM runs WHERE last <= ? AND {_PLACED.format('')} ORDER BY first",
            [after_seq],
        ):
            if first <= last and named.get(first, 0) != last - first + 1:
                (ids,) = self._query("SELECT ids FROM runs WHERE first = ?", [first])[0]
                own = _ids_of(ids) if isinstance(ids, bytes) else []
                found += self._id_problems(first, last, own, named.get(first, 0))
        for first, count in self._query(
            "SELECT first, count(*) FROM run_ids WHERE first NOT IN (SELECT first FROM runs) "
            "GROUP BY first ORDER BY first",
            [],
        ):
            found.append(
                ("EDITED", first, None, f"the runs' id table names {count:,} records of a run "
                 f"from seq {first}, which is not there")
            )  # fmt: skip
        return found

    def _rows_in_runs(
        self, after_seq: int, held: int, reach: int, before: int, *, suspect: bool
    ) -> list[tuple[str, int | None, str | None, str]]:
        """Rows of ``records`` at a seq a run holds, up to ``after_seq`` (the walk meets the
        others twice and says so), as the walk says it: a seq is free in the table where a run
        holds it, a row added there needs no trigger dropped, and it is what a lookup by seq
        reads (rows first). The rows and the runs' ``held`` records are the seqs from 1 to
        the last (``reach`` the runs') once each, so they are searched for only when their
        count is off or something is wrong already (``suspect``): a count of the rows is one
        step (2 ms at 181,250 rows), the search a seek per run (60 ms at 81,632 runs).

        ``before`` of the rows are before seq 1 (reported by the caller). When there are more
        rows than those, the search's and the walk's account for, the count itself is
        reported: a row no check placed is one a lookup or a filter may read."""
        rows, last = self._query("SELECT count(*), max(seq) FROM records", [])[0]
        top = max(last or 0, reach)
        more = rows + held - top  # rows beyond one per seq: twice at a seq, or before seq 1
        if more == before and not suspect:
            return []
        found: list[tuple[str, int | None, str | None, str]] = []
        for seq, first, ids in self._query(
            # Each run, then its seqs' rows (CROSS JOIN keeps that order: the other way round,
            # each row would look through every run before it).
            "SELECT r.seq, u.first, u.ids FROM runs u CROSS JOIN records r "
            f"ON r.seq BETWEEN u.first AND min(u.last, ?) WHERE {_PLACED.format('u.')} "
            "ORDER BY u.first, r.seq",
            [after_seq],
        ):
            at = (seq - first) * _ID_BYTES  # the run's record there: the walk meets it second
            ident = ids[at : at + _ID_BYTES] if isinstance(ids, bytes) else b""
            name = "dec-" + ident.hex() if len(ident) == _ID_BYTES else None
            found.append(("REORDERED", seq, name, f"seq {seq} appears more than once"))
        if more > before + len(found) and not suspect:
            unplaced = more - before - len(found) - self._rows_in_runs_after(after_seq)
            if unplaced > 0:
                found.append(
                    ("INSERTED", None, None, f"the log stores {rows + held:,} records (rows and "
                     f"the runs') for seqs 1 to {top:,}: {unplaced:,} more that no check places")
                )  # fmt: skip
        return found

    def _rows_in_runs_after(self, after_seq: int) -> int:
        """How many rows of ``records`` are at seqs the runs hold after ``after_seq`` (the
        walk meets each twice and says so): a seek per run after it, read only when the count
        of the rows is off."""
        return int(
            self._query(
                "SELECT count(*) FROM runs u CROSS JOIN records r "
                "ON r.seq BETWEEN max(u.first, ? + 1) AND u.last "
                f"WHERE u.last > ? AND {_PLACED.format('u.')}",
                [after_seq, after_seq],
            )[0][0]
        )

    def _place_problems(
        self,
    ) -> tuple[list[tuple[str, int | None, str | None, str]], int, int, set[int]]:
        """The runs whose seqs are not theirs alone, over the whole table in one scan of its
        key: one that overlaps the runs before it (its records kept twice: a lookup by seq
        reads the run that starts last, and past its end finds nothing), starts before seq 1
        (no walk reads it; filters do) or ends before it starts (it hides the records after
        its first from lookups by seq, and holds none). And how many records the runs hold, the
        last seq they reach, and the runs whose last seq or times are not integers
        (``_UNPLACED``: reported, and left out of the rest, as out of the walk)."""
        found: list[tuple[str, int | None, str | None, str]] = []
        unplaced: set[int] = set()
        reach = held = 0  # the last seq of the runs before; the records of all
        for first, last, placed in self._query(
            f"SELECT first, last, {_PLACED.format('')} FROM runs ORDER BY first", []
        ):
            if not placed:
                found.append(self._unplaced(first))
                unplaced.add(first)
                continue
            held += last - first + 1
            if reach < first <= last:  # in its place (a run's text is made only for a problem)
                reach = last
                continue
            where = f"the run of seqs {first}..{last}"
            if last < first:
                message = f"{where} ends before it starts"
            elif first < 1:
                message = f"{where} starts before seq 1, the chain's first"
            else:
                message = f"{where} overlaps the runs before it (to seq {reach})"
            found.append(("EDITED", first, None, message))
            reach = max(reach, last)
        return found, held, reach, unplaced

    def _unplaced(self, first: int) -> tuple[str, int | None, str | None, str]:
        """The problem of the run from ``first`` whose last seq or times are not integers."""
        ((last, since, until),) = self._query(
            "SELECT last, since, until FROM runs WHERE first = ?", [first]
        )
        return ("EDITED", first, None, f"the run from seq {first} has columns that are not seqs "
                f"or times: last {last!r}, since {since!r}, until {until!r}")  # fmt: skip

    def _runs_after(self, after_seq: int) -> Iterator[tuple[Any, ...]]:
        """``(first, last, since, until, ids)`` of the runs holding records after
        ``after_seq``, in seq order, ``_PAGE`` runs at a time (their ids take 12 bytes a
        record: not all of them at once)."""
        sql = "SELECT first, last, since, until, ids FROM runs WHERE last > ?"
        cursor: list[Any] = []
        while True:
            page = self._query(
                sql + (" AND first > ?" if cursor else "") + f" ORDER BY first LIMIT {_PAGE}",
                [after_seq, *cursor],
            )
            yield from page
            if len(page) < _PAGE:
                return
            cursor = [page[-1][0]]

    def _held(
        self, first: int, ids: Any, walked: dict[int, tuple[int, int] | None]
    ) -> tuple[tuple[int, int], list[str]] | None:
        """The earliest and latest as_of of the records of the run from ``first``, and their
        ids (its ``ids`` column, which decoding it checked): from the walk that decoded it, else
        decoded here. None when it does not decode."""
        if first in walked:
            span = walked[first]
            if span is None:
                return None
            return span, _ids_of(ids)
        rows = self.rows(first)
        span = _span(rows)
        return None if span is None else (span, [row[1] for row in rows])

    def _unread_kinds(self, found: list[tuple[str, int | None, str | None, str]]) -> set[int]:
        """The runs whose kinds column does not decode, each reported once to ``found``, whole
        whatever the check's point: a filter refuses such a run (``_wanted``, ``decode``), and
        the kinds table cannot be checked against it (a walk that reads it reports its records
        too). One pass over the runs' kinds."""
        unread: set[int] = set()
        for first, last in self._query(_UNREAD_KINDS, []):
            found.append(_unread(first, last))
            unread.add(first)
        return unread

    def _undecoded(
        self, firsts: Sequence[int], unread: set[int]
    ) -> list[tuple[str, int | None, str | None, str]]:
        """Of the runs from ``firsts``, those whose kinds column does not decode after all
        (JSON of an array, but of what is not a kind), added to ``unread`` and reported."""
        found = []
        for first in firsts:
            for last, kinds in self._query("SELECT last, kinds FROM runs WHERE first = ?", [first]):
                try:
                    _kinds_of(kinds)
                except ValueError:
                    found.append(_unread(first, last))
                    unread.add(first)
        return found

    def _kinds_table_problems(
        self, after_seq: int, unsound: set[int], unread: set[int]
    ) -> list[tuple[str, int | None, str | None, str]]:
        """``_kinds_problems`` where the log has ``run_kinds``; a kind it cannot read, as one."""
        try:
            if self._kind_list() is None:
                return []
        except Undecodable as error:
            return [("EDITED", None, None, str(error))]
        return self._kinds_problems(after_seq, unsound, unread)

    def _kinds_problems(
        self, after_seq: int, unsound: set[int], unread: set[int]
    ) -> list[tuple[str, int | None, str | None, str]]:
        """Where ``run_kinds`` is not the kinds and times of the runs (a filter would pass
        over a run it leaves out, or read one it names wrongly): a kind left out or added, a
        run that is not there, and times not the run's, but for the runs in ``unsound`` (whose
        own time columns are not their records': reported so; ``_earlier_times`` finds those
        up to ``after_seq``) and nothing of those in ``unread`` (whose kinds column does not
        decode: reported so)."""
        where = "the runs' kinds table"
        kinds_of_runs = _KINDS_OF_RUNS_GUARDED if unread else _KINDS_OF_RUNS
        left_out = self._query(f"{kinds_of_runs} EXCEPT {_KINDS_ROWS} ORDER BY 2, 1", [])
        found = self._undecoded(sorted({first for _, first in left_out} - unread), unread)
        for kind, first in left_out:
            if first in unread:
                continue
            found.append(
                ("EDITED", first, None, f"{where} leaves out the kind {kind} of the run from "
                 f"seq {first}")
            )  # fmt: skip
        for kind, first, there in self._query(
            f"SELECT kind, first, first IN (SELECT first FROM runs) FROM ({_KINDS_ROWS} "
            f"EXCEPT {kinds_of_runs}) ORDER BY 2, 1",
            [],
        ):
            if first in unread:
                continue
            says = "which does not hold it" if there else "which is not there"
            found.append(
                ("EDITED", first, None, f"{where} names the kind {kind} of a run from seq "
                 f"{first}, {says}")
            )  # fmt: skip
        misdated = self._query(_KINDS_TIMES, [])
        found += self._earlier_times(misdated, after_seq, unsound, unread)
        for kind, first, until, since, run_until, run_since, _ in misdated:
            if first not in unsound and first not in unread:
                found.append(
                    ("EDITED", first, None, f"{where} says the kind {kind} of the run from seq "
                     f"{first} is from {since} to {until}; the run is from {run_since} to "
                     f"{run_until}")
                )  # fmt: skip
        return found

    def _earlier_times(
        self,
        misdated: Sequence[tuple[Any, ...]],
        after_seq: int,
        unsound: set[int],
        unread: set[int],
    ) -> list[tuple[str, int | None, str | None, str]]:
        """The runs up to ``after_seq`` (``problems`` did not check their own columns) whose
        times the kinds table does not give (``_KINDS_TIMES`` rows, ``misdated``), whose own
        time columns are not their records' after all: added to ``unsound`` and reported as a
        whole check reports them, where the table is right and was blamed, a line per kind.
        Decoded only here: a run up to the point is met only when something is wrong."""
        found = []
        for first, last, since, until in sorted({(r[1], r[6], r[5], r[4]) for r in misdated}):
            if first in unsound or first in unread or last > after_seq:
                continue
            span = _span(self.rows(first))
            if span is not None and span != (since, until):  # (undecoded: the table is blamed)
                found.append(_times_problem(first, last, since, until, span))
                unsound.add(first)
        return found

    def _runs_of(self, ids: Sequence[str]) -> dict[str, int]:
        """The run the id table names for each of ``ids`` (an id it does not name is left out),
        a lookup by key per id, in chunks of SQLite's bound parameters."""
        found: dict[str, int] = {}
        for at in range(0, len(ids), _LOOKUP_CHUNK):
            chunk = ids[at : at + _LOOKUP_CHUNK]
            marks = ", ".join("?" * len(chunk))
            found.update(self._query(f"SELECT id, first FROM run_ids WHERE id IN ({marks})", chunk))
        return found

    def values(self, column: str) -> set[Any]:
        """The distinct assets (``column`` "asset") or strategy name ids ("strategy")."""
        at = 0 if column == "asset" else 1  # in a Kind
        kinds = self._kind_list()
        if kinds is not None:
            return {kind[at] for _, kind in kinds}
        found: set[Any] = set()
        for (text,) in self._query("SELECT DISTINCT kinds FROM runs", []):
            try:
                found.update(kind[at] for kind in json.loads(text))
            except (ValueError, TypeError, IndexError, KeyError):
                continue
        return found

    def seq_of_hash(self, digest: bytes) -> int | None:
        """Which record kept in a run carries this hash (a scan, as for rows)."""
        for first, hashes in self._query("SELECT first, hashes FROM runs ORDER BY first", []):
            if not isinstance(hashes, bytes):
                continue
            at = hashes.find(digest)
            while at >= 0:
                if at % _HASH_BYTES == 0:
                    return int(first) + at // _HASH_BYTES
                at = hashes.find(digest, at + 1)
        return None


__all__ = [
    "BODY_SLOTS",
    "RUNS_VERSION",
    "RUN_MAX",
    "RUN_SLOTS",
    "RUN_STATUS",
    "SCHEMA",
    "Kind",
    "RunBuilder",
    "RunPlan",
    "Runs",
    "decode",
    "fits",
]
