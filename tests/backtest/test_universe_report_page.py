"""A universe backtest's report.html has the portfolio by asset that the terminal prints.

Regression test: ``backtest --universe`` printed each asset's part of the book (realised,
unrealised, fees, net PnL, ..., buy & hold) in the terminal, and its report.html had the notes
but not that table. The page's table is now the terminal's, cell for cell (``report.
asset_table`` makes the rows for both), with the page's escaping.

The run is the AAPL trend fixture over AAPL, MSFT and NVDA from 2019 to 2023 on the bundled
equities: figures in the thousands (NVDA's buy & hold +1,412.10%, 1,078 BUYs denied), and a
sector name with characters HTML must escape.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from conftest import ROOT, invoke

TREND = ROOT / "tests" / "fixtures" / "aapl_trend.yaml"
EQUITIES = ROOT / "examples" / "signalops.equities.yaml"
SECTOR = "tech <hardware> & co"
UNIVERSE = f"asset,sector\nAAPL,{SECTOR}\nMSFT,{SECTOR}\nNVDA,chips\n"


def rows_of(page: str, heading: str) -> list[list[str]]:
    """The cells of the first table after ``heading``, unescaped, one list per row."""
    section = page[page.index(heading) :]
    body = section[: section.index("</table>")]
    return [
        [html.unescape(cell) for cell in re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body)
    ]


def printed_rows(stdout: str) -> list[list[str]]:
    """The terminal's table under ``portfolio by asset``: its header and the assets' rows
    (the portfolio's row, with an empty sector cell, is left out: columns are split at runs
    of spaces)."""
    lines = stdout[stdout.index("portfolio by asset") :].splitlines()
    table = [lines[1], *lines[4 : lines.index("")]]  # header, rule, portfolio, each asset
    return [re.split(r"\s{2,}", line.strip()) for line in table]


def test_the_report_page_shows_the_portfolio_by_asset_as_the_terminal_prints_it(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    Path("megacaps.csv").write_text(UNIVERSE, encoding="utf-8")
    result = invoke(
        "backtest", str(TREND), "--universe", "megacaps.csv", "--config", str(EQUITIES),
        "--from", "2019-01-01", "--to", "2023-12-31", "--no-baseline",
        "--data", str(replay_dir), "--report", "report",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    page = Path("report", "report.html").read_text(encoding="utf-8")
    assert (
        "<h2>Portfolio by asset</h2>\n<p>3 assets in one book, sharing 10,000.00 USD of "
        "starting cash · universe from megacaps.csv</p>"
    ) in page
    rows = rows_of(page, "<h2>Portfolio by asset</h2>")
    assert rows[0] == [
        "asset", "sector", "realised", "unrealised", "fees", "net PnL", "of start", "trades",
        "win rate", "exposure", "max weight", "BUYs denied", "buy & hold",
    ]  # fmt: skip
    assert rows[1] == [
        "portfolio", "", "+4,334.29", "+205.75", "169.28", "+4,370.76", "+43.71%",
        "67 +3 open", "34%", "75.9%", "46.1%", "1,078", "+695.26%",
    ]  # fmt: skip
    assert rows[2] == [
        "AAPL", SECTOR, "+1,374.64", "+34.97", "41.06", "+1,368.54", "+13.69%", "16 +1 open",
        "50%", "56.6%", "15.2%", "358", "+396.49%",
    ]  # fmt: skip
    assert rows[4][0] == "NVDA" and rows[4][-1] == "+1,412.10%"
    # The terminal's cells, each of them (the sector is a name: aligned left, as it prints).
    assert [rows[0], *rows[2:]] == printed_rows(result.stdout)
    assert f'<td class="text">{html.escape(SECTOR)}</td>' in page
    assert "tech &lt;hardware&gt; &amp; co" in page and SECTOR not in page


def test_a_backtest_of_one_asset_has_no_portfolio_by_asset(replay_dir: Path, tmp_path: Path):
    result = invoke(
        "backtest", str(TREND), "--config", str(EQUITIES), "--from", "2023-01-01",
        "--to", "2023-01-31", "--no-baseline", "--data", str(replay_dir),
        "--report", str(tmp_path / "report"),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "portfolio by asset" not in result.stdout
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "Portfolio by asset" not in page
