"""A real PostgreSQL server for tests: Debian's binaries, a throw-away cluster, a free port.

``make test`` installs Debian's ``postgresql`` package the way it installs chromium; this module
finds its binaries (``pg_config --bindir``, else ``/usr/lib/postgresql/*/bin``), runs ``initdb``
into a temporary directory and starts the server with ``pg_ctl`` on a free loopback port, with
its socket in the same directory so it never meets a system cluster. ``initdb`` refuses to run
as root, so under root (CI containers) the cluster belongs to the ``postgres`` system user the
package creates and the commands run through ``runuser``.

Nothing here is a mock: tests get a ``postgresql://`` URL of a server that fsyncs, locks and
enforces privileges like any other. Where the binaries are missing and cannot be installed,
``start`` raises ``Unavailable`` with the reason, and the fixture skips with it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

SUPERUSER = "signalops"
_PORT_ATTEMPTS = 5  # starts tried, each on a new free port, while the last one was taken


class Unavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why."""


@dataclass(frozen=True)
class Server:
    """A running throw-away server: its data directory, port and superuser URL."""

    bindir: Path
    datadir: Path
    port: int
    run_as: str | None  # the system user the cluster belongs to, when the tests run as root

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, name: str, user: str = SUPERUSER) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the server and remove its directory (data, socket and log)."""
        try:
            _run(self, "pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.datadir.parent, ignore_errors=True)


def bindir() -> Path:
    """Where ``initdb``, ``pg_ctl`` and ``postgres`` are, or ``Unavailable``."""
    pg_config = shutil.which("pg_config")
    candidates = []
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(done.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        path = Path(candidate)
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    raise Unavailable("PostgreSQL binaries not found (make test installs Debian's postgresql)")


def start(root: Path | None = None) -> Server:
    """initdb + pg_ctl start of a fresh cluster under ``root`` (a new temp dir by default)."""
    bin_path = bindir()
    run_as = _cluster_owner()
    base = Path(tempfile.mkdtemp(prefix="signalops-pg-", dir=root))
    try:
        return _start_in(base, bin_path, run_as)
    except BaseException:
        # A cluster that never served leaves nothing: not its files, and not a server that
        # ``pg_ctl -w`` gave up waiting for (its data must not go from under it).
        if (base / "data" / "postmaster.pid").exists():
            halted = Server(bin_path, base / "data", 0, run_as)
            with contextlib.suppress(Unavailable):
                _run(halted, "pg_ctl", "-D", str(halted.datadir), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)
        raise


def _start_in(base: Path, bin_path: Path, run_as: str | None) -> Server:
    datadir = base / "data"
    if run_as is not None:
        shutil.chown(base, user=run_as)
        os.chmod(base, 0o700)
    server = Server(bin_path, datadir, _free_port(), run_as)
    _run(server, "initdb", "-D", str(datadir), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8")
    # The port was free when probed, but another process can bind it before the server does:
    # a lost race, not a missing server, so it is retried on another port instead of skipping.
    for _ in range(_PORT_ATTEMPTS - 1):
        try:
            return _serve(server)
        except Unavailable:
            if not _port_taken(server):
                raise
        server = replace(server, port=_free_port())
    return _serve(server)


def _serve(server: Server) -> Server:
    """pg_ctl start of the initialised cluster on ``server.port``; ``server`` once it runs."""
    log = _log(server)
    log.unlink(missing_ok=True)  # so that the log tells why this start failed, not an earlier one
    # lc_messages=C: the log is read for "could not bind" whatever language the environment has.
    options = f"-p {server.port} -k {log.parent} -c listen_addresses=127.0.0.1 -c fsync=on"
    options += " -c lc_messages=C"
    _run(server, "pg_ctl", "-D", str(server.datadir), "-o", options, "-l", str(log), "-w", "start")
    return server


def _log(server: Server) -> Path:
    return server.datadir.parent / "server.log"


def _port_taken(server: Server) -> bool:
    try:
        return "could not bind IPv4 address" in _log(server).read_text(errors="replace")
    except OSError:
        return False


def _cluster_owner() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise Unavailable(
            "running as root and there is no 'postgres' user for the cluster"
        ) from exc
    if shutil.which("runuser") is None:
        raise Unavailable("running as root and 'runuser' is missing to start the cluster")
    return "postgres"


def _run(server: Server, program: str, *args: str) -> None:
    command = [str(server.bindir / program), *args]
    if server.run_as is not None:
        command = ["runuser", "-u", server.run_as, "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, cwd="/")
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise Unavailable(f"{program} failed: {detail[-1] if detail else done.returncode}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
