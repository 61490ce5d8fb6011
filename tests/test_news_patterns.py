"""Issue 11: a news pattern that could hang is refused by ``validate`` at its position."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from signalops.cli import cli

STRATEGY = """\
strategy:
  name: "Regex_Check"
  assets: ["BTC"]
  rules:
    - id: hacks
      source: news
      conditions:
        - when: "news_count('/(?=hack)h/', 24h) >= 1"
  execution:
    position_size: 0.01
    action_mode: paper
"""


def test_validate_refuses_a_lookahead_pattern_at_its_position(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("s.yaml").write_text(STRATEGY, encoding="utf-8")
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()

    result = runner.invoke(cli, ["validate", "s.yaml"], prog_name="signalops")

    assert result.exit_code == 1
    assert result.stderr == (
        "error: s.yaml:8:29: rules[0].conditions[0].when: parameter 'query': invalid regular "
        "expression /(?=hack)h/: invalid perl operator: (?= (patterns run on RE2, which matches "
        "in linear time: no backreferences or lookaround)\n"
        """          - when: "news_count('/(?=hack)h/', 24h) >= 1"\n"""
        "                              ^\n"
    )
