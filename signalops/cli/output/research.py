"""What ``backtest`` (a universe's portfolio, each asset), ``sweep`` and ``walkforward`` print
besides the backtest table itself: their tables, progress and failed tasks. Nothing here
decides anything; numbers are formatted as the backtest report formats them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rich.text import Text

from signalops import numbers
from signalops.cli import output

if TYPE_CHECKING:
    from signalops.backtest.comparison import Study
    from signalops.backtest.metrics import ExtendedMetrics
    from signalops.backtest.report import AssetTable
    from signalops.backtest.sweep import SweepRow
    from signalops.backtest.universe import Breakdown
    from signalops.config import Config
    from signalops.research.assets import EachAsset
    from signalops.research.tasks import Failed
    from signalops.research.walkforward import AssetWalk, Coverage, WalkForward, WindowResult


def progress() -> Any:
    """A bar of tasks done on stderr (on a terminal; nothing when piped)."""
    return output.progress(output.console(stderr=True))


def failures(failed: Sequence[Failed], total: int, what: str) -> None:
    """Each failed task on stderr with what it was, then how many of ``total`` failed (all, when
    no result is shown above); exit status 1 when there is one."""
    if not failed:
        return
    _failed_lines(failed)
    of_total = output.count(total, what)
    if len(failed) < total:
        output.fail(f"{len(failed)} of {of_total} failed; the rest are shown above")
    output.fail(f"the only {what} failed" if total == 1 else f"all {of_total} failed")


def walk_failures(walk: WalkForward) -> None:
    """The combinations the compiler refused, each once (the walk left them out of every
    window), then the screens that failed, and how many of each; exit status 1 when there is
    one. A walk of no combination that compiles was refused before it ran."""
    uncompiled, screens = walk.uncompiled, walk.failed
    if not uncompiled and not screens:
        return
    _failed_lines([*uncompiled, *screens])
    told = []
    if uncompiled:
        were = "was" if len(uncompiled) == 1 else "were"
        told.append(
            f"{len(uncompiled)} of {output.count(walk.combinations, 'combination')} failed and "
            f"{were} left out of every window"
        )
    if screens:
        total = walk.walked * len(walk.assets) * len(walk.assets[0].windows)
        of_total = output.count(total, "in-sample or out-of-sample screen")
        told.append(f"{len(screens)} of {of_total} failed")
    output.fail(f"{'; '.join(told)}; the rest are shown above")


def _failed_lines(failed: Sequence[Failed]) -> None:
    """Each failure on stderr, what it was and why; past a few with one error, how many more."""
    err = output.console(stderr=True)
    shown: dict[str, int] = {}  # error -> lines printed with it
    for item in failed:
        seen = shown.get(item.error, 0)
        shown[item.error] = seen + 1
        if seen < _SAME_ERROR_SHOWN:
            err.print(Text("failed: ", style="bold red") + Text(f"{item.what}: {item.error}"))
    for error, times in shown.items():
        if times > _SAME_ERROR_SHOWN:
            more = times - _SAME_ERROR_SHOWN
            err.print(Text(f"failed: {more} more with the same error: {error}"))


# A whole task that fails (no data for a window) fails each of its parameter sets alike.
_SAME_ERROR_SHOWN = 3


# --- tables --------------------------------------------------------------------------------------


def _percent(value: float | None, sign: bool = True) -> str:
    """A percentage as the backtest table shows one: thousands separated (``+1,412.10%``)."""
    return "—" if value is None else numbers.percent(value, signed=sign)


def _ratio(value: float | None) -> str:
    return numbers.ratio(value)  # None reads "—"


def _trades(row: SweepRow) -> str:
    return str(row.closed_trades) + (" +1 open" if row.open_trade else "")


def _win_rate(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


def _days(first: datetime, last: datetime) -> str:
    return f"{first:%Y-%m-%d} .. {last:%Y-%m-%d}"


def _objective_cell(name: str, value: float | None) -> str:
    return _percent(value) if name == "return" else _ratio(value)


def walk_table(walk: WalkForward, asset: AssetWalk, fees: str) -> None:
    from signalops.backtest.sweep import format_value
    from signalops.catalogue.spec import format_duration

    names = list(walk.grid)
    goal = walk.objective
    windows = asset.windows
    tested = (windows[0].window.test[0], windows[-1].window.test[1])
    kind = "anchored" if walk.anchored else "rolling"
    heading = (
        f"{walk.strategy} · {asset.asset} · walk-forward, {kind}: train "
        f"{format_duration(walk.train.total_seconds())}, test "
        f"{format_duration(walk.test.total_seconds())} · "
        f"{output.count(len(windows), 'window')} tested {_days(*tested)} every "
        f"{format_duration(walk.step.total_seconds())} · "
        f"{output.count(walk.combinations, 'combination')} · objective {goal.title} · {fees}"
    )
    output.console().print(Text(heading, style="bold"))
    covered = asset.covered  # else a column of how much of each span the data covers
    columns = [
        "window",
        "in-sample",
        "out-of-sample",
        *([] if covered else [_DATA_COLUMN]),
        *names,
        f"IS {goal.title}",
        f"OOS {goal.title}",
        *_metric_columns(goal.name),
    ]
    rows = []
    for result in windows:
        w, oos = result.window, result.out_of_sample
        chosen = result.params or {}
        rows.append(
            [
                str(w.number),
                _days(*w.train),
                _days(*w.test),
                *([] if covered else [f"{_share(result.train_data)} / {_share(result.test_data)}"]),
                *(format_value(chosen[n]) if n in chosen else "—" for n in names),
                _objective_cell(goal.name, result.in_sample_value),
                _objective_cell(goal.name, result.out_of_sample_value),
                *(_metrics(oos, goal.name) if oos is not None else _cash_cells(goal.name, result)),
            ]
        )
    stitched = asset.stitched
    rows.append(
        [
            "stitched",
            "",
            _days(*tested),
            *([] if covered else [""]),
            *("" for _ in names),
            "",
            _objective_cell(goal.name, goal.value(stitched.row, stitched.span)),
            *_metrics(stitched.row, goal.name),
        ]
    )
    output.plain_table(columns, rows, left=3)
    out = output.console()
    for line in _walk_lines(walk, asset):
        out.print(line)


def _metric_columns(objective: str) -> list[str]:
    """The test window's metrics (its Sharpe only when it is not the objective already)."""
    sharpe = [] if objective == "sharpe" else ["Sharpe"]
    return ["return", "max DD", *sharpe, "trades", "win rate", "exposure"]


