"""The fast backtest's shortcuts give what the slower ways they replace give.

Each shortcut is checked against the plain computation it stands for: the windowed RSI against
TA-Lib window by window, the price check against ``reference_price`` over the adapters' answers,
the day starts against ``day_start_of``, the values made without their dataclass ``__init__``
against the constructor's; and a backtest leaves the garbage collector as it found it. The
quiet bars recorded a stretch at a time give the pipeline engine's log and results: two assets'
interleaved, flat SELLs up to a bar without a price, and a secret that ``on_cycle`` sets half way
through a stretch.
"""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import talib

from signalops.adapters import registry
from signalops.adapters.gather import gather
from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest import answers as answers_module
from signalops.backtest import run_backtest
from signalops.backtest import runner as runner_module
from signalops.backtest.answers import ReplayAnswers, windowed_rsi
from signalops.backtest.fast import FastRun, day_starts
from signalops.backtest.ledger import Decision, EquityPoint, decision, equity_point
from signalops.config import Config, loads_config
from signalops.evaluation.tree import Verdict
from signalops.execution.paper import day_start_of
from signalops.observation import Request
from signalops.pipeline.cycle import price_requests, reference_price
from signalops.side import Side
from signalops.strategy import loads

HOUR, DAY = 3600, 86400
HOURLY_1H = "candles/binance/BTC/USDT/1h"


def _closes(store: SnapshotStore) -> np.ndarray:
    series = store.series("technical", HOURLY_1H)
    assert series is not None
    return series.column(3)


def _talib_rsi(close: np.ndarray, ends: np.ndarray, window: int, n: int) -> np.ndarray:
    return np.array([talib.RSI(close[e - window : e], timeperiod=n)[-1] for e in ends.tolist()])


def test_windowed_rsi_is_talib_to_the_bit_when_windows_repeat_and_skip(
    replay_store: SnapshotStore,
):
    close = _closes(replay_store)
    rng = np.random.default_rng(7)
    skipping = np.sort(rng.choice(np.arange(250, len(close) + 1), size=400, replace=False))
    repeating = np.repeat(np.arange(5_000, 5_300), 2)  # an hour without a candle: same window
    for ends in (skipping, repeating, skipping[::-1].copy()):
        found = windowed_rsi(close, ends, 250, 14)
        assert np.array_equal(found.view(np.int64), _talib_rsi(close, ends, 250, 14).view(np.int64))


@pytest.mark.parametrize(("window", "n"), [(15, 14), (30, 2), (250, 14), (120, 30), (64, 63)])
def test_windowed_rsi_is_talib_to_the_bit_for_other_lengths_and_flat_closes(
    replay_store: SnapshotStore, window: int, n: int
):
    # Rounded closes repeat (changes of zero: neither gain nor loss), and the lengths make
    # Wilder's recursion start and run for other counts of steps than the adapter's 250 / 14.
    close = np.round(_closes(replay_store)[:6_000], -1)
    ends = np.arange(window, len(close) + 1, 7)
    found = windowed_rsi(close, ends, window, n)
    assert np.array_equal(found.view(np.int64), _talib_rsi(close, ends, window, n).view(np.int64))


def test_windowed_rsi_of_no_windows_is_empty_and_of_a_short_one_refused(
    replay_store: SnapshotStore,
):
    close = _closes(replay_store)
    assert windowed_rsi(close, np.array([], dtype=np.int64), 250, 14).shape == (0,)
    with pytest.raises(ValueError, match="whole window"):
        windowed_rsi(close, np.array([100]), 250, 14)


def _hourly_rsi_column(store: SnapshotStore, hours: int) -> tuple[Request, ReplayAnswers]:
    adapters = registry.replay_adapters(store, venues=Config().venues)
    series = store.series("technical", HOURLY_1H)
    assert series is not None
    first = datetime.fromtimestamp(series.times[300], UTC)
    moments = [first + timedelta(hours=k) for k in range(hours)]
    rsi = Request("technical", "rsi", (("n", 14), ("timeframe", HOUR)), "BTC")
    return rsi, ReplayAnswers([rsi], adapters, moments)


