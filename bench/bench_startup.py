"""How long the ``signalops`` command takes to start, per command, against Python's own start.

Issue 13: ``signalops --version`` took ~0.6 s and ``why``/``decisions`` 1.5-2 s for ~3 ms of
work, because every command imported numpy, pandas, jsonschema, lark... whatever any command
needed. This times the real console script (``.venv/bin/signalops``) as a user runs it, wall
clock of the whole process, the minimum of N runs (the machine is shared; the minimum is the
cost, the rest is noise), next to two baselines timed in the same run: ``python -c pass`` (the
interpreter alone) and ``python -c "import click"`` (the CLI framework every command needs).

The second ``validate`` row is of ``strategies/election_odds_gate.yaml``, whose veto names a
Polymarket market, looked up in the replay folder the log was made from. The ``why`` and
``decisions`` rows read a small audit log made once by a 5-day replay run of
``strategies/banking_crisis_dip.yaml`` on the bundled data (``signalops data import`` into a
temporary folder, then ``signalops run --replay``).

Run:  .venv/bin/python bench/bench_startup.py [--repeat 10] [--keep DIR] [--compare LABEL=SRC]
      (--keep DIR: build the replay data and the log in DIR once; later runs reuse them;
      --compare LABEL=SRC, repeatable: also time every command with SRC (a copy of the
      project with another ``signalops`` package, e.g. the last commit's) first on PYTHONPATH,
      in the same rounds, as rows "COMMAND (LABEL)": before/after in one run)

Goals: --version <= 150 ms, validate <= 300 ms.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SIGNALOPS = str(BIN / "signalops")
STRATEGY = "strategies/banking_crisis_dip.yaml"
ODDS = "strategies/election_odds_gate.yaml"
GOALS_MS = {"--version": 150, "validate": 300}


def _run(argv: list[str], source: Path | None = None) -> float:
    env = _env()
    if source is not None:
        env["PYTHONPATH"] = str(source)
    began = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, env=env)
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr.decode()}")
    return took


def _env() -> dict[str, str]:
    # No config or audit log from the caller's environment changes what a command reads.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALOPS_")}
    env["PYTHONDONTWRITEBYTECODE"] = "0"
    return env


def _log(folder: Path) -> Path:
    """A small audit log from a real replay run (made once in ``folder``)."""
    log = folder / "startup.db"
    if log.exists():
        return log
    data = folder / "replay"
    if not data.is_dir():
        _run([SIGNALOPS, "data", "import", "--to", str(data)])
    _run(
        [SIGNALOPS, "run", STRATEGY, "--replay", str(data), "--from", "2023-03-08",
         "--to", "2023-03-12", "--every", "1d", "--audit", str(log)]
    )  # fmt: skip
    return log


Row = tuple[str, list[str], Path | None]


def commands(log: Path, compare: dict[str, Path]) -> list[Row]:
    py = sys.executable
    rows: list[tuple[str, list[str]]] = [
        ("python -c pass", [py, "-c", "pass"]),
        ('python -c "import click"', [py, "-c", "import click"]),
        ("signalops --version", [SIGNALOPS, "--version"]),
        ("signalops --help", [SIGNALOPS, "--help"]),
        ("signalops validate FILE", [SIGNALOPS, "validate", STRATEGY]),
        # A strategy naming a Polymarket market: validate looks the market up in the replay
        # folder (series names only) before the bundled data.
        ("signalops validate FILE, Polymarket veto", [SIGNALOPS, "validate", ODDS,
                                                        "--data", str(log.parent / "replay")]),
        ("signalops why BTC --at ...", [SIGNALOPS, "why", "BTC", "--at", "2023-03-10",
                                        "--audit", str(log)]),
        ("signalops decisions", [SIGNALOPS, "decisions", "--audit", str(log)]),
        ("signalops decisions --verdict BUY", [SIGNALOPS, "decisions", "--verdict", "BUY",
                                               "--audit", str(log)]),
    ]  # fmt: skip
    timed: list[Row] = [(name, argv, None) for name, argv in rows]
    for label, source in compare.items():
        timed += [(f"{name} ({label})", argv, source) for name, argv in rows[2:]]
    return timed


def measure(rows: list[Row], repeat: int) -> dict[str, float]:
    """Min wall seconds per row; rounds interleave the commands so load hits them alike."""
    best = {name: float("inf") for name, _, _ in rows}
    for _, argv, source in rows:
        _run(argv, source)  # warm the page cache and the .pyc files
    for _ in range(repeat):
        for name, argv, source in rows:
            best[name] = min(best[name], _run(argv, source))
    return best


def table(best: dict[str, float]) -> str:
    bare, click_ = best["python -c pass"], best['python -c "import click"']
    head = f"{'command':<44} {'min ms':>8} {'x python':>9} {'x click':>8} {'- click ms':>11}"
    out = [f"{head} {'goal':>7}", "-" * 92]
    for name, seconds in best.items():
        goal = next((f"{v} ms" for k, v in GOALS_MS.items() if k in name), "")
        goal = "" if name.endswith(")") else goal
        out.append(
            f"{name:<44} {seconds * 1e3:8.1f} {seconds / bare:9.2f} {seconds / click_:8.2f} "
            f"{(seconds - click_) * 1e3:11.1f} {goal:>7}"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--keep", type=Path, help="Build and reuse the log in this folder.")
    parser.add_argument(
        "--compare", action="append", default=[], help="LABEL=SRC: a copy to time alongside."
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="signalops-startup-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        log = _log(folder.resolve())
        compare = {k: Path(v) for k, _, v in (item.partition("=") for item in args.compare)}
        best = measure(commands(log, compare), args.repeat)
    print(f"signalops startup, wall clock of the console script, min of {args.repeat} runs")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print()
    print(table(best))


if __name__ == "__main__":
    main()
