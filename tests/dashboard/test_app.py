"""Every page of the dashboard through Streamlit's own test harness, on a prepared audit log.

The log is made by real runs on replayed real data (see ``dashboard_fixtures``); answers go
through ``signalops.pipeline.approvals.answer`` and are checked in the audit log itself.
"""

# Fixtures come from dashboard_fixtures (a second conftest.py would shadow tests/conftest.py,
# which other tests import by name), so their parameters "redefine" the imported names.
# ruff: noqa: F811

from __future__ import annotations

import html
import json
import logging
import re
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import invoke
from dashboard_fixtures import (  # noqa: F401 - fixtures
    APP,
    NOW,
    OPERATORS_YAML,
    PAPER_STRATEGY,
    PASSWORD,
    PASSWORD_HASH,
    audit_db,
    dashboard_env,
    pending,
    prepared_template,
    run_cli,
    settle,
    strategies_dir,
)
from PIL import Image
from streamlit.testing.v1 import AppTest

from signalops.audit import why
from signalops.audit.expand import expanded
from signalops.audit.store import AuditLog
from signalops.audit.verify import verify
from signalops.dashboard import state
from signalops.dashboard.accounts import (
    MIN_ITERATIONS,
    LoginGuard,
    hash_password,
    install_guard,
)
from signalops.dashboard.api import Settings
from signalops.dashboard.verification import verifier_for
from signalops.errors import AuditNotFound

pytestmark = pytest.mark.usefixtures("dashboard_env")


# --- driving the app -------------------------------------------------------------------------


def start() -> AppTest:
    # Generous timeout: the first run in a process imports Streamlit and the adapters.
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def go(at: AppTest, page: str) -> AppTest:
    at.sidebar.radio(key="nav.page").set_value(page).run()
    assert not at.exception, at.exception
    return at


def login(at: AppTest, name: str = "alice", password: str = PASSWORD) -> AppTest:
    at.text_input(key="access.name").input(name)
    at.text_input(key="access.password").input(password)
    at.button(key="access.submit").click().run()
    assert not at.exception, at.exception
    return at


def answer_button(at: AppTest, verb: str) -> Any:
    """The Approve or Reject button of the approval open now (keyed by its id)."""
    (found,) = [b for b in at.button if b.key and b.key.startswith(f"approvals.{verb}.")]
    return found


def answer(at: AppTest, verb: str, note: str = "") -> AppTest:
    if note:
        (area,) = [a for a in at.text_area if a.key and a.key.startswith("approvals.note.")]
        area.input(note)
    answer_button(at, verb).click().run()
    assert not at.exception, at.exception
    return at


def values(elements: Any) -> list[str]:
    return [element.value for element in elements]


def joined(elements: Any) -> str:
    return "\n".join(values(elements))


def records(db: Path) -> list[dict[str, Any]]:
    with AuditLog(db) as log:
        return list(log.records())


def rows(at: AppTest, key: str) -> list[dict[str, Any]]:
    (frame,) = at.get_by_key(key).dataframe
    return frame.value.to_dict("records")


def plotly_traces(at: AppTest, key: str) -> list[tuple[str, str]]:
    """(type, name) of each trace of the plotly chart in the container ``key``."""
    (chart,) = at.get_by_key(key).get("plotly_chart")
    figure = json.loads(chart.proto.spec)
    return [(trace.get("type", "scatter"), trace.get("name", "")) for trace in figure["data"]]


RAW_FLOAT = re.compile(r"\d\.\d{5,}")  # 0.0380766: a number nobody formatted


def raw_floats(at: AppTest, keys: list[str], quantities: set[str]) -> list[str]:
    """Numbers with five or more decimals in the tables ``keys`` and the metric cards; an
    order's quantity is exact by design (``0.34784354`` ETH is what is bought), so the
    ``quantities`` are left out."""
    cells = [str(v) for key in keys for row in rows(at, key) for v in row.values()]
    cells += [m.value for m in at.metric]
    return [c for c in cells if RAW_FLOAT.search(c) and c not in quantities]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- first run ---------------------------------------------------------------------------------


def test_every_page_on_a_missing_log_says_how_to_fill_it_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    missing = tmp_path / "nothing-yet.db"
    monkeypatch.setenv("SIGNALOPS_AUDIT", str(missing))
    at = start()
    for page in ("Approval queue", "Decisions", "Portfolio", "Audit integrity"):
        go(at, page)
        assert values(at.main.warning) == [f"{missing}: no such audit log"], page
        assert "No decisions recorded yet" in joined(at.info), page
        assert "signalops run strategies/banking_crisis_dip.yaml" in joined(at.info)
    assert not missing.exists()


