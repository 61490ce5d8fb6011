"""``signalops init``, the sample the package carries, ``validate`` of a config file and
``$SIGNALOPS_CONFIG``: through the command line, with exact output."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from click.testing import CliRunner, Result
from conftest import DATA, ROOT, STRATEGIES, invoke

from signalops.cli.init import init_command
from signalops.starter import NEXT_STEPS, sample_dir

SAMPLE = ROOT / "signalops" / "_bundled" / "sample"

# --- the bundled sample: exact slices of examples/data ------------------------------------------
# The sample inside the wheel (signalops/_bundled/sample) is these slices of the checkout's full
# data set, byte for byte: rows are kept verbatim, only rows outside the window and (for the
# stablecoin file) columns other than a few coins are left out. The test below recomputes them;
# `python tests/test_init.py` rewrites the sample after the full data set changes.

FIRST, LAST = "2022-07-01", "2023-06-30"  # a year of daily history: indicators warm up by 2023
STABLECOINS = ("Timestamp", "Date", "USDT", "USDC", "BUSD", "DAI")
ELECTION_MARKET = "511754"  # "Will Donald Trump be inaugurated?" (election_odds_gate's veto)


def _rows_in_window(text: str, column: int, first: str, last: str, header_lines: int) -> str:
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines[header_lines:] if first <= line.split(",")[column][:10] <= last]
    return "".join(lines[:header_lines] + kept)


def _columns(text: str, names: tuple[str, ...], first: str, last: str) -> str:
    lines = text.splitlines(keepends=True)
    header = lines[0].rstrip("\r\n").split(",")
    keep = [header.index(name) for name in names]
    date = header.index("Date")
    out = []
    for i, line in enumerate(lines):
        cells = line.rstrip("\r\n").split(",")
        if i == 0 or first <= cells[date] <= last:
            ending = line[len(line.rstrip("\r\n")) :]
            out.append(",".join(cells[k] for k in keep) + ending)
    return "".join(out)


def _election(prices: str, markets: str) -> tuple[str, str]:
    history = json.loads(prices)
    entries = [m for m in json.loads(markets) if str(m["market_id"]) == ELECTION_MARKET]
    return (
        json.dumps({ELECTION_MARKET: history[ELECTION_MARKET]}, indent=1) + "\n",
        json.dumps(entries, indent=1) + "\n",
    )


def expected_sample(full: Path) -> dict[str, bytes]:
    """Every file of the sample, by path relative to the sample folder, from the full set."""

    def read(name: str) -> str:
        return (full / name).read_bytes().decode("utf-8")

    ohlcv, llama, poly = "ohlcv/", "defillama/", "polymarket/"
    hourly = "BTCUSDT_1h_binance_2020-10_2025-10.csv"
    stable = "stablecoin_supply_daily_by_coin_2017-11_2025-08.csv"
    tvl = "chain_tvl_daily_wide_2020-01_2025-08.csv"
    prices = "election_top20_daily_price_history_2024-08_2025-06.json"
    markets = "election_top20_markets.json"
    files = {
        ohlcv + name: _rows_in_window(read(ohlcv + name), 1, FIRST, LAST, 2)
        for name in ("Binance_BTCUSDT_d.csv", "Binance_ETHUSDT_d.csv")
    }
    files[ohlcv + hourly] = _rows_in_window(read(ohlcv + hourly), 0, "2023-03-01", "2023-03-31", 1)
    files[llama + stable] = _columns(read(llama + stable), STABLECOINS, FIRST, LAST)
    files[llama + tvl] = _rows_in_window(read(llama + tvl), 0, FIRST, LAST, 1)
    files[poly + prices], files[poly + markets] = _election(
        read(poly + prices), read(poly + markets)
    )
    for path in sorted((full / "fundamentals").glob("*.json")) + sorted((full / "rss").glob("*")):
        files[str(path.relative_to(full))] = read(str(path.relative_to(full)))
    return {name: text.encode("utf-8") for name, text in files.items()}


def write_sample(full: Path, sample: Path) -> None:
    for name, content in expected_sample(full).items():
        (sample / name).parent.mkdir(parents=True, exist_ok=True)
        (sample / name).write_bytes(content)


def init(*args: str) -> Result:
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()
    return runner.invoke(init_command, list(args), prog_name="signalops init")


# --- the sample --------------------------------------------------------------------------------


def test_bundled_sample_is_exact_slices_of_the_full_real_data_and_nothing_else():
    expected = expected_sample(DATA)
    shipped = {
        str(p.relative_to(SAMPLE)): p.read_bytes()
        for p in SAMPLE.rglob("*")
        if p.is_file() and p.name != "README.md"
    }
    assert sorted(shipped) == sorted(expected)
    for name, content in expected.items():
        assert shipped[name] == content, name


def test_bundled_sample_stays_small():
    assert sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file()) < 300_000


def test_package_finds_its_sample_without_the_checkout_path():
    assert sample_dir() == SAMPLE


# --- init --------------------------------------------------------------------------------------


def test_init_writes_config_strategies_and_sample_and_prints_the_next_commands(in_tmp: Path):
    result = init("tour")
    assert result.exit_code == 0, result.output
    strategies = sorted(p.name for p in STRATEGIES.glob("*.yaml"))
    kb = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file()) / 1000
    assert result.stdout.splitlines() == [
        "wrote tour/signalops.yaml (commented: risk, paper, audit, venues)",
        f"wrote {len(strategies)} strategies to tour/strategies",
        "wrote tour/examples/signalops.together.yaml (the README's example config)",
        f"wrote 13 files of sample data ({kb:,.0f} kB) to tour/examples/data (see its README.md)",
        "next:",
        "  cd tour",
        *(f"  {step}" for step in NEXT_STEPS),
    ]
    assert sorted(p.name for p in (in_tmp / "tour" / "strategies").iterdir()) == strategies
    assert (in_tmp / "tour" / "examples" / "data" / "README.md").is_file()
    config = (in_tmp / "tour" / "signalops.yaml").read_text()
    assert config.startswith("# signalops.yaml: the settings every command reads")


def test_init_refuses_to_overwrite_and_writes_nothing(in_tmp: Path):
    (in_tmp / "strategies").mkdir()
    mine = in_tmp / "strategies" / "banking_crisis_dip.yaml"
    mine.write_text("my own edits\n")
    result = init(".")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert not (in_tmp / "signalops.yaml").exists()
    assert mine.read_text() == "my own edits\n"


def test_init_force_replaces_only_its_own_files(in_tmp: Path):
    (in_tmp / "signalops.yaml").write_text("old\n")
    (in_tmp / "notes.txt").write_text("kept\n")
    result = init(".", "--force")
    assert result.exit_code == 0, result.output
    assert "cd ." not in result.stdout  # already there
    assert (in_tmp / "signalops.yaml").read_text().startswith("# signalops.yaml")
    assert (in_tmp / "notes.txt").read_text() == "kept\n"


def test_init_folder_runs_the_tour_validate_import_and_evaluate(in_tmp: Path):
    init(".")
    validated = invoke("validate", "signalops.yaml", "strategies/")
    assert validated.exit_code == 0, validated.output
    assert validated.stdout.splitlines()[0] == (
        "ok signalops.yaml  config: 2 venues, 0 assets mapped, 0 webhooks, 0 operator accounts"
    )
    assert validated.stdout.splitlines()[-1] == "9 files: 9 valid"
    imported = invoke("data", "import")
    assert imported.exit_code == 0, imported.output
    assert imported.stdout.splitlines() == [
        "fundamental         4 points in    4 series  examples/replay/fundamental.jsonl",
        "polymarket        162 points in    3 series  examples/replay/polymarket.jsonl",
        "onchain         4,015 points in   11 series  examples/replay/onchain.jsonl",
        "technical       1,473 points in    3 series  examples/replay/technical.jsonl",
        "news                3 points in    1 series  examples/replay/news.jsonl",
    ]
    evaluated = invoke("evaluate", "strategies/banking_crisis_dip.yaml", "--at", "2023-03-13")
    assert evaluated.exit_code == 0, evaluated.output
    assert "stablecoin_net_flow('USDC', 2d) = -4.098B at 2023-03-13T00:00:00Z" in evaluated.stdout


def test_init_folder_runs_the_readmes_strategies_together_backtest(in_tmp: Path):
    """The README's "Several strategies in one account" command, as written, in a folder init
    wrote: its --config examples/signalops.together.yaml is there, and the sample covers it."""
    init(".")
    together = Path("examples", "signalops.together.yaml")
    assert together.read_bytes() == (ROOT / together).read_bytes()
    assert invoke("data", "import").exit_code == 0
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme[readme.index("$ signalops backtest strategies/banking_crisis_dip.yaml strat") :]
    shown = shown[: shown.index("```")].splitlines()
    command = " ".join(line.strip().rstrip("\\") for line in shown[:2])
    result = invoke(*shlex.split(command)[2:])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert shown[2:6] == lines[:4]
    table = lines.index(next(line for line in shown if line.startswith("account by strategy")))
    assert lines[table : table + 9] == shown[shown.index(lines[table]) :][:9]


def test_data_import_outside_a_checkout_imports_the_sample_and_says_so(in_tmp: Path):
    result = invoke("data", "import")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == (
        "warning: no examples/data here: importing the small sample signalops carries "
        "(March 2023; 'signalops init DIR' writes it with its README)"
    )
    assert (in_tmp / "examples" / "replay" / "technical.jsonl").is_file()


# --- validate recognises a config file ---------------------------------------------------------


def test_validate_config_file_checks_it_against_the_config_schema(in_tmp: Path):
    (in_tmp / "signalops.yaml").write_text(
        "venues:\n  coinbase: {exchange: coinbaseexchange, quote: USD}\n"
        "assets:\n  ETH: {venue: coinbase, symbol: ETH-USD}\n"
    )
    result = invoke("validate", "signalops.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "ok signalops.yaml  config: 3 venues, 1 asset mapped, 0 webhooks, 0 operator accounts",
        "1 file: 1 valid",
    ]


def test_validate_config_by_content_reports_its_errors_at_file_line_column(in_tmp: Path):
    (in_tmp / "live.yaml").write_text("paper:\n  starting_cash: 10000\nrisk:\n  max_positon: 0.1\n")
    result = invoke("validate", "live.yaml")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "error: live.yaml:4:3: risk: unknown key 'max_positon' (did you mean 'max_position'?)"
    )
    assert result.stdout.splitlines() == ["1 file: 0 valid, 1 invalid (1 error)"]


def test_validate_folder_with_config_and_strategies_checks_each_by_its_kind(in_tmp: Path):
    (in_tmp / "signalops.yaml").write_text("kill_switch: KILL\n")
    (in_tmp / "s.yaml").write_bytes((STRATEGIES / "technical_baseline.yaml").read_bytes())
    result = invoke("validate", ".")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "ok s.yaml  Technical_Baseline: 1 entry rule, 1 exit rule, 0 vetoes, 2 conditions",
        "ok signalops.yaml  config: 2 venues, 0 assets mapped, 0 webhooks, 0 operator accounts",
        "2 files: 2 valid",
    ]


def test_a_strategy_named_signalops_is_still_a_strategy(in_tmp: Path):
    (in_tmp / "signalops_dip.yaml").write_bytes(
        (STRATEGIES / "technical_baseline.yaml").read_bytes()
    )
    result = invoke("validate", "signalops_dip.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok signalops_dip.yaml  Technical_Baseline:")


# --- SIGNALOPS_CONFIG --------------------------------------------------------------------------


def test_signalops_config_is_the_config_validate_reads(in_tmp: Path, monkeypatch):
    (in_tmp / "elsewhere.yaml").write_text("risk:\n  max_positon: 0.1\n")
    monkeypatch.setenv("SIGNALOPS_CONFIG", "elsewhere.yaml")
    result = invoke("validate", str(STRATEGIES / "technical_baseline.yaml"))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "error: elsewhere.yaml:2:3: risk: unknown key 'max_positon' (did you mean 'max_position'?)"
    )


def test_signalops_config_wins_over_the_local_signalops_yaml(in_tmp: Path, monkeypatch):
    (in_tmp / "signalops.yaml").write_text("risk:\n  max_positon: 0.1\n")  # would fail
    (in_tmp / "good.yaml").write_text("default_venue: polymarket\n")
    monkeypatch.setenv("SIGNALOPS_CONFIG", "good.yaml")
    result = invoke("validate", str(STRATEGIES / "technical_baseline.yaml"))
    assert result.exit_code == 0, result.output
    # Read from good.yaml: no venue serves BTC candles there.
    assert result.stderr.splitlines() == [
        f"warning: {STRATEGIES / 'technical_baseline.yaml'}: no configured venue serves asset BTC"
    ]


def test_signalops_config_naming_a_missing_file_is_an_error_not_the_defaults(in_tmp, monkeypatch):
    monkeypatch.setenv("SIGNALOPS_CONFIG", "missing.yaml")
    result = invoke("validate", str(STRATEGIES / "technical_baseline.yaml"))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: missing.yaml")


if __name__ == "__main__":  # rewrite the sample from the full data set
    write_sample(DATA, SAMPLE)
    sys.exit(0)


def test_backtest_helps_first_example_runs_in_a_folder_made_by_init(in_tmp: Path):
    # It named a file of the checkout's tests/, which a pip user's folder does not have.
    init(".")
    assert invoke("data", "import").exit_code == 0
    shown = invoke("backtest", "--help").stdout
    example = shown[shown.index("  Example:\n") :].split("\n\n")[0].splitlines()[2:4]
    words = " ".join(line.strip().rstrip("\\") for line in example).split()
    assert words[:2] == ["signalops", "backtest"]
    ran = invoke(*words[1:])
    assert ran.exit_code == 0, ran.output
    assert "report: reports/banking_crisis_dip/report.html" in ran.stdout
