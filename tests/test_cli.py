"""Tests for the ``signalops`` command line (signalops.cli).

The CLI is called through ``click.testing.CliRunner`` and, to prove the entry point works, once
through the installed console script. Every test asserts exact output and exit status: the
output of ``validate`` and ``explain`` is what traders read and grep, so a change to it should
be a deliberate change to these expectations.

Broken strategies are written into ``tmp_path`` with ``textwrap.dedent`` so that the expected
line:column positions can be read off the test; commands run from inside that folder (or the
repository root) so file names in the output are short, relative and stable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import signalops
from signalops.cli import cli
from signalops.explain import tree_to_dict
from signalops.strategy import load

ROOT = Path(__file__).resolve().parents[1]

# Environment variables that make rich or click colour or size output as for a terminal.
_TERMINAL_ENV = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES")

VALID = """\
    strategy:
      name: Tiny
      assets: [BTC]
      rules:
        - id: oversold
          source: technical
          conditions:
            - when: "rsi(14) < 30"
      execution:
        position_size: 0.02
        action_mode: paper
    """

# Unknown key at line 7, column 7: the caret goes under the 'c' of 'conditons'.
TYPO = """\
    strategy:
      name: Typo
      assets: [BTC]
      rules:
        - id: oversold
          source: technical
          conditons:
            - when: "rsi(14) < 30"
      execution:
        position_size: 0.02
        action_mode: paper
    """


# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output as a pipe gets it, whatever the developer's or CI's terminal settings are."""
    for name in _TERMINAL_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)
    return ROOT


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # click < 8.2: keep stderr apart from stdout
    except TypeError:
        return CliRunner()  # click >= 8.2: result.stdout and result.stderr are always apart


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return _runner().invoke(cli, list(args), prog_name="signalops", env=env)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def lines(text: str) -> str:
    """Expected output written as an indented block in the test."""
    return textwrap.dedent(text).lstrip("\n")


# --- validate ------------------------------------------------------------------------------------


def test_validate_valid_file_prints_ok_line_and_summary_and_exits_0(in_repo):
    result = run("validate", "tests/fixtures/original_readme.yaml")

    assert result.exit_code == 0
    assert result.stdout == lines(
        """
        ok tests/fixtures/original_readme.yaml  Multi_Source_Momentum: 2 entry rules, 0 exit rules, 0 vetoes, 2 conditions
        1 file: 1 valid
        """  # noqa: E501
    )
    # No data of its market is recorded; its value rule reads fundamentals of crypto assets;
    # it is in notify mode, and no config has webhooks.
    assert result.stderr == (
        "warning: tests/fixtures/original_readme.yaml:15:19: rules[1].conditions[0].market: no "
        "data of Polymarket market 'crypto_regulation_crackdown_2025' is recorded in "
        "examples/replay: its conditions are UNKNOWN at every bar of a replay or backtest, "
        "though a live run may find it (download it with 'signalops data download --source "
        "polymarket --asset crypto_regulation_crackdown_2025' or import a file with 'signalops "
        "data import FILE --source polymarket --asset crypto_regulation_crackdown_2025')\n"
        '          - market: "crypto_regulation_crackdown_2025"   # a market is named by slug\n'
        "                    ^\n"
        "warning: tests/fixtures/original_readme.yaml:9:19: rules[0].conditions[0].metric: the "
        "condition on price_to_sales can never pass: BTC, ETH and SOL are crypto assets, and "
        "fundamentals exist for stocks only (NOT_APPLICABLE at every decision)\n"
        '          - metric: "price_to_sales"\n'
        "                    ^\n"
        "warning: tests/fixtures/original_readme.yaml: notify mode with no webhooks in the "
        "config: approvals wait in 'signalops approvals', nobody is told\n"
    )


