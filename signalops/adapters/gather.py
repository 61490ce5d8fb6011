"""Strategy x asset x as_of -> Evaluation: gather each distinct request once, then evaluate.

The risk gate, executors and the audit record build on this (next issue); here is the part the
adapters and backtests share: ask each source once for everything a strategy needs.

Every request answered with a ``DataError`` is logged here, once per gather, as an
``adapter_error`` line (INFO, logger ``signalops.adapters``) with its source, metric, asset and
reason code: every source's answers pass through this one place.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

from signalops.adapters.base import Adapter, Answer
from signalops.canonical import iso
from signalops.codes import Code
from signalops.evaluation.tree import Evaluation
from signalops.logs import event
from signalops.observation import DataError, Request, utc
from signalops.strategy.model import Strategy

log = logging.getLogger("signalops.adapters")


def gather(
    requests: Iterable[Request], adapters: Mapping[str, Adapter], as_of: datetime
) -> dict[Request, Answer]:
    """Answer each distinct request once, one batch per source.

    A request for a source with no adapter is answered with a ``NO_ADAPTER`` DataError, so the
    leaves that need it are UNKNOWN (fail closed) rather than the whole evaluation failing.
    """
    as_of = utc(as_of)
    by_source: dict[str, list[Request]] = defaultdict(list)
    for request in dict.fromkeys(requests):
        by_source[request.source].append(request)
    answers: dict[Request, Answer] = {}
    for source, batch in by_source.items():
        adapter = adapters.get(source)
        if adapter is None:
            for request in batch:
                answers[request] = DataError(Code.NO_ADAPTER, f"no adapter for source '{source}'")
            continue
        answers.update(adapter.fetch(batch, as_of))
    if log.isEnabledFor(logging.INFO):
        log_errors(answers, as_of)
    return answers


def log_errors(answers: Mapping[Request, Answer], as_of: datetime) -> None:
    """One ``adapter_error`` line per request answered with a ``DataError``."""
    for request, answer in answers.items():
        if isinstance(answer, DataError):
            event(
                log,
                logging.INFO,
                "adapter_error",
                f"{request.source} {request.metric}"
                + (f" for {request.asset}" if request.asset else "")
                + f": {answer.message}",
                source=answer.source or request.source,
                metric=request.metric,
                params=dict(request.params) or None,
                asset=request.asset,
                code=answer.reason,
                as_of=iso(as_of),
            )


def evaluate(
    strategy: Strategy, asset: str, as_of: datetime, adapters: Mapping[str, Adapter]
) -> Evaluation:
    """Gather what ``strategy`` needs for ``asset`` at ``as_of`` and evaluate it."""
    requests = strategy.requests(asset)
    return strategy.evaluate(gather(requests, adapters, as_of), utc(as_of), asset)
