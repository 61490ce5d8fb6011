"""Optional parts come with pip extras; a missing one is a one-line error naming the extra.

Libraries cannot be uninstalled for a test, so the CLI runs in a subprocess whose import
system refuses the extras' top-level modules (a ``sys.meta_path`` finder raising
``ModuleNotFoundError``, as a missing package does). Everything else is the installed code.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import STRATEGIES

from signalops.errors import MissingExtra, SignalOpsError
from signalops.extras import EXTRAS, installed, require

EXTRA_MODULES = "ccxt,py_clob_client,yfinance,streamlit,pyarrow,pandas"
WITHOUT_EXTRAS = textwrap.dedent(
    """
    import importlib.abc, sys
    BLOCKED = set(sys.argv[1].split(","))
    class Missing(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, Missing())
    sys.argv = ["signalops", *sys.argv[2:]]
    from signalops.cli.main import main
    main()
    """
)


def core_only(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``signalops ARGS`` as the core install (no extra) runs it."""
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS, EXTRA_MODULES, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "COLUMNS": "200"},
    )


def test_missing_extra_message_names_the_feature_the_extra_and_the_pip_command():
    error = MissingExtra("ccxt", "live", "live venues")
    assert str(error) == "live venues need the 'live' extra: pip install \"signalops[live]\""
    assert isinstance(error, SignalOpsError)
    single = MissingExtra("streamlit", "dashboard", "the dashboard")
    assert str(single) == (
        "the dashboard needs the 'dashboard' extra: pip install \"signalops[dashboard]\""
    )


def test_require_passes_for_an_installed_module_and_raises_for_a_missing_one():
    require("yaml", "core", "YAML")
    assert installed("yaml")
    assert not installed("signalops_no_such_module")
    with pytest.raises(MissingExtra, match=r"signalops\[parquet\]"):
        require("signalops_no_such_module", "parquet", "Parquet files")


def test_every_extra_named_by_the_code_exists_in_pyproject():
    import tomllib

    root = Path(__file__).resolve().parents[1]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert set(EXTRAS) <= set(extras)
    core = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    heavy = ("ccxt", "py-clob-client", "yfinance", "streamlit", "pyarrow")
    assert not [d for d in core if d.startswith(heavy)]


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory, replay_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("core")
    (folder / "strategies").mkdir()
    for name in ("banking_crisis_dip.yaml", "election_odds_gate.yaml"):
        (folder / "strategies" / name).write_bytes((STRATEGIES / name).read_bytes())
    (folder / "replay").symlink_to(replay_dir)
    return folder


def test_core_install_validates_evaluates_and_backtests_on_replayed_data(tour: Path):
    validated = core_only(tour, "validate", "strategies/")
    assert validated.returncode == 0, validated.stderr
    assert validated.stdout.splitlines()[-1] == "2 files: 2 valid"
    evaluated = core_only(
        tour, "evaluate", "strategies/banking_crisis_dip.yaml", "--at", "2023-03-13",
        "--data", "replay",
    )  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr
    assert evaluated.stdout.startswith("Banking_Crisis_Dip · BTC · 2023-03-13T00:00:00Z: HOLD")
    backtest = core_only(
        tour, "backtest", "strategies/banking_crisis_dip.yaml", "--data", "replay",
        "--from", "2023-03-01", "--to", "2023-03-31", "--report", "report",
    )  # fmt: skip
    assert backtest.returncode == 0, backtest.stderr
    assert (tour / "report" / "report.html").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["run", "strategies/banking_crisis_dip.yaml", "--once", "--audit", "live.db"],
            'error: live Polymarket prices need the \'live\' extra: pip install "signalops[live]"',
            id="live_run",
        ),
        pytest.param(
            ["run", "strategies/banking_crisis_dip.yaml", "--once", "--audit", "auto.db",
             "--live", "--mode", "auto"],
            'error: auto mode needs the \'live\' extra: pip install "signalops[live]"',
            id="auto_mode",
        ),
        pytest.param(
            ["data", "download", "--source", "technical", "--asset", "BTC/USDT", "--venue",
             "binance", "--timeframe", "1d", "--since", "2024-01-01", "--to", "dl"],
            'error: live exchange data needs the \'live\' extra: pip install "signalops[live]"',
            id="download_candles",
        ),
        pytest.param(
            ["data", "import", "prices.parquet", "--source", "technical", "--asset", "BTC",
             "--to", "imported"],
            'error: Parquet files need the \'parquet\' extra: pip install "signalops[parquet]"',
            id="parquet_import",
        ),
    ],
)  # fmt: skip
def test_feature_without_its_extra_fails_with_one_line_naming_the_extra(
    tour: Path, args: list[str], message: str
):
    (tour / "prices.parquet").write_bytes(b"PAR1")
    result = core_only(tour, *args)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [message]
