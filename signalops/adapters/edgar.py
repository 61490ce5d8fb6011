"""Point-in-time company fundamentals from SEC EDGAR XBRL company facts.

Live: ``GET https://data.sec.gov/api/xbrl/companyfacts/CIK##########.json`` through the shared
``HttpClient`` with the User-Agent SEC requires (a name and a contact e-mail, from the
constructor or ``SIGNALOPS_SEC_USER_AGENT``), at most 10 requests a second. Tickers become CIKs
through SEC's ``company_tickers.json`` (a bundled copy of early 2026 first, then the live file).

Time: every fact becomes known at the end of its ``filed`` day, US/Eastern (see ``_facts``);
nothing uses the period end. Replay records the raw facts into the snapshot store (source
``fundamental``) and reads them back under the same rule, so a replayed value equals a live one:

- ``edgar/CIK##########``: ``t`` = the end of a filed day (New York), ``v`` = the facts filed that
  day, each the raw companyfacts fact (start?, end, val, accn, fy, fp, form, filed, frame?) plus
  ``taxonomy``, ``concept`` and ``unit``; only the concepts in ``CONCEPTS`` are recorded;
- ``edgar/CIK##########/fetched``: ``t`` = when the document was fetched, ``v`` = entity name and
  fact count (the record is complete up to then, so replay knows how fresh it is);
- ``edgar/ticker/<SYMBOL>``: ``t`` = fetch time, ``v`` = the 10-digit CIK;
- ``splits/<SYMBOL>``: ``t`` = the ex-date (00:00 New York), ``v`` = new shares per old share;
- ``splits/<SYMBOL>/listed``: ``t`` = when a split history was fetched from Yahoo, or, for an
  imported split table that says the symbol never split (``importing.splits``), the end of the
  last day its rows cover (New York; 0 for a header alone), ``v`` = how many splits it lists.
  Written even when it lists none, so that "never split" can be told from "no split history
  recorded" (the bundled ``splits.csv`` and imported tables that list splits write none: their
  ``splits/<SYMBOL>`` points are the record).

Shares and per-share values: filings report shares (and EPS) as they were when filed; the stored
closes (yfinance history, the bundled daily files, ``technical.close``) are split-adjusted, i.e.
divided by every split up to the last one the data knows. Per-share answers are therefore
expressed in those same units, the shares of today's price file, so that a rule may compare
them with the close directly (``technical.close < 0.67 * ncav_per_share``):
``book_value_per_share`` and ``ncav_per_share`` are divided, and ``shares_outstanding``
multiplied, by the ratios of every split after the filing (those after ``as_of``'s day appear in
the detail as ``later_split_factor``). Ratios are computed in shares as they traded at ``as_of``
(a count or EPS filed before a split on or before ``as_of`` converted with its ratio, each EPS
fact by the splits after its own filing before a fiscal Q4 is derived as the year less its
quarters; the adjusted close multiplied by the ratios of later splits), so ``price_to_book`` and
``trailing_pe`` do not depend on the unit, nor do ``market_cap`` (that price x that count) and
``price_to_sales`` (``market_cap`` / revenue of the last twelve months, see ``ttm_revenue``).
A split after ``as_of`` changes the unit of price and per-share value alike and adds no
information a decision could use: their ratio, and so every comparison, is the same.
Without any split history for a company the figures assume it never split; ``data import`` and
``data download`` warn when that is the case (``split_history_warnings``). When its recorded
share counts say it did split (two successive counts of one concept differ by a split-like
factor, ``share_jumps``), its per-share answers in a replay are UNKNOWN (NO_SPLIT_HISTORY)
instead: the stored closes are divided by that split and the filed counts are not, so a P/E or
a market cap would be off by its ratio. The whole record is read, filings after ``as_of`` too:
what is checked is whether the folder's prices and filings are in one unit (the closes are
divided by later splits as well), not what a decision could know; no value comes from it.

Book value (``book_value_per_share``, ``price_to_book``) is the common shareholders': us-
gaap:StockholdersEquity, which holds any preferred stock, less the preferred stock's carrying
amount on the same balance-sheet date (``PREFERRED_CONCEPTS``, as filed by ``as_of`` like every
fact), over the common shares. A company that never reported preferred stock, or last reported
none, has nothing subtracted; one whose last report before that date had some but whose balance
sheet of that date reports none is NOT_REPORTED: its common equity is unknown, not its total (for
four quarters: ``PREFERRED_LAPSE``). ``ncav_per_share`` (Graham's net current asset value)
subtracts the same preferred stock, of the current assets' balance-sheet date, with the
liabilities.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import shlex
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol

import httpx

from signalops.adapters import _facts, hints
from signalops.adapters._facts import EASTERN, Fact, FactBook, FactSet, day_of, fact_of, known_at
from signalops.adapters.base import live_time
from signalops.adapters.http import HttpClient
from signalops.adapters.snapshots import SnapshotStore
from signalops.adapters.technical import series_key
from signalops.canonical import iso
from signalops.codes import Code
from signalops.errors import AdapterError

SOURCE = "fundamental"
USER_AGENT_ENV = "SIGNALOPS_SEC_USER_AGENT"
COMPANYFACTS_URL = "https://data.sec.gov/api/xbrl/companyfacts/CIK{cik}.json"
TICKERS_URL = "https://www.sec.gov/files/company_tickers.json"
SEC_MAX_RATE = 10.0  # requests per second, SEC's fair-access limit
_BUNDLED_TICKERS = Path(__file__).with_name("data") / "company_tickers.json.gz"

GAAP, DEI = "us-gaap", "dei"
# Total revenue, most preferred first: a period two of them report is read from the first
# (``Revenues`` is the total; ``RevenuesNetOfInterestExpense`` a bank's total net revenue; a
# contract-revenue figure can leave out other revenue; ``SalesRevenueNet`` is the name before
# ASC 606 (2018), read for the filings before it).
REVENUE_CONCEPTS = (
    "Revenues",
    "RevenuesNetOfInterestExpense",
    "RevenueFromContractWithCustomerExcludingAssessedTax",
    "SalesRevenueNet",
)


@dataclass(frozen=True, slots=True)
class DebtReading:
    """One way a filer states its debt: a total, plus the first of ``current`` reported for the
    same balance-sheet date when the total is non-current (its name says so) and leaves out the
    part due within a year. ``alone``: whether the total is read when no current part is."""

    total: str
    current: tuple[str, ...] = ()
    alone: bool = True

    @property
    def concepts(self) -> tuple[str, ...]:
        return (self.total, *self.current)

    def describe(self) -> str:
        return self.total if self.alone else f"{self.total} with its current part"


# Debt for debt_to_equity, most preferred first: the closest to long-term debt including current
# maturities (LongTermDebt's meaning) first, lease obligations next, short-term borrowings last.
# A total stated including current maturities is never added to a current part. The lease-inclusive
# non-current total needs its current part: alone it would understate the debt of a filer whose
# current part is tagged elsewhere (Waste Management: DebtCurrent, read through the next total).
DEBT_READINGS = (
    DebtReading("LongTermDebt"),
    DebtReading("LongTermDebtNoncurrent", ("LongTermDebtCurrent",)),
    DebtReading("LongTermDebtAndCapitalLeaseObligationsIncludingCurrentMaturities"),
    DebtReading(
        "LongTermDebtAndCapitalLeaseObligations",
        ("LongTermDebtAndCapitalLeaseObligationsCurrent", "LongTermDebtCurrent"),
        alone=False,
    ),
    DebtReading("DebtAndCapitalLeaseObligations"),
)
# The carrying amount of preferred stock inside StockholdersEquity, most complete first (the
# first not 0 reported for the equity's date is read: a par value of 0 may sit beside the whole
# amount). The ...IncludingAdditionalPaidInCapital... tags are the whole carrying amount
# (JPMorgan's from 2009); PreferredStockValue the par or stated value the balance sheet lists
# (the whole amount at most filers; JPMorgan's of 2008-2009); ...ValueOutstanding the same less
# shares held in treasury (NVIDIA tags 0). PreferredStockLiquidationPreferenceValue is not read:
# it is what the holders would be paid in a liquidation, not an amount the equity holds.
# A balance sheet this long after the last that reported preferred stock, none reported since,
# is taken to hold none: a company that redeemed it may stop tagging the line instead of
# tagging 0, and its book value would stay unknown for ever.
PREFERRED_LAPSE = timedelta(days=360)  # four quarters (a 52-week year is 364 days)
PREFERRED_CONCEPTS = (
    "PreferredStockIncludingAdditionalPaidInCapitalNetOfDiscount",
    "PreferredStockIncludingAdditionalPaidInCapital",
    "PreferredStockValue",
    "PreferredStockValueOutstanding",
)
# The concepts the metrics read (and so the ones a recording keeps).
CONCEPTS = frozenset(
    {
        (GAAP, "StockholdersEquity"),
        *((GAAP, concept) for concept in PREFERRED_CONCEPTS),
        (GAAP, "AssetsCurrent"),
        (GAAP, "Liabilities"),
        (GAAP, "LiabilitiesCurrent"),
        *((GAAP, concept) for reading in DEBT_READINGS for concept in reading.concepts),
        *((GAAP, concept) for concept in REVENUE_CONCEPTS),
        (GAAP, "EarningsPerShareDiluted"),
        (GAAP, "CommonStockSharesOutstanding"),
        (DEI, "EntityCommonStockSharesOutstanding"),
    }
)
# Every metric EDGAR can answer, and the ones only EDGAR answers (yfinance has no field for them).
EDGAR_METRICS = frozenset(
    {
        "book_value_per_share",
        "ncav_per_share",
        "price_to_book",
        "trailing_pe",
        "debt_to_equity",
        "current_ratio",
        "shares_outstanding",
        "market_cap",
        "price_to_sales",
    }
)
EDGAR_ONLY = frozenset({"book_value_per_share", "shares_outstanding"})
# The metrics that read a share count or a per-share value, so need the company's splits (the
# others divide one statement figure by another).
PER_SHARE_METRICS = EDGAR_METRICS - {"debt_to_equity", "current_ratio"}
# The share counts a filing reports: the cover page's and the balance sheet's.
SHARE_CONCEPTS = (
    (DEI, "EntityCommonStockSharesOutstanding"),
    (GAAP, "CommonStockSharesOutstanding"),
)
# A filed share count this many times the one before it, or this fraction of it, reads as a split
# (3-for-2 is 1.5, a 1-for-8 reverse split 0.125): buy-backs and issues move a count by a few
# percent a quarter, and the rare merger that grows it by half is answered by recording the
# split history (a header alone says it never split).
SPLIT_LIKE = 1.45


def _error(message: str, reason: Code) -> AdapterError:
    return AdapterError(message, source=SOURCE, reason=reason)


def _nothing_filed(symbol: str, as_of: float, first: date) -> AdapterError:
    """NO_DATA at a moment before the company's first filing in its facts (a backtest from
    before it listed, or before the CIK it files under existed): it reported nothing yet, which
    no re-import changes."""
    when = iso(datetime.fromtimestamp(as_of, UTC))
    return _error(
        f"no filing of {symbol.upper()} is known at {when}: the first in its company facts was "
        f"filed on {first}",
        Code.NO_DATA,
    )


def cik10(cik: int | str) -> str:
    return f"{int(cik):010d}"


def facts_key(cik: str) -> str:
    return f"edgar/CIK{cik10(cik)}"


def fetched_key(cik: str) -> str:
    return f"{facts_key(cik)}/fetched"


def ticker_key(symbol: str) -> str:
    return f"edgar/ticker/{symbol.upper()}"


def splits_key(symbol: str) -> str:
    return f"splits/{symbol.upper()}"


def splits_listed_key(symbol: str) -> str:
    return f"{splits_key(symbol)}/listed"


def ticker_map(document: Mapping[str, Any]) -> dict[str, str]:
    """SEC's ``company_tickers.json`` ({"0": {cik_str, ticker, title}, ...}) -> {ticker: CIK}."""
    found: dict[str, str] = {}
    for row in document.values():
        if isinstance(row, Mapping) and "ticker" in row and "cik_str" in row:
            found.setdefault(str(row["ticker"]).upper(), cik10(row["cik_str"]))
    return found


