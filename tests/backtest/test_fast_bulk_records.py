"""The fast backtest's records of decisions that place nothing, built from parts worked out once
per batch of bars, are the records the general way builds.

``FastRun`` works out, for the decision times of a batch at once, what each record of a
decision placing nothing prints (``DecisionTemplate.times``: the ``as_of`` stamps, their UTC
seconds, the decision ids) and the JSON of each bar's observations (``ReplayAnswers.entries``),
and checks them for secrets once (``DecisionTimes.clean``); ``DecisionTemplate.prepare_at``
builds the record from them. Each part is held to what it replaces: ``_stamp``,
``_seconds_of`` and ``orders.decision_id`` for every kind of time; the template's own JSON of
the answers at every bar (gaps, short history, answers the adapters give); and the record
``prepare_decision`` builds, with secrets in the environment, in a detail and in an id, and
with an environment that changes between two records.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import ROOT

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.record import (
    DecisionTemplate,
    _seconds_of,
    _stamp,
    observation_entries,
    prepare_decision,
    secret_values,
)
from signalops.backtest.answers import ReplayAnswers
from signalops.config import Config
from signalops.evaluation.tree import Evaluation
from signalops.observation import Observation, Request
from signalops.orders import decision_id
from signalops.pipeline.cycle import DENIED, _why_not, not_executed
from signalops.strategy import load

HOUR = 3600
STRATEGY = load(ROOT / "strategies" / "technical_baseline.yaml")
START = datetime(2023, 3, 1, tzinfo=UTC)


class Moment(datetime):
    """A datetime subclass (as pandas' Timestamp is one): printed, but never given seconds."""


def _hours(first: datetime, count: int, step: timedelta = timedelta(hours=1)) -> list[datetime]:
    return [first + step * k for k in range(count)]


# Enough moments for the numpy way (64 and more) and fewer, of every kind a caller may give.
MOMENTS = {
    "hourly UTC": _hours(START, 200),
    "few": _hours(START, 5),
    "microseconds": _hours(START + timedelta(microseconds=250), 100),
    "one with microseconds": [*_hours(START, 99), START + timedelta(days=9, microseconds=1)],
    "Paris over a fall-back": [
        m.astimezone(ZoneInfo("Europe/Paris"))
        for m in _hours(datetime(2023, 10, 28, 20, tzinfo=UTC), 100, timedelta(minutes=20))
    ],
    "fixed zone": [m.astimezone(timezone(timedelta(hours=5))) for m in _hours(START, 80)],
    "UTC that is not UTC": [m.replace(tzinfo=timezone(timedelta(0))) for m in _hours(START, 80)],
    "a subclass": [Moment.fromtimestamp(m.timestamp(), UTC) for m in _hours(START, 80)],
    "before the year 1000": _hours(datetime(999, 12, 30, tzinfo=UTC), 100),
    "before 1970": _hours(datetime(1969, 12, 29, tzinfo=UTC), 120),
    "far ahead": _hours(datetime(9999, 12, 20, tzinfo=UTC), 100),
}


@pytest.mark.parametrize("kind", MOMENTS)
def test_the_times_of_a_run_print_each_moment_as_a_record_prints_it(kind: str):
    moments = MOMENTS[kind]
    template = DecisionTemplate(STRATEGY, "BTC", "paper")
    times = template.times(moments)
    assert times.stamps == [_stamp(m) for m in moments]
    assert times.seconds == [_seconds_of(m) for m in moments]
    assert times.ids == [
        decision_id(STRATEGY.content_hash, "BTC", m.astimezone(UTC), "paper") for m in moments
    ]
    other = DecisionTemplate(STRATEGY, "ETH", "live").times(tuple(moments), like=times)
    assert other.ids == [
        decision_id(STRATEGY.content_hash, "ETH", m.astimezone(UTC), "live") for m in moments
    ]
    assert (other.stamps, other.seconds) == (times.stamps, times.seconds)


def test_observations_json_given_for_other_times_is_refused():
    times = DecisionTemplate(STRATEGY, "BTC", "paper").times(_hours(START, 3))
    with pytest.raises(ValueError, match="2 observations' JSON for 3 times"):
        times.with_observed(["[]", None])


@pytest.mark.parametrize("value", [31.25, 0.1, -0.0, 1e16, 1e-5, 5e-324, 123456789.125, 1e22])
def test_an_entry_written_at_once_is_the_templates_json_of_its_observation(value: float):
    template = DecisionTemplate(STRATEGY, "BTC", "paper")
    moment = START + timedelta(hours=1)
    detail = {"exchange": "binance", "candles": 250}
    obs = Observation(value, START, "technical", fetched_at=moment, detail=detail)
    member = template._detail_json(detail)
    written = observation_entries([value, 2.5], [START, moment], [moment] * 2, [_stamp(moment)] * 2,
                                  [member, ""])  # fmt: skip
    assert f"[{written[0]}]" == template._observations_json([obs], moment, _stamp(moment))
    plain = Observation(2.5, moment, "technical", fetched_at=moment)
    assert f"[{written[1]}]" == template._observations_json([plain], moment, _stamp(moment))


# --- the observations' JSON of every bar -------------------------------------------------------


def test_entries_are_the_templates_json_of_every_bars_answers_or_none(
    replay_store: SnapshotStore,
):
    adapters = registry.replay_adapters(replay_store, venues=Config().venues)
    series = replay_store.series("technical", "candles/binance/BTC/USDT/1h")
    assert series is not None
    # From before the first candle (too little history: the adapter answers) through the 2021
    # outages (details with gaps), every 5th hour and 13 minutes past it.
    first = datetime.fromtimestamp(series.times[0], UTC) - timedelta(hours=3)
    moments = [first + timedelta(hours=5 * k, minutes=13 * (k % 2)) for k in range(1_800)]
    rsi = Request("technical", "rsi", (("n", 14), ("timeframe", HOUR)), "BTC")
    close = Request("technical", "close", (("timeframe", HOUR),), "BTC")
    missing = Request("technical", "close", (("timeframe", HOUR),), "ETH")  # no such series
    answers = ReplayAnswers([rsi, close, missing], adapters, moments)
    template = DecisionTemplate(STRATEGY, "BTC", "paper")
    seen = {"written": 0, "gaps": 0, "none": 0}
    for requests in ([rsi], [rsi, close], [close, missing]):
        for start in range(0, len(moments), 700):  # windows as FastRun cuts them
            stop = min(start + 700, len(moments))
            stamps = [_stamp(m) for m in moments[start:stop]]
            written = answers.entries(requests, start, stop, stamps)
            assert len(written) == stop - start
            for k, text in enumerate(written):
                row = answers.row(requests, start + k)
                if text is None:
                    seen["none"] += 1
                    continue
                assert all(obs.__class__ is Observation for obs in row)
                assert text == template._observations_json(row, moments[start + k], stamps[k])
                seen["written"] += 1
                seen["gaps"] += '"gaps"' in text
    assert min(seen.values()) > 50, seen


# --- records -----------------------------------------------------------------------------------


def _evaluations(replay_store: SnapshotStore, count: int) -> tuple[list[Evaluation], ReplayAnswers]:
    adapters = registry.replay_adapters(replay_store, venues=Config().venues)
    moments = _hours(datetime(2023, 2, 1, tzinfo=UTC), count, timedelta(hours=6))
    requests = STRATEGY.tree.requests("BTC")
    answers = ReplayAnswers(requests, adapters, moments)
    evaluations = [
        STRATEGY.tree.evaluate_aligned(answers.row(requests, i), m, "BTC")
        for i, m in enumerate(moments)
    ]
    return evaluations, answers


def _times(template: DecisionTemplate, answers: ReplayAnswers, start: int, stop: int) -> Any:
    times = template.times(answers.moments[start:stop])
    written = answers.entries(template.requests, start, stop, times.stamps)
    return times.with_observed(written)


def _same(found: Any, general: Any) -> None:
    assert found.texts == general.texts
    assert list(found.record.items()) == list(general.record.items())
    for field in ("id", "as_of", "as_of_seconds", "recorded_seconds", "recorded_at", "verdict",
                  "status", "context", "kind", "schema", "asset", "strategy_name"):  # fmt: skip
        assert getattr(found, field) == getattr(general, field), field


class CountingTemplate(DecisionTemplate):
    """A template that counts the records it builds the general way."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.general = 0

    def _prepare(self, **fields: Any) -> Any:
        self.general += fields["remember"]  # the lazy record dicts of later ones do not count
        return super()._prepare(**fields)


def _general(evaluation: Evaluation, execution: Any, at: datetime | None = None) -> Any:
    """The record the general way builds (a template of its own builds every member)."""
    return DecisionTemplate(STRATEGY, "BTC", "paper").prepare(
        as_of=evaluation.as_of,
        verdict=evaluation.verdict,
        action=evaluation.action,
        blocked_by=evaluation.blocked_by,
        conflicts=evaluation.conflicts,
        observations=evaluation.observations,
        execution=execution,
        recorded_at=at or evaluation.as_of,
    )


def test_records_built_from_a_runs_times_are_what_prepare_decision_builds(
    replay_store: SnapshotStore,
):
    evaluations, answers = _evaluations(replay_store, 400)
    template = CountingTemplate(STRATEGY, "BTC", "paper")
    verdicts = set()
    for start in range(0, 400, 128):
        stop = min(start + 128, 400)
        times = _times(template, answers, start, stop)
        for i in range(start, stop):
            evaluation = evaluations[i]
            execution = not_executed(_why_not(evaluation))
            found = template.prepare_at(
                times, i - start, evaluation, None, execution, evaluation.as_of
            )
            _same(found, _general(evaluation, execution))
            kept = prepare_decision(strategy=STRATEGY, evaluation=evaluation, mode="paper",
                                    intent=None, risk=None, execution=execution,
                                    recorded_at=evaluation.as_of)  # fmt: skip
            assert found.texts == kept.texts
            verdicts.add(evaluation.verdict.value)
    assert {"HOLD", "BUY", "SELL"} <= verdicts
    assert template.general <= 6  # once per outcome: the others were built on the times


def test_a_record_at_another_time_object_or_recorded_later_is_built_the_general_way(
    replay_store: SnapshotStore,
):
    evaluations, answers = _evaluations(replay_store, 80)
    template = CountingTemplate(STRATEGY, "BTC", "paper")
    times = _times(template, answers, 0, 80)
    execution = not_executed("no entry or exit signal")
    for i, evaluation in enumerate(evaluations):
        copy = evaluation._replace(as_of=evaluation.as_of + timedelta(0))  # equal, not the same
        later = evaluation.as_of + timedelta(minutes=5)
        for given, at in ((evaluation, later), (copy, copy.as_of)):
            found = template.prepare_at(times, i, given, None, execution, at)
            _same(found, _general(given, execution, at))


def test_an_evaluation_of_another_asset_is_refused(replay_store: SnapshotStore):
    evaluations, answers = _evaluations(replay_store, 3)
    times = DecisionTemplate(STRATEGY, "BTC", "paper").times(answers.moments)
    eth = DecisionTemplate(STRATEGY, "ETH", "paper")
    with pytest.raises(ValueError, match="an evaluation of BTC, not ETH"):
        eth.prepare_at(times, 0, evaluations[0], None, not_executed(DENIED), answers.moments[0])


def test_secrets_in_an_id_a_time_or_a_value_set_half_way_are_scrubbed_as_the_general_way_does(
    replay_store: SnapshotStore, monkeypatch: pytest.MonkeyPatch
):
    evaluations, answers = _evaluations(replay_store, 120)
    template = CountingTemplate(STRATEGY, "BTC", "paper")
    times = _times(template, answers, 0, 120)
    execution = not_executed("no entry or exit signal")
    # Once the 40th decision is recorded: ten hex digits of the 60th's id; from the 80th, the
    # 100th's time (its as_of and recorded_at, and the data time of the daily RSI the next few
    # read) and the 90th's value (a number: looked for, found, but only strings are scrubbed).
    in_id = times.ids[60][4:14]
    value = repr(evaluations[90].observations[0].value)
    later = {"SIGNALOPS_TEST_TOKEN": times.stamps[100], "SIGNALOPS_TEST_SECRET": value}
    secrets = {40: {"SIGNALOPS_TEST_KEY": in_id}, 80: later}
    for name in ("SIGNALOPS_TEST_KEY", "SIGNALOPS_TEST_TOKEN", "SIGNALOPS_TEST_SECRET"):
        monkeypatch.delenv(name, raising=False)
    records = []
    for i, evaluation in enumerate(evaluations):
        for name, secret in secrets.get(i, {}).items():
            monkeypatch.setenv(name, secret)
        records.append(template.prepare_at(times, i, evaluation, None, execution, evaluation.as_of))
        _same(records[-1], _general(evaluation, execution))
    scrubbed = [i for i, found in enumerate(records) if "***" in found.text]
    assert scrubbed[:2] == [60, 100] and scrubbed[2:] == list(range(101, len(scrubbed) + 99))
    assert in_id not in records[60].text and value in records[90].text
    # Built on the times before the environment changed; after, the general way builds the
    # records that quote a secret (each outcome again once, under the new secrets).
    assert template.general < 20


def test_a_runs_times_are_checked_for_secrets_once_per_environment(
    monkeypatch: pytest.MonkeyPatch,
):
    times = DecisionTemplate(STRATEGY, "BTC", "paper").times(_hours(START, 100))
    monkeypatch.delenv("SIGNALOPS_TEST_KEY", raising=False)
    assert times.clean(secret_values())
    monkeypatch.setenv("SIGNALOPS_TEST_KEY", times.ids[7][10:30])
    assert not times.clean(secret_values())
    monkeypatch.setenv("SIGNALOPS_TEST_KEY", times.stamps[3])  # 2023-03-01T03:00:00Z
    assert not times.clean(secret_values())
    monkeypatch.setenv("SIGNALOPS_TEST_KEY", "not-in-any-record")
    assert times.clean(secret_values())
    observed = times.with_observed(['[{"url":"https://x?api_key=abc"}]', *[None] * 99])
    assert not observed.clean(secret_values())  # a query-string secret in given JSON


def test_a_stretch_of_repeats_is_each_repeat_up_to_the_first_the_times_cannot_give(
    replay_store: SnapshotStore, monkeypatch: pytest.MonkeyPatch
):
    # ``repeat_span`` looks the outcome and the secrets up once for the stretch: each of its
    # repeats is the one ``repeat_at`` gives at that bar, and it stops where ``repeat_at``
    # gives none (no observations' JSON written; a secret in the times' members).
    evaluations, answers = _evaluations(replay_store, 120)
    template = DecisionTemplate(STRATEGY, "BTC", "paper")
    times = _times(template, answers, 0, 120)
    execution = not_executed("no entry or exit signal")
    outcome = ("HOLD", None, (), (), None, execution)
    assert template.repeat_span(times, 0, 120, *outcome) == []  # nothing built to repeat yet
    hold = next(e for e in evaluations if (e.verdict.value, e.action) == ("HOLD", None))
    monkeypatch.delenv("SIGNALOPS_TEST_KEY", raising=False)
    gap = times.with_observed([*times.observed[:70], None, *times.observed[71:]])
    for given, start, stop, secret, made in (
        (times, 0, 120, None, 120),
        (times, 30, 31, None, 1),
        (gap, 10, 120, None, 60),  # up to the bar without its JSON
        (gap, 70, 90, None, 0),
        (times, 5, 120, times.ids[44][4:14], 39),  # up to the id quoting a secret
    ):
        if secret is not None:
            monkeypatch.setenv("SIGNALOPS_TEST_KEY", secret)
        # The outcome built under the environment's secrets (another one's is built again).
        template.prepare(as_of=hold.as_of, verdict="HOLD", observations=hold.observations,
                         execution=execution, recorded_at=hold.as_of)  # fmt: skip
        span = template.repeat_span(given, start, stop, *outcome)
        each = []
        for i in range(start, stop):
            found = template.repeat_at(given, i, *outcome)
            if found is None:
                break
            each.append(found)
        assert len(span) == made and span == each
        assert [r.prepared().texts for r in span] == [r.prepared().texts for r in each]