def test_validate_strategies_folder_lists_every_file_sorted_and_exits_0(in_repo):
    result = run("validate", "strategies/")

    assert result.exit_code == 0
    assert result.stdout == lines(
        """
        ok strategies/banking_crisis_dip.yaml  Banking_Crisis_Dip: 1 entry rule, 2 exit rules, 1 veto, 4 conditions
        ok strategies/election_odds_gate.yaml  Election_Odds_Gate: 2 entry rules, 1 exit rule, 1 veto, 5 conditions
        ok strategies/event_filter.yaml  Event_Filter: 1 entry rule, 0 exit rules, 2 vetoes, 6 conditions
        ok strategies/graham_value_event_filter.yaml  Graham_Value_Event_Filter: 2 entry rules, 1 exit rule, 1 veto, 5 conditions
        ok strategies/news_risk_off.yaml  News_Risk_Off: 1 entry rule, 0 exit rules, 1 veto, 3 conditions
        ok strategies/technical_baseline.yaml  Technical_Baseline: 1 entry rule, 1 exit rule, 0 vetoes, 2 conditions
        ok strategies/value_screen.yaml  Value_Screen: 2 entry rules, 1 exit rule, 0 vetoes, 6 conditions
        ok strategies/weighted_sources.yaml  Weighted_Sources: 3 entry rules, 1 exit rule, 0 vetoes, 5 conditions
        8 files: 8 valid
        """  # noqa: E501
    )
    assert result.stderr == lines(
        """
        warning: strategies/graham_value_event_filter.yaml: AAPL, MSFT, GOOGL, NVDA, JPM and 1 more look like stocks (the strategy reads fundamentals, which only stocks have) but go to binance, a crypto exchange, as AAPL/USDT, MSFT/USDT, GOOGL/USDT and 3 more: add venues: {stocks: {exchange: yfinance, quote: USD}} and assets: {AAPL: {venue: stocks}, MSFT: {venue: stocks}, ...} (all 6) to the config
        warning: strategies/value_screen.yaml: AAPL, AMZN, GOOG and CRM look like stocks (the strategy reads fundamentals, which only stocks have) but go to binance, a crypto exchange, as AAPL/USDT, AMZN/USDT, GOOG/USDT and 1 more: add venues: {stocks: {exchange: yfinance, quote: USD}} and assets: {AAPL: {venue: stocks}, AMZN: {venue: stocks}, ...} (all 4) to the config
        warning: strategies/election_odds_gate.yaml: notify mode with no webhooks in the config: approvals wait in 'signalops approvals', nobody is told
        warning: strategies/event_filter.yaml: notify mode with no webhooks in the config: approvals wait in 'signalops approvals', nobody is told
        """  # noqa: E501
    )


def test_validate_folder_recurses_sorts_and_ignores_non_yaml_files(in_tmp):
    write(in_tmp, "lib/z.yaml", VALID)
    write(in_tmp, "lib/a.yml", VALID)
    write(in_tmp, "lib/nested/m.yaml", VALID)
    write(in_tmp, "lib/notes.txt", "not a strategy")

    result = run("validate", "lib")

    assert result.exit_code == 0
    assert result.stdout == lines(
        """
        ok lib/a.yml  Tiny: 1 entry rule, 0 exit rules, 0 vetoes, 1 condition
        ok lib/nested/m.yaml  Tiny: 1 entry rule, 0 exit rules, 0 vetoes, 1 condition
        ok lib/z.yaml  Tiny: 1 entry rule, 0 exit rules, 0 vetoes, 1 condition
        3 files: 3 valid
        """
    )


def test_validate_invalid_file_prints_located_error_and_caret_on_stderr_and_exits_1(in_tmp):
    write(in_tmp, "typo.yaml", TYPO)

    result = run("validate", "typo.yaml")

    assert result.exit_code == 1
    assert result.stderr == lines(
        """
        error: typo.yaml:7:7: rules[0]: unknown key 'conditons' (did you mean 'conditions'?)
                conditons:
                ^
        """
    )
    assert result.stdout == "1 file: 0 valid, 1 invalid (1 error)\n"


