"""A misspelt stablecoin or chain in an on-chain condition: ``validate`` warns at the argument,
with the name DeFiLlama lists that it most likely means, and a replay's NO_DATA names the recorded
series it most likely means instead of offering to download the misspelling.

Regression tests: ``stablecoin_net_flow('USCD', 2d)`` and ``chain_tvl_change('etherium', 3d)``
validated without a word, then every decision said ``no recorded series stablecoin_supply/USCD/
all: download it with '... --asset stablecoin_supply/USCD/all'`` (a veto on them failed closed
forever).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import invoke as run

from signalops.adapters.http import HttpClient
from signalops.adapters.onchain import API_KEY_ENV, OnchainAdapter
from signalops.observation import DataError, Request

# 2023-03-11 .. 2023-03-13 00:00 UTC: what a replay of four coins, the total and two chains holds.
RECORDED = ("BUSD", "DAI", "USDC", "USDT", "all")
DAYS = [datetime(2023, 3, day, tzinfo=UTC).timestamp() for day in (11, 12, 13)]

TYPOS = """\
strategy:
  name: OC
  assets: [ETH]
  rules:
    - id: flows
      source: onchain
      conditions:
        - when: "stablecoin_net_flow('USCD', 2d) < -1B"
        - when: "chain_tvl_change('etherium', 3d) < -5%"
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS", API_KEY_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def replay(folder: Path, *, chains: tuple[str, ...] = ("arbitrum", "ethereum")) -> Path:
    keys = [f"stablecoin_supply/{coin}/all" for coin in RECORDED]
    keys += [f"chain_tvl/{chain}" for chain in chains]
    folder.mkdir()
    lines = [json.dumps({"series": k, "t": t, "v": 1e9 + t % 7}) for k in keys for t in DAYS]
    (folder / "onchain.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def leaf_errors(text: str, data: Path) -> list[str]:
    Path("oc.yaml").write_text(text, encoding="utf-8")
    result = run("evaluate", "oc.yaml", "--at", "2023-03-13", "--data", str(data))
    assert result.exit_code == 0, result.output
    return [line.strip(" │") for line in result.stdout.splitlines() if "NO_DATA" in line]


def conditions(*whens: str) -> str:
    lines = [f'        - when: "{when}"' for when in whens]
    return TYPOS.split("        - when:")[0] + "\n".join(lines) + "\n"


# --- replay: the recorded series meant --------------------------------------------------------


def test_a_replay_names_the_recorded_series_a_misspelling_means_and_offers_no_download(
    in_tmp: Path,
):
    assert leaf_errors(TYPOS, replay(in_tmp / "replay")) == [
        "stablecoin_net_flow('USCD', 2d): NO_DATA: no recorded series stablecoin_supply/USCD/all "
        "(did you mean USDC? recorded: BUSD, DAI, USDC, USDT, all)",
        "chain_tvl_change('etherium', 3d): NO_DATA: no recorded series chain_tvl/etherium "
        "(did you mean ethereum? recorded: arbitrum, ethereum)",
    ]


def test_a_misspelling_of_nothing_recorded_is_offered_the_download_of_the_name_it_means(
    in_tmp: Path,
):
    data = replay(in_tmp / "replay", chains=())
    text = conditions("chain_tvl('etherium') > 0", "stablecoin_supply('usdc', 'optimsm') > 0")

    assert leaf_errors(text, data) == [
        "chain_tvl('etherium'): NO_DATA: no recorded series chain_tvl/etherium (did you mean "
        "ethereum? download it with 'signalops data download --source onchain --asset "
        f"chain_tvl/ethereum --to {data}')",
        "stablecoin_supply('usdc', 'optimsm'): NO_DATA: no recorded series "
        "stablecoin_supply/USDC/optimsm (did you mean optimism? download it with 'signalops data "
        f"download --source onchain --asset stablecoin_supply/USDC/optimism --to {data}')",
    ]


def test_a_real_name_not_recorded_is_offered_its_download_and_an_unknown_one_both(in_tmp: Path):
    data = replay(in_tmp / "replay", chains=("arbitrum", "bsc"))
    # USDD is a coin DeFiLlama lists, not a slip for USDC: its download. 'bcs' is one swap from
    # the recorded 'bsc', but a name that short may be a chain of its own: both answers.
    text = conditions(
        "stablecoin_supply('USDD') > 0",
        "chain_tvl('bcs') > 0",
        "chain_tvl('arbitrun') > 0",
    )

    assert leaf_errors(text, data) == [
        "stablecoin_supply('USDD'): NO_DATA: no recorded series stablecoin_supply/USDD/all: "
        "download it with 'signalops data download --source onchain --asset "
        f"stablecoin_supply/USDD/all --to {data}'",
        "chain_tvl('bcs'): NO_DATA: no recorded series chain_tvl/bcs (did you mean bsc? recorded: "
        "arbitrum, bsc); to read bcs, download it with 'signalops data download --source onchain "
        f"--asset chain_tvl/bcs --to {data}'",
        "chain_tvl('arbitrun'): NO_DATA: no recorded series chain_tvl/arbitrun (did you mean "
        "arbitrum? recorded: arbitrum, bsc)",
    ]


# --- validate: a warning at the argument ------------------------------------------------------


def test_validate_warns_of_each_misspelt_name_at_its_argument(in_tmp: Path):
    Path("oc.yaml").write_text(TYPOS, encoding="utf-8")

    result = run("validate", "oc.yaml")

    assert result.exit_code == 0  # a warning: a coin listed since August 2025 may be real
    assert result.stdout.endswith("1 file: 1 valid\n")
    assert result.stderr == (
        "warning: oc.yaml:8:38: rules[0].conditions[0].when: 'USCD' is not a stablecoin "
        "DeFiLlama lists (did you mean 'USDC'?)\n"
        """          - when: "stablecoin_net_flow('USCD', 2d) < -1B"\n"""
        "                                       ^\n"
        "warning: oc.yaml:9:35: rules[0].conditions[1].when: 'etherium' is not a DeFiLlama chain "
        "SignalOps knows (did you mean 'ethereum'?)\n"
        """          - when: "chain_tvl_change('etherium', 3d) < -5%"\n"""
        "                                    ^\n"
    )


def test_validate_points_at_a_param_a_params_entry_and_a_default_and_leaves_real_names(
    in_tmp: Path,
):
    text = """\
strategy:
  name: OC
  assets: [ETH]
  params: {coin: TUSB}
  defaults:
    params: {chain: arbitrom}
  rules:
    - id: flows
      source: onchain
      conditions:
        - when: "stablecoin_net_flow($coin) < 0 and stablecoin_supply('usdc') > 0"
        - metric: stablecoin_supply
          params: {stablecoin: DIA}
          operator: ">"
          threshold: 0
        - when: "chain_tvl('ton') > 0 and chain_tvl('fantom') > 0"
        - when: "stablecoin_supply('USDD') > 0"
"""
    Path("oc.yaml").write_text(text, encoding="utf-8")

    result = run("validate", "oc.yaml")

    assert result.exit_code == 0
    # 'usdc' (any case), 'ton' (a chain of its own, one letter from 'tron'), 'fantom' (a chain
    # SignalOps does not know, near none it does) and USDD (a listed coin) are not warned of; the
    # default chain is told once, however many leaves use it.
    assert result.stderr == (
        "warning: oc.yaml:4:18: params.coin: 'TUSB' is not a stablecoin DeFiLlama lists (did you "
        "mean 'TUSD'?)\n"
        "    params: {coin: TUSB}\n"
        "                   ^\n"
        "warning: oc.yaml:6:21: defaults.params.chain: 'arbitrom' is not a DeFiLlama chain "
        "SignalOps knows (did you mean 'arbitrum'?)\n"
        "      params: {chain: arbitrom}\n"
        "                      ^\n"
        "warning: oc.yaml:13:32: rules[0].conditions[1].params.stablecoin: 'DIA' is not a "
        "stablecoin DeFiLlama lists (did you mean 'DAI'?)\n"
        "            params: {stablecoin: DIA}\n"
        "                                 ^\n"
    )


# --- live: DeFiLlama's own list ----------------------------------------------------------------


def test_live_an_unknown_symbol_is_told_the_listed_one_it_most_likely_means():
    assets = {
        "peggedAssets": [
            {"id": "1", "name": "Tether", "symbol": "USDT", "circulating": {"peggedUSD": 7.2e10}},
            {"id": "2", "name": "USD Coin", "symbol": "USDC", "circulating": {"peggedUSD": 4e10}},
        ]
    }

    def api(request: httpx.Request) -> httpx.Response:
        found: Any = assets if request.url.path == "/stablecoins" else None
        return httpx.Response(200, json=found) if found else httpx.Response(404)

    http = HttpClient("onchain", transport=httpx.MockTransport(api), sleep=lambda _: None)
    adapter = OnchainAdapter.live(http)
    wanted = Request("onchain", "stablecoin_supply", (("stablecoin", "USCD"), ("chain", "all")))

    result = adapter.fetch([wanted], datetime(2023, 3, 13, tzinfo=UTC))[wanted]

    assert isinstance(result, DataError)
    assert (result.reason, result.message) == (
        "UNKNOWN_STABLECOIN",
        "DeFiLlama lists no stablecoin 'USCD' (did you mean 'USDC'?)",
    )
