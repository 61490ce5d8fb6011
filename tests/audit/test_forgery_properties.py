"""Issue 11, as properties: whatever the log and wherever the attack, ``verify`` names it.

Each example builds a small signed log (decisions on consecutive days, a paper BUY with its fill
record and ledger row, the strategy stored), then an attacker with write access to the file but
not the key does one thing to it: append forged records with the head moved, cut the tail and
move the head back, edit a record and re-seal everything after it, move the head, edit a ledger
row, add a ledger row, change the paper account's starting cash, or edit the stored strategy
document. Bounded to stay a few seconds in CI.
"""

from __future__ import annotations

import json
import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from attacks import append_sealed, attacker, move_head, reseal_from
from audit_scenarios import AS_OF, SCENARIOS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalops.audit.paper_ledger import SQLiteLedger
from signalops.audit.record import build_followup
from signalops.audit.signing import SigningKey
from signalops.audit.store import AuditLog
from signalops.audit.verify import verify

KEY = SigningKey.from_secret("pr0perty-t3sts-k3y-0f-en0ugh-length-1234567890")
ATTACKS = (
    "append", "truncate", "reseal", "head", "ledger_edit", "ledger_forge", "account", "strategy",
)  # fmt: skip
EXPECTED = {
    "append": {"FORGED"},
    "truncate": {"TRUNCATED"},
    "reseal": {"FORGED"},
    "head": {"INSERTED", "DELETED"},
    "ledger_edit": {"LEDGER"},
    "ledger_forge": {"LEDGER"},
    "account": {"LEDGER"},
    "strategy": {"STRATEGY"},
}
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def build(path: Path, days: int, buy_on: int) -> None:
    """A signed log: ``days`` decisions, the one on ``buy_on`` a paper BUY with its fill."""
    with AuditLog(path, key=KEY) as log:
        log.remember_strategy(SCENARIOS.strategy)
        ledger = SQLiteLedger(log.db)
        with log.transaction():
            ledger.create()
            ledger.open_account("10000", "USDT", "2023-03-01T00:00:00Z")
        for day in range(days):
            as_of = AS_OF + timedelta(days=day)
            if day != buy_on:
                log.append(SCENARIOS.record("hold", as_of=as_of))
                continue
            decision = SCENARIOS.record("buy", as_of=as_of)
            fill = decision["execution"]["fill"]
            # What the paper broker reports with a fill: the account's cash after it.
            cost = Decimal(fill["quantity"]) * Decimal(fill["price"]) + Decimal(fill["fee"])
            details = {"venue": "paper", "cash_after": str(10000 - cost), "quote": "USDT"}
            decision["execution"]["details"] = details
            with log.transaction():
                log.append(decision)
                log.append(
                    build_followup(
                        "fill",
                        decision_id=decision["decision_id"],
                        recorded_at=as_of,
                        client_order_id=fill["client_order_id"],
                        fill=fill,
                    )
                )
                ledger.insert_fill(
                    (
                        fill["client_order_id"], decision["decision_id"], "S", fill["asset"],
                        fill["side"], fill["quantity"], fill["price"], fill["fee"],
                        fill["price"], "10", "5", fill["at"], fill["at"],
                    )
                )  # fmt: skip


def attack(path: Path, kind: str, where: int, count: int) -> None:
    db = attacker(path)
    (end,) = db.execute("SELECT max(seq) FROM records").fetchone()
    if kind == "append":
        days = range(1000, 1000 + count)
        append_sealed(db, [SCENARIOS.record("hold", as_of=AS_OF + timedelta(days=d)) for d in days])
    elif kind == "truncate":
        db.execute("DELETE FROM records WHERE seq > ?", (max(1, end - count),))
        move_head(db)
    elif kind == "reseal":
        reseal_from(
            db, 1 + where % end, lambda body: body.update(recorded_at="2020-01-01T00:00:00Z")
        )
    elif kind == "head":
        target = 1 + where % (end - 1)
        row = db.execute("SELECT seq, hash FROM records WHERE seq = ?", (target,)).fetchone()
        db.execute("UPDATE chain_head SET seq = ?, hash = ?", row)
    elif kind == "ledger_edit":
        (quantity,) = db.execute("SELECT quantity FROM paper_fills").fetchone()
        bigger = str(Decimal(quantity) * (count + 1))
        db.execute("UPDATE paper_fills SET quantity = ?", (bigger,))
    elif kind == "ledger_forge":
        row = list(db.execute("SELECT * FROM paper_fills").fetchone())
        row[0], row[1] = None, f"so-forged-{where}"
        db.execute(f"INSERT INTO paper_fills VALUES ({', '.join('?' * len(row))})", row)
    elif kind == "account":
        db.execute("UPDATE paper_account SET starting_cash = ?", (str(10000 + where + 1),))
    elif kind == "strategy":
        (document,) = db.execute("SELECT document FROM strategies").fetchone()
        data = json.loads(document)
        data["strategy"]["description"] = f"edited {where}"
        db.execute("UPDATE strategies SET document = ?", (json.dumps(data),))
    db.commit()
    db.close()


@PROPERTY
@given(
    days=st.integers(min_value=3, max_value=9),
    buy_on=st.integers(min_value=0, max_value=8),
    kind=st.sampled_from(ATTACKS),
    where=st.integers(min_value=0, max_value=100),
    count=st.integers(min_value=1, max_value=3),
)
def test_every_attack_without_the_key_is_named_by_verify(days, buy_on, kind, where, count):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "audit.db"
        build(path, days, buy_on % days)
        with AuditLog.open_readonly(path) as log:
            log.key = KEY
            assert verify(log).ok

        attack(path, kind, where, count)

        with AuditLog.open_readonly(path) as log:
            log.key = KEY
            report = verify(log)
    found = {p.kind.value for p in report.problems}
    assert not report.ok
    assert found & EXPECTED[kind], (kind, [str(p) for p in report.problems])
