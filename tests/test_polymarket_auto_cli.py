"""Polymarket auto mode from the command line, end to end: config -> price -> gate -> CLOB order.

``signalops run --mode auto --live --replay ...`` with a configuration that puts the asset
``TRUMP_YES`` on a Polymarket venue (its symbol: the CLOB token of "Yes" in market 511754, "Will
Donald Trump be inaugurated?") and makes that venue the executor. The decision, its reference
price and the order all come from the real recorded daily prices of that market in the bundled
data (``examples/data/polymarket``, imported by ``conftest.replay_dir``): on 2024-11-10 the YES
price is 0.953 (the price labelled 2024-11-09, known at the end of that day).

The order goes through the REAL py-clob-client: ``build_auto_executor`` builds its ``ClobClient``
from the environment (a throwaway key made up for these tests, as in
``tests/execution/test_auto.py``), which signs the order (EIP-712) and sends it through
py-clob-client's module-level httpx client, swapped for one on an ``httpx.MockTransport``
(``signalops.adapters.polymarket.clob_transport``). The CLOB's answers for this token were not
recorded: tick size and neg-risk flag are the recorded JD Vance 2028 YES book's
(``examples/data/polymarket/clob_book_JD-Vance-2028-YES_from-ccxt-fixture.json``), and
``POST /order`` answers in its documented shape (``success``, ``orderID``, ``status``, ...).
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import DATA, invoke
from py_clob_client.client import ClobClient

from signalops.adapters.polymarket import CLOB_URL, clob_transport
from signalops.config import load_config
from signalops.execution.auto import PolymarketExecutor, build_auto_executor

MARKETS = json.loads((DATA / "polymarket" / "election_top20_markets.json").read_text())
(TRUMP,) = [m for m in MARKETS if str(m["market_id"]) == "511754"]
YES_TOKEN = TRUMP["clob_token_ids"][TRUMP["outcomes"].index("Yes")]
VANCE_BOOK = json.loads(
    (DATA / "polymarket" / "clob_book_JD-Vance-2028-YES_from-ccxt-fixture.json").read_text()
)
# A throwaway key made up for these tests: sha256 of a fixed phrase; it controls no funds.
PRIVATE_KEY = "0x" + hashlib.sha256(b"signalops throwaway test key").hexdigest()
API_KEY = "00000000-1111-2222-3333-444444444444"
ENV = {
    "SIGNALOPS_POLYMARKET_PRIVATE_KEY": PRIVATE_KEY,
    "SIGNALOPS_POLYMARKET_API_KEY": API_KEY,
    "SIGNALOPS_POLYMARKET_API_SECRET": "c2VjcmV0LWZvci10ZXN0cy1vbmx5LW5vdC1yZWFsLTAxMjM0NTY3OA==",
    "SIGNALOPS_POLYMARKET_API_PASSPHRASE": "passphrase-for-tests-only-0123456789abcdef",
}
ORDER_ID = "0x" + "ab" * 32
AT = "2024-11-10"

STRATEGY = """\
strategy:
  name: "Trump_Inauguration_Odds"
  assets: ["TRUMP_YES"]
  rules:
    - id: market_agrees
      source: polymarket
      conditions:
        - market: "511754"
          operator: ">"
          threshold: 0.9
          max_age: 2d
  execution:
    require_confirmations: 1
    position_size: 0.01
    action_mode: auto
"""


def config(token: str) -> str:
    return f"""\
venues:
  pm: {{exchange: polymarket, sandbox: false}}
assets:
  TRUMP_YES: {{venue: pm, symbol: "{token}"}}
executor: pm
"""


class Clob:
    """The CLOB endpoints ``create_order`` and ``post_order`` use; every request is kept."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/tick-size":
            return httpx.Response(200, json={"minimum_tick_size": float(VANCE_BOOK["tick_size"])})
        if path == "/neg-risk":
            return httpx.Response(200, json={"neg_risk": VANCE_BOOK["neg_risk"]})
        if path == "/fee-rate":
            return httpx.Response(200, json={"base_fee": 0})
        if path == "/order" and request.method == "POST":
            order = json.loads(request.content)["order"]
            return httpx.Response(
                200,
                json={
                    "success": True,
                    "errorMsg": "",
                    "orderID": ORDER_ID,
                    "status": "matched",
                    "makingAmount": str(Decimal(order["makerAmount"]) / 10**6),
                    "takingAmount": str(Decimal(order["takerAmount"]) / 10**6),
                    "transactionsHashes": ["0x" + "cd" * 32],
                },
            )
        return httpx.Response(404, json={"error": "not found"})

    def posts(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path == "/order"]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def files(tmp_path: Path, token: str = YES_TOKEN) -> tuple[Path, Path, Path]:
    strategy, settings = tmp_path / "trump.yaml", tmp_path / "signalops.yaml"
    strategy.write_text(STRATEGY)
    settings.write_text(config(token))
    return strategy, settings, tmp_path / "audit.db"


def run_auto(replay_dir: Path, tmp_path: Path, token: str = YES_TOKEN) -> tuple[Any, Clob, Path]:
    strategy, settings, audit = files(tmp_path, token)
    clob = Clob()
    with clob_transport(httpx.MockTransport(clob)):
        result = invoke(
            "run", str(strategy), "--mode", "auto", "--live", "--replay", str(replay_dir),
            "--from", AT, "--once", "--config", str(settings), "--audit", str(audit),
        )  # fmt: skip
    return result, clob, audit