def test_an_rsi_column_runs_the_windowed_recursion_once_and_checks_samples_of_it(
    replay_store: SnapshotStore, monkeypatch: pytest.MonkeyPatch
):
    """TA-Lib's bits are checked on sample windows of the column's own result: the recursion
    over a few windows costs as many array steps as over all of them, so it runs once."""
    calls: list[int] = []

    def counted(close: np.ndarray, ends: np.ndarray, window: int, n: int) -> np.ndarray:
        calls.append(len(ends))
        return windowed_rsi(close, ends, window, n)

    monkeypatch.setattr(answers_module, "windowed_rsi", counted)
    rsi, answers = _hourly_rsi_column(replay_store, 2_000)
    assert calls == [2_000]
    column = answers.columns[rsi]
    assert all(column.ok)
    ends = np.array(column.last) + 1
    expected = _talib_rsi(_closes(replay_store), ends, 250, 14)
    assert np.array_equal(np.array(column.values).view(np.int64), expected.view(np.int64))


@pytest.mark.parametrize(
    ("hours", "wrong"),
    # Few windows: each is checked. Many: the first and last 64 and 64 spread between.
    [(150, 0), (150, 100), (150, -1), (2_000, 0), (2_000, 63), (2_000, -64), (2_000, -1)],
)
def test_an_rsi_column_whose_windowed_values_are_not_talibs_takes_the_adapters_way(
    replay_store: SnapshotStore, monkeypatch: pytest.MonkeyPatch, hours: int, wrong: int
):
    """One sampled window off by an ulp (a TA-Lib built with other arithmetic): every window
    is the adapter's own ``talib.RSI``, none of the windowed values is kept."""

    def off(close: np.ndarray, ends: np.ndarray, window: int, n: int) -> np.ndarray:
        found = windowed_rsi(close, ends, window, n)
        found[wrong] = np.nextafter(found[wrong], np.inf)
        return found

    monkeypatch.setattr(answers_module, "windowed_rsi", off)
    rsi, answers = _hourly_rsi_column(replay_store, hours)
    column = answers.columns[rsi]
    ends = np.array(column.last) + 1
    expected = _talib_rsi(_closes(replay_store), ends, 250, 14)
    assert np.array_equal(np.array(column.values).view(np.int64), expected.view(np.int64))


def test_priced_says_whether_reference_price_finds_a_price_at_every_bar(
    replay_store: SnapshotStore,
):
    adapters = registry.replay_adapters(replay_store, venues=Config().venues)
    series = replay_store.series("technical", HOURLY_1H)
    assert series is not None
    # From before the first candle through the 2021 outages, every 7th hour and a few minutes
    # past it: a price found fresh, found too old for some limits, or not found.
    first = datetime.fromtimestamp(series.times[0], UTC) - timedelta(hours=30)
    moments = [first + timedelta(hours=7 * k, minutes=13) for k in range(1_500)]
    btc, eth = price_requests("BTC"), price_requests("ETH")
    answers = ReplayAnswers([*btc, *eth], adapters, moments)
    seen: dict[float | None, set[bool]] = {}
    for max_age in (None, 2.0 * HOUR, DAY + HOUR, 60.0):
        for i, moment in enumerate(moments):
            for asset, sources in (("BTC", btc), ("ETH", eth)):
                prices = answers.answers(sources, i)
                found = reference_price(asset, prices, moment, max_age, sources) is not None
                assert answers.priced(sources, i, max_age) is found, (moment, asset, max_age)
                seen.setdefault(max_age, set()).add(found)
    assert seen[2.0 * HOUR] == {True, False} and seen[60.0] == {False}


def test_priced_of_a_source_no_column_serves_asks_the_adapter(replay_store: SnapshotStore):
    adapters = registry.replay_adapters(replay_store, venues=Config().venues)
    moments = [datetime(2023, 3, 1, tzinfo=UTC) + timedelta(hours=k) for k in range(48)]
    odd = Request("technical", "close", (("timeframe", 4 * HOUR),), "BTC")  # no such series
    answers = ReplayAnswers([odd], adapters, moments)
    assert odd not in answers.columns
    for i, moment in enumerate(moments):
        expected = reference_price("BTC", answers.answers([odd], i), moment, None, [odd])
        assert answers.priced([odd], i, None) is (expected is not None)