def test_the_reader_of_a_missing_log_says_so_and_creates_nothing(tmp_path: Path):
    missing = tmp_path / "typo" / "nope.db"
    settings = Settings(audit=missing, config=None, strategies=tmp_path, reports=tmp_path)

    with pytest.raises(AuditNotFound) as info:
        state.open_reader(settings)

    assert str(info.value) == f"{missing}: no such audit log"
    assert state.reader(settings) is None
    assert not missing.parent.exists()


def test_a_file_that_is_not_an_audit_log_is_named_on_every_page_and_left_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "data").mkdir()
    csv = tmp_path / "data" / "some.csv"
    csv.write_bytes(b"time,asset,price\n2023-03-10,BTC,20000\n")
    monkeypatch.setenv("SIGNALOPS_AUDIT", str(csv))
    at = start()
    for page in ("Approval queue", "Decisions", "Audit integrity"):
        go(at, page)
        assert values(at.main.error) == [
            f"{csv}: not a SignalOps audit log (file is not a database)"
        ], page
    assert csv.read_bytes() == b"time,asset,price\n2023-03-10,BTC,20000\n"
    assert [p.name for p in csv.parent.iterdir()] == ["some.csv"]


def test_an_empty_log_file_gets_the_first_run_message_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    empty = tmp_path / "empty.db"
    AuditLog(empty).close()
    monkeypatch.setenv("SIGNALOPS_AUDIT", str(empty))
    at = start()
    assert "No decisions recorded yet" in joined(at.info)


# --- the approval queue ------------------------------------------------------------------------


def test_the_queue_shows_size_age_expiry_and_the_tree_vetoes_and_risk_checks(
    pending: tuple[str, str], audit_db: Path
):
    approval_id, decision_id = pending
    at = start()
    assert [h.value for h in at.header] == ["Approval queue"]
    assert rows(at, "approvals.table") == [
        {
            "approval": approval_id,
            "asset": "ETH",
            "side": "BUY",
            "size": "0.34784354",
            "price": "1,437.32 USDT",
            "notional": "499.96 USDT",
            "strategy": "ETH_Crisis_Pipeline",
            "age": "5m",
            "expires in": "10m",
        }
    ]
    # On a phone only the first columns show: what a trader weighs first.
    assert list(rows(at, "approvals.table")[0])[:5] == [
        "side", "asset", "size", "notional", "expires in",
    ]  # fmt: skip
    assert "1 trade(s) waiting for approval" in joined(at.sidebar.warning)
    # The tree as the terminal draws it, colours included (rich's own HTML export).
    (tree,) = at.get_by_key("approvals.tree").get("html")
    shown = html.unescape(re.sub(r"<[^>]+>", "", tree.value)).strip()
    with AuditLog(audit_db) as log:
        trace = expanded(log.get(decision_id), log)["trace"]  # type: ignore[arg-type]
    assert shown == "\n".join(line.plain for line in why.trees(trace))
    assert "└── PASS    rule rsi_oversold [technical]: all of" in shown
    assert '<span style="color: #008000' in tree.value  # PASS in green
    leaves = rows(at, "approvals.leaves")
    assert [(leaf["condition"], leaf["status"]) for leaf in leaves] == [
        ("rsi(14) < 35", "PASS"),
        ("rsi(14) > 55", "FAIL"),
        ("stablecoin_net_flow('USDC', 2d) < -1B", "FAIL"),
    ]
    assert leaves[0]["data time"] == "2023-03-10T00:00:00Z"
    assert leaves[0]["threshold"] == "< 35"
    assert rows(at, "approvals.vetoes")[0] | {"description": ""} == {
        "veto": "usdc_outflow",
        "blocks": "BUY",
        "state": "clear",
        "status": "FAIL",
        "description": "",
    }
    risk = {r["check"]: r["result"] for r in rows(at, "approvals.risk")}
    assert risk["KILL_SWITCH"] == "PASS" and risk["COOLDOWN"] == "PASS"
    # The full story is exactly what `signalops why` prints.
    cli_why = run_cli("why", decision_id, "--audit", str(audit_db)).stdout
    assert at.code[0].value + "\n" == cli_why


def test_an_open_approval_shows_the_price_and_rsi_up_to_the_decision_first(
    pending: tuple[str, str],
):
    at = start()
    assert plotly_traces(at, "approvals.chart") == [
        ("candlestick", "ETH"),
        ("scatter", "BUY at 1,437.32 USDT"),
        ("scatter", "rsi(14)"),
        ("scatter", "rsi(14) = 32.09 in the record"),
    ]
    (caption,) = at.get_by_key("approvals.chart").caption
    assert caption.value.startswith("Candles from replayed snapshots, each at its close;")
    # Before the tree, the vetoes, the risk checks and the answer buttons.
    order = [m.value for m in at.main.markdown]
    notional = next(i for i, text in enumerate(order) if text.startswith("Notional"))
    tree = next(i for i, text in enumerate(order) if text.startswith("**The logic tree**"))
    assert notional < tree
    assert order[notional].startswith("Notional **499.96 USDT** at **1,437.32 USDT** · ")


