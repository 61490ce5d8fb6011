"""Point-in-time reading of SEC XBRL company facts (the ``companyfacts`` API shape).

The rule: a fact becomes known at the **end of its ``filed`` day, US/Eastern** (midnight that
ends the day in New York, DST included), never at its period end. EDGAR timestamps acceptance
to the second, but companyfacts keeps only the date, and a filing accepted at 17:30 must not be
visible to a decision at 16:00 the same day; end of day is the earliest moment that is safe for
every filing of that date.

For one concept, unit and period (``start``/``end``), the value known at ``as_of`` is the one
from the latest filing known by then (ties on the same day broken by accession number, then
value, so the answer never depends on the order the facts came in). A restatement (a 10-K/A,
or a later 10-K re-presenting a comparative) therefore replaces a value only from its own
filed date. For "the current balance sheet" the latest period ``end`` known by ``as_of`` wins
(``fy``/``fp``/``frame`` describe the filing, not the period, and are never used).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any, overload
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")


def known_at(filed: date) -> float:
    """Unix seconds at which a fact filed on ``filed`` becomes known: the end of that day in
    New York (the midnight that starts the next day there)."""
    return datetime.combine(filed + timedelta(days=1), time(0), EASTERN).timestamp()


def day_of(epoch: float) -> date:
    """The New York calendar date of a moment."""
    return datetime.fromtimestamp(epoch, UTC).astimezone(EASTERN).date()


@dataclass(frozen=True, slots=True)
class Fact:
    """One reported value: which concept, which period, which filing."""

    taxonomy: str
    concept: str
    unit: str
    start: date | None  # None for an instant (balance-sheet) fact
    end: date
    val: float
    accn: str
    form: str
    filed: date

    @property
    def known_at(self) -> float:
        return known_at(self.filed)

    @property
    def days(self) -> int:
        """Length of a duration fact in days (0 for an instant)."""
        return 0 if self.start is None else (self.end - self.start).days + 1

    def order(self) -> tuple[date, str, float]:
        """Which of two reports of the same period wins: the later filing (then a stable tie)."""
        return (self.filed, self.accn, self.val)

    def cite(self) -> dict[str, Any]:
        """What a trace shows of the fact: enough to find it in the filing."""
        cited: dict[str, Any] = {
            "concept": f"{self.taxonomy}:{self.concept}",
            "val": self.val,
            "end": self.end.isoformat(),
            "accn": self.accn,
            "form": self.form,
            "filed": self.filed.isoformat(),
        }
        if self.start is not None:
            cited["start"] = self.start.isoformat()
        return cited


def raw_records(document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every fact of a companyfacts document as one flat dict: the raw fields (start?, end, val,
    accn, fy, fp, form, filed, frame?) plus taxonomy, concept and unit."""
    for taxonomy, concepts in (document.get("facts") or {}).items():
        for concept, body in concepts.items():
            for unit, facts in (body.get("units") or {}).items():
                for raw in facts:
                    yield {"taxonomy": taxonomy, "concept": concept, "unit": unit, **raw}


def fact_of(record: Mapping[str, Any]) -> Fact:
    """A flat record -> Fact; raises KeyError/ValueError/TypeError on a malformed one."""
    start = record.get("start")
    val = record["val"]
    if isinstance(val, bool) or not isinstance(val, int | float):
        raise TypeError(f"val is {val!r}")
    try:
        number = float(val)
    except OverflowError:  # an int of more digits than any float: no figure of a filing
        raise ValueError("val is beyond the range of a float") from None
    return Fact(
        taxonomy=str(record["taxonomy"]),
        concept=str(record["concept"]),
        unit=str(record["unit"]),
        start=None if start is None else date.fromisoformat(start),
        end=date.fromisoformat(record["end"]),
        val=number,
        accn=str(record["accn"]),
        form=str(record.get("form", "")),
        filed=date.fromisoformat(record["filed"]),
    )


class FactSet(Sequence[Fact]):
    """A company's facts, prepared once for reading at many moments (a backtest asks at every
    decision): each fact's known-at time is computed once, and the facts known at a moment are
    indexed once per set of filings, shared by every moment that knows the same filings."""

    def __init__(self, facts: Iterable[Fact]) -> None:
        self._facts = tuple(facts)
        times = [fact.known_at for fact in self._facts]
        self._times = sorted(times)
        self._known = times
        self._tables: dict[int, _Table] = {}

    @classmethod
    def of(cls, facts: Iterable[Fact]) -> FactSet:
        return facts if isinstance(facts, FactSet) else cls(facts)

    @overload
    def __getitem__(self, index: int) -> Fact: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Fact]: ...
    def __getitem__(self, index: int | slice) -> Fact | Sequence[Fact]:
        return self._facts[index]

    def __len__(self) -> int:
        return len(self._facts)

    def first_filed(self) -> date | None:
        """The day of the earliest filing in the set; None for an empty set."""
        return min((fact.filed for fact in self._facts), default=None)

    def book(self, as_of: float) -> FactBook:
        """The facts known at ``as_of``: those whose known-at time is at or before it."""
        # The count of known facts names the set: known-at times only grow past as_of.
        count = bisect_right(self._times, as_of)
        table = self._tables.get(count)
        if table is None:
            known = (f for f, t in zip(self._facts, self._known, strict=True) if t <= as_of)
            table = self._tables[count] = _Table(known)
        return FactBook.sharing(table, as_of)


