"""Each ``signalops`` command imports what it uses, not what some other command uses.

Start-up time is mostly imports (numpy, pandas through sqlite-utils, jsonschema, the strategy
compiler, httpx, rich), so these tests run the real entry point in a fresh interpreter and look
at ``sys.modules`` when it ends: no timing, only which modules were loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.audit_records import synthetic_records
from signalops.audit.store import AuditLog

ROOT = Path(__file__).resolve().parents[1]
STRATEGY = str(ROOT / "strategies" / "banking_crisis_dip.yaml")

# Runs ``signalops ARGS`` as the console script does, then writes the loaded module names.
_PROBE = """
import json, sys
out = sys.argv[1]
sys.argv = ["signalops", *sys.argv[2:]]
try:
    from signalops.cli import main
    main()
except SystemExit:
    pass
finally:
    with open(out, "w") as file:
        json.dump(sorted(sys.modules), file)
"""
# What no command that only reads the audit log, or only asks for help, needs.
HEAVY = ("numpy", "pandas", "pyarrow", "sqlite_utils", "jsonschema", "lark", "ccxt", "talib")


def loaded(tmp_path: Path, *args: str) -> set[str]:
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), *args],
        cwd=tmp_path,  # no signalops.yaml here: the built-in config
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    return set(json.loads(out.read_text(encoding="utf-8")))


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    with AuditLog(path) as written:
        written.append_many(synthetic_records(9))
    return path


def test_version_imports_no_command_and_nothing_heavy(tmp_path: Path) -> None:
    modules = loaded(tmp_path, "--version")
    assert top_level(modules).isdisjoint({*HEAVY, "rich", "httpx", "yaml", "feedparser"})
    commands = {m for m in modules if m.startswith("signalops.cli.")}
    assert commands == {"signalops.cli.main"}


def test_help_imports_every_command_module_but_nothing_they_only_use_when_run(
    tmp_path: Path,
) -> None:
    modules = loaded(tmp_path, "--help")
    assert top_level(modules).isdisjoint({*HEAVY, "httpx", "feedparser"})
    assert {"signalops.cli.audit", "signalops.cli.run", "signalops.cli.data"} <= modules


@pytest.mark.parametrize(
    "args",
    [
        ("decisions",),
        ("decisions", "--verdict", "HOLD", "--asset", "BTC"),
        ("why", "BTC", "--at", "2020-01-01"),
    ],
)
def test_reading_the_audit_log_imports_neither_the_data_stack_nor_the_compiler(
    tmp_path: Path, log: Path, args: tuple[str, ...]
) -> None:
    modules = loaded(tmp_path, *args, "--audit", str(log))
    assert "signalops.audit.store" in modules  # it did read the log
    assert top_level(modules).isdisjoint(HEAVY)
    assert "signalops.config" not in modules and "signalops.execution.paper" not in modules
    # The catalogue the stored trees are read against sits below the adapters.
    assert "signalops.catalogue.installed" in modules or args[0] == "decisions"
    assert not {m for m in modules if m.startswith("signalops.adapters")}


def test_decisions_imports_no_http_client(tmp_path: Path, log: Path) -> None:
    modules = loaded(tmp_path, "decisions", "--audit", str(log))
    assert "httpx" not in top_level(modules)


def test_validate_imports_neither_pandas_nor_the_news_adapter_for_a_strategy_without_news(
    tmp_path: Path,
) -> None:
    modules = loaded(tmp_path, "validate", STRATEGY)
    assert "signalops.strategy.check" in modules  # it did check the file
    assert top_level(modules).isdisjoint({"pandas", "pyarrow", "sqlite_utils", "feedparser"})
    assert "signalops.adapters.news" not in modules
    # Its on-chain names are checked for misspellings without the adapter and its HTTP client
    # (they took validate from 255 to 388 ms).
    assert "signalops.adapters.defillama_names" in modules
    assert "signalops.adapters.onchain" not in modules and "httpx" not in top_level(modules)


def test_constants_spelled_out_for_start_up_equal_their_sources() -> None:
    from signalops.adapters import bundled
    from signalops.audit import signing, store
    from signalops.cli import audit, params
    from signalops.config import CONFIG_ENV, DEFAULT_CONFIG_FILE
    from signalops.evaluation.tree import Verdict
    from signalops.workspace import CONFIG_ENV as WORKSPACE_CONFIG_ENV
    from signalops.workspace import DEFAULT_CONFIG_FILE as WORKSPACE_CONFIG_FILE

    assert params.DEFAULT_DATA_DIR == bundled.DEFAULT_DATA_DIR
    assert params.DEFAULT_SNAPSHOT_DIR == bundled.DEFAULT_SNAPSHOT_DIR
    assert params.CONFIG_ENV == CONFIG_ENV == WORKSPACE_CONFIG_ENV
    assert DEFAULT_CONFIG_FILE == WORKSPACE_CONFIG_FILE
    assert store.KEY_ENV == signing.KEY_ENV
    assert audit.VERDICTS == store.VERDICTS == tuple(v.value for v in Verdict)


def test_every_command_is_listed_and_each_loads(tmp_path: Path) -> None:
    from signalops.cli import cli

    assert "why" in cli.commands and "nope" not in cli.commands
    for name in list(cli.commands):
        assert cli.commands[name].name == name