def test_validate_mix_of_valid_and_invalid_still_reports_valid_ones_ok_and_exits_1(in_tmp):
    write(in_tmp, "good.yaml", VALID)
    write(in_tmp, "typo.yaml", TYPO)
    write(in_tmp, "zz_good.yaml", VALID)

    result = run("validate", "good.yaml", "typo.yaml", "zz_good.yaml")

    assert result.exit_code == 1
    assert result.stdout == lines(
        """
        ok good.yaml  Tiny: 1 entry rule, 0 exit rules, 0 vetoes, 1 condition
        ok zz_good.yaml  Tiny: 1 entry rule, 0 exit rules, 0 vetoes, 1 condition
        3 files: 2 valid, 1 invalid (1 error)
        """
    )
    assert result.stderr.startswith("error: typo.yaml:7:7: rules[0]: unknown key 'conditons'")


def test_validate_missing_file_reports_no_such_file_and_exits_1(in_tmp):
    result = run("validate", "missing.yaml")

    assert result.exit_code == 1
    assert result.stderr == "error: missing.yaml: no such file\n"
    assert result.stdout == "1 file: 0 valid, 1 invalid (1 error)\n"


def test_validate_empty_folder_says_no_strategy_files_were_found_and_exits_1(in_tmp):
    (in_tmp / "empty").mkdir()

    result = run("validate", "empty")

    assert result.exit_code == 1
    assert result.stderr == "error: no strategy files (*.yaml, *.yml) found in empty\n"
    assert result.stdout == ""


def test_validate_file_with_several_errors_prints_all_of_them_in_source_order(in_tmp):
    # execution comes before rules in the file, so its error must come first too.
    write(
        in_tmp,
        "several.yaml",
        """\
        strategy:
          name: Several
          assets: [BTC]
          execution:
            position_size: 2
            action_mode: yolo
          rules:
            - id: oversold
              source: technical
              conditons:
                - when: "rsi(14) < 30"
            - id: overbought
              source: technical
              conditions:
                - metric: rsi_14
                  operator: "=<"
                  threshold: 70
        """,
    )

    result = run("validate", "several.yaml")

    assert result.exit_code == 1
    assert result.stderr == lines(
        """
        error: several.yaml:5:20: execution.position_size: must be <= 1, got 2
              position_size: 2
                             ^
        error: several.yaml:6:18: execution.action_mode: 'yolo' is not one of: notify, auto, paper
              action_mode: yolo
                           ^
        error: several.yaml:10:7: rules[0]: unknown key 'conditons' (did you mean 'conditions'?)
                conditons:
                ^
        error: several.yaml:16:21: rules[1].conditions[0].operator: '=<' is not one of: <, <=, >, >=, ==, !=, between (did you mean '<='?)
                    operator: "=<"
                              ^
        """  # noqa: E501
    )
    assert result.stdout == "1 file: 0 valid, 1 invalid (4 errors)\n"


def test_validate_compiler_errors_point_inside_the_expression(in_tmp):
    write(
        in_tmp,
        "semantic.yaml",
        """\
        strategy:
          name: Semantic
          assets: [BTC]
          rules:
            - id: oversold
              source: technical
              conditions:
                - when: "rsi(14) < $nope"
                - when: "sma(20, 3d, 5) > 3"
          execution:
            position_size: 0.02
            action_mode: paper
        """,
    )

    result = run("validate", "semantic.yaml")

    assert result.exit_code == 1
    assert result.stderr == lines(
        """
        error: semantic.yaml:8:28: rules[0].conditions[0].when: unknown parameter '$nope' (define it under strategy.params)
                  - when: "rsi(14) < $nope"
                                     ^
        error: semantic.yaml:9:30: rules[0].conditions[1].when: sma takes at most 2 arguments, got 3 (signature: sma(n, timeframe=1d))
                  - when: "sma(20, 3d, 5) > 3"
                                       ^
        """  # noqa: E501
    )


