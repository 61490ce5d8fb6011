"""debt_to_equity from the debt concepts real filers tag, over the bundled company facts.

A walkthrough found JPM's debt_to_equity UNKNOWN at every decision and GOOGL's at about half:
JPMorgan tags its debt only as us-gaap:
LongTermDebtAndCapitalLeaseObligationsIncludingCurrentMaturities (from 2014), Alphabet's 10-Qs
from Q3 2020 that same total and the non-current LongTermDebtAndCapitalLeaseObligations, and
neither was read nor recorded. The store is
``signalops data import`` of examples/data (the ``replay_dir`` fixture), as the walkthrough ran it;
values by hand from the filings' facts in the companyfacts files (accession numbers below).
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA
from conftest import invoke as run

from signalops.adapters._facts import EASTERN
from signalops.adapters.fundamental import FundamentalAdapter
from signalops.adapters.importing import import_file
from signalops.adapters.snapshots import SnapshotStore
from signalops.codes import Code
from signalops.observation import DataError, Observation, Request

GOOGL_FACTS = DATA / "equities" / "edgar" / "companyfacts" / "CIK0001652044.json.gz"


def close_of(day: str) -> datetime:
    """16:00 New York on ``day``: the moment a daily close is known."""
    return datetime.fromisoformat(f"{day}T16:00").replace(tzinfo=EASTERN).astimezone(UTC)


def debt_to_equity(store: SnapshotStore, symbol: str, day: str) -> Observation | DataError:
    request = Request("fundamental", "debt_to_equity", (), symbol)
    return FundamentalAdapter.replay(store).fetch([request], close_of(day))[request]


def cited(answer: Observation | DataError) -> list[tuple[str, float, str, str]]:
    assert isinstance(answer, Observation), answer
    return [(d["concept"], d["val"], d["end"], d["accn"]) for d in answer.detail["debt"]]


def test_jpm_debt_is_its_long_term_debt_and_leases_including_current_maturities(
    replay_dir: Path,
) -> None:
    """10-Q Q3 2023, accn 0000019617-23-000524 filed 2023-11-01, balance sheet 2023-09-30:
    LongTermDebtAndCapitalLeaseObligationsIncludingCurrentMaturities 362,793,000,000;
    StockholdersEquity 317,371,000,000. 362,793 / 317,371 x 100 = 114.312%.
    (Read 'JPM reported no debt (...)', NOT_REPORTED.)"""
    answer = debt_to_equity(SnapshotStore(replay_dir), "JPM", "2023-12-29")
    assert isinstance(answer, Observation), answer
    assert answer.value == pytest.approx(100 * 362_793 / 317_371)
    assert round(answer.value, 3) == 114.312
    assert cited(answer) == [
        ("us-gaap:LongTermDebtAndCapitalLeaseObligationsIncludingCurrentMaturities",
         362_793e6, "2023-09-30", "0000019617-23-000524"),
    ]  # fmt: skip
    assert answer.detail["equity"]["val"] == 317_371e6


def test_googl_10q_debt_is_its_total_including_current_maturities_and_its_10k_debt_stays(
    replay_dir: Path,
) -> None:
    """10-Q Q3 2020, accn 0001652044-20-000050 filed 2020-10-30, balance sheet 2020-09-30:
    LongTermDebtAndCapitalLeaseObligationsIncludingCurrentMaturities 15,196,000,000 (= the notes'
    14,000 + FinanceLeaseLiability 1,196; it also equals the non-current
    LongTermDebtAndCapitalLeaseObligations 13,902 + LongTermDebtCurrent 999 +
    FinanceLeaseLiabilityCurrent 122 + unamortized discount 173, all of that 10-Q);
    StockholdersEquity 212,920,000,000. 15,196 / 212,920 x 100 = 7.13695%.
    (Read 'GOOGL reported no debt (...)', NOT_REPORTED.)
    10-K FY2020, accn 0001652044-21-000010 filed 2021-02-03, 2020-12-31: LongTermDebt 15,319 /
    StockholdersEquity 222,544 = 6.88358%, as before (LongTermDebt is still read first)."""
    store = SnapshotStore(replay_dir)
    quarter = debt_to_equity(store, "GOOGL", "2020-11-02")
    assert isinstance(quarter, Observation), quarter
    assert quarter.value == pytest.approx(100 * 15_196 / 212_920)
    assert cited(quarter) == [
        ("us-gaap:LongTermDebtAndCapitalLeaseObligationsIncludingCurrentMaturities",
         15_196e6, "2020-09-30", "0001652044-20-000050"),
    ]  # fmt: skip
    year = debt_to_equity(store, "GOOGL", "2021-02-04")
    assert isinstance(year, Observation), year
    assert year.value == pytest.approx(100 * 15_319 / 222_544)
    assert cited(year) == [("us-gaap:LongTermDebt", 15_319e6, "2020-12-31", "0001652044-21-000010")]


def test_a_non_current_total_is_summed_with_its_current_part_of_the_same_date(
    replay_dir: Path,
) -> None:
    """TSLA 10-Q Q1 2016, accn 0001564590-16-018886 filed 2016-05-10, balance sheet 2016-03-31
    (no LongTermDebt that quarter): LongTermDebtAndCapitalLeaseObligations 2,484,329,000 +
    LongTermDebtAndCapitalLeaseObligationsCurrent 635,285,000 = 3,119,614,000;
    StockholdersEquity 970,365,000. 3,119,614 / 970,365 x 100 = 321.49%. (Read NOT_REPORTED.)"""
    answer = debt_to_equity(SnapshotStore(replay_dir), "TSLA", "2016-05-11")
    assert isinstance(answer, Observation), answer
    assert answer.value == pytest.approx(100 * (2_484_329 + 635_285) / 970_365)
    assert cited(answer) == [
        ("us-gaap:LongTermDebtAndCapitalLeaseObligations", 2_484_329e3, "2016-03-31",
         "0001564590-16-018886"),
        ("us-gaap:LongTermDebtAndCapitalLeaseObligationsCurrent", 635_285e3, "2016-03-31",
         "0001564590-16-018886"),
    ]  # fmt: skip


def test_aapl_debt_to_equity_is_unchanged(replay_dir: Path) -> None:
    """10-K FY2023, accn 0000320193-23-000106 filed 2023-11-03, 2023-09-30: LongTermDebt
    105,103,000,000 / StockholdersEquity 62,146,000,000 x 100 = 169.123% (as before)."""
    answer = debt_to_equity(SnapshotStore(replay_dir), "AAPL", "2023-12-29")
    assert isinstance(answer, Observation), answer
    assert answer.value == pytest.approx(100 * 105_103 / 62_146)
    assert cited(answer) == [
        ("us-gaap:LongTermDebt", 105_103e6, "2023-09-30", "0000320193-23-000106")
    ]


def _googl_without(tmp_path: Path, dropped: dict[str, set[str]]) -> SnapshotStore:
    """GOOGL's real facts, ``data import``ed, less the facts of ``dropped`` ({concept: ends})."""
    doc: dict[str, Any] = json.loads(gzip.decompress(GOOGL_FACTS.read_bytes()))
    gaap = doc["facts"]["us-gaap"]
    for concept, ends in dropped.items():
        rows = gaap[concept]["units"]["USD"]
        gaap[concept]["units"]["USD"] = [r for r in rows if r["end"] not in ends]
    tmp_path.mkdir()
    path = tmp_path / "CIK0001652044.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    import_file(path, source="fundamental", asset="GOOGL", out_dir=tmp_path / "store")
    return SnapshotStore(tmp_path / "store")


