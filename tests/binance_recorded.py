"""Binance spot behind the real ccxt class: the market and the HTTP answers the stubs serve.

Tests mount a ``requests`` adapter on the exchange's session (ccxt's own HTTP boundary) and
answer with recorded bodies through ``response``; ``BTC_USDT`` is what ``load_markets`` would
have found (its multi-megabyte answer is not recorded), ``info.orderTypes`` included because
ccxt's binance checks a market order against it.
"""

from __future__ import annotations

from http import HTTPStatus

import requests
from requests.structures import CaseInsensitiveDict

BTC_USDT = {
    "id": "BTCUSDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT", "baseId": "BTC",
    "quoteId": "USDT", "type": "spot", "spot": True, "margin": False, "swap": False,
    "future": False, "option": False, "contract": False, "linear": None, "inverse": None,
    "active": True, "precision": {"amount": 1e-05, "price": 0.01},
    "limits": {"amount": {"min": 1e-05, "max": 9000.0}, "cost": {"min": 5.0, "max": None}},
    "info": {"symbol": "BTCUSDT", "status": "TRADING",
             "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT",
                            "TAKE_PROFIT_LIMIT"]},
}  # fmt: skip


def response(
    request: requests.PreparedRequest,
    status: int,
    body: str,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json;charset=UTF-8",
) -> requests.Response:
    """A ``requests`` response as Binance's servers send it."""
    answer = requests.Response()
    answer.status_code = status
    answer.reason = HTTPStatus(status).phrase
    answer._content = body.encode()
    answer.headers = CaseInsensitiveDict({"Content-Type": content_type, **(headers or {})})
    answer.url = request.url or ""
    answer.request = request
    answer.encoding = "utf-8"
    return answer