def test_an_approval_without_recorded_candles_says_so_and_shows_the_rest(
    pending: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    empty = tmp_path / "no-candles"
    empty.mkdir()
    monkeypatch.setenv("SIGNALOPS_REPLAY", str(empty))
    at = start()
    (message,) = at.get_by_key("approvals.chart").info
    # The adapter's own words, with how to get the data.
    assert message.value.startswith(
        "No price chart for ETH: technical: no recorded 1d candles for ETH/USDT on binance: "
    )
    assert "signalops data import FILE --source technical --asset ETH/USDT" in message.value
    assert not at.get_by_key("approvals.chart").get("plotly_chart")
    assert [leaf["status"] for leaf in rows(at, "approvals.leaves")] == ["PASS", "FAIL", "FAIL"]


def test_an_approval_whose_tree_the_log_does_not_store_says_why_and_shows_the_rest(
    pending: tuple[str, str], audit_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    approval_id, decision_id = pending
    # The same decision appended through the API alone, without its strategy: the log holds
    # the record but not the tree its trace is re-derived from.
    bare = tmp_path / "bare.db"
    with AuditLog(audit_db) as source:
        stored = source.get(decision_id)
    assert stored is not None
    with AuditLog(bare) as log:
        log.append({k: v for k, v in stored.items() if k not in ("seq", "hash", "prev_hash")})
        assert log.tree_document(stored["strategy"]["tree"]) is None
    monkeypatch.setenv("SIGNALOPS_AUDIT", str(bare))
    at = login(start())
    assert [row["approval"] for row in rows(at, "approvals.table")] == [approval_id]
    (gap,) = [w.value for w in at.warning if "logic tree" in w.value]
    assert gap.startswith("**No logic tree to show**: tree not stored in the log (the record ")
    assert not _has(at, "approvals.tree") and not _has(at, "approvals.leaves")
    assert {r["check"]: r["result"] for r in rows(at, "approvals.risk")}["KILL_SWITCH"] == "PASS"
    # The story is still what `signalops why` prints (which then warns, on stderr, that the
    # record does not verify, and exits 1).
    cli_why = invoke("why", decision_id, "--audit", str(bare))
    assert cli_why.exit_code == 1 and "does not verify" in cli_why.stderr
    assert at.code[0].value + "\n" == cli_why.stdout
    assert "WARNING: its tree cannot be derived: the log does not store the tree" in cli_why.stdout
    answer(at, "reject", note="cannot see why it wants this")
    assert f"**{approval_id}: REJECTED**" in joined(at.warning)
    assert [r["kind"] for r in records(bare)] == ["decision", "approval"]


def test_the_risk_checks_read_in_their_units(pending: tuple[str, str]):
    at = start()
    checks = {row["check"]: row for row in rows(at, "approvals.risk")}
    assert (checks["MAX_POSITION"]["actual"], checks["MAX_POSITION"]["limit"]) == (
        "5.00%",
        "10.00%",
    )
    assert checks["MAX_NOTIONAL"]["limit"] == "10,000.00 USDT"
    assert raw_floats(at, ["approvals.table", "approvals.risk"], {"0.34784354"}) == []


def test_without_operator_accounts_in_the_config_the_dashboard_is_read_only(
    audit_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "signalops.yaml").write_text("paper: {starting_cash: 10000}\n")
    # The shared password of old is not a way in any more.
    monkeypatch.setenv("SIGNALOPS_DASHBOARD_PASSWORD", PASSWORD)
    at = start()
    assert "Read-only: no operator accounts in the config (dashboard.operators)" in joined(
        at.sidebar.info
    )
    assert not [t for t in at.text_input if t.key == "access.password"]
    assert answer_button(at, "approve").disabled
    assert answer_button(at, "reject").disabled
    assert "Read-only: log in as operator" in joined(at.info)


def test_a_name_capitalised_by_a_phone_keyboard_logs_in_as_the_configured_one(
    pending: tuple[str, str], audit_db: Path
):
    """ "Alice" (an iPhone's keyboard capitalises the first letter) was a wrong name."""
    at = login(start(), name="Alice")
    assert "Logged in as **alice**" in joined(at.sidebar.success)
    answer(at, "approve", note="from the phone")
    approval = records(audit_db)[-2]
    assert (approval["kind"], approval["by"]) == ("approval", "alice")


def test_a_wrong_password_keeps_it_read_only(audit_db: Path):
    at = login(start(), password="guess")
    assert values(at.sidebar.error) == ["Wrong operator name or password."]
    assert answer_button(at, "approve").disabled
    assert "Read-only until you log in." in joined(at.sidebar.warning)


def kept_passwords(at: AppTest, *passwords: str) -> list[str]:
    """Those of ``passwords`` the session state still holds, under any key."""
    held = [at.session_state.get("access.password"), *at.session_state.values()]
    return [p for p in passwords if p in held]


def test_a_typed_password_leaves_the_session_state_once_checked(
    audit_db: Path, dashboard_env: dict[str, str]
):
    """Regression: after a failed login the password stayed in the session state (the login
    form's field) until the next rerun; it is taken out as soon as the attempt is checked,
    whether it fails or logs in."""
    clock = FakeClock()  # the retry after a failure need not wait for the guard's delay
    install_guard(str(Path(dashboard_env["SIGNALOPS_CONFIG"]).resolve()), LoginGuard(clock=clock))
    at = login(start(), password="wrong guess")
    assert values(at.sidebar.error) == ["Wrong operator name or password."]
    assert kept_passwords(at, "wrong guess") == []
    clock.now += 60
    login(at, password=PASSWORD)
    assert "Logged in as **alice**" in joined(at.sidebar.success)
    assert kept_passwords(at, "wrong guess", PASSWORD) == []


def test_a_name_without_an_account_cannot_log_in_even_with_a_valid_password(audit_db: Path):
    at = login(start(), name="CEO (not really)")
    assert values(at.sidebar.error) == ["Wrong operator name or password."]
    assert answer_button(at, "approve").disabled
    # No field anywhere to type the name recorded with an answer: it is the login's.
    assert [t.key for t in at.text_input] == ["access.name", "access.password"]


def test_guessing_is_slowed_then_locked_and_each_failure_logged(
    audit_db: Path, dashboard_env: dict[str, str], caplog: pytest.LogCaptureFixture
):
    clock = FakeClock()
    install_guard(str(Path(dashboard_env["SIGNALOPS_CONFIG"]).resolve()), LoginGuard(clock=clock))
    at = start()
    with caplog.at_level(logging.WARNING, logger="signalops.dashboard"):
        login(at, password="guess-0")
        assert values(at.sidebar.error) == ["Wrong operator name or password."]
        login(at, password=PASSWORD)  # at once: not even looked at
        assert values(at.sidebar.error) == ["Too many failed logins: wait 1s and try again."]
        for n in range(1, 5):
            clock.now += 60
            login(at, password=f"guess-{n}")
        assert values(at.sidebar.error) == ["Too many failed logins for alice: locked for 1 min."]
        clock.now += 30
        login(at, password=PASSWORD)
        assert values(at.sidebar.error) == ["Too many failed logins for alice: locked for 30s."]
    assert answer_button(at, "approve").disabled
    failures = [r.getMessage() for r in caplog.records if "login failed" in r.getMessage()]
    assert len(failures) == 5 and all("operator 'alice'" in m for m in failures)
    assert not [r for r in caplog.records if "guess" in r.getMessage()]
    clock.now += 30
    login(at, password=PASSWORD)
    assert "Logged in as **alice**" in joined(at.sidebar.success)


def narrow_screen_styles(at: AppTest) -> dict[str, dict[str, str]]:
    """selector -> its declarations, of the app's ``@media`` stylesheet (the one there is)."""
    (css,) = [h.proto.body for h in at.get("html") if "@media" in h.proto.body]
    found = re.fullmatch(r"<style>\s*@media ([^{]+)\{(.*)\}\s*</style>", css, re.DOTALL)
    assert found is not None, css
    media, rules = found.groups()
    assert "(max-width: 640px)" in media  # Streamlit's own narrow-screen width
    styles = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", rules):
        declarations = dict(
            (part.strip() for part in d.split(":", 1)) for d in body.split(";") if d.strip()
        )
        styles.update({selector.strip(): declarations for selector in selectors.split(",")})
    return styles


def test_on_a_narrow_screen_text_fields_are_16px_and_the_explanation_wraps(audit_db: Path):
    """iOS Safari zooms into a text field under 16 px when it takes focus (Streamlit draws
    them at 14 px), and a phone shows no scrollbar on a block that scrolls sideways. What a
    phone then shows is test_browser's; this is what every run asks the browser for."""
    styles = narrow_screen_styles(start())
    for field in (".stApp input", ".stApp textarea"):
        assert float(styles[field]["font-size"].split("px")[0]) >= 16
    for block in ('.stApp [data-testid="stCode"] code', '.stApp [data-testid="stHtml"] pre'):
        assert styles[block]["white-space"] == "pre-wrap !important"


def test_approving_with_the_password_rechecks_fills_on_paper_and_records_who(
    pending: tuple[str, str], audit_db: Path
):
    approval_id, _ = pending
    at = login(start(), name="alice")
    assert "Logged in as **alice**" in joined(at.sidebar.success)
    assert not answer_button(at, "approve").disabled
    answer(at, "approve", note="checked the news")
    assert joined(at.success).startswith(
        f"**{approval_id}: FILLED** — paper BUY 0.34784354 ETH at "
    )
    assert "No approvals pending" in joined(at.success)
    kept = records(audit_db)
    assert [r["kind"] for r in kept][-3:] == ["decision", "approval", "fill"]
    approval, fill = kept[-2], kept[-1]
    assert (approval["by"], approval["note"], approval["approved"]) == (
        "alice",
        "checked the news",
        True,
    )
    assert approval["recorded_at"] == NOW
    assert approval["recheck"]["verdict"] == "BUY" and approval["recheck"]["risk"]["approved"]
    assert fill["fill"]["asset"] == "ETH" and fill["fill"]["quantity"] == "0.34784354"
    with AuditLog(audit_db) as log:
        assert verify(log).ok


def test_rejecting_needs_a_note_then_records_it_and_executes_nothing(
    pending: tuple[str, str], audit_db: Path
):
    approval_id, decision_id = pending
    at = login(start(), name="carol")
    answer(at, "reject")
    assert joined(at.error) == (
        f"**{approval_id}: NOT REJECTED** — say why you reject it: the note is kept in the "
        "audit record"
    )
    at.run()  # a refresh keeps saying it (it was drawn in the one run after the tap)
    assert "say why you reject it" in joined(at.error)
    assert [r["kind"] for r in records(audit_db)][-1] == "decision"
    answer(at, "reject", note="FOMC in an hour")
    assert f"**{approval_id}: REJECTED** — FOMC in an hour" in joined(at.warning)
    last = records(audit_db)[-1]
    assert (last["kind"], last["approved"], last["by"], last["note"]) == (
        "approval",
        False,
        "carol",
        "FOMC in an hour",
    )
    assert not [
        r for r in records(audit_db) if r["kind"] == "fill" and r["decision_id"] == decision_id
    ]


def test_an_expired_approval_says_so_and_answering_records_the_expiry(
    pending: tuple[str, str], audit_db: Path, monkeypatch: pytest.MonkeyPatch
):
    approval_id, _ = pending
    monkeypatch.setenv("SIGNALOPS_NOW", "2023-03-10T00:20:00Z")
    at = login(start())
    assert rows(at, "approvals.table")[0]["expires in"] == "EXPIRED"
    assert "expired at 2023-03-10T00:15:00Z" in joined(at.warning)
    # Counted as the sidebar counts (it said "1 waiting" beside a sidebar with none).
    assert "**0 waiting**, 1 expired (soonest expiry first)" in joined(at.markdown)
    assert not at.sidebar.warning
    answer(at, "approve")
    # What was asked for cannot be done any more: a warning, not an error.
    assert f"**{approval_id}: EXPIRED** — expired at 2023-03-10T00:15:00Z" in joined(at.warning)
    assert [r["kind"] for r in records(audit_db)][-2:] == ["decision", "expiry"]


def test_an_approval_whose_recheck_fails_is_recorded_and_nothing_executes(
    pending: tuple[str, str], audit_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    approval_id, _ = pending
    # The operator pulled the kill switch after the decision was made.
    (tmp_path / "HALT").write_text("")
    config = tmp_path / "signalops.yaml"
    config.write_text(f"kill_switch: HALT\naudit: {{path: {audit_db}}}\n{OPERATORS_YAML}")
    monkeypatch.setenv("SIGNALOPS_CONFIG", str(config))
    at = login(start(), name="alice")
    answer(at, "approve")
    assert f"**{approval_id}: RECHECK_FAILED** — re-check failed: KILL_SWITCH" in joined(at.error)
    last = records(audit_db)[-1]
    assert (last["kind"], last["approved"], last["by"]) == ("approval", True, "alice")
    assert last["outcome"] == {"status": "NOT_EXECUTED"}
    assert "No approvals pending" in joined(at.success)


def test_logging_out_makes_it_read_only_again(audit_db: Path):
    at = login(start())
    at.button(key="access.logout").click().run()
    assert answer_button(at, "approve").disabled


def test_a_new_password_in_the_config_logs_out_the_open_session(
    dashboard_env: dict[str, str], audit_db: Path
):
    at = login(start())
    assert "Logged in as **alice**" in joined(at.sidebar.success)
    new_hash = hash_password("a new password, typed", iterations=MIN_ITERATIONS)
    config = Path(dashboard_env["SIGNALOPS_CONFIG"])
    config.write_text(OPERATORS_YAML.replace(PASSWORD_HASH, new_hash, 1), encoding="utf-8")
    at.run()  # alice's account changed (carol's did not): her login ends at the next run
    assert "Logged in as" not in joined(at.sidebar.success)
    assert values(at.sidebar.warning)[-1] == "Read-only until you log in."
    assert answer_button(at, "approve").disabled


# --- decisions ---------------------------------------------------------------------------------


def test_the_feed_lists_every_evaluation_and_filters(audit_db: Path):
    at = go(start(), "Decisions")
    feed = rows(at, "decisions.table")
    assert len(feed) == 10  # 9 paper days + the notify decision
    assert {r["verdict"] for r in feed} == {"BUY", "SELL", "HOLD", "BLOCKED"}
    assert {r["outcome"] for r in feed} >= {"HOLD", "BLOCKED", "DENIED", "FILLED"}
    at.selectbox(key="decisions.asset").set_value("BTC").run()
    assert {r["asset"] for r in rows(at, "decisions.table")} == {"BTC"}
    at.selectbox(key="decisions.verdict").set_value("BLOCKED").run()
    blocked = rows(at, "decisions.table")
    assert [(r["as of"], r["verdict"]) for r in blocked] == [("2023-03-12T00:00:00Z", "BLOCKED")]
    assert "BLOCKED by veto usdc_outflow" in blocked[0]["what happened"]
    at.selectbox(key="decisions.verdict").set_value("(all)").run()
    at.date_input(key="decisions.since").set_value(date(2023, 3, 10)).run()
    at.date_input(key="decisions.until").set_value(date(2023, 3, 11)).run()
    assert [r["as of"][:10] for r in rows(at, "decisions.table")] == ["2023-03-11", "2023-03-10"]
    at.selectbox(key="decisions.asset").set_value("(all)").run()
    at.selectbox(key="decisions.strategy").set_value("ETH_Crisis_Pipeline").run()
    assert [r["outcome"] for r in rows(at, "decisions.table")] == ["PENDING_APPROVAL"]


def test_the_detail_view_is_what_signalops_why_prints(audit_db: Path):
    at = go(start(), "Decisions")
    blocked = next(r for r in rows(at, "decisions.table") if r["verdict"] == "BLOCKED")
    at.selectbox(key="decisions.selected").set_value(blocked["decision"]).run()
    cli_why = run_cli("why", blocked["decision"], "--audit", str(audit_db)).stdout
    assert at.code[0].value + "\n" == cli_why
    assert "BLOCKS  VETO usdc_outflow" in at.code[0].value


def test_the_decision_detail_charts_the_price_with_the_decision_marked(audit_db: Path):
    at = go(start(), "Decisions")
    sold = next(r for r in rows(at, "decisions.table") if r["outcome"] == "FILLED" and
                r["verdict"] == "SELL")  # fmt: skip
    assert sold["notional"] == "592.11 USDT"
    at.selectbox(key="decisions.selected").set_value(sold["decision"]).run()
    assert plotly_traces(at, "decisions.chart") == [
        ("candlestick", "BTC"),
        ("scatter", "SELL at 24,113.48 USDT"),
        ("scatter", "rsi(14)"),
        ("scatter", "rsi(14) = 60.48 in the record"),
    ]
    sizes = {row["size"] for row in rows(at, "decisions.table")}
    assert raw_floats(at, ["decisions.table", "decisions.leaves"], sizes) == []


def test_a_refresh_keeps_the_page_filters_and_selection_and_shows_new_records(
    audit_db: Path, replay_dir: Path
):
    at = go(start(), "Decisions")
    at.selectbox(key="decisions.asset").set_value("BTC").run()
    chosen = rows(at, "decisions.table")[3]["decision"]
    at.selectbox(key="decisions.selected").set_value(chosen).run()
    run_cli(
        "run", str(PAPER_STRATEGY), "--mode", "paper", "--replay", str(replay_dir),
        "--from", "2023-03-17", "--audit", str(audit_db),
    )  # fmt: skip
    at.run()  # what the timer does, and more: the whole script again
    assert at.sidebar.radio(key="nav.page").value == "Decisions"
    assert at.selectbox(key="decisions.asset").value == "BTC"
    assert at.selectbox(key="decisions.selected").value == chosen
    feed = rows(at, "decisions.table")
    assert len(feed) == 10 and feed[0]["as of"] == "2023-03-17T00:00:00Z"


# --- portfolio ---------------------------------------------------------------------------------


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_portfolio_shows_positions_cash_pnl_and_the_fills_up_to_now(audit_db: Path):
    at = go(start(), "Portfolio")
    shown = metrics(at)
    assert set(shown) >= {f"{m} (USDT)" for m in ("Equity", "Cash", "PnL", "Realised")}
    (position,) = rows(at, "portfolio.positions")
    assert position["asset"] == "BTC"
    assert [f["side"] for f in rows(at, "portfolio.fills")] == ["BUY"]
    assert at.get("vega_lite_chart")  # the equity line


def test_the_portfolio_after_the_round_trip_has_realised_pnl_and_no_position(
    audit_db: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SIGNALOPS_NOW", "2023-03-17T00:00:00Z")
    at = go(start(), "Portfolio")
    assert [f["side"] for f in rows(at, "portfolio.fills")] == ["SELL", "BUY"]
    assert "No open positions." in values(at.markdown)
    assert metrics(at)["Realised (USDT)"] == "90.48"


# --- strategies --------------------------------------------------------------------------------


def test_strategies_show_validation_status_with_line_numbers_and_the_tree(
    strategies_dir: Path,
):
    at = go(start(), "Strategies")
    table = {Path(r["file"]).name: r for r in rows(at, "strategies.table")}
    assert table["banking_crisis_dip.yaml"]["status"] == "valid"
    assert table["zz_broken.yaml"]["status"].startswith("INVALID")
    files = len(list(strategies_dir.glob("*.yaml")))  # the examples (as many as there are) + 1
    assert f"1 of {files} strategy files do not load" in joined(at.error)
    broken = str(strategies_dir / "zz_broken.yaml")
    assert any(e.value.startswith(f"{broken}:9:11: ") and "treshold" in e.value for e in at.error)
    # Streamlit's own icons, not emoji (a box where the system has no emoji font).
    icons = {Path(e.label.split(" — ")[0]).name: e.icon for e in at.expander}
    assert icons["banking_crisis_dip.yaml"] == ":material/check_circle:"
    assert icons["zz_broken.yaml"] == ":material/error:"
    assert not [
        e.label for e in at.expander if re.search("[\u2600-\u27bf\U0001f300-\U0001faff]", e.label)
    ]
    trees = joined(at.code)
    assert "rule rsi_oversold [technical]: all of" in trees
    assert "VETO usdc_outflow" in trees


def _wide(n: int) -> str:
    lines = [
        "strategy:", '  name: "Wide"', '  assets: ["BTC"]', "  rules:", "    - id: wide",
        "      source: technical", "      conditions:", "        - at_least:", "            n: 2",
        "            of:",
        *(f'              - when: "rsi({i % 50 + 2}) < {i % 90 + 5}"' for i in range(n)),
        "  execution:", "    position_size: 0.01", "    action_mode: paper",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def _deep(depth: int) -> str:
    return "strategy:\n  params:\n    p: " + "[" * depth + "1" + "]" * depth + "\n"


def test_the_strategies_page_survives_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = tmp_path / "hostile"
    folder.mkdir()
    huge = "strategy:\n  params:\n" + "".join(f"    p{i}: {i}\n" for i in range(100_000))
    (folder / "a_huge.yaml").write_text(huge)
    (folder / "b_deep.yaml").write_text(_deep(300))
    (folder / "c_binary.yaml").write_bytes(bytes(range(256)) * 8)
    (folder / "d_wide.yaml").write_text(_wide(3000))
    monkeypatch.setenv("SIGNALOPS_STRATEGIES", str(folder))
    at = go(start(), "Strategies")
    table = {Path(r["file"]).name: r for r in rows(at, "strategies.table")}
    assert table["d_wide.yaml"]["status"] == "valid"
    assert table["d_wide.yaml"]["tree"] == "1 entry, 0 exit rules, 0 vetoes, 3000 conditions"
    assert [table[f"{n}.yaml"]["status"] for n in ("a_huge", "b_deep", "c_binary")] == [
        "INVALID (1 errors)"
    ] * 3
    errors = values(at.error)
    assert errors[0] == "3 of 4 strategy files do not load: see below."
    assert errors[1] == (
        f"{folder / 'a_huge.yaml'}: {len(huge):,} bytes is over the 524,288-byte limit for a "
        "strategy file"
    )
    assert errors[2].startswith(f"{folder / 'b_deep.yaml'}:")
    assert errors[3].startswith(f"{folder / 'c_binary.yaml'}: not UTF-8 text")
    assert len(errors) == 4 and all("\n" not in e for e in errors)


# --- backtests ---------------------------------------------------------------------------------


def test_backtests_without_reports_say_how_to_make_one():
    at = go(start(), "Backtests")
    assert "No backtest reports" in joined(at.info)


def test_backtests_list_reports_with_metrics_and_charts(dashboard_env: dict[str, str]):
    report = Path(dashboard_env["SIGNALOPS_REPORTS"]) / "banking_crisis_2023-03"
    report.mkdir(parents=True)
    metrics_json = {"total_return": 0.042, "trades": 2, "monthly": {"2023-03": 0.042}}
    (report / "metrics.json").write_text(json.dumps(metrics_json))
    Image.new("RGB", (40, 20), "white").save(report / "equity.png")
    at = go(start(), "Backtests")
    assert at.selectbox(key="backtests.selected").value == "banking_crisis_2023-03"
    # Numbers as `signalops backtest` prints them, not as floats.
    assert rows(at, "backtests.metrics") == [
        {"metric": "total return", "value": "+4.20%"},
        {"metric": "trades", "value": "2"},
    ]
    assert at.get("image")  # the chart


def cli_table(stdout: str) -> dict[str, list[str]]:
    """``signalops backtest``'s side-by-side table: label -> its cells."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("metric "))
    width = len(re.split(r"\s{2,}", lines[start].strip()))
    found = {}
    for line in lines[start + 2 :]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) != width:
            break
        found[cells[0]] = cells[1:]
    return found


def test_a_backtest_report_reads_as_the_cli_printed_it(
    dashboard_env: dict[str, str], replay_dir: Path
):
    report = Path(dashboard_env["SIGNALOPS_REPORTS"]) / "banking_crisis_2023-03"
    printed = invoke(
        "backtest", str(PAPER_STRATEGY), "--data", str(replay_dir), "--from", "2023-03-01",
        "--to", "2023-03-31", "--report", str(report),
    )  # fmt: skip
    assert printed.exit_code == 0, printed.output
    cli = cli_table(printed.stdout)
    at = go(start(), "Backtests")

    shown = {row.pop("metric"): list(row.values()) for row in rows(at, "backtests.comparison")}
    both = [label for label in cli if label in shown]
    assert both[:6] == ["total return", "CAGR", "max drawdown", "drawdown peak",
                        "drawdown trough", "recovered"]  # fmt: skip
    assert {"Sharpe", "Sortino", "win rate [95% CI]", "exposure", "end equity (USDT)"} <= set(both)
    assert {label: shown[label] for label in both} == {label: cli[label] for label in both}
    cards = {m.label: m.value for m in at.metric}
    assert cards["Total return"] == cli["total return"][0]
    assert cards["Sortino"] == cli["Sortino"][0]
    assert cards["End equity (USDT)"] == cli["end equity (USDT)"][0]
    tables_shown = [key for key in ("backtests.comparison", "backtests.extended",
                    "backtests.tail_risk", "backtests.monthly", "backtests.metrics")
                    if _has(at, key)]  # fmt: skip
    assert raw_floats(at, tables_shown, set()) == []


def _has(at: AppTest, key: str) -> bool:
    try:
        at.get_by_key(key)
    except KeyError:
        return False
    return True


# --- audit integrity ---------------------------------------------------------------------------


def test_an_intact_chain_is_reported(audit_db: Path):
    at = start()
    settle(audit_db)
    go(at, "Audit integrity")
    assert "**Chain intact**: 12 records verified" in joined(at.success)


def test_a_tampered_log_is_shown_prominently_on_every_page(audit_db: Path):
    conn = sqlite3.connect(audit_db)
    conn.execute("DROP TRIGGER records_no_update")
    conn.execute("UPDATE records SET verdict = 'HOLD' WHERE seq = 3")
    conn.commit()
    conn.close()
    at = start()
    settle(audit_db)
    at.run()
    assert "Audit log FAILED verification: 1 problem(s)** (1 EDITED)" in joined(at.error)
    go(at, "Audit integrity")
    assert "Audit log FAILED verification" in joined(at.error)
    (problem,) = rows(at, "integrity.problems")
    assert (problem["problem"], problem["seq"]) == ("EDITED", 3)


def test_checks_run_in_the_background_and_pages_say_so_until_one_ends(audit_db: Path):
    at = start()
    assert "Audit log: verifying… (full check; not verified yet)" in joined(at.caption)
    settle(audit_db)
    at.run()
    shown = joined(at.caption)
    assert "Audit log: verified, chain intact to seq 12 at " in shown


def test_new_records_are_checked_from_the_last_verified_point(audit_db: Path, replay_dir: Path):
    at = start()
    settle(audit_db)
    run_cli(
        "run", str(PAPER_STRATEGY), "--mode", "paper", "--replay", str(replay_dir),
        "--from", "2023-03-17", "--audit", str(audit_db),
    )  # fmt: skip
    verifier = verifier_for(audit_db)
    verifier.clock = lambda: float("inf")  # the 5 s between checks have passed
    go(at, "Audit integrity")
    settle(audit_db)
    at.run()
    assert "**Chain intact**: 14 records verified" in joined(at.success)
    (last,) = [c for c in values(at.caption) if c.startswith("Last check")]
    assert last.startswith("Last check (new records): 2 records read in ")
    # Two decisions and no fill: the ledger is not compared with every fill again.
    assert last.endswith(" Ledger and fills unchanged: not compared again.")


def test_a_full_check_needs_a_logged_in_operator(audit_db: Path):
    at = start()
    settle(audit_db)
    go(at, "Audit integrity")
    assert at.button(key="integrity.verify").disabled
    assert "log in as operator (sidebar) to start one" in joined(at.caption)
    login(at)
    assert not at.button(key="integrity.verify").disabled
    at.button(key="integrity.verify").click().run()
    settle(audit_db)
    at.run()
    assert "Last check (full check): 12 records read in " in joined(at.caption)
