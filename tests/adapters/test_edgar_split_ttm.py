"""EDGAR ``trailing_pe`` of NVDA across its 4:1 split (ex 2021-07-20) and 10:1 split (ex
2024-06-10): every EPS fact in shares as they traded at as_of before a fiscal Q4 is derived.

Regression tests: a fiscal Q4 derived as FY - Q1 - Q2 - Q3 subtracted a comparative restated
after a split (Q2 FY2024 re-filed as 0.25 in the 10-Q of 2024-08-28) from a year and quarters
filed before it (11.93 - 0.82 - 0.25 - 3.71 = 7.15), then scaled the result once, by the split
factor of its latest source filing (1): NVDA's P/E read 13.58 instead of 56.07 on 2024-09-03,
and on 2025-03-03 "NVDA earned -2.442 per share" (2.94 - 5.98 - 0.67 - 0.78 for Q4 FY2025).

Data: NVDA's real SEC company facts (examples/data/equities/edgar/companyfacts/
CIK0001045810.json.gz, byte for byte ../shared/data/equities/edgar/companyfacts/
CIK0001045810.json: dgunning/edgartools @ca5a7009 VCR cassette, MIT; SEC data is public domain),
imported as ``data import`` imports it; the split table of the equity data
(tests/fixtures/edgar/splits.csv); real daily closes (split-adjusted, i.e. in post-2024-split
shares) from rows of ../shared/data/equities/prices/daily/NVDA.csv (Yahoo via SU-IST707-SP26),
the same as examples/data/equities/prices/daily/NVDA.csv up to its end, 2024-12-31.

The diluted EPS facts used (us-gaap:EarningsPerShareDiluted, USD/shares; fiscal years end on the
last Sunday of January; "pre" = filed before the split the as_of date is past, so / 4 in 2021
and / 10 in 2024-25; "post" = filed after it, as filed):

  Q2 FY21 2020-07-26: 0.99 (10-Q 2020-08-19, pre), restated 0.25 (10-Q 2021-08-20, post)
  Q3 FY21 2020-10-25: 2.12 (10-Q 2020-11-18, pre)
  FY21    2021-01-31: 6.90 (10-K 2021-02-26, pre);     Q1 FY21 2020-04-26: 1.47 (pre)
  Q1 FY22 2021-05-02: 3.03 (10-Q 2021-05-26, pre)
  Q2 FY22 2021-08-01: 0.94 (10-Q 2021-08-20, post)
  Q1 FY24 2023-04-30: 0.82 (10-Q 2023-05-26 and, as comparative, 2024-05-29: both pre)
  Q2 FY24 2023-07-30: 2.48 (10-Q 2023-08-28, pre), restated 0.25 (10-Q 2024-08-28, post)
  Q3 FY24 2023-10-29: 3.71 (10-Q 2023-11-21, pre), restated 0.37 (10-Q 2024-11-20, post)
  FY24    2024-01-28: 11.93 (10-K 2024-02-21, pre)
  Q1 FY25 2024-04-28: 5.98 (10-Q 2024-05-29, pre), restated 0.60 (10-Q 2025-05-28, post)
  Q2 FY25 2024-07-28: 0.67 (10-Q 2024-08-28, post);  Q3 FY25 2024-10-27: 0.78 (10-Q 2024-11-20)
  FY25    2025-01-26: 2.94 (10-K 2025-02-26, post)
  Q1 FY26 2025-04-27: 0.76 (10-Q 2025-05-28, post)

NVDA's Q4 (no filing reports it alone) is derived: FY less the three quarters inside it.
"""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import invoke as run

from signalops.adapters import edgar
from signalops.adapters._facts import EASTERN
from signalops.adapters.fundamental import FundamentalAdapter
from signalops.adapters.importing import import_file
from signalops.adapters.snapshots import SnapshotStore
from signalops.observation import Observation, Request

ROOT = Path(__file__).resolve().parents[2]
NVDA_FACTS = ROOT / "examples" / "data" / "equities" / "edgar" / "companyfacts"
NVDA_FACTS = NVDA_FACTS / "CIK0001045810.json.gz"
SPLITS = ROOT / "tests" / "fixtures" / "edgar" / "splits.csv"
CLOSES = {  # NVDA.csv's close column (split-adjusted: in shares after the 10:1 of 2024)
    "2021-07-30": 19.50,
    "2021-08-31": 22.39,
    "2024-07-31": 117.02,
    "2024-08-28": 125.61,
    "2024-08-29": 117.59,
    "2024-08-30": 119.37,
    "2024-11-29": 138.25,
    "2025-02-28": 124.92,
    "2025-05-30": 135.13,
}


def close_of(day: str) -> datetime:
    """16:00 New York on ``day``: the moment a daily close is known."""
    return datetime.fromisoformat(f"{day}T16:00").replace(tzinfo=EASTERN).astimezone(UTC)


