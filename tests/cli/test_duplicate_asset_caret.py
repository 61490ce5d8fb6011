"""A list that must not repeat an item (a strategy's assets, a veto's blocks, the config's
alerts.on) names the repeated item and points at its second place.

Regression test: ``assets: ["APPL", "MSFT", "MSFT"]`` was refused with ``assets: has duplicate
items`` and the caret under the ``[``, leaving the trader to find which item and where.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import invoke as run

RULES = """\
  rules:
    - id: up
      source: technical
      conditions:
        - when: "rsi(14) < 30"
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def validate(folder: Path, name: str, text: str):
    (folder / name).write_text(text, encoding="utf-8")
    return run("validate", name)


def test_an_asset_listed_twice_is_named_with_the_caret_under_its_second_place(in_tmp: Path):
    text = 'strategy:\n  name: D\n  assets: ["APPL", "MSFT", "MSFT"]\n' + RULES

    result = validate(in_tmp, "d.yaml", text)

    assert result.exit_code == 1
    assert result.stdout == "1 file: 0 valid, 1 invalid (1 error)\n"
    assert result.stderr == (
        "error: d.yaml:3:28: assets: MSFT is listed twice\n"
        '    assets: ["APPL", "MSFT", "MSFT"]\n'
        "                             ^\n"
    )


def test_in_a_block_list_each_repeated_item_is_told_once_with_its_first_line(in_tmp: Path):
    text = (
        "strategy:\n  name: D\n  assets:\n    - MSFT\n    - AAPL\n    - MSFT\n    - AAPL\n"
        "    - MSFT\n" + RULES
    )

    result = validate(in_tmp, "d.yaml", text)

    assert result.exit_code == 1
    assert result.stderr == (
        "error: d.yaml:6:7: assets: MSFT is listed twice (first on line 4)\n"
        "      - MSFT\n"
        "        ^\n"
        "error: d.yaml:7:7: assets: AAPL is listed twice (first on line 5)\n"
        "      - AAPL\n"
        "        ^\n"
    )


def test_a_veto_blocking_buy_twice_and_a_repeated_alert_event_are_named_too(in_tmp: Path):
    veto = (
        "  vetoes:\n    - id: v\n      source: technical\n      blocks: [BUY, BUY]\n"
        '      conditions:\n        - when: "rsi(14) > 90"\n'
    )
    (in_tmp / "signalops.yaml").write_text("alerts:\n  on: [fill, halt, fill]\n", "utf-8")

    result = validate(in_tmp, "v.yaml", "strategy:\n  name: V\n  assets: [BTC]\n" + RULES + veto)

    assert result.exit_code == 1
    assert result.stderr == (
        "error: signalops.yaml:2:20: alerts.on: fill is listed twice\n"
        "    on: [fill, halt, fill]\n"
        "                     ^\n"
        "error: v.yaml:12:21: vetoes[0].blocks: BUY is listed twice\n"
        "        blocks: [BUY, BUY]\n"
        "                      ^\n"
        "warning: venues and news feeds of the strategies not checked: the config "
        "signalops.yaml is invalid\n"
    )