def test_auto_run_on_a_polymarket_venue_posts_the_configured_token_at_its_recorded_price(
    env: None, replay_dir: Path, tmp_path: Path
) -> None:
    result, clob, audit = run_auto(replay_dir, tmp_path)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"{AT}T00:00:00Z  1 decision: 1 BUY (1 filled)  [")
    # create_order read the token's tick size and neg-risk flag, then one order was posted.
    reads = [r for r in clob.requests if r.url.path != "/order"]
    assert {r.url.params["token_id"] for r in reads} == {YES_TOKEN}
    (posted,) = clob.posts()
    order = posted["order"]
    address = ClobClient(CLOB_URL, chain_id=137, key=PRIVATE_KEY).get_address()
    assert (order["maker"], order["signer"], posted["owner"]) == (address, address, API_KEY)
    assert order["tokenId"] == YES_TOKEN and order["side"] == "BUY"
    assert posted["orderType"] == "GTC"
    # 1% of 10,000 USDC at the recorded 0.953: 104.93179433 shares, which py-clob-client sends
    # as 104.93 (two decimals), paying 0.953 each: amounts in 6-decimal units.
    size = Decimal(order["takerAmount"]) / 10**6
    price = Decimal(order["makerAmount"]) / Decimal(order["takerAmount"])
    assert (size, price) == (Decimal("104.93"), Decimal("0.953"))
    assert order["signature"].startswith("0x") and len(order["signature"]) == 132

    why = invoke("why", "TRUMP_YES", "--at", AT, "--audit", str(audit))
    assert why.exit_code == 0, why.stderr
    lines = why.stdout.splitlines()
    assert lines[0] == f"TRUMP_YES at {AT}T00:00:00Z: BOUGHT"
    leaf = "polymarket('511754').yes = 0.953 at 2024-11-10T00:00:00Z (0s old, max 2d)"
    assert f"            {leaf}" in lines
    assert "RISK: approved" in lines
    (ordered,) = [line for line in lines if line.startswith("ORDER: ")]
    client_order = ordered.rsplit(" ", 1)[1]
    assert ordered == (
        "ORDER: BUY 104.93179433 TRUMP_YES at 0.953 (notional 100.00), client order " + client_order
    )
    # What was filled is what was sent: the size as py-clob-client rounded it.
    assert lines[lines.index("FOLLOW-UPS:") + 1 :] == [
        f"  {AT}T00:00:00Z  order {client_order} submitted",
        f"  {AT}T00:00:00Z  order {client_order}: FILLED: polymarket BUY 104.93 shares of "
        "TRUMP_YES at 0.953 or better (matched)",
        f"  {AT}T00:00:00Z  filled 104.93 TRUMP_YES at 0.953, fee 0.00 (polymarket)",
    ]
    as_json = invoke("why", "TRUMP_YES", "--at", AT, "--audit", str(audit), "--json")
    (result,) = [f for f in json.loads(as_json.stdout)["followups"] if f["kind"] == "order_result"]
    execution = result["record"]["execution"]
    assert execution["venue_order_id"] == ORDER_ID
    assert execution["details"]["token_id"] == YES_TOKEN
    assert execution["details"]["salt"] == str(order["salt"])
    fill = execution["fill"]
    assert (fill["quantity"], fill["price"], fill["notional"]) == ("104.93", "0.953", "99.99829")
    assert invoke("audit", "verify", "--audit", str(audit)).exit_code == 0


def test_a_token_no_recorded_market_lists_is_denied_no_price_and_nothing_is_posted(
    env: None, replay_dir: Path, tmp_path: Path
) -> None:
    result, clob, audit = run_auto(replay_dir, tmp_path, token="123456")

    assert result.exit_code == 0, result.stderr
    assert clob.requests == []
    why = invoke("why", "TRUMP_YES", "--at", AT, "--audit", str(audit))
    assert why.stdout.splitlines()[0] == (
        f"TRUMP_YES at {AT}T00:00:00Z: DENIED by the risk gate: NO_PRICE "
        "(asset TRUMP_YES, polymarket token 123456)"
    )


def test_the_executor_built_from_the_config_trades_each_asset_as_its_configured_token(
    env: None, tmp_path: Path
) -> None:
    _, settings, _ = files(tmp_path)
    venues = load_config(settings).venues
    venue = venues.executor_venue()
    assert venue is not None

    built = build_auto_executor(live=True, venue=venue, symbols=venues.symbols_on(venue))

    assert isinstance(built, PolymarketExecutor)
    assert built.tokens == {"TRUMP_YES": YES_TOKEN}


def test_validate_does_not_warn_for_an_asset_on_the_polymarket_venue(tmp_path: Path) -> None:
    strategy, settings, _ = files(tmp_path)

    result = invoke("validate", str(strategy), str(settings))

    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""


def test_validate_warns_when_a_polymarket_asset_has_no_token_id_as_its_symbol(
    tmp_path: Path,
) -> None:
    strategy, settings, _ = files(tmp_path, token="TRUMP")

    result = invoke("validate", str(strategy), str(settings))

    assert result.exit_code == 0
    assert result.stderr == (
        f"warning: {strategy}: asset TRUMP_YES is on Polymarket venue 'pm' but 'TRUMP' is not a "
        "CLOB token id: give the token of the outcome it trades as its symbol (assets: "
        "{TRUMP_YES: {venue: pm, symbol: TOKEN_ID}})\n"
    )
