"""Build audit records (not yet sealed): a ``decision`` per evaluation, and its follow-ups.

The builders return plain JSON data (dicts, lists, str, finite numbers, bool, None) so that the
record a caller holds is exactly what the store writes and reads back: NaN and infinity become
the strings ``"nan"``/``"inf"``/``"-inf"``, ``Decimal`` becomes its exact string, datetimes
become UTC ISO-8601 with a ``Z``. ``seq``, ``prev_hash`` and ``hash`` are absent: only the store
knows where a record lands in the chain (see ``signalops.audit.chain``).

Time is an argument (``recorded_at``), never ``datetime.now()``: a backtest records simulated
time, and the same inputs always build the same record.

Secrets: nothing here reads credentials, and every string is scrubbed on the way out anyway
(``scrub_secrets``), because a venue's error message or an adapter's ``DataError`` may quote a
URL or header that carried a key. A leaked key in an append-only log could never be removed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from signalops.canonical import canonical_json_of_plain, iso, json_safe
from signalops.codes import Code
from signalops.evaluation.trace_json import trace_to_dict
from signalops.observation import DataError, Observation, utc
from signalops.orders import decision_id as make_decision_id

if TYPE_CHECKING:
    from signalops.evaluation.tree import Evaluation
    from signalops.orders import ExecutionResult, OrderIntent
    from signalops.strategy.model import Strategy

SCHEMA = "signalops.audit/1"
DECISION = "decision"
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
    # os.environ's raw bytes compare at C speed; decoding every variable for every record
    # cost more than the scan it saves.
    raw = getattr(env, "_data", None) if env is os.environ else None
    items = tuple(raw.items()) if isinstance(raw, dict) else tuple(env.items())
    if items != _secrets_seen[0]:  # scanning names with a regex for every record was 10% of it
        found = {
            value
            for name, value in env.items()
            if _SECRET_NAME.search(name) and len(value) >= _MIN_SECRET_LENGTH
        }
        _secrets_seen[:] = [items, tuple(sorted(found, key=len, reverse=True))]
    return _secrets_seen[1]


# The environment last scanned and the secrets found in it (a process's environment rarely
# changes; when it does, the comparison above sees it).
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


# What ``_SECRET_PARAM`` needs to find in the text before it can match anything.
_PARAM_TAILS = ("key=", "token=", "secret=", "signature=")


def _nothing_to_scrub(text: str, secrets: tuple[str, ...]) -> bool:
    """Whether the record's JSON ``text`` shows that ``scrub_secrets`` would change nothing.

    A secret is looked for in the text only when JSON writes it as it is (printable ASCII
    without quotes or backslashes); any other secret sends the record through the scrubber.
    """
    lower = text.lower()
    if any(tail in lower for tail in _PARAM_TAILS):
        return False
    return all(_written_as_is(secret) and secret not in text for secret in secrets)


def _written_as_is(secret: str) -> bool:
    return secret.isascii() and secret.isprintable() and '"' not in secret and "\\" not in secret


def _observation_entry(request: Any, obs: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "source": request.source,
        "metric": request.metric,
        # The request's own normalised parameters (durations in seconds): exactly what an
        # adapter was asked, so the decision can be replayed. The trace has readable ones.
        "params": dict(request.params),
        "asset": request.asset,
        "status": Code.MISSING,
        "value": None,
        "data_time": None,
        "fetched_at": None,
        "error": None,
    }
    if isinstance(obs, Observation):
        entry.update(
            status="OK",
            value=obs.value,
            data_time=iso(utc(obs.as_of)),
            fetched_at=iso(utc(obs.fetched_at)) if obs.fetched_at else None,
        )
        if obs.detail is not None:
            entry["detail"] = obs.detail
    elif isinstance(obs, DataError):
        entry.update(status="ERROR", error={"reason": obs.reason, "message": obs.message})
    elif obs is not None:
        message = f"not an Observation or DataError: {type(obs).__name__}"
        entry.update(status="ERROR", error={"reason": Code.ADAPTER_ERROR, "message": message})
    return entry


def build_decision_record(
    *,
    strategy: Strategy,
    evaluation: Evaluation,
    mode: str,
    intent: OrderIntent | None,
    risk: dict[str, Any] | None,
    execution: ExecutionResult | None,
    recorded_at: datetime,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``decision`` record of one evaluation, traded or not (no seq/prev_hash/hash yet).

    ``risk`` is the risk gate's dict as given (``{"approved": bool, "checks": [...]}``) or None
    when the gate did not run (HOLD, BLOCKED). ``environ`` is only for tests: the environment
    whose secret values are scrubbed (default ``os.environ``).
    """
    asset = evaluation.asset
    if not asset:
        raise ValueError("a decision record needs the evaluation's asset")
    mode = str(getattr(mode, "value", mode))
    as_of = utc(evaluation.as_of)
    ident = make_decision_id(strategy.content_hash, asset, as_of, mode)
    if intent is not None and intent.decision_id != ident:
        raise ValueError(
            f"order intent belongs to decision {intent.decision_id}, not {ident} "
            f"({strategy.name} {asset} {iso(as_of)} {mode})"
        )
    tree = evaluation.tree
    observations = [
        _observation_entry(request, obs)
        for request, obs in zip(tree.requests(asset), evaluation.observations, strict=True)
    ]
    record = {
        "schema": SCHEMA,
        "kind": DECISION,
        "id": ident,
        "decision_id": ident,
        "recorded_at": iso(utc(recorded_at)),
        "as_of": iso(as_of),
        "strategy": {
            "name": strategy.name,
            "hash": strategy.content_hash,
            "file": strategy.file,
        },
        "asset": asset,
        "mode": mode,
        "verdict": evaluation.verdict.value,
        "action": evaluation.action.value if evaluation.action else None,
        "blocked_by": list(evaluation.blocked_by),
        "conflicts": list(evaluation.conflicts),
        "trace": trace_to_dict(evaluation.trace, evaluation, strategy),
        "observations": observations,
        "risk": risk,
        "order": intent.to_dict() if intent is not None else None,
        "execution": execution.to_dict() if execution is not None else None,
    }
    return _finish(record, environ)


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
    return _finish(record, environ)


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


def loads_record(text: str) -> dict[str, Any]:
    """A record from its canonical JSON text (one line of an export, one ``body`` column)."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("an audit record is a JSON object")
    return value
