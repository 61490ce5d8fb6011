"""End to end in a real browser: the dashboard (``streamlit run``, exactly the command line
``signalops dashboard`` runs) on a free local port, headless Chromium
(Debian's, driven by Playwright) logs in, approves the pending trade, and the audit log then
holds the approval record and the paper fill. And ``signalops dashboard --audit
postgresql://...`` on a shared log two runners wrote (a real server): the decisions of both,
with the runner filter.

The approval page opens on the price and RSI up to the decision (a plotly chart the browser
draws), its numbers formatted as the CLI prints them; a click on a row of the decision feed
opens that decision.

Screenshots go to the test's tmp folder. The approval page and its chart are also copied to
``docs/approval_queue.png`` and ``docs/approval_chart.png`` (shown by the README) when a file is
missing or when ``SIGNALOPS_UPDATE_SCREENSHOTS=1``: a test run must not leave the work tree
modified.
"""

# Fixtures come from dashboard_fixtures (see test_app.py for why not a conftest.py).
# ruff: noqa: F811

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dashboard_fixtures import (  # noqa: F401 - fixtures
    NOW,
    OPERATORS_YAML,
    PASSWORD,
    ROOT,
    audit_db,
    copy_log,
    pending,
    prepared_template,
)
from dashboard_pg_fixtures import pg_server, shared_log, shared_template  # noqa: F401 - fixtures

from signalops.audit.store import AuditLog
from signalops.dashboard.api import Settings, launch_command, parse_time

