"""Build audit records (not yet sealed): a ``decision`` per evaluation, and its follow-ups.

The builders return plain JSON data (dicts, lists, str, finite numbers, bool, None) so that the
record a caller holds is exactly what the store writes and reads back: NaN and infinity become
the strings ``"nan"``/``"inf"``/``"-inf"``, ``Decimal`` becomes its exact string, datetimes
become UTC ISO-8601 with a ``Z``. ``seq``, ``prev_hash`` and ``hash`` are absent: only the store
knows where a record lands in the chain (see ``signalops.audit.chain``).

A decision record is compact (``signalops.audit/2``): it keeps what an evaluation cannot compute
again, and cites the compiled tree that computes the rest. Its ``observations`` are aligned with
``tree.requests(asset)`` (the request itself is not repeated), one entry per request::

    {"value": 32.07, "data_time": "...Z", "fetched_at": "...Z" | null, ["detail": {...}]}
    {"error": {"reason": "HTTP_ERROR", "message": "..."}}       the adapter's DataError
    {"error": {...}, "invalid": "TypeName"}                     an answer of the wrong type
    null                                                        no answer (MISSING)

``strategy`` is ``{name, hash, file, tree}``: ``tree`` is the content hash of the compiled tree
(``signalops.audit.trees``), which the log stores once. The full trace and the observations
with their requests are re-derived on read (``signalops.audit.expand``), byte for byte what a
``signalops.audit/1`` record stored. Follow-ups and breaker records keep ``signalops.audit/1``:
their format did not change.

Time is an argument (``recorded_at``), never ``datetime.now()``: a backtest records simulated
time, and the same inputs always build the same record.

Secrets: nothing here reads credentials, and every string is scrubbed on the way out anyway
(``scrub_secrets``), because a venue's error message or an adapter's ``DataError`` may quote a
URL or header that carried a key. A leaked key in an append-only log could never be removed.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from itertools import repeat as _repeat
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import orjson

from signalops.audit.prepared import (
    CONTEXT_KEYS,
    PreparedRecord,
    Shape,
    _key,
    _member,
    _value,
    _values,
    loads_record,
    prepare,
)
from signalops.audit.trees import tree_hash
from signalops.canonical import (
    _ORJSON_DIFFERS,
    canonical_json,
    canonical_json_of_plain,
    is_plain_finite,
    iso,
    json_ready,
    json_safe,
    ready_json,
    writes_as_stdlib,
)
from signalops.codes import Code
from signalops.observation import DataError, Observation, utc
from signalops.orders import ExecutionResult, Fill, Mode, OrderIntent
from signalops.risk.decision import RiskDecision
from signalops.side import Side

if TYPE_CHECKING:
    from signalops.evaluation.tree import Evaluation
    from signalops.strategy.model import Strategy

SCHEMA = "signalops.audit/1"  # follow-ups, breakers, and decisions written before /2
DECISION_SCHEMA = "signalops.audit/2"  # compact decisions
SCHEMAS = (SCHEMA, DECISION_SCHEMA)
DECISION = "decision"
VERDICTS = ("BUY", "SELL", "HOLD", "BLOCKED")  # a decision's verdict: one of these
ORDER_SUBMITTED = "order_submitted"
ORDER_RESULT = "order_result"
FILL = "fill"
APPROVAL = "approval"
EXPIRY = "expiry"
BREAKER = "breaker"

# Each follow-up kind and the fields it must carry besides the common ones. The JSON Schema
# (schemas/decision.schema.json) says the same with types; this table fails fast at build time.
FOLLOWUP_FIELDS: dict[str, tuple[str, ...]] = {
    ORDER_SUBMITTED: ("client_order_id", "order"),
    ORDER_RESULT: ("client_order_id", "execution"),
    FILL: ("client_order_id", "fill"),
    APPROVAL: ("approval_id", "approved", "by"),
    EXPIRY: ("approval_id", "expires_at"),
}
# A circuit breaker's trip or an operator's resume: about the account, not one decision, so it
# is the one kind without a ``decision_id``.
KINDS = (DECISION, *FOLLOWUP_FIELDS, BREAKER)

# Environment variables whose values must never reach a record. Short values are skipped:
# replacing every "true" or "1" in a record would mangle it without protecting anything.
_SECRET_NAME = re.compile(
    r"(?i)(KEY|SECRET|TOKEN|PASSWORD|PASSPHRASE|WEBHOOK|PRIVATE|CREDENTIAL|AUTH)"
)
_MIN_SECRET_LENGTH = 8
# The same query-string pattern the HTTP layer scrubs (signalops.adapters.http.redact).
_SECRET_PARAM = re.compile(r"(?i)(api[_-]?key|apikey|token|secret|signature)=[^&\s\"]+")
REDACTED = "***"


def secret_values(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Values of secret-looking environment variables, longest first (so none hides another)."""
    env = os.environ if environ is None else environ
    # os.environ's raw bytes compare at C speed (a dict against a copy of itself, a fraction
    # of a microsecond); decoding every variable for every record cost more than the scan.
    raw = getattr(env, "_data", None) if env is os.environ else None
    current = raw if isinstance(raw, dict) else env
    seen = _secrets_seen
    if seen[0] is None or current != seen[0]:  # a regex scan per record was 10% of it
        found = {
            value
            for name, value in env.items()
            if _SECRET_NAME.search(name) and len(value) >= _MIN_SECRET_LENGTH
        }
        seen[:] = [dict(current), tuple(sorted(found, key=len, reverse=True))]
    return seen[1]


# A copy of the environment last scanned and the secrets found in it (a process's environment
# rarely changes; when it does, the comparison above sees it).
_secrets_seen: list[Any] = [None, ()]