def _metrics(row: SweepRow, objective: str) -> list[str]:
    sharpe = [] if objective == "sharpe" else [_ratio(row.sharpe)]
    return [
        _percent(row.total_return),
        _percent(row.max_drawdown, sign=False),
        *sharpe,
        _trades(row),
        _win_rate(row.win_rate.rate),
        f"{row.exposure:.1%}",
    ]


def _cash_cells(objective: str, result: WindowResult) -> list[str]:
    """A window whose test was not screened: cash (no set chosen, or it failed), or "no data"
    where a span had none (nothing could be chosen, or judged)."""
    held = "no data" if result.unscreened or result.test_data.none else "cash"
    return [held, *("" for _ in _metric_columns(objective)[1:])]


_DATA_COLUMN = "data IS / OOS"


def _share(data: Coverage) -> str:
    """How much of a span the data covers: ``all``, ``none``, else a percentage that says
    neither (``<1%``, ``>99%``)."""
    if data.whole:
        return "all"
    if data.none:
        return "none"
    percent = data.share * 100
    return "<1%" if percent < 1 else ">99%" if percent > 99 else f"{percent:.0f}%"


def _data_lines(asset: AssetWalk) -> list[str]:
    """What the data column says, the windows a span of which has none, and the backtest's
    notes of the stitched record's data; nothing when every span is covered."""
    if asset.covered:
        return []
    first, last = asset.data_span
    parts = [
        f"{_DATA_COLUMN}: the share of each window's decision times the {asset.data} "
        f"({_days(first, last)}) can price an order at"
    ]
    untrained = [w.window.number for w in asset.windows if w.unscreened]
    if untrained:
        parts.append(
            f"none in-sample in {_windows(untrained)}: not screened, nothing chosen "
            '("no data", not a choice of cash)'
        )
    untested = [w.window.number for w in asset.windows if w.test_data.none]
    if untested:
        parts.append(f"none out-of-sample in {_windows(untested)}: not judged, cash in stitched")
    return ["; ".join(parts), *(f"stitched: {note}" for note in asset.notes)]