def test_a_lease_inclusive_non_current_total_needs_its_current_part_of_the_same_date(
    tmp_path: Path,
) -> None:
    """GOOGL's 2020-09-30 balance sheet without its total including current maturities: the
    non-current 13,902 + LongTermDebtCurrent 999 = 14,901 / 212,920 = 6.99840%. Without that
    date's current part as well, the non-current total alone (which leaves out the debt due
    within a year) is not read, nor the LongTermDebtCurrent of 2019-12-31 filed in the same
    10-Q: NOT_REPORTED, naming the concepts read."""
    total = "LongTermDebtAndCapitalLeaseObligationsIncludingCurrentMaturities"
    summed = debt_to_equity(_googl_without(tmp_path / "a", {total: {"2020-09-30"}}),
                            "GOOGL", "2020-11-02")  # fmt: skip
    assert isinstance(summed, Observation), summed
    assert summed.value == pytest.approx(100 * (13_902 + 999) / 212_920)
    assert [c[:2] for c in cited(summed)] == [
        ("us-gaap:LongTermDebtAndCapitalLeaseObligations", 13_902e6),
        ("us-gaap:LongTermDebtCurrent", 999e6),
    ]
    alone = _googl_without(
        tmp_path / "b", {total: {"2020-09-30"}, "LongTermDebtCurrent": {"2020-09-30"}}
    )
    answer = debt_to_equity(alone, "GOOGL", "2020-11-02")
    assert isinstance(answer, DataError) and answer.reason == Code.NOT_REPORTED
    assert answer.message == (
        "GOOGL reported none of the debt concepts SignalOps reads (us-gaap:LongTermDebt, "
        "LongTermDebtNoncurrent, LongTermDebtAndCapitalLeaseObligationsIncludingCurrentMaturities, "
        "LongTermDebtAndCapitalLeaseObligations with its current part, "
        "DebtAndCapitalLeaseObligations) for its balance sheet of 2020-09-30 (company facts "
        "recorded before SignalOps read a concept hold none of it: import or download them again)"
    )


DEBT = """\
strategy:
  name: "DE"
  assets: ["JPM", "GOOGL"]
  defaults: {max_age: 7d}
  rules:
    - id: f
      source: fundamental
      conditions:
        - when: "debt_to_equity < 150"
"""


def test_evaluate_on_the_bundled_data_shows_jpm_and_googl_debt_to_equity(
    tmp_path: Path, replay_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walkthrough's command. At 00:00 on 2020-11-02 JPM's 10-Q of that day is not yet
    known: its 10-Q Q2 2020 (accn 0000019617-20-000372, filed 2020-08-03) gives 2020-06-30's
    LongTermDebtAndCapitalLeaseObligationsIncludingCurrentMaturities 317,003 / StockholdersEquity
    264,466 = 119.865%; GOOGL's 10-Q of 2020-10-30 7.13695% (above). Both read NOT_REPORTED."""
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "de.yaml").write_text(DEBT, encoding="utf-8")
    result = run("evaluate", "de.yaml", "--at", "2020-11-02", "--data", str(replay_dir))
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert [line for line in lines if line.startswith(("DE ·", "debt_to_equity"))] == [
        "DE · JPM · 2020-11-02T00:00:00Z: BUY",
        "debt_to_equity = 119.865 at 2020-11-02T00:00:00Z (0s old, max 7d)",
        "DE · GOOGL · 2020-11-02T00:00:00Z: BUY",
        "debt_to_equity = 7.13695 at 2020-11-02T00:00:00Z (0s old, max 7d)",
    ]
