"""A missing or refused parameter is one ``error:`` line and exit status 1, as any bad value is.

Regression test: ``signalops sweep FILE --grid oversold=a`` without ``--from``, and ``signalops
run FILE --from 2023-03-01`` without ``--replay``, printed click's three lines (``Usage: ...``,
``Try ...``, ``Error: ...``) and exited 2, while ``--to x`` was ``error: --to: 'x' is not a
date ...`` and 1. What click does not know (an unknown option or command, an extra argument)
keeps click's usage text, which lists what there is, and exit status 2.
"""

from __future__ import annotations

import pytest
from conftest import STRATEGIES
from conftest import invoke as run

DIP = str(STRATEGIES / "banking_crisis_dip.yaml")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ("sweep", DIP, "--grid", "oversold=a"),
            "--from is required (see 'signalops sweep --help')",
        ),
        (("run", DIP, "--from", "2023-03-01"), "--from/--to only apply with --replay"),
        (("why", "BTC"), "give a decision id, or an asset with --at DATE"),
        (("audit", "replay", "dec-x", "--all"), "give decision ids, or --all (not both)"),
        (("approve",), "APPROVAL_ID is required (see 'signalops approve --help')"),
        (("run", DIP, "--mode", "live"), "--mode: 'live' is not one of 'paper', 'notify', 'auto'"),
        (("backtest", DIP, "--from"), "option '--from' requires an argument"),
        (("data", "download", "--asset"), "option '--asset' requires an argument"),
        (("--log-format", "xml", "decisions"), "--log-format: 'xml' is not one of 'text', 'json'"),
    ],
    ids=[
        "missing_option",
        "run_from_without_replay",
        "why_without_time",
        "replay_ids_and_all",
        "missing_argument",
        "bad_choice",
        "option_without_value",
        "nested_command",
        "signalops_own_option",
    ],
)
def test_a_missing_or_refused_parameter_is_one_error_line(in_tmp, args, error):
    result = run(*args)

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"error: {error}\n"


@pytest.mark.parametrize(
    ("args", "command", "usage", "error"),
    [
        (("run", DIP, "--bogus"), "signalops run", " STRATEGIES...", "No such option '--bogus'."),
        (
            ("runn",),
            "signalops",
            " COMMAND [ARGS]...",
            "No such command 'runn'. Did you mean 'run'?",
        ),
        (("schema", "x"), "signalops schema", "", "Got unexpected extra argument (x)"),
    ],
    ids=["unknown_option", "unknown_command", "extra_argument"],
)
def test_what_click_does_not_know_keeps_its_usage_text(in_tmp, args, command, usage, error):
    result = run(*args)

    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"Usage: {command} [OPTIONS]{usage}\nTry '{command} --help' for help.\n\nError: {error}\n"
    )