def scrub_secrets(value: Any, secrets: tuple[str, ...]) -> Any:
    """``value`` (plain JSON data) with every secret and ``api_key=...`` replaced by ``***``."""
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}={REDACTED}", value)
    if isinstance(value, dict):
        return {scrub_secrets(k, secrets): scrub_secrets(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_secrets(v, secrets) for v in value]
    return value


def _finish(record: dict[str, Any], environ: Mapping[str, str] | None) -> dict[str, Any]:
    safe = json_safe(record)
    text = canonical_json_of_plain(safe)  # raises now, not in the store, if it is not JSON
    secrets = secret_values(environ)
    if _nothing_to_scrub(text, secrets):
        return safe  # the walk below would change nothing: a third of a backtest's time
    clean = scrub_secrets(safe, secrets)
    canonical_json_of_plain(clean)
    return clean


def _finish_prepared(record: dict[str, Any], environ: Mapping[str, str] | None) -> PreparedRecord:
    """``prepare(_finish(record, environ))`` with the record encoded once: member by member,
    the members joined being the text ``_finish`` checks (``PreparedRecord.text`` is exactly
    ``canonical_json``), so the store seals them without encoding the record again."""
    safe = json_safe(record)
    prepared = prepare(safe)  # raises now, not in the store, if it is not JSON
    secrets = secret_values(environ)
    if _nothing_to_scrub(prepared.text, secrets):
        return prepared
    return prepare(scrub_secrets(safe, secrets))


# What ``_SECRET_PARAM`` needs to find in the text before it can match anything.
_PARAM_TAILS = ("key=", "token=", "secret=", "signature=")


def _nothing_to_scrub(text: str, secrets: tuple[str, ...]) -> bool:
    """Whether the record's JSON ``text`` shows that ``scrub_secrets`` would change nothing.

    A secret is looked for in the text only when JSON writes it as it is (printable ASCII
    without quotes or backslashes); any other secret sends the record through the scrubber.
    """
    # Every query-string secret ends in "=": most records hold none, and then no tail can match.
    if "=" in text:
        lower = text.lower()
        if any(tail in lower for tail in _PARAM_TAILS):
            return False
    return all(_written_as_is(secret) and secret not in text for secret in secrets)


def _written_as_is(secret: str) -> bool:
    return secret.isascii() and secret.isprintable() and '"' not in secret and "\\" not in secret


# --- the decision record -------------------------------------------------------------------------


def compact_observation(obs: Any) -> dict[str, Any] | None:
    """One entry of a decision record's ``observations`` (see the module docstring): what the
    adapter answered, JSON-safe but not yet scrubbed."""
    if isinstance(obs, Observation):
        value = obs.value
        entry: dict[str, Any] = {
            "data_time": _stamp(obs.as_of),
            "fetched_at": _stamp(obs.fetched_at) if obs.fetched_at else None,
            # NaN and infinity as text, like json_safe (only they fail ``v - v == 0``).
            "value": value if value - value == 0 else repr(value),
        }
        if obs.detail is not None:
            entry["detail"] = json_safe(obs.detail)
        return entry
    if obs is None:
        return None
    if isinstance(obs, DataError):
        return {"error": {"message": str(obs.message), "reason": str(obs.reason)}}
    name = type(obs).__name__
    message = f"not an Observation or DataError: {name}"
    return {"error": {"message": message, "reason": str(Code.ADAPTER_ERROR)}, "invalid": name}


def _stamp(moment: datetime) -> str:
    """``iso(utc(moment))`` (``iso`` prints an exact UTC datetime from its fields; ``utc``
    refuses a naive one)."""
    return str(iso(moment if moment.tzinfo is UTC else utc(moment)))


def _stamp_like(moment: datetime, known: datetime, known_stamp: str) -> str:
    """``_stamp(moment)``, given ``known_stamp`` is ``_stamp(known)``: an observation's times are
    most often the decision's (the same object, or an equal one). Only equal UTC times are the
    same instant: two equal times in another zone may be an hour apart (``fold`` at a fall-back
    is not compared), so they are printed each."""
    if moment is known:
        return known_stamp
    if moment.tzinfo is UTC and known.tzinfo is UTC and moment == known:
        return known_stamp
    return _stamp(moment)


# A decision record's keys, in order (the template's members follow it).
DECISION_KEYS = (
    "action",
    "as_of",
    "asset",
    "blocked_by",
    "conflicts",
    "decision_id",
    "execution",
    "id",
    "kind",
    "mode",
    "observations",
    "order",
    "recorded_at",
    "risk",
    "schema",
    "strategy",
    "verdict",
)


def _seconds_of(moment: datetime) -> int | None:
    """A whole-second UTC datetime as seconds since 1970 (what ``_stamp`` prints it as); None
    for any other (the store then works it out from the text)."""
    exact = moment.__class__ is datetime and moment.tzinfo is UTC
    if exact and not moment.microsecond and moment.year >= 1000:
        return int(moment.timestamp())
    return None


class DecisionTimes:
    """A template's decisions at times known up front (a backtest's), with what their records
    print for each time, worked out at once (``DecisionTemplate.times``): ``stamps[i]`` is
    ``_stamp(moments[i])``, ``seconds[i]`` its ``_seconds_of``, ``ids[i]`` the id of the
    template's decision at that time, and ``observed[i]`` the JSON of that decision's
    observations when the caller wrote it (None: the template writes it from them).
    ``DecisionTemplate.prepare_at`` reads entry ``i`` for a decision at ``moments[i]`` (that
    very object)."""

    __slots__ = ("_clean", "ids", "moments", "observed", "seconds", "stamps")

    def __init__(
        self,
        moments: tuple[datetime, ...],
        stamps: list[str],
        seconds: list[int | None],
        ids: list[str],
        observed: list[str | None],
    ) -> None:
        self.moments = moments
        self.stamps = stamps
        self.seconds = seconds
        self.ids = ids
        self.observed = observed
        self._clean: tuple[tuple[str, ...], bool] | None = None

    def with_observed(self, observed: list[str | None]) -> DecisionTimes:
        """These times with ``observed`` (one JSON or None per moment) as their ``observed``."""
        if len(observed) != len(self.moments):
            raise ValueError(f"{len(observed)} observations' JSON for {len(self.moments)} times")
        return DecisionTimes(self.moments, self.stamps, self.seconds, self.ids, observed)

    def clean(self, secrets: tuple[str, ...]) -> bool:
        """Whether no stamp, id or written ``observed`` holds anything to scrub given
        ``secrets``: checked once per tuple of secrets (``secret_values`` gives the same one
        until the environment changes). Joined by spaces, a secret that spans two of them
        makes it False too: then each record is checked on its own, which is only slower."""
        checked = self._clean
        if checked is None or checked[0] is not secrets:
            written = [text for text in self.observed if text is not None]
            text = " ".join((*self.stamps, *self.ids, *written))
            checked = self._clean = (secrets, _nothing_to_scrub(text, secrets))
        return checked[1]


# Unix seconds of 1000-01-01T00:00:00Z: ``_stamp`` and ``_seconds_of`` print from the year 1000 on.
_YEAR_1000 = -30_610_224_000


def _unscrubbed(
    stamps: Sequence[str], ids: Sequence[str], observed: Sequence[str], secrets: tuple[str, ...]
) -> Iterator[str]:
    """``observed``, up to the first record whose new members (``_again_at`` checks its
    stamp twice, as its time and its recording time, its id and its observations' JSON)
    hold something to scrub given ``secrets``."""
    for stamp, ident, written in zip(stamps, ids, observed, strict=True):
        if not _nothing_to_scrub(f"{stamp} {stamp} {ident} {written}", secrets):
            return
        yield written


def _stamps_and_seconds(moments: Sequence[datetime]) -> tuple[list[str], list[int | None]]:
    """``_stamp`` and ``_seconds_of`` of each of ``moments``: by numpy, all at once, when every
    one is a whole-second ``datetime`` in ``UTC`` from the year 1000 on (numpy prints such a
    time as ``_utc_stamp`` does, ``Z`` included), else one by one."""
    count = len(moments)
    if count < _BULK:
        return [_stamp(m) for m in moments], [_seconds_of(m) for m in moments]
    exact = set(map(type, moments)) <= {datetime} and all(m.tzinfo is UTC for m in moments)
    if exact and not any(map(_MICROSECOND, moments)):
        # Imported here: a command that only reads the log never needs numpy (a backtest has it).
        import numpy as np

        epochs = np.fromiter(map(datetime.timestamp, moments), np.float64, count)
        if epochs.min() >= _YEAR_1000:
            whole = epochs.astype(np.int64)
            stamps = np.datetime_as_string(whole.astype("datetime64[s]"), timezone="UTC")
            return stamps.tolist(), whole.tolist()
    return [_stamp(m) for m in moments], [_seconds_of(m) for m in moments]


_MICROSECOND = datetime.microsecond.__get__
_BULK = 64  # fewer moments are printed one by one (numpy's calls cost more than they save)

_NULL = "null"
_ACTIONS = {None: '"action":null', "BUY": '"action":"BUY"', "SELL": '"action":"SELL"'}
_VERDICTS = {v: f'"verdict":"{v}"' for v in VERDICTS}


class DecisionTemplate:
    """Decision records of one strategy, asset and mode, built fast and byte for byte what
    ``build_decision_record`` builds (which is built on it).

    Everything that is the same for every record of the triple (the strategy reference with its
    tree hash, the requests, the encoded ``asset``/``kind``/``mode``/``schema``/``strategy``
    members) is worked out once here; each record then costs its variable parts only::

        template = DecisionTemplate(strategy, "BTC", "paper")
        prepared = template.prepare(
            as_of=moment,                  # the decision time (aware datetime)
            verdict=Verdict.HOLD,          # a Verdict or its value
            action=None,                   # the signal before vetoes: Side/"BUY"/"SELL"/None
            blocked_by=(), conflicts=(),   # as the evaluation gives them
            observations=answers,          # aligned with strategy.tree.requests("BTC"):
                                           # Observation, DataError or None per request
            risk=None,                     # the RiskDecision (or its dict), None if no gate ran
            order=None,                    # the OrderIntent (or its dict), or None
            execution=result,              # the ExecutionResult (or its dict), or None
            recorded_at=moment,            # when it was recorded (aware datetime)
        )
        log.append_many([prepared, ...])   # sealed and stored without encoding it again
        prepared.record                    # == build_decision_record(...) for the same inputs
        prepared.text                      # == canonical_json(prepared.record)

    ``record(...)`` takes the same arguments and returns the plain dict. ``environ`` (tests
    only) is the environment whose secret values are scrubbed (default ``os.environ``); the
    scrubber runs only when the record's JSON text shows it would change something. The same
    ``execution`` object given again (a backtest's "no signal" result) is encoded once, and a
    record whose outcome repeats one built before (the same verdict, action, vetoes and
    conflicts, the same frozen risk and execution objects, no order: a backtest's HOLDs and
    its repeated "no position" denials) is that record with its time, ids and observations
    written anew.
    """

    __slots__ = (
        "_context",
        "_details",
        "_encoded",
        "_fixed",
        "_id_prefix",
        "_last",
        "_outcomes",
        "asset",
        "mode",
        "reference",
        "requests",
        "strategy",
    )

    def __init__(self, strategy: Strategy, asset: str, mode: Any) -> None:
        if not asset:
            raise ValueError("a decision record needs the evaluation's asset")
        self.strategy = strategy
        self.asset = asset
        self.mode = str(getattr(mode, "value", mode))
        self.requests = strategy.tree.requests(asset)
        self.reference = {
            "file": strategy.file,
            "hash": strategy.content_hash,
            "name": strategy.name,
            "tree": tree_hash(strategy),
        }
        fixed = {
            "asset": asset,
            "kind": DECISION,
            "mode": self.mode,
            "schema": DECISION_SCHEMA,
            "strategy": self.reference,
        }
        members = {key: _member(key, _value(value)) for key, value in fixed.items()}
        # Indexed like DECISION_KEYS (the variable members' places stay empty).
        self._fixed = tuple(members.get(key, "") for key in DECISION_KEYS)
        self._context = "{" + ",".join(members[key] for key in CONTEXT_KEYS) + "}"
        self._encoded: dict[int, tuple[Any, Any, str]] = {}
        self._details: dict[bytes, str] = {}
        self._id_prefix = f"{strategy.content_hash}|{asset}|"
        # Outcomes built the general way -> what they were built from and their record
        # (``_again``): a backtest's HOLD, its "no position" denial and a few more alternate.
        self._outcomes: OrderedDict[tuple[Any, ...], _Outcome] = OrderedDict()
        self._last: _Outcome | None = None  # the one used last: the end of ``_outcomes``

    def record(self, **fields: Any) -> dict[str, Any]:
        """The decision record as a plain dict (the arguments of ``prepare``)."""
        return self.prepare(**fields).record

    def prepare(
        self,
        *,
        as_of: datetime,
        verdict: Any,
        action: Any = None,
        blocked_by: Sequence[str] = (),
        conflicts: Sequence[str] = (),
        observations: Sequence[Any],
        risk: RiskDecision | Mapping[str, Any] | None = None,
        order: OrderIntent | Mapping[str, Any] | None = None,
        execution: ExecutionResult | Mapping[str, Any] | None = None,
        recorded_at: datetime,
        environ: Mapping[str, str] | None = None,
    ) -> PreparedRecord:
        """One decision record of this template (see the class docstring)."""
        if order is None:
            blocked_by, conflicts = tuple(blocked_by), tuple(conflicts)  # read once
            outcome = self._outcome_of(verdict, action, blocked_by, conflicts, risk, execution)
            if outcome is not None:
                found = self._again(outcome, as_of, observations, recorded_at, environ)
                if found is not None:
                    return found
        return self._prepare(
            as_of=as_of,
            verdict=verdict,
            action=action,
            blocked_by=blocked_by,
            conflicts=conflicts,
            observations=observations,
            risk=risk,
            order=order,
            execution=execution,
            recorded_at=recorded_at,
            environ=environ,
            remember=True,
        )

    def times(
        self, moments: Sequence[datetime], like: DecisionTimes | None = None
    ) -> DecisionTimes:
        """This template's ``DecisionTimes`` of ``moments`` (for ``prepare_at``), without
        observations (``with_observed`` adds them). ``like``: another template's times of the
        same moments (the same tuple), whose stamps and seconds this one shares (a run's
        assets decide at the same times)."""
        moments = tuple(moments)  # a tuple stays itself
        if like is not None and like.moments is moments:
            stamps, seconds = like.stamps, like.seconds
        else:
            stamps, seconds = _stamps_and_seconds(moments)
        ids = [f"dec-{self._digest(stamp)[:24]}" for stamp in stamps]
        return DecisionTimes(moments, stamps, seconds, ids, [None] * len(moments))

    def prepare_at(
        self,
        times: DecisionTimes,
        i: int,
        evaluation: Evaluation,
        risk: RiskDecision | None,
        execution: ExecutionResult,
        recorded_at: datetime,
        *,
        repeat: bool = False,
    ) -> PreparedRecord | Repeat:
        """``prepare_decision`` of ``evaluation`` (of this template's asset), placing no order,
        when it was decided at ``times.moments[i]``: a decision recorded at that same moment
        (a backtest's clock) with an outcome built before takes its time, id, seconds and
        (when given) observations' JSON from ``times`` instead of working them out (``repeat``:
        given as that ``Repeat``); any other goes ``prepare``'s way. ``times.observed[i]``,
        when given, must be the JSON this template writes of ``evaluation.observations`` (``"["
        + entries + "]"``, each of ``observation_entries``: the caller made the observations
        from the same values, times and details)."""
        if evaluation.asset != self.asset:
            raise ValueError(f"an evaluation of {evaluation.asset}, not {self.asset}")
        as_of = evaluation.as_of
        verdict, action = evaluation.verdict, evaluation.action
        blocked_by, conflicts = tuple(evaluation.blocked_by), tuple(evaluation.conflicts)
        if as_of is times.moments[i] and recorded_at is as_of:
            outcome = self._outcome_of(verdict, action, blocked_by, conflicts, risk, execution)
            if outcome is not None:
                found = self._again_at(outcome, times, i, evaluation.observations)
                if found is not None:
                    return found if repeat else found.prepared()
        return self.prepare(
            **_decided(evaluation), risk=risk, execution=execution, recorded_at=recorded_at
        )

    def repeat_at(
        self,
        times: DecisionTimes,
        i: int,
        verdict: Any,
        action: Any,
        blocked_by: tuple[str, ...],
        conflicts: tuple[str, ...],
        risk: Any,
        execution: Any,
    ) -> Repeat | None:
        """``prepare_at(..., repeat=True)`` of a decision at (and recorded at)
        ``times.moments[i]`` with this outcome, known without its evaluation: the ``Repeat``
        when the outcome was built before and ``times`` holds the observations' JSON; None
        when only the evaluation can give the record (``prepare_at``)."""
        outcome = self._outcome_of(verdict, action, blocked_by, conflicts, risk, execution)
        if outcome is None or times.observed[i] is None:
            return None
        return self._again_at(outcome, times, i, None)

    def repeat_span(
        self,
        times: DecisionTimes,
        start: int,
        stop: int,
        verdict: Any,
        action: Any,
        blocked_by: tuple[str, ...],
        conflicts: tuple[str, ...],
        risk: Any,
        execution: Any,
    ) -> list[Repeat]:
        """``repeat_at`` of the decisions at ``times.moments[start:stop]`` with this outcome,
        one after another with nothing else between them in this process, as far as each
        gives a ``Repeat``: the first None ends the list (``[]`` when the first is None).

        The outcome is looked up once: ``_outcome_of`` finds the same one for the same
        members until a record is built the general way. The environment's secrets are read
        once: ``secret_values`` gives the same tuple until the environment changes, and
        nothing runs between these decisions that could change it (they are made here, one
        after another; another thread that changes the environment meanwhile finds them
        made before its change, as it could have with ``repeat_at`` at each). Then each
        repeat is ``_again_at``'s: the times' stamp, id, seconds and observations' JSON,
        checked once for the whole of ``times`` (``DecisionTimes.clean``) or else each."""
        outcome = self._outcome_of(verdict, action, blocked_by, conflicts, risk, execution)
        if outcome is None or secret_values() is not outcome.secrets:
            return []
        written = times.observed[start:stop]
        if None in written:  # ``times`` could not write them: ``prepare_at`` must
            stop = start + written.index(None)
        observed = cast(list[str], written[: stop - start])
        stamps, ids = times.stamps[start:stop], times.ids[start:stop]
        if not times.clean(outcome.secrets):
            observed = list(_unscrubbed(stamps, ids, observed, outcome.secrets))
            stop = start + len(observed)
        values = zip(
            _repeat(self), _repeat(outcome), times.moments[start:stop], _repeat(None), stamps,
            ids, observed, times.seconds[start:stop],
        )  # fmt: skip
        return list(map(_new_repeat, values))

    def prepare_order_at(
        self,
        times: DecisionTimes,
        i: int,
        evaluation: Evaluation,
        order: OrderIntent,
        risk: RiskDecision,
        execution: ExecutionResult,
        recorded_at: datetime,
    ) -> PreparedRecord:
        """``prepare_decision`` of ``evaluation`` (of this template's asset) and the ``order``
        it was sized to, decided at ``times.moments[i]`` (a backtest's BUY the gate denied):
        the general way, with the time's stamp, id, seconds and (when given) observations' JSON
        taken from ``times`` when it was recorded at that same moment too (``times.observed``
        as ``prepare_at`` takes it)."""
        if evaluation.asset != self.asset:
            raise ValueError(f"an evaluation of {evaluation.asset}, not {self.asset}")
        as_of = evaluation.as_of
        prepared = self._prepare(
            **_decided(evaluation),
            risk=risk,
            order=order,
            execution=execution,
            recorded_at=recorded_at,
            remember=False,
            at=(times, i) if as_of is times.moments[i] and recorded_at is as_of else None,
        )
        self.check_order(order, prepared)
        return prepared

    def check_order(self, order: OrderIntent, prepared: PreparedRecord) -> None:
        """``ValueError`` unless ``order`` was sized for the decision ``prepared`` records."""
        if order.decision_id != prepared.id:
            raise ValueError(
                f"order intent belongs to decision {order.decision_id}, not {prepared.id} "
                f"({self.reference['name']} {self.asset} {prepared.as_of} {self.mode})"
            )

    def _again_at(
        self,
        outcome: _Outcome,
        times: DecisionTimes,
        i: int,
        observations: Sequence[Any] | None,
    ) -> Repeat | None:
        """``_again`` of a decision at (and recorded at) ``times.moments[i]``, in the process's
        environment: the stamp, id, seconds and written observations are ``times``', checked
        for secrets once per ``times`` (``DecisionTimes.clean``). ``observations``: the
        evaluation's, or None when ``times`` holds their JSON (``repeat_at``)."""
        if observations is not None and len(observations) != len(self.requests):
            return None
        secrets = secret_values()
        if secrets is not outcome.secrets:
            return None
        as_of, stamp, ident = times.moments[i], times.stamps[i], times.ids[i]
        observed = times.observed[i]
        if observed is None or not times.clean(secrets):
            if observed is None:
                if observations is None:
                    return None
                observed = self._observations_json(observations, as_of, stamp)
                if observed is None:
                    return None
            # As ``_again`` checks them.
            if not _nothing_to_scrub(f"{stamp} {stamp} {ident} {observed}", secrets):
                return None
        return Repeat(self, outcome, as_of, observations, stamp, ident, observed, times.seconds[i])

    def _outcome_of(
        self,
        verdict: Any,
        action: Any,
        blocked_by: tuple[Any, ...],
        conflicts: tuple[Any, ...],
        risk: Any,
        execution: Any,
    ) -> _Outcome | None:
        """The outcome built before with these members, if any (the most recent first to stay)."""
        last = self._last
        if (
            last is not None
            and last.verdict is verdict
            and last.action is action
            and last.risk is risk
            and last.execution is execution
            and last.blocked_by == blocked_by
            and last.conflicts == conflicts
        ):
            return last  # a run of HOLDs: kept under this key, and already the most recent
        key = _outcome_key(verdict, action, blocked_by, conflicts, risk, execution)
        try:
            found = self._outcomes.get(key)
        except TypeError:  # a veto or conflict that is not text: the general way
            return None
        if found is None or found.risk is not risk or found.execution is not execution:
            return None
        self._outcomes.move_to_end(key)
        self._last = found
        return found

    def _again(
        self,
        outcome: _Outcome,
        as_of: datetime,
        observations: Sequence[Any],
        recorded_at: datetime,
        environ: Mapping[str, str] | None,
    ) -> PreparedRecord | None:
        """A record of ``outcome`` at ``as_of`` with ``observations``: only the members that
        change are encoded (a backtest's HOLDs and repeated denials are most of its records).
        None when the general way must build it: observations that are not all plain, another
        environment's secrets, or something in the new members to scrub."""
        if len(observations) != len(self.requests):
            return None
        secrets = secret_values(environ)
        if secrets is not outcome.secrets:
            return None
        stamp = _stamp(as_of)
        observed = self._observations_json(observations, as_of, stamp)
        if observed is None:
            return None
        recorded = stamp if recorded_at is as_of else _stamp(recorded_at)
        ident = f"dec-{self._digest(stamp)[:24]}"
        # A secret without quotes cannot reach across members (each starts with a quote): the
        # unchanged members were checked when the outcome was built.
        if not _nothing_to_scrub(f"{stamp} {recorded} {ident} {observed}", secrets):
            return None
        as_of_seconds = _seconds_of(as_of)
        recorded_seconds = as_of_seconds if recorded_at is as_of else _seconds_of(recorded_at)
        return self._again_record(
            outcome,
            as_of,
            observations,
            recorded_at,
            environ,
            stamp,
            recorded,
            ident,
            observed,
            as_of_seconds,
            recorded_seconds,
        )

    def _again_record(
        self,
        outcome: _Outcome,
        as_of: datetime,
        observations: Sequence[Any] | None,
        recorded_at: datetime,
        environ: Mapping[str, str] | None,
        stamp: str,
        recorded: str,
        ident: str,
        observed: str,
        as_of_seconds: int | None,
        recorded_seconds: int | None,
    ) -> PreparedRecord:
        """``_again``'s record, given its new members' texts (checked to hold nothing to
        scrub: the stamps of ``as_of`` and ``recorded_at``, the id, the observations' JSON) and
        the times' seconds: a repeat of the outcome's shape, whose members are written out
        when asked for (a backtest's log seals most without: ``signalops.audit.runs``)."""

        def record(observations: Sequence[Any]) -> dict[str, Any]:
            return self._prepare(
                as_of=as_of,
                verdict=outcome.verdict,
                action=outcome.action,
                blocked_by=outcome.blocked_by,
                conflicts=outcome.conflicts,
                observations=observations,
                risk=outcome.risk,
                execution=outcome.execution,
                recorded_at=recorded_at,
                environ=environ,
                remember=False,
            ).record

        # By position, in the order of ``PreparedRecord``'s parameters (a third of the cost of
        # naming them, for every record of a backtest).
        return PreparedRecord(
            DECISION_KEYS,
            None,  # texts: the shape's, written out on first use
            # The builder's dict of it; without the observations, read back from its text.
            None if observations is None else partial(record, observations),
            DECISION,  # kind
            ident,  # id
            DECISION_SCHEMA,  # schema
            ident,  # decision_id
            stamp,  # as_of
            self.asset,  # asset
            outcome.verdict_text,  # verdict
            outcome.status,  # status
            recorded,  # recorded_at
            self._context,  # context
            self.reference["name"],  # strategy_name
            as_of_seconds,
            recorded_seconds,
            outcome.shape,
            observed,
        )

    def _digest(self, stamp: str) -> str:
        """The hex sha256 a decision id is cut from (``signalops.orders.decision_id``)."""
        return hashlib.sha256(f"{self._id_prefix}{stamp}|{self.mode}".encode()).hexdigest()

    def _prepare(
        self,
        *,
        as_of: datetime,
        verdict: Any,
        action: Any = None,
        blocked_by: Sequence[str] = (),
        conflicts: Sequence[str] = (),
        observations: Sequence[Any],
        risk: RiskDecision | Mapping[str, Any] | None = None,
        order: OrderIntent | Mapping[str, Any] | None = None,
        execution: ExecutionResult | Mapping[str, Any] | None = None,
        recorded_at: datetime,
        environ: Mapping[str, str] | None = None,
        remember: bool,
        at: tuple[DecisionTimes, int] | None = None,
    ) -> PreparedRecord:
        """``prepare``'s general way; ``remember``: its outcome may be built on again
        (``_again``) when nothing in it is scrubbed and no member's value may be edited later
        (an order, or a risk or execution given as a dict, is encoded afresh every time).
        ``at``: ``(times, i)`` when the decision was decided and recorded at exactly
        ``times.moments[i]``, whose stamp, id, seconds and observations' JSON (when written)
        are then taken from ``times`` (``prepare_order_at``)."""
        if at is None:
            stamp = _stamp(as_of)
            recorded = stamp if recorded_at is as_of else _stamp(recorded_at)
            ident = f"dec-{self._digest(stamp)[:24]}"
            observed = None
        else:
            times, i = at
            stamp = recorded = times.stamps[i]
            ident, observed = times.ids[i], times.observed[i]
        reference = self.reference
        verdict_value = str(getattr(verdict, "_value_", verdict))
        action_value = None if action is None else str(getattr(action, "_value_", action))
        if len(observations) != len(self.requests):
            raise ValueError(
                f"{len(observations)} observations for {len(self.requests)} requests of "
                f"{reference['name']} ({self.asset})"
            )
        entries = None
        if observed is None:
            observed = self._observations_json(observations, as_of, stamp)
        if observed is None:
            entries = [compact_observation(obs) for obs in observations]
            observed = _value(entries)
        blocked = list(blocked_by)
        notes = list(conflicts)
        risk_value, risk_json = self._encoded_value(risk)
        execution_value, execution_json = self._encoded_value(execution)
        status = execution_value.get("status") if isinstance(execution_value, dict) else None
        fixed = self._fixed
        quoted_id = f'"{ident}"'
        order_json = None if order is None else _intent_json(order, as_of, stamp)
        order_value = None if order_json is not None else _plain(order)
        if blocked or notes or order_value is not None:
            blocked_json, notes_json, order_json = _values([blocked, notes, order_value])
        elif order_json is None:
            blocked_json = notes_json = "[]"
            order_json = _NULL
        else:
            blocked_json = notes_json = "[]"
        texts = [
            _ACTIONS.get(action_value) or _member("action", _value(action_value)),
            f'"as_of":"{stamp}"',
            fixed[2],
            f'"blocked_by":{blocked_json}',
            f'"conflicts":{notes_json}',
            f'"decision_id":{quoted_id}',
            f'"execution":{execution_json}',
            f'"id":{quoted_id}',
            fixed[8],
            fixed[9],
            f'"observations":{observed}',
            f'"order":{order_json}',
            f'"recorded_at":"{recorded}"',
            f'"risk":{risk_json}',
            fixed[14],
            fixed[15],
            _VERDICTS.get(verdict_value) or _member("verdict", _value(verdict_value)),
        ]

        def record() -> dict[str, Any]:
            # The keys in the order the record was always built with (log lines show them).
            return {
                "schema": DECISION_SCHEMA,
                "kind": DECISION,
                "id": ident,
                "decision_id": ident,
                "recorded_at": recorded,
                "as_of": stamp,
                "strategy": dict(reference),
                "asset": self.asset,
                "mode": self.mode,
                "verdict": verdict_value,
                "action": action_value,
                "blocked_by": blocked,
                "conflicts": notes,
                "observations": entries
                if entries is not None
                else [compact_observation(obs) for obs in observations],
                # Remembered values are shared: each record gets its own copies (the risk
                # checks' details in the gate's order: log lines show them).
                "risk": _fresh(risk_value),
                "order": order_value if order_value is not None else _plain(order),
                "execution": _copy(execution_value, texts[6]),
            }

        secrets = secret_values(environ)
        if not _nothing_to_scrub("{" + ",".join(texts) + "}", secrets):
            return prepare(scrub_secrets(record(), secrets))
        as_of_seconds = _seconds_of(as_of) if at is None else at[0].seconds[at[1]]
        # By position, in the order of ``PreparedRecord``'s parameters (as ``_again_record``).
        prepared = PreparedRecord(
            DECISION_KEYS,
            texts,
            record,
            DECISION,  # kind
            ident,  # id
            DECISION_SCHEMA,  # schema
            ident,  # decision_id
            stamp,  # as_of
            self.asset,  # asset
            verdict_value,  # verdict
            status,  # status
            recorded,  # recorded_at
            self._context,  # context
            reference["name"],  # strategy_name
            as_of_seconds,
            as_of_seconds if recorded_at is as_of else _seconds_of(recorded_at),
        )
        plain = order is None and not isinstance(risk, Mapping)
        if remember and plain and not isinstance(execution, Mapping):
            self._remember(
                _Outcome(
                    verdict,
                    action,
                    tuple(blocked),
                    tuple(notes),
                    risk,
                    execution,
                    secrets,
                    Shape(DECISION_KEYS, texts),
                    verdict_value,
                    status,
                )
            )
        return prepared

    def _remember(self, outcome: _Outcome) -> None:
        """Keep ``outcome`` to build on (``_again``), the least recently used forgotten first."""
        o = outcome
        key = _outcome_key(o.verdict, o.action, o.blocked_by, o.conflicts, o.risk, o.execution)
        kept = self._outcomes
        try:
            kept[key] = outcome
        except TypeError:  # a veto or conflict that is not text
            return
        kept.move_to_end(key)
        self._last = outcome
        if len(kept) > _OUTCOMES_KEPT:
            kept.popitem(last=False)

    def _observations_json(
        self, observations: Sequence[Any], as_of: datetime, stamp: str
    ) -> str | None:
        """The canonical JSON of the ``observations`` entries when every one is a plain
        observation (a finite float, UTC times); None sends them the general way. ``stamp`` is
        ``_stamp(as_of)``, the decision's time, which the observations' times most often are."""
        texts = []
        for obs in observations:
            if obs.__class__ is not Observation:
                return None
            value = obs.value
            if value - value != 0:
                return None
            fetched = obs.fetched_at
            fetched_json = f'"{_stamp_like(fetched, as_of, stamp)}"' if fetched else _NULL
            detail = obs.detail
            detail_json = "" if detail is None else self._detail_json(detail)
            # The keys in canonical order; a float as the stdlib writes it (its repr). The
            # same text as ``observation_entries``.
            texts.append(
                f'{{"data_time":"{_stamp_like(obs.as_of, as_of, stamp)}",{detail_json}'
                f'"fetched_at":{fetched_json},"value":{_FLOAT_REPR(value)}}}'
            )
        return "[" + ",".join(texts) + "]"

    def _detail_json(self, detail: Any) -> str:
        """``"detail":{...},`` of an observation's detail. One of plain data (nested or not) is
        encoded once per content: an adapter's details repeat (the exchange, a candle count, a
        series' points, shared by every strategy asking that day). The content is orjson's
        bytes of it, which tell apart every two plain values whose JSON differs (1 and 1.0,
        key order aside); a NaN or anything not plain (``is_plain_finite``) is never a key."""
        if detail.__class__ is dict and is_plain_finite(detail):
            try:
                key = orjson.dumps(detail, option=orjson.OPT_SORT_KEYS)
            except TypeError:  # an int beyond 64 bits: the general way
                return f'"detail":{_value(detail)},'
            found = self._details.get(key)
            if found is None:
                # json_safe(detail) would be an equal copy of it: encoded as it is.
                found = f'"detail":{_value(detail)},'
                if len(self._details) >= _ENCODED_KEPT:
                    self._details.clear()
                self._details[key] = found
            return found
        return detail_member(detail)

    def _encoded_value(self, value: Any) -> tuple[Any, str]:
        """``(plain value, canonical JSON)`` of a risk decision or an execution result (or its
        dict, or None). A frozen object (a ``RiskDecision``, an ``ExecutionResult``) is encoded
        once: a backtest gives the same "no signal" result and the same repeated denial to
        thousands of records. A dict may be edited in place, so it is encoded every time."""
        if value is None:
            return None, _NULL
        found = self._encoded.get(id(value))  # never a dict's: those are not kept
        if found is not None and found[0] is value:
            return found[1], found[2]
        kind = value.__class__
        if kind is RiskDecision:
            # Frozen: its dict is made when a record is (``_fresh``), its JSON in one walk.
            plain, encoded = value, value.to_json()
        elif kind is ExecutionResult and value.details.__class__ is dict:
            plain, encoded = _execution_encoded(value)
        elif isinstance(value, Mapping):
            plain = json_safe(value)
            return plain, _value(plain)
        else:
            plain = _plain(value)
            encoded = _value(plain)
        if len(self._encoded) >= _ENCODED_KEPT:
            self._encoded.clear()
        self._encoded[id(value)] = (value, plain, encoded)  # the object too: its id stays its
        return plain, encoded


def _execution_encoded(execution: ExecutionResult) -> tuple[dict[str, Any], str]:
    """``(execution.to_dict(), its canonical JSON)``, the dict encoded as it is made: only what
    JSON cannot write as it is converted (``json_ready``), and orjson's bytes taken as they are
    when nothing in it can differ from the stdlib's (every paper fill's decision holds one). A
    detail's key that is not text (which ``to_dict`` turns to text) sends it the general way."""
    plain, sure = json_ready(
        {
            "status": execution.status,
            "message": execution.message,
            "fill": None,
            "approval_id": execution.approval_id,
            "expires_at": execution.expires_at,
            "venue_order_id": execution.venue_order_id,
        }
    )
    details, details_sure = json_ready(execution.details)
    plain["details"] = details
    fill = execution.fill
    if fill:  # as ``to_dict`` puts it in: a Fill's dict is json_safe's already
        written = fill.to_dict()
        plain["fill"] = written if fill.__class__ is Fill else json_safe(written)
        sure = sure and writes_as_stdlib(plain["fill"])
    text = ready_json(plain, sure and details_sure)
    if text is None:  # a key that is not text, an int beyond 64 bits: the general way
        general = execution.to_dict()
        return general, canonical_json_of_plain(general)
    return plain, text


def detail_member(detail: Any) -> str:
    """``"detail":{...},``: an observation's ``detail`` as a decision record's observation entry
    writes it, the comma after it included (``observation_entries``)."""
    return f'"detail":{_value(json_safe(detail))},'


def observation_entries(
    values: Sequence[float],
    data_times: Sequence[datetime],
    fetched: Sequence[datetime],
    fetched_stamps: Sequence[str],
    details: Sequence[str],
) -> list[str]:
    """The entries of a decision record's ``observations`` of plain observations, as
    ``DecisionTemplate`` writes them, one per finite float value (exactly a ``float``) with its
    data time and ``fetched_at`` (aware datetimes; ``fetched_stamps`` are the latter's
    ``_stamp``) and its detail's member (``detail_member``; "" without one).
    ``ReplayAnswers.entries`` writes a run's at once."""
    return [
        # ``_observations_json``'s text.
        f'{{"data_time":"{_stamp_like(data_time, at, at_stamp)}",{detail}'
        f'"fetched_at":"{at_stamp}","value":{value}}}'
        for value, data_time, at, at_stamp, detail in zip(
            _float_texts(values), data_times, fetched, fetched_stamps, details, strict=True
        )
    ]


def _float_texts(values: Sequence[float]) -> list[str]:
    """``float.__repr__`` of each of ``values`` (finite floats): orjson writes them all at once
    in a fifth of the time, with the same digits where its text passes
    ``canonical_json_of_plain``'s check (else each is repr'd)."""
    if values and set(map(type, values)) == {float}:
        written = orjson.dumps(list(values))
        if b"null" not in written and _ORJSON_DIFFERS.search(written) is None:
            return written[1:-1].decode().split(",")
    return list(map(_FLOAT_REPR, values))


# Outcomes a template keeps to build on again (``DecisionTemplate._again``).
_OUTCOMES_KEPT = 16


def _outcome_key(
    verdict: Any,
    action: Any,
    blocked_by: tuple[Any, ...],
    conflicts: tuple[Any, ...],
    risk: Any,
    execution: Any,
) -> tuple[Any, ...]:
    """Where a template keeps an outcome: the frozen risk and execution by identity (the
    ``_Outcome`` holds them, so their ids are not another object's while it is kept)."""
    return (verdict, action, id(risk), id(execution), blocked_by, conflicts)


class Repeat(NamedTuple):
    """A decision record repeating an outcome built before (``DecisionTemplate``'s), decided
    and recorded at ``moment`` (a backtest's clock), kept as the values it writes anew: its
    stamp, id, observations' JSON and seconds. A store that keeps runs seals it from its
    outcome's ``shape`` without writing its members out (``signalops.audit.runs``);
    ``prepared()`` is it as a ``PreparedRecord``, byte for byte what ``prepare_at`` gives."""

    template: DecisionTemplate
    outcome: _Outcome
    moment: datetime
    observations: Sequence[Any] | None  # None: known by their JSON only (``repeat_at``)
    as_of: str
    id: str
    observed: str
    seconds: int | None

    @property
    def shape(self) -> Shape:
        return self.outcome.shape

    def prepared(self) -> PreparedRecord:
        moment, stamp, seconds = self.moment, self.as_of, self.seconds
        return self.template._again_record(
            self.outcome, moment, self.observations, moment, None, stamp, stamp, self.id,
            self.observed, seconds, seconds,
        )  # fmt: skip


# ``Repeat._make`` without its length check (``DecisionTemplate.repeat_span`` zips eight members).
_new_repeat = partial(tuple.__new__, Repeat)

# What an audit store's ``append`` and ``append_many`` take.
Appendable = Mapping[str, Any] | PreparedRecord | Repeat


def as_prepared(given: Appendable) -> PreparedRecord:
    """A record given to a store as a ``PreparedRecord``: a dict prepared, a repeat written
    out (``TypeError`` for anything else)."""
    if isinstance(given, PreparedRecord):
        return given
    if given.__class__ is Repeat:
        return given.prepared()
    if not isinstance(given, Mapping):
        raise TypeError(f"an audit record is a dict, not {type(given).__name__}")
    return prepare(given)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """A decision's outcome as the general way built it: what it was built from (the same
    frozen risk and execution objects are what make a later decision's outcome this one), the
    secrets it was checked against, and its record's member texts."""

    verdict: Any
    action: Any
    blocked_by: tuple[Any, ...]
    conflicts: tuple[Any, ...]
    risk: Any
    execution: Any
    secrets: tuple[str, ...]
    shape: Shape  # its record's members: what its repeats write anew left to them
    verdict_text: str
    status: str | None


# Frozen values a template keeps encoded (a run's distinct "no signal" results and denials).
_ENCODED_KEPT = 256


_FLOAT_REPR = float.__repr__


def _fresh(value: Any) -> Any:
    """A record's own copy of a remembered risk value: a ``RiskDecision``'s dict (made anew;
    the checks' details in the gate's order), or a copy of its plain data."""
    if value.__class__ is RiskDecision:
        return value.to_dict()
    return copy.deepcopy(value)


def _copy(value: Any, member: str) -> Any:
    """A fresh copy of a member's value (read back from its JSON), or None."""
    return None if value is None else loads_record("{" + member + "}").popitem()[1]


_INTENT_FIELDS = len(OrderIntent.__dataclass_fields__)


def _intent_json(order: Any, moment: datetime, stamp: str) -> str | None:
    """The canonical JSON of an ``OrderIntent`` whose fields all have their declared types
    (``_plain(order)`` encoded), written from them at once: every order a gate sizes is in its
    decision's record. None for anything else, which ``_plain`` and ``_values`` encode.
    ``stamp`` is ``_stamp(moment)``, the decision's time: the order's is most often that one."""
    if order.__class__ is not OrderIntent:
        return None
    fields = order.__dict__
    if len(fields) != _INTENT_FIELDS:  # only the dataclass's fields are encoded as they are
        return None
    side, mode, as_of = order.side, order.mode, order.as_of
    quantity, price, notional = order.quantity, order.reference_price, order.notional
    asset, client_order_id = order.asset, order.client_order_id
    decision_id, strategy = order.decision_id, order.strategy
    if (
        side.__class__ is not Side
        or mode.__class__ is not Mode
        or as_of.__class__ is not datetime
        or quantity.__class__ is not Decimal
        or price.__class__ is not Decimal
        or notional.__class__ is not Decimal
        or asset.__class__ is not str
        or client_order_id.__class__ is not str
        or decision_id.__class__ is not str
        or strategy.__class__ is not str
    ):
        return None
    if _written_as_is(f"{asset}{client_order_id}{decision_id}{strategy}"):
        # Text JSON writes as it is, between quotes (ids, a ticker, a strategy's name).
        asset, client_order_id = f'"{asset}"', f'"{client_order_id}"'
        decision_id, strategy = f'"{decision_id}"', f'"{strategy}"'
    else:
        asset, client_order_id, decision_id, strategy = map(
            _text_json, (asset, client_order_id, decision_id, strategy)
        )
    # The keys in canonical (sorted) order; a Decimal's text and a time's stamp need no escaping.
    return (
        f'{{"as_of":"{_stamp_like(as_of, moment, stamp)}","asset":{asset},'
        f'"client_order_id":{client_order_id},"decision_id":{decision_id},'
        f'"mode":"{mode._value_}","notional":"{notional}","quantity":"{quantity}",'
        f'"reference_price":"{price}","side":"{side._value_}","strategy":{strategy}}}'
    )


def _text_json(text: str) -> str:
    try:
        return orjson.dumps(text).decode()
    except TypeError:  # a lone surrogate, which orjson refuses: written as the stdlib writes it
        return canonical_json(text)


def _plain(value: Any) -> Any:
    """An order, execution or risk decision as plain JSON data, or None. Their ``to_dict``
    gives plain data already (``json_safe``'s, or the gate's own conversion of it: walking a
    dozen risk checks again cost more than encoding them); anything else goes through
    ``json_safe``."""
    if value is None:
        return None
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return json_safe(value)


# Templates of the strategies ``build_decision_record`` sees, by strategy object, asset and mode
# (the strategy is kept with its entry, so its id is not reused while the entry lives).
_TEMPLATES: OrderedDict[tuple[int, str, str], DecisionTemplate] = OrderedDict()
_TEMPLATES_KEPT = 4096


def template_for(strategy: Strategy, asset: str, mode: Any) -> DecisionTemplate:
    """The ``DecisionTemplate`` of (strategy, asset, mode), made on first use and kept."""
    mode = str(getattr(mode, "value", mode))
    key = (id(strategy), asset, mode)
    template = _TEMPLATES.get(key)
    if template is None or template.strategy is not strategy:
        template = DecisionTemplate(strategy, asset, mode)
        _TEMPLATES[key] = template
        if len(_TEMPLATES) > _TEMPLATES_KEPT:
            _TEMPLATES.popitem(last=False)
    return template


def build_decision_record(
    *,
    strategy: Strategy,
    evaluation: Evaluation,
    mode: str,
    intent: OrderIntent | None,
    risk: RiskDecision | Mapping[str, Any] | None,
    execution: ExecutionResult | None,
    recorded_at: datetime,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``decision`` record of one evaluation, traded or not (no seq/prev_hash/hash yet).

    ``risk`` is the risk gate's ``RiskDecision`` or its dict (``{"approved": bool, "checks":
    [...]}``), or None when the gate did not run (HOLD, BLOCKED). ``environ`` is only for
    tests: the environment whose secret values are scrubbed (default ``os.environ``). Built by
    the strategy's ``DecisionTemplate`` for the asset and mode.
    """
    return prepare_decision(
        strategy=strategy,
        evaluation=evaluation,
        mode=mode,
        intent=intent,
        risk=risk,
        execution=execution,
        recorded_at=recorded_at,
        environ=environ,
    ).record


def prepare_decision(
    *,
    strategy: Strategy,
    evaluation: Evaluation,
    mode: str,
    intent: OrderIntent | None,
    risk: RiskDecision | Mapping[str, Any] | None,
    execution: ExecutionResult | None,
    recorded_at: datetime,
    environ: Mapping[str, str] | None = None,
) -> PreparedRecord:
    """``build_decision_record`` as a ``PreparedRecord`` (the store appends it without
    encoding it again)."""
    asset = evaluation.asset
    if not asset:
        raise ValueError("a decision record needs the evaluation's asset")
    template = template_for(strategy, asset, mode)
    prepared = template.prepare(
        **_decided(evaluation),
        risk=risk,
        order=intent,
        execution=execution,
        recorded_at=recorded_at,
        environ=environ,
    )
    if intent is not None:
        template.check_order(intent, prepared)
    return prepared


def _decided(evaluation: Evaluation) -> dict[str, Any]:
    """The members of a decision record its evaluation gives, as ``prepare`` takes them."""
    return {
        "as_of": evaluation.as_of,
        "verdict": evaluation.verdict,
        "action": evaluation.action,
        "blocked_by": evaluation.blocked_by,
        "conflicts": evaluation.conflicts,
        "observations": evaluation.observations,
    }


def followup_id(kind: str, decision_id: str, n: int = 1) -> str:
    """``{kind}-{decision hex}-{n}``: the n-th record of that kind for that decision.

    Deterministic on purpose: the store's ``id`` is UNIQUE, so a restart that tries to record
    the same event again (the first fill of a decision, its one approval) is refused instead of
    writing it twice. ``n`` counts from 1; partial fills use 1, 2, 3...
    """
    if kind not in FOLLOWUP_FIELDS:
        raise ValueError(f"unknown follow-up kind '{kind}' (one of: {', '.join(FOLLOWUP_FIELDS)})")
    if n < 1:
        raise ValueError("follow-up numbers start at 1")
    return f"{kind}-{decision_id.removeprefix('dec-')}-{n}"


def build_followup(
    kind: str,
    *,
    decision_id: str,
    recorded_at: datetime,
    n: int = 1,
    environ: Mapping[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A record of something that happened to a decision later (no seq/prev_hash/hash yet).

    Fields each kind needs (values may be the domain objects; they are made JSON here):

        order_submitted  client_order_id, order (OrderIntent or its dict)
        order_result     client_order_id, execution (ExecutionResult or its dict)
        fill             client_order_id, fill (Fill or its dict)
        approval         approval_id, approved (bool), by (who); optional note
        expiry           approval_id, expires_at (when the approval lapsed)

    ``recorded_at`` is when it happened (the approval's time, the fill's time).
    """
    return _finish(_followup(kind, decision_id, recorded_at, n, fields), environ)