class _Table:
    """Known facts by concept, in the order given, with the per-period answers memoised (the
    same answers for every moment that knows the same facts)."""

    def __init__(self, facts: Iterable[Fact]) -> None:
        self.by_concept: dict[tuple[str, str], list[Fact]] = {}
        for fact in facts:
            self.by_concept.setdefault((fact.taxonomy, fact.concept), []).append(fact)
        self.periods: dict[tuple[str, str, str], dict[tuple[date | None, date], Fact]] = {}
        self.instants: dict[tuple[str, str, str], dict[date, Fact]] = {}
        self.units: dict[tuple[str, str], frozenset[str]] = {}


class FactBook:
    """The facts of one company known at one moment (everything filed later is left out).

    The mappings it returns may be shared with other books of the same filings: read them only.
    """

    def __init__(self, facts: Iterable[Fact], as_of: float) -> None:
        self.as_of = as_of
        self._table = _Table(fact for fact in facts if fact.known_at <= as_of)

    @classmethod
    def sharing(cls, table: _Table, as_of: float) -> FactBook:
        book = cls.__new__(cls)
        book.as_of = as_of
        book._table = table
        return book

    def reported(self, taxonomy: str, concept: str) -> bool:
        return (taxonomy, concept) in self._table.by_concept

    def empty(self) -> bool:
        """Whether no fact at all is known (a moment before the company's first filing)."""
        return not self._table.by_concept

    def units(self, taxonomy: str, concept: str) -> frozenset[str]:
        key = (taxonomy, concept)
        found = self._table.units.get(key)
        if found is None:
            found = self._table.units[key] = frozenset(
                f.unit for f in self._table.by_concept.get(key, ())
            )
        return found

    def facts(self, taxonomy: str, concept: str, unit: str) -> list[Fact]:
        return [f for f in self._table.by_concept.get((taxonomy, concept), ()) if f.unit == unit]

    def periods(
        self, taxonomy: str, concept: str, unit: str
    ) -> Mapping[tuple[date | None, date], Fact]:
        """Each reported period -> its value as known now (the latest filing's)."""
        key = (taxonomy, concept, unit)
        latest = self._table.periods.get(key)
        if latest is None:
            latest = self._table.periods[key] = {}
            for fact in self.facts(taxonomy, concept, unit):
                period = (fact.start, fact.end)
                held = latest.get(period)
                if held is None or fact.order() > held.order():
                    latest[period] = fact
        return latest

    def value_at(
        self, taxonomy: str, concept: str, unit: str, end: date, start: date | None = None
    ) -> Fact | None:
        """The value of one period as known now."""
        return self.periods(taxonomy, concept, unit).get((start, end))

    def instants(self, taxonomy: str, concept: str, unit: str) -> Mapping[date, Fact]:
        """Balance-sheet values by date, each as known now."""
        key = (taxonomy, concept, unit)
        found = self._table.instants.get(key)
        if found is None:
            found = self._table.instants[key] = {
                end: fact
                for (start, end), fact in self.periods(taxonomy, concept, unit).items()
                if start is None
            }
        return found

    def latest_instant(self, taxonomy: str, concept: str, unit: str) -> Fact | None:
        found = self.instants(taxonomy, concept, unit)
        return found[max(found)] if found else None


@dataclass(frozen=True, slots=True)
class Quarter:
    """A fiscal quarter's duration value: reported (one fact), or derived (Q4 = FY - Q1 - Q2 - Q3)
    from the fiscal year's fact and the three reported quarters' facts, in that order."""

    start: date
    end: date
    sources: tuple[Fact, ...]

    @property
    def derived(self) -> bool:
        return len(self.sources) > 1

    def value(self, unit: Callable[[Fact], float] = lambda fact: fact.val) -> float:
        """The quarter's value, each source fact first put into one unit by ``unit`` (by default
        the value as filed). A derived quarter's facts may come from filings in different units
        (per-share values filed before and after a split); a difference means something only
        in one."""
        first, *less = (unit(fact) for fact in self.sources)
        return first - sum(less)


QUARTER_DAYS = range(80, 101)
YEAR_DAYS = range(350, 381)


def quarters(periods: Mapping[tuple[date | None, date], Fact]) -> dict[date, Quarter]:
    """Quarters by period end: the reported ones, plus each fiscal Q4 derived from a fiscal year
    minus the three reported quarters inside it when no filing reports Q4 alone (its value is
    computed only when read, ``Quarter.value``, in the unit the reader puts each fact in)."""
    found: dict[date, Quarter] = {}
    years: list[Fact] = []
    for (start, end), fact in sorted(periods.items(), key=lambda item: item[0][1]):
        if start is None:
            continue
        if fact.days in QUARTER_DAYS:
            found[end] = Quarter(start, end, (fact,))
        elif fact.days in YEAR_DAYS:
            years.append(fact)
    for year in years:
        if year.start is None or year.end in found:
            continue
        inside = sorted(
            (q for q in found.values() if q.start >= year.start and q.end < year.end),
            key=lambda q: q.end,
        )
        if len(inside) != 3 or not _consecutive([*inside]) or inside[0].start != year.start:
            continue
        q4_start = inside[-1].end + timedelta(days=1)
        if (year.end - q4_start).days + 1 not in QUARTER_DAYS:
            continue
        found[year.end] = Quarter(q4_start, year.end, (year, *(q.sources[0] for q in inside)))
    return found


def _consecutive(chain: list[Quarter]) -> bool:
    return all(b.start - a.end == timedelta(days=1) for a, b in pairwise(chain))


def trailing_four(by_end: Mapping[date, Quarter]) -> list[Quarter] | None:
    """The four consecutive quarters ending at the latest quarter end, oldest first; None when
    the latest quarter is not preceded by three adjacent ones."""
    if not by_end:
        return None
    chain = [by_end[max(by_end)]]
    while len(chain) < 4:
        previous = by_end.get(chain[0].start - timedelta(days=1))
        if previous is None:
            return None
        chain.insert(0, previous)
    return chain
