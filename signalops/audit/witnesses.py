"""What ``verify`` checks the chain against, besides itself.

The chain proves that records link up; these prove that they are the records that were written
and that the rest of the file agrees with them:

- the record MACs and the checkpoint file (``signalops.audit.signing``), with the key;
- the paper ledger: every ``paper_fills`` row is a paper fill that a ``fill`` record in the
  chain states, with the same side, asset, quantity, price and fee, and every such fill has its
  row (a forged row would give the paper broker a position the chain never saw);
- the stored strategy documents: each hashes to the content hash it is stored under, and every
  hash a decision cites is stored (``audit replay`` and ``why`` read them). The pipeline stores
  every strategy it decides with; a log holding none (records appended through the API alone)
  is not asked for them;
- the stored trees (``signalops.audit.trees``, what compact decisions are re-derived from): each
  hashes to its key, each is what compiling the strategy document it names gives (its spans
  aside: they are the file's layout, which the document does not keep), and every tree a
  decision cites is stored (when the log stores strategies at all).

Each check yields ``(kind, seq, id, message)`` for ``verify`` to turn into problems.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signalops.audit.record import FILL, loads_record
from signalops.audit.signing import SigningKey, mac_matches, read_checkpoints
from signalops.canonical import content_hash

if TYPE_CHECKING:
    from signalops.audit.interface import AuditStore

Finding = tuple[str, int | None, str | None, str]

# The ledger columns compared with the fill a record states, in FILL_COLUMNS positions.
_LEDGER_FIELDS = {"side": 5, "asset": 4, "quantity": 6, "price": 7, "fee": 8}


@dataclass
class Witnessed:
    """What the walk over the records collects for the checks that run after it."""

    fills: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    cited: dict[str, tuple[int, str]] = field(default_factory=dict)
    trees: dict[str, tuple[int, str]] = field(default_factory=dict)

    def record(self, seq: int, body: dict[str, Any]) -> None:
        if body.get("kind") == FILL:
            fill = body.get("fill")
            if isinstance(fill, dict) and str(fill.get("venue", "")).startswith("paper"):
                self.fills[str(fill.get("client_order_id"))] = (seq, fill)
            return
        strategy = body.get("strategy")
        if isinstance(strategy, dict) and isinstance(strategy.get("hash"), str):
            self.cited.setdefault(strategy["hash"], (seq, str(strategy.get("name"))))
            if isinstance(strategy.get("tree"), str):
                self.trees.setdefault(strategy["tree"], (seq, str(strategy.get("name"))))


def record_mac(
    key: SigningKey, seal: tuple[int, str, str] | None, seq: int, hash: str | None
) -> str | None:
    """Why a record's MAC does not hold, or None when it does."""
    if seal is None:
        return "no MAC: not appended by a holder of the log's key (a forged append)"
    if seal[1] != key.id:
        return f"its MAC is under key id {seal[1]}, not the log's key {key.id}"
    if hash is None or not mac_matches(key.record_mac(seq, hash), seal[2]):
        return "its MAC does not match: the record was forged or re-sealed after an edit"
    return None


def checkpoints(log: AuditStore, key: SigningKey, path: Path, end: int) -> Iterator[Finding]:
    """Each checkpoint line against the key, then against the record it names."""
    seen = 0
    for number, point in read_checkpoints(path):
        where = f"{path.name} line {number}"
        if point is None:
            yield "CHECKPOINT", None, None, f"{where}: not a checkpoint"
            continue
        if not point.valid_under(key):
            yield "CHECKPOINT", None, None, f"{where}: its MAC does not match the key (forged)"
            continue
        seen += 1
        if point.seq > end:
            yield (
                "TRUNCATED",
                end + 1,
                None,
                f"the log ends at seq {end}, but a checkpoint made at {point.at} signed "
                f"seq {point.seq}: records were cut from the end",
            )
            continue
        held = log.hash_at(point.seq)
        if held is not None and held != point.hash:
            yield (
                "REWRITTEN",
                point.seq,
                None,
                f"a checkpoint made at {point.at} signed hash {point.hash[:12]}… for this "
                f"seq; the log holds {held[:12]}…",
            )
    if not seen and end:
        yield (
            "CHECKPOINT",
            None,
            None,
            f"no valid checkpoint in {path}: a cut at the end of the log could not be seen",
        )


