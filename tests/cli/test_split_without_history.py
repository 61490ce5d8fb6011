"""A stock whose filed share counts say it split, replayed without its split history.

Regression tests: NVDA's split-adjusted closes and its SEC company facts imported without its
split history read at 2023-03-10 ``trailing_pe = 13.4713`` and ``market_cap = 57.9B``, ten
times too small (the closes are divided by the 10:1 split of 2024, the filed counts and EPS
are not); with the history imported, 134.713 and 579B. Only the import warned; ``evaluate``,
``backtest`` and ``why`` showed the wrong figures as any other. The share counts themselves say
it split (2,460,000,000 on the 10-Q filed 2024-05-29, 24,530,000,000 on the next), so its
per-share figures are now UNKNOWN (NO_SPLIT_HISTORY) until the history is recorded; a ratio of
two statement figures (``debt_to_equity``) is answered as before.
"""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pytest
from conftest import DATA, invoke

from signalops.adapters import edgar
from signalops.adapters._facts import Fact

EQUITIES = DATA / "equities"
NVDA_PRICES = EQUITIES / "prices" / "daily" / "NVDA.csv"
NVDA_FACTS = EQUITIES / "edgar" / "companyfacts" / "CIK0001045810.json.gz"
MSFT_PRICES = EQUITIES / "prices" / "daily" / "MSFT.csv"
MSFT_FACTS = EQUITIES / "edgar" / "companyfacts" / "CIK0000789019.json.gz"
SPLITS = EQUITIES / "prices" / "splits.csv"
STRATEGY = """\
strategy:
  name: "Value"
  assets: ["{asset}"]
  rules:
    - id: value
      source: fundamental
      conditions:
        - when: "trailing_pe < 40"
        - when: "debt_to_equity < 80"
        - when: "market_cap > 100B"
  execution:
    position_size: 0.05
    action_mode: paper
"""
CONFIG = """\
venues:
  stocks: {exchange: yfinance, quote: USD}
assets:
  NVDA: {venue: stocks}
  MSFT: {venue: stocks}
default_venue: null
"""
JUMP = (
    "dei:EntityCommonStockSharesOutstanding went from 623,000,000 (10-Q filed 2021-05-26) to "
    "2,500,000,000 (10-Q filed 2021-08-20), x4.01 (and 3 more)"
)


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def imported(tmp_path: Path, asset: str, prices: Path, facts: Path) -> Path:
    out = tmp_path / "store"
    candles = invoke("data", "import", str(prices), "--source", "technical", "--asset", asset,
                     "--venue", "yfinance", "--to", str(out))  # fmt: skip
    assert candles.exit_code == 0, candles.stderr
    document = tmp_path / facts.name.removesuffix(".gz")
    document.write_bytes(gzip.decompress(facts.read_bytes()))
    filed = invoke("data", "import", str(document), "--source", "fundamental", "--asset", asset,
                   "--to", str(out))  # fmt: skip
    assert filed.exit_code == 0, filed.stderr
    return out


def evaluate(tmp_path: Path, out: Path, asset: str) -> list[str]:
    strategy = tmp_path / "value.yaml"
    strategy.write_text(STRATEGY.format(asset=asset))
    config = tmp_path / "signalops.yaml"
    config.write_text(CONFIG)
    result = invoke("evaluate", str(strategy), "--at", "2023-03-10", "--asset", asset,
                    "--data", str(out), "--config", str(config))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return [line.strip(" │├└─") for line in result.stdout.splitlines()]


def test_nvda_without_its_splits_is_unknown_where_the_figure_is_read_until_they_are_imported(
    tmp_path: Path,
):
    out = imported(tmp_path, "NVDA", NVDA_PRICES, NVDA_FACTS)
    unknown = (
        f"NO_SPLIT_HISTORY: NVDA has no split history recorded in {out}, but its filed share "
        f"count says it split ({JUMP}): its per-share figures would be off by the split's ratio; "
        f"record Yahoo's split history with 'signalops data download --source technical "
        f"--asset NVDA --venue yfinance --timeframe 1d --to {out}'"
    )

    lines = evaluate(tmp_path, out, "NVDA")

    [pe] = [line for line in lines if line.startswith("trailing_pe")]
    [cap] = [line for line in lines if line.startswith("market_cap")]
    assert pe.startswith("trailing_pe: " + unknown), pe
    assert cap.startswith("market_cap: " + unknown), cap
    reason = "UNKNOWN: the stock split (its filed share counts say so): no split history"
    assert lines.count(reason) == 2
    assert "debt_to_equity = 49.5588 at 2023-03-10T00:00:00Z (0s old, max 7d)" in lines

    splits = invoke("data", "import", str(SPLITS), "--source", "fundamental", "--asset", "NVDA",
                    "--to", str(out))  # fmt: skip
    assert (splits.exit_code, splits.stderr) == (0, "")

    lines = evaluate(tmp_path, out, "NVDA")

    assert "trailing_pe = 134.713 at 2023-03-09T21:00:00Z (3h old, max 7d)" in lines
    assert "market_cap = 579B at 2023-03-09T21:00:00Z (3h old, max 7d)" in lines


