"""Research at scale: sweeps, walk-forward and one backtest per asset, here or on Ray.

    executor = connect(None)        # or connect("local"), connect("auto"): a Ray cluster
    report = run_sweep(strategy, grid=..., assets=[...], store=..., executor=executor, ...)
    forward = run_walkforward(strategy, grid=..., train=..., test=..., executor=executor, ...)

Modules: ``executors`` (the one seam: run tasks in this process or on Ray, data put once),
``market`` (the snapshot files packed for other machines), ``tasks`` (the units of work and
what they send back), ``sweeps`` (a grid over several assets), ``walkforward`` (windows,
in-sample choice, out-of-sample judgement, stability) and ``assets`` (one backtest per asset).
The screening itself is ``signalops.backtest.sweep``'s and the backtest ``run_backtest``: these
modules only cut the work into tasks and put the answers back together, in the same order
whichever executor ran them.
"""