def _windows(numbers: Sequence[int]) -> str:
    """``window 3``, ``windows 1-3, 10``."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    text = ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)
    return f"window{'s' if len(numbers) > 1 else ''} {text}"


def _walk_lines(walk: WalkForward, asset: AssetWalk) -> list[str]:
    from signalops.backtest.sweep import format_value
    from signalops.research.walkforward import short_note

    windows = len(asset.windows)
    chosen = asset.chosen
    lines = []
    for name, counts in asset.stability().items():
        (top, most), rest = counts[0], counts[1:]
        parts = [
            f"{format_value(top)} in {most:,} of {output.count(windows, 'window')} "
            f"({most / windows:.0%})"
        ]
        parts += [f"{format_value(value)} in {n} ({n / windows:.0%})" for value, n in rest]
        lines.append(f"{name} chosen: {', '.join(parts)}")
    if len(chosen) > 1:
        lines.append(
            f"the chosen set changed {output.count(asset.changes, 'time')} in "
            f"{output.count(len(chosen) - 1, 'step')}"
        )
    # Those showing "cash": a span without data shows "no data", and the data line says why.
    without = [
        w for w in asset.windows if w.params is None and not w.unscreened and not w.test_data.none
    ]
    if without:
        # Those that failed to compile were not screened: no Sharpe of theirs was missing.
        sets = "no set that compiled" if walk.uncompiled else "no set"
        lines.append(
            f"{output.count(len(without), 'window')} without a choice "
            f"({sets} has a {walk.objective.title} in-sample) held cash"
        )
    lines += _data_lines(asset)
    lines.append(_degradation(walk, asset))
    short = short_note(walk, asset)
    if short is not None:
        lines.append(short)
    lines.append(
        "each test window starts flat with the starting cash; stitched chains them, selling "
        "a position open at a window's end at its last close (fee and slippage); "
        f"{output.SCREEN_FOOTER}"
    )
    return lines


def _degradation(walk: WalkForward, asset: AssetWalk) -> str:
    goal = walk.objective
    both = sum(
        1
        for w in asset.windows
        if w.in_sample_value is not None and w.out_of_sample_value is not None
    )
    inside, outside = asset.degradation()
    if inside is None or outside is None:
        return f"in-sample vs out-of-sample {goal.title}: no window has both"
    ratio = f", out/in {outside / inside:.0%}" if inside > 0 else ""
    return (
        f"in-sample → out-of-sample {goal.title} (mean of the "
        f"{output.count(both, 'window')} with both): {_objective_cell(goal.name, inside)} → "
        f"{_objective_cell(goal.name, outside)}{ratio}"
    )


def each_asset_notes(runs: EachAsset) -> None:
    """Each asset's backtest notes, as a backtest of it alone prints them (on stderr, before
    its table), each named by its asset: the table has one row each and would not say which
    asset's data was UNKNOWN or whose orders failed."""
    err = output.console(stderr=True)
    for run in runs.runs:
        for note in run.notes:
            err.print(f"note: {run.asset}: {note}", style="yellow", markup=False, highlight=False)


def each_asset_table(runs: EachAsset, config: Config) -> None:
    """The table of ``run_each_asset``, its footer in each asset's account currency and
    fills."""
    from signalops.backtest.report import fills_text

    if not runs.runs:
        return
    first = runs.runs[0].summary
    counted = {(run.summary["periods"], run.summary.get("sessions")) for run in runs.runs}
    periods = (
        ""
        if len(counted) > 1  # a stock's sessions beside a coin's days: each has its own
        else f" · {output.count(first['periods'], 'session')}"
        if first.get("sessions")
        else f" · {output.count(first['periods'], 'period')} of {first['every']}"
    )
    out = output.console()
    out.print(
        Text(
            f"{runs.strategy} · each asset on its own · {runs.start:%Y-%m-%d} → "
            f"{runs.end:%Y-%m-%d}{periods}",
            style="bold",
        )
    )
    columns = [
        "asset",
        "return",
        "CAGR",
        "max DD",
        "Sharpe",
        "trades",
        "win rate",
        "exposure",
        "blocked",
        "buy & hold",
    ]
    rows = []
    for run in runs.runs:
        metrics = run.summary["metrics"]
        held = run.buy_and_hold
        trades = str(metrics["trades"]) + (
            f" +{metrics['open_trades']} open" if metrics["open_trades"] else ""
        )
        rows.append(
            [
                run.asset,
                _percent(metrics["total_return"]),
                _percent(metrics["cagr"]),
                _percent(metrics["max_drawdown"]["depth"], sign=False),
                _ratio(metrics["sharpe"]),
                trades,
                _win_rate(metrics["win_rate"]["rate"]),
                f"{metrics['exposure']:.1%}",
                str(run.summary["decisions"]["BLOCKED"]),
                "—" if held is None else _percent(held["total_return"]),
            ]
        )
    output.plain_table(columns, rows, left=1)
    fill = first["fill"]
    assets = [run.asset for run in runs.runs]
    outcomes = [asset for asset in assets if config.venues.trades_outcome(asset)]
    cash = _cash(first["starting_cash"]) + _each_quote(runs)
    fills = fills_text(fill["rule"], outcomes, len(assets), None)
    out.print(
        f"each asset alone: starting cash {cash}; {fills}, fee {fill['fee_bps']} bps, "
        f"slippage {fill['slippage_bps']} bps"
    )
    out.print(
        f"audit logs and metrics.json: {runs.out_dir}/<asset>/ "
        f"(signalops backtest --asset X for one asset's full report)"
    )


