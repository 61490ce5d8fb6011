"""PyYAML's words for a mis-indented line come with a plain hint on where to look.

Regression test: ``invalid YAML: expected <block end>, but found '<block sequence start>'``
(position right) was all ``validate`` said of an item indented deeper than its key's siblings.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import STRATEGIES
from conftest import invoke as run

INDENT = "check the indentation of this line against the one above"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            '  assets: ["BTC"]\n',
            '  assets: ["BTC"]\n    - ETH\n',
            "s.yaml:7:5: invalid YAML: expected <block end>, but found '<block sequence start>' "
            f"({INDENT})",
        ),
        (
            "    - id: rsi_oversold\n",
            "   - id: rsi_oversold\n",
            f"s.yaml:11:13: invalid YAML: mapping values are not allowed here ({INDENT}; a "
            "value that holds ': ' goes in quotes)",
        ),
        (
            '  name: "Technical_Baseline"\n',
            '  name: "Technical_Baseline"\n  oops\n',
            "s.yaml:6:3: invalid YAML: could not find expected ':' (a line above has a key "
            "without its ':', or is indented differently from its neighbours)",
        ),
    ],
    ids=["block-end", "mapping-values", "no-colon"],
)
def test_validate_adds_a_plain_hint_to_pyyamls_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, expected: str
):
    monkeypatch.chdir(tmp_path)
    text = (STRATEGIES / "technical_baseline.yaml").read_text(encoding="utf-8")
    assert text.count(old) == 1
    Path("s.yaml").write_text(text.replace(old, new), encoding="utf-8")

    result = run("validate", "s.yaml")

    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"error: {expected}"
