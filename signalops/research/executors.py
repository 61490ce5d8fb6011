"""Where research tasks run: in this process (the default) or on a Ray cluster, behind one seam.

    executor = connect(None)                  # in this process
    executor = connect("local")               # a Ray started here (``--ray``)
    executor = connect("auto")                # the Ray cluster already running here
    shared = executor.put(market)             # once; on Ray: ray.put, tasks get the reference
    for done in executor.run(task, shared, items):
        done.item, done.value, done.error     # as each task completes

A task is a module-level function ``task(shared_value, item)``. Ray imports it by name on the
workers, so the nodes of a cluster need the same SignalOps installed as the driver. An item
should be small (parameters, a period): what is big goes through ``put`` once, and Ray hands
every task the stored object (numpy arrays and bytes without a copy on the same node).

A task that raises does not stop the others: its ``Done`` carries the error, as a line a
person can read (a ``SignalOpsError``'s message, or the exception's type and message), and the
caller reports it with the task's item. Tasks that can fail part-way (one bad parameter set in a
chunk) report those failures in their value instead, so that the rest of their work is kept.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from signalops.errors import InputError, SignalOpsError
from signalops.extras import require

__all__ = [
    "LOCAL_RAY",
    "Done",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "Shared",
    "connect",
    "describe_error",
]

LOCAL_RAY = "local"  # ``--ray`` without an address: Ray's own word for "start one here"
RAY_CLIENT = "ray://"  # a remote cluster's address, through the Ray Client (``ray[client]``)
_TOKEN_HINT = "RAY_AUTH_TOKEN or ~/.ray/auth_token, and RAY_AUTH_MODE=token"

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - the item a task is given
R = TypeVar("R")


@dataclass(frozen=True)
class Shared(Generic[T]):
    """Data put once for every task: the value itself here, a Ray object reference there."""

    handle: Any


@dataclass(frozen=True)
class Done(Generic[I, R]):
    """One finished task: its item, and its value or the error that stopped it."""

    item: I
    value: R | None = None
    error: str | None = None


class Executor(Protocol):
    """Runs ``task(shared, item)`` for every item and yields each result as it completes."""

    @property
    def in_process(self) -> bool:
        """Tasks run in this process (and can read what it has open, such as files)."""
        ...

    @property
    def workers(self) -> int:
        """How many tasks can run at once."""
        ...

    def put(self, value: T) -> Shared[T]: ...

    def run(
        self, task: Callable[[T, I], R], shared: Shared[T], items: Sequence[I]
    ) -> Iterator[Done[I, R]]: ...

    def close(self) -> None: ...


def describe_error(exc: BaseException) -> str:
    """A failed task's error as one line: a SignalOps error's message, else type and message."""
    if isinstance(exc, SignalOpsError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class LocalExecutor:
    """Every task in this process, one after the other, in the order given."""

    in_process = True
    workers = 1

    def put(self, value: T) -> Shared[T]:
        return Shared(value)

    def run(
        self, task: Callable[[T, I], R], shared: Shared[T], items: Sequence[I]
    ) -> Iterator[Done[I, R]]:
        for item in items:
            try:
                value = task(shared.handle, item)
            except Exception as exc:  # one task's failure is reported, not fatal to the run
                yield Done(item, error=describe_error(exc))
            else:
                yield Done(item, value)

    def close(self) -> None:
        pass


class RayExecutor:
    """Tasks on a Ray cluster: ``ray.put`` for shared data, one remote call per item.

    ``address`` is ``ray.init``'s: ``"local"`` starts a Ray here (all cores), ``"auto"`` joins
    the cluster running on this machine, ``"ray://host:10001"`` or ``"host:6379"`` a remote one.
    When Ray is already initialised in this process (a test's session, a notebook) that
    connection is used and left open; a connection made here is closed by ``close``.
    """

    in_process = False

    def __init__(self, address: str = LOCAL_RAY) -> None:
        require("ray", "ray", "running on Ray (--ray)")
        if address.startswith(RAY_CLIENT):
            _send_token()  # before Ray is imported: it reads the mode once
        import ray

        self._ray = ray
        self._owned = not ray.is_initialized()
        if self._owned:
            options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
            if address == LOCAL_RAY:
                options["include_dashboard"] = False  # only a Ray started here takes it
            try:
                ray.init(address=address, **options)
            except (ConnectionError, RuntimeError, ValueError) as exc:  # no cluster there
                # Ray's messages run over several lines (a server's reason after a colon): one.
                reason = " ".join(str(exc).split()) or type(exc).__name__
                if address.startswith(RAY_CLIENT) and "timeout" in reason:
                    reason += f" (a cluster that asks for a token: {_TOKEN_HINT})"
                if "Could not find any running Ray instance" in reason:
                    # Ray's own advice names its CLI's flag, which signalops does not have.
                    reason = (
                        "no Ray is running on this machine: start one (ray start --head), give "
                        "its address (--ray HOST:6379, --ray ray://HOST:10001, or RAY_ADDRESS), "
                        "or use --ray alone to start one here"
                    )
                raise InputError(f"--ray {address}: cannot connect to Ray: {reason}") from None
        self._remote: dict[Callable[..., Any], Any] = {}

    @property
    def workers(self) -> int:
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def put(self, value: T) -> Shared[T]:
        return Shared(self._ray.put(value))

    def run(
        self, task: Callable[[T, I], R], shared: Shared[T], items: Sequence[I]
    ) -> Iterator[Done[I, R]]:
        ray = self._ray
        remote = self._remote.get(task)
        if remote is None:
            remote = self._remote[task] = ray.remote(task)
        # A reference passed as an argument reaches the task as the stored value.
        pending = {remote.remote(shared.handle, item): item for item in items}
        refs = list(pending)
        while refs:
            ready, refs = ray.wait(refs, num_returns=1)
            if refs:  # and whatever else is done by now, in one call
                more, refs = ray.wait(refs, num_returns=len(refs), timeout=0)
                ready += more
            for ref in ready:
                yield self._done(pending.pop(ref), ref)

    def _done(self, item: I, ref: Any) -> Done[I, R]:
        try:
            return Done(item, self._ray.get(ref))
        except self._ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            return Done(item, error=describe_error(cause if cause is not None else exc))
        except self._ray.exceptions.RayError as exc:  # a worker or node lost, an object gone
            return Done(item, error=describe_error(exc))

    def close(self) -> None:
        if self._owned and self._ray.is_initialized():
            self._ray.shutdown()


def _send_token() -> None:
    """Have the Ray Client send this machine's Ray token. Ray starts local clusters with token
    authentication (2.59 on), and its client sends the token only when ``RAY_AUTH_MODE`` says
    ``token``: without it, it waited 30 s for a cluster that ignored it. Set for this process
    when a token is there to send (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH``, or Ray's own
    ``~/.ray/auth_token``) and nobody chose a mode; a cluster without authentication ignores it."""
    if os.environ.get("RAY_AUTH_MODE"):
        return
    given = os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
    if given or (Path.home() / ".ray" / "auth_token").is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


def connect(ray_address: str | None) -> Executor:
    """In this process (``None``), or on Ray at ``ray_address`` (see ``RayExecutor``)."""
    if ray_address is None:
        return LocalExecutor()
    return RayExecutor(ray_address or LOCAL_RAY)
