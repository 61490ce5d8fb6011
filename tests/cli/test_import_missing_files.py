"""``data import`` says plainly that a file is missing: one line naming it, exit 1.

Regression tests: a bundled data folder without a company's facts file that its
``universe.csv`` lists said only ``CIK0000320193.json.gz: AAPL's company facts, listed in
universe.csv``; without ``universe.csv`` or the split table, ``No such file or directory`` in
the OS's words; the candle and DeFiLlama files each in words of their own ("bundled candle file
missing", "bundled file ... is missing"). ``--from`` given a file (``CIK0000320193.json.gz``),
there or not, said "no such data folder", and a folder given as FILE "no such file".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import invoke as run

UNIVERSE = "ticker,cik,has_companyfacts\nAAPL,0000320193,1\n"
ONE_FILE = (
    "--from names a folder of bundled data; one file is imported as 'signalops data import "
    "FILE --source SOURCE --asset ASSET'"
)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "equities").mkdir(parents=True)
    return tmp_path


def bundled(source: str):
    return run("data", "import", "--from", "data", "--to", "out", "--source", source)


@pytest.mark.parametrize(
    ("source", "written", "said"),
    [
        (
            "fundamental",
            {"universe.csv": UNIVERSE},
            "data/equities/edgar/companyfacts/CIK0000320193.json.gz: no such file (AAPL's "
            "company facts, listed in universe.csv)",
        ),
        (
            "fundamental",
            {},
            "data/equities/universe.csv: no such file (the tickers of the equity universe)",
        ),
        (
            "fundamental",
            {"universe.csv": "ticker,cik,has_companyfacts\n"},
            "data/equities/prices/splits.csv: no such file (the splits of the equity universe)",
        ),
        ("technical", {}, "data/ohlcv/Binance_BTCUSDT_d.csv: no such file (bundled candles)"),
        (
            "onchain",
            {},
            "data/defillama/stablecoin_supply_daily_by_coin_2017-11_2025-08.csv: no such file "
            "(bundled DeFiLlama data)",
        ),
    ],
    ids=["company-facts", "universe", "splits", "candles", "defillama"],
)
def test_a_missing_bundled_file_is_named_as_missing(
    in_tmp: Path, source: str, written: dict[str, str], said: str
):
    for name, text in written.items():
        (in_tmp / "data" / "equities" / name).write_text(text)

    result = bundled(source)

    assert (result.exit_code, result.stdout, result.stderr) == (1, "", f"error: {said}\n")
    assert not (in_tmp / "out").exists()


def test_from_a_file_says_it_is_missing_or_not_a_folder(in_tmp: Path):
    (in_tmp / "there.json.gz").write_bytes(b"")

    missing = run("data", "import", "--from", "gone.json.gz", "--to", "out")
    a_file = run("data", "import", "--from", "there.json.gz", "--to", "out")
    no_folder = run("data", "import", "--from", "gone", "--to", "out")

    assert (missing.exit_code, missing.stderr) == (
        1,
        f"error: gone.json.gz: no such file ({ONE_FILE})\n",
    )
    assert (a_file.exit_code, a_file.stderr) == (
        1,
        f"error: there.json.gz: a file, not a data folder ({ONE_FILE})\n",
    )
    assert (no_folder.exit_code, no_folder.stderr) == (1, "error: gone: no such data folder\n")
    assert not (in_tmp / "out").exists()


def test_a_missing_file_or_a_folder_given_as_file_is_told_which(in_tmp: Path):
    missing = run("data", "import", "gone.json", "--source", "fundamental", "--asset", "AAPL")
    folder = run("data", "import", "data", "--source", "technical", "--asset", "BTC")

    assert (missing.exit_code, missing.stderr) == (1, "error: gone.json: no such file\n")
    assert (folder.exit_code, folder.stderr) == (
        1,
        "error: data: a folder, not a file (--from imports a folder of bundled data)\n",
    )