# --- a backtest's portfolio, beyond the side-by-side table -------------------------------------

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def portfolio(study: Study) -> None:
    """Each asset's part (several assets), the extended metrics and the monthly returns."""
    from signalops.backtest.report import asset_table, denial_lines

    out = output.console()
    found = asset_table(study)  # the page's table too
    if found is not None:
        out.print()
        _assets_table(study, found)
    for line in denial_lines(study):  # one asset: no table to have it
        out.print(line)
    out.print()
    for line in _extended_lines(study):
        out.print(line)
    out.print()
    _monthly_table(study)


def _assets_table(study: Study, found: AssetTable) -> None:
    out = output.console()
    out.print(Text(f"portfolio by asset · {found.summary}", style="bold"))
    output.plain_table(found.columns, found.rows, left=found.left)
    parts = study.parts
    if parts.sectors:
        out.print()
        _sectors_table(study, parts)
    for line in _assets_lines(study, parts):
        out.print(line)


def _sectors_table(study: Study, parts: Breakdown) -> None:
    start = parts.start_equity
    rows = [
        [
            s.sector,
            ", ".join(s.assets),
            _signed_money(s.net),
            _pct(float(s.net / start)),
            str(s.trades),
            f"{s.max_weight:.1%}",
        ]
        for s in parts.sectors
    ]
    columns = ["sector", "assets", "net PnL", "of start", "trades", "max weight"]
    output.plain_table(columns, rows, left=2)


def _assets_lines(study: Study, parts: Breakdown) -> list[str]:
    from signalops.backtest.report import BY_CHECK

    lines = []
    alone = [p.asset for p in parts.assets if p.sector is None]
    if parts.sectors and alone:
        lines.append(f"without a sector (each its own for max_sector): {', '.join(alone)}")
    if parts.net == parts.equity_change:
        lines.append(
            f"the assets' net PnL adds up to the equity change: "
            f"{_signed_money(parts.equity_change)} = {_money(parts.end_equity)} - "
            f"{_money(parts.start_equity)}"
        )
    else:  # the ledger's own arithmetic rounded (28 digits): say by how much
        lines.append(
            f"the assets' net PnL {_signed_money(parts.net)} differs from the equity change "
            f"{_signed_money(parts.equity_change)} by {parts.net - parts.equity_change:.2E}"
        )
    limits = study.limits
    if limits is not None:
        sector = (
            "no max_sector limit"
            if limits.max_sector is None
            else f"max_sector {limits.max_sector:.0%} of equity per sector"
        )
        notional = (
            "no max_notional"
            if limits.max_notional is None
            else f"max_notional {_money(limits.max_notional)} an order"
        )
        lines.append(
            f"limits: max_position {limits.max_position:.0%} of equity per asset, {sector}, "
            f"max_exposure {limits.max_exposure:.0%} in all, {notional}; max weight: the "
            f"largest value at a period's mark over the equity then"
        )
    denials: dict[str, dict[str, int]] = {}
    for p in parts.assets:
        for code, n in p.denials.items():
            denials.setdefault(code, {})[p.asset] = n
    if denials:
        shown = "; ".join(
            f"{code} {sum(by.values()):,} ({', '.join(f'{a} {n:,}' for a, n in by.items())})"
            for code, by in sorted(denials.items(), key=lambda kv: -sum(kv[1].values()))
        )
        lines.append(f"{BY_CHECK}: {shown}")
    return lines


