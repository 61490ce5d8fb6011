"""``audit verify`` without the key still reads a signed log's checkpoint file: a cut tail or a
rewritten record a checkpoint names is a problem (exit 1), not "ok".

Regression test: with the last records and their MACs deleted and the chain head moved back,
``audit verify`` with the key said TRUNCATED, but without it ``ok 32 records, chain intact``
(exit 0) beside a checkpoint file naming seq 34. A checkpoint's MAC needs the key; its seq and
hash do not, and a line anyone could have written can only raise an alarm, never hide one.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import STRATEGIES
from conftest import invoke as run

from signalops.audit.signing import KEY_ENV, SigningKey

KEY = "k3Yf0r-t3sts-0nly-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
UNCHECKED = "its MAC not checked: SIGNALOPS_AUDIT_KEY is not set"


@pytest.fixture
def signed(tmp_path: Path, replay_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """March 2023 of banking_crisis_dip on paper, written under KEY, verified without it."""
    monkeypatch.setenv(KEY_ENV, KEY)
    log = tmp_path / "signed.db"
    made = run(
        "run", str(STRATEGIES / "banking_crisis_dip.yaml"), "--replay", str(replay_dir),
        "--from", "2023-03-01", "--to", "2023-03-31", "--every", "1d", "--audit", str(log),
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    monkeypatch.delenv(KEY_ENV)
    return log


def note() -> str:
    key_id = SigningKey.from_secret(KEY).id
    return (
        f"note: signed log (key id {key_id}): set SIGNALOPS_AUDIT_KEY to check its MACs and "
        "checkpoints\n"
    )


def last_checkpoint(log: Path) -> dict[str, object]:
    lines = log.with_name(log.name + ".checkpoints").read_text().splitlines()
    return json.loads(lines[-1])


def attacker(log: Path) -> sqlite3.Connection:
    db = sqlite3.connect(log)
    db.execute("DROP TRIGGER records_no_delete")
    db.execute("DROP TRIGGER seals_no_delete")
    return db


def hash_at(db: sqlite3.Connection, seq: int) -> str:
    (digest,) = db.execute("SELECT hash FROM records WHERE seq = ?", (seq,)).fetchone()
    return digest.hex() if isinstance(digest, bytes) else digest


def test_a_cut_tail_is_truncated_without_the_key(signed: Path):
    intact = run("audit", "verify", "--audit", str(signed))
    assert (intact.exit_code, intact.stderr) == (0, note())  # the checkpoint names the head
    point = last_checkpoint(signed)
    end = int(str(point["seq"])) - 2
    db = attacker(signed)
    db.execute("DELETE FROM records WHERE seq > ?", (end,))
    db.execute("DELETE FROM seals WHERE seq > ?", (end,))
    digest = hash_at(db, end)
    db.execute("UPDATE chain_head SET seq = ?, hash = ?", (end, digest))
    db.commit()
    db.close()

    result = run("audit", "verify", "--audit", str(signed))

    assert result.exit_code == 1
    assert result.stdout == f"head seq {end} {digest}\n"
    assert result.stderr == note() + (
        f"TRUNCATED seq {end + 1}: the log ends at seq {end}, but a checkpoint made at "
        f"{point['at']} names seq {point['seq']} ({UNCHECKED}): records were cut from the end\n"
        "audit log FAILED verification: 1 problem\n"
    )


def test_a_checkpoint_naming_another_hash_is_rewritten_without_the_key(signed: Path):
    path = signed.with_name(signed.name + ".checkpoints")
    point = last_checkpoint(signed)
    held = str(point["hash"])
    lines = path.read_text().splitlines()
    lines[-1] = json.dumps({**point, "hash": "0" * 64}, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")

    result = run("audit", "verify", "--audit", str(signed))

    assert result.exit_code == 1
    assert result.stderr == note() + (
        f"REWRITTEN seq {point['seq']}: a checkpoint made at {point['at']} names hash "
        f"000000000000… for this seq ({UNCHECKED}); the log holds {held[:12]}…\n"
        "audit log FAILED verification: 1 problem\n"
    )