def prepare_followup(
    kind: str,
    *,
    decision_id: str,
    recorded_at: datetime,
    n: int = 1,
    environ: Mapping[str, str] | None = None,
    **fields: Any,
) -> PreparedRecord:
    """``prepare(build_followup(...))``: the same record and bytes, encoded once instead of by
    the builder and again by the store (the pipeline's order and fill records)."""
    return _finish_prepared(_followup(kind, decision_id, recorded_at, n, fields), environ)


def prepare_fill(
    *, decision_id: str, client_order_id: str, fill: Fill, recorded_at: datetime
) -> PreparedRecord:
    """``prepare_followup("fill", decision_id=..., recorded_at=..., client_order_id=...,
    fill=fill.to_dict())``: the same record and bytes, written from the fill's plain values
    (``Fill.to_dict``, ``json_safe``'s already) without walking and sorting the record again
    (a paper fill's record is written at every fill of a backtest). Anything else (a ``Fill``
    subclass, ids that are not text, a member to scrub) goes ``prepare_followup``'s way."""
    if (
        fill.__class__ is not Fill
        or decision_id.__class__ is not str
        or client_order_id.__class__ is not str
        or recorded_at.__class__ is not datetime
        or recorded_at.tzinfo is None
    ):
        return _general_fill(decision_id, client_order_id, fill, recorded_at)
    ident = followup_id(FILL, decision_id)
    stamp = _stamp(recorded_at)
    plain = fill.to_dict()
    # In sorted key order, as ``prepare`` writes the members.
    values = (client_order_id, decision_id, plain, ident, FILL, stamp, SCHEMA)
    texts = [f"{key}:{text}" for key, text in zip(_FILL_KEYS, _values(values), strict=True)]
    if not _nothing_to_scrub("{" + ",".join(texts) + "}", secret_values()):
        return _general_fill(decision_id, client_order_id, fill, recorded_at)

    def record() -> dict[str, Any]:
        # The builder's key order (``_followup``), which ``prepare`` keeps in its dict.
        return {
            "schema": SCHEMA,
            "kind": FILL,
            "id": ident,
            "decision_id": decision_id,
            "recorded_at": stamp,
            "client_order_id": client_order_id,
            "fill": fill.to_dict(),
        }

    # By position, in the order of ``PreparedRecord``'s parameters; ``prepare``'s values for a
    # record without those members (no strategy, verdict or status; its schema its context).
    return PreparedRecord(
        _FILL_KEY_NAMES,
        texts,
        record,
        FILL,  # kind
        ident,  # id
        SCHEMA,  # schema
        decision_id,  # decision_id
        None,  # as_of
        None,  # asset
        None,  # verdict
        None,  # status
        stamp,  # recorded_at
        _FILL_CONTEXT,  # context
        None,  # strategy_name
    )


