"""The onchain adapter (DeFiLlama), offline.

Live tests drive the real ``HttpClient``/httpx stack through ``httpx.MockTransport`` with the
recorded DeFiLlama payloads bundled under ``examples/data/defillama`` (the ``derived_api_shape``
files are March 2023 slices of the real exports in the API's JSON shape). Replay tests read a
snapshot store filled by ``import_bundled`` from the real bundled CSVs.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from signalops.adapters.http import HttpClient
from signalops.adapters.onchain import (
    API_KEY_ENV,
    DAY,
    DEFAULT_CEXES,
    STABLECOIN_CSV,
    OnchainAdapter,
    data_time,
    import_bundled,
)
from signalops.adapters.snapshots import SnapshotStore
from signalops.errors import DataNotFound
from signalops.observation import DataError, Observation, Request

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
SHAPES = DATA / "defillama" / "derived_api_shape"
USDC_CHART = json.loads(
    (SHAPES / "stablecoincharts_all_stablecoin2_USDC_2023-03_PARTIAL.json").read_text()
)
ETH_TVL = json.loads((SHAPES / "historicalChainTvl_Ethereum_2023-03.json").read_text())

END_OF_2023_03_12 = datetime(2023, 3, 13, tzinfo=UTC)
USDC_2023_03_10 = 43_176_044_700.0  # bundled export, labelled 2023-03-10
USDC_2023_03_11 = 42_097_257_578.0
USDC_2023_03_12 = 39_077_959_674.0
ETH_TVL_2023_03_08 = 27_896_724_653.0
ETH_TVL_2023_03_12 = 25_472_717_972.0
API_KEY = "llama-pro-key-7f3a9c"  # a made-up key: the tests only check it never leaks


def request(metric: str, **params: Any) -> Request:
    return Request("onchain", metric, tuple(params.items()))


def usdc_net_flow(window_days: int = 2) -> Request:
    return request("stablecoin_net_flow", stablecoin="USDC", window=window_days * DAY, chain="all")


def eth_tvl_change(window_days: int = 4) -> Request:
    return request("chain_tvl_change", chain="Ethereum", window=window_days * DAY)


def answer(adapter: OnchainAdapter, req: Request, as_of: datetime) -> Observation | DataError:
    return adapter.fetch([req], as_of)[req]


def ok(result: Observation | DataError) -> Observation:
    assert isinstance(result, Observation), result
    return result


def failed(result: Observation | DataError, reason: str) -> DataError:
    assert isinstance(result, DataError), result
    assert result.reason == reason, result
    return result


class Responses:
    """Answers in turn (the last one repeats): for retry sequences."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        item = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return _respond(item, request)


def _respond(item: Any, request: httpx.Request) -> httpx.Response:
    if isinstance(item, httpx.Response):
        return item
    if callable(item):
        return item(request)
    return httpx.Response(200, json=item)


class Api:
    """A fake DeFiLlama: URL path -> JSON body, Response or handler; records every request."""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.routes.get(request.url.path)
        if item is None:
            return httpx.Response(404, json={"message": "not found"})
        return _respond(item, request)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def live(
    routes: dict[str, Any],
    *,
    api_key: str | None = None,
    record: SnapshotStore | None = None,
    retries: int = 2,
) -> tuple[OnchainAdapter, Api]:
    api = Api(routes)
    http = HttpClient(
        "onchain", transport=httpx.MockTransport(api), retries=retries, sleep=lambda _: None
    )
    return OnchainAdapter.live(http, api_key=api_key, record=record), api


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)


@pytest.fixture(scope="module")
def records() -> list[tuple[str, float, Any]]:
    return list(import_bundled(DATA))


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory, records: list) -> OnchainAdapter:
    """What ``signalops data import`` builds: every bundled record in a snapshot store."""
    store = SnapshotStore(tmp_path_factory.mktemp("snapshots"))
    store.write("onchain", records)
    return OnchainAdapter.replay(store)


def _at(date: str) -> float:
    return datetime.fromisoformat(date).replace(tzinfo=UTC).timestamp()


# --- import of the bundled exports -------------------------------------------------------


def test_import_dates_each_daily_value_at_the_end_of_its_day(records: list) -> None:
    usdc = {t: v for key, t, v in records if key == "stablecoin_supply/USDC/all"}
    assert usdc[_at("2023-03-11")] == USDC_2023_03_10
    assert usdc[_at("2023-03-13")] == USDC_2023_03_12
    eth = {t: v for key, t, v in records if key == "chain_tvl/ethereum"}
    assert eth[_at("2023-03-09")] == ETH_TVL_2023_03_08
    assert eth[_at("2023-03-13")] == ETH_TVL_2023_03_12


