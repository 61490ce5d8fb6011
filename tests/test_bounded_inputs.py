"""Issue 11: strategy files are bounded: a huge file is refused at once, a wide one compiles."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from signalops.cli import cli
from signalops.strategy._yaml import MAX_SOURCE_BYTES


def validate(path: str) -> Result:
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()
    return runner.invoke(cli, ["validate", path], prog_name="signalops")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_strategy_file_over_the_size_limit_is_refused_before_it_is_parsed(in_tmp: Path):
    text = "strategy:\n  params:\n" + "".join(f"    p{i}: {i}\n" for i in range(100_000))
    Path("big.yaml").write_text(text, encoding="utf-8")

    result = validate("big.yaml")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: big.yaml: {len(text):,} bytes is over the {MAX_SOURCE_BYTES:,}-byte limit for "
        "a strategy file\n"
    )


def test_an_at_least_of_three_thousand_conditions_compiles_without_recursion_error(
    in_tmp: Path,
):
    lines = [
        "strategy:",
        '  name: "Wide"',
        '  assets: ["BTC"]',
        "  rules:",
        "    - id: wide",
        "      source: technical",
        "      conditions:",
        "        - at_least:",
        "            n: 2",
        "            of:",
        *(f'              - when: "rsi({i % 50 + 2}) < {i % 90 + 5}"' for i in range(3000)),
        "  execution:",
        "    position_size: 0.01",
        "    action_mode: paper",
    ]
    Path("wide.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = validate("wide.yaml")

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        "ok wide.yaml  Wide: 1 entry rule, 0 exit rules, 0 vetoes, 3,000 conditions\n"
        "1 file: 1 valid\n"
    )