def _general_fill(
    decision_id: str, client_order_id: str, fill: Fill, recorded_at: datetime
) -> PreparedRecord:
    return prepare_followup(
        FILL,
        decision_id=decision_id,
        recorded_at=recorded_at,
        client_order_id=client_order_id,
        fill=fill.to_dict(),
    )


_FILL_KEY_NAMES = ("client_order_id", "decision_id", "fill", "id", "kind", "recorded_at", "schema")
_FILL_KEYS = tuple(_key(key) for key in _FILL_KEY_NAMES)
_FILL_CONTEXT = "{" + _member("schema", _value(SCHEMA)) + "}"  # its only ``CONTEXT_KEYS`` member


def _followup(
    kind: str, decision_id: str, recorded_at: datetime, n: int, fields: dict[str, Any]
) -> dict[str, Any]:
    """The follow-up record before ``_finish`` (see ``build_followup``)."""
    id_ = followup_id(kind, decision_id, n)
    missing = [name for name in FOLLOWUP_FIELDS[kind] if name not in fields]
    if missing:
        raise ValueError(f"a {kind} record needs {', '.join(missing)}")
    reserved = {"schema", "kind", "id", "decision_id", "recorded_at", "seq", "prev_hash", "hash"}
    clash = sorted(reserved & fields.keys())
    if clash:
        raise ValueError(f"fields {', '.join(clash)} are set by the audit log, not the caller")
    record = {
        "schema": SCHEMA,
        "kind": kind,
        "id": id_,
        "decision_id": decision_id,
        "recorded_at": iso(utc(recorded_at)),
        **fields,
    }
    return record


