"""The ``signalops`` command: parse arguments, call one library function, render the result.

No decision logic lives here. Library errors become ``error: ...`` on stderr and exit status 1
in one place (``main._Commands``); a traceback only ever means a bug in SignalOps.

    main.py       the command group, ``main()`` (the console script) and the error boundary
    params.py     shared options; parsing of times, durations and snapshot folders
    output/       everything printed (the one rendering layer): consoles, styles, counts, tables,
                  progress, errors (``__init__``); the research tables of backtest --universe /
                  --each-asset, sweep and walkforward (``research``); the stress table (``stress``)
    strategy.py   validate, explain, metrics, adapters, schema, evaluate
    data.py       data import, data download
    run.py        run, approvals, approve, reject
    audit.py      decisions, why, audit verify, replay, copy and export (read-only but copy)
    backtest.py   backtest, sweep, walkforward
    stress.py     stress
    init.py       init (a working folder with a config, strategies and a data sample)
    telegram.py   telegram (approvals from a phone)
    dashboard.py  dashboard, dashboard hash-password

Start-up is mostly imports, so a command imports what it uses and nothing else: ``main``
loads a command's module only when that command runs (``--version`` loads none; ``--help``
loads them all for their one-line help), and each module imports at its top only click and the
light shared modules (``output``, ``params``). What a command needs (the strategy compiler and
jsonschema, the adapters and numpy, the paper broker's sqlite-utils and pandas, the pipeline,
ccxt and py-clob-client, the dashboard) is imported inside it. ``tests/test_startup_imports.py``
holds the line; ``bench/bench_startup.py`` measures it.
"""

from __future__ import annotations

from signalops.cli.main import cli, main

__all__ = ["cli", "main"]
