"""A strategy name typed in another case than the log's: ``decisions --strategy`` and
``why ASSET --at DAY --strategy`` find the log's, on SQLite and on PostgreSQL alike; a name the
log has in no case gets a did-you-mean; a ``sha256:`` hash still matches exactly.

Regression tests: ``decisions --strategy hourly_rsi_bench`` printed ``no decisions match`` and
``why BTC --at ... --strategy hourly_rsi_bench`` ``error: no decision for BTC ...``, while
``--asset btc`` found BTC; a misspelt name was told nothing more.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest
from conftest import ROOT
from conftest import invoke as run

# pg_fixtures lives with the audit tests, whose folder is not on sys.path when only tests/cli
# runs (pytest puts each test module's own folder there).
sys.path.insert(0, str(ROOT / "tests" / "audit"))

from pg_fixtures import pg_server  # noqa: F401  (a fixture)
from postgres_server import Server
from test_asset_case import hourly_log  # noqa: F401  (a fixture: its 24 hourly BTC decisions)

NAME = "Hourly_RSI_Bench"
DAY = ("--since", "2023-03-10", "--until", "2023-03-10")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def log(request: pytest.FixtureRequest, hourly_log: str) -> Iterator[str]:  # noqa: F811
    """The same log on either backend (``audit copy`` into a new database on a real server)."""
    if request.param == "sqlite":
        yield hourly_log
        return
    import psycopg

    server: Server = request.getfixturevalue("pg_server")
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE strategy_case")
    url = server.database_url("strategy_case")
    copied = run("audit", "copy", hourly_log, url)
    assert copied.exit_code == 0, copied.output
    yield url


def test_decisions_of_a_strategy_in_lower_case_list_the_logs_name(log: str):
    lower = run("decisions", "--strategy", NAME.lower(), *DAY, "--limit", "2", "--audit", log)
    exact = run("decisions", "--strategy", NAME, *DAY, "--limit", "2", "--audit", log)

    assert lower.exit_code == 0, lower.output
    assert lower.stdout == exact.stdout
    assert [line.split()[:2] + line.split()[-2:-1] for line in lower.stdout.splitlines()[:2]] == [
        ["2023-03-10T23:00:00Z", "BTC", NAME],
        ["2023-03-10T22:00:00Z", "BTC", NAME],
    ]
    assert lower.stdout.splitlines()[-1].startswith("the newest 2 shown; more match")


def test_an_asset_and_a_strategy_both_in_lower_case_are_found_together(log: str):
    lower = run(
        "decisions", "--asset", "btc", "--strategy", "HOURLY_RSI_BENCH", *DAY, "--audit", log
    )

    assert lower.exit_code == 0, lower.output
    assert len(lower.stdout.splitlines()) == 24


def test_why_with_a_strategy_in_lower_case_explains_and_lists_by_the_logs_name(log: str):
    lower = run("why", "btc", "--at", "2023-03-10", "--strategy", NAME.lower(), "--audit", log)
    exact = run("why", "BTC", "--at", "2023-03-10", "--strategy", NAME, "--audit", log)

    assert lower.exit_code == 0, lower.output
    assert lower.stdout == exact.stdout
    assert lower.stdout.splitlines()[-1] == (
        f"(23 earlier decisions on 2023-03-10: signalops decisions --asset BTC --strategy {NAME} "
        "--since 2023-03-10 --until 2023-03-10)"
    )


def test_a_misspelt_strategy_matches_nothing_and_is_told_the_logs_nearest_name(log: str):
    listed = run("decisions", "--strategy", "hourly_rsi_bnch", "--audit", log)
    explained = run(
        "why", "BTC", "--at", "2023-03-10", "--strategy", "Hourly_RSI_Bnch", "--audit", log
    )

    assert (listed.exit_code, listed.stdout) == (
        0,
        f"no decisions match: the log has no strategy hourly_rsi_bnch (did you mean '{NAME}'?)\n",
    )
    assert explained.exit_code == 1
    assert explained.stderr == (
        f"error: no decision for BTC at 2023-03-10 by Hourly_RSI_Bnch in {log}: the log has "
        f"no strategy Hourly_RSI_Bnch (did you mean '{NAME}'?)\n"
    )


def test_a_name_near_no_logged_strategy_gets_no_guess_but_the_logs_names(log: str):
    """It said only "no decisions match", as if the strategy were there and had no decision."""
    listed = run("decisions", "--strategy", "Weighted_Sources", "--audit", log)

    assert (listed.exit_code, listed.stdout) == (
        0,
        f"no decisions match: the log has no strategy Weighted_Sources (its strategies: {NAME})\n",
    )


def test_a_strategy_hash_still_matches_exactly(log: str):
    (line,) = run("decisions", "--limit", "1", "--json", "--audit", log).stdout.splitlines()
    digest = json.loads(line)["strategy"]["hash"].removeprefix("sha256:")
    assert len(digest) == 64

    exact = run("decisions", "--strategy", f"sha256:{digest}", *DAY, "--audit", log)
    upper = run("decisions", "--strategy", f"sha256:{digest.upper()}", "--audit", log)

    assert len(exact.stdout.splitlines()) == 24
    assert (upper.exit_code, upper.stdout) == (0, "no decisions match\n")


def test_a_misspelt_asset_matches_nothing_and_is_told_the_logs_nearest_asset(log: str):
    """It said only "no decisions match" (and why: "no decision for BTCC")."""
    listed = run("decisions", "--asset", "BTCC", "--audit", log)
    explained = run("why", "BTCC", "--at", "2023-03-10", "--audit", log)
    far = run("decisions", "--asset", "DOGE", "--audit", log)

    assert (listed.exit_code, listed.stdout) == (
        0,
        "no decisions match: the log has no asset BTCC (did you mean 'BTC'?)\n",
    )
    assert explained.exit_code == 1
    assert explained.stderr == (
        f"error: no decision for BTCC at 2023-03-10 in {log}: the log has no asset BTCC (did "
        "you mean 'BTC'?)\n"
    )
    assert far.stdout == "no decisions match: the log has no asset DOGE (its assets: BTC)\n"