def test_validate_expression_syntax_error_puts_caret_under_token_and_lists_expected(in_tmp):
    # 'and' starts at column 28 of line 8: the comparison is missing its right-hand side.
    write(
        in_tmp,
        "syntax.yaml",
        """\
        strategy:
          name: Syntax
          assets: [BTC]
          rules:
            - id: oversold
              source: technical
              conditions:
                - when: "rsi(14) < and close > 3"
          execution:
            position_size: 0.02
            action_mode: paper
        """,
    )

    result = run("validate", "syntax.yaml")

    assert result.exit_code == 1
    assert result.stderr == lines(
        """
        error: syntax.yaml:8:28: rules[0].conditions[0].when: unexpected 'and'
                  - when: "rsi(14) < and close > 3"
                                     ^
          expected one of: '$param', '(', '-', duration, name, number, string
        """
    )
    caret_line = result.stderr.splitlines()[2]
    assert caret_line.index("^") - 2 == '        - when: "rsi(14) < and'.index("and")


def test_validate_non_utf8_file_reports_encoding_error_and_exits_1(in_tmp):
    # 'é' in Latin-1 is byte 0xE9 at offset 22, followed by '"' which cannot continue it.
    (in_tmp / "latin1.yaml").write_bytes('strategy:\n  name: "café"\n'.encode("latin-1"))

    result = run("validate", "latin1.yaml")

    assert result.exit_code == 1
    assert result.stderr == (
        "error: latin1.yaml: not UTF-8 text (invalid continuation byte at byte 22)\n"
    )
    assert result.stdout == "1 file: 0 valid, 1 invalid (1 error)\n"


def test_validate_without_paths_is_one_error_line_with_exit_status_1():
    result = run("validate")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "error: PATHS is required (see 'signalops validate --help')\n"


def test_validate_long_error_lines_are_not_wrapped_in_a_narrow_terminal(in_tmp):
    write(in_tmp, "a_rather_long_file_name_for_a_strategy_with_a_typo.yaml", TYPO)

    result = run(
        "validate", "a_rather_long_file_name_for_a_strategy_with_a_typo.yaml", env={"COLUMNS": "20"}
    )

    first = result.stderr.splitlines()[0]
    assert first == (
        "error: a_rather_long_file_name_for_a_strategy_with_a_typo.yaml:7:7: rules[0]: "
        "unknown key 'conditons' (did you mean 'conditions'?)"
    )
    assert "\x1b" not in result.stderr + result.stdout


# --- explain -------------------------------------------------------------------------------------


def test_explain_original_readme_draws_header_rules_leaves_and_empty_sell_and_vetoes(in_repo):
    result = run("explain", "tests/fixtures/original_readme.yaml")

    assert result.exit_code == 0
    assert result.stdout == lines(
        """
        Multi_Source_Momentum  (tests/fixtures/original_readme.yaml)
        hash sha256:552ec2448811…  assets BTC, ETH, SOL  mode notify  position 3% of portfolio
        BUY when both rules pass
        ├── rule value_screen [fundamental]: all of
        │   └── price_to_sales < 3   fundamental · max age 7d · line 9
        └── rule event_filter [polymarket]: all of
            └── polymarket('crypto_regulation_crackdown_2025').yes < 0.2   polymarket · max age 1h · line 15
        SELL: no exit rules
        VETOES: none
        """  # noqa: E501
    )
    assert result.stderr == ""


def test_explain_event_filter_draws_at_least_not_and_both_vetoes(in_repo):
    result = run("explain", "strategies/event_filter.yaml")

    assert result.exit_code == 0
    assert result.stdout == lines(
        """
        Event_Filter  (strategies/event_filter.yaml)
        hash sha256:a6e232bbcebb…  assets BTC, ETH  mode notify  position 2% of portfolio
        Momentum entry that a prediction-market crisis signal can veto
        BUY when this rule passes
        └── rule momentum [technical]: all of
            ├── at least 2 of
            │   ├── rsi(14) between 40 and 70   technical · max age 2d · line 23
            │   ├── macd_hist > 0   technical · max age 2d · line 24
            │   └── volume_z(20) > 1.5   technical · max age 2d · line 25
            └── not
                └── close < bb_lower(20, 2)   technical · max age 2d · line 27
        SELL: no exit rules
        VETO crisis_odds: blocks BUY when this passes or is unknown — BLOCK BUY when the market prices a crisis at 60% or more
        └── polymarket('microstrategy-sells-any-bitcoin-by-december-31-2026').yes >= 60%   polymarket · max age 1h · line 32
        VETO crisis_odds_jump: blocks BUY when this passes or is unknown — or when those odds jumped 15 points in a day
        └── polymarket('microstrategy-sells-any-bitcoin-by-december-31-2026').change(1d) > 0.15   polymarket · max age 1h · line 37
        """  # noqa: E501
    )