def test_import_gives_a_series_per_recorded_coin_and_chain_plus_the_total(records: list) -> None:
    keys = {key for key, _, _ in records}
    with (DATA / STABLECOIN_CSV).open() as handle:
        rows = csv.reader(handle)
        coins = next(rows)[2:]
        recorded = {
            coin for row in rows for coin, cell in zip(coins, row[2:], strict=False) if cell
        }
    chains = ["arbitrum", "avalanche", "bsc", "ethereum", "optimism", "polygon"]
    expected = {f"stablecoin_supply/{c}/all" for c in recorded} | {"stablecoin_supply/all/all"}
    assert keys == expected | {f"chain_tvl/{c}" for c in chains}
    assert (len(coins), len(recorded)) == (282, 281)  # MXNT has a column but no value


def test_import_total_is_the_sum_of_the_coins_recorded_that_day(records: list) -> None:
    total = {t: v for key, t, v in records if key == "stablecoin_supply/all/all"}
    assert total[_at("2017-11-30")] == 110105.0  # first row: only USDT recorded
    with (DATA / STABLECOIN_CSV).open() as handle:
        row = next(r for r in csv.reader(handle) if r[1] == "2023-03-12")
    assert total[_at("2023-03-13")] == pytest.approx(math.fsum(float(c) for c in row[2:] if c))
    assert not any(math.isnan(v) for _, _, v in records)


def test_import_without_the_bundled_files_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataNotFound) as caught:
        list(import_bundled(tmp_path))
    assert str(caught.value) == (
        f"{tmp_path}/defillama/stablecoin_supply_daily_by_coin_2017-11_2025-08.csv: no such file "
        "(bundled DeFiLlama data)"
    )


def test_daily_point_is_known_at_the_end_of_its_utc_day() -> None:
    assert data_time(_at("2023-03-12")) == _at("2023-03-13")
    assert data_time(_at("2023-03-12") + 14 * 3600) == _at("2023-03-13")  # intraday "current"


# --- replay: known answers and no look-ahead ----------------------------------------------


def test_replay_usdc_net_flow_over_2d_at_end_of_2023_03_12_is_minus_4_1b(bundled) -> None:
    obs = ok(answer(bundled, usdc_net_flow(), END_OF_2023_03_12))
    assert obs.value == pytest.approx(USDC_2023_03_12 - USDC_2023_03_10)
    assert obs.value == pytest.approx(-4.1e9, rel=0.01)
    assert obs.as_of == END_OF_2023_03_12
    assert obs.detail["base"]["t"] == "2023-03-11T00:00:00Z"


def test_replay_eth_tvl_change_from_03_08_to_03_12_is_minus_8_7_percent(bundled) -> None:
    obs = ok(answer(bundled, eth_tvl_change(), END_OF_2023_03_12))
    assert obs.value == pytest.approx(ETH_TVL_2023_03_12 / ETH_TVL_2023_03_08 - 1)
    assert obs.value == pytest.approx(-0.0869, abs=1e-4)


def test_replay_levels_and_lowercase_major_symbol(bundled) -> None:
    supply = ok(answer(bundled, request("stablecoin_supply", stablecoin="usdc"), END_OF_2023_03_12))
    assert supply.value == USDC_2023_03_12
    tvl = ok(answer(bundled, request("chain_tvl", chain="ethereum"), END_OF_2023_03_12))
    assert tvl.value == ETH_TVL_2023_03_12


def test_replay_never_uses_a_point_dated_after_as_of(bundled) -> None:
    supply = request("stablecoin_supply", stablecoin="USDC", chain="all")
    just_before = datetime(2023, 3, 12, 23, 59, 59, tzinfo=UTC)
    before = ok(answer(bundled, supply, just_before))
    assert before.value == USDC_2023_03_11  # the 03-12 close is not known yet
    assert before.as_of == datetime(2023, 3, 12, tzinfo=UTC)
    flow = ok(answer(bundled, usdc_net_flow(), just_before))
    assert flow.value == pytest.approx(USDC_2023_03_11 - 43_195_640_252.0)  # 03-11 minus 03-09
    assert ok(answer(bundled, supply, END_OF_2023_03_12)).value == USDC_2023_03_12


