"""A strategy's ``risk:`` value the config's limits override is warned about, at the value.

Regression: a strategy's ``risk:`` section only tightens the config's limits, and a looser value
is ignored (``config.limits_for``). ``max_position: 0.5`` in a strategy ran with the config's
10 %, and ``validate`` and ``run`` said nothing, though ``config.looser_than_global`` was written
for that warning.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import invoke as run

STRATEGY = """\
strategy:
  name: Dip
  assets: [BTC]
  rules:
    - {id: dip, source: technical, conditions: [{when: "rsi(14) < 30"}]}
  risk: {max_position: 0.5, cooldown: 1h, max_data_age: 3d}
  execution: {position_size: 0.1}
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dip.yaml").write_text(STRATEGY, encoding="utf-8")
    return tmp_path


def test_each_looser_value_is_warned_of_at_its_place_with_what_the_strategy_runs_with(
    in_tmp: Path,
):
    result = run("validate", "dip.yaml")

    assert result.exit_code == 0
    assert result.stderr == (
        "warning: dip.yaml:6:24: risk.max_position: max_position 0.5 is looser than the "
        "config's 0.1 and is ignored: a strategy's risk section only tightens the config's "
        "limits, so this strategy runs with 0.1 (to allow more, set risk.max_position in the "
        "config)\n"
        "    risk: {max_position: 0.5, cooldown: 1h, max_data_age: 3d}\n"
        "                         ^\n"
        "warning: dip.yaml:6:57: risk.max_data_age: max_data_age 3d is looser than the config's "
        "15m and is ignored: a strategy's risk section only tightens the config's limits, so "
        "this strategy runs with 15m (remove it: without it the limit follows the max_age of "
        "the leaves)\n"
        "    risk: {max_position: 0.5, cooldown: 1h, max_data_age: 3d}\n"
        "                                                          ^\n"
    )


def test_values_the_config_allows_are_not_warned_of(in_tmp: Path):
    (in_tmp / "signalops.yaml").write_text(
        "risk: {max_position: 0.5, max_data_age: 3d}\n", encoding="utf-8"
    )
    result = run("validate", "dip.yaml")
    assert (result.exit_code, result.stderr) == (0, "")


def test_run_warns_of_them_as_it_starts(in_tmp: Path, replay_dir: Path):
    result = run(
        "run", "dip.yaml", "--replay", str(replay_dir), "--from", "2023-03-10", "--to",
        "2023-03-10", "--audit", "run.db",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert (
        "dip.yaml:6:24: risk.max_position: max_position 0.5 is looser than the config's 0.1"
        in result.stderr
    )
