"""The README's "Validate it" step shows what ``signalops validate strategies/`` prints: its first
line, its summary and its warnings, so that adding a strategy file cannot leave the README
behind."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT, invoke


def _readme_block(heading: str) -> list[str]:
    """The lines of the first console block after ``heading`` in the README."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    after = text[text.index(heading) :]
    block = re.search(r"```console\n(.*?)```", after, re.S)
    assert block is not None, f"no console block after {heading!r}"
    return block.group(1).splitlines()


def test_the_readme_validate_step_shows_the_first_line_and_summary_of_the_real_output(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.chdir(ROOT)
    result = invoke("validate", "strategies/")
    assert result.exit_code == 0, result.stderr
    printed, warned = result.stdout.splitlines(), result.stderr.splitlines()
    shown = _readme_block("### 2. Validate it")
    assert shown[0] == "$ signalops validate strategies/"
    assert shown[1:] == [printed[0], "...", printed[-1], *warned]
