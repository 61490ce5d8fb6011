"""The backtest report in a real browser: headless Chromium (Debian's, driven by Playwright)
opens the ``report.html`` that ``signalops backtest`` wrote, from the file alone, offline.

The page draws its charts from the plotly.js it carries (no request leaves the file), raises no
script error, a marker's hover names its decision and a click on it puts the ``signalops why``
command in the box under the chart. Two reports: the demo's first backtest (``make demo``), whose
screenshot is copied to ``docs/backtest_report.png`` (shown by the README) when that file is
missing or when ``SIGNALOPS_UPDATE_SCREENSHOTS=1`` (a test run must not leave the work tree
modified); and the banking-crisis fixture over March 2023, which has a blocked signal.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ROOT

from signalops.cli import cli

CHROMIUM = Path(os.environ.get("SIGNALOPS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
DOCS_SCREENSHOT = ROOT / "docs" / "backtest_report.png"
DEMO = ROOT / "strategies" / "banking_crisis_dip.yaml"
FIXTURE = ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not CHROMIUM.is_file():
    pytest.skip(
        f"no Chromium at {CHROMIUM}: install Debian's (apt-get install chromium) or set "
        "SIGNALOPS_CHROMIUM",
        allow_module_level=True,
    )

# Where a trace's k-th point is drawn, in the page's viewport (after scrolling the chart in).
POINT_JS = """
([id, name, k]) => {
  const gd = document.getElementById(id);
  gd.scrollIntoView({block: "center"});
  const t = gd.data.find(t => t.name === name);
  const xa = gd._fullLayout.xaxis;
  const ya = gd._fullLayout[(t.yaxis || "y").replace("y", "yaxis")];
  const box = gd.getBoundingClientRect();
  return {
    x: box.left + xa._offset + xa.l2p(xa.d2l(t.x[k])),
    y: box.top + ya._offset + ya.l2p(ya.d2l(t.y[k])),
    id: t.customdata ? t.customdata[k] : null,
  };
}
"""


def backtest(strategy: Path, start: str, end: str, replay_dir: Path, out: Path) -> Path:
    """``signalops backtest`` as the demo runs it; the report's path."""
    result = CliRunner().invoke(
        cli,
        ["backtest", str(strategy), "--from", start, "--to", end, "--data", str(replay_dir),
         "--report", str(out)],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out / "report.html"


def open_report(browser: Any, path: Path) -> tuple[Any, list[str], list[str]]:
    """The page with both charts drawn; the script errors and every URL it requested."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(30_000)
    errors: list[str] = []
    requested: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("request", lambda request: requested.append(request.url))
    page.goto(path.resolve().as_uri())
    page.wait_for_function(
        "() => ['equity', 'price-0'].every(id => "
        "document.getElementById(id).querySelector('.main-svg'))"
    )
    return page, errors, requested


def hover_and_click(page: Any, name: str) -> tuple[str, str, str]:
    """Hover a marker of trace ``name`` and click it: (its decision id, the hover label's text,
    the why box's value)."""
    point = page.evaluate(POINT_JS, ["price-0", name, 0])
    page.mouse.move(point["x"], point["y"])
    page.wait_for_function("() => document.querySelector('#price-0 .hoverlayer').textContent")
    text = page.locator("#price-0 .hoverlayer").text_content()
    page.mouse.click(point["x"], point["y"])
    box = page.locator("#price-0-why")
    page.wait_for_function("() => document.getElementById('price-0-why').value !== ''")
    return point["id"], text, box.input_value()


def test_the_demo_report_opens_offline_draws_its_charts_and_tells_the_why_command(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)  # the report folder as `make demo` names it: relative
    demo = backtest(
        DEMO, "2023-01-01", "2023-06-30", replay_dir, Path("reports/banking_crisis_dip")
    )
    march = backtest(FIXTURE, "2023-03-01", "2023-03-31", replay_dir, tmp_path / "march")
    shot = tmp_path / "backtest_report.png"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page, errors, requested = open_report(browser, demo)
            # The price chart and its two indicator panes: rsi(14) and return(7d).
            assert page.locator("#price-0 .cartesianlayer .subplot").count() == 3
            assert page.locator("#price-0 .shapelayer path").count() == 3  # 30, 55, -15%
            decision, label, why = hover_and_click(page, "sell (fill)")
            assert decision.startswith("dec-") and f"decision {decision}" in label
            # The fill at 03-14's open beside 03-14's close (the candle closing at 03-15 00:00).
            assert label.startswith("Mar 14, 2023close 24,670.41SELL 0.04935356 at 24,100.21")
            assert why == f"signalops why {decision} --audit reports/banking_crisis_dip/backtest.db"
            page.screenshot(path=str(shot), full_page=True)  # the hover box still showing
            assert errors == []
            assert {url.split(":")[0] for url in requested} == {"file"}

            page, errors, requested = open_report(browser, march)
            decision, label, why = hover_and_click(page, "blocked BUY signal")
            assert "BUY blocked by usdc_outflow" in label and f"decision {decision}" in label
            assert why == f"signalops why {decision} --audit {march.parent / 'backtest.db'}"
            assert errors == []
            assert {url.split(":")[0] for url in requested} == {"file"}
        finally:
            browser.close()

    assert shot.stat().st_size > 50_000
    if not DOCS_SCREENSHOT.exists() or os.environ.get("SIGNALOPS_UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS_SCREENSHOT)
