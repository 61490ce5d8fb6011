"""A wheel installed outside the checkout runs the README's tour from a folder `signalops init`
writes, the dashboard included.

How, offline: the wheel is built from this checkout with the installed build backend
(``pip wheel --no-build-isolation --no-deps``), and installed with ``--no-deps --no-index`` into
a fresh virtualenv made for the test. Tests never reach PyPI, so that venv cannot download the
dependencies: a ``.pth`` file makes the project venv's site-packages importable *after* its
own. What is exercised is therefore the wheel's own contents (package data, schemas,
strategies, sample, dashboard app, console script) against the dependency versions the project
venv has; the resolution of the dependency list by pip is not (``pip install --dry-run`` would
need the index). The checkout is never on the path: every command runs from a temporary folder,
and the test asserts that ``signalops`` is imported from the fresh venv.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT

from signalops.extras import installed
from signalops.starter import NEXT_STEPS

pytestmark = pytest.mark.skipif(
    not installed("hatchling"), reason="the wheel is built offline with hatchling (dev extra)"
)


def sh(command: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{shlex.join(command)}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh venv with the wheel installed, and the environment to run its commands in."""
    base = tmp_path_factory.mktemp("install")
    env = {"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "COLUMNS": "200", "HOME": str(base)}
    wheels = base / "wheels"
    sh(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(wheels), "-q"],
        cwd=base, env=env,
    )  # fmt: skip
    (wheel,) = wheels.glob("signalops-*.whl")
    venv = base / "venv"
    sh([sys.executable, "-m", "venv", str(venv)], cwd=base, env=env)
    python = venv / "bin" / "python"
    sh(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
        cwd=base, env=env,
    )  # fmt: skip
    site = Path(
        sh([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
           cwd=base, env=env).strip()
    )  # fmt: skip
    (site / "zz_project_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
    return venv, env


def test_wheel_import_comes_from_the_fresh_venv_not_the_checkout(fresh, tmp_path):
    venv, env = fresh
    where = sh(
        ["python", "-c", "import signalops, signalops.dashboard.api as d; "
         "print(signalops.__file__); print(d.app_path()); print(d.app_path().is_file())"],
        cwd=tmp_path, env=env,
    ).splitlines()  # fmt: skip
    assert where[0].startswith(str(venv)), where
    assert where[1].startswith(str(venv)) and where[2] == "True", where


def test_readme_tour_runs_from_an_init_folder_outside_the_checkout(fresh, tmp_path):
    _, env = fresh
    printed = sh(["signalops", "init", "tour"], cwd=tmp_path, env=env)
    assert printed.splitlines()[-len(NEXT_STEPS) :] == [f"  {step}" for step in NEXT_STEPS]
    tour = tmp_path / "tour"
    outputs = {}
    for step in NEXT_STEPS:
        if step.startswith("signalops dashboard"):
            continue  # a server: started below
        outputs[step] = sh(shlex.split(step), cwd=tour, env=env)
    assert outputs[NEXT_STEPS[0]].splitlines()[-1] == "9 files: 9 valid"
    assert "examples/replay/technical.jsonl" in outputs["signalops data import"]
    assert outputs[NEXT_STEPS[2]].startswith("Banking_Crisis_Dip · BTC · 2023-03-13T00:00:00Z")
    assert "total return                   +1.87%" in outputs[NEXT_STEPS[3]]
    assert "2023-03-10T00:00:00Z  1 decision: 1 BUY (1 filled)" in outputs[NEXT_STEPS[4]]
    assert outputs[NEXT_STEPS[5]].startswith("BTC at 2023-03-10T00:00:00Z: BOUGHT")
    assert (tour / "reports" / "banking_crisis_dip" / "report.html").is_file()
    # The README's example config for strategies run together, carried by the wheel.
    assert (tour / "examples" / "signalops.together.yaml").is_file()


def test_dashboard_from_the_wheel_serves_its_app(fresh, tmp_path):
    _, env = fresh
    sh(["signalops", "init", "."], cwd=tmp_path, env=env)
    sh(["signalops", "data", "import"], cwd=tmp_path, env=env)
    sh(shlex.split(NEXT_STEPS[4]), cwd=tmp_path, env=env)  # the log it shows (a read command)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["signalops", "dashboard", "--replay", "examples/replay", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        health = _poll(f"http://127.0.0.1:{port}/_stcore/health", server, seconds=60)
        assert health == "ok"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _poll(url: str, server: subprocess.Popen[bytes], *, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            out, err = server.communicate()
            pytest.fail(f"dashboard exited {server.returncode}: {out.decode()}{err.decode()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # loopback only
                return answer.read().decode()
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"no answer from {url} in {seconds}s")
