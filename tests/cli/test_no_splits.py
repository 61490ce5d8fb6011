"""A company that never split: a split table that lists none of its splits says so, once.

Regression tests: ``data import FILE --source fundamental --asset MSFT`` of a split table with
no MSFT row (the header alone, the shared ``splits.csv``, a Yahoo history whose ratios are all
0) was refused ("0 points read"), so nothing could record that MSFT never split and every
import of its SEC facts warned again that its per-share figures might be off by a split ratio.
Such a table now leaves the mark a Yahoo download of an empty split history leaves,
``splits/MSFT/listed`` (``v`` = 0 splits, ``t`` = the file's modification time).
"""

from __future__ import annotations

import gzip
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import DATA, invoke

from signalops.adapters.snapshots import SnapshotStore

MSFT_FACTS = Path(__file__).parents[1] / "fixtures" / "edgar" / "CIK0000789019.json.gz"
SPLITS = DATA / "equities" / "prices" / "splits.csv"
WRITTEN = datetime(2026, 1, 2, 15, 30, tzinfo=UTC).timestamp()  # the files' modification time


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def written(path: Path, text: str | None = None) -> Path:
    if text is not None:
        path.write_text(text)
    os.utime(path, (WRITTEN, WRITTEN))
    return path


def fundamental(file: Path, out: Path, asset: str = "MSFT"):
    return invoke("data", "import", str(file), "--source", "fundamental", "--asset", asset,
                  "--to", str(out))  # fmt: skip


def marks(out: Path, asset: str = "MSFT") -> list[tuple[float, int]]:
    series = SnapshotStore(out).series("fundamental", f"splits/{asset}/listed")
    assert series is not None
    return list(zip(series.times, series.values, strict=True))


def listed_line(out: Path, asset: str = "MSFT") -> str:
    return f"fundamental         1 point  in splits/{asset}/listed  {out}/fundamental.jsonl\n"


def test_a_header_alone_records_that_msft_never_split_and_its_facts_no_longer_warn(
    tmp_path: Path,
):
    out = tmp_path / "store"
    facts = tmp_path / "CIK0000789019.json"
    facts.write_bytes(gzip.decompress(MSFT_FACTS.read_bytes()))
    warned = fundamental(facts, out)
    assert warned.exit_code == 0, warned.stderr
    assert warned.stderr.startswith(
        f"warning: {out} holds SEC EDGAR facts of MSFT but no split history"
    )
    odd = written(tmp_path / "odd.csv", "ticker,ex_date\n")  # not a split table: refused
    refused = fundamental(odd, out)
    assert (refused.exit_code, refused.stdout) == (1, "")
    assert refused.stderr == (
        f"error: {odd}: 0 points read: no column matched ratio (the header is: ticker, "
        "ex_date); name them with --columns ratio=COLUMN\n"
    )
    none = written(tmp_path / "none.csv", "ticker,ex_date,ratio_new_per_old\n")

    result = fundamental(none, out)

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == listed_line(out)
    assert marks(out) == [(WRITTEN, 0)]
    again = fundamental(facts, out)
    assert (again.exit_code, again.stderr) == (0, "")


def test_the_shared_split_table_without_msft_records_that_it_never_split(tmp_path: Path):
    table = written(Path(shutil.copy(SPLITS, tmp_path / "splits.csv")))
    out = tmp_path / "store"

    result = fundamental(table, out)

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == listed_line(out)
    assert marks(out) == [(WRITTEN, 0)]
    assert SnapshotStore(out).series("fundamental", "splits/MSFT") is None
    nvda = fundamental(table, out, "NVDA")  # a company the table lists: its splits, no mark
    assert (nvda.exit_code, nvda.stderr) == (0, "")
    assert nvda.stdout == f"fundamental         2 points in splits/NVDA  {out}/fundamental.jsonl\n"
    assert SnapshotStore(out).series("fundamental", "splits/NVDA/listed") is None


def test_a_yahoo_history_without_a_split_records_that_it_never_split(tmp_path: Path):
    """``history(actions=True)`` of a company that did not split: 0 in every row."""
    history = written(
        tmp_path / "MSFT_history.csv",
        "Date,Open,High,Low,Close,Volume,Dividends,Stock Splits\n"
        "2023-03-01 00:00:00-05:00,250.76,250.93,245.79,246.27,27565300,0.0,0.0\n"
        "2023-03-02 00:00:00-05:00,246.55,251.4,245.61,251.11,24808200,0.0,0.0\n",
    )
    out = tmp_path / "store"

    result = fundamental(history, out)

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == listed_line(out)
    assert marks(out) == [(WRITTEN, 0)]


def test_importing_the_same_table_twice_leaves_the_store_as_it_was(tmp_path: Path):
    none = written(tmp_path / "none.csv", "ticker,ex_date,ratio_new_per_old\n")
    out = tmp_path / "store"
    assert fundamental(none, out).exit_code == 0
    stored = (out / "fundamental.jsonl").read_bytes()

    again = fundamental(none, out)

    assert (again.exit_code, again.stdout, again.stderr) == (0, listed_line(out), "")
    assert (out / "fundamental.jsonl").read_bytes() == stored