@pytest.fixture(scope="module")
def nvda(tmp_path_factory: pytest.TempPathFactory) -> SnapshotStore:
    """NVDA's facts as ``data import`` writes them, its splits and the closes above."""
    root = tmp_path_factory.mktemp("nvda")
    facts = root / "CIK0001045810.json"
    facts.write_bytes(gzip.decompress(NVDA_FACTS.read_bytes()))
    import_file(facts, source="fundamental", asset="NVDA", out_dir=root / "store")
    store = SnapshotStore(root / "store")
    with SPLITS.open(encoding="utf-8") as handle:
        table = edgar.splits_from_csv_rows(csv.DictReader(handle))
    store.append("fundamental", edgar.split_records({"NVDA": table["NVDA"]}))
    store.append(
        "technical",
        (
            ("candles/yfinance/NVDA/1d", close_of(day).timestamp(), [c, c, c, c, 0.0])
            for day, c in CLOSES.items()
        ),
    )
    return store


def pe_at(store: SnapshotStore, day: str) -> Observation:
    request = Request("fundamental", "trailing_pe", (), "NVDA")
    answer = FundamentalAdapter.replay(store).fetch([request], close_of(day))[request]
    assert isinstance(answer, Observation), answer
    return answer


# Each case: the four quarters' EPS in shares as they traded that day, and the close in them
# (the file's close x 10 before the 10:1 split of 2024, x 1 after it).
CASES = [
    # After the 4:1, before the 10-Q of 2021-08-20: every fact pre, / 4.
    # Q2 FY21 .99/4, Q3 2.12/4, Q4 (6.90 - 1.47 - .99 - 2.12)/4 = 2.32/4, Q1 FY22 3.03/4
    # = 8.46/4 = 2.115; 195.0 / 2.115 = 92.20.
    ("2021-07-30", [0.99 / 4, 2.12 / 4, 2.32 / 4, 3.03 / 4], 195.0, 92.20),
    # The 10-Q of 2021-08-20 (post) restates Q2 FY21 as 0.25: Q4 FY21 = 6.90/4 - 1.47/4 - .25
    # - 2.12/4 = 0.5775; TTM = .53 + .5775 + .7575 + .94 = 2.805; 223.9 / 2.805 = 79.82
    # (the whole derived quarter scaled by its latest filing's factor read 42.35).
    ("2021-08-31", [0.53, 0.5775, 0.7575, 0.94], 223.9, 79.82),
    # After the 10:1, before the 10-Q of 2024-08-28: every fact pre, / 10.
    # Q2 FY24 .248, Q3 .371, Q4 (11.93 - .82 - 2.48 - 3.71)/10 = .492, Q1 FY25 .598 = 1.709.
    ("2024-07-31", [0.248, 0.371, 0.492, 0.598], 117.02, 68.47),
    # Q2 FY24 restated 0.25 (post): Q4 FY24 = 1.193 - .082 - .25 - .371 = .490; TTM = .371
    # + .490 + .598 + .67 = 2.129; 119.37 / 2.129 = 56.07 (read 13.58).
    ("2024-08-30", [0.371, 0.490, 0.598, 0.67], 119.37, 56.07),
    # Q3 FY24 restated 0.37 (post): Q4 FY24 = 1.193 - .082 - .25 - .37 = .491; TTM = .491
    # + .598 + .67 + .78 = 2.539; 138.25 / 2.539 = 54.45 (read 11.03).
    ("2024-11-29", [0.491, 0.598, 0.67, 0.78], 138.25, 54.45),
    # 10-K FY25 (post): Q4 FY25 = 2.94 - 5.98/10 - .67 - .78 = .892; TTM = .598 + .67 + .78
    # + .892 = 2.94; 124.92 / 2.94 = 42.49 (read "earned -2.442 per share", NOT_APPLICABLE).
    ("2025-02-28", [0.598, 0.67, 0.78, 0.892], 124.92, 42.49),
    # Q1 FY25 restated 0.60 (post), every fact post: Q4 FY25 = 2.94 - .60 - .67 - .78 = .89;
    # TTM = .67 + .78 + .89 + .76 = 3.10; 135.13 / 3.10 = 43.59 (right before too).
    ("2025-05-30", [0.67, 0.78, 0.89, 0.76], 135.13, 43.59),
]


@pytest.mark.parametrize(("day", "quarters", "price", "pe"), CASES)
def test_nvda_trailing_pe_matches_the_filings_across_both_splits(
    nvda: SnapshotStore, day: str, quarters: list[float], price: float, pe: float
) -> None:
    answer = pe_at(nvda, day)
    assert round(answer.value, 2) == pe
    assert answer.value == pytest.approx(price / sum(quarters))
    assert answer.detail["price"] == pytest.approx(price)
    assert answer.detail["ttm_eps"] == pytest.approx(sum(quarters))
    assert [q["eps"] for q in answer.detail["ttm_quarters"]] == pytest.approx(quarters)


