"""The Portfolio page with two strategies on BTC: each book, priced at market, and the account.

The log is a real paper run of ``banking_crisis_pipeline.yaml`` (capital 50%) and
``books_second.yaml`` (capital 2,000) on the March 2023 replay; at noon on 03-13 both hold BTC,
which the replay's hourly close values at 22,106.64 (not at either strategy's fill price).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dashboard_fixtures import APP, ROOT, run_cli
from streamlit.testing.v1 import AppTest

CONFIG = """\
strategies:
  Banking_Crisis_Pipeline: {capital: 50%}
  Second_Book: {capital: 2000}
"""


@pytest.fixture
def two_books_env(replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config, db = tmp_path / "signalops.yaml", tmp_path / "audit.db"
    config.write_text(CONFIG)
    monkeypatch.chdir(ROOT)
    run_cli(
        "run", "tests/fixtures/banking_crisis_pipeline.yaml", "tests/fixtures/books_second.yaml",
        "--config", str(config), "--replay", str(replay_dir), "--from", "2023-03-08",
        "--to", "2023-03-13", "--every", "1d", "--audit", str(db),
    )  # fmt: skip
    env = {
        "SIGNALOPS_AUDIT": str(db),
        "SIGNALOPS_REPLAY": str(replay_dir),
        "SIGNALOPS_NOW": "2023-03-13T12:00:00Z",
        "SIGNALOPS_CONFIG": str(config),
        "SIGNALOPS_STRATEGIES": str(ROOT / "strategies"),
        "SIGNALOPS_REPORTS": str(tmp_path / "reports"),
    }
    for name in ("SIGNALOPS_DASHBOARD_PASSWORD", "SIGNALOPS_DASHBOARD_REFRESH"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return db


def rows(at: AppTest, key: str) -> list[dict[str, Any]]:
    (frame,) = at.get_by_key(key).dataframe
    return frame.value.to_dict("records")


def test_the_portfolio_page_shows_each_book_at_market_and_the_account(two_books_env: Path):
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.sidebar.radio(key="nav.page").set_value("Portfolio").run()
    assert not at.exception, at.exception
    # Money in the account's currency, named in the headers; PnL signed.
    assert rows(at, "portfolio.books") == [
        {
            "strategy": "Banking_Crisis_Pipeline",
            "capital (USDT)": "5,000.00",
            "positions": "0.01227763 BTC",
            "cash (USDT)": "4,749.63",
            "equity (USDT)": "5,021.04",
            "realised PnL (USDT)": "+0.00",
            "unrealised PnL (USDT)": "+21.04",
        },
        {
            "strategy": "Second_Book",
            "capital (USDT)": "2,000.00",
            "positions": "0.00454605 BTC",
            "cash (USDT)": "1,899.85",
            "equity (USDT)": "2,000.35",
            "realised PnL (USDT)": "+0.00",
            "unrealised PnL (USDT)": "+0.35",
        },
    ]
    (position,) = rows(at, "portfolio.positions")
    assert position["last price (USDT)"] == "22,106.64"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Equity (USDT)"] == "10,021.39"
    captions = "\n".join(c.value for c in at.caption)
    assert "BTC at market 22,106.64 (close of 2023-03-13T12:00:00Z)" in captions
