"""``validate`` warns of a Polymarket market no data is recorded of, at the place naming it.

Regression tests: a strategy naming an unknown market id ('511745' for the bundled 511754)
validated silently, and its backtest then failed closed at every bar (the veto's data UNKNOWN).
Now validate looks in the replay folder (``--data``) and the bundled data, never the network,
and says which recorded market the name most likely means. A warning, not an error: a live run
asks Polymarket, which knows markets nothing recorded yet.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from conftest import invoke as run

IMPORTS = Path(__file__).parents[1] / "fixtures" / "imports"
CLOB_HISTORY = IMPORTS / "clob_prices-history_MSTR_YES_first30.json"
SAY = (
    "its conditions are UNKNOWN at every bar of a replay or backtest, though a live run may find it"
)


def strategy(*conditions: str, params: str = "") -> str:
    return (
        "strategy:\n  name: Odds\n  assets: [BTC]\n"
        + (f"  params: {params}\n" if params else "")
        + "  rules:\n    - id: odds\n      conditions:\n"
        + "".join(f"        {condition}\n" for condition in conditions)
    )


def test_a_mistyped_market_id_is_told_the_bundled_market_it_most_likely_means(in_tmp: Path):
    Path("s.yaml").write_text(
        strategy(
            """- when: 'polymarket("511745").yes < 80%'""",
            """- when: 'polymarket(market="511754").no > 10%'""",
        ),
        encoding="utf-8",
    )

    result = run("validate", "s.yaml")

    assert result.exit_code == 0
    assert (
        result.stdout
        == "ok s.yaml  Odds: 1 entry rule, 0 exit rules, 0 vetoes, 2 conditions\n1 file: 1 valid\n"
    )
    assert result.stderr == (
        "warning: s.yaml:7:29: rules[0].conditions[0].when: no data of Polymarket market "
        f"'511745' is recorded in examples/replay: {SAY} (did you mean '511754'?)\n"
        """          - when: 'polymarket("511745").yes < 80%'\n"""
        "                              ^\n"
    )


def test_a_market_condition_is_told_at_its_market_or_at_the_param_it_names_once(in_tmp: Path):
    Path("s.yaml").write_text(
        strategy(
            "- {market: $m, operator: '>', threshold: 0.5}",
            "- {market: $m, metric: no, operator: '<', threshold: 0.5}",
            "- {market: '51175', operator: '>', threshold: 0.5}",
            params="{m: us-recession-in-2025}",
        ),
        encoding="utf-8",
    )

    result = run("validate", "s.yaml")

    assert result.exit_code == 0
    download = (
        "download it with 'signalops data download --source polymarket --asset "
        "us-recession-in-2025' or import a file with 'signalops data import FILE --source "
        "polymarket --asset us-recession-in-2025'"
    )
    assert result.stderr == (
        "warning: s.yaml:4:15: params.m: no data of Polymarket market 'us-recession-in-2025' is "
        f"recorded in examples/replay: {SAY} ({download})\n"
        "    params: {m: us-recession-in-2025}\n"
        "                ^\n"
        "warning: s.yaml:10:20: rules[0].conditions[2].market: no data of Polymarket market "
        f"'51175' is recorded in examples/replay: {SAY} (did you mean '511754'?)\n"
        "          - {market: '51175', operator: '>', threshold: 0.5}\n"
        "                     ^\n"
    )


def test_a_market_imported_into_the_data_folder_is_known_and_near_names_are_told_it(
    in_tmp: Path,
):
    imported = run("data", "import", str(CLOB_HISTORY), "--source", "polymarket",
                   "--asset", "my-mstr-market", "--to", "mine")  # fmt: skip
    assert imported.exit_code == 0, imported.stderr
    Path("s.yaml").write_text(
        strategy(
            "- when: \"polymarket('my-mstr-market').yes < 50%\"",
            "- when: \"polymarket('my-mstr-markte').yes < 50%\"",
        ),
        encoding="utf-8",
    )

    result = run("validate", "s.yaml", "--data", "mine")

    assert result.exit_code == 0
    assert result.stderr == (
        "warning: s.yaml:8:29: rules[0].conditions[1].when: no data of Polymarket market "
        f"'my-mstr-markte' is recorded in mine: {SAY} (did you mean 'my-mstr-market'?)\n"
        """          - when: "polymarket('my-mstr-markte').yes < 50%"\n"""
        "                              ^\n"
    )


def test_recorded_markets_are_read_from_files_without_the_network(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
):
    def refused(*args: object) -> None:
        raise AssertionError("validate connected to the network")

    monkeypatch.setattr(socket.socket, "connect", refused)
    Path("s.yaml").write_text(
        strategy("""- when: 'polymarket("511754").yes < 80%'"""), encoding="utf-8"
    )

    result = run("validate", "s.yaml")

    assert (result.exit_code, result.stderr) == (0, "")


def test_a_recording_is_read_by_its_series_names_not_its_points(in_tmp: Path):
    """It parsed, kept and cached every point of the folder's polymarket.jsonl: 80 s and 7 GB
    for a 666 MB order-book recording, and a 492 MB cache file left in the data folder. Series
    names are read alone now (a point's value is never parsed), and nothing is written."""
    data = in_tmp / "recorded"
    data.mkdir()
    lines = [
        '{"series": "books/777001/yes", "t": 1730000000, "v": {"not json at all\n',
        '{"series": "books/777001/yes", "t": 1730000060, "v": [[0.41, 100]]}\n',
    ]
    (data / "polymarket.jsonl").write_text("".join(lines), encoding="utf-8")
    Path("s.yaml").write_text(
        strategy("""- when: 'polymarket("777001").yes > 50%'"""), encoding="utf-8"
    )

    result = run("validate", "s.yaml", "--data", str(data))

    assert (result.exit_code, result.stderr) == (0, "")
    assert sorted(p.name for p in data.iterdir()) == ["polymarket.jsonl"]
