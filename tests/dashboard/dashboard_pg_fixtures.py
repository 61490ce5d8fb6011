"""A shared (PostgreSQL) audit log written by two runners, for the dashboard on that backend.

The same two real runs on replayed real data as ``dashboard_fixtures`` (whose SQLite log the
dashboard tests read), each under its own runner id into one database on a real server:

- ``desk-1``: the paper run of ``tests/fixtures/banking_crisis_pipeline.yaml`` over
  2023-03-08..16 (BTC: HOLDs, BUYs and SELLs that fill, one denied, one BLOCKED);
- ``desk-2``: the notify run of ``fixtures/eth_crisis_pipeline.yaml`` at 2023-03-10 (an ETH BUY
  awaiting approval, expiring at 00:15).

The log is made once per session in a template database; each test gets a copy of its own
(``CREATE DATABASE ... TEMPLATE``, a file copy on the server), so an approval in one test is
not seen by the next. The server is ``tests/audit/pg_fixtures.py``'s: where PostgreSQL cannot
start, every test that asks for it is skipped with the reason.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

# pg_fixtures and audit_scenarios live with the audit tests, whose folder is not on sys.path
# when only tests/dashboard runs (pytest puts each test module's own folder there).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "audit"))

from audit_scenarios import AS_OF, SCENARIOS, STRATEGY  # noqa: F401  (re-exported)
from dashboard_fixtures import NOTIFY_STRATEGY, PAPER_STRATEGY, run_cli
from pg_fixtures import pg_server  # noqa: F401  (a fixture)
from postgres_server import Server

RUNNERS = ("desk-1", "desk-2")
TEMPLATE = "dashboard_shared"
_COPIES = itertools.count(1)


@pytest.fixture(scope="session")
def shared_template(pg_server: Server, replay_dir: Path) -> str:  # noqa: F811
    """The two runners' log described above, in a database tests copy (never connect to)."""
    import psycopg

    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    url = pg_server.database_url(TEMPLATE)
    paper = run_cli(
        "run", str(PAPER_STRATEGY), "--mode", "paper", "--replay", str(replay_dir),
        "--from", "2023-03-08", "--to", "2023-03-16", "--audit", url, "--runner", RUNNERS[0],
    )  # fmt: skip
    assert "2023-03-10T00:00:00Z  1 decision: 1 BUY (1 filled)" in paper.stdout
    notify = run_cli(
        "run", str(NOTIFY_STRATEGY), "--mode", "notify", "--replay", str(replay_dir),
        "--from", "2023-03-10", "--audit", url, "--runner", RUNNERS[1],
    )  # fmt: skip
    assert "1 BUY (1 awaiting approval)" in notify.stdout
    return TEMPLATE


@pytest.fixture
def shared_log(pg_server: Server, shared_template: str) -> str:  # noqa: F811
    """The URL of this test's own copy of the two runners' log."""
    import psycopg

    name = f"dashboard_{next(_COPIES)}"
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {shared_template}")
    return pg_server.database_url(name)
