"""``audit verify`` without the key says so when a signed log has no checkpoint to read.

Regression test: with the last records of a signed log cut (and the chain head moved back) and
its checkpoint file deleted, ``audit verify`` without the key said ``ok 32 records, chain
intact`` (exit 0); with the key it said CHECKPOINT (no valid checkpoint). A cut at the end shows
only against a checkpoint, so a signed log without one is a problem whether or not the key is
at hand: a checkpoint's MAC needs the key, its absence does not.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import STRATEGIES
from conftest import invoke as run

from signalops.audit.signing import KEY_ENV, SigningKey

KEY = "k3Yf0r-t3sts-0nly-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
NOTE = (
    f"note: signed log (key id {SigningKey.from_secret(KEY).id}): set SIGNALOPS_AUDIT_KEY to "
    "check its MACs and checkpoints\n"
)


@pytest.fixture
def signed(in_tmp: Path, replay_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """March 2023 of banking_crisis_dip on paper, written under KEY, verified without it."""
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv(KEY_ENV, KEY)
    made = run(
        "run", str(STRATEGIES / "banking_crisis_dip.yaml"), "--replay", str(replay_dir),
        "--from", "2023-03-01", "--to", "2023-03-31", "--every", "1d", "--audit", "s.db",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    monkeypatch.delenv(KEY_ENV)
    return in_tmp / "s.db"


def cut_two(log: Path) -> tuple[int, str]:
    """The last two records and their MACs deleted, the chain head moved back: the new end."""
    db = sqlite3.connect(log)
    db.executescript("DROP TRIGGER records_no_delete; DROP TRIGGER seals_no_delete;")
    (end,) = db.execute("SELECT seq - 2 FROM chain_head").fetchone()
    db.execute("DELETE FROM records WHERE seq > ?", (end,))
    db.execute("DELETE FROM seals WHERE seq > ?", (end,))
    (digest,) = db.execute("SELECT hash FROM records WHERE seq = ?", (end,)).fetchone()
    digest = digest.hex() if isinstance(digest, bytes) else digest
    db.execute("UPDATE chain_head SET seq = ?, hash = ?", (end, digest))
    db.commit()
    db.close()
    return end, digest


def missing(name: str) -> str:
    return (
        f"CHECKPOINT chain: no valid checkpoint in {name}: a cut at the end of the log could "
        "not be seen\n"
    )


def test_a_cut_tail_with_the_checkpoint_file_deleted_is_not_ok_without_the_key(signed: Path):
    end, digest = cut_two(signed)
    Path("s.db.checkpoints").unlink()

    result = run("audit", "verify", "--audit", "s.db")

    assert result.exit_code == 1
    assert result.stdout == f"head seq {end} {digest}\n"
    assert result.stderr == (
        NOTE + missing("s.db.checkpoints") + "audit log FAILED verification: 1 problem\n"
    )


def test_without_the_key_the_problem_reads_as_with_it(
    signed: Path, monkeypatch: pytest.MonkeyPatch
):
    cut_two(signed)
    Path("s.db.checkpoints").unlink()
    without = run("audit", "verify", "--audit", "s.db")
    monkeypatch.setenv(KEY_ENV, KEY)

    keyed = run("audit", "verify", "--audit", "s.db")

    assert (keyed.exit_code, without.exit_code) == (1, 1)
    assert without.stderr == NOTE + keyed.stderr


def test_an_emptied_checkpoint_file_is_no_checkpoint(signed: Path):
    Path("s.db.checkpoints").write_text("")

    result = run("audit", "verify", "--audit", "s.db")

    assert result.exit_code == 1
    assert result.stderr == (
        NOTE + missing("s.db.checkpoints") + "audit log FAILED verification: 1 problem\n"
    )


def test_a_line_that_is_not_a_checkpoint_is_named_without_the_key(signed: Path):
    Path("s.db.checkpoints").write_text("not json\n")

    result = run("audit", "verify", "--audit", "s.db")

    assert result.exit_code == 1
    assert result.stderr == (
        NOTE
        + "CHECKPOINT chain: s.db.checkpoints line 1: not a checkpoint\n"
        + missing("s.db.checkpoints")
        + "audit log FAILED verification: 2 problems\n"
    )