def test_explain_value_screen_draws_the_sell_tree(in_repo):
    result = run("explain", "strategies/value_screen.yaml")

    assert result.exit_code == 0
    assert result.stdout == lines(
        """
        Value_Screen  (strategies/value_screen.yaml)
        hash sha256:5bc340fa9556…  assets AAPL, AMZN, GOOG, CRM  mode paper  position 2% of portfolio
        At least two valuation measures cheap, balance sheet sound
        BUY when both rules pass
        ├── rule cheap [fundamental]: all of
        │   └── at least 2 of
        │       ├── price_to_book < 3   fundamental · max age 7d · line 14
        │       ├── forward_pe < 20   fundamental · max age 7d · line 17
        │       └── price_to_sales < 4   fundamental · max age 7d · line 20
        └── rule sound_balance_sheet [fundamental]: all of
            ├── current_ratio >= 1   fundamental · max age 7d · line 26
            └── debt_to_equity < 150   fundamental · max age 7d · line 29
        SELL when this rule passes
        └── rule expensive [fundamental]: all of
            └── trailing_pe > 40   fundamental · max age 7d · line 37
        VETOES: none
        """  # noqa: E501
    )


def test_explain_long_lines_are_neither_wrapped_nor_coloured_in_a_narrow_terminal(in_repo):
    wide = run("explain", "strategies/event_filter.yaml")
    narrow = run("explain", "strategies/event_filter.yaml", env={"COLUMNS": "20"})

    assert narrow.stdout == wide.stdout
    assert max(len(line) for line in narrow.stdout.splitlines()) > 100
    assert "\x1b" not in narrow.stdout


def test_explain_json_original_readme_parses_and_carries_the_tree(in_repo):
    result = run("explain", "--json", "tests/fixtures/original_readme.yaml")

    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["name"] == "Multi_Source_Momentum"
    assert data["file"] == "tests/fixtures/original_readme.yaml"
    assert data["hash"] == (
        "sha256:552ec2448811457f0797d2fb63f935dc63fad103877d14c527a1bcefc0cc4204"
    )
    assert data["assets"] == ["BTC", "ETH", "SOL"]
    assert data["execution"] == {
        "require_confirmations": 2,
        "position_size": 0.03,
        "action_mode": "notify",
        "exit_confirmations": None,
    }
    entry = data["entry"]
    assert (entry["kind"], entry["n"], entry["path"]) == ("at_least", 2, "rules")
    assert [(c["kind"], c["rule"]) for c in entry["children"]] == [
        ("all_of", "value_screen"),
        ("all_of", "event_filter"),
    ]
    value, event = (rule["children"][0] for rule in entry["children"])
    assert value["kind"] == "predicate"
    assert value["text"] == "price_to_sales < 3"
    assert value["span"] == "tests/fixtures/original_readme.yaml:9:11"
    assert value["threshold"] == "< 3"
    assert value["metrics"] == [
        {"source": "fundamental", "metric": "price_to_sales", "params": {}, "max_age": 604800}
    ]
    assert event["metrics"] == [
        {
            "source": "polymarket",
            "metric": "yes",
            "params": {"market": "crypto_regulation_crackdown_2025"},
            "max_age": 3600,
        }
    ]
    assert data["exit"] is None
    assert data["vetoes"] == []