def test_replay_before_any_data_is_no_data(bundled) -> None:
    failed(answer(bundled, usdc_net_flow(), datetime(2017, 1, 1, tzinfo=UTC)), "NO_DATA")


def test_replay_window_longer_than_the_history_is_insufficient_history(bundled) -> None:
    failed(
        answer(bundled, usdc_net_flow(window_days=3650), END_OF_2023_03_12), "INSUFFICIENT_HISTORY"
    )


def test_replay_symbol_ambiguous_by_case_is_unknown_stablecoin(bundled) -> None:
    result = answer(bundled, request("stablecoin_supply", stablecoin="usde"), END_OF_2023_03_12)
    assert "USDE, USDe" in failed(result, "UNKNOWN_STABLECOIN").message
    exact = request("stablecoin_supply", stablecoin="USDe")
    ok(answer(bundled, exact, datetime(2025, 1, 1, tzinfo=UTC)))


def test_replay_of_unrecorded_series_is_no_data(bundled) -> None:
    failed(answer(bundled, request("protocol_tvl", protocol="aave"), END_OF_2023_03_12), "NO_DATA")
    failed(answer(bundled, request("exchange_net_flow_24h"), END_OF_2023_03_12), "NO_DATA")


# --- live: known answers, time convention, recording --------------------------------------


def test_live_usdc_net_flow_uses_builtin_id_and_matches_replay(bundled) -> None:
    adapter, api = live({"/stablecoincharts/all": USDC_CHART})
    obs = ok(answer(adapter, usdc_net_flow(), END_OF_2023_03_12))
    assert obs.value == ok(answer(bundled, usdc_net_flow(), END_OF_2023_03_12)).value
    assert obs.as_of == END_OF_2023_03_12
    assert api.paths() == ["/stablecoincharts/all"]  # no /stablecoins lookup for a major
    assert api.requests[0].url.params["stablecoin"] == "2"


def test_live_ignores_the_unfinished_point_of_the_current_day() -> None:
    adapter, _ = live({"/stablecoincharts/all": USDC_CHART})
    noon = datetime(2023, 3, 12, 12, tzinfo=UTC)  # the response has a point labelled 03-12
    obs = ok(answer(adapter, request("stablecoin_supply", stablecoin="USDC"), noon))
    assert obs.value == USDC_2023_03_11
    assert obs.as_of == datetime(2023, 3, 12, tzinfo=UTC)


def test_live_eth_tvl_change_known_answer_from_recorded_payload() -> None:
    adapter, api = live({"/v2/historicalChainTvl/Ethereum": ETH_TVL})
    obs = ok(
        answer(
            adapter,
            request("chain_tvl_change", chain="ethereum", window=4 * DAY),
            END_OF_2023_03_12,
        )
    )
    assert obs.value == pytest.approx(ETH_TVL_2023_03_12 / ETH_TVL_2023_03_08 - 1)
    assert obs.detail["series"] == "chain_tvl/ethereum"
    assert api.paths() == ["/v2/historicalChainTvl/Ethereum"]


