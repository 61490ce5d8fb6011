"""Yahoo answers as yfinance asks for them, at its requests session: the recorded AAPL chart
(its events list the 4:1 split of 2020-08-31) and the cookie/crumb requests yfinance makes first;
and yfinance's caches kept out of the tests."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import yfinance
from requests.adapters import BaseAdapter as RequestsTransport
from yfinance.data import YfData

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHART = json.loads((FIXTURES / "yahoo" / "chart_AAPL_1d_2020-08-31_2020-11-06.json").read_text())[
    "body"
]


def response(request: requests.PreparedRequest, status: int, text: str) -> requests.Response:
    """Yahoo's answer to ``request``: ``text`` with ``status`` (JSON when it looks like it)."""
    answer = requests.Response()
    answer.status_code = status
    answer.url = str(request.url)
    answer.request = request
    answer.encoding = "utf-8"
    answer.raw = io.BytesIO(text.encode())
    answer.headers["Content-Type"] = "application/json" if text[:1] == "{" else "text/html"
    return answer


class RecordedChart(RequestsTransport):
    """Yahoo's chart of AAPL as recorded (its events list the 4:1 split of 2020-08-31), with the
    cookie/crumb requests yfinance makes first; ``status`` other than 200 answers the chart with
    that status instead."""

    def __init__(self, status: int = 200) -> None:
        super().__init__()
        self.status = status
        self.charts: list[str] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        parts = urlsplit(str(request.url))
        if parts.path.endswith("/v1/test/getcrumb"):
            return self._response(request, 200, "recorded-test-crumb")
        if parts.hostname and "consent" in parts.hostname:
            return self._response(request, 200, "<html><body></body></html>")
        if parts.path.endswith("/v8/finance/chart/AAPL"):
            self.charts.append(str(request.url))
            if self.status != 200:
                return self._response(request, self.status, "Internal Server Error")
            return self._response(request, 200, json.dumps(CHART))
        return self._response(request, 404, "")

    _response = staticmethod(response)

    def close(self) -> None:
        pass


def hermetic(monkeypatch: pytest.MonkeyPatch) -> None:
    """yfinance keeps cookies and time zones in on-disk caches and responses in a process-wide
    one; none may leak between tests or touch the user's cache directory."""
    monkeypatch.setattr(
        yfinance.cache._CookieCacheManager, "_Cookie_cache", yfinance.cache._CookieCacheDummy()
    )
    monkeypatch.setattr(yfinance.cache._TzCacheManager, "_tz_cache", yfinance.cache._TzCacheDummy())
    YfData.cache_get.cache_clear()
