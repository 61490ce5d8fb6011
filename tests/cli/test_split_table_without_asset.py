"""A split table that lists other companies says nothing about this one; "never split" is said
only by a table that says it, and its mark is the same wherever the file is.

Regression tests: ``data import splits.csv --source fundamental --asset GOOG`` (the shared
table has GOOGL) and ``--asset GOGL`` (a typo) exited 0 with ``1 point in
splits/GOOG/listed``: the store then recorded that the company never split, the EDGAR split
warning stopped, and its per-share figures were off by 20x. The table lists other tickers,
not this one: refused, with the ticker it likely means. And the "never split" mark was dated
by the file's modification time: a checkout (or a touch) of the same file wrote other bytes,
and a second mark. It is now dated by what the file says: the end of the last day its rows
speak for (New York), 0 for a header alone, which speaks for none.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import DATA, invoke

SPLITS = DATA / "equities" / "prices" / "splits.csv"
LISTS = "the file lists AAPL, AMZN, GE, GOOGL, NVDA, PFE, TSLA, WMT"


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def fundamental(file: Path, out: Path, asset: str):
    return invoke("data", "import", str(file), "--source", "fundamental", "--asset", asset,
                  "--to", str(out))  # fmt: skip


@pytest.mark.parametrize(
    ("asset", "told"),
    [
        ("GOOG", f"no split of GOOG (did you mean GOOGL? {LISTS})"),  # Alphabet's class C
        ("GOGL", f"no split of GOGL (did you mean GOOGL? {LISTS})"),  # a typo
        ("MSFT", f"no split of MSFT ({LISTS})"),  # nothing near: what the file lists
    ],
)
def test_a_table_of_other_tickers_is_refused_with_the_one_meant(
    tmp_path: Path, asset: str, told: str
):
    out = tmp_path / "store"

    result = fundamental(SPLITS, out, asset)

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"error: {SPLITS}: 0 points read: {told}\n"
    assert not out.exists()


def test_the_ticker_meant_imports_its_splits(tmp_path: Path):
    out = tmp_path / "store"

    result = fundamental(SPLITS, out, "GOOGL")

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        f"fundamental         1 point  in splits/GOOGL  {out}/fundamental.jsonl\n"
    )


def test_rows_of_the_company_all_without_a_split_record_it_did_not_split_up_to_the_last(
    tmp_path: Path,
):
    table = tmp_path / "splits.csv"
    table.write_text(
        "ticker,ex_date,ratio_new_per_old\nGOOGL,2022-07-18,20\nMSFT,2024-06-28,0\n"
        "MSFT,2023-12-29,0\n"
    )
    out = tmp_path / "store"

    result = fundamental(table, out, "MSFT")

    assert result.exit_code == 0
    assert result.stdout == (
        f"fundamental         1 point  in splits/MSFT/listed  {out}/fundamental.jsonl\n"
    )
    assert result.stderr == (
        f"note: {table} lists no split of MSFT: recorded that MSFT did not split (up to "
        "2024-06-28)\n"
    )
    # The end of 2024-06-28 in New York (04:00 UTC on the 29th), whatever the file's mtime.
    assert (out / "fundamental.jsonl").read_text() == (
        '{"series": "splits/MSFT/listed", "t": 1719633600, "v": 0}\n'
    )


def test_a_header_alone_writes_the_same_store_wherever_it_is_and_however_old(tmp_path: Path):
    header = tmp_path / "none.csv"
    header.write_text("ticker,ex_date,ratio_new_per_old\n")
    os.utime(header, (1_600_000_000, 1_600_000_000))
    elsewhere = Path(shutil.copy(header, tmp_path / "checkout.csv"))  # another checkout's mtime
    os.utime(elsewhere, (1_700_000_000, 1_700_000_000))
    first, second = tmp_path / "first", tmp_path / "second"
    assert fundamental(header, first, "MSFT").exit_code == 0
    assert fundamental(elsewhere, second, "MSFT").exit_code == 0
    os.utime(header, (1_750_000_000, 1_750_000_000))  # touched

    again = fundamental(header, first, "MSFT")

    assert again.exit_code == 0
    assert again.stderr == (
        f"note: {header} lists no split of MSFT: recorded that MSFT never split (its header "
        "alone gives no date)\n"
    )
    stored = (first / "fundamental.jsonl").read_text()
    assert stored == '{"series": "splits/MSFT/listed", "t": 0, "v": 0}\n'
    assert (second / "fundamental.jsonl").read_text() == stored