def test_the_import_says_the_figures_are_unknown_and_which_counts_say_it_split(tmp_path: Path):
    out = tmp_path / "store"
    document = tmp_path / "CIK0001045810.json"
    document.write_bytes(gzip.decompress(NVDA_FACTS.read_bytes()))

    result = invoke("data", "import", str(document), "--source", "fundamental", "--asset",
                    "NVDA", "--to", str(out))  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert " ".join(result.stderr.split()).startswith(
        f"warning: {out} holds SEC EDGAR facts of NVDA but no split history, and its filed share "
        f"count says it split: {JUMP}; its per-share figures (book_value_per_share, "
        "ncav_per_share, shares_outstanding, price_to_book, trailing_pe, market_cap, "
        "price_to_sales) are UNKNOWN (NO_SPLIT_HISTORY) until the split history is recorded: "
    )


def test_a_backtest_notes_the_unknown_figures_with_the_reason(tmp_path: Path):
    out = imported(tmp_path, "NVDA", NVDA_PRICES, NVDA_FACTS)
    strategy = tmp_path / "value.yaml"
    strategy.write_text(STRATEGY.format(asset="NVDA"))
    config = tmp_path / "signalops.yaml"
    config.write_text(CONFIG)

    result = invoke("backtest", str(strategy), "--data", str(out), "--config", str(config),
                    "--from", "2023-03-01", "--to", "2023-03-31",
                    "--report", str(tmp_path / "report"))  # fmt: skip

    assert result.exit_code == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "NO_SPLIT_HISTORY" in line]
    assert len(notes) == 1
    assert notes[0].startswith(
        "note: trailing_pe and market_cap (fundamental) were UNKNOWN at all 23 decisions of "
        f"NVDA: NO_SPLIT_HISTORY: NVDA has no split history recorded in {out}"
    )


def test_a_company_whose_counts_never_jump_is_still_read_as_never_having_split(tmp_path: Path):
    out = imported(tmp_path, "MSFT", MSFT_PRICES, MSFT_FACTS)

    lines = evaluate(tmp_path, out, "MSFT")

    assert not [line for line in lines if "NO_SPLIT_HISTORY" in line]
    assert [line.split(" = ")[0] for line in lines if " = " in line] == [
        "trailing_pe",
        "debt_to_equity",
        "market_cap",
    ]


def test_a_table_saying_it_never_split_is_taken_at_its_word(tmp_path: Path):
    out = imported(tmp_path, "NVDA", NVDA_PRICES, NVDA_FACTS)
    none = tmp_path / "none.csv"
    none.write_text("ticker,ex_date,ratio_new_per_old\n")
    assert invoke("data", "import", str(none), "--source", "fundamental", "--asset", "NVDA",
                  "--to", str(out)).exit_code == 0  # fmt: skip

    lines = evaluate(tmp_path, out, "NVDA")

    assert "trailing_pe = 13.4713 at 2023-03-09T21:00:00Z (3h old, max 7d)" in lines


def fact(concept: str, end: str, filed: str, val: float) -> Fact:
    taxonomy = "dei" if concept.startswith("Entity") else "us-gaap"
    return Fact(taxonomy, concept, "shares", None, date.fromisoformat(end), val, f"a-{filed}",
                "10-Q", date.fromisoformat(filed))  # fmt: skip


def test_a_split_like_factor_either_way_is_a_jump_and_buybacks_are_not():
    cover = "EntityCommonStockSharesOutstanding"
    counts = [
        fact(cover, "2021-01-15", "2021-01-20", 1_000_000),
        fact(cover, "2021-04-15", "2021-04-20", 900_000),  # a tenth bought back
        fact(cover, "2021-07-15", "2021-07-20", 1_350_000),  # 3-for-2
        fact(cover, "2021-10-15", "2021-10-20", 168_750),  # 1-for-8 reverse
    ]
    # A comparative re-filed in post-split shares follows the count it restates.
    sheet = "CommonStockSharesOutstanding"
    restated = [
        fact(sheet, "2020-12-31", "2021-02-01", 500_000),
        fact(sheet, "2020-12-31", "2022-02-01", 2_000_000),
    ]

    jumps = edgar.share_jumps([*restated, *counts])

    assert [(j.before.val, j.after.val) for j in jumps] == [
        (900_000, 1_350_000),
        (1_350_000, 168_750),
        (500_000, 2_000_000),
    ]
    assert jumps[1].describe() == (
        "dei:EntityCommonStockSharesOutstanding went from 1,350,000 (10-Q filed 2021-07-20) to "
        "168,750 (10-Q filed 2021-10-20), x0.125"
    )
    assert edgar.SPLIT_LIKE < 1.5