def test_explain_json_event_filter_nests_groups_and_lists_vetoes(in_repo):
    result = run("explain", "--json", "strategies/event_filter.yaml")

    assert result.exit_code == 0
    data = json.loads(result.stdout)
    momentum = data["entry"]["children"][0]
    assert [child["kind"] for child in momentum["children"]] == ["at_least", "not"]
    at_least, negation = momentum["children"]
    assert at_least["n"] == 2
    assert [leaf["text"] for leaf in at_least["children"]] == [
        "rsi(14) between 40 and 70",
        "macd_hist > 0",
        "volume_z(20) > 1.5",
    ]
    assert negation["children"][0]["text"] == "close < bb_lower(20, 2)"
    assert [(v["id"], v["blocks"]) for v in data["vetoes"]] == [
        ("crisis_odds", ["BUY"]),
        ("crisis_odds_jump", ["BUY"]),
    ]
    assert data["vetoes"][0]["tree"]["children"][0]["metrics"][0]["max_age"] == 3600


def test_explain_json_is_plain_indented_json_even_in_a_narrow_terminal(in_repo):
    path = "strategies/event_filter.yaml"

    result = run("explain", "--json", path, env={"COLUMNS": "20"})

    expected = json.dumps(tree_to_dict(load(path)), indent=2, ensure_ascii=False) + "\n"
    assert result.stdout == expected


def test_explain_invalid_file_prints_error_on_stderr_only_and_exits_1(in_tmp):
    write(in_tmp, "typo.yaml", TYPO)

    result = run("explain", "typo.yaml")

    assert result.exit_code == 1
    assert result.stderr == lines(
        """
        error: typo.yaml:7:7: rules[0]: unknown key 'conditons' (did you mean 'conditions'?)
                conditons:
                ^
        """
    )
    assert result.stdout == ""


@pytest.mark.parametrize("as_json", [[], ["--json"]], ids=["tree", "json"])
def test_explain_missing_file_or_folder_exits_1_with_error(in_tmp, as_json):
    (in_tmp / "folder").mkdir()

    missing = run("explain", *as_json, "missing.yaml")
    folder = run("explain", *as_json, "folder")

    assert (missing.exit_code, missing.stderr, missing.stdout) == (
        1,
        "error: missing.yaml: no such file\n",
        "",
    )
    assert (folder.exit_code, folder.stderr, folder.stdout) == (
        1,
        "error: folder: is a directory, not a strategy file\n",
        "",
    )


# --- metrics -------------------------------------------------------------------------------------


def test_metrics_without_source_lists_all_five_sources():
    result = run("metrics")

    assert result.exit_code == 0
    headings = [line for line in result.stdout.splitlines() if not line.startswith(" ")]
    assert headings == [
        "fundamental  company fundamentals: yfinance snapshots and SEC EDGAR point-in-time facts",
        "polymarket  prediction-market odds: Gamma API, CLOB prices and history",
        "onchain  DeFiLlama: stablecoins, chain and protocol TVL, CEX flows",
        "technical  exchange candles through ccxt, equities through yfinance, indicators through "
        "TA-Lib",
        "news  RSS/Atom feeds through feedparser",
    ]
    assert (
        "  news_count(query, window=1d, feeds='all')                      items           "
        "number of feed items matching the query in the window; never below 0"
    ) in result.stdout.splitlines()


def test_metrics_technical_lists_only_technical_metrics_with_signatures():
    result = run("metrics", "technical")

    assert result.exit_code == 0
    out = result.stdout.splitlines()
    assert out[0] == (
        "technical  exchange candles through ccxt, equities through yfinance, indicators through "
        "TA-Lib"
    )
    assert all(line.startswith("  ") for line in out[1:])
    assert (
        "  rsi(n=14, timeframe=1d)                                0-100           "
        "relative strength index (Wilder); from 0 to 100"
    ) in out
    assert (
        "  close(timeframe=1d)                                    quote currency  "
        "close of the last closed candle (also: price)"
    ) in out
    assert "price_to_sales" not in result.stdout
    assert result.stderr == ""


def test_metrics_unknown_source_exits_1_and_names_the_known_sources():
    result = run("metrics", "nosuch")

    assert result.exit_code == 1
    assert result.stderr == (
        "error: unknown source 'nosuch' "
        "(one of: fundamental, polymarket, onchain, technical, news)\n"
    )
    assert result.stdout == ""


# --- schema, version, help -----------------------------------------------------------------------


