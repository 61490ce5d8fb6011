"""``signalops dashboard`` stopped by a signal stops the Streamlit app it started.

It ran the app with ``subprocess.call`` and handled only KeyboardInterrupt: ``kill -TERM`` (a
service manager's stop) or a closed terminal (SIGHUP) ended the command and left the app, a
child of init, answering on its port. The command runs for real here (a free local port, the
real Streamlit), is sent the signal once the app answers, and must exit 0 with the app gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT

from signalops.audit.store import AuditLog

pytest.importorskip("streamlit", reason="the dashboard extra (streamlit) is not installed")
if not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists():
    pytest.skip("no /proc/PID/task/PID/children to find the app's pid", allow_module_level=True)

STARTUP_SECONDS = 60
STOP_SECONDS = 15  # the command's grace period (5 s) before SIGKILL, and some


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as answer:
            return answer.read() == b"ok"
    except OSError:
        return False


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    return [int(child) for child in text.split()]


def alive(pid: int) -> bool:
    """Running (a zombie is not: its parent gone, it waits for init to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """``signalops dashboard`` on a free port, answering; yields (process, url, its output)."""
    AuditLog(tmp_path / "signalops.db").close()
    port = free_port()
    log = tmp_path / "dashboard.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALOPS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "signalops", "dashboard", "--port", str(port)]
    with log.open("wb") as out:
        # Its own process group: whatever is left of it (the app, before the fix) is killed
        # at the end, not left serving.
        proc = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not answers(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the dashboard did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield proc, url, log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["TERM", "HUP", "INT"]
)
def test_a_stop_signal_to_the_command_stops_the_app_and_exits_zero(dashboard, signum: int):
    proc, url, log = dashboard
    (app,) = children(proc.pid)  # python -m streamlit run ...

    os.kill(proc.pid, signum)  # the command alone, as `kill` sends it (not its group)

    proc.wait(timeout=STOP_SECONDS)
    assert not alive(app), f"the app (pid {app}) is still running"
    assert not answers(url)
    assert proc.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text()
