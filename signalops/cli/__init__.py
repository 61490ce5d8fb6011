"""The ``signalops`` command: parse arguments, call one library function, render the result.

No decision logic lives here. Library errors become ``error: ...`` on stderr and exit status 1
in one place (``main._Commands``); a traceback only ever means a bug in SignalOps.

    main.py       the command group, ``main()`` (the console script) and the error boundary
    params.py     shared options; parsing of times, durations and snapshot folders
    output.py     everything printed: consoles, styles, counts, tables, progress, errors
    strategy.py   validate, explain, metrics, adapters, schema, evaluate
    data.py       data import
    run.py        run, approvals, approve, reject
    audit.py      decisions, why, audit verify, replay and export (read-only)
    backtest.py   backtest, sweep
    dashboard.py  dashboard

Every command, even --help, pays for what is imported at module level. What only some
commands need (the strategy compiler, the audit log with sqlite-utils and pandas, the pipeline,
ccxt and py-clob-client, the dashboard) is imported inside them.
"""

from __future__ import annotations

from signalops.cli.main import cli, main

__all__ = ["cli", "main"]
