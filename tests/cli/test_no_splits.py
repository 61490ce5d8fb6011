"""A company that never split: a split table that lists none of its splits says so, once.

Regression tests: ``data import FILE --source fundamental --asset MSFT`` of a split table with
no split of MSFT (the header alone, a Yahoo history whose ratios are all 0) was refused ("0
points read"), so nothing could record that MSFT never split and every import of its SEC
facts warned again that its per-share figures might be off by a split ratio.
Such a table now leaves the mark a Yahoo download of an empty split history leaves,
``splits/MSFT/listed`` (``v`` = 0 splits, ``t`` = the end of the last day its rows speak for,
0 for a header alone), and says so in a note. (A table that lists other companies but not MSFT
is refused: tests/cli/test_split_table_without_asset.py.)
"""

from __future__ import annotations

import gzip
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import invoke

from signalops.adapters.snapshots import SnapshotStore

MSFT_FACTS = Path(__file__).parents[1] / "fixtures" / "edgar" / "CIK0000789019.json.gz"
WRITTEN = datetime(2026, 1, 2, 15, 30, tzinfo=UTC).timestamp()  # the files' modification time
MARCH_2 = datetime(2023, 3, 3, 5, tzinfo=UTC).timestamp()  # the end of 2023-03-02 in New York


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


def header_note(file: Path) -> str:
    return (
        f"note: {file} lists no split of MSFT: recorded that MSFT never split (its header "
        "alone gives no date)\n"
    )


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

    assert (result.exit_code, result.stderr) == (0, header_note(none))
    assert result.stdout == listed_line(out)
    assert marks(out) == [(0, 0)]
    again = fundamental(facts, out)
    assert (again.exit_code, again.stderr) == (0, "")


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

    assert (result.exit_code, result.stderr) == (0, (
        f"note: {history} lists no split of MSFT: recorded that MSFT did not split (up to "
        "2023-03-02)\n"
    ))  # fmt: skip
    assert result.stdout == listed_line(out)
    assert marks(out) == [(MARCH_2, 0)]


def test_importing_the_same_table_twice_leaves_the_store_as_it_was(tmp_path: Path):
    none = written(tmp_path / "none.csv", "ticker,ex_date,ratio_new_per_old\n")
    out = tmp_path / "store"
    assert fundamental(none, out).exit_code == 0
    stored = (out / "fundamental.jsonl").read_bytes()

    again = fundamental(none, out)

    assert (again.exit_code, again.stdout, again.stderr) == (0, listed_line(out), header_note(none))
    assert (out / "fundamental.jsonl").read_bytes() == stored