def test_schema_prints_the_schema_file_verbatim_as_valid_json():
    result = run("schema")

    assert result.exit_code == 0
    expected = (ROOT / "schemas" / "strategy.schema.json").read_text(encoding="utf-8")
    assert result.stdout == expected
    assert json.loads(result.stdout)["$schema"].endswith("/2020-12/schema")


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_prints_program_name_and_package_version(flag):
    result = run(flag)

    assert result.exit_code == 0
    assert result.stdout == f"signalops, version {signalops.__version__}\n"


def test_help_shows_a_typical_session_and_every_command():
    result = run("--help")

    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: signalops [OPTIONS] COMMAND [ARGS]...\n")
    assert "    signalops validate strategies/ " in result.stdout
    # The whole path a trader takes, not only writing a file: backtest, run, approve, ask why.
    for step in ("data import ", "backtest strategies/x.yaml --from", "approvals ",
                 "why BTC --at 2023-03-10 --audit reports/x/backtest.db\n",
                 "run strategies/ --every 1h ", "dashboard "):  # fmt: skip
        assert f"\n    signalops {step}" in result.stdout
    for command in ("explain", "metrics", "schema", "validate"):
        assert f"\n  {command} " in result.stdout


@pytest.mark.parametrize(
    ("command", "example"),
    [
        ("validate", "signalops validate strategies/ my_strategy.yaml"),
        ("explain", "signalops explain strategies/event_filter.yaml"),
        ("metrics", "signalops metrics technical"),
        ("schema", "signalops schema > strategy.schema.json"),
    ],
)
def test_subcommand_help_exits_0_and_shows_an_example(command, example):
    result = run(command, "--help")

    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: signalops {command} [OPTIONS]")
    assert f"  Example:\n    {example}\n" in result.stdout


# --- no traceback for bad input ------------------------------------------------------------------

MALFORMED = {
    "empty": b"",
    "only_whitespace": b"  \n\n",
    "yaml_null": b"~\n",
    "top_level_list": b"- a\n- b\n",
    "top_level_scalar": b"42\n",
    "no_strategy_key": b"foo: 1\n",
    "strategy_null": b"strategy:\n",
    "strategy_list": b"strategy: [1, 2]\n",
    "unclosed_flow": b"strategy:\n  name: [unclosed\n",
    "tab_indent": b"strategy:\n\tname: x\n",
    "duplicate_key": b"strategy:\n  name: a\n  name: b\n",
    "python_tag": b"strategy: !!python/object/apply:os.system ['echo hi']\n",
    "binary": bytes(range(256)),
    "utf16": "strategy:\n  name: x\n".encode("utf-16"),
    "bom_then_incomplete": b"\xef\xbb\xbfstrategy:\n  name: x\n",
    "two_documents": b"strategy:\n  name: x\n---\nstrategy:\n  name: y\n",
    "complex_key": b"strategy:\n  ? [a, b]\n  : x\n",
    "date_key": b"strategy:\n  2024-01-01: x\n",
    "nan_threshold": textwrap.dedent(
        """\
        strategy:
          name: N
          assets: [BTC]
          rules:
            - id: r
              source: technical
              conditions:
                - metric: rsi_14
                  operator: "<"
                  threshold: .nan
          execution: {position_size: 0.1, action_mode: paper}
        """
    ).encode(),
    "huge_number": textwrap.dedent(VALID).replace("< 30", "< 1e999999").encode(),
    "at_least_more_than_listed": textwrap.dedent(
        """\
        strategy:
          name: N
          assets: [BTC]
          rules:
            - id: r
              source: technical
              conditions:
                - at_least: {n: 5, of: [{when: "rsi(14) < 3"}]}
          execution: {position_size: 0.1, action_mode: paper, require_confirmations: 7}
        """
    ).encode(),
    "unknown_function": textwrap.dedent(VALID).replace("rsi(14)", "rsx(14)").encode(),
    "unterminated_string": textwrap.dedent(VALID)
    .replace('"rsi(14) < 30"', '"news_count(\'hack) > 3"')
    .encode(),
    # Nesting deep enough to exhaust the Python stack in a recursive pass, and aliases that
    # expand a few lines into a million values ("billion laughs"): refused, not crashed or hung.
    "deep_flow_lists": b"strategy: " + b"[" * 2000 + b"]" * 2000 + b"\n",
    "deep_not_groups": textwrap.dedent(VALID)
    .replace('when: "rsi(14) < 30"', "not: {" * 300 + 'when: "rsi(14) < 30"' + "}" * 300)
    .encode(),
    "alias_expansion": textwrap.dedent(VALID)
    .replace(
        "  assets: [BTC]\n",
        "  assets: [BTC]\n  params:\n    l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"    l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 6)),
    )
    .encode(),
}


