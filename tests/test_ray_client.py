"""``--ray ray://HOST:PORT`` reaches a real Ray cluster through the Ray Client, as the README
says, and gives the very table a sweep gives here.

Regression test: the ``ray`` extra installed Ray's core only, and ``--ray ray://...`` failed
with "Ray Client requires pip package 'ray[client]'"; with it, a cluster that starts with
token authentication (Ray 2.59 on, by default) left the client waiting 30 s for an answer
that never came ("ray client connection timeout"), since the client sends its token only when
``RAY_AUTH_MODE`` says so. The head here is ``ray start --head`` in a session of its own, in a
home of its own (its token in ``~/.ray/auth_token``), stopped with its process group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import STRATEGIES, invoke

pytest.importorskip("ray", reason="the 'ray' extra is not installed")

RAY = Path(sys.executable).with_name("ray")
SWEEP = (
    "sweep", str(STRATEGIES / "technical_baseline.yaml"), "--grid", "oversold=25,30",
    "--from", "2023-01-01", "--to", "2023-12-31",
)  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def head() -> Iterator[tuple[int, dict[str, str]]]:
    """A Ray head with its client server on a free port: (that port, the environment of a
    user of this machine, whose home holds the cluster's token)."""
    home = Path(tempfile.mkdtemp(prefix="ray-home-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(HOME=str(home), RAY_USAGE_STATS_ENABLED="0")
    client = free_port()
    started = subprocess.Popen(
        [str(RAY), "start", "--head", "--block", f"--port={free_port()}",
         f"--ray-client-server-port={client}", "--num-cpus=1", "--include-dashboard=false",
         "--disable-usage-stats", f"--temp-dir={home / 'ray'}"],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not answers(client):
            if started.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start --head did not serve clients (exit {started.poll()})")
            time.sleep(0.5)
        yield client, env
    finally:
        os.killpg(started.pid, signal.SIGINT)
        try:
            started.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(started.pid, signal.SIGKILL)
            started.wait()


def test_a_sweep_through_the_ray_client_equals_the_sweep_here(head, replay_dir: Path):
    port, env = head
    here = invoke(*SWEEP, "--data", str(replay_dir))
    assert here.exit_code == 0, here.output

    there = subprocess.run(
        [sys.executable, "-m", "signalops", *SWEEP, "--data", str(replay_dir),
         "--ray", f"ray://127.0.0.1:{port}"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert there.returncode == 0, there.stderr
    assert there.stdout == here.stdout
