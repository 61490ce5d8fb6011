"""The facts index a replay reads through (``FactSet``) answers exactly what a point-in-time view
built from every fact (``FactBook``) answers, at every moment: it only stops rebuilding it."""

from __future__ import annotations

from datetime import timedelta

from test_edgar import AAPL, JPM, MSFT, close_of, document

from signalops.adapters import _facts, edgar


def answers(book: _facts.FactBook) -> dict[tuple[str, str], object]:
    found: dict[tuple[str, str], object] = {}
    for taxonomy, concept in sorted(edgar.CONCEPTS):
        units = book.units(taxonomy, concept)
        found[(taxonomy, concept)] = (
            sorted(units),
            {unit: dict(book.periods(taxonomy, concept, unit)) for unit in sorted(units)},
            {unit: dict(book.instants(taxonomy, concept, unit)) for unit in sorted(units)},
            {unit: book.latest_instant(taxonomy, concept, unit) for unit in sorted(units)},
        )
    return found


def test_the_index_answers_as_a_view_of_every_fact_at_each_filing_day_and_between():
    for cik in (AAPL, MSFT, JPM):
        facts = edgar.parse_facts(_facts.raw_records(document(cik)), cik)
        indexed = _facts.FactSet(facts)
        filed = sorted({f.filed for f in facts})
        # The day before, the day of (known only at its end) and the day after each filing day.
        moments = sorted(
            {
                (close_of(day.isoformat()) + timedelta(days=shift)).timestamp()
                for day in filed[::5]
                for shift in (-1, 0, 1)
            }
        )
        for moment in moments:
            assert answers(indexed.book(moment)) == answers(_facts.FactBook(facts, moment)), (
                cik,
                moment,
            )


def test_the_index_is_the_facts_in_their_order_and_reuses_one_view_per_filing_set():
    facts = edgar.parse_facts(_facts.raw_records(document(MSFT)), "MSFT")
    indexed = _facts.FactSet(facts)
    assert list(indexed) == facts and len(indexed) == len(facts)
    assert _facts.FactSet.of(indexed) is indexed
    monday, tuesday = close_of("2023-07-24").timestamp(), close_of("2023-07-25").timestamp()
    a, b = indexed.book(monday), indexed.book(tuesday)  # no MSFT filing between them
    assert a.periods("us-gaap", "StockholdersEquity", "USD") is b.periods(
        "us-gaap", "StockholdersEquity", "USD"
    )
    assert (a.as_of, b.as_of) == (monday, tuesday)