def _assert_reported_without_traceback(result: Result) -> None:
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.startswith("error: ")


@pytest.mark.parametrize("command", [["validate"], ["explain"], ["explain", "--json"]])
@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_file_is_reported_as_error_with_exit_1_and_no_traceback(in_tmp, name, command):
    (in_tmp / f"{name}.yaml").write_bytes(MALFORMED[name])

    result = run(*command, f"{name}.yaml")

    _assert_reported_without_traceback(result)
    assert result.stderr.startswith(f"error: {name}.yaml")


_EVENT_FILTER = (ROOT / "strategies" / "event_filter.yaml").read_text(encoding="utf-8")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    at=st.integers(min_value=0, max_value=len(_EVENT_FILTER)),
    cut=st.integers(min_value=0, max_value=12),
    insert=st.text(alphabet=" \t\n-:[]{}'\"$#&*!|>%().,<=0123456789abnotwhe_", max_size=8),
)
def test_mutated_strategy_is_either_valid_or_reported_without_traceback(
    tmp_path_factory, at, cut, insert
):
    path = tmp_path_factory.mktemp("mutated") / "mutated.yaml"
    path.write_text(_EVENT_FILTER[:at] + insert + _EVENT_FILTER[at + cut :], encoding="utf-8")

    result = run("validate", str(path))

    assert result.exit_code in (0, 1), result.exc_info
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    for line in result.stderr.splitlines():
        assert line.startswith(("error: ", "  ", "warning: ")), result.stderr


# --- the installed console script ----------------------------------------------------------------


def test_console_script_entry_point_is_signalops_cli_main():
    (script,) = entry_points(group="console_scripts", name="signalops")

    assert script.value == "signalops.cli:main"


def _installed_script() -> str:
    """The console script pip generated next to this interpreter (bin/ or Scripts\\)."""
    script = shutil.which("signalops", path=str(Path(sys.executable).parent))
    assert script, f"no signalops script next to {sys.executable}: run pip install -e ."
    return script


def _script_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _TERMINAL_ENV}
    return {**env, **extra}


def test_installed_script_validates_reports_errors_and_exits_1_without_traceback(in_tmp):
    write(in_tmp, "good.yaml", VALID)
    write(in_tmp, "typo.yaml", TYPO)

    proc = subprocess.run(
        [_installed_script(), "validate", "good.yaml", "typo.yaml"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=_script_env(PYTHONIOENCODING="utf-8"),
        check=False,
    )

    assert proc.returncode == 1
    assert proc.stdout == lines(
        """
        ok good.yaml  Tiny: 1 entry rule, 0 exit rules, 0 vetoes, 1 condition
        2 files: 1 valid, 1 invalid (1 error)
        """
    )
    assert proc.stderr == lines(
        """
        error: typo.yaml:7:7: rules[0]: unknown key 'conditons' (did you mean 'conditions'?)
                conditons:
                ^
        """
    )


def test_installed_script_on_an_ascii_only_stdout_degrades_characters_instead_of_crashing(
    in_repo,
):
    proc = subprocess.run(
        [_installed_script(), "explain", "tests/fixtures/original_readme.yaml"],
        capture_output=True,
        env=_script_env(PYTHONIOENCODING="ascii"),
        check=False,
    )

    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode("ascii").splitlines()
    assert out[1].startswith("hash sha256:552ec2448811?  assets BTC, ETH, SOL")
    assert out[3] == "??? rule value_screen [fundamental]: all of"
    assert b"Traceback" not in proc.stderr
