"""What ``verify`` checks the chain against, besides itself.

The chain proves that records link up; these prove that they are the records that were written
and that the rest of the file agrees with them:

- the record MACs and the checkpoint file (``signalops.audit.signing``), with the key;
- the paper ledger: every ``paper_fills`` row is a paper fill that a ``fill`` record in the
  chain states, with the same side, asset, quantity, price and fee, and every such fill has its
  row (a forged row would give the paper broker a position the chain never saw);
- the paper account (``paper_account``: starting cash, quote): the record that states a paper
  fill (the decision, or the approval that filled it) states the account's cash after it and
  its quote currency (``execution.details.cash_after``/``quote``, as the broker reported them).
  The starting cash, replayed through the chain's paper fills in chain order (the broker's own
  arithmetic, in the order it filled them), must give each stated cash, and the quote must be
  the stated one: the account is derived from the chain, in logs of every version, without a
  record of its own (which would move every later record's seq and hash). Before the first
  stated fill nothing pins it: ``verify`` says so in a note, not a problem;
- the stored strategy documents: each hashes to the content hash it is stored under, and every
  hash a decision cites is stored (``audit replay`` and ``why`` read them). The pipeline stores
  every strategy it decides with; a log holding none (records appended through the API alone)
  is not asked for them;
- the stored trees (``signalops.audit.trees``, what compact decisions are re-derived from): each
  hashes to its key, each is what compiling the strategy document it names gives (its spans
  aside: they are the file's layout, which the document does not keep), and every tree a
  decision cites is stored (when the log stores strategies at all).

Each check yields ``(kind, seq, id, message)`` for ``verify`` to turn into problems.

Memory stays flat in the number of fills: the chain's paper fills come in chain order (from the
walk over the records) and the ledger's rows in ledger order, a page at a time, and each is
paired with the other as soon as both are seen. In a sound log both orders are the same (a fill
and its records commit in one transaction, under the writers' lock), so only the rows or fills
that have no partner wait, and those are problems.

A later check can go on from where one that found nothing wrong ended (``Compared``): the ledger's
rows after the last one it paired, against the fills of the records after the chain point it
read to, the account's cash replayed from where it was. Both are only appended (triggers refuse
edits), so that is the whole comparison again, unless someone went behind the triggers: the
caller asks for it only while no other connection has written the log (``verify``'s
``ledger_from``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Context, Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signalops import numbers
from signalops.audit.record import FILL, loads_record
from signalops.audit.signing import Checkpoint, SigningKey, mac_matches
from signalops.canonical import content_hash

if TYPE_CHECKING:
    from signalops.audit.interface import AuditStore
    from signalops.audit.paper_ledger import PaperLedger, Row

Finding = tuple[str, int | None, str | None, str]

# The ledger columns compared with the fill a record states, in FILL_COLUMNS positions.
_LEDGER_FIELDS = {"side": 5, "asset": 4, "quantity": 6, "price": 7, "fee": 8}
_PAGE = 1_000  # ledger rows per read
# What a record states about a paper fill: (client order id, cash after it, quote).
Stated = tuple[str, Any, Any]


@dataclass
class Witnessed:
    """What the walk over the records collects for the checks that run after it; the paper
    fills go straight to the ledger's check (``LedgerCheck``), which pairs them as they come."""

    ledger: LedgerCheck
    cited: dict[str, tuple[int, str]] = field(default_factory=dict)
    trees: dict[str, tuple[int, str]] = field(default_factory=dict)

    def record(self, seq: int, body: dict[str, Any]) -> None:
        if body.get("kind") == FILL:
            self.ledger.fill_record(seq, body)
            return
        self.ledger.statement(body)
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


