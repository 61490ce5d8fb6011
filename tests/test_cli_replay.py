"""The data and replay commands, and third-party adapters found through entry points."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import DATA, ROOT, STRATEGIES

from signalops.adapters import registry
from signalops.cli import cli
from signalops.strategy import loads


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_data_import_of_one_source_reports_points_series_and_file(tmp_path: Path):
    result = run("data", "import", "--from", str(DATA), "--to", str(tmp_path), "--source", "news")
    assert result.exit_code == 0
    assert result.stdout == f"news                3 points in    1 series  {tmp_path}/news.jsonl\n"
    assert (tmp_path / "news.jsonl").exists()


def test_data_import_from_a_missing_folder_is_an_error_not_a_traceback(tmp_path: Path):
    result = run("data", "import", "--from", str(tmp_path / "nope"), "--to", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr == f"error: {tmp_path}/nope: no such data folder\n"


def test_evaluate_prints_the_verdict_and_the_traced_leaves_with_real_values(replay_dir: Path):
    result = run(
        "evaluate",
        str(STRATEGIES / "banking_crisis_dip.yaml"),
        "--at",
        "2023-03-13",
        "--data",
        str(replay_dir),
    )
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "Banking_Crisis_Dip · BTC · 2023-03-13T00:00:00Z: HOLD"
    assert (
        "        stablecoin_net_flow('USDC', 2d) = -4.098B at 2023-03-13T00:00:00Z (0s old, max 2d)"
    ) in lines
    # The veto passes, but a HOLD has no BUY for it to block: it said 'BLOCKS'.
    assert any(line.startswith("would block VETO usdc_outflow") for line in lines)
    assert not any(line.startswith("BLOCKS") for line in lines)
    # As the README shows it.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = "$ signalops evaluate strategies/banking_crisis_dip.yaml --at 2023-03-13\n"
    shown = readme.split(command)
    assert result.stdout == shown[1].split("```")[0]


def test_a_veto_that_stops_the_buy_blocks_and_one_beside_a_sell_would(replay_dir: Path):
    """The pipeline fixture's BUY on 2023-03-12 is BLOCKED by usdc_outflow; on 03-14 it sells
    while the same veto (of BUYs) still passes, which blocks nothing."""
    strategy = str(ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml")
    lines = {}
    for day in ("2023-03-12", "2023-03-14"):
        result = run("evaluate", strategy, "--at", day, "--data", str(replay_dir))
        assert result.exit_code == 0, result.output
        lines[day] = result.stdout.splitlines()
    assert lines["2023-03-12"][0].endswith(": BLOCKED (BUY blocked by usdc_outflow)")
    veto = "VETO usdc_outflow: blocks BUY when this passes or is unknown — USDC supply falling "
    veto += "fast: a run on stablecoins"
    assert f"BLOCKS  {veto}" in lines["2023-03-12"]
    assert lines["2023-03-14"][0].endswith(": SELL")
    assert f"would block {veto}" in lines["2023-03-14"]


def test_evaluate_json_is_the_full_trace(replay_dir: Path):
    import json

    result = run(
        "evaluate",
        str(STRATEGIES / "technical_baseline.yaml"),
        "--at",
        "2023-03-11T00:00:00Z",
        "--data",
        str(replay_dir),
        "--json",
    )
    record = json.loads(result.stdout)
    assert record["decision"] == "BUY"
    assert record["timestamp"] == "2023-03-11T00:00:00Z"
    assert record["triggers_met"][0]["value"] == pytest.approx(28.242, abs=1e-3)


def test_evaluate_without_snapshots_says_how_to_make_them(tmp_path: Path):
    result = run(
        "evaluate",
        str(STRATEGIES / "technical_baseline.yaml"),
        "--at",
        "2023-03-11",
        "--data",
        str(tmp_path / "none"),
    )
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {tmp_path}/none: no snapshot folder: make it with 'signalops data import --to "
        f"{tmp_path}/none' (the bundled data) or 'signalops data download --source ... --asset ... "
        f"--to {tmp_path}/none'\n"
    )


def test_evaluate_rejects_a_bad_date_naming_the_option():
    result = run("evaluate", str(STRATEGIES / "technical_baseline.yaml"), "--at", "yesterday")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: --at: 'yesterday' is not a date or ISO-8601 time (e.g. 2023-03-01)\n"
    )


PLUGIN = """
from signalops.adapters.base import BaseAdapter
from signalops.catalogue.spec import MetricSpec, SourceCatalogue

class WeatherAdapter(BaseAdapter):
    source = "weather"
    catalogue = SourceCatalogue.of(
        "weather",
        [MetricSpec("temperature", (), "celsius", "air temperature", False, 3600)],
        "a third-party test source",
    )

    @classmethod
    def replay(cls, store):
        return cls()
"""


@pytest.fixture
def weather_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real installed distribution declaring an entry point in the signalops.adapters group."""
    (tmp_path / "weather_plugin.py").write_text(textwrap.dedent(PLUGIN))
    info = tmp_path / "weather_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: weather-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[signalops.adapters]\nweather = weather_plugin:WeatherAdapter\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("weather_plugin", None)


def test_an_entry_point_plugin_is_listed_and_its_metrics_compile(weather_plugin):
    assert "weather" in registry.adapter_classes()
    listed = run("adapters", "weather")
    assert listed.exit_code == 0
    assert listed.stdout.splitlines()[0] == "weather  plugin  a third-party test source"

    strategy = loads(
        textwrap.dedent(
            """
            strategy:
              name: "Heat"
              assets: ["BTC"]
              rules:
                - id: hot
                  source: weather
                  conditions:
                    - metric: temperature
                      operator: ">"
                      threshold: 30
            """
        ),
        catalogue=registry.catalogue(),
    )
    assert strategy.tree.metrics[0].source == "weather"


def test_a_plugin_installed_after_a_scan_is_found_by_the_next_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    assert "weather" not in registry.adapter_classes()
    (tmp_path / "weather_plugin.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "weather" not in registry.adapter_classes()  # on the path, not installed yet
    info = tmp_path / "weather_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: weather-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[signalops.adapters]\nweather = weather_plugin:WeatherAdapter\n"
    )
    # As time passing would (a folder's time can tick more coarsely than these steps take).
    os.utime(tmp_path, ns=(0, os.stat(tmp_path).st_mtime_ns + 1_000_000_000))
    try:
        assert "weather" in registry.adapter_classes()
    finally:
        sys.modules.pop("weather_plugin", None)


def test_plugins_are_found_from_a_working_folder_that_was_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    monkeypatch.setattr(sys, "path", ["", *sys.path])
    assert "technical" in registry.adapter_classes()


def test_a_plugin_cannot_shadow_a_builtin_source(tmp_path: Path, monkeypatch, weather_plugin):
    info = tmp_path / "shadow-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shadow\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[signalops.adapters]\ntechnical = weather_plugin:WeatherAdapter\n"
    )
    assert registry.adapter_classes()["technical"].__module__ == "signalops.adapters.technical"
    assert DATA.exists()
