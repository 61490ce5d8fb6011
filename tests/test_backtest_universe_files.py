"""Universe files and lists: the assets and sectors ``--universe`` reads, and every mistake in
them reported at its file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DATA

from signalops.backtest.universe import Universe, parse_universe, read_universe
from signalops.config import Config, load_config
from signalops.errors import InputError, StrategyError, StrategyErrors


def test_a_comma_list_keeps_the_order_given_and_has_no_sectors():
    universe = read_universe("AAPL, MSFT,GOOGL")
    assert universe == Universe(("AAPL", "MSFT", "GOOGL"))
    assert universe.source == "--universe"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("AAPL,,MSFT", "--universe: an empty name is not an asset symbol"),
        ("AAPL,MS FT", "--universe: 'MS FT' is not an asset symbol"),
        ("AAPL,MSFT,AAPL", "--universe: AAPL is listed twice"),
        (" , ", "--universe: no assets"),
    ],
)
def test_a_bad_comma_list_is_an_input_error(spec: str, message: str):
    with pytest.raises(InputError) as caught:
        read_universe(spec)
    assert str(caught.value).startswith(message)


def test_the_bundled_equities_universe_csv_reads_as_it_is():
    universe = read_universe(str(DATA / "equities" / "universe.csv"))
    assert universe.assets == ("AAPL", "GOOGL", "JPM", "MSFT", "NVDA", "TSLA")
    assert dict(universe.sectors) == {}  # it has no sector column


def test_a_csv_with_a_sector_column_in_any_case_and_order(tmp_path: Path):
    path = tmp_path / "megacaps.csv"
    path.write_text(
        "Name,Sector,Symbol\nApple,tech,AAPL\n\nJPMorgan,,JPM\nNVIDIA, tech ,NVDA\n",
        encoding="utf-8",
    )
    universe = read_universe(str(path))
    assert universe.assets == ("AAPL", "JPM", "NVDA")
    assert dict(universe.sectors) == {"AAPL": "tech", "NVDA": "tech"}  # JPM: none
    assert universe.source == str(path)


def test_csv_mistakes_are_all_reported_at_their_lines(tmp_path: Path):
    path = tmp_path / "u.csv"
    path.write_text("asset,sector\nAAPL,tech\nMS FT,tech\nAAPL,tech\n,energy\n", encoding="utf-8")
    with pytest.raises(StrategyErrors) as caught:
        read_universe(str(path))
    assert [str(e) for e in caught.value.errors] == [
        f"{path}:3:1: 'MS FT' is not an asset symbol such as BTC or AAPL",
        f"{path}:4:1: AAPL is listed twice (first on line 2)",
        f"{path}:5:1: an empty name is not an asset symbol such as BTC or AAPL",
    ]


def test_a_csv_without_an_asset_column_says_which_names_it_takes(tmp_path: Path):
    path = tmp_path / "u.csv"
    path.write_text("tickr,sector\nAAPL,tech\n", encoding="utf-8")
    with pytest.raises(StrategyError) as caught:
        read_universe(str(path))
    assert str(caught.value) == (
        f"{path}:1:1: the header names no asset column (one of: asset, ticker, symbol) "
        "(did you mean 'ticker'?)"
    )
    assert caught.value.source_line == "tickr,sector"


def test_yaml_as_a_list_of_assets_or_mappings(tmp_path: Path):
    path = tmp_path / "u.yaml"
    path.write_text(
        "- BTC\n- {asset: ETH, sector: layer1}\n- asset: SOL\n  sector: layer1\n",
        encoding="utf-8",
    )
    universe = read_universe(str(path))
    assert universe.assets == ("BTC", "ETH", "SOL")
    assert dict(universe.sectors) == {"ETH": "layer1", "SOL": "layer1"}


def test_yaml_as_a_mapping_of_asset_to_sector_like_the_configs_sectors(tmp_path: Path):
    universe = parse_universe("AAPL: tech\nJPM: financials\nTSLA: null\n", "u.yml")
    assert universe.assets == ("AAPL", "JPM", "TSLA")
    assert dict(universe.sectors) == {"AAPL": "tech", "JPM": "financials"}


def test_yaml_mistakes_point_at_the_key_or_value():
    with pytest.raises(StrategyErrors) as caught:
        parse_universe("- BTC\n- {asset: ETH, sectr: layer1}\n- [SOL]\n- BTC\n", "u.yaml")
    assert [str(e) for e in caught.value.errors] == [
        "u.yaml:2:16: [1].sectr: unknown key 'sectr' (did you mean 'sector'?)",
        "u.yaml:3:3: [2]: an item is an asset or a mapping {asset: ..., sector: ...}",
        "u.yaml:4:3: BTC is listed twice (first on line 1)",
    ]
    with pytest.raises(StrategyError, match=r"^u.yaml:1:1: a universe is a list of assets"):
        parse_universe("just text\n", "u.yaml")


def test_a_strategy_s_assets_key_in_a_universe_file_names_the_forms_a_universe_takes():
    with pytest.raises(StrategyError) as caught:
        parse_universe("assets: [BTC, ETH]\n", "u7.yaml")
    assert str(caught.value) == (
        "u7.yaml:1:9: assets: a sector is a name (or null), not a list: a universe is a list of "
        "assets or a mapping of asset to sector (write the list without 'assets:': [BTC, ETH])"
    )
    with pytest.raises(StrategyError) as caught:
        parse_universe("AAPL: tech\nJPM: {sector: financials}\n", "u.yaml")
    assert str(caught.value) == (
        "u.yaml:2:6: JPM: a sector is a name (or null), not a mapping: a universe is a list of "
        "assets or a mapping of asset to sector (e.g. [AAPL, MSFT] or {AAPL: tech, JPM: "
        "financials})"
    )


def test_a_plain_list_takes_comments_blank_lines_and_a_sector_after_the_asset():
    text = "# my universe\nBTC   layer 1  # the first\n\n  ETH\nDOGE memes\n"
    universe = parse_universe(text, "universe.txt")
    assert universe.assets == ("BTC", "ETH", "DOGE")
    assert dict(universe.sectors) == {"BTC": "layer 1", "DOGE": "memes"}
    with pytest.raises(StrategyError) as caught:
        parse_universe("BTC\n  B@D\n", "universe.txt")
    assert str(caught.value) == (
        "universe.txt:2:3: 'B@D' is not an asset symbol such as BTC or AAPL"
    )


def test_an_empty_file_or_a_missing_one_is_an_error_naming_it(tmp_path: Path):
    with pytest.raises(StrategyError, match=r"^u.txt: the universe lists no assets$"):
        parse_universe("# nothing yet\n", "u.txt")
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(StrategyError, match=r": no such file$"):
        read_universe(str(missing))


def test_the_universes_sectors_extend_the_configs_and_win_for_its_assets(tmp_path: Path):
    path = tmp_path / "signalops.yaml"
    path.write_text("sectors: {AAPL: hardware, XOM: energy}\n", encoding="utf-8")
    config = load_config(path)
    universe = parse_universe("AAPL: tech\nJPM: financials\n", "u.yaml")
    configured = universe.configured(config)
    assert dict(configured.sectors) == {"AAPL": "tech", "XOM": "energy", "JPM": "financials"}
    assert configured.limits == config.limits
    assert read_universe("BTC,ETH").configured(config) is config
    assert dict(Universe(("BTC",)).configured(Config()).sectors) == {}
