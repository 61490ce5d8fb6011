"""The dashboard on a shared (PostgreSQL) audit log that two runners write, on a real server:
every runner's decisions in one feed, with a runner column and a runner filter; the queue,
answers and verification as on SQLite; the URL's password never shown.

The log is ``dashboard_pg_fixtures``'s (the same runs as the SQLite log of the other dashboard
tests, under the runner ids desk-1 and desk-2).
"""

# Fixtures come from dashboard_fixtures and dashboard_pg_fixtures (see test_app.py for why not
# a conftest.py), so their parameters "redefine" the imported names.
# ruff: noqa: F811

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from dashboard_fixtures import (  # noqa: F401 - fixtures
    APP,
    NOW,
    PASSWORD,
    audit_db,
    dashboard_env,
    prepared_template,
    settle,
    strategies_dir,
)
from dashboard_pg_fixtures import (  # noqa: F401 - fixtures
    AS_OF,
    RUNNERS,
    SCENARIOS,
    STRATEGY,
    pg_server,
    shared_log,
    shared_template,
)
from streamlit.testing.v1 import AppTest

from signalops.audit.interface import open_log
from signalops.audit.postgres import PostgresAuditLog
from signalops.audit.store import AuditLog
from signalops.dashboard import state, tables
from signalops.dashboard.api import Settings, answer_approval, parse_time
from signalops.dashboard.verification import Verifier
from signalops.errors import ApprovalError

# --- the feed's rows (no Streamlit) ------------------------------------------------------------


def feed(log: Any, **filters: Any) -> list[dict[str, Any]]:
    return tables.decision_rows(log, runners=tables.runners(log), **filters)


def test_the_feed_of_a_shared_log_lists_every_runners_decisions_with_its_runner(
    shared_log: str, audit_db: Path
):
    with PostgresAuditLog.open_readonly(shared_log) as log:
        assert tables.runners(log) == ["desk-1", "desk-2"]
        rows = feed(log)
    with AuditLog.open_readonly(audit_db) as lite:  # the same two runs, into one SQLite file
        assert tables.runners(lite) == []
        alone = tables.decision_rows(lite, runners=tables.runners(lite))

    assert len(rows) == 10  # 9 paper days of desk-1, the notify decision of desk-2
    assert [(r["asset"], r["runner"]) for r in rows if r["runner"] == "desk-2"] == [
        ("ETH", "desk-2")
    ]
    assert {r["asset"] for r in rows if r["runner"] == "desk-1"} == {"BTC"}
    # The same rows, in the same order, as the SQLite log of the same runs: plus the runner.
    assert [{k: v for k, v in r.items() if k != "runner"} for r in rows] == alone
    assert list(rows[0]) == [
        "as of", "asset", "runner", "verdict", "outcome", "size", "notional", "what happened",
        "strategy", "mode", "decision",
    ]  # fmt: skip
    assert "runner" not in alone[0]


def test_the_runner_filter_keeps_one_runners_decisions_with_the_other_filters(shared_log: str):
    with PostgresAuditLog.open_readonly(shared_log) as log:
        rows = feed(log)
        desk1 = feed(log, runner="desk-1")
        desk2 = feed(log, runner="desk-2")
        desk1_sells = feed(log, runner="desk-1", verdict="SELL")
        desk2_btc = feed(log, runner="desk-2", asset="BTC")

    assert desk1 == [r for r in rows if r["runner"] == "desk-1"] and len(desk1) == 9
    assert [(r["asset"], r["outcome"]) for r in desk2] == [("ETH", "PENDING_APPROVAL")]
    assert desk1_sells and {(r["runner"], r["verdict"]) for r in desk1_sells} == {
        ("desk-1", "SELL")
    }
    assert desk2_btc == []


@pytest.mark.parametrize("limit", [1, 2, 5, 9])
def test_a_limited_feed_is_the_newest_decisions_of_all_runners_together(
    shared_log: str, limit: int
):
    with PostgresAuditLog.open_readonly(shared_log) as log:
        everything = feed(log)
        assert feed(log, limit=limit) == everything[:limit]


# --- the app, through Streamlit's test harness -------------------------------------------------


@pytest.fixture
def shared_env(dashboard_env: dict[str, str], shared_log: str, monkeypatch) -> str:
    """The dashboard's environment (operator accounts, the replay, the fixed clock) on this
    test's copy of the shared log."""
    monkeypatch.setenv("SIGNALOPS_AUDIT", shared_log)
    return shared_log


def start() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def go(at: AppTest, page: str) -> AppTest:
    at.sidebar.radio(key="nav.page").set_value(page).run()
    assert not at.exception, at.exception
    return at


def rows(at: AppTest, key: str) -> list[dict[str, Any]]:
    (frame,) = at.get_by_key(key).dataframe
    return frame.value.to_dict("records")


def texts(at: AppTest) -> str:
    """Every text the page shows (markdown, captions, alerts, code)."""
    shown = [
        *at.markdown, *at.caption, *at.info, *at.warning, *at.error, *at.success, *at.code,
    ]  # fmt: skip
    return "\n".join(str(element.value) for element in shown)


