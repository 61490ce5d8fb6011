"""The Decisions page says when its Show box cut the feed: the newest N of more that match, not
"N decisions" as if they were all.

Regression test: with Show at 10 and 11 decisions in the log, the page said "10 decisions", as it
did for a log of exactly 10.
"""

# Fixtures come from dashboard_fixtures (see test_app.py for why not a conftest.py).
# ruff: noqa: F811

from __future__ import annotations

from pathlib import Path

import pytest
from dashboard_fixtures import (  # noqa: F401 - fixtures
    APP,
    PAPER_STRATEGY,
    audit_db,
    dashboard_env,
    prepared_template,
    run_cli,
    strategies_dir,
)
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.usefixtures("dashboard_env")
CLICK = " · click a row to explain it"


def feed_line(at: AppTest) -> str:
    (line,) = [m.value for m in at.markdown if m.value.endswith(CLICK)]
    return line


def feed_rows(at: AppTest) -> int:
    (frame,) = at.get_by_key("decisions.table").dataframe
    return len(frame.value)


def test_a_feed_cut_by_show_says_it_lists_the_newest_of_more(audit_db: Path, replay_dir: Path):
    made = run_cli(
        "run", str(PAPER_STRATEGY), "--mode", "paper", "--replay", str(replay_dir),
        "--from", "2023-03-17", "--audit", str(audit_db),
    )  # fmt: skip
    assert made.exit_code == 0, made.output  # the log's 11th decision
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.sidebar.radio(key="nav.page").set_value("Decisions").run()
    assert feed_line(at) == f"**11 decisions** (newest first){CLICK}"

    at.number_input(key="decisions.limit").set_value(10).run()

    assert not at.exception, at.exception
    assert feed_line(at) == (
        f"**the newest 10 decisions** of more that match (raise Show to list more){CLICK}"
    )
    assert feed_rows(at) == 10
    at.selectbox(key="decisions.asset").set_value("BTC").run()  # exactly 10: all of them
    assert feed_line(at) == f"**10 decisions** (newest first){CLICK}"
    assert feed_rows(at) == 10


def test_one_decision_is_one():
    from signalops.dashboard.views.decisions import shown

    assert shown(1, more=False) == "**1 decision** (newest first)"
    assert shown(1_200, more=True) == (
        "**the newest 1,200 decisions** of more that match (raise Show to list more)"
    )
