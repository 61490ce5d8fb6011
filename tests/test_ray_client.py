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
import shutil
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


def ready(gcs: int, env: dict[str, str]) -> bool:
    status = subprocess.run(
        [str(RAY), "status", f"--address=127.0.0.1:{gcs}"], env=env, capture_output=True
    )
    return status.returncode == 0


@pytest.fixture(scope="module")
def head() -> Iterator[tuple[int, dict[str, str]]]:
    """A Ray head with its client server on a free port: (that port, the environment of a
    user of this machine, whose home holds the cluster's token)."""
    home = Path(tempfile.mkdtemp(prefix="ray-home-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(HOME=str(home), RAY_USAGE_STATS_ENABLED="0")
    client, gcs = free_port(), free_port()
    started = subprocess.Popen(
        [str(RAY), "start", "--head", "--block", f"--port={gcs}",
         f"--ray-client-server-port={client}", "--num-cpus=1", "--include-dashboard=false",
         "--disable-usage-stats", f"--temp-dir={home / 'ray'}"],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        # Its client server listens before the cluster is up ("Initialization failure from
        # server"): ready once the cluster answers ``ray status`` too.
        while not (answers(client) and ready(gcs, env)):
            if started.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start --head did not serve clients (exit {started.poll()})")
            time.sleep(0.5)
        yield client, env
    finally:
        os.killpg(started.pid, signal.SIGINT)  # --block stops the cluster on it (~2 s)
        try:
            started.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(started.pid, signal.SIGKILL)
            started.wait()
        gone(started.pid)
        # Not pytest's tmp_path: the cluster's socket paths must stay short. So it goes here.
        shutil.rmtree(home, ignore_errors=True)


def gone(group: int) -> None:
    """Wait until no process of the group is left (the next cluster's ports are free)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(group, signal.SIGKILL)


def test_ray_auto_with_no_ray_running_says_how_to_give_one(replay_dir: Path, tmp_path: Path):
    # Ray's own message told the user to set "the `--address` flag", which signalops lacks.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["RAY_TMPDIR"] = str(tmp_path)  # where "auto" looks for a running cluster: none there
    found = subprocess.run(
        [sys.executable, "-m", "signalops", *SWEEP, "--data", str(replay_dir), "--ray", "auto"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (found.returncode, found.stderr) == (
        1,
        "error: --ray auto: cannot connect to Ray: no Ray is running on this machine: start one "
        "(ray start --head), give its address (--ray HOST:6379, --ray ray://HOST:10001, or "
        "RAY_ADDRESS), or use --ray alone to start one here\n",
    )


def test_a_sweep_through_the_ray_client_equals_the_sweep_here(head, replay_dir: Path):
    port, env = head
    here = invoke(*SWEEP, "--data", str(replay_dir))
    assert here.exit_code == 0, here.output

    command = [sys.executable, "-m", "signalops", *SWEEP, "--data", str(replay_dir),
               "--ray", f"ray://127.0.0.1:{port}"]  # fmt: skip
    for _ in range(3):
        there = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        # Ray's proxy now and then fails to start the server of one client (a race in Ray
        # 2.60's proxier: the process it watches execs or exits as it reads its command
        # line); the client's answer is to connect again.
        if "Initialization failure from server" not in there.stderr:
            break

    assert there.returncode == 0, there.stderr
    assert there.stdout == here.stdout
