"""Every ``decisions`` filter, alone and combined, answers what a walk of the records answers,
through one index range per verdict in the order of the answer (no scan, no sort of what
matched), on logs written by this version (compact), on logs in the layout before compact
records (legacy), and on legacy logs written before their composite indexes existed.

The log is ``bench/bench_queries.py``'s: real decision records cloned over 6 strategies (two
versions of each, so two content hashes per name), 20 assets and four verdicts, with fills and
approvals following the trades.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from legacy import legacy_log

from bench.bench_queries import OLD_INDEXES, OLD_VERDICT_INDEX, records, remember_strategies
from signalops.audit import queries
from signalops.audit.store import AuditLog, sortable_time
from signalops.audit.verify import verify

N = 3000
DAY = date(2021, 1, 2)
MOMENT = datetime(2021, 1, 2, 7, 30, tzinfo=UTC)


@pytest.fixture(scope="module", params=["compact", "legacy"])
def written(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    path = tmp_path_factory.mktemp("queries") / "audit.db"
    if request.param == "legacy":
        legacy_log(path)
    with AuditLog(path) as log:
        assert log.compact == (request.param == "compact")
        log.append_many(records(N))
    remember_strategies(path)
    return path


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = legacy_log(tmp_path_factory.mktemp("legacy") / "audit.db")
    with AuditLog(path) as log:
        log.append_many(records(N))
    remember_strategies(path)
    return path


@pytest.fixture(scope="module")
def log(written: Path) -> AuditLog:
    return AuditLog.open_readonly(written)


@pytest.fixture(scope="module")
def everything(log: AuditLog) -> list[dict[str, Any]]:
    return list(log.records())


def a_hash(everything: list[dict[str, Any]], name: str, version: int) -> str:
    hashes = sorted({r["strategy"]["hash"] for r in everything if _named(r, name)})
    return hashes[version - 1]


def _named(record: dict[str, Any], name: str) -> bool:
    return record["kind"] == "decision" and record["strategy"]["name"] == name


def walked(everything: list[dict[str, Any]], limit: int | None = 50, **filters: Any) -> list[str]:
    """What ``decisions(**filters)`` must answer, by looking at every record."""
    since, until = filters.pop("since", None), filters.pop("until", None)
    found = []
    for record in everything:
        if record["kind"] != "decision":
            continue
        strategy = filters.get("strategy")
        if strategy is not None and strategy not in (
            record["strategy"]["name"],
            record["strategy"]["hash"],
        ):
            continue
        if any(record[key] != filters[key] for key in ("asset", "verdict") if key in filters):
            continue
        at = sortable_time(record["as_of"])
        assert at is not None
        if since is not None and at < _bound(since):
            continue
        if until is not None and not _before(at, until):
            continue
        found.append((at, record["seq"], record["id"]))
    found.sort(reverse=True)
    return [ident for _, _, ident in found[:limit]]


def _bound(when: date | datetime) -> str:
    if not isinstance(when, datetime):
        when = datetime(when.year, when.month, when.day, tzinfo=UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _before(at: str, until: date | datetime) -> bool:
    if isinstance(until, datetime):
        return at <= _bound(until)
    return at < _bound(date.fromordinal(until.toordinal() + 1))


FILTERS: dict[str, Callable[[list[dict[str, Any]]], dict[str, Any]]] = {
    "none": lambda e: {},
    "asset": lambda e: {"asset": "BTC"},
    "strategy": lambda e: {"strategy": "Event_Filter"},
    "strategy hash": lambda e: {"strategy": a_hash(e, "Event_Filter", 1)},
    "verdict": lambda e: {"verdict": "BLOCKED"},
    "since and until a day": lambda e: {"since": DAY, "until": DAY},
    "until a time": lambda e: {"until": MOMENT},
    "asset and verdict": lambda e: {"asset": "ETH", "verdict": "SELL"},
    "asset, verdict, since": lambda e: {"asset": "BTC", "verdict": "BUY", "since": DAY},
    "strategy and verdict": lambda e: {"strategy": "Value_Screen", "verdict": "BUY"},
    "asset and strategy": lambda e: {"asset": "SOL", "strategy": "Banking_Crisis_Dip"},
    "asset and strategy until a time": lambda e: {
        "asset": "SOL",
        "strategy": "Banking_Crisis_Dip",
        "until": MOMENT,
    },
    "asset, strategy, verdict": lambda e: {
        "asset": "BTC",
        "strategy": "Banking_Crisis_Dip",
        "verdict": "HOLD",
    },
    "asset and strategy hash": lambda e: {
        "asset": "BTC",
        "strategy": a_hash(e, "Banking_Crisis_Dip", 2),
    },
    "strategy hash and verdict": lambda e: {
        "strategy": a_hash(e, "Value_Screen", 2),
        "verdict": "HOLD",
    },
    "a retired strategy's sells": lambda e: {"strategy": "Retired_Screen", "verdict": "SELL"},
    "nothing matches": lambda e: {"asset": "BTC", "strategy": "News_Risk_Off"},
}


@pytest.mark.parametrize("limit", [1, 50, None])
@pytest.mark.parametrize("name", sorted(FILTERS))
def test_each_decisions_filter_answers_what_a_walk_of_the_records_answers(
    log: AuditLog, everything: list[dict[str, Any]], name: str, limit: int | None
) -> None:
    filters = FILTERS[name](everything)
    got = [r["id"] for r in log.decisions(limit=limit, **filters)]
    assert got == walked(everything, limit, **dict(filters))
    if name != "nothing matches" and limit is None:
        assert got  # the log has some of each


def plans(log: AuditLog, action: Callable[[], Any]) -> list[str]:
    issued: list[tuple[str, Any]] = []
    with log.db.tracer(lambda sql, params: issued.append((sql, params))):
        action()
    shown = []
    for sql, params in issued:
        if sql.lstrip().upper().startswith("SELECT") and "FROM records" in sql:
            rows = log.conn.execute("EXPLAIN QUERY PLAN " + sql, params or []).fetchall()
            shown.append(" | ".join(row[-1] for row in rows))
    return shown


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_each_decisions_filter_is_an_index_range_in_the_order_of_the_answer(
    log: AuditLog, everything: list[dict[str, Any]], name: str
) -> None:
    filters = FILTERS[name](everything)
    (plan,) = plans(log, lambda: log.decisions(limit=50, **filters))
    assert "USING INDEX" in plan
    assert "SCAN records" not in plan
    assert "TEMP B-TREE" not in plan


@pytest.mark.parametrize(
    ("with_asset", "index"),
    [
        (False, "records_context_verdict_as_of (context=? AND verdict=?)"),
        (True, "records_asset_context_verdict_as_of (asset=? AND context=? AND verdict=?)"),
    ],
)
def test_a_content_hash_merges_one_range_per_context_citing_it(
    tmp_path_factory: pytest.TempPathFactory, with_asset: bool, index: str
) -> None:
    path = tmp_path_factory.mktemp("contexts") / "audit.db"
    with AuditLog(path) as log:
        log.append_many(records(N))
        everything = list(log.records())
    wanted = a_hash(everything, "Event_Filter", 1)  # the old version: the newer come first
    with AuditLog.open_readonly(path) as log:
        filters = {"strategy": wanted, **({"asset": "BTC"} if with_asset else {})}
        (plan,) = plans(log, lambda: log.decisions(limit=50, **filters))
        arms = sum(4 if verdict is None else 1 for _, verdict in log.layout.contexts_citing(wanted))
    # Its plain context's four verdicts and each outcome context's one, never the name's ranges.
    assert plan.count("SEARCH records") == plan.count(index) == arms > 4
    assert "strategy=?" not in plan


def test_asset_and_strategy_merge_one_range_per_verdict(log: AuditLog) -> None:
    # Every filter without a verdict does this in a compact log; in a legacy one only this.
    (plan,) = plans(log, lambda: log.decision_at("BTC", DAY, strategy="Event_Filter"))
    assert plan.count("MERGE (UNION ALL)") == 3
    assert plan.count("records_asset_strategy_verdict_as_of (asset=? AND strategy=?") == 4


def test_a_hash_no_stored_strategy_has_is_still_found_by_the_hash_alone(
    written: Path, tmp_path: Path, everything: list[dict[str, Any]]
) -> None:
    copy = tmp_path / "no_strategies.db"
    shutil.copy(written, copy)
    conn = sqlite3.connect(copy)
    conn.execute("DROP TRIGGER strategies_no_delete")
    conn.execute("DELETE FROM strategies")
    conn.commit()
    conn.close()
    wanted = a_hash(everything, "Event_Filter", 2)
    with AuditLog.open_readonly(copy) as old:
        got = [r["id"] for r in old.decisions(strategy=wanted, limit=None)]
    assert got == walked(everything, None, strategy=wanted) != []


def old_log(written: Path, tmp_path: Path) -> Path:
    """A copy of a legacy log with only the indexes a log written before the composite ones
    has."""
    copy = tmp_path / "old.db"
    shutil.copy(written, copy)
    conn = sqlite3.connect(copy)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")]
    for name in names:
        if name.startswith("records_") and name not in OLD_INDEXES:
            conn.execute(f"DROP INDEX {name}")
    conn.execute(OLD_VERDICT_INDEX)
    conn.commit()
    conn.close()
    return copy


def index_names(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    finally:
        conn.close()
    return {row[0] for row in rows if row[0].startswith("records_")}


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_a_log_written_before_the_composite_indexes_reads_the_same_read_only(
    legacy: Path, tmp_path: Path, everything: list[dict[str, Any]], name: str
) -> None:
    path = old_log(legacy, tmp_path)
    filters = FILTERS[name](everything)
    with AuditLog.open_readonly(path) as old:
        got = [r["id"] for r in old.decisions(limit=50, **filters)]
    assert got == walked(everything, 50, **dict(filters))
    assert index_names(path) == OLD_INDEXES  # looking never writes


def test_a_write_open_of_an_old_log_adds_the_indexes_and_keeps_the_chain(
    legacy: Path, tmp_path: Path
) -> None:
    path = old_log(legacy, tmp_path)
    with AuditLog(path) as upgraded:
        assert verify(upgraded).ok
    assert index_names(path) == index_names(legacy)
    assert "records_verdict" not in index_names(path)  # a prefix of records_verdict_as_of


def test_distinct_strategies_and_assets_are_the_sorted_values_of_the_decisions(
    log: AuditLog, everything: list[dict[str, Any]]
) -> None:
    decisions = [r for r in everything if r["kind"] == "decision"]
    assert queries.decision_values(log, "strategy") == sorted(
        {r["strategy"]["name"] for r in decisions}
    )
    assert queries.decision_values(log, "asset") == sorted({r["asset"] for r in decisions})


@pytest.mark.parametrize(
    "kinds",
    [("fill",), ("fill", "order_submitted"), ("approval",), ("decision",), ("decision", "fill")],
)
def test_records_since_a_seq_are_the_records_of_those_kinds_after_it(
    log: AuditLog, everything: list[dict[str, Any]], kinds: tuple[str, ...]
) -> None:
    after = N // 2
    wanted = [(r["seq"], r["id"]) for r in everything if r["kind"] in kinds and r["seq"] > after]
    got = queries.records_since(log, *kinds, after_seq=after)
    assert [(seq, r["id"]) for seq, r in got] == wanted != []
    assert [(seq, r["id"]) for seq, r in log.records_of_kind(kinds[0])] == [
        (r["seq"], r["id"]) for r in everything if r["kind"] == kinds[0]
    ]


def test_reading_followups_since_a_seq_seeks_to_it(log: AuditLog) -> None:
    issued: list[tuple[str, Any]] = []
    with log.db.tracer(lambda sql, params: issued.append((sql, params))):
        list(log.records_of_kind("fill"))
    sql, params = issued[0]
    plan = log.conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    seek = (
        "records_followups (kind=? AND rowid>?)"
        if log.compact
        else "records_kind_as_of (kind=? AND as_of=? AND rowid>?)"
    )
    assert seek in plan[0][-1]


@pytest.mark.parametrize("kind", ["fill", "approval", "decision"])
def test_newest_first_is_every_record_of_the_kind_last_appended_first(
    log: AuditLog, everything: list[dict[str, Any]], kind: str
) -> None:
    wanted = [r["id"] for r in reversed(everything) if r["kind"] == kind]
    assert [r["id"] for r in queries.newest_first(log, kind)] == wanted != []