def against_log(
    log: AuditStore, point: Checkpoint, end: int, verb: str, note: str = ""
) -> Iterator[Finding]:
    """TRUNCATED when checkpoint ``point`` names a seq past ``end`` (the log's last), REWRITTEN
    when the record at its seq no longer has its hash. ``verb`` says what the checkpoint did
    (it ``signed`` the seq, or only ``names`` it when its MAC could not be checked: ``note``)."""
    aside = f" ({note})" if note else ""
    if point.seq > end:
        yield (
            "TRUNCATED",
            end + 1,
            None,
            f"the log ends at seq {end}, but a checkpoint made at {point.at} {verb} "
            f"seq {point.seq}{aside}: records were cut from the end",
        )
        return
    held = log.hash_at(point.seq)
    if held is not None and held != point.hash:
        yield (
            "REWRITTEN",
            point.seq,
            None,
            f"a checkpoint made at {point.at} {verb} hash {point.hash[:12]}… for this "
            f"seq{aside}; the log holds {held[:12]}…",
        )


def no_checkpoint(path: Path) -> Finding:
    """A signed log with records and no checkpoint in ``path`` (missing, empty, or none valid)."""
    return (
        "CHECKPOINT",
        None,
        None,
        f"no valid checkpoint in {path}: a cut at the end of the log could not be seen",
    )


def paper_fill_of(body: dict[str, Any]) -> dict[str, Any] | None:
    """The paper fill a ``fill`` record states (None: not a paper fill)."""
    fill = body.get("fill")
    if isinstance(fill, dict) and str(fill.get("venue", "")).startswith("paper"):
        return fill
    return None


def stated_account(body: dict[str, Any]) -> Stated | None:
    """What a record says of the paper account after the fill it reports: a decision's
    ``execution`` or an approval's ``outcome``, FILLED on paper, with the broker's details."""
    for name in ("execution", "outcome"):
        result = body.get(name)
        if not isinstance(result, dict) or result.get("status") != "FILLED":
            continue
        fill, details = result.get("fill"), result.get("details")
        if (
            isinstance(fill, dict)
            and isinstance(details, dict)
            and "cash_after" in details
            and str(fill.get("venue", "")).startswith("paper")
        ):
            return str(fill.get("client_order_id")), details["cash_after"], details.get("quote")
    return None


def fill_against_ledger(log: AuditStore, body: dict[str, Any]) -> str | None:
    """Why a ``fill`` record disagrees with the paper ledger's row for its order (``why``'s
    check of one record); None when it agrees, is not a paper fill, or the log keeps no
    ledger."""
    fill = paper_fill_of(body)
    if fill is None:
        return None
    ledger = log.paper_ledger()
    if not ledger.exists():
        return None
    row = ledger.fill_for(str(fill.get("client_order_id")))
    if row is None:
        return "the paper ledger holds no row for this paper fill"
    differs = _differences(row, fill)
    return f"the paper ledger's row {row[0]} for it differs: {differs}" if differs else None


@dataclass(frozen=True)
class Compared:
    """Where a ledger comparison that found nothing wrong ended: the chain's paper fills up to
    seq ``seq`` paired with the ledger's rows up to row ``row`` (None: there was none), the
    account (as ``PaperLedger.account`` read it) replayed to ``cash``; ``covered``: some fill's
    record had stated the account's cash."""

    seq: int
    row: int | None
    cash: Decimal | None
    account: tuple[str, str, str] | None
    covered: bool