def test_requests_over_windows_of_one_length_share_them_and_answer_as_the_adapters(
    replay_store: SnapshotStore,
):
    """Each bar's window (its candles, last index and gaps) is worked out once per series and
    length: a close, an RSI and a volume z-score read the adapter's 250 candles, an SMA of 300
    its own 300. Each answers at every bar what the adapter does, gaps and short history too."""
    adapters = registry.replay_adapters(replay_store, venues=Config().venues)
    series = replay_store.series("technical", HOURLY_1H)
    assert series is not None
    first = datetime.fromtimestamp(series.times[0], UTC) - timedelta(hours=3)
    moments = [first + timedelta(hours=11 * k) for k in range(900)]
    hourly = (("timeframe", HOUR),)
    close = Request("technical", "close", hourly, "BTC")
    rsi = Request("technical", "rsi", (("n", 14), *hourly), "BTC")
    volume = Request("technical", "volume_z", (("n", 20), *hourly), "BTC")
    longer = Request("technical", "sma", (("n", 300), *hourly), "BTC")
    requests = [close, rsi, volume, longer]
    answers = ReplayAnswers(requests, adapters, moments)
    columns = [answers.columns[request] for request in requests]
    assert all(c.last is columns[0].last and c.gaps is columns[0].gaps for c in columns[1:3])
    assert columns[3].last is not columns[0].last
    gapped = 0
    for i, moment in enumerate(moments):
        expected = gather(requests, adapters, moment)
        for request in requests:
            found = answers.answer(request, i)
            assert found == expected[request], (moment, request)
            gapped += "gaps" in (getattr(found, "detail", None) or {})
    assert gapped > 20


def test_day_starts_are_day_start_of_each_moment_in_utc_and_in_other_zones():
    start = datetime(2024, 2, 28, 21, 30, 15, 250, tzinfo=UTC)
    hourly = [start + timedelta(hours=k) for k in range(100)]
    new_york = timezone(timedelta(hours=-5))
    elsewhere = [m.astimezone(new_york) for m in hourly[::7]]
    for moments in (hourly, elsewhere, [*hourly[:30], *elsewhere, *hourly[30:]]):
        found = day_starts(moments)
        assert found == [day_start_of(m) for m in moments]
        assert all(f.tzinfo is UTC for f in found)
    assert day_starts([]) == []


def test_equity_points_and_decisions_made_fast_equal_the_constructors_own():
    at = datetime(2024, 1, 1, tzinfo=UTC)
    point = equity_point(at, Decimal("10012.5"), Decimal("9000"), True)
    built = EquityPoint(at, Decimal("10012.5"), Decimal("9000"), held=True)
    assert point == built and hash(point) == hash(built) and repr(point) == repr(built)
    assert point.exposure == Decimal("1012.5")
    fields = ("dec-1", at, "BTC", "SELL", "SELL", ("calm",), "NOT_EXECUTED", ("NO_POSITION",))
    made = decision(*fields)
    assert made == Decision(*fields) and hash(made) == hash(Decision(*fields))
    assert repr(made) == repr(Decision(*fields))


STRATEGY = (Path(__file__).parent / "fixtures" / "hourly_rsi.yaml").read_text(encoding="utf-8")


def test_a_backtest_leaves_the_collector_thresholds_as_it_found_them(
    replay_store: SnapshotStore, tmp_path: Path
):
    was = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # Python's default
    seen: list[tuple[int, int, int]] = []
    try:
        result = run_backtest(
            loads(STRATEGY, "speedups.yaml"),
            store=replay_store,
            start=datetime(2023, 3, 1, tzinfo=UTC),
            end=datetime(2023, 3, 8, tzinfo=UTC),
            out_dir=tmp_path,
            progress=lambda done, total: seen.append(gc.get_threshold()),
        )
        after = gc.get_threshold()
    finally:
        gc.set_threshold(*was)
    assert result.decisions and seen
    assert all(threshold[0] > 700 for threshold in seen)  # fewer collections while it ran
    assert after == (700, 10, 10)


