"""A SELL with nothing in the strategy's book is denied NO_POSITION naming the book, with
``actual 0``, whenever several strategies share the account, whether or not this strategy ever
filled; a strategy alone on its account keeps the details it always had.

Regression test: a strategy that ran alone on an account another strategy had traded (a run of
its own on the same log, or an approval answered with its strategy alone) was denied
``NO_POSITION (asset BTC, side SELL)``: the gate named the book only when the run itself held
several strategies, so the same empty book read two ways in one log.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, STRATEGIES
from conftest import invoke as run

BANKING = str(STRATEGIES / "banking_crisis_dip.yaml")
# Signals SELL on 03-10 and 03-11 while holding nothing (right after banking_crisis_dip bought).
SECOND = str(ROOT / "tests" / "fixtures" / "books_second.yaml")
DAYS = ("--from", "2023-03-08", "--to", "2023-03-11", "--every", "1d")
ALONE = "BTC at 2023-03-10T00:00:00Z: DENIED by the risk gate: NO_POSITION (asset BTC, side SELL)"
NAMED = (
    "BTC at 2023-03-10T00:00:00Z: DENIED by the risk gate: NO_POSITION (actual 0, asset BTC, "
    "book Second_Book, side SELL, unit asset units)"
)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    Path("signalops.yaml").write_text("risk: {}\n", encoding="utf-8")
    return tmp_path


def cycles(replay_dir: Path, log: str, *strategies: str, days: tuple[str, ...] = DAYS) -> list[str]:
    result = run("run", *strategies, "--replay", str(replay_dir), *days, "--audit", log)
    assert result.exit_code == 0, result.output
    return [line.split("  [")[0] for line in result.stdout.splitlines()]


def denial(log: str) -> str:
    result = run("why", "BTC", "--at", "2023-03-10", "--strategy", "Second_Book", "--audit", log)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()[0]


def test_an_empty_book_is_named_whenever_the_account_is_shared(replay_dir: Path, folder: Path):
    # Alone on a fresh account: the book is the account, the details as they always were.
    assert cycles(replay_dir, "alone.db", SECOND)[2] == (
        "2023-03-10T00:00:00Z  1 decision: 1 SELL (1 with nothing to sell)"
    )
    assert denial("alone.db") == ALONE

    # Alone, on an account the other strategy bought BTC in: its book is named, as in a run of
    # both together (where it never filled either). It goes on from the other's last time (a
    # replay before a log's newest decision is refused).
    until = ("--from", "2023-03-08", "--to", "2023-03-10", "--every", "1d")
    assert cycles(replay_dir, "shared.db", BANKING, days=until)[2] == (
        "2023-03-10T00:00:00Z  1 decision: 1 BUY (1 filled)"
    )
    after = ("--from", "2023-03-10", "--to", "2023-03-11", "--every", "1d")
    assert cycles(replay_dir, "shared.db", SECOND, days=after)[0] == (
        "2023-03-10T00:00:00Z  1 decision: 1 SELL (1 with nothing to sell)"
    )
    assert denial("shared.db") == NAMED

    assert cycles(replay_dir, "together.db", BANKING, SECOND)[2] == (
        "2023-03-10T00:00:00Z  2 decisions: 1 BUY, 1 SELL (1 filled, 1 with nothing to sell)"
    )
    assert denial("together.db") == NAMED
