"""What --help says: every option of ``decisions`` explained, ``reject`` offering only what a
rejection does, an example under ``approvals`` and ``audit verify``.

Regression tests: ``decisions --help`` listed --asset, --strategy, --verdict and --limit bare
(then --verdict did not say where the outcome column's DENIED or FILLED come from, and --limit
took 0 and -1); ``backtest --help`` said --asset meant "Only this asset" (it runs the strategy's
rules on any asset with data); ``reject --help`` offered ``--live  Execute through the live
exchange`` and a re-check --at (a rejection executes and re-checks nothing); ``approvals`` and
``audit verify`` had no example.
"""

from __future__ import annotations

import pytest
from conftest import invoke as run

from signalops.audit.store import AuditLog


def options(*command: str) -> dict[str, str]:
    """Each option of ``command --help`` -> its help text, wrapping undone."""
    result = run(*command, "--help")
    assert result.exit_code == 0, result.output
    section = result.stdout.split("Options:\n", 1)[1]
    found: dict[str, str] = {}
    name = ""
    for line in section.splitlines():
        words = line.split()
        if line.startswith("  --"):
            name, text = words[0], " ".join(words[1:])
            found[name] = text
        elif words:
            found[name] = f"{found[name]} {' '.join(words)}".strip()
    return found


def test_every_option_of_decisions_says_what_it_does():
    helps = options("decisions")

    assert helps["--asset"] == "TEXT Only this asset's decisions (btc finds BTC)."
    assert helps["--strategy"] == (
        "TEXT Only this strategy's decisions (name in any case, or sha256: hash)."
    )
    assert helps["--verdict"] == (
        "[buy|sell|hold|blocked] Only this verdict: what the strategy decided. The column after "
        "it is what came of that: DENIED by the risk gate, or the order's state (FILLED, "
        "NOT_EXECUTED, ...)."
    )
    assert helps["--limit"] == (
        "INTEGER RANGE Show at most this many, newest first. [default: 50; x>=1]"
    )


def test_backtest_asset_says_it_runs_the_rules_on_any_asset_with_data():
    helps = options("backtest")

    assert helps["--asset"] == (
        "TEXT Asset to run the strategy's rules on instead of its own (several strategies: "
        "each one's): any asset with data (repeatable: one book, shared cash; with --each-asset "
        "one each). Default: the strategy's assets."
    )


def test_reject_offers_no_live_exchange_and_no_recheck():
    helps = options("reject")

    assert sorted(helps) == ["--at", "--audit", "--by", "--config", "--note"]
    assert helps["--at"] == "TEXT When the rejection is made; judges the expiry (default: now)."
    assert "--live" in options("approve")


@pytest.mark.parametrize(
    ("command", "example"),
    [
        (("approvals",), "signalops approvals --json --audit state/signalops.db"),
        (
            ("audit", "verify"),
            "signalops audit verify --audit reports/banking_crisis_dip/backtest.db",
        ),
        (("audit", "export"), "signalops audit export audit-2026.jsonl"),
    ],
)
def test_approvals_and_audit_verify_and_export_show_examples(command: tuple[str, ...], example):
    shown = run(*command, "--help").stdout

    assert "\n  Examples:\n" in shown
    assert f"\n    {example}\n" in shown


def test_reject_still_takes_approves_live_and_replay_as_a_script_may_pass_them(tmp_path):
    AuditLog(tmp_path / "a.db").close()  # an empty log: reject needs one, and answers there
    result = run(
        "reject", "apv-000000000000000000000000", "--note", "no", "--live", "--replay",
        str(tmp_path), "--audit", str(tmp_path / "a.db"),
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr == (
        "error: no pending approval 'apv-000000000000000000000000' (see 'signalops approvals')\n"
    )