CHROMIUM = Path(os.environ.get("SIGNALOPS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_SCREENSHOT = ROOT / "docs" / "approval_queue.png"
DOCS_CHART = ROOT / "docs" / "approval_chart.png"
# Tall enough for the whole approval page, from the queue to the answer buttons.
VIEWPORT = {"width": 1400, "height": 2450}
# A phone held upright (an iPhone 12 to 16's width in CSS pixels), with a touch screen.
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
# Each text field's label and font size, in px.
FONT_SIZES_JS = (
    "() => Array.from(document.querySelectorAll('input:not([type=radio]), textarea'))"
    ".map(e => [e.getAttribute('aria-label'), parseFloat(getComputedStyle(e).fontSize)])"
)
# How far a block's text runs past its right edge, in px (0: it all shows).
OVERFLOW_JS = "el => el.scrollWidth - el.clientWidth"
# A number with five or more decimals: a float nobody formatted (0.0380766).
RAW_FLOAT = re.compile(r"\d[\d,]*\.\d{5,}")
# The trace types of a plotly chart, as the browser drew it.
TRACES_JS = "el => el.data.map(t => [t.type || 'scatter', t.name])"
STARTUP_SECONDS = 60

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not CHROMIUM.is_file():
    pytest.skip(
        f"no Chromium at {CHROMIUM}: install Debian's (apt-get install chromium) or set "
        "SIGNALOPS_CHROMIUM",
        allow_module_level=True,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the process and everything it started (its own process group)."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the dashboard exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as answer:
                if answer.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the dashboard did not start in {STARTUP_SECONDS}s:\n{log.read_text()}")


@pytest.fixture
def dashboard(
    prepared_template: Path, replay_dir: Path, tmp_path: Path
) -> Iterator[tuple[str, Path]]:
    """The dashboard serving a copy of the prepared log; yields (url, audit path)."""
    # Relative audit path, run from tmp_path: the page shows "signalops.db", not a tmp path.
    audit = copy_log(prepared_template, tmp_path / "signalops.db")
    port = free_port()
    log = tmp_path / "dashboard.log"
    (tmp_path / "signalops.yaml").write_text(OPERATORS_YAML, encoding="utf-8")
    settings = Settings(
        audit=Path("signalops.db"),
        config=Path("signalops.yaml"),  # the operator accounts
        strategies=ROOT / "strategies",
        reports=tmp_path / "reports",
        replay=replay_dir,
        fixed_now=parse_time(NOW),
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SIGNALOPS_")},
        **settings.environment(),
    }
    # The command `signalops dashboard` runs (its option handling is tested in
    # test_cli_dashboard.py); started directly, this test does not pay for a second
    # Python start-up.
    with log.open("wb") as out:
        # Its own process group, so that everything it starts stops with it.
        proc = subprocess.Popen(
            launch_command(port), cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        yield url, audit
    finally:
        stop(proc)


def wait_rendered(page) -> None:
    """Tables and charts load their code lazily: wait until no placeholder is left."""
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0",
        timeout=30_000,
    )


def settled(page, read: Callable[[], str], *parts: str) -> str:
    """``read()`` once it holds every one of ``parts`` (or as it is after 30 s, for the
    assertion to show). A rerun replaces the page's elements one by one, in the script's order:
    the first new one on screen says nothing of those after it, which still show the previous
    run's content for a moment (on a loaded machine, seconds)."""
    deadline = time.monotonic() + 30
    while True:
        text = read()
        if all(part in text for part in parts) or time.monotonic() > deadline:
            return text
        page.wait_for_timeout(200)


def keep(shot: Path, docs: Path) -> None:
    """Copy a screenshot into docs/ when it is missing or when asked to refresh them."""
    if not docs.exists() or os.environ.get("SIGNALOPS_UPDATE_SCREENSHOTS") == "1":
        docs.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, docs)


def test_log_in_and_approve_in_a_real_browser(
    dashboard: tuple[str, Path], pending: tuple[str, str], tmp_path: Path
):
    url, audit = dashboard
    approval_id, decision_id = pending
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(30_000)
            page.goto(url)
            page.get_by_text("1 waiting").wait_for()
            page.get_by_label("Operator name").fill("alice")
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.get_by_text("Logged in as").wait_for()
            # Until the rerun after logging in ends, the logged-out page's disabled note is still
            # on screen beside the new one: the enabled one is the field to wait for and fill.
            note = page.get_by_label("Note (kept in the audit record; required to reject)").and_(
                page.locator("textarea:enabled")
            )
            note.wait_for()
            chart = page.locator(".st-key-approvals-chart")
            plot = chart.locator(".js-plotly-plot")
            plot.locator(".main-svg").first.wait_for()
            wait_rendered(page)
            traces = plot.evaluate(TRACES_JS)
            main = page.locator("[data-testid=stMain]")
            text = settled(page, main.inner_text, "Notional 499.96 USDT at ", "0.34784354")
            queue_shot = tmp_path / "approval_queue.png"
            page.screenshot(path=str(queue_shot))
            chart_shot = tmp_path / "approval_chart.png"
            page.locator(".st-key-approvals-chart").screenshot(path=str(chart_shot))

            note.fill("checked in the browser")
            approve = page.get_by_role("button", name="Approve BUY 0.34784354 ETH")
            approve.and_(page.locator("button:enabled")).click()
            page.get_by_text(f"{approval_id}: FILLED").wait_for()
            page.get_by_text("No approvals pending").wait_for()
            page.screenshot(path=str(tmp_path / "approved.png"))
        finally:
            browser.close()

    with AuditLog(audit) as log:
        followups = log.followups(decision_id)
        fills = log.db.execute("SELECT asset, side FROM paper_fills").fetchall()
    assert [r["kind"] for r in followups] == ["approval", "fill"]
    approval, fill = followups
    assert (approval["approved"], approval["by"], approval["note"]) == (
        True,
        "alice",
        "checked in the browser",
    )
    assert fill["fill"]["asset"] == "ETH"
    assert ("ETH", "BUY") in fills
    # The chart: candles, the order at its price, rsi(14) and the value in the record.
    assert traces == [
        ["candlestick", "ETH"],
        ["scatter", "BUY at 1,437.32 USDT"],
        ["scatter", "rsi(14)"],
        ["scatter", "rsi(14) = 32.09 in the record"],
    ]
    # Numbers as the CLI prints them; the one long number is the order's exact quantity.
    assert "Notional 499.96 USDT at 1,437.32 USDT" in text
    assert set(RAW_FLOAT.findall(text)) == {"0.34784354"}
    assert queue_shot.stat().st_size > 10_000 and chart_shot.stat().st_size > 10_000
    keep(queue_shot, DOCS_SCREENSHOT)
    keep(chart_shot, DOCS_CHART)


def test_a_click_on_a_decision_row_opens_it(dashboard: tuple[str, Path], tmp_path: Path):
    url, _ = dashboard
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1750})
            page.set_default_timeout(30_000)
            page.goto(url)
            page.get_by_text("Decisions", exact=True).click()
            page.get_by_text("10 decisions").wait_for()
            wait_rendered(page)
            grid_rows = page.locator(".st-key-decisions-table [role=grid] tbody [role=row]")
            sync_api.expect(grid_rows).to_have_count(10, timeout=30_000)
            rows = feed(page)
            assert rows[0]["as of"] == "2023-03-16T00:00:00Z"  # the newest is open
            blocked = next(i for i, r in enumerate(rows) if r["verdict"] == "BLOCKED")
            # A click anywhere on the row (here its "what happened" cell) opens it.
            canvas = page.locator(".st-key-decisions-table [data-testid=data-grid-canvas]")
            box = canvas.bounding_box()
            assert box is not None
            row_height = box["height"] / (len(rows) + 1)  # the header, then the rows
            page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + row_height * (blocked + 1.5))
            page.get_by_text("BTC at 2023-03-12T00:00:00Z: BLOCKED").wait_for()
            page.locator(".st-key-decisions-chart .js-plotly-plot .main-svg").first.wait_for()
            # The heading is the first element of the opened decision; its chart, conditions and
            # "why" come after it (until then, the newest decision's are still shown).
            selected = settled(
                page,
                lambda: page.locator(".st-key-decisions-selected").evaluate(
                    "el => el.textContent + ' ' + Array.from(el.querySelectorAll('input'))"
                    ".map(i => i.value).join(' ')"
                ),
                "2023-03-12T00:00:00Z · BTC · BLOCKED · BLOCKED",
            )
            code = page.locator("[data-testid=stCode]").first
            why = settled(page, code.inner_text, "BLOCKS  VETO usdc_outflow")
            page.screenshot(path=str(tmp_path / "decision_opened.png"))
        finally:
            browser.close()
    assert "2023-03-12T00:00:00Z · BTC · BLOCKED · BLOCKED" in selected
    assert "BLOCKS  VETO usdc_outflow" in why