class Replay:
    """The paper account's cash replayed through the chain's paper fills in chain order (the
    broker's own sums, see the module doc), against the cash the records stating them say.
    One problem, the first, is enough: the rest follow from it.

    ``since``: go on from where an earlier comparison left the cash."""

    def __init__(
        self,
        account: tuple[str, str, str] | None,
        *,
        present: bool,
        since: Compared | None = None,
    ) -> None:
        self.account = account
        self.start = _number(account[0]) if account is not None else None
        self.cash = since.cash if since is not None else self.start
        self.covered = since.covered if since is not None else False  # some record stated it
        self.done = account is None and not present  # no ledger at all, or a problem found

    def fill(self, fill: dict[str, Any], stated: Stated | None) -> str | None:
        """Why the cash after ``fill`` is not what ``stated`` says (None: it is, or nothing is
        stated, or a problem was found before)."""
        self.cash = _cash_after(self.cash, fill)
        if stated is None:
            return None
        self.covered = True
        if self.done:
            return None
        wrong = self._problem(stated)
        self.done = wrong is not None
        return wrong

    def _problem(self, stated: Stated) -> str | None:
        _, cash_after, quote = stated
        if self.account is None:
            return (
                "the paper ledger has no account row, but the chain states the account's cash "
                f"after this fill ({cash_after} {quote})"
            )
        starting, currency = self.account[0], self.account[1]
        if quote is not None and str(quote) != str(currency):
            return f"the paper account is in {currency}, but the chain states {quote}"
        stated_cash = _number(cash_after)
        if stated_cash is None:
            return None  # not the account's doing: the record's own hash covers what it says
        if self.start is None:
            return (
                f"the paper account's starting cash {starting!r} is not a number; the chain "
                f"states {cash_after} after this fill"
            )
        if self.cash is None or self.cash == stated_cash:
            return None  # None: a fill's value is not a number (the row check names it)
        with localcontext(Context(traps=[])):
            implied = stated_cash - (self.cash - self.start)
        return (
            f"the paper account's starting cash {starting} {currency} does not give the cash "
            f"the chain states after this fill: the chain states {cash_after}, the account "
            f"replays to {self.cash} (the chain's fills start from {implied.normalize():f})"
        )


