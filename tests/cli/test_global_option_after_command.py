"""signalops' own options (-v, -q, --log-file, --log-format, --version) given after a command.

Regression test: ``signalops run -v ...`` and ``signalops backtest -q ...`` said only ``Error:
No such option '-v'.``: nothing said that the option is the group's and goes before the
command. Every command, nested ones too, now says where it goes.
"""

from __future__ import annotations

import pytest
from conftest import invoke as run


def refused(command: str, usage: str, message: str) -> str:
    return (
        f"Usage: signalops {command} [OPTIONS]{usage}\n"
        f"Try 'signalops {command} --help' for help.\n\n"
        f"Error: {message}\n"
    )


@pytest.mark.parametrize(
    ("args", "command", "usage", "error"),
    [
        (
            ("run", "-v", "x.yaml"),
            "run",
            " STRATEGIES...",
            "No such option '-v'. (-v is signalops' own option: put it before the command: "
            "signalops -v run ...)",
        ),
        (
            ("backtest", "-q", "x.yaml"),
            "backtest",
            " STRATEGIES...",
            "No such option '-q'. (-q is signalops' own option: put it before the command: "
            "signalops -q backtest ...)",
        ),
        (
            ("audit", "verify", "--log-format", "json"),
            "audit verify",
            "",
            "No such option '--log-format'. (--log-format is signalops' own option: put it "
            "before the command: signalops "
            "--log-format [text|json] audit verify ...)",
        ),
        (
            ("decisions", "--log-file=x.log"),
            "decisions",
            "",
            "No such option '--log-file'. (--log-file is signalops' own option: put it before "
            "the command: signalops "
            "--log-file FILE decisions ...)",
        ),
        (
            ("why", "--version"),
            "why",
            " REF",
            "No such option '--version'. (--version is signalops' own option: signalops --version)",
        ),
    ],
    ids=["run -v", "backtest -q", "audit verify --log-format", "decisions --log-file", "version"],
)
def test_a_global_option_after_the_command_says_it_goes_before_it(
    args: tuple[str, ...], command: str, usage: str, error: str
):
    result = run(*args)

    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == refused(command, usage, error)