@cache
def bundled_tickers() -> Mapping[str, str]:
    """The bundled copy of SEC's ticker map (www.sec.gov/files/company_tickers.json, early 2026)."""
    with gzip.open(_BUNDLED_TICKERS, "rt", encoding="utf-8") as handle:
        return ticker_map(json.load(handle))


# --- the HTTP client --------------------------------------------------------------------------


class EdgarClient:
    """SEC EDGAR over the shared HTTP client: company facts by CIK, CIK by ticker.

    ``user_agent`` (else ``SIGNALOPS_SEC_USER_AGENT``) must name the caller and a contact, e.g.
    ``"Jane Trader jane@example.com"``; SEC refuses anonymous clients, so without one every call
    is NO_USER_AGENT and nothing is sent. Requests are spaced 1/10 s apart (SEC allows 10/s).
    """

    def __init__(
        self,
        user_agent: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        tickers: Mapping[str, str] | None = None,
        retries: int = 3,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.user_agent = (user_agent or os.environ.get(USER_AGENT_ENV, "")).strip()
        self.tickers = {k.upper(): cik10(v) for k, v in (tickers or {}).items()}
        self.http = HttpClient(
            SOURCE,
            transport=transport,
            timeout=timeout,
            retries=retries,
            min_interval=1.0 / SEC_MAX_RATE,
            cache_ttl=0.0,  # the facts feed keeps its own cache, with the fetch time
            headers={"User-Agent": self.user_agent} if self.user_agent else {},
            sleep=sleep,
            clock=clock,
        )
        self._live_tickers: dict[str, str] | None = None

    def _require_user_agent(self) -> None:
        if not self.user_agent:
            raise _error(
                f"SEC EDGAR needs a User-Agent naming you and a contact e-mail: set "
                f"{USER_AGENT_ENV} (or the fundamentals configuration)",
                Code.NO_USER_AGENT,
            )

    def cik(self, symbol: str) -> str:
        """The 10-digit CIK of a ticker: given mapping, bundled copy, then SEC's live file."""
        ticker = symbol.strip().upper()
        found = self.tickers.get(ticker) or bundled_tickers().get(ticker)
        if found is not None:
            return found
        if self._live_tickers is None:
            self._require_user_agent()
            self._live_tickers = ticker_map(self.http.get_json(TICKERS_URL))
        found = self._live_tickers.get(ticker)
        if found is None:
            raise _error(f"SEC lists no company with ticker {ticker}", Code.UNKNOWN_SYMBOL)
        return found

    def companyfacts(self, cik: str) -> dict[str, Any]:
        self._require_user_agent()
        document = self.http.get_json(COMPANYFACTS_URL.format(cik=cik10(cik)))
        if not isinstance(document, dict) or not isinstance(document.get("facts"), dict):
            raise _error(f"companyfacts of CIK {cik10(cik)} has no 'facts'", Code.BAD_RESPONSE)
        return document

    def close(self) -> None:
        self.http.close()


# --- facts: live and replayed ---------------------------------------------------------------


def parse_facts(records: Iterable[Mapping[str, Any]], what: str) -> list[Fact]:
    facts = []
    try:
        # Iterating may fail too: ``raw_records`` walks the document's shape as it goes.
        for record in records:
            if (record.get("taxonomy"), record.get("concept")) in CONCEPTS:
                facts.append(fact_of(record))
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise _error(f"malformed fact in {what}: {exc!r}", Code.BAD_RESPONSE) from None
    return facts


def recording(
    symbol: str, cik: str, document: Mapping[str, Any], fetched: float
) -> Iterator[tuple[str, float, Any]]:
    """Snapshot points for one companyfacts document (see the module docstring for the keys)."""
    by_day: dict[str, list[dict[str, Any]]] = {}
    count = 0
    for record in _facts.raw_records(document):
        if (record["taxonomy"], record["concept"]) in CONCEPTS:
            by_day.setdefault(str(record["filed"]), []).append(record)
            count += 1
    for filed in sorted(by_day):
        rows = sorted(by_day[filed], key=lambda r: json.dumps(r, sort_keys=True))
        yield facts_key(cik), known_at(date.fromisoformat(filed)), rows
    yield fetched_key(cik), fetched, {"entityName": document.get("entityName"), "facts": count}
    yield ticker_key(symbol), fetched, cik10(cik)


Known = tuple[Sequence[Fact], float]  # (facts, the time up to which they are known complete)


class FactsFeed(Protocol):
    name: str

    def facts(self, symbol: str, as_of: float) -> Known:
        """The company's facts (any filed after ``as_of`` are ignored by the reader) and the
        time the set is complete up to (never after ``as_of``)."""
        ...


@dataclass
class _Fetched:
    monotonic: float
    fetched: float
    facts: FactSet


class EdgarFactsFeed:
    """Live company facts, cached for ``cache_ttl`` seconds, optionally recorded."""

    name = "edgar"

    def __init__(
        self,
        client: EdgarClient,
        *,
        record: SnapshotStore | None = None,
        cache_ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client
        self.record = record
        self.cache_ttl = cache_ttl
        self.clock = clock
        self.now = now or (lambda: datetime.now(UTC))
        self._cache: dict[str, _Fetched] = {}

    def facts(self, symbol: str, as_of: float) -> Known:
        cik = self.client.cik(symbol)
        hit = self._cache.get(cik)
        if hit is None or self.clock() - hit.monotonic >= self.cache_ttl:
            document = self.client.companyfacts(cik)
            fetched = self.now().timestamp()
            facts = parse_facts(_facts.raw_records(document), f"companyfacts of CIK {cik}")
            hit = _Fetched(self.clock(), fetched, FactSet(facts))
            self._cache[cik] = hit
            if self.record is not None:
                self.record.append(SOURCE, recording(symbol, cik, document, fetched))
        return hit.facts, live_time(hit.fetched, as_of)


class ReplayFactsFeed:
    """Recorded company facts: only the points dated at or before ``as_of`` are read."""

    name = "edgar-replay"

    def __init__(self, store: SnapshotStore, *, tickers: Mapping[str, str] | None = None) -> None:
        self.store = store
        self.tickers = {k.upper(): cik10(v) for k, v in (tickers or {}).items()}
        # Parsing a company's recorded filings dominated replays (every metric, every decision
        # re-read them): the facts known after the first ``end`` points are parsed once per CIK,
        # and read through one FactSet, whose index every later decision reuses.
        self._known: dict[tuple[str, int], FactSet] = {}
        self._days: dict[tuple[str, int], list[Fact]] = {}  # each recorded point, parsed once

    def cik(self, symbol: str) -> str | None:
        ticker = symbol.strip().upper()
        series = self.store.series(SOURCE, ticker_key(ticker))
        if series is not None and len(series):
            return cik10(series.values[-1])
        return self.tickers.get(ticker)  # replay reads only what was recorded: no live map

    def has(self, symbol: str) -> bool:
        cik = self.cik(symbol)
        return cik is not None and self.store.series(SOURCE, facts_key(cik)) is not None

    def facts(self, symbol: str, as_of: float) -> Known:
        cik = self.cik(symbol)
        series = None if cik is None else self.store.series(SOURCE, facts_key(cik))
        if cik is None or series is None:
            raise _error(
                f"no recorded EDGAR company facts for {symbol.upper()}: "
                + hints.provide(SOURCE, symbol.upper()),
                Code.NO_DATA,
            )
        end = series.end(as_of)
        if end == 0 and len(series):
            first = min(fact.filed for fact in self._day(cik, 0, series.values[0]))
            raise _nothing_filed(symbol, as_of, first)
        known = self._known.get((cik, end))
        if known is None:
            facts: list[Fact] = []
            for i, rows in enumerate(series.values[:end]):
                facts.extend(self._day(cik, i, rows))
            known = self._known[(cik, end)] = FactSet(facts)
        return known, self._complete_until(cik, series.times, as_of)

    def _day(self, cik: str, index: int, rows: Any) -> list[Fact]:
        found = self._days.get((cik, index))
        if found is None:
            if not isinstance(rows, list):
                raise _error(f"recorded facts of CIK {cik} are not a list", Code.BAD_SNAPSHOT)
            found = self._days[(cik, index)] = parse_facts(rows, f"recorded facts of CIK {cik}")
        return found

    def _complete_until(self, cik: str, times: Sequence[float], as_of: float) -> float:
        marks = self.store.series(SOURCE, fetched_key(cik))
        if marks is not None and len(marks) and marks.times[-1] >= as_of:
            return as_of  # a later fetch saw every filing up to as_of
        if marks is not None and len(marks):
            return marks.times[-1]
        # No fetch mark: only the last filing proves how far the record reaches.
        earlier = [t for t in times if t <= as_of]
        return earlier[-1] if earlier else as_of


# --- splits and prices --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Split:
    ex_date: date
    ratio: float  # new shares per old share (4 for AAPL 2020-08-31; 0.125 for a 1:8 reverse)


def splits_from_csv_rows(rows: Iterable[Mapping[str, str]]) -> dict[str, list[Split]]:
    """``ticker,ex_date,ratio_new_per_old`` rows (the shared ``prices/splits.csv``) by ticker."""
    table: dict[str, list[Split]] = {}
    for row in rows:
        split = Split(date.fromisoformat(row["ex_date"]), float(row["ratio_new_per_old"]))
        table.setdefault(row["ticker"].upper(), []).append(split)
    return table


def split_records(table: Mapping[str, Sequence[Split]]) -> Iterator[tuple[str, float, Any]]:
    for ticker, splits in table.items():
        for split in splits:
            t = datetime.combine(split.ex_date, datetime.min.time(), EASTERN).timestamp()
            yield splits_key(ticker), t, split.ratio


def split_listing(
    symbol: str, splits: Sequence[Split], fetched: float
) -> Iterator[tuple[str, float, Any]]:
    """Snapshot points for a split history fetched at ``fetched``: each split, then the mark
    that the history was listed (also when it lists none)."""
    yield from split_records({symbol: splits})
    yield splits_listed_key(symbol), fetched, len(splits)


def stored_splits(store: SnapshotStore, symbol: str) -> list[Split]:
    series = store.series(SOURCE, splits_key(symbol))
    if series is None:
        return []
    return [Split(day_of(t), float(v)) for t, v in zip(series.times, series.values, strict=True)]


def has_split_history(store: SnapshotStore, symbol: str) -> bool:
    """Whether the store records ``symbol``'s splits, or a fetched history listing none."""
    return any(
        store.series(SOURCE, key) is not None
        for key in (splits_key(symbol), splits_listed_key(symbol))
    )


def provide_splits(symbol: str, folder: str | Path | None = None) -> str:
    """The commands that record a split history into ``folder`` (named unless the default)."""
    from signalops.adapters.bundled import DEFAULT_SNAPSHOT_DIR

    named = folder is not None and Path(folder) != DEFAULT_SNAPSHOT_DIR
    to = ["--to", str(folder)] if named else []
    download = ["signalops", "data", "download", "--source", "technical", "--asset", symbol,
                "--venue", "yfinance", "--timeframe", "1d", *to]  # fmt: skip
    imported = ["signalops", "data", "import", "FILE", "--source", "fundamental",
                "--asset", symbol, *to]  # fmt: skip
    return (
        f"record Yahoo's split history with '{_shell(download)}' (it comes with the daily "
        f"candles) or import a ticker,ex_date,ratio_new_per_old file with '{_shell(imported)}' "
        "(the header alone records that it never split)"
    )


def _shell(words: Sequence[str]) -> str:
    return " ".join(w if w == "FILE" else shlex.quote(w) for w in words)


@dataclass(frozen=True, slots=True)
class ShareJump:
    """Two successive filed counts of one share concept that differ by a split-like factor."""

    before: Fact
    after: Fact

    @property
    def ratio(self) -> float:
        return self.after.val / self.before.val

    def describe(self) -> str:
        """``dei:EntityCommonStockSharesOutstanding went from 623,000,000 (10-Q filed
        2021-05-26) to 2,500,000,000 (10-Q filed 2021-08-20), x4.01``."""
        return (
            f"{self.after.taxonomy}:{self.after.concept} went from {self.before.val:,.0f} "
            f"({self.before.form} filed {self.before.filed}) to {self.after.val:,.0f} "
            f"({self.after.form} filed {self.after.filed}), x{self.ratio:,.3g}"
        )


def share_jumps(facts: Iterable[Fact]) -> list[ShareJump]:
    """Successive share counts that differ by ``SPLIT_LIKE`` or more, oldest filing first: each
    concept's counts in the order of their balance-sheet date, then filing (so a comparative
    re-filed in post-split shares follows the count it restates)."""
    counts: dict[tuple[str, str], list[Fact]] = {}
    for fact in facts:
        key = (fact.taxonomy, fact.concept)
        if key in SHARE_CONCEPTS and fact.unit == "shares" and fact.val > 0:
            counts.setdefault(key, []).append(fact)
    found = []
    for series in counts.values():
        series.sort(key=lambda fact: (fact.end, fact.order()))
        for before, after in pairwise(series):
            ratio = after.val / before.val
            if ratio >= SPLIT_LIKE or ratio <= 1 / SPLIT_LIKE:
                found.append(ShareJump(before, after))
    return sorted(found, key=lambda jump: (jump.after.filed, jump.after.concept))


def unrecorded_splits(
    store: SnapshotStore, symbol: str, facts: ReplayFactsFeed | None = None
) -> list[ShareJump]:
    """The split-like jumps in ``symbol``'s recorded share counts when the store records no split
    history for it (none when it does, or holds no facts of it): every filing recorded is read,
    as the stored closes are divided by every split the price data knows."""
    feed = facts or ReplayFactsFeed(store)
    ticker = symbol.strip().upper()
    if not feed.has(ticker) or has_split_history(store, ticker):
        return []
    recorded, _ = feed.facts(ticker, math.inf)
    return share_jumps(recorded)


def no_split_history(
    symbol: str, jumps: Sequence[ShareJump], folder: str | Path | None = None
) -> AdapterError:
    """NO_SPLIT_HISTORY: the share counts say ``symbol`` split and no split history says when."""
    ticker = symbol.strip().upper()
    more = f" (and {len(jumps) - 1:,} more)" if len(jumps) > 1 else ""
    where = "" if folder is None else f" in {folder}"
    return _error(
        f"{ticker} has no split history recorded{where}, but its filed share count says it "
        f"split ({jumps[0].describe()}{more}): its per-share figures would be off by the "
        f"split's ratio; " + provide_splits(ticker, folder),
        Code.NO_SPLIT_HISTORY,
    )


def split_history_warnings(folder: str | Path, symbol: str) -> list[str]:
    """A warning when the snapshot folder holds SEC facts of ``symbol`` but no split history:
    its per-share figures then assume it never split, wrong by the ratio if it did, and are
    UNKNOWN when its share counts say it did."""
    store = SnapshotStore(folder)
    ticker = symbol.strip().upper()
    if not ReplayFactsFeed(store).has(ticker) or has_split_history(store, ticker):
        return []
    jumps = unrecorded_splits(store, ticker)
    if jumps:
        more = f" (and {len(jumps) - 1:,} more)" if len(jumps) > 1 else ""
        return [
            f"{folder} holds SEC EDGAR facts of {ticker} but no split history, and its filed "
            f"share count says it split: {jumps[0].describe()}{more}; its per-share figures "
            f"(book_value_per_share, ncav_per_share, shares_outstanding, price_to_book, "
            f"trailing_pe, market_cap, price_to_sales) are UNKNOWN (NO_SPLIT_HISTORY) until "
            f"the split history is recorded: " + provide_splits(ticker, folder)
        ]
    return [
        f"{folder} holds SEC EDGAR facts of {ticker} but no split history: its per-share "
        f"figures (book_value_per_share, ncav_per_share, shares_outstanding, price_to_book, "
        f"trailing_pe, market_cap, price_to_sales) assume it never split, and are off by the "
        f"split ratio if it did; " + provide_splits(ticker, folder)
    ]


def ratio_between(splits: Iterable[Split], after: date, up_to: date | None) -> float:
    """Product of the ratios of splits with ``after < ex_date <= up_to`` (no bound if None)."""
    factor = 1.0
    for split in splits:
        if split.ex_date > after and (up_to is None or split.ex_date <= up_to):
            factor *= split.ratio
    return factor


@dataclass(frozen=True, slots=True)
class Close:
    time: float  # Unix seconds the close is known (the bar's close)
    adjusted: float  # split-adjusted close, as the price file holds it


class PriceSource(Protocol):
    def close(self, symbol: str, as_of: float) -> Close: ...


class StoreCloses:
    """Daily closes from the technical source's candles in the snapshot store
    (``candles/<exchange>/<SYMBOL>/1d``, value ``[o, h, l, c, volume]``, ``t`` = the close)."""

    def __init__(self, store: SnapshotStore, *, exchange: str = "yfinance") -> None:
        self.store = store
        self.exchange = exchange

    def close(self, symbol: str, as_of: float) -> Close:
        key = series_key(self.exchange, symbol.upper(), 86400)
        series = self.store.series("technical", key)
        point = None if series is None else series.last_at_or_before(as_of)
        if point is None:
            raise _error(
                f"no daily close of {symbol.upper()} at or before as_of ({key}): "
                + hints.provide("technical", symbol.upper(), venue=self.exchange, timeframe="1d"),
                Code.NO_PRICE,
            )
        t, candle = point
        try:
            price = float(candle[3])
        except (TypeError, ValueError, IndexError):
            raise _error(
                f"recorded candle of {symbol.upper()} has no close", Code.BAD_SNAPSHOT
            ) from None
        return Close(t, price)


# --- the metrics --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figure:
    value: float
    time: float  # the data time of the answer
    detail: dict[str, Any]


class PointInTime:
    """The EDGAR metrics of one company at one moment, from the facts known then."""

    def __init__(
        self,
        symbol: str,
        book: FactBook,
        *,
        complete_until: float,
        splits: Sequence[Split] = (),
        currency: str = "USD",
    ) -> None:
        self.symbol = symbol.upper()
        self.book = book
        self.complete_until = complete_until
        self.splits = tuple(splits)
        self.currency = currency
        self.day = day_of(book.as_of)

    # -- building blocks --

    def _missing(self, taxonomy: str, concept: str) -> AdapterError:
        when = iso(datetime.fromtimestamp(self.book.as_of, UTC))
        return _error(
            f"{self.symbol} has reported no {taxonomy}:{concept} in any filing known at {when}",
            Code.NOT_REPORTED,
        )

    def _money_unit(self, taxonomy: str, concept: str, *, ratio_only: bool, per: str = "") -> str:
        """The unit to read ``concept`` in: the price's currency (``per`` appended for
        per-share units such as USD/shares); for a ratio of two statement figures, the one
        currency the filer uses."""
        units = self.book.units(taxonomy, concept)
        if not units:
            raise self._missing(taxonomy, concept)
        wanted = self.currency + per
        if wanted in units:
            return wanted
        if ratio_only and len(units) == 1:
            return next(iter(units))  # both sides of a ratio are in the statement currency
        raise _error(
            f"{self.symbol} reports {concept} in {', '.join(sorted(units))}, not in the price's "
            f"{wanted}; refusing to divide across currencies",
            Code.CURRENCY_MISMATCH,
        )

    def _balance(self, concepts: Sequence[str], *, ratio_only: bool = False) -> list[Fact]:
        """Values of ``concepts`` on the latest balance-sheet date of the first one (the others
        must be reported for that same date: figures of different dates are never mixed)."""
        by_date = []
        for concept in concepts:
            unit = self._money_unit(GAAP, concept, ratio_only=ratio_only)
            by_date.append(self.book.instants(GAAP, concept, unit))
        end = max(by_date[0])
        for concept, values in zip(concepts[1:], by_date[1:], strict=True):
            if end not in values:
                raise _error(
                    f"{self.symbol} reported no {concept} for its balance sheet of {end}",
                    Code.NOT_REPORTED,
                )
        return [values[end] for values in by_date]

    def shares(self) -> tuple[float, dict[str, Any]]:
        """Shares outstanding as they traded at as_of: the latest-dated count of
        dei:EntityCommonStockSharesOutstanding (cover page) or us-gaap:CommonStockSharesOutstanding
        (balance sheet) known at as_of; on an equal date the cover-page count."""
        found = [
            fact
            for taxonomy, concept in SHARE_CONCEPTS
            if (fact := self.book.latest_instant(taxonomy, concept, "shares")) is not None
        ]
        if not found:
            raise _error(
                f"{self.symbol} has reported no share count "
                f"(dei:EntityCommonStockSharesOutstanding or us-gaap:CommonStockSharesOutstanding) "
                f"known at as_of",
                Code.NOT_REPORTED,
            )
        fact = max(found, key=lambda f: f.end)  # stable: the dei count comes first on a tie
        factor = self.split_factor(fact)
        shares = fact.val * factor
        if shares <= 0:
            raise _error(f"share count of {self.symbol} is {shares:g}", Code.BAD_DATA)
        return shares, {"shares": fact.cite(), "split_factor": factor}

    def split_factor(self, fact: Fact) -> float:
        """The ratios of the splits after ``fact`` was filed, up to as_of's day: a count it
        reports is multiplied, a per-share value divided, by them to be in shares as they
        traded at as_of (a filing states both in the shares of its own date)."""
        return ratio_between(self.splits, fact.filed, self.day)

    def later_factor(self) -> float:
        """The ratios of the splits after as_of's day: what the stored close is divided by."""
        return ratio_between(self.splits, self.day, None)

    def price(self, close: Close) -> tuple[float, dict[str, Any]]:
        """The close in shares as they traded at as_of: adjusted close x splits after its day."""
        factor = self.later_factor()
        detail = {"close_time": datetime.fromtimestamp(close.time, UTC).isoformat(),
                  "adjusted_close": close.adjusted, "price_split_factor": factor}  # fmt: skip
        return close.adjusted * factor, detail

    def ttm_eps(self) -> tuple[float, dict[str, Any]]:
        """Diluted EPS over the last four quarters, in shares as they traded at as_of. Each fact
        is divided by the splits between its own filing and as_of before a fiscal Q4 is derived
        from them: a year filed before a split less a comparative re-filed after it would
        otherwise mix two share counts. The detail lists each quarter's ``eps`` (in shares at
        as_of) and its ``facts`` as filed, with their ``split_factor`` (a derived quarter: the
        fiscal year first, less the three quarters after it)."""
        unit = self._money_unit(GAAP, "EarningsPerShareDiluted", ratio_only=False, per="/shares")
        chain = _facts.trailing_four(
            _facts.quarters(self.book.periods(GAAP, "EarningsPerShareDiluted", unit))
        )
        if chain is None:
            raise _error(
                f"{self.symbol}: the last four quarters of diluted EPS are not all filed",
                Code.NO_DATA,
            )
        total = 0.0
        cited = []
        for quarter in chain:
            eps = quarter.value(lambda fact: fact.val / self.split_factor(fact))
            total += eps
            cited.append({"start": quarter.start.isoformat(), "end": quarter.end.isoformat(),
                          "eps": eps, "derived": quarter.derived,
                          "facts": [{**f.cite(), "split_factor": self.split_factor(f)}
                                    for f in quarter.sources]})  # fmt: skip
        return total, {"ttm_quarters": cited}

    def ttm_revenue(self) -> tuple[float, dict[str, Any]]:
        """Revenue over the twelve months to the latest fiscal quarter or year end filed, in the
        price's currency: the last four quarters (a fiscal Q4 derived, as for EPS, as the year
        less its three quarters), or the fiscal year's own figure when it ends as late (or
        later: a filer that tags only years). Each period is read from the first of
        ``REVENUE_CONCEPTS`` that reports it, so a filer that renamed its revenue (ASC 606) is
        read across the change; a Q4 is derived across two names only when no one name gives
        it. The detail lists the ``ttm_periods`` read, each with its ``revenue`` and its
        ``facts`` as filed."""
        reported = [c for c in REVENUE_CONCEPTS if self.book.reported(GAAP, c)]
        if not reported:
            when = iso(datetime.fromtimestamp(self.book.as_of, UTC))
            raise _error(
                f"{self.symbol} has reported no revenue (us-gaap:{', '.join(REVENUE_CONCEPTS)}) "
                f"in any filing known at {when} (company facts recorded before SignalOps read "
                "revenue hold none: import or download them again)",
                Code.NOT_REPORTED,
            )
        merged: dict[tuple[date | None, date], Fact] = {}
        one_name: dict[date, _facts.Quarter] = {}
        for concept in reversed(reported):  # a preferred concept's period replaces another's
            unit = self._money_unit(GAAP, concept, ratio_only=False)
            periods = self.book.periods(GAAP, concept, unit)
            merged.update(periods)
            one_name.update(_facts.quarters(periods))
        chain = _facts.trailing_four({**_facts.quarters(merged), **one_name}) or []
        years = [f for f in merged.values() if f.days in _facts.YEAR_DAYS]
        year = max(years, key=lambda f: f.end, default=None)
        if year is not None and (not chain or year.end >= chain[-1].end):
            assert year.start is not None  # a fiscal year has days, so a start
            chain = [_facts.Quarter(year.start, year.end, (year,))]  # twelve months, as filed
        if not chain:
            raise _error(
                f"{self.symbol}: neither a fiscal year nor the last four quarters of revenue "
                f"are all filed",
                Code.NO_DATA,
            )
        cited = [{"revenue": q.value(), "start": q.start.isoformat(), "end": q.end.isoformat(),
                  "derived": q.derived, "facts": [f.cite() for f in q.sources]}
                 for q in chain]  # fmt: skip
        return sum(q.value() for q in chain), {"ttm_periods": cited}

    def market_cap(self, close: Callable[[], Close]) -> tuple[float, float, dict[str, Any]]:
        """(price x shares, both in shares as they traded at as_of, so no split moves it; the
        close's time; detail)."""
        shares, detail = self.shares()
        seen = close()
        price, more = self.price(seen)
        detail.update(more, price=price, shares_outstanding=shares)
        return price * shares, seen.time, detail

    # -- the metrics --

    def answer(self, metric: str, close: Callable[[], Close]) -> Figure:
        detail: dict[str, Any]
        data_time = min(self.complete_until, self.book.as_of)
        if metric == "shares_outstanding":
            value, detail = self._in_price_units(*self.shares(), per_share=False)
        elif metric == "book_value_per_share" or metric == "price_to_book":
            (equity,) = self._balance(["StockholdersEquity"])
            preferred = self._preferred(
                equity,
                f"its common equity then is unknown (its stockholders' equity of "
                f"{equity.val:,.0f} includes any preferred)",
            )
            shares, detail = self.shares()
            detail["equity"] = equity.cite()
            common = equity.val
            if preferred is not None:
                common -= preferred.val
                detail.update(preferred=preferred.cite(), common_equity=common)
            value = common / shares
            if metric == "price_to_book":
                if common <= 0:  # a negative P/B would pass ``price_to_book < 1``
                    raise _error(
                        f"{self.symbol}'s common equity on {equity.end} is {common:,.0f} "
                        f"{equity.unit}: a price-to-book of a book that is not positive is not a "
                        "valuation",
                        Code.NOT_APPLICABLE,
                    )
                # Both sides in shares as they traded at as_of: the ratio has no unit.
                detail["book_value_per_share"] = value
                seen = close()
                price, more = self.price(seen)
                detail.update(more, price=price)
                data_time = min(data_time, seen.time)
                value = _divide(price, value, self.symbol, "book value per common share")
            else:
                value, detail = self._in_price_units(value, detail, per_share=True)
        elif metric == "ncav_per_share":
            # Graham's net current asset value: what is left for the common shareholders once
            # every liability and the preferred stock are paid out of the current assets.
            assets, liabilities = self._balance(["AssetsCurrent", "Liabilities"])
            preferred = self._preferred(
                assets, "its net current asset value for common shareholders then is unknown"
            )
            shares, detail = self.shares()
            detail.update(current_assets=assets.cite(), liabilities=liabilities.cite())
            net = assets.val - liabilities.val
            if preferred is not None:
                net -= preferred.val
                detail["preferred"] = preferred.cite()
            value, detail = self._in_price_units(net / shares, detail, per_share=True)
        elif metric == "current_ratio":
            assets, current = self._balance(
                ["AssetsCurrent", "LiabilitiesCurrent"], ratio_only=True
            )
            value = _divide(assets.val, current.val, self.symbol, "current liabilities")
            detail = {"current_assets": assets.cite(), "current_liabilities": current.cite()}
        elif metric == "debt_to_equity":
            value, detail = self._debt_to_equity()
        elif metric == "trailing_pe":
            eps, detail = self.ttm_eps()
            if eps <= 0:
                raise _error(
                    f"{self.symbol} earned {eps:g} per share over the last four quarters: "
                    f"a P/E of losses is not a valuation",
                    Code.NOT_APPLICABLE,
                )
            seen = close()
            price, more = self.price(seen)
            detail.update(more, price=price, ttm_eps=eps)
            data_time = min(data_time, seen.time)
            value = price / eps
        elif metric == "market_cap":
            value, seen_time, detail = self.market_cap(close)
            data_time = min(data_time, seen_time)
        elif metric == "price_to_sales":
            revenue, detail = self.ttm_revenue()
            if revenue <= 0:
                raise _error(
                    f"{self.symbol} had revenue of {revenue:g} over the last twelve months: "
                    f"a price-to-sales ratio needs sales",
                    Code.NOT_APPLICABLE,
                )
            cap, seen_time, more = self.market_cap(close)
            detail.update(more, market_cap=cap, ttm_revenue=revenue)
            data_time = min(data_time, seen_time)
            value = cap / revenue
        else:  # pragma: no cover - the adapter routes only EDGAR_METRICS here
            raise _error(f"EDGAR does not answer {metric}", Code.UNKNOWN_METRIC)
        detail.update(symbol=self.symbol, feed="edgar", currency=self.currency)
        return Figure(value, data_time, detail)

    def _in_price_units(
        self, value: float, detail: dict[str, Any], *, per_share: bool
    ) -> tuple[float, dict[str, Any]]:
        """A value in shares as they traded at as_of -> in the units of the stored close, which
        every later split divides: a per-share value is divided by the later splits' ratios, a
        share count multiplied (1 when no split follows as_of)."""
        later = self.later_factor()
        detail["later_split_factor"] = later
        return (value / later if per_share else value * later), detail

    def _preferred(self, equity: Fact, unknown: str) -> Fact | None:
        """The preferred stock on ``equity``'s balance sheet (StockholdersEquity, or the
        current assets NCAV nets it from): the first of ``PREFERRED_CONCEPTS`` reported for its
        balance-sheet date, in its unit, that is not 0; None when that date reports only 0 or,
        reporting none, neither did the last date before it that reported one (or none ever
        did), or that last date is more than ``PREFERRED_LAPSE`` before it (a year of balance
        sheets without the line: redeemed, not left out). Raises NOT_REPORTED when that last
        date's preferred stock was not 0: the date's figure for the common shareholders is then
        unknown (``unknown`` says which)."""
        reported = [self.book.instants(GAAP, c, equity.unit) for c in PREFERRED_CONCEPTS]
        on_date = [found[equity.end] for found in reported if equity.end in found]
        if on_date:
            return next((fact for fact in on_date if fact.val != 0), None)
        before = [fact for found in reported for end, fact in found.items() if end < equity.end]
        if not before:
            return None
        last = max(fact.end for fact in before)
        held = next((f for f in before if f.end == last and f.val != 0), None)
        if held is None or equity.end - last > PREFERRED_LAPSE:
            return None
        raise _error(
            f"{self.symbol} reported preferred stock of {held.val:,.0f} {held.unit} "
            f"(us-gaap:{held.concept}) for its balance sheet of {last} but none for that of "
            f"{equity.end}: {unknown}",
            Code.NOT_REPORTED,
        )

    def _debt_to_equity(self) -> tuple[float, dict[str, Any]]:
        """Debt / StockholdersEquity x 100, on the latest equity date, from the first of
        ``DEBT_READINGS`` reported for that date: us-gaap:LongTermDebt; LongTermDebtNoncurrent
        plus LongTermDebtCurrent (when reported for that date);
        LongTermDebtAndCapitalLeaseObligationsIncludingCurrentMaturities (what JPMorgan tags);
        LongTermDebtAndCapitalLeaseObligations plus its current part, ...Current or else
        LongTermDebtCurrent, both for that date (Tesla's balance sheets of 2015-2016);
        DebtAndCapitalLeaseObligations (all debt, short-term included, and lease obligations:
        the only debt total some filers tag, e.g. Waste Management)."""
        (equity,) = self._balance(["StockholdersEquity"], ratio_only=True)
        unit = equity.unit

        def on_equity_date(concept: str) -> Fact | None:
            return self.book.instants(GAAP, concept, unit).get(equity.end)

        parts: list[Fact] = []
        for reading in DEBT_READINGS:
            if (whole := on_equity_date(reading.total)) is None:
                continue
            found = (on_equity_date(concept) for concept in reading.current)
            current = next((fact for fact in found if fact is not None), None)
            if current is not None:
                parts = [whole, current]
                break
            if reading.alone:
                parts = [whole]
                break
        if not parts:
            raise _error(
                f"{self.symbol} reported none of the debt concepts SignalOps reads (us-gaap:"
                f"{', '.join(r.describe() for r in DEBT_READINGS)}) for its balance sheet of "
                f"{equity.end} (company facts recorded before SignalOps read a concept hold none "
                "of it: import or download them again)",
                Code.NOT_REPORTED,
            )
        total = sum(p.val for p in parts)
        if equity.val <= 0:  # a negative ratio would pass ``debt_to_equity < 150``
            raise _error(
                f"{self.symbol}'s stockholders' equity on {equity.end} is {equity.val:,.0f} "
                f"{equity.unit}: debt to equity has no meaning when the equity is not positive "
                "(its liabilities exceed its assets)",
                Code.NOT_APPLICABLE,
            )
        value = 100.0 * total / equity.val
        return value, {"debt": [p.cite() for p in parts], "equity": equity.cite()}


def _divide(numerator: float, denominator: float, symbol: str, what: str) -> float:
    if denominator == 0:
        raise _error(f"{what} of {symbol} is 0", Code.BAD_DATA)
    return numerator / denominator


def point_in_time(
    symbol: str,
    known: Known,
    as_of: float,
    *,
    splits: Sequence[Split] = (),
    currency: str = "USD",
) -> PointInTime:
    facts, complete_until = known
    recorded = FactSet.of(facts)
    book = recorded.book(as_of)
    if book.empty() and (first := recorded.first_filed()) is not None:
        raise _nothing_filed(symbol, as_of, first)
    return PointInTime(
        symbol,
        book,
        complete_until=complete_until,
        splits=splits,
        currency=currency,
    )


__all__ = [
    "CONCEPTS",
    "EDGAR_METRICS",
    "EDGAR_ONLY",
    "PER_SHARE_METRICS",
    "USER_AGENT_ENV",
    "Close",
    "EdgarClient",
    "EdgarFactsFeed",
    "FactsFeed",
    "Figure",
    "PointInTime",
    "PriceSource",
    "ReplayFactsFeed",
    "ShareJump",
    "Split",
    "StoreCloses",
    "bundled_tickers",
    "has_split_history",
    "no_split_history",
    "point_in_time",
    "provide_splits",
    "recording",
    "share_jumps",
    "split_history_warnings",
    "split_listing",
    "split_records",
    "splits_from_csv_rows",
    "stored_splits",
    "unrecorded_splits",
]