def breaker_id(event: str, revision: int) -> str:
    """``breaker-{revision}-{event}``: a breaker's state revision has one trip and one resume, so
    a restart that records the same event again is refused by the unique id."""
    return f"breaker-{revision}-{event}"


def build_breaker(
    event: Mapping[str, Any],
    *,
    revision: int,
    recorded_at: datetime,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The record of a breaker ``event`` (``signalops.breakers``' history entry: ``trip`` with
    trigger and message, or ``resume`` with who, why and what it cleared)."""
    record = {
        "schema": SCHEMA,
        "kind": BREAKER,
        "id": breaker_id(str(event["event"]), revision),
        "recorded_at": iso(utc(recorded_at)),
        "breaker": dict(event),
    }
    return _finish(record, environ)


__all__ = [
    "APPROVAL",
    "BREAKER",
    "CONTEXT_KEYS",
    "DECISION",
    "DECISION_KEYS",
    "DECISION_SCHEMA",
    "EXPIRY",
    "FILL",
    "FOLLOWUP_FIELDS",
    "KINDS",
    "ORDER_RESULT",
    "ORDER_SUBMITTED",
    "REDACTED",
    "SCHEMA",
    "SCHEMAS",
    "Appendable",
    "DecisionTemplate",
    "DecisionTimes",
    "PreparedRecord",
    "Repeat",
    "as_prepared",
    "breaker_id",
    "build_breaker",
    "build_decision_record",
    "build_followup",
    "canonical_json_of_plain",
    "compact_observation",
    "detail_member",
    "followup_id",
    "json_safe",
    "loads_record",
    "observation_entries",
    "prepare",
    "prepare_decision",
    "prepare_fill",
    "prepare_followup",
    "scrub_secrets",
    "secret_values",
    "template_for",
]