def ledger(log: AuditStore, fills: dict[str, tuple[int, dict[str, Any]]]) -> Iterator[Finding]:
    """The paper ledger's rows against the paper fills the chain states."""
    stated = dict(fills)
    for row in log.paper_fill_rows():
        coid = str(row[1])
        found = stated.pop(coid, None)
        if found is None:
            yield (
                "LEDGER",
                None,
                coid,
                f"ledger row {row[0]} ({row[5]} {row[6]} {row[4]} at {row[7]}) has no fill "
                "record in the chain: a position the log never decided",
            )
            continue
        differs = _differences(row, found[1])
        if differs:
            yield "LEDGER", found[0], coid, f"ledger row {row[0]} differs: {differs}"
    for coid, (seq, fill) in stated.items():
        yield (
            "LEDGER",
            seq,
            coid,
            f"the chain records a paper fill ({fill.get('side')} {fill.get('quantity')} "
            f"{fill.get('asset')}) that the ledger does not hold",
        )


def _differences(row: tuple[Any, ...], fill: dict[str, Any]) -> str:
    wrong = []
    for name, index in _LEDGER_FIELDS.items():
        if not _same(row[index], fill.get(name)):
            wrong.append(f"{name} {row[index]} in the ledger, {fill.get(name)} in the record")
    return "; ".join(wrong)


def _same(left: Any, right: Any) -> bool:
    try:
        return Decimal(str(left)) == Decimal(str(right))
    except (InvalidOperation, ValueError):
        return str(left) == str(right)


def strategies(log: AuditStore, cited: dict[str, tuple[int, str]]) -> Iterator[Finding]:
    """Stored documents against their hashes; cited hashes against what is stored."""
    stored = set()
    for hash, name, document in log.stored_strategies():
        stored.add(hash)
        try:
            actual = content_hash(loads_record(document))
        except ValueError:
            actual = None
        if actual != hash:
            yield (
                "STRATEGY",
                None,
                None,
                f"stored document of {name} ({hash[:19]}…) does not hash to its content "
                "hash: it was edited",
            )
    if not stored:
        return  # records appended through the API alone: the pipeline stores what it cites
    for hash, (seq, name) in cited.items():
        if hash not in stored:
            yield (
                "STRATEGY",
                seq,
                None,
                f"cites strategy {name} {hash[:19]}…, which the log does not store",
            )


def trees(log: AuditStore, cited: dict[str, tuple[int, str]]) -> Iterator[Finding]:
    """Stored trees against their hashes and their strategy documents; cited trees against
    what is stored."""
    stored = set()
    for hash, strategy_hash, text in log.stored_trees():
        stored.add(hash)
        try:
            document = loads_record(text)
            actual = content_hash(document)
        except ValueError:
            document, actual = {}, None
        if actual != hash:
            yield (
                "STRATEGY",
                None,
                None,
                f"stored tree {hash[:19]}… does not hash to its key: it was edited",
            )
            continue
        wrong = tree_against_document(log, hash, strategy_hash, document)
        if wrong:
            yield "STRATEGY", None, None, f"stored tree {hash[:19]}… {wrong}"
    if not stored and not log.stored_strategies():
        return  # records appended through the API alone: the pipeline stores what it cites
    for hash, (seq, name) in cited.items():
        if hash not in stored:
            yield (
                "STRATEGY",
                seq,
                None,
                f"cites the tree {hash[:19]}… of {name}, which the log does not store",
            )


# Trees checked against their documents in this process (compiling costs milliseconds, and a
# dashboard verifies again and again).
_COMPILED: dict[tuple[str, str], str | None] = {}


def tree_against_document(
    log: AuditStore, hash: str, strategy_hash: str, document: dict[str, Any]
) -> str | None:
    """Why the stored tree is not the compile of the document it names (None: it is)."""
    key = (hash, strategy_hash)
    if key in _COMPILED:
        return _COMPILED[key]
    source = log.strategy_document(strategy_hash)
    if source is None:
        found: str | None = f"names strategy {strategy_hash[:19]}…, which the log does not store"
    elif document.get("strategy") != strategy_hash or content_hash(source) != strategy_hash:
        found = "does not belong to the strategy document it names"
    else:
        found = _compare(source, document)
    _COMPILED[key] = found
    return found


def _compare(source: dict[str, Any], document: dict[str, Any]) -> str | None:
    from signalops.adapters import registry
    from signalops.audit.trees import tree_document
    from signalops.canonical import canonical_json
    from signalops.errors import SignalOpsError
    from signalops.strategy import loads

    try:
        compiled = loads(
            canonical_json(source), str(document.get("file") or "<stored>"), registry.catalogue()
        )
    except SignalOpsError:
        # Its document hashes right but does not compile here: a plugin source this process
        # lacks (or a compiler that changed since), not an edit. The tree's hash still holds.
        return None
    if _without_spans(tree_document(compiled)) != _without_spans(document):
        return "is not what its strategy document compiles to: it was forged"
    return None


def _without_spans(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_spans(v) for k, v in value.items() if k != "span"}
    if isinstance(value, list):
        return [_without_spans(v) for v in value]
    return value