def test_the_decisions_page_shows_every_runner_and_filters_by_runner(shared_env: str):
    at = go(start(), "Decisions")
    feed_rows = rows(at, "decisions.table")
    assert len(feed_rows) == 10
    assert {r["runner"] for r in feed_rows} == set(RUNNERS)
    runner = at.selectbox(key="decisions.runner")
    assert list(runner.options) == ["(all)", "desk-1", "desk-2"]

    runner.set_value("desk-2").run()
    (eth,) = rows(at, "decisions.table")
    assert (eth["asset"], eth["runner"], eth["outcome"]) == ("ETH", "desk-2", "PENDING_APPROVAL")
    assert at.selectbox(key="decisions.selected").value == eth["decision"]
    assert "desk-2" in at.selectbox(key="decisions.selected").format_func(eth["decision"])

    at.selectbox(key="decisions.runner").set_value("desk-1").run()
    at.selectbox(key="decisions.verdict").set_value("BLOCKED").run()
    (blocked,) = rows(at, "decisions.table")
    assert (blocked["as of"], blocked["runner"]) == ("2023-03-12T00:00:00Z", "desk-1")
    assert "BLOCKED by veto usdc_outflow" in blocked["what happened"]
    assert "BLOCKS  VETO usdc_outflow" in at.code[0].value  # the why of the chosen one


@pytest.mark.parametrize("page", ["Approval queue", "Portfolio", "Audit integrity"])
def test_every_other_page_that_reads_the_log_reads_the_shared_one(shared_env: str, page: str):
    at = go(start(), page)
    assert not at.error, [e.value for e in at.error]
    assert "No decisions recorded yet" not in texts(at)
    if page == "Portfolio":  # one paper account for every runner: desk-1's BTC round trip
        assert {m.label for m in at.metric} >= {"Equity (USDT)", "Realised (USDT)"}


def test_a_broken_connection_is_replaced_on_the_next_page_run(shared_env: str):
    settings = Settings.from_env()
    first = state.reader(settings)
    assert first is not None
    first.workspace.audit.close()  # what a server restart leaves behind
    again = state.reader(settings)
    assert again is not None and again is not first
    with again.use() as workspace:
        assert tables.has_records(workspace.audit)


def test_a_sqlite_log_has_no_runner_column_or_filter(dashboard_env: dict[str, str]):
    at = go(start(), "Decisions")
    assert "runner" not in rows(at, "decisions.table")[0]
    assert not [s for s in at.selectbox if s.key == "decisions.runner"]


def test_approving_on_a_shared_log_fills_and_a_second_answer_is_refused(shared_env: str):
    with PostgresAuditLog.open_readonly(shared_env) as log:
        (item,) = log.pending_approvals(parse_time(NOW))
    at = go(start(), "Approval queue")
    assert "1 waiting" in texts(at)
    at.text_input(key="access.name").input("alice")
    at.text_input(key="access.password").input(PASSWORD)
    at.button(key="access.submit").click().run()
    at.button(key=f"approvals.approve.{item.approval_id}").click().run()
    assert not at.exception, at.exception
    assert f"{item.approval_id}: FILLED" in texts(at)

    with PostgresAuditLog.open_readonly(shared_env) as log:
        followups = log.followups(item.decision_id)
        assert [r["kind"] for r in followups] == ["approval", "fill"]
        assert (followups[0]["by"], followups[1]["fill"]["asset"]) == ("alice", "ETH")
    # The same approval again (another tab, the CLI): refused, nothing more recorded.
    with pytest.raises(ApprovalError, match="already approved by alice"):
        answer_approval(Settings.from_env(), item.approval_id, approve=True, by="carol")
    with PostgresAuditLog.open_readonly(shared_env) as log:
        assert len(log.followups(item.decision_id)) == 2


def test_the_shared_log_is_verified_in_the_background_and_reported_intact(shared_env: str):
    at = go(start(), "Audit integrity")
    settle(shared_env)
    at.run()
    with PostgresAuditLog.open_readonly(shared_env) as log:
        head = log.head()
    assert head is not None
    assert f"Chain intact**: {head[0]} records verified" in texts(at)
    assert f"Audit log `{shared_env}`" in texts(at)


def test_a_new_record_of_any_runner_starts_a_check_of_the_new_records(shared_log: str):
    class Clock:
        now = 0.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    verifier = Verifier(shared_log, clock=clock)
    first = verifier.poll()
    assert first.running_full
    done = verifier.wait()
    assert done.last is not None and done.last.ok, done.last
    clock.now += 5
    assert not verifier.poll().running  # nothing new
    with open_log(shared_log, create=True, runner="desk-3") as log:  # a third runner joins
        log.remember_strategy(STRATEGY)
        log.append(SCENARIOS.record("hold", asset="SOL"))
        log.append(SCENARIOS.record("blocked", asset="SOL", as_of=AS_OF + timedelta(days=1)))
    assert verifier.poll().running
    after = verifier.wait()
    assert after.last is not None and after.last.ok and not after.last.full
    assert after.last.checked == 2
    with open_log(shared_log, create=False) as log:
        assert tables.runners(log) == ["desk-1", "desk-2", "desk-3"]
        assert [r["runner"] for r in feed(log, asset="SOL")] == ["desk-3", "desk-3"]


def test_a_missing_database_is_a_first_run_creates_nothing_and_its_password_is_never_shown(
    dashboard_env: dict[str, str], pg_server, monkeypatch
):
    url = pg_server.database_url("not_made_yet").replace("://signalops@", "://signalops:s3cret@")
    monkeypatch.setenv("SIGNALOPS_AUDIT", url)
    at = start()
    for page in ("Approval queue", "Decisions", "Portfolio", "Audit integrity"):
        go(at, page)
        shown = texts(at)
        assert "s3cret" not in shown, page
        redacted = url.replace("s3cret", "***")
        assert [w.value for w in at.main.warning] == [f"{redacted}: no such audit log"], page
        assert "No decisions recorded yet" in shown
        assert f"--audit '{redacted}' --runner ID" in shown
    settings = Settings.from_env()
    assert state.reader(settings) is None and state.verification(settings) is None
    assert "s3cret" not in repr(settings)
    with psycopg.connect(pg_server.url) as conn:  # looking made nothing
        made = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'not_made_yet'")
        assert made.fetchall() == []