def test_on_a_phone_text_fields_do_not_zoom_and_the_explanation_wraps(
    dashboard: tuple[str, Path], pending: tuple[str, str]
):
    """iOS Safari zooms into a text field under 16 px when it takes focus (Streamlit's were
    14 px), and the approval's logic tree and `signalops why` text ran off the screen's edge
    with no scrollbar to say so. Desktop pages are unchanged (the tests above)."""
    url, _ = dashboard
    veto_line = (
        "clear   VETO usdc_outflow: blocks BUY when this passes or is unknown — "
        "USDC supply falling fast: a run on stablecoins"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(**PHONE).new_page()
            page.set_default_timeout(30_000)
            page.goto(url)
            page.get_by_text("1 waiting").wait_for()
            page.get_by_label("Note (kept in the audit record; required to reject)").wait_for()
            page.locator("input[aria-label='Open approval']").wait_for()  # drawn a moment later
            sizes = page.evaluate(FONT_SIZES_JS)
            tree = page.locator(".st-key-approvals-tree pre")
            tree_text = settled(page, tree.inner_text, "VETO usdc_outflow")
            tree_overflow = tree.evaluate(OVERFLOW_JS)
            page.get_by_text("The whole decision, as").click()
            why = page.locator("[data-testid=stExpander] [data-testid=stCode] pre")
            why_text = settled(page, why.inner_text, veto_line)
            why_overflow = why.evaluate(OVERFLOW_JS)
        finally:
            browser.close()
    assert [label for label, _ in sizes] == [
        "Operator name",
        "Password",
        "Open approval",
        "Note (kept in the audit record; required to reject)",
    ]
    assert [label for label, size in sizes if size < 16] == []
    # Every line shows whole, wrapped where it must, and the text is the same.
    assert (tree_overflow, why_overflow) == (0, 0)
    assert "VETO usdc_outflow: blocks BUY when this passes or is unknown" in tree_text
    assert veto_line in why_text


def sidebar_state(page) -> str:
    """The sidebar's operator section once the page has drawn it: logged in or read-only."""
    sidebar = page.locator("[data-testid=stSidebar]")
    sidebar.get_by_text(re.compile("Logged in as|Read-only until you log in")).wait_for()
    return sidebar.inner_text()


def login_cookie(context, other_than: str = "") -> dict | None:
    """The login cookie the browser holds, once its value is not ``other_than`` (it is written
    a moment after the page shows the login), or None after 10 s."""
    deadline = time.monotonic() + 10
    while True:
        found = [
            c
            for c in context.cookies()
            if c["name"] == "signalops_session" and c["value"] != other_than
        ]
        if found or time.monotonic() > deadline:
            return found[0] if found else None
        time.sleep(0.1)


def test_a_login_survives_a_reload_and_logging_out_ends_it_for_good(
    dashboard: tuple[str, Path], tmp_path: Path
):
    """A phone's pull-to-refresh or a restored tab reloads the page: the login holds (its
    token in a cookie), in a new tab too. Log out ends it in every tab, and a reload is then
    read-only even if the browser sends the old cookie again; a cookie the dashboard did not
    sign is ignored, with no error."""
    url, _ = dashboard
    forged = "v1.YWxpY2U.9999999999." + "A" * 16 + "." + "A" * 43  # alice's, unsigned
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            host = {"domain": "127.0.0.1", "path": "/"}
            context.add_cookies([{"name": "signalops_session", "value": forged, **host}])
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.goto(url)
            before_login = sidebar_state(page)
            page.get_by_label("Operator name").fill("alice")
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.get_by_text("Logged in as").wait_for()
            cookie = login_cookie(context, other_than=forged)
            written_at = time.time()
            assert cookie is not None
            page_html = page.content()

            page.reload()
            after_reload = sidebar_state(page)
            page.screenshot(path=str(tmp_path / "reloaded.png"))
            other_tab = context.new_page()
            other_tab.goto(url)
            in_other_tab = sidebar_state(other_tab)

            page.get_by_role("button", name="Log out").click()
            page.get_by_text("Read-only until you log in.").wait_for()
            # The other tab, untouched: its next refresh (every 5 s) finds the login revoked.
            other_sidebar = other_tab.locator("[data-testid=stSidebar]")
            other_tab_after = settled(
                other_tab, other_sidebar.inner_text, "Read-only until you log in."
            )
            deadline = time.monotonic() + 10
            while login_cookie(context) is not None and time.monotonic() < deadline:
                time.sleep(0.1)
            cleared = login_cookie(context) is None
            page.reload()
            after_logout = sidebar_state(page)
            # The old cookie back, as a browser that missed the logout would send it.
            context.add_cookies([cookie])
            page.reload()
            with_old_cookie = sidebar_state(page)
        finally:
            browser.close()
    assert "Read-only until you log in." in before_login
    assert "Wrong operator name or password" not in before_login
    assert (cookie["path"], cookie["sameSite"], cookie["httpOnly"]) == ("/", "Strict", False)
    assert not cookie["secure"]  # served over http here; over https the script adds Secure
    assert abs(cookie["expires"] - (written_at + 12 * 3600)) < 120  # Max-Age: 12 hours
    assert re.fullmatch(r"v1\.YWxpY2U\.\d+\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{43}", cookie["value"])
    # The script that wrote it took itself off the page; the password was never on it.
    assert cookie["value"] not in page_html and PASSWORD not in page_html
    assert "Logged in as alice" in after_reload
    assert "Logged in as alice" in in_other_tab
    assert "Read-only until you log in." in other_tab_after
    assert cleared
    assert "Read-only until you log in." in after_logout
    assert "Read-only until you log in." in with_old_cookie


@pytest.fixture
def shared_dashboard(shared_log: str, replay_dir: Path, tmp_path: Path) -> Iterator[str]:
    """``signalops dashboard --audit postgresql://...`` (the command itself, which starts
    Streamlit) on this test's copy of the two runners' log; yields its URL."""
    port = free_port()
    log = tmp_path / "dashboard.log"
    command = [
        sys.executable, "-m", "signalops", "dashboard", "--audit", shared_log,
        "--port", str(port), "--strategies", str(ROOT / "strategies"),
        "--reports", str(tmp_path / "reports"), "--replay", str(replay_dir), "--at", NOW,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALOPS_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        yield url
    finally:
        stop(proc)


def feed(page) -> list[dict[str, str]]:
    """The decision feed's rows as the grid shows them (the columns in view)."""
    grid = page.locator(".st-key-decisions-table [role=grid]")
    header = grid.locator("[role=columnheader]").all_inner_texts()
    found = []
    for row in grid.locator("tbody [role=row]").all():
        cells = row.locator("[role=gridcell]").all_inner_texts()
        assert len(cells) == len(header), (header, cells)
        found.append(dict(zip(header, cells, strict=True)))
    return found


def test_a_shared_postgresql_log_shows_both_runners_and_filters_by_runner(
    shared_dashboard: str, tmp_path: Path
):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1750})
            page.set_default_timeout(30_000)
            page.goto(shared_dashboard)
            page.get_by_text("1 waiting").wait_for()  # desk-2's ETH BUY
            page.get_by_text("Decisions", exact=True).click()
            page.get_by_text("10 decisions").wait_for()
            # The caption comes first, the grid's rows a moment later (a loaded machine: seconds).
            rows_shown = page.locator(".st-key-decisions-table [role=grid] tbody [role=row]")
            sync_api.expect(rows_shown).to_have_count(10, timeout=30_000)
            wait_rendered(page)
            page.screenshot(path=str(tmp_path / "shared_decisions.png"))
            rows = feed(page)
            assert len(rows) == 10
            assert {(r["asset"], r["runner"]) for r in rows} == {
                ("BTC", "desk-1"),
                ("ETH", "desk-2"),
            }

            page.locator(".st-key-decisions-runner").click()
            # The list opens a moment after the click: read it once it is there.
            options = page.get_by_role("option")
            sync_api.expect(options).to_have_text(["(all)", "desk-1", "desk-2"])
            page.get_by_role("option", name="desk-2").click()
            page.get_by_text("1 decision", exact=True).wait_for()
            sync_api.expect(rows_shown).to_have_count(1, timeout=30_000)
            wait_rendered(page)
            page.screenshot(path=str(tmp_path / "shared_desk_2.png"))
            (eth,) = feed(page)
            assert (eth["asset"], eth["runner"], eth["verdict"]) == ("ETH", "desk-2", "BUY")
        finally:
            browser.close()
