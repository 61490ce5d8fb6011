"""Auto mode: real-order executors driven through the REAL client libraries, offline.

ccxt: the real ``ccxt.binance`` class builds, signs and parses every request; only its HTTP
layer is replaced, at the ``requests.Session`` boundary (``exchange.session.mount``), by
``BinanceSpot`` below, a small Binance spot account that keeps its orders by client order id.
No order traffic was ever recorded (it would need a funded account), so the answers are built
in the shapes Binance documents for ``POST /api/v3/order`` (``newOrderRespType=FULL``, with
``fills``), ``GET /api/v3/order``, ``GET /api/v3/account`` (``balances`` of ``asset``, ``free``,
``locked``) and its error bodies (``{"code": -2010, "msg": ...}``); the
prices are BTC/USDT's on 2024-11-06. The exchange is primed with one BTC/USDT spot market, as
in ``tests/adapters/test_technical.py`` (``load_markets`` would download exchangeInfo).

Polymarket: the real ``ClobClient`` signs orders (EIP-712) with a throwaway key made up for
these tests; py-clob-client's module-level httpx client is swapped for one on an
``httpx.MockTransport`` (``signalops.adapters.polymarket.clob_transport``). The token, tick
size and neg-risk flag are the recorded JD Vance 2028 YES book's
(``examples/data/polymarket``); the ``POST /order`` answers were not recorded and follow the
documented shape (``success``, ``errorMsg``, ``orderID``, ``status``, ``makingAmount``,
``takingAmount``, ``transactionsHashes``; errors ``{"error": ...}``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ccxt
import httpx
import pytest
import requests
from binance_recorded import BTC_USDT
from binance_recorded import response as _response
from py_clob_client.client import ClobClient
from py_clob_client.clob_types import ApiCreds

from signalops.adapters.polymarket import CLOB_URL, clob_transport
from signalops.config import load_config
from signalops.errors import SignalOpsError
from signalops.execution.auto import (
    CcxtExecutor,
    PolymarketExecutor,
    build_auto_executor,
    credential_env,
)
from signalops.execution.base import Executor
from signalops.execution.exchange import PortfolioUnavailable
from signalops.orders import (
    ExecutionStatus,
    Mode,
    OrderIntent,
    Side,
    client_order_id,
    decision_id,
)

ROOT = Path(__file__).resolve().parents[2]
AS_OF = datetime(2024, 11, 6, 14, 0, tzinfo=UTC)
D = Decimal

# Fake credentials, shaped like real ones so a leak would be recognisable.
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def intent(
    side: Side = Side.BUY,
    quantity: str = "0.01",
    price: str = "71250",
    *,
    asset: str = "BTC",
    tag: str = "",
) -> OrderIntent:
    decision = decision_id(f"strategy-hash{tag}", asset, AS_OF, "auto")
    return OrderIntent(
        decision_id=decision,
        client_order_id=client_order_id(decision),
        strategy="Multi_Source_Momentum",
        asset=asset,
        side=side,
        quantity=D(quantity),
        reference_price=D(price),
        notional=D(quantity) * D(price),
        as_of=AS_OF,
        mode=Mode.AUTO,
    )


# --- a Binance spot account behind the real ccxt class ----------------------------------------

TRANSACT_MS = 1730901600123  # 2024-11-06T14:00:00.123Z
READ_TIMED_OUT = "HTTPSConnectionPool(host='api.binance.com', port=443): Read timed out."


def _fills(side: str) -> list[dict[str, Any]]:
    """0.01 BTC in two fills; Binance charges a BUY's fee in BTC, a SELL's in USDT (0.1%)."""
    if side == "BUY":
        fees = [("0.00000600", "BTC"), ("0.00000400", "BTC")]
    else:
        fees = [("0.42750000", "USDT"), ("0.28500600", "USDT")]
    return [
        {"price": "71250.00000000", "qty": "0.00600000", "commission": fees[0][0],
         "commissionAsset": fees[0][1], "tradeId": 3281349891},
        {"price": "71251.50000000", "qty": "0.00400000", "commission": fees[1][0],
         "commissionAsset": fees[1][1], "tradeId": 3281349892},
    ]  # fmt: skip


def _order(params: dict[str, str], order_id: int, status: str) -> dict[str, Any]:
    """``GET /api/v3/order``'s shape for an order placed with ``params``."""
    filled = status == "FILLED"
    return {
        "symbol": params["symbol"],
        "orderId": order_id,
        "orderListId": -1,
        "clientOrderId": params["newClientOrderId"],
        "price": "0.00000000",
        "origQty": f"{D(params['quantity']):.8f}",
        "executedQty": "0.01000000" if filled else "0.00000000",
        "cummulativeQuoteQty": "712.50600000" if filled else "0.00000000",
        "status": status,
        "timeInForce": "GTC",
        "type": "MARKET",
        "side": params["side"],
        "stopPrice": "0.00000000",
        "icebergQty": "0.00000000",
        "time": TRANSACT_MS,
        "updateTime": TRANSACT_MS,
        "isWorking": True,
        "workingTime": TRANSACT_MS,
        "origQuoteOrderQty": "0.00000000",
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def _full(order: dict[str, Any]) -> dict[str, Any]:
    """``POST /api/v3/order``'s FULL answer for a stored order."""
    drop = {"stopPrice", "icebergQty", "time", "updateTime", "isWorking"}
    answer = {k: v for k, v in order.items() if k not in drop}
    answer["transactTime"] = TRANSACT_MS
    answer["fills"] = _fills(order["side"]) if order["status"] == "FILLED" else []
    return answer


class BinanceSpot(requests.adapters.BaseAdapter):
    """Serves ``/api/v3/order`` like Binance spot, keeping orders by client order id.

    ``post`` scripts what the next order requests meet (later ones fill normally):
    ``"fill"``, ``"accept-then-timeout"`` (the order is placed, the answer is lost),
    ``"timeout"`` (lost before reaching the matching engine), ``"insufficient"``, ``"expire"``,
    or an HTTP status (429, 503). ``get`` scripts order look-ups: ``"timeout"``, 401, or None.
    ``account`` is what ``GET /api/v3/account`` meets: ``balances`` entries, ``"timeout"`` or 401.
    """

    def __init__(
        self, *, post: Iterable[Any] = (), get: Iterable[Any] = (), account: Any = ()
    ) -> None:
        super().__init__()
        self.post_script = list(post)
        self.get_script = list(get)
        self.account = account
        self.orders: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, dict[str, str], dict[str, str]]] = []
        self.next_id = 12569099453

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url or "")
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        params.update({k: v[-1] for k, v in parse_qs(body).items()})
        self.calls.append((request.method or "", url.netloc, params, dict(request.headers)))
        if url.path == "/api/v3/account" and request.method == "GET":
            return self._account(request)
        if url.path != "/api/v3/order":
            return _response(request, 404, "<html>no such endpoint here</html>")
        if request.method == "GET":
            return self._query(request, params)
        return self._place(request, params)

    def _query(self, request: requests.PreparedRequest, params: dict[str, str]) -> Any:
        step = self.get_script.pop(0) if self.get_script else None
        if step == "timeout":
            raise requests.ReadTimeout(READ_TIMED_OUT)
        if step == 401:
            body = {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
            return _response(request, 401, json.dumps(body))
        order = self.orders.get(params["origClientOrderId"])
        if order is None:
            body = {"code": -2013, "msg": "Order does not exist."}
            return _response(request, 400, json.dumps(body))
        return _response(request, 200, json.dumps(order))

    def _account(self, request: requests.PreparedRequest) -> Any:
        if self.account == "timeout":
            raise requests.ReadTimeout(READ_TIMED_OUT)
        if self.account == 401:
            body = {"code": -2015, "msg": f"Invalid API-key {API_KEY}, IP, or permissions."}
            return _response(request, 401, json.dumps(body))
        # Binance's "Account information (USER_DATA)" answer for a spot account.
        body = {
            "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0,
            "sellerCommission": 0, "canTrade": True, "canWithdraw": True, "canDeposit": True,
            "brokered": False, "requireSelfTradePrevention": False, "preventSor": False,
            "updateTime": TRANSACT_MS, "accountType": "SPOT", "balances": list(self.account),
            "permissions": ["SPOT"], "uid": 354937868,
        }  # fmt: skip
        return _response(request, 200, json.dumps(body))

    def _place(self, request: requests.PreparedRequest, params: dict[str, str]) -> Any:
        step = self.post_script.pop(0) if self.post_script else "fill"
        if step == "timeout":
            raise requests.ReadTimeout(READ_TIMED_OUT)
        if step == "insufficient":
            body = {"code": -2010, "msg": "Account has insufficient balance for requested action."}
            return _response(request, 400, json.dumps(body))
        if step == 429:
            body = {"code": -1003, "msg": "Too many requests; current limit is 6000 weight."}
            return _response(request, 429, json.dumps(body), {"Retry-After": "3"})
        if isinstance(step, int):
            return _response(request, step, f"<html>{step}</html>", content_type="text/html")
        self.next_id += 1
        order = _order(params, self.next_id, "EXPIRED" if step == "expire" else "FILLED")
        self.orders[params["newClientOrderId"]] = order
        if step == "accept-then-timeout":
            raise requests.ReadTimeout(READ_TIMED_OUT)
        return _response(request, 200, json.dumps(_full(order)))

    def close(self) -> None:
        pass

    def sent(self, method: str) -> list[dict[str, str]]:
        return [params for m, _, params, _ in self.calls if m == method]


def binance(stub: BinanceSpot, exchange: ccxt.binance | None = None) -> ccxt.binance:
    exchange = exchange or ccxt.binance({"apiKey": API_KEY, "secret": API_SECRET})
    exchange.enableRateLimit = False  # the stub has no rate limit; ccxt would sleep
    exchange.set_markets([BTC_USDT])
    exchange.session.mount("https://", stub)
    return exchange


def executor(stub: BinanceSpot, *, sandbox: bool = False) -> CcxtExecutor:
    return CcxtExecutor(binance(stub), sandbox=sandbox)


# --- ccxt: filling ----------------------------------------------------------------------------


def test_ccxt_executor_is_an_executor_in_auto_mode() -> None:
    ex = executor(BinanceSpot())

    assert isinstance(ex, Executor)
    assert ex.mode is Mode.AUTO


def test_market_buy_fills_and_the_request_carries_our_client_order_id() -> None:
    stub = BinanceSpot()
    order = intent(Side.BUY)

    result = executor(stub).execute(order, as_of=AS_OF)

    (placed,) = stub.sent("POST")
    assert placed["newClientOrderId"] == order.client_order_id
    assert (placed["symbol"], placed["side"], placed["type"]) == ("BTCUSDT", "BUY", "MARKET")
    assert placed["quantity"] == "0.01"
    assert result.status is ExecutionStatus.FILLED
    fill = result.fill
    assert fill is not None
    assert (fill.quantity, fill.price) == (D("0.01"), D("71250.6"))  # 712.506 / 0.01
    assert fill.fee == D("0.712506")  # 0.00001 BTC valued at the fill price
    assert fill.venue == "binance" and fill.venue_order_id == "12569099454"
    assert fill.at == datetime(2024, 11, 6, 14, 0, 0, 123000, tzinfo=UTC)
    assert result.details["fees"] == [{"currency": "BTC", "cost": D("0.00001")}]
    assert result.details["venue_status"] == "closed"


def test_an_asset_mapped_to_the_venues_own_id_trades_as_that_market() -> None:
    stub = BinanceSpot()
    ex = CcxtExecutor(binance(stub), sandbox=False, symbols={"BITCOIN": "BTCUSDT"})
    order = intent(Side.BUY, asset="BITCOIN")

    result = ex.execute(order, as_of=AS_OF)

    (placed,) = stub.sent("POST")
    assert ex.symbol("BITCOIN") == "BTC/USDT"
    assert placed["symbol"] == "BTCUSDT"
    assert result.status is ExecutionStatus.FILLED


def test_auto_mode_trades_each_asset_as_the_config_maps_it_on_the_executor_venue(
    tmp_path: Path,
) -> None:
    config = tmp_path / "signalops.yaml"
    config.write_text(
        "venues:\n"
        "  spot: {exchange: binance, quote: USDT, sandbox: false}\n"
        "  stocks: {exchange: yfinance, quote: USD}\n"
        "assets:\n"
        "  BITCOIN: {venue: spot, symbol: BTCUSDT}\n"
        "  AAPL: {venue: stocks}\n"
        "executor: spot\n",
        encoding="utf-8",
    )
    venues = load_config(config).venues
    venue = venues.executor_venue()
    assert venue is not None

    built = build_auto_executor(
        live=True, env=EXCHANGE_ENV, venue=venue, symbols=venues.symbols_on(venue)
    )

    assert isinstance(built, CcxtExecutor)
    assert (built.sandbox, built.symbols) == (False, {"BITCOIN": "BTCUSDT"})


def test_the_order_is_looked_up_by_client_order_id_before_it_is_sent() -> None:
    stub = BinanceSpot()
    order = intent()

    executor(stub).execute(order, as_of=AS_OF)

    assert [method for method, *_ in stub.calls] == ["GET", "POST"]
    (looked_up,) = stub.sent("GET")
    assert looked_up["origClientOrderId"] == order.client_order_id


def test_market_sell_fee_in_usdt_is_taken_as_is() -> None:
    result = executor(BinanceSpot()).execute(intent(Side.SELL), as_of=AS_OF)

    assert result.fill is not None
    assert result.fill.fee == D("0.712506")
    assert result.details["fees"] == [{"currency": "USDT", "cost": D("0.712506")}]


def test_quantity_beyond_the_lot_step_filled_as_sent_is_a_full_fill_not_a_partial_one() -> None:
    stub = BinanceSpot()  # fills 0.01 BTC
    order = intent(quantity="0.01000437")  # sizing's 8 decimals; BTC/USDT's step is 0.00001

    result = executor(stub).execute(order, as_of=AS_OF)
    again = executor(stub).execute(order, as_of=AS_OF)  # found at the venue, not resent

    (placed,) = stub.sent("POST")
    assert placed["quantity"] == "0.01"  # ccxt truncates to the lot step
    for outcome in (result, again):
        assert outcome.status is ExecutionStatus.FILLED
        assert "partial" not in outcome.details and "partial" not in outcome.message
        assert outcome.details["sent"] == D("0.01")
        assert outcome.details["requested"] == D("0.01000437")


def test_executing_an_already_placed_decision_returns_it_without_a_second_create() -> None:
    stub = BinanceSpot()
    order = intent()
    executor(stub).execute(order, as_of=AS_OF)

    after_restart = executor(stub).execute(order, as_of=AS_OF)  # a new process, same venue

    assert len(stub.sent("POST")) == 1
    assert after_restart.status is ExecutionStatus.FILLED
    assert after_restart.details["already_placed"] is True
    assert after_restart.venue_order_id == "12569099454"


# --- ccxt: timeouts are ambiguous ---------------------------------------------------------------


def test_timeout_after_the_order_was_placed_is_resolved_by_reconcile_without_resending() -> None:
    stub = BinanceSpot(post=["accept-then-timeout"])
    order = intent()

    result = executor(stub).execute(order, as_of=AS_OF)

    assert len(stub.sent("POST")) == 1
    assert [m for m, *_ in stub.calls] == ["GET", "POST", "GET"]  # looked up again after
    assert result.status is ExecutionStatus.FILLED
    assert result.details["recovered_from"] == "REQUEST_TIMEOUT"
    assert result.fill is not None and result.fill.quantity == D("0.01")


def test_retry_after_an_unresolved_timeout_finds_the_order_and_does_not_create_again() -> None:
    # The create times out, and so does the look-up after it: nobody knows.
    stub = BinanceSpot(post=["accept-then-timeout"], get=[None, "timeout"])
    order = intent()

    first = executor(stub).execute(order, as_of=AS_OF)
    retry = executor(stub).execute(order, as_of=AS_OF)

    assert first.status is ExecutionStatus.FAILED
    assert first.details["reason"] == "AMBIGUOUS"
    assert first.details["may_have_been_placed"] is True
    assert order.client_order_id in first.message
    assert len(stub.sent("POST")) == 1  # the retry found it instead of sending again
    assert retry.status is ExecutionStatus.FILLED
    assert retry.details["already_placed"] is True


def test_timeout_before_the_order_reached_the_venue_is_failed_and_a_retry_sends_it() -> None:
    stub = BinanceSpot(post=["timeout"])
    order = intent()

    first = executor(stub).execute(order, as_of=AS_OF)
    retry = executor(stub).execute(order, as_of=AS_OF)

    assert first.details["reason"] == "REQUEST_TIMEOUT"
    assert first.details["may_have_been_placed"] is False
    assert "not placed" in first.message
    assert len(stub.sent("POST")) == 2
    assert retry.status is ExecutionStatus.FILLED


def test_server_error_on_create_is_checked_before_it_is_reported() -> None:
    stub = BinanceSpot(post=[503])

    result = executor(stub).execute(intent(), as_of=AS_OF)

    assert [m for m, *_ in stub.calls] == ["GET", "POST", "GET"]
    assert result.details["reason"] == "EXCHANGE_UNAVAILABLE"
    assert result.details["may_have_been_placed"] is False


# --- ccxt: refusals ---------------------------------------------------------------------------


def test_insufficient_funds_is_failed_with_its_reason_and_nothing_else_is_tried() -> None:
    stub = BinanceSpot(post=["insufficient"])

    result = executor(stub).execute(intent(), as_of=AS_OF)

    assert result.status is ExecutionStatus.FAILED
    assert result.details["reason"] == "INSUFFICIENT_FUNDS"
    assert result.details["may_have_been_placed"] is False
    assert "insufficient balance" in result.message
    assert [m for m, *_ in stub.calls] == ["GET", "POST"]


def test_rate_limit_is_failed_as_rate_limited_without_a_look_up() -> None:
    stub = BinanceSpot(post=[429])

    result = executor(stub).execute(intent(), as_of=AS_OF)

    assert result.details["reason"] == "RATE_LIMITED"
    assert [m for m, *_ in stub.calls] == ["GET", "POST"]


def test_rejected_credentials_fail_the_look_up_and_nothing_is_sent() -> None:
    stub = BinanceSpot(get=[401])

    result = executor(stub).execute(intent(), as_of=AS_OF)

    assert result.details["reason"] == "AUTHENTICATION_FAILED"
    assert "nothing was sent" in result.message
    assert stub.sent("POST") == []


def test_market_order_expired_unfilled_is_failed_as_order_expired() -> None:
    result = executor(BinanceSpot(post=["expire"])).execute(intent(), as_of=AS_OF)

    assert result.status is ExecutionStatus.FAILED
    assert result.details["reason"] == "ORDER_EXPIRED"
    assert result.details["venue_order_id"] == "12569099454"
    assert result.fill is None


def test_unknown_market_is_failed_as_bad_symbol_without_any_request() -> None:
    stub = BinanceSpot()

    result = executor(stub).execute(intent(asset="DOGE"), as_of=AS_OF)

    assert result.details["reason"] == "BAD_SYMBOL"
    assert stub.calls == []


# --- ccxt: reconcile (the pipeline's crash recovery) ------------------------------------------


def test_reconcile_reports_a_placed_order_as_the_venue_has_it() -> None:
    stub = BinanceSpot()
    order = intent(Side.SELL)
    executor(stub).execute(order, as_of=AS_OF)

    found = executor(stub).reconcile(order.client_order_id, "BTC")

    assert found.status is ExecutionStatus.FILLED
    assert found.details["reconciled"] is True
    assert found.fill is not None
    assert (found.fill.side, found.fill.quantity, found.fill.price) == (
        Side.SELL,
        D("0.01"),
        D("71250.6"),
    )
    assert found.fill.fee == 0  # Binance's order query carries no fills, hence no fees
    assert len(stub.sent("POST")) == 1


def test_reconcile_of_an_order_the_venue_never_got_is_not_placed() -> None:
    stub = BinanceSpot()

    found = executor(stub).reconcile(intent().client_order_id, "BTC/USDT")

    assert found.status is ExecutionStatus.FAILED
    assert found.details["reason"] == "NOT_PLACED"
    assert found.details["may_have_been_placed"] is False


def test_reconcile_when_the_venue_cannot_be_asked_is_ambiguous() -> None:
    found = executor(BinanceSpot(get=["timeout"])).reconcile(intent().client_order_id, "BTC")

    assert found.details["reason"] == "AMBIGUOUS"
    assert found.details["cause"] == "REQUEST_TIMEOUT"
    assert found.details["may_have_been_placed"] is True


# --- ccxt: the account's holdings (what the gate checks auto orders against) -----------------


def test_portfolio_is_the_venue_balance_valued_at_the_given_prices() -> None:
    stub = BinanceSpot(
        account=[
            {"asset": "BTC", "free": "0.01500000", "locked": "0.00500000"},
            {"asset": "LTC", "free": "0.00000000", "locked": "0.00000000"},
            {"asset": "USDT", "free": "9000.50000000", "locked": "1000.00000000"},
            {"asset": "BNB", "free": "0.25000000", "locked": "0.00000000"},
        ]
    )

    view = executor(stub).portfolio({"BTC": D("71250")}, AS_OF)

    (read,) = [params for method, _, params, _ in stub.calls if method == "GET"]
    assert "signature" in read  # a signed USER_DATA request
    assert view.cash == D("10000.5")  # the quote currency's total: free + locked
    (btc,) = view.positions.values()
    assert (btc.asset, btc.quantity, btc.last_price) == ("BTC", D("0.02"), D("71250"))
    assert btc.unrealised_pnl == 0  # no cost basis at the venue
    assert view.unpriced == {"BNB": D("0.25")}  # held, priced by nothing: listed, not dropped
    assert view.equity == D("10000.5") + D("1425")  # BNB's value is unknown: not in it
    assert view.day_start_equity == view.equity and view.realised_pnl == 0


def test_portfolio_holding_below_the_lot_step_is_no_position() -> None:
    # What selling 0.02499 of 0.024994 BTC leaves (the BUY's fee was taken in BTC).
    stub = BinanceSpot(account=[{"asset": "BTC", "free": "0.00000400", "locked": "0.00000000"}])

    view = executor(stub).portfolio({"BTC": D("71250")}, AS_OF)

    assert view.positions == {} and view.unpriced == {}


def test_portfolio_of_an_asset_quoted_in_another_currency_leaves_its_holding_unpriced() -> None:
    stub = BinanceSpot(account=[{"asset": "ETH", "free": "2.00000000", "locked": "0.00000000"}])

    view = executor(stub).portfolio({"ETH/BTC": D("0.05")}, AS_OF)  # a price in BTC, not USDT

    assert view.positions == {}
    assert view.unpriced == {"ETH": D("2")}


@pytest.mark.parametrize(
    "account, reason", [("timeout", "RequestTimeout"), (401, "AuthenticationError")]
)
def test_portfolio_the_venue_cannot_report_raises_portfolio_unavailable(
    account: Any, reason: str
) -> None:
    with pytest.raises(PortfolioUnavailable) as unavailable:
        executor(BinanceSpot(account=account)).portfolio({"BTC": D("71250")}, AS_OF)

    assert isinstance(unavailable.value, SignalOpsError)
    message = str(unavailable.value)
    assert message.startswith(f"could not read the balance at binance: {reason}")
    assert API_KEY not in message


# --- ccxt: sandbox ----------------------------------------------------------------------------


def test_sandbox_mode_sends_everything_to_the_binance_testnet() -> None:
    stub = BinanceSpot()
    ex = executor(stub, sandbox=True)

    result = ex.execute(intent(), as_of=AS_OF)

    assert ex.exchange.urls["api"]["private"] == "https://testnet.binance.vision/api/v3"
    assert {host for _, host, _, _ in stub.calls} == {"testnet.binance.vision"}
    assert result.fill is not None and result.fill.venue == "binance:sandbox"
    assert result.details["sandbox"] is True


def test_without_sandbox_orders_go_to_the_real_api() -> None:
    stub = BinanceSpot()

    executor(stub, sandbox=False).execute(intent(), as_of=AS_OF)

    assert {host for _, host, _, _ in stub.calls} == {"api.binance.com"}


# --- build_auto_executor: explicit opt-in, credentials from the environment -------------------

EXCHANGE_ENV = {"SIGNALOPS_EXCHANGE_API_KEY": API_KEY, "SIGNALOPS_EXCHANGE_SECRET": API_SECRET}


def test_auto_without_live_is_refused_with_the_reason() -> None:
    with pytest.raises(SignalOpsError) as refused:
        build_auto_executor(live=False, env=EXCHANGE_ENV)

    assert str(refused.value) == "auto mode places real orders; pass --live to confirm"


def test_auto_without_credentials_names_the_variables() -> None:
    with pytest.raises(SignalOpsError) as refused:
        build_auto_executor(live=True, env={})

    assert str(refused.value) == (
        "auto mode on binance needs credentials from the environment: "
        "SIGNALOPS_EXCHANGE_API_KEY, SIGNALOPS_EXCHANGE_SECRET are not set"
    )


def test_auto_with_half_the_credentials_names_the_missing_one_and_not_the_value() -> None:
    with pytest.raises(SignalOpsError) as refused:
        build_auto_executor(live=True, env={"SIGNALOPS_EXCHANGE_API_KEY": API_KEY})

    assert "SIGNALOPS_EXCHANGE_SECRET is not set" in str(refused.value)
    assert API_KEY not in str(refused.value)


def test_unknown_exchange_is_refused() -> None:
    with pytest.raises(SignalOpsError, match="not a ccxt exchange id"):
        build_auto_executor(live=True, env=EXCHANGE_ENV, exchange_id="nasdaq")


def test_credential_variables_follow_ccxts_credential_names() -> None:
    assert credential_env("apiKey") == "SIGNALOPS_EXCHANGE_API_KEY"
    assert credential_env("secret") == "SIGNALOPS_EXCHANGE_SECRET"
    assert credential_env("password") == "SIGNALOPS_EXCHANGE_PASSWORD"


def test_built_executor_is_on_the_sandbox_by_default_with_the_environment_keys() -> None:
    built = build_auto_executor(live=True, env=EXCHANGE_ENV)

    assert isinstance(built, CcxtExecutor)
    assert built.sandbox is True
    assert (built.exchange.apiKey, built.exchange.secret) == (API_KEY, API_SECRET)


def _secrets_absent(*texts: str, secrets: Iterable[str]) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text


@pytest.mark.parametrize(
    "post, get",
    [((), ()), (["insufficient"], ()), (["accept-then-timeout"], [None, "timeout"]), ((), [401])],
    ids=["filled", "refused", "ambiguous", "auth-failed"],
)
def test_exchange_credentials_never_reach_results_errors_or_logs(
    caplog: pytest.LogCaptureFixture, post: list[Any], get: list[Any]
) -> None:
    caplog.set_level(logging.DEBUG)  # ccxt logs each request with its headers at DEBUG
    built = build_auto_executor(live=True, env=EXCHANGE_ENV)
    assert isinstance(built, CcxtExecutor)
    stub = BinanceSpot(post=post, get=get)
    binance(stub, built.exchange)

    result = built.execute(intent(), as_of=AS_OF)

    assert any(API_KEY[:6] in h.get("X-MBX-APIKEY", "") for *_, h in stub.calls)  # it was sent
    assert any(r.name == "ccxt.base.exchange" for r in caplog.records)  # and logged...
    _secrets_absent(  # ...scrubbed
        json.dumps(result.to_dict()), result.message, caplog.text, secrets=(API_KEY, API_SECRET)
    )


def test_a_venue_error_echoing_the_key_is_redacted() -> None:
    class Echo(BinanceSpot):
        def _place(self, request: requests.PreparedRequest, params: dict[str, str]) -> Any:
            body = {"code": -2015, "msg": f"Invalid API-key {API_KEY}, IP, or permissions."}
            return _response(request, 401, json.dumps(body))

    result = executor(Echo()).execute(intent(), as_of=AS_OF)

    assert result.details["reason"] == "AUTHENTICATION_FAILED"
    assert API_KEY not in result.message and "***" in result.message


# --- Polymarket through py-clob-client --------------------------------------------------------

VANCE_BOOK = json.loads(
    (
        ROOT / "examples/data/polymarket/clob_book_JD-Vance-2028-YES_from-ccxt-fixture.json"
    ).read_text()
)
TOKEN = VANCE_BOOK["asset_id"]
# A throwaway key made up for these tests: sha256 of a fixed phrase; it controls no funds.
PRIVATE_KEY = "0x" + hashlib.sha256(b"signalops throwaway test key").hexdigest()
CLOB_CREDS = ApiCreds(
    api_key="00000000-1111-2222-3333-444444444444",
    api_secret="c2VjcmV0LWZvci10ZXN0cy1vbmx5LW5vdC1yZWFsLTAxMjM0NTY3OA==",
    api_passphrase="passphrase-for-tests-only-0123456789abcdef",
)
ORDER_ID = "0x" + "ab" * 32


def placed(status: str) -> dict[str, Any]:
    return {
        "success": True,
        "errorMsg": "",
        "orderID": ORDER_ID,
        "status": status,
        "makingAmount": "15.2" if status == "matched" else "",
        "takingAmount": "100" if status == "matched" else "",
        "transactionsHashes": ["0x" + "cd" * 32] if status == "matched" else [],
    }


class Clob:
    """The CLOB endpoints ``create_and_post_order`` uses; ``order`` is what POST /order gets:
    a JSON body (200), an ``(status, body)`` pair, or an exception to raise."""

    def __init__(self, order: Any = None, *, tick_size_error: Exception | None = None) -> None:
        self.order = placed("matched") if order is None else order
        self.tick_size_error = tick_size_error
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/tick-size":
            if self.tick_size_error is not None:
                raise self.tick_size_error
            return httpx.Response(200, json={"minimum_tick_size": float(VANCE_BOOK["tick_size"])})
        if path == "/neg-risk":
            return httpx.Response(200, json={"neg_risk": VANCE_BOOK["neg_risk"]})
        if path == "/fee-rate":
            return httpx.Response(200, json={"base_fee": 0})
        if path == "/order" and request.method == "POST":
            if isinstance(self.order, Exception):
                raise self.order
            if isinstance(self.order, tuple):
                return httpx.Response(self.order[0], json=self.order[1])
            return httpx.Response(200, json=self.order)
        return httpx.Response(404, json={"error": "not found"})

    def posts(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == "/order"]


def clob_client() -> ClobClient:
    return ClobClient(CLOB_URL, chain_id=137, key=PRIVATE_KEY, creds=CLOB_CREDS)


def poly_intent(side: Side = Side.BUY) -> OrderIntent:
    return intent(side, quantity="100", price="0.152", asset="vance-2028-yes", tag="poly")


def run_poly(clob: Clob, order: OrderIntent | None = None, times: int = 1) -> list[Any]:
    executor = PolymarketExecutor(clob_client(), tokens={"vance-2028-yes": TOKEN})
    with clob_transport(httpx.MockTransport(clob)):
        return [executor.execute(order or poly_intent(), as_of=AS_OF) for _ in range(times)]


def test_polymarket_buy_posts_a_signed_limit_order_and_a_match_is_a_fill() -> None:
    clob = Clob()

    (result,) = run_poly(clob)

    (post,) = clob.posts()
    body = json.loads(post.content)
    address = clob_client().get_address()
    assert body["owner"] == CLOB_CREDS.api_key and body["orderType"] == "GTC"
    signed = body["order"]
    assert (signed["maker"], signed["signer"]) == (address, address)
    assert signed["tokenId"] == TOKEN and signed["side"] == "BUY"
    # 100 shares at 0.152: 15.2 USDC for 100 shares, in 6-decimal units
    assert (signed["makerAmount"], signed["takerAmount"]) == ("15200000", "100000000")
    assert signed["signature"].startswith("0x") and len(signed["signature"]) == 132
    assert post.headers["POLY_ADDRESS"] == address
    assert result.status is ExecutionStatus.FILLED
    assert result.fill is not None
    assert (result.fill.quantity, result.fill.price) == (D("100"), D("0.152"))
    assert result.venue_order_id == ORDER_ID
    assert result.details["token_id"] == TOKEN
    assert result.details["salt"] == str(signed["salt"])


def test_polymarket_order_resting_on_the_book_is_submitted() -> None:
    (result,) = run_poly(Clob(placed("live")))

    assert result.status is ExecutionStatus.SUBMITTED
    assert result.fill is None
    assert result.venue_order_id == ORDER_ID


def test_polymarket_not_enough_balance_is_insufficient_funds() -> None:
    clob = Clob((400, {"error": "not enough balance / allowance"}))

    (result,) = run_poly(clob)

    assert result.status is ExecutionStatus.FAILED
    assert result.details["reason"] == "INSUFFICIENT_FUNDS"
    assert result.details["may_have_been_placed"] is False


def test_polymarket_unsuccessful_answer_is_order_rejected() -> None:
    answer = {**placed("unmatched"), "success": False, "errorMsg": "order couldn't be fully filled"}

    (result,) = run_poly(Clob(answer))

    assert result.details["reason"] == "ORDER_REJECTED"
    assert "couldn't be fully filled" in result.message


def test_polymarket_timeout_on_post_is_ambiguous_and_is_never_posted_again() -> None:
    clob = Clob(httpx.ReadTimeout("read timed out"))

    first, second = run_poly(clob, times=2)

    assert first.status is ExecutionStatus.FAILED
    assert first.details["reason"] == "AMBIGUOUS"
    assert first.details["may_have_been_placed"] is True
    assert first.details["salt"] in first.message
    assert second is first
    assert len(clob.posts()) == 1


def test_polymarket_reconcile_answers_from_memory_and_is_ambiguous_after_a_restart() -> None:
    clob = Clob(placed("live"))
    order = poly_intent()
    executor = PolymarketExecutor(clob_client(), tokens={"vance-2028-yes": TOKEN})
    with clob_transport(httpx.MockTransport(clob)):
        posted = executor.execute(order, as_of=AS_OF)

    same_process = executor.reconcile(order.client_order_id, order.asset)
    restarted = PolymarketExecutor(clob_client()).reconcile(order.client_order_id, TOKEN)

    assert same_process is posted
    assert restarted.details["reason"] == "AMBIGUOUS"
    assert restarted.details["may_have_been_placed"] is True
    assert TOKEN in restarted.message


def test_polymarket_failure_before_signing_sends_nothing_and_may_be_retried() -> None:
    clob = Clob(tick_size_error=httpx.ConnectError("connection refused"))

    (result,) = run_poly(clob)

    assert result.details["reason"] == "NETWORK_ERROR"
    assert result.details["may_have_been_placed"] is False
    assert clob.posts() == []


def test_polymarket_price_of_one_or_more_is_invalid_without_any_request() -> None:
    clob = Clob()
    order = intent(quantity="10", price="1", asset="vance-2028-yes", tag="p1")

    (result,) = run_poly(clob, order)

    assert result.details["reason"] == "INVALID_ORDER"
    assert clob.requests == []


@pytest.mark.parametrize(
    "answer",
    [placed("matched"), (400, {"error": "invalid signature"}), httpx.ReadTimeout("timed out")],
    ids=["matched", "refused", "ambiguous"],
)
def test_polymarket_key_and_api_secrets_never_reach_results_or_logs(
    caplog: pytest.LogCaptureFixture, answer: Any
) -> None:
    caplog.set_level(logging.DEBUG)

    (result,) = run_poly(Clob(answer))

    _secrets_absent(
        json.dumps(result.to_dict()),
        result.message,
        caplog.text,
        secrets=(
            PRIVATE_KEY,
            PRIVATE_KEY.removeprefix("0x"),
            CLOB_CREDS.api_secret,
            CLOB_CREDS.api_passphrase,
        ),
    )


POLY_ENV = {"SIGNALOPS_POLYMARKET_PRIVATE_KEY": PRIVATE_KEY}


def test_build_polymarket_executor_from_the_environment() -> None:
    built = build_auto_executor(live=True, env=POLY_ENV, exchange_id="polymarket", sandbox=False)

    assert isinstance(built, PolymarketExecutor)
    assert built.client.get_address() == clob_client().get_address()
    assert built.client.creds is None  # derived from the key on first use


def test_polymarket_has_no_sandbox_so_it_needs_sandbox_false() -> None:
    with pytest.raises(SignalOpsError, match="Polymarket has no sandbox"):
        build_auto_executor(live=True, env=POLY_ENV, exchange_id="polymarket")


def test_polymarket_without_a_key_names_the_variable() -> None:
    with pytest.raises(SignalOpsError, match="SIGNALOPS_POLYMARKET_PRIVATE_KEY is not set"):
        build_auto_executor(live=True, env={}, exchange_id="polymarket", sandbox=False)


def test_polymarket_with_part_of_the_api_credentials_names_the_rest() -> None:
    env = {**POLY_ENV, "SIGNALOPS_POLYMARKET_API_KEY": CLOB_CREDS.api_key}

    with pytest.raises(SignalOpsError) as refused:
        build_auto_executor(live=True, env=env, exchange_id="polymarket", sandbox=False)

    message = str(refused.value)
    assert "SIGNALOPS_POLYMARKET_API_SECRET, SIGNALOPS_POLYMARKET_API_PASSPHRASE" in message


def test_polymarket_malformed_key_is_refused_without_quoting_it() -> None:
    env = {"SIGNALOPS_POLYMARKET_PRIVATE_KEY": "0xnot-a-key-sEcReT"}

    with pytest.raises(SignalOpsError) as refused:
        build_auto_executor(live=True, env=env, exchange_id="polymarket", sandbox=False)

    assert "does not hold a usable private key" in str(refused.value)
    assert "sEcReT" not in str(refused.value)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


# --- Polymarket: answers nobody may parse (issue 11) --------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


class DeepClob(Clob):
    """The CLOB above, except that the answer to ``path`` is JSON nested 100,000 deep: with
    py_ecc's recursion limit (100,000, set when py-clob-client is imported) the json module's C
    parser would overflow the C stack on it and end the process."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == self.path:
            self.requests.append(request)
            return httpx.Response(200, text=DEEP)
        return super().__call__(request)


def test_polymarket_deep_answer_to_the_order_is_ambiguous_and_never_posted_again() -> None:
    clob = DeepClob("/order")

    first, second = run_poly(clob, times=2)

    assert first.details["reason"] == "AMBIGUOUS"
    assert first.details["may_have_been_placed"] is True
    assert "is nested too deeply to read" in first.message
    assert second is first
    assert len(clob.posts()) == 1


def test_polymarket_deep_answer_before_signing_is_too_deep_and_sends_nothing() -> None:
    clob = DeepClob("/tick-size")

    (result,) = run_poly(clob)

    assert result.details["reason"] == "RESPONSE_TOO_DEEP"
    assert result.details["may_have_been_placed"] is False
    assert clob.posts() == []


def test_polymarket_transport_crashing_on_the_post_is_ambiguous_not_an_exception() -> None:
    clob = Clob(RuntimeError("proxy plugin crashed"))

    (result,) = run_poly(clob)

    assert result.details["reason"] == "AMBIGUOUS"
    assert result.details["may_have_been_placed"] is True
    assert "failed (RuntimeError: proxy plugin crashed)" in result.message