class LedgerCheck:
    """The paper ledger and account against the chain's paper fills, in one pass over each.

    ``fill`` takes the chain's paper fills in chain order; each brings the ledger's next row,
    and a fill and a row with one client order id are compared when both have come. The
    account's cash is replayed through the chain's fills as they come (see the module doc).

    ``since``: go on from an earlier comparison (``resumed`` says whether it did: not when the
    account differs from the one it read); the caller then gives only the fills after its seq.
    """

    def __init__(self, log: AuditStore, since: Compared | None = None) -> None:
        ledger = log.paper_ledger()
        self.present = ledger.exists()
        self.ledger: PaperLedger | None = ledger if self.present else None
        self.account = ledger.account() if self.present else None
        same = since is not None and self.present and since.account == self.account
        resumed = since if same else None
        self.resumed = resumed is not None
        self.last_row = resumed.row if resumed is not None else None  # the last row read
        self.rows = _rows(ledger, self.last_row) if self.present else iter(())
        self.waiting_rows: dict[str, Row] = {}
        self.waiting_fills: dict[str, tuple[int, dict[str, Any]]] = {}
        self.findings: list[Finding] = []
        self.stated: Stated | None = None  # the last record's statement, for its fill record
        self.replay = Replay(self.account, present=self.present, since=resumed)
        self.account_problem: int | None = None  # its place in ``findings``
        self.sound: bool | None = None  # after ``finish``: whether it found nothing

    def statement(self, body: dict[str, Any]) -> None:
        """A record that may state a paper fill (its fill record comes next)."""
        stated = stated_account(body)
        if stated is not None:
            self.stated = stated

    def fill_record(self, seq: int, body: dict[str, Any]) -> None:
        fill = paper_fill_of(body)
        if fill is not None:
            stated = self.stated
            coid = str(fill.get("client_order_id"))
            self.fill(seq, fill, stated if stated is not None and stated[0] == coid else None)

    def fill(self, seq: int, fill: dict[str, Any], stated: Stated | None) -> None:
        """A paper fill of the chain, in chain order, with what its record stated."""
        coid = str(fill.get("client_order_id"))
        if stated is not None:
            self.stated = None
        wrong = self.replay.fill(fill, stated)
        if wrong is not None:
            self.account_problem = len(self.findings)
            self.findings.append(("LEDGER", seq, coid, wrong))
        row = next(self.rows, None)
        if row is not None:
            self._row(row)
        waiting = self.waiting_rows.pop(coid, None)
        if waiting is not None:
            self._compare(waiting, seq, coid, fill)
        else:
            self.waiting_fills[coid] = (seq, fill)

    def _row(self, row: Row) -> None:
        self.last_row = row[0]  # rows come in ledger order
        coid = str(row[1])
        found = self.waiting_fills.pop(coid, None)
        if found is None:
            self.waiting_rows[coid] = row
        else:
            self._compare(row, found[0], coid, found[1])

    def _compare(self, row: Row, seq: int, coid: str, fill: dict[str, Any]) -> None:
        differs = _differences(row, fill)
        if differs:
            self.findings.append(("LEDGER", seq, coid, f"ledger row {row[0]} differs: {differs}"))

    def restate(self, finding: Finding) -> None:
        """The account's problem, as the first record that disagrees says it (``verify`` checks
        the last statement before a point, then looks for the first when it disagrees)."""
        if self.account_problem is not None:
            self.findings[self.account_problem] = finding

    def finish(self) -> list[Finding]:
        """The rest of the ledger's rows, then every row and fill that found no partner."""
        for row in self.rows:
            self._row(row)
        found = [*self.findings, *self._unpaired()]
        self.sound = not found
        return found

    def compared(self, seq: int) -> Compared | None:
        """Where this comparison ended, having paired the fills up to ``seq``; None unless it
        ran to the end (``finish``) and found nothing."""
        if not self.sound:
            return None
        replay = self.replay
        return Compared(seq, self.last_row, replay.cash, self.account, replay.covered)

    def _unpaired(self) -> Iterator[Finding]:
        for coid, row in self.waiting_rows.items():
            yield (
                "LEDGER",
                None,
                coid,
                f"ledger row {row[0]} ({row[5]} {row[6]} {row[4]} at {row[7]}) has no fill "
                "record in the chain: a position the log never decided",
            )
        for coid, (seq, fill) in self.waiting_fills.items():
            # A second fill record of an order already paired (never written by the pipeline,
            # whose follow-up ids are unique) is compared with the row, as the first was.
            held = self.ledger.fill_for(coid) if self.ledger is not None else None
            if held is not None:
                differs = _differences(held, fill)
                if differs:
                    yield "LEDGER", seq, coid, f"ledger row {held[0]} differs: {differs}"
                continue
            yield (
                "LEDGER",
                seq,
                coid,
                f"the chain records a paper fill ({fill.get('side')} {fill.get('quantity')} "
                f"{fill.get('asset')}) that the ledger does not hold",
            )

    def note(self) -> str | None:
        """What the check could not cover (a note, not a problem)."""
        if self.account is None or self.replay.covered:
            return None
        # Read by people, so money as the CLI shows it (a problem above keeps the stored text
        # exactly: it is evidence); the quote is added here so that text stored where a number
        # belongs is still shown with it.
        cash = f"{numbers.money(self.account[0])} {self.account[1]}"
        return (
            f"the paper account (starting cash {cash}) is not covered by the chain yet: no "
            "record in the log states its cash after a fill"
        )


def _rows(ledger: PaperLedger, last: int | None = None) -> Iterator[Row]:
    """The ledger's rows after row ``last`` in ledger order, a page at a time (None: from the
    first, whatever its seq: a row forged with seq 0 or below is a row too)."""
    while True:
        page = ledger.fills_after(last, _PAGE)
        yield from page
        if len(page) < _PAGE:
            return
        last = page[-1][0]


def _number(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _cash_after(cash: Decimal | None, fill: dict[str, Any]) -> Decimal | None:
    """``cash`` after ``fill``, as ``signalops.execution.paper._Book.apply`` counts it (the
    same operations in the same order, in the default context, so the same digits); None once
    a value is not a number."""
    quantity, price, fee = (_number(fill.get(name)) for name in ("quantity", "price", "fee"))
    if cash is None or quantity is None or price is None or fee is None:
        return None
    try:
        with localcontext(Context()):
            notional = quantity * price
            if fill.get("side") == "BUY":
                return cash - (notional + fee)
            return cash + (notional - fee)
    except ArithmeticError:
        return None


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