def test_live_recording_replays_to_the_same_answers(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    routes = {"/stablecoincharts/all": USDC_CHART, "/v2/historicalChainTvl/Ethereum": ETH_TVL}
    adapter, _ = live(routes, record=store)
    requests = [usdc_net_flow(), eth_tvl_change()]
    live_answers = adapter.fetch(requests, END_OF_2023_03_12)
    adapter.fetch(requests, END_OF_2023_03_12)  # fetching again records nothing twice
    replayed = OnchainAdapter.replay(SnapshotStore(tmp_path)).fetch(requests, END_OF_2023_03_12)
    for req in requests:
        assert ok(replayed[req]).value == ok(live_answers[req]).value
    assert store.keys("onchain") == ["chain_tvl/ethereum", "stablecoin_supply/USDC/all"]
    lines = (tmp_path / "onchain.jsonl").read_text().splitlines()
    usdc_lines = [json.loads(line) for line in lines if "USDC" in line]
    assert len(usdc_lines) == 12  # 03-01 .. 03-12 closed at as_of; the rest is the future
    assert max(line["t"] for line in usdc_lines) == END_OF_2023_03_12.timestamp()


def test_live_symbol_outside_the_builtin_table_is_resolved_through_the_list() -> None:
    # /stablecoins in its documented shape; ids and symbols are DeFiLlama's real ones.
    assets = {
        "peggedAssets": [
            {"id": "1", "name": "Tether", "symbol": "USDT", "circulating": {"peggedUSD": 7.2e10}},
            {
                "id": "8",
                "name": "Liquity USD",
                "symbol": "LUSD",
                "circulating": {"peggedUSD": 2.3e8},
            },
        ]
    }
    adapter, api = live({"/stablecoins": assets, "/stablecoincharts/all": USDC_CHART})
    ok(answer(adapter, request("stablecoin_supply", stablecoin="lusd"), END_OF_2023_03_12))
    assert api.paths() == ["/stablecoins", "/stablecoincharts/all"]
    assert api.requests[1].url.params["stablecoin"] == "8"
    unknown = answer(adapter, request("stablecoin_supply", stablecoin="NOPE"), END_OF_2023_03_12)
    failed(unknown, "UNKNOWN_STABLECOIN")


def test_live_all_stablecoins_is_the_total_summed_over_peg_types() -> None:
    # Shape of /stablecoincharts/all without ?stablecoin=; the values are the bundled 2023-03-10
    # supplies of USDT + USDC (peggedUSD) and EURC + EURT (peggedEUR, already in USD).
    total = [
        {
            "date": "1678406400",
            "totalCirculatingUSD": {
                "peggedUSD": 71_792_276_224.0 + 43_176_044_700.0,
                "peggedEUR": 30_816_475.0 + 38_506_257.0,
            },
        }
    ]
    adapter, api = live({"/stablecoincharts/all": total})
    obs = ok(answer(adapter, request("stablecoin_supply", stablecoin="all"), END_OF_2023_03_12))
    assert obs.value == pytest.approx(71_792_276_224 + 43_176_044_700 + 30_816_475 + 38_506_257)
    assert "stablecoin" not in api.requests[0].url.params


def test_live_stablecoin_on_a_chain_uses_the_chain_path_and_a_lowercase_key() -> None:
    # The all-chain USDC payload stands in for /stablecoincharts/Ethereum (same shape).
    adapter, api = live({"/stablecoincharts/Ethereum": USDC_CHART})
    obs = ok(
        answer(
            adapter,
            request("stablecoin_supply", stablecoin="USDC", chain="ethereum"),
            END_OF_2023_03_12,
        )
    )
    assert obs.detail["series"] == "stablecoin_supply/USDC/ethereum"
    assert api.paths() == ["/stablecoincharts/Ethereum"]


def test_live_protocol_tvl_reads_the_documented_response_shape() -> None:
    # No recording of /protocol/<slug> exists: a tiny response in the documented shape
    # ({"tvl": [{"date", "totalLiquidityUSD"}], ...}); the numbers are illustrative.
    body = {
        "id": "111",
        "name": "AAVE V2",
        "tvl": [
            {"date": 1678406400, "totalLiquidityUSD": 5.1e9},
            {"date": 1678492800, "totalLiquidityUSD": 4.9e9},
            {"date": 1678579200, "totalLiquidityUSD": 4.6e9},
            {"date": 1678701600, "totalLiquidityUSD": 4.7e9},  # 03-13 10:00, intraday
        ],
    }
    adapter, api = live({"/protocol/AAVE-V2": {}, "/protocol/aave-v2": body})
    obs = ok(answer(adapter, request("protocol_tvl", protocol="aave-v2"), END_OF_2023_03_12))
    assert obs.value == 4.6e9
    assert obs.as_of == END_OF_2023_03_12
    later = ok(
        answer(
            adapter, request("protocol_tvl", protocol="aave-v2"), datetime(2023, 3, 14, tzinfo=UTC)
        )
    )
    assert later.value == 4.7e9  # the day's last value, once the day is over
    assert api.paths() == ["/protocol/aave-v2"]  # slugs are lowercased; the 2nd call is cached


# --- live: failures are values -------------------------------------------------------------


def test_live_429_then_success_returns_the_value() -> None:
    adapter, api = live(
        {
            "/stablecoincharts/all": Responses(
                httpx.Response(429, headers={"Retry-After": "1"}), USDC_CHART
            )
        }
    )
    obs = ok(answer(adapter, usdc_net_flow(), END_OF_2023_03_12))
    assert obs.value == pytest.approx(USDC_2023_03_12 - USDC_2023_03_10)
    assert len(api.requests) == 2


def test_live_timeout_on_every_attempt_is_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    adapter, api = live({"/v2/historicalChainTvl/Ethereum": hang}, retries=2)
    failed(answer(adapter, eth_tvl_change(), END_OF_2023_03_12), "TIMEOUT")
    assert len(api.requests) == 3


def test_live_5xx_storm_exhausts_retries_as_http_error() -> None:
    adapter, api = live({"/v2/historicalChainTvl/Ethereum": httpx.Response(503)}, retries=3)
    error = failed(answer(adapter, eth_tvl_change(), END_OF_2023_03_12), "HTTP_ERROR")
    assert "4 attempts" in error.message
    assert len(api.requests) == 4


def test_live_malformed_json_is_bad_response() -> None:
    adapter, _ = live(
        {"/v2/historicalChainTvl/Ethereum": httpx.Response(200, text='[{"date": 1678')}
    )
    failed(answer(adapter, eth_tvl_change(), END_OF_2023_03_12), "BAD_RESPONSE")


def test_live_missing_field_is_bad_response_naming_the_field() -> None:
    broken = [dict(point) for point in ETH_TVL]
    del broken[5]["tvl"]
    adapter, _ = live({"/v2/historicalChainTvl/Ethereum": broken})
    error = failed(answer(adapter, eth_tvl_change(), END_OF_2023_03_12), "BAD_RESPONSE")
    assert "'tvl'" in error.message
    no_circulating = [{"date": p["date"]} for p in USDC_CHART]
    adapter, _ = live({"/stablecoincharts/all": no_circulating})
    error = failed(answer(adapter, usdc_net_flow(), END_OF_2023_03_12), "BAD_RESPONSE")
    assert "totalCirculatingUSD" in error.message


def test_live_string_where_a_number_belongs_is_bad_response() -> None:
    broken = [dict(point) for point in ETH_TVL]
    broken[3]["tvl"] = "27.8B"
    adapter, _ = live({"/v2/historicalChainTvl/Ethereum": broken})
    error = failed(answer(adapter, eth_tvl_change(), END_OF_2023_03_12), "BAD_RESPONSE")
    assert "'27.8B'" in error.message
    # DeFiLlama sends stablecoin dates as numeric strings: those are numbers, not errors.
    assert isinstance(USDC_CHART[0]["date"], str)


def test_live_negative_tvl_is_an_implausible_bad_response() -> None:
    broken = [dict(point) for point in ETH_TVL]
    broken[3]["tvl"] = -5e9
    adapter, _ = live({"/v2/historicalChainTvl/Ethereum": broken})

    error = failed(answer(adapter, eth_tvl_change(), END_OF_2023_03_12), "BAD_RESPONSE")

    assert error.message.endswith("point 3 tvl is -5e+09: an amount cannot be negative")


def test_live_history_with_far_more_points_than_any_real_one_is_too_large() -> None:
    huge = [ETH_TVL[0]] * 60_000
    adapter, _ = live({"/v2/historicalChainTvl/Ethereum": huge})

    error = failed(answer(adapter, eth_tvl_change(), END_OF_2023_03_12), "RESPONSE_TOO_LARGE")

    assert error.message.endswith(
        "chain TVL history has 60,000 points, more than the 50,000 a real one has"
    )


def test_live_empty_history_is_no_data() -> None:
    adapter, _ = live({"/v2/historicalChainTvl/Ethereum": [], "/stablecoincharts/all": []})
    failed(answer(adapter, eth_tvl_change(), END_OF_2023_03_12), "NO_DATA")
    failed(answer(adapter, usdc_net_flow(), END_OF_2023_03_12), "NO_DATA")


def test_live_too_short_history_is_insufficient_history() -> None:
    adapter, _ = live({"/v2/historicalChainTvl/Ethereum": ETH_TVL})
    failed(
        answer(adapter, eth_tvl_change(window_days=30), END_OF_2023_03_12), "INSUFFICIENT_HISTORY"
    )


def test_live_one_failing_request_does_not_discard_the_others() -> None:
    adapter, api = live(
        {
            "/v2/historicalChainTvl/Ethereum": ETH_TVL,
            "/v2/historicalChainTvl/BSC": httpx.Response(500),
            "/stablecoincharts/all": USDC_CHART,
        },
        retries=1,
    )
    bsc_tvl = request("chain_tvl", chain="bsc")
    bsc_change = request("chain_tvl_change", chain="bsc", window=DAY)
    answers = adapter.fetch(
        [eth_tvl_change(), bsc_tvl, bsc_change, usdc_net_flow()], END_OF_2023_03_12
    )
    ok(answers[eth_tvl_change()])
    ok(answers[usdc_net_flow()])
    failed(answers[bsc_tvl], "HTTP_ERROR")
    failed(answers[bsc_change], "HTTP_ERROR")
    assert api.paths().count("/v2/historicalChainTvl/BSC") == 2  # one retry storm, not two


def test_non_positive_window_is_bad_request() -> None:
    adapter, _ = live({"/v2/historicalChainTvl/Ethereum": ETH_TVL})
    req = request("chain_tvl_change", chain="ethereum", window=0)
    failed(answer(adapter, req, END_OF_2023_03_12), "BAD_REQUEST")


# --- CEX flows (Pro API) -------------------------------------------------------------------

FLOW_DAY_START = int(_at("2023-03-12"))
FLOW_DAY_END = int(_at("2023-03-13"))


def inflows(outflows: float) -> dict[str, Any]:
    """A Pro ``/api/inflows`` body. No recording exists: this is the documented shape (DeFiLlama
    OpenAPI spec), ``outflows`` being the net USD inflow over [start, end]."""
    return {
        "outflows": outflows,
        "oldTokens": {"date": FLOW_DAY_START, "tvl": {"USDC": 27302168.767972}},
        "currentTokens": {"date": FLOW_DAY_END, "tvl": {"USDC": 67152880.13345899}},
    }


def flow_routes(key: str, flows: dict[str, Any]) -> dict[str, Any]:
    return {f"/{key}/api/inflows/{slug}/{FLOW_DAY_START}": body for slug, body in flows.items()}


def test_exchange_flow_without_an_api_key_is_no_api_key_and_sends_nothing() -> None:
    adapter, api = live({})
    error = failed(
        answer(adapter, request("exchange_net_flow_24h"), END_OF_2023_03_12), "NO_API_KEY"
    )
    assert API_KEY_ENV in error.message
    assert api.requests == []


def test_exchange_flow_default_sums_the_default_cexes_for_the_last_complete_day(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(API_KEY_ENV, API_KEY)
    # -160563462.23 is the documented example value; the others are illustrative.
    values = dict(zip(DEFAULT_CEXES, (-160_563_462.23474675, 2.5e7, -1.0e6, 4.0e6), strict=True))
    store = SnapshotStore(tmp_path)
    adapter, api = live(
        flow_routes(API_KEY, {s: inflows(v) for s, v in values.items()}), record=store
    )
    as_of = datetime(2023, 3, 13, 5, tzinfo=UTC)
    obs = ok(answer(adapter, request("exchange_net_flow_24h", exchange="default"), as_of))
    assert obs.value == pytest.approx(sum(values.values()))
    assert obs.as_of == END_OF_2023_03_12
    assert obs.detail["day"] == "2023-03-12"
    assert obs.detail["exchanges"] == pytest.approx(values)
    assert {r.url.params["end"] for r in api.requests} == {str(FLOW_DAY_END)}
    single = request("exchange_net_flow_24h", exchange="okx")
    assert ok(answer(adapter, single, as_of)).value == values["okx"]
    replayed = OnchainAdapter.replay(SnapshotStore(tmp_path))
    assert ok(answer(replayed, request("exchange_net_flow_24h"), as_of)).value == obs.value


def test_exchange_flow_failure_never_shows_the_api_key(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(API_KEY_ENV, API_KEY)
    caplog.set_level(logging.DEBUG)
    routes = flow_routes(API_KEY, {"binance-cex": httpx.Response(503), "okx": httpx.Response(403)})
    routes.update(flow_routes(API_KEY, {"bybit": httpx.Response(200, text="<html>")}))
    adapter, api = live(routes)
    requests = [
        request("exchange_net_flow_24h", exchange=s) for s in ("binance-cex", "okx", "bybit")
    ]
    answers = adapter.fetch(requests, END_OF_2023_03_12)
    failed(answers[requests[0]], "HTTP_ERROR")
    failed(answers[requests[1]], "HTTP_ERROR")
    failed(answers[requests[2]], "BAD_RESPONSE")
    assert all(API_KEY in r.url.path for r in api.requests)  # the key was really used...
    for result in answers.values():
        assert API_KEY not in result.message  # ...but never shown
    assert "HTTP Request" in caplog.text
    assert API_KEY not in caplog.text


def test_exchange_flow_missing_outflows_field_is_bad_response() -> None:
    adapter, _ = live(
        flow_routes(API_KEY, {"okx": {"message": "No data at that timestamp"}}), api_key=API_KEY
    )
    result = answer(adapter, request("exchange_net_flow_24h", exchange="okx"), END_OF_2023_03_12)
    assert "outflows" in failed(result, "BAD_RESPONSE").message