def test_a_derived_quarter_cites_each_fact_as_filed_with_its_own_split_factor(
    nvda: SnapshotStore,
) -> None:
    """Q4 FY24 on 2024-08-30: the 10-K's year and the first quarter (re-filed as comparative on
    2024-05-29, still before the split) / 10, Q2 as restated after it / 1, Q3 / 10."""
    derived = pe_at(nvda, "2024-08-30").detail["ttm_quarters"][1]
    assert (derived["start"], derived["end"], derived["derived"]) == (
        "2023-10-30",
        "2024-01-28",
        True,
    )
    cited = [(f["val"], f["accn"], f["filed"], f["split_factor"]) for f in derived["facts"]]
    assert cited == [
        (11.93, "0001045810-24-000029", "2024-02-21", 10.0),
        (0.82, "0001045810-24-000124", "2024-05-29", 10.0),
        (0.25, "0001045810-24-000264", "2024-08-28", 1.0),
        (3.71, "0001045810-23-000227", "2023-11-21", 10.0),
    ]
    year, *less = (f["val"] / f["split_factor"] for f in derived["facts"])
    assert derived["eps"] == pytest.approx(year - sum(less)) == pytest.approx(0.49)


def test_a_restated_comparative_counts_only_from_the_end_of_its_filing_day(
    nvda: SnapshotStore,
) -> None:
    """The 10-Q of 2024-08-28 (Q2 FY25, restating Q2 FY24 as 0.25) is not known at that day's
    close: Q4 FY24 is still derived from the 10-Q of 2023-08-28 (2.48 / 10), TTM 1.709 as on
    2024-07-31, 125.61 / 1.709 = 73.50. The next day: TTM 2.129, 117.59 / 2.129 = 55.23."""

    def second_quarter(answer: Observation) -> tuple[float, str, float]:
        """The Q2 FY24 fact Q4 FY24 was derived from."""
        (q4,) = (q for q in answer.detail["ttm_quarters"] if q["end"] == "2024-01-28")
        (fact,) = (f for f in q4["facts"] if f["end"] == "2023-07-30")
        return fact["val"], fact["accn"], fact["split_factor"]

    during, after = pe_at(nvda, "2024-08-28"), pe_at(nvda, "2024-08-29")
    assert during.value == pytest.approx(125.61 / 1.709)
    assert after.value == pytest.approx(117.59 / 2.129)
    assert during.detail["ttm_quarters"][-1]["end"] == "2024-04-28"
    assert second_quarter(during) == (2.48, "0001045810-23-000175", 10.0)
    assert after.detail["ttm_quarters"][-1]["end"] == "2024-07-28"
    assert second_quarter(after) == (0.25, "0001045810-24-000264", 1.0)


# --- the walkthrough's commands, on the bundled data --------------------------------------------

PE = """\
strategy:
  name: "PE"
  assets: ["NVDA"]
  defaults: {max_age: 7d}
  rules:
    - id: f
      source: fundamental
      conditions:
        - when: "trailing_pe < 1000"
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pe.yaml").write_text(PE, encoding="utf-8")
    return tmp_path


def test_evaluate_shows_nvdas_pe_in_one_share_basis_across_both_splits(
    in_tmp: Path, replay_dir: Path
) -> None:
    """The bundled closes end on 2024-12-31; a decision at 00:00 reads the previous close."""
    found = []
    for day in ("2021-08-02", "2021-09-01", "2024-08-01", "2024-09-03", "2024-12-02"):
        result = run("evaluate", "pe.yaml", "--at", day, "--data", str(replay_dir))
        assert result.exit_code == 0, result.output
        found += [line.strip() for line in result.stdout.splitlines() if "trailing_pe =" in line]
    assert found == [
        "trailing_pe = 92.1986 at 2021-07-30T20:00:00Z (2.2d old, max 7d)",
        "trailing_pe = 79.8217 at 2021-08-31T20:00:00Z (4h old, max 7d)",
        "trailing_pe = 68.4728 at 2024-07-31T20:00:00Z (4h old, max 7d)",
        "trailing_pe = 56.0686 at 2024-08-30T20:00:00Z (3.2d old, max 7d)",
        "trailing_pe = 54.4506 at 2024-11-29T21:00:00Z (2.1d old, max 7d)",
    ]


def test_the_audit_log_records_the_facts_each_quarter_was_derived_from(
    in_tmp: Path, replay_dir: Path
) -> None:
    made = run(
        "backtest", "pe.yaml", "--data", str(replay_dir), "--venue", "yfinance",
        "--from", "2024-09-03", "--to", "2024-09-04", "--report", "r_pe", "--no-baseline",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    listed = run("decisions", "--audit", "r_pe/backtest.db", "--json")
    assert listed.exit_code == 0, listed.output
    records: list[dict[str, Any]] = [json.loads(line) for line in listed.stdout.splitlines()]
    (record,) = (r for r in records if r["as_of"] == "2024-09-03T00:00:00Z")
    (observation,) = record["observations"]
    assert round(observation["value"], 4) == 56.0686
    quarters = observation["detail"]["ttm_quarters"]
    assert [(q["end"], round(q["eps"], 3)) for q in quarters] == [
        ("2023-10-29", 0.371),
        ("2024-01-28", 0.49),
        ("2024-04-28", 0.598),
        ("2024-07-28", 0.67),
    ]
    assert [(f["val"], f["split_factor"]) for f in quarters[1]["facts"]] == [
        (11.93, 10.0),
        (0.82, 10.0),
        (0.25, 1.0),
        (3.71, 10.0),
    ]