def _extended_lines(study: Study) -> list[str]:
    from signalops.backtest.formatting import profit_factor

    ext: ExtendedMetrics = study.extended
    quote = f" {study.quote}" if study.quote else ""
    against = study.relative_to
    if against is None:
        relative = "against buy & hold: — (it could not buy at the first fill)"
    else:
        label = (
            "buy & hold of the assets in equal parts"
            if against == "buy_and_hold"
            else f"buy & hold {against}"
        )
        rel = ext.relative
        assert rel is not None
        relative = (
            f"against {label}: alpha {_pct(rel.alpha)} a year, beta {_ratio(rel.beta)}, "
            f"tracking error {_pct(rel.tracking_error, sign=False)} a year, information "
            f"ratio {_ratio(rel.information_ratio)}"
        )
    stats = ext.trades
    expectancy = "—"
    if stats.expectancy is not None:
        expectancy = f"{_signed_money(stats.expectancy)}{quote} ({_pct(stats.expectancy_return)})"
    turnover = "—" if ext.turnover is None else f"{ext.turnover:.2f}"
    calmar = _ratio(ext.calmar) + ("" if ext.calmar_gap is None else f" ({ext.calmar_gap})")
    factor = profit_factor(stats.profit_factor, stats.gross_profit)
    return [
        relative,
        f"closed trades: {stats.trades}, profit factor {factor}, "
        f"expectancy {expectancy} a trade; Calmar {calmar}; exposure "
        f"{ext.exposure:.1%}; turnover {turnover} a year ({_money(ext.traded)}{quote} traded)",
        _tail_line(study, ext),
    ]


def _tail_line(study: Study, ext: ExtendedMetrics) -> str:
    from signalops.catalogue.spec import format_duration

    by_method: dict[str, list[str]] = {}
    for risk in ext.tail_risk:
        var, cvar = risk.var, risk.cvar
        figures = f"{_pct(var.fraction, sign=False)} / {_pct(cvar.fraction, sign=False)}"
        by_method.setdefault(var.method.value, []).append(f"{var.confidence:.0%} {figures}")
    result = study.result
    every = format_duration(result.every.total_seconds())
    period = "session" if result.by_session else f"{every} period"
    shown = "; ".join(f"{method} {', '.join(cells)}" for method, cells in by_method.items())
    why = _no_figure(ext, "session" if result.by_session else "period")
    return f"VaR / CVaR of one {period} (over the run's returns): {shown}{why}"


def _no_figure(ext: ExtendedMetrics, unit: str) -> str:
    """Why a confidence shows ``— / —``, once for all its methods: ``(99% needs 100 periods;
    the run has 31)`` (its quantile would be the single worst return), or the estimate's own
    note for any other reason."""
    from signalops.codes import Code

    reasons: dict[str, None] = {}
    for risk in ext.tail_risk:
        var = risk.var
        if var.ok:
            continue
        if var.reason == Code.INSUFFICIENT_HISTORY:
            needs = numbers.counted(var.required, unit)
            text = f"{var.confidence:.0%} needs {needs}; the run has {var.observations:,}"
        else:
            text = f"{var.method.value} {var.confidence:.0%}: {var.note or var.reason}"
        reasons.setdefault(text)
    return f" ({'; '.join(reasons)})" if reasons else ""


def _monthly_table(study: Study) -> None:
    years = study.extended.monthly.years
    if not years:
        return
    whose = "account" if study.result.others else "strategy"  # several: their account's
    output.console().print(Text(f"monthly returns ({whose}, UTC months)", style="bold"))
    rows = [[str(y.year), *(_month(v) for v in y.months), _month(y.total)] for y in years]
    output.plain_table(["year", *_MONTHS, "total"], rows, left=1)


def _month(value: float | None) -> str:
    """A cell of the monthly table: blank where the run did not reach the month."""
    return "" if value is None else numbers.period_return(value)


def _pct(value: float | None, sign: bool = True) -> str:
    """A percentage as the backtest table shows one: thousands separated (``+1,412.10%``)."""
    if value is None:
        return "—"
    value += 0.0  # -0.0 (a flat curve's VaR) shows as 0.00%
    return f"{value:+,.2%}" if sign else f"{value:,.2%}"


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _signed_money(value: Decimal) -> str:
    return f"{value:+,.2f}"


def _each_quote(runs: EachAsset) -> str:
    """The currency after the footer's starting cash: the one every asset's account is in, else
    each one's (`` in its own currency (USDT: BTC; USD: AAPL)``). Each asset is backtested
    alone, in its own account (its metrics.json's quote), so the currency of one account
    holding them all at par (USD) would be no run's."""
    by_quote: dict[str, list[str]] = {}
    for run in runs.runs:
        by_quote.setdefault(str(run.summary["quote"]), []).append(run.asset)
    if len(by_quote) == 1:
        return f" {next(iter(by_quote))}"
    each = "; ".join(
        f"{quote}: {numbers.listed(named, most=3)}" for quote, named in by_quote.items()
    )
    return f" in its own currency ({each})"


def _cash(text: str) -> str:
    return f"{Decimal(text):,.2f}"
