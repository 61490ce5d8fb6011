"""``signalops validate`` with an invalid config still checks and reports the strategies: they
do not depend on the config (only the venue and feed warnings do), so the config's errors are
reported as those of one more invalid file, with the usual summary, and exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from conftest import STRATEGIES, invoke

TYPO = "venuess: {}\n"
OK_LINE = "ok s.yaml  Technical_Baseline: 1 entry rule, 1 exit rule, 0 vetoes, 2 conditions"
SKIPPED = "warning: venues and news feeds of the strategies not checked: the config {} is invalid"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SIGNALOPS_CONFIG", raising=False)
    (tmp_path / "s.yaml").write_bytes((STRATEGIES / "technical_baseline.yaml").read_bytes())
    return tmp_path


def _config_error(file: str) -> list[str]:
    return [
        f"error: {file}:1:1: unknown key 'venuess' (did you mean 'venues'?)",
        "  venuess: {}",
        "  ^",
    ]


def _reported(result: Result, config: str) -> None:
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [OK_LINE, "2 files: 1 valid, 1 invalid (1 error)"]
    assert result.stderr.splitlines() == [*_config_error(config), SKIPPED.format(config)]


def test_a_config_with_a_typo_named_with_the_strategies_leaves_them_checked(in_tmp: Path):
    (in_tmp / "signalops.yaml").write_text(TYPO)

    _reported(invoke("validate", "signalops.yaml", "s.yaml"), "signalops.yaml")


def test_a_config_read_without_being_named_is_reported_as_an_invalid_file(in_tmp: Path):
    (in_tmp / "signalops.yaml").write_text(TYPO)

    _reported(invoke("validate", "s.yaml"), "signalops.yaml")


def test_a_config_given_with_config_and_named_too_is_counted_once(in_tmp: Path):
    (in_tmp / "live.yaml").write_text(TYPO)

    _reported(invoke("validate", "--config", "live.yaml", "live.yaml", "s.yaml"), "live.yaml")


def test_a_config_named_among_the_files_is_the_one_the_strategies_need(in_tmp: Path):
    # ./signalops.yaml is valid, but the config named is the one validate checks against.
    (in_tmp / "signalops.yaml").write_text("kill_switch: KILL\n")
    (in_tmp / "signalops.live.yaml").write_text(TYPO)

    _reported(invoke("validate", "signalops.live.yaml", "s.yaml"), "signalops.live.yaml")