def test_a_finished_fast_run_is_freed_without_the_collector(
    replay_store: SnapshotStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Nothing the run made refers back to it (its writer's lines go to a list's ``extend``):
    once the backtest returns, the run, its answers and its decisions are freed as soon as
    the caller lets go of the result, not when the collector next walks its old objects."""
    runs: list[weakref.ref[FastRun]] = []

    class Tracked(FastRun):
        def run(self) -> list[EquityPoint]:
            runs.append(weakref.ref(self))
            return super().run()

    monkeypatch.setattr(runner_module, "FastRun", Tracked)
    gc.collect()
    gc.disable()
    try:
        result = run_backtest(
            loads(STRATEGY, "speedups.yaml"),
            store=replay_store,
            start=datetime(2023, 3, 1, tzinfo=UTC),
            end=datetime(2023, 3, 8, tzinfo=UTC),
            out_dir=tmp_path,
        )
        assert result.decisions and len(runs) == 1
        del result
        assert runs[0]() is None
    finally:
        gc.enable()


@pytest.mark.parametrize(
    ("name", "start", "end", "every", "share"),
    [
        ("hourly_rsi", "2023-02-20", "2023-05-15", timedelta(hours=1), 0.8),
        ("technical_baseline", "2022-01-01", "2023-12-31", None, 0.8),
        # On-chain and news leaves are not candle columns: every bar is evaluated.
        ("banking_crisis_dip", "2022-06-01", "2023-06-30", None, 0),
    ],
)
def test_a_bar_recorded_without_evaluating_it_is_what_the_evaluation_says(
    replay_store: SnapshotStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    start: str,
    end: str,
    every: timedelta | None,
    share: float,
):
    # The bars FastRun takes for a HOLD with nothing to tell, or a SELL, from its vectorised
    # reading of the columns, one by one or a stretch at once, are evaluated here the scalar
    # way, as Pipeline.cycle does, and must agree; a SELL so taken is one the gate would deny
    # (nothing held).
    taken: dict[str, int] = {"HOLD": 0, "SELL": 0}
    quietly, stretch = FastRun._quietly, FastRun._stretch

    def check(run: FastRun, quiet: int, asset: str, i: int) -> str:
        moment = run.moments[i]
        row = run.answers.row(run._requests[asset][0], i)
        evaluation = run.strategy.tree.evaluate_aligned(row, moment, asset)
        verdict = Verdict.HOLD if quiet == 1 else Verdict.SELL
        action = None if quiet == 1 else Side.SELL
        assert evaluation[:4] == (verdict, action, (), ()), (asset, moment)
        assert not any(evaluation.reasons), (asset, moment)
        return verdict.value

    def checking(run: FastRun, quiet: int, asset: str, moment: datetime, i: int) -> bool:
        verdict = check(run, quiet, asset, i)
        done = quietly(run, quiet, asset, moment, i)
        taken[verdict] += done
        return done

    def checking_stretch(run: FastRun, i: int, stop: int) -> int:
        bars = stretch(run, i, stop)
        for k in range(i, i + bars):
            for asset in run.assets:
                taken[check(run, run._quiet[asset][k], asset, k)] += 1
        return bars

    monkeypatch.setattr(FastRun, "_quietly", checking)
    monkeypatch.setattr(FastRun, "_stretch", checking_stretch)
    folder = Path(__file__).parent / ("fixtures" if name == "hourly_rsi" else "../strategies")
    path = folder / f"{name}.yaml"
    strategy = loads(path.read_text("utf-8"), path.name)
    result = run_backtest(
        strategy, store=replay_store, out_dir=tmp_path, every=every,
        start=datetime.fromisoformat(start).replace(tzinfo=UTC),
        end=datetime.fromisoformat(end).replace(tzinfo=UTC),
    )  # fmt: skip
    holds = sum(d.verdict == "HOLD" for d in result.decisions)
    flat_sells = sum(d.denials == ("NO_POSITION",) for d in result.decisions)
    assert share * holds <= taken["HOLD"] <= (holds if share else 0)
    assert share * flat_sells <= taken["SELL"] <= (flat_sells if share else 0), (taken, flat_sells)
    assert flat_sells > 10 or not share


DAILY_RSI_TWO = """
strategy:
  name: "Daily_RSI_Two"
  assets: ["BTC", "ETH"]
  defaults:
    params:
      timeframe: 1d
  rules:
    - id: oversold
      source: technical
      conditions:
        - when: "rsi(14) < 30"
  exit:
    rules:
      - id: recovered
        source: technical
        conditions:
          - when: "rsi(14) > 55"
  execution:
    position_size: 0.05
    action_mode: paper
"""


def _stretches(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, list[tuple[int, ...]]]]:
    """Each stretch FastRun records at once: its first bar, and each bar's kinds (``_quiet``:
    1 a HOLD, 2 a flat SELL), one per asset."""
    found: list[tuple[int, list[tuple[int, ...]]]] = []
    stretch = FastRun._stretch

    def counting(run: FastRun, i: int, stop: int) -> int:
        bars = stretch(run, i, stop)
        if bars:
            kinds = [tuple(run._quiet[a][k] for a in run.assets) for k in range(i, i + bars)]
            found.append((i, kinds))
        return bars

    monkeypatch.setattr(FastRun, "_stretch", counting)
    return found


def test_quiet_stretches_of_two_assets_are_recorded_at_once_as_the_pipeline_records_them(
    replay_store: SnapshotStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from test_backtest_fast_parity import assert_same_backtest, both_engines

    stretches = _stretches(monkeypatch)
    fast, pipeline = both_engines(
        loads(DAILY_RSI_TWO, "two.yaml"), replay_store, tmp_path,
        start=datetime(2021, 1, 1, tzinfo=UTC), end=datetime(2023, 12, 31, tzinfo=UTC),
    )  # fmt: skip
    assert_same_backtest(fast, pipeline)  # the records of both assets in the pipeline's order
    assert fast.legs and {d.asset for d in fast.decisions} == {"BTC", "ETH"}
    bars = [kinds for _, stretch in stretches for kinds in stretch]
    assert 2 * len(bars) >= len(fast.decisions) / 2  # most bars, two decisions each
    assert {(1, 1), (1, 2), (2, 1), (2, 2)} <= set(bars)
    assert any(len(set(stretch)) > 1 for _, stretch in stretches)  # kinds changing in one


def test_quiet_flat_sells_are_recorded_at_once_up_to_a_bar_without_a_fresh_price(
    replay_store: SnapshotStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Deciding every quarter hour with prices good for 40 minutes: the hourly close is too old
    # at a quarter to, where the gate denies a SELL for NO_PRICE; the bars before it are
    # NO_POSITION denials recorded at once, the stretch ending there.
    from test_backtest_fast_parity import assert_same_backtest, both_engines

    stretches = _stretches(monkeypatch)
    fast, pipeline = both_engines(
        loads(STRATEGY, "speedups.yaml"), replay_store, tmp_path,
        start=datetime(2023, 3, 1, tzinfo=UTC), end=datetime(2023, 4, 1, tzinfo=UTC),
        every=timedelta(minutes=15), config=loads_config("risk: {max_data_age: 40m}\n"),
    )  # fmt: skip
    assert_same_backtest(fast, pipeline)
    sells = [d for d in fast.decisions if d.verdict == "SELL" and d.status == "NOT_EXECUTED"]
    assert {("NO_POSITION",), ("NO_PRICE",)} <= {d.denials for d in sells}
    assert sum(kinds.count((2,)) for _, kinds in stretches) >= len(sells) / 2
    ends = [(first + len(kinds), kinds[-1]) for first, kinds in stretches]
    denied = [last for end, last in ends[:-1] if fast.decisions[end].denials == ("NO_PRICE",)]
    assert denied and set(denied) == {(2,)}  # a stretch of SELLs ends at the bar without a price


def test_secrets_set_by_on_cycle_in_a_quiet_stretch_scrub_the_bars_after_it_alike(
    replay_store: SnapshotStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # A stretch's records are made before on_cycle hears of its bars: a secret that on_cycle
    # sets after one of them (ten hex digits of the next bar's id) must still be scrubbed from
    # the next one, as the pipeline engine, which records bar after bar, scrubs it.
    from test_backtest_fast_parity import assert_same_backtest

    strategy = loads(STRATEGY, "speedups.yaml")
    span = {"start": datetime(2023, 3, 1, tzinfo=UTC), "end": datetime(2023, 3, 15, tzinfo=UTC)}
    monkeypatch.delenv("SIGNALOPS_TEST_KEY", raising=False)
    stretches = _stretches(monkeypatch)
    plain = run_backtest(strategy, store=replay_store, out_dir=tmp_path / "plain", **span)
    first, _ = next(s for s in stretches if len(s[1]) >= 4 and s[0] > 50)
    bar = first + 2  # the third of the stretch: told of the second, the secret is set
    secret = plain.decisions[bar].decision_id[4:14]

    def setting(done: int, total: int) -> None:
        if done == bar:
            monkeypatch.setenv("SIGNALOPS_TEST_KEY", secret)

    results = []
    for engine in ("fast", "pipeline"):
        monkeypatch.delenv("SIGNALOPS_TEST_KEY", raising=False)
        out_dir = tmp_path / engine
        results.append(
            run_backtest(strategy, store=replay_store, out_dir=out_dir, engine=engine,
                         progress=setting, **span)
        )  # fmt: skip
    assert_same_backtest(*results)
    assert secret not in results[0].decisions[bar].decision_id
    assert results[0].decisions[bar - 1] == plain.decisions[bar - 1]
