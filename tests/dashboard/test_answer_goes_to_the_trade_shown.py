"""An answer in the dashboard goes to the approval it was given for, or to none.

Regression tests: the answer form and its buttons had one key for every approval. A second tap
on Approve (the first had filled ETH, and the page then showed the BTC approval in its place)
approved and filled BTC, which the trader never saw; and when another operator rejected the ETH
approval the trader had open, the trader's Approve filled BTC with the note written for ETH.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dashboard_fixtures import (  # noqa: F401 - fixtures
    APP,
    NOTIFY_STRATEGY,
    NOW,
    PASSWORD,
    audit_db,
    dashboard_env,
    prepared_template,
    run_cli,
    strategies_dir,
)
from streamlit.testing.v1 import AppTest

from signalops.audit.store import AuditLog
from signalops.dashboard.api import parse_time

pytestmark = pytest.mark.usefixtures("dashboard_env")


@pytest.fixture
def two_waiting(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """A log with an ETH and a BTC BUY waiting (asset -> approval id), which the app reads."""
    btc = tmp_path / "btc_crisis_pipeline.yaml"
    text = NOTIFY_STRATEGY.read_text(encoding="utf-8")
    btc.write_text(
        text.replace('"ETH_Crisis_Pipeline"', '"BTC_Crisis_Pipeline"').replace(
            'assets: ["ETH"]', 'assets: ["BTC"]'
        ),
        encoding="utf-8",
    )
    db = tmp_path / "two.db"
    run_cli(
        "run", str(NOTIFY_STRATEGY), str(btc), "--mode", "notify", "--replay", str(replay_dir),
        "--from", "2023-03-10", "--audit", str(db),
    )  # fmt: skip
    monkeypatch.setenv("SIGNALOPS_AUDIT", str(db))
    with AuditLog(db) as log:
        waiting = log.pending_approvals(parse_time(NOW))
    found = {item.record["asset"]: str(item.approval_id) for item in waiting}
    assert sorted(found) == ["BTC", "ETH"]
    return {**found, "db": str(db)}


def logged_in() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.sidebar.radio(key="nav.page").set_value("Approval queue").run()
    at.text_input(key="access.name").input("alice")
    at.text_input(key="access.password").input(PASSWORD)
    at.button(key="access.submit").click().run()
    assert not at.exception, at.exception
    return at


def shown(at: AppTest) -> str:
    """The approval whose answer form the page shows."""
    (button,) = [b for b in at.button if b.key and b.key.startswith("approvals.approve.")]
    return str(button.key).removeprefix("approvals.approve.")


def fills(db: str) -> list[str]:
    with AuditLog(Path(db)) as log:
        return [r["fill"]["asset"] for r in log.records() if r["kind"] == "fill"]


def answers(db: str) -> list[tuple[str, Any, str | None]]:
    with AuditLog(Path(db)) as log:
        return [
            (r["approval_id"], r["approved"], r.get("note"))
            for r in log.records()
            if r["kind"] == "approval"
        ]


def test_a_second_tap_on_approve_answers_nothing_more(two_waiting: dict[str, str]):
    at = logged_in()
    first = shown(at)
    approve = at.button(key=f"approvals.approve.{first}")
    approve.click().run()
    assert f"{first}: FILLED" in "\n".join(s.value for s in at.success)
    other = shown(at)
    assert other != first

    approve.click().run()  # the same button again: the press of a double tap

    assert not at.exception, at.exception
    assert len(fills(two_waiting["db"])) == 1
    assert shown(at) == other  # still waiting, unanswered


def test_an_approval_answered_elsewhere_takes_no_answer_meant_for_it(
    two_waiting: dict[str, str],
):
    at = logged_in()
    first = shown(at)
    at.text_area(key=f"approvals.note.{first}").input("looks good")
    approve = at.button(key=f"approvals.approve.{first}")
    run_cli(
        "reject", first, "--note", "desk: not today", "--by", "bob", "--at", NOW,
        "--audit", two_waiting["db"],
    )  # fmt: skip

    approve.click().run()

    assert not at.exception, at.exception
    assert fills(two_waiting["db"]) == []
    assert answers(two_waiting["db"]) == [(first, False, "desk: not today")]
    other = shown(at)
    assert other != first
    assert f"{first}**, which you had open, is no longer waiting" in "\n".join(
        i.value for i in at.info
    )
    assert at.text_area(key=f"approvals.note.{other}").value == ""
