"""Polymarket odds: market metadata from Gamma, prices and order books from the CLOB.

A market is named by **slug** (``will-trump-deport-less-than-250000``) or by numeric **id**
(``511754``); the name is used exactly as the strategy writes it (stripped), also as the key of
the recorded series.

Live (``PolymarketAdapter.live(...)``)
  - Metadata: ``GET {gamma}/markets?slug=<slug>`` (a list; ``[]`` is UNKNOWN_MARKET) or, for an
    all-digit name, ``GET {gamma}/markets/<id>`` (an object; HTTP 404 is UNKNOWN_MARKET), through
    the shared ``HttpClient`` and cached ``metadata_ttl`` seconds. Gamma sends ``outcomes``,
    ``outcomePrices`` and ``clobTokenIds`` as JSON-encoded *strings*; they are decoded, and
    outcome ``i`` trades as token ``i``. A market with ``closed: true`` is MARKET_CLOSED for every
    live read (its prices are no longer quoted; replay its recorded history instead).
  - ``yes`` / ``no`` / ``outcome(name)``: the CLOB midpoint of that outcome's token
    (py-clob-client ``get_midpoint``) at fetch time; the data time is the fetch time. There is no
    fallback to Gamma's ``outcomePrices``: they are a cached snapshot of unknown age, and a
    missing live price must make the leaf UNKNOWN rather than quietly old. (Gamma's price is
    kept in the observation's detail, for comparison.) Outcome names match case-insensitively;
    an unknown one is UNKNOWN_OUTCOME listing the valid ones, and ``yes``/``no`` on a market
    whose outcomes are not Yes/No is NOT_APPLICABLE.
  - ``spread(outcome)``: best ask - best bid of that token's book (``get_order_book``). The
    book's sides are sorted here (the CLOB sends bids ascending, asks descending, but nothing
    relies on it); the data time is the book's own timestamp (milliseconds on the wire).
  - ``liquidity`` / ``volume_24h``: Gamma ``liquidityNum`` (else the ``liquidity`` string) and
    ``volume24hr``; the data time is when Gamma was actually asked (a cached answer keeps its
    original time).
  - ``change(window, outcome)``: the outcome's current price (the same midpoint as above, read
    once per fetch) minus the price in force at ``as_of - window``: the latest point at or
    before it in ``GET {clob}/prices-history?market=<token>&interval=max&fidelity=<minutes>``
    (``{"history": [{"t": unix_s, "p": price}]}``, through the ``HttpClient``). The data time is
    the current price's. ``fidelity`` defaults to window/12 minutes, between 1 and 10.
  - A token's price (``token_price_request``: the reference price of an asset a Polymarket
    venue serves, whose symbol is the CLOB token it trades as): the market listing the token
    (``GET {gamma}/markets?clob_token_ids=<token>``, named by its slug, else its id, cached
    and recorded like any market read) and that outcome's midpoint, as for ``outcome``.
  - A live value fetched after ``as_of`` (the engine's clock ticked, then we asked) is stamped
    ``as_of`` when it is at most ``max_skew`` seconds later, and refused (LOOK_AHEAD) beyond
    that: a live midpoint cannot answer for a moment in the past; use a replay.

py-clob-client sends every request through ONE module-level client,
``py_clob_client.http_helpers.helpers._http_client``. ``use_clob_transport(transport)`` (and
``live(clob_transport=...)``, and the ``clob_transport(...)`` context manager) replace it with
``httpx.Client(transport=transport)``: that is **process-global** -- it affects every
``ClobClient`` in the process, an executor's included. Tests use it to run the real
py-clob-client code against recorded responses. Whichever client is installed, its answers are
bounded before py-clob-client parses them (``guard_clob_client``): too large, too deeply nested, a
redirect to itself, and a transport's unnamed failure each have their code.

Replay (``PolymarketAdapter.replay(store)``) reads the same raw series from the snapshot store:

  ``prices/<market>/<outcome lowercased>``  t = price time, v = price (0..1)
  ``markets/<market>``   t = when the metadata was read, v = {id, slug, question, outcomes,
                         token_ids, closed, liquidity, volume_24h}
  ``books/<market>/<outcome lowercased>``   t = book time, v = {bid, ask} (best bid and ask)

``yes``/``no``/``outcome`` are the latest price at or before ``as_of``, and ``change`` is that
minus the latest price at or before ``as_of - window`` (the same code as live). ``spread`` comes
from ``books/...`` and ``liquidity``/``volume_24h`` from ``markets/...`` snapshots (NO_DATA when
there are none, or when they are null). A closed market's history replays normally. When no
series is recorded under the name a strategy uses, the replay looks for a ``markets/*`` snapshot
whose id or slug is that name. A token's price is the price series of the outcome whose
recorded metadata lists the token (``markets/*`` ``token_ids``, matched to ``outcomes`` by
position); NO_DATA when no recorded market lists it. A live adapter given ``record=store``
appends exactly these series as it reads them (midpoints and history points both go to
``prices/...``).

Bundled data (``import_bundled(Path("examples/data"))``):
  - ``polymarket/election_top20_daily_price_history_2024-08_2025-06.json`` (daily prices of both
    tokens of 20 election markets) -> ``prices/<market id>/{yes,no}``, tokens mapped to outcomes
    through ``election_top20_markets.json`` (``clob_token_ids`` and ``outcomes``, given as lists,
    JSON strings or Python-style list strings). A daily price labelled with a date is stamped
    **the end of that UTC day** (date + 1 day, 00:00 UTC): a price is only known to be that
    day's once the day is over, so a replay can never see it early. (The labels look like
    start-of-day snapshots -- 511754's price labelled 2024-11-06 is still 0.5765, the jump to
    0.9595 is labelled 11-07 -- so this is conservative by up to a day: a replay sees the
    election result at 2024-11-08 00:00.) Metadata ``markets/<id>`` is written at the market's
    start (closed: false) and at its closing time (closed: true); the dataset's volume and
    liquidity were captured after resolution, so they are not imported (null).
  - ``polymarket/clob_prices-history_MSTR-sells-BTC-2026_YES_max.json`` (YES token only, raw
    CLOB history, t as recorded) -> ``prices/microstrategy-sells-any-bitcoin-by-december-31-2026
    /yes`` (a readable name for "MicroStrategy sells any Bitcoin by December 31, 2026?", chosen
    here: the recording does not include the market's Gamma slug).
"""

from __future__ import annotations

import ast
import json
import math
import re
import shlex
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import httpx

from signalops.adapters import hints
from signalops.adapters.base import BaseAdapter, live_time
from signalops.adapters.http import (
    HttpClient,
    ReportingTransport,
    UnusableAnswer,
    bad_response,
    bound_answers,
    field_of,
    number,
)
from signalops.adapters.snapshots import SnapshotStore
from signalops.catalogue.builtin import POLYMARKET
from signalops.catalogue.spec import format_duration
from signalops.codes import Code
from signalops.errors import AdapterError
from signalops.extras import require
from signalops.observation import Observation, Request
from signalops.venues import Venues

SOURCE = "polymarket"
_T = TypeVar("_T")
GAMMA_URL = "https://gamma-api.polymarket.com"
CLOB_URL = "https://clob.polymarket.com"

ELECTION_PRICES = "election_top20_daily_price_history_2024-08_2025-06.json"
ELECTION_MARKETS = "election_top20_markets.json"
MSTR_HISTORY = "clob_prices-history_MSTR-sells-BTC-2026_YES_max.json"
MSTR_SLUG = "microstrategy-sells-any-bitcoin-by-december-31-2026"

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_STATUS = re.compile(r"^HTTP (\d{3})\b")
_FIDELITIES = (1, 2, 5, 10)  # minutes


def _error(message: str, reason: Code) -> AdapterError:
    return AdapterError(message, source=SOURCE, reason=reason)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _quoted(names: Any) -> str:
    return ", ".join(repr(n) for n in names)


def token_price_request(token: str) -> Request:
    """The request for the price of the outcome whose CLOB token is ``token``: the reference
    price of an asset a Polymarket venue serves (``signalops.pipeline.cycle``). Only the
    pipeline asks it; a strategy's conditions name a market and an outcome."""
    return Request(SOURCE, "outcome", (("token", token),))


def asset_token(venues: Venues, asset: str) -> str:
    """The CLOB token ``asset`` trades as on a Polymarket venue: its configured symbol, else the
    asset's own name (as ``PolymarketExecutor`` reads its ``tokens``)."""
    mapped = venues.assets.get(asset)
    return mapped.symbol if mapped is not None and mapped.symbol else asset


def prices_key(market: str, outcome: str) -> str:
    return f"prices/{market}/{outcome.strip().lower()}"


def books_key(market: str, outcome: str) -> str:
    return f"books/{market}/{outcome.strip().lower()}"


def markets_key(market: str) -> str:
    return f"markets/{market}"


# --- market metadata -------------------------------------------------------------------------


def _decode_list(value: Any, what: str) -> list[Any]:
    """A list given as a list or as a JSON-encoded string (Gamma's habit)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise bad_response(
                SOURCE, f"{what} is not a JSON-encoded list: {value[:60]!r}"
            ) from None
    if not isinstance(value, list):
        raise bad_response(SOURCE, f"{what} is {type(value).__name__}, not a list")
    return value


def _strings(values: list[Any], what: str) -> tuple[str, ...]:
    out = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
            raise bad_response(SOURCE, f"{what} holds {value!r}, not a name")
        out.append(str(value).strip())
    return tuple(out)


def _optional_number(raw: dict[str, Any], *names: str) -> float | None:
    """The first of ``names`` present and not null, as a finite float not below zero (these are
    amounts: liquidity, volume); None when all are absent."""
    for name in names:
        value = raw.get(name)
        if value is not None:
            amount = number(SOURCE, value, f"Gamma '{name}'")
            if amount < 0:
                raise bad_response(SOURCE, f"Gamma '{name}' is {amount:g}: cannot be negative")
            return amount
    return None


@dataclass(frozen=True)
class Market:
    """What the adapter needs to know about one market, from Gamma or from a snapshot."""

    ref: str
    question: str
    outcomes: tuple[str, ...]
    token_ids: tuple[str, ...] = ()
    closed: bool = False
    id: str | None = None
    slug: str | None = None
    liquidity: float | None = None
    volume_24h: float | None = None
    gamma_prices: tuple[float, ...] | None = None
    fetched_at: float | None = None

    @classmethod
    def from_gamma(cls, raw: Any, ref: str, fetched_at: float) -> Market:
        if not isinstance(raw, dict):
            raise bad_response(SOURCE, f"Gamma market is {type(raw).__name__}, not an object")
        outcomes = _strings(
            _decode_list(field_of(SOURCE, raw, "outcomes"), "Gamma 'outcomes'"), "outcomes"
        )
        tokens: tuple[str, ...] = ()
        if raw.get("clobTokenIds") is not None:  # absent for markets without an order book
            tokens = _strings(_decode_list(raw["clobTokenIds"], "Gamma 'clobTokenIds'"), "tokens")
            if len(tokens) != len(outcomes):
                raise bad_response(
                    SOURCE,
                    f"Gamma market has {len(outcomes)} outcomes but {len(tokens)} CLOB tokens",
                )
        gamma_prices = None
        if raw.get("outcomePrices") is not None:
            listed = _decode_list(raw["outcomePrices"], "Gamma 'outcomePrices'")
            gamma_prices = tuple(number(SOURCE, p, "Gamma outcome price") for p in listed)
        closed = field_of(SOURCE, raw, "closed")
        if not isinstance(closed, bool):
            raise bad_response(SOURCE, f"Gamma 'closed' is {closed!r}, not true or false")
        question = raw.get("question")
        return cls(
            ref=ref,
            question=question if isinstance(question, str) else "",
            outcomes=outcomes,
            token_ids=tokens,
            closed=closed,
            id=str(field_of(SOURCE, raw, "id")),
            slug=raw.get("slug") if isinstance(raw.get("slug"), str) else None,
            liquidity=_optional_number(raw, "liquidityNum", "liquidity"),
            volume_24h=_optional_number(raw, "volume24hr"),
            gamma_prices=gamma_prices,
            fetched_at=fetched_at,
        )

    @classmethod
    def from_record(cls, value: Any, ref: str, t: float) -> Market:
        try:
            liquidity, volume = value.get("liquidity"), value.get("volume_24h")
            return cls(
                ref=ref,
                question=str(value.get("question") or ""),
                outcomes=tuple(str(o) for o in value["outcomes"]),
                token_ids=tuple(str(tk) for tk in value.get("token_ids") or ()),
                closed=bool(value.get("closed", False)),
                id=None if value.get("id") is None else str(value["id"]),
                slug=value.get("slug"),
                liquidity=None if liquidity is None else float(liquidity),
                volume_24h=None if volume is None else float(volume),
                fetched_at=t,
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise _error(
                f"recorded metadata of market '{ref}' is malformed ({type(exc).__name__}: {exc})",
                Code.BAD_SNAPSHOT,
            ) from None

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "question": self.question,
            "outcomes": list(self.outcomes),
            "token_ids": list(self.token_ids),
            "closed": self.closed,
            "liquidity": self.liquidity,
            "volume_24h": self.volume_24h,
        }

    @property
    def label(self) -> str:
        return f"'{self.ref}' ({self.question})" if self.question else f"'{self.ref}'"

    def index(self, name: str, metric: str) -> int:
        """The position of outcome ``name`` (case-insensitive)."""
        wanted = name.strip().casefold()
        for i, outcome in enumerate(self.outcomes):
            if outcome.casefold() == wanted:
                return i
        if metric in ("yes", "no"):
            raise _error(
                f"market {self.label} has no '{metric}' outcome (outcomes: "
                f"{_quoted(self.outcomes)}); use outcome(name=...)",
                Code.NOT_APPLICABLE,
            )
        raise _error(
            f"market {self.label} has no outcome {name!r}; valid outcomes: "
            f"{_quoted(self.outcomes)}",
            Code.UNKNOWN_OUTCOME,
        )

    def token(self, i: int) -> str:
        if not self.token_ids:
            raise _error(f"market {self.label} has no CLOB order book tokens", Code.NO_DATA)
        return self.token_ids[i]


# --- py-clob-client ----------------------------------------------------------------------------


def use_clob_transport(
    transport: httpx.BaseTransport | None, *, timeout: float = 10.0
) -> httpx.Client:
    """Send py-clob-client's requests through ``transport``. PROCESS-GLOBAL.

    py-clob-client has one module-level ``httpx.Client`` for every ``ClobClient``; this replaces
    it with ``httpx.Client(transport=transport, timeout=timeout)`` (``None``: a fresh default
    HTTP/2 client), bounded as ``guard_clob_client`` says, and returns the replaced client, so
    the caller can put it back with ``restore_clob_client``.
    """
    from py_clob_client.http_helpers import helpers

    previous = helpers._http_client
    if transport is None:
        helpers._http_client = httpx.Client(http2=True, timeout=timeout)
    else:
        helpers._http_client = httpx.Client(
            transport=ReportingTransport(transport), timeout=timeout
        )
    guard_clob_client()
    return previous


def guard_clob_client() -> None:
    """Bound every answer py-clob-client's module-level client reads (idempotent).

    py-clob-client parses each answer with the json module, whose C parser recurses on the C
    stack, and it imports py_ecc, which raises Python's recursion limit to 100,000: a deeply
    nested answer would crash the process. ``AnswerBounds`` reads at most ``MAX_RESPONSE_BYTES``
    and refuses such an answer (and a redirect to itself) before py-clob-client sees it; the
    client does not follow redirects, which keeps signed orders and API headers on the CLOB.
    """
    from py_clob_client.http_helpers import helpers

    bound_answers(helpers._http_client)


def restore_clob_client(client: httpx.Client) -> None:
    """Put back the client ``use_clob_transport`` returned (closing the one it installed)."""
    from py_clob_client.http_helpers import helpers

    current = helpers._http_client
    helpers._http_client = client
    if current is not client:
        current.close()


@contextmanager
def clob_transport(transport: httpx.BaseTransport, *, timeout: float = 10.0) -> Iterator[None]:
    """``use_clob_transport`` for the duration of a ``with`` block (process-global meanwhile)."""
    previous = use_clob_transport(transport, timeout=timeout)
    try:
        yield
    finally:
        restore_clob_client(previous)


@dataclass(frozen=True)
class Book:
    """One token's order book: sides sorted best first, prices and sizes as floats."""

    token_id: str
    timestamp: float  # Unix seconds
    bids: tuple[tuple[float, float], ...]  # (price, size), highest price first
    asks: tuple[tuple[float, float], ...]  # (price, size), lowest price first

    @property
    def best_bid(self) -> float | None:
        return self.bids[0][0] if self.bids else None

    @property
    def best_ask(self) -> float | None:
        return self.asks[0][0] if self.asks else None


def _probability(value: Any, what: str) -> float:
    price = number(SOURCE, value, what)
    if not 0.0 <= price <= 1.0:
        raise bad_response(SOURCE, f"{what} is {price}, not a probability between 0 and 1")
    return price


def _recorded_price(value: Any, market: str) -> float:
    try:
        return _probability(value, f"recorded price of market '{market}'")
    except AdapterError as exc:
        raise _error(exc.message, Code.BAD_SNAPSHOT) from None


class Clob:
    """Public CLOB reads through py-clob-client, with retries and stable reason codes.

    ``client`` is a ``py_clob_client.client.ClobClient`` (level 0: no key needed). Failed calls
    with no status (connection errors, timeouts), 429 and 5xx are retried ``retries`` more
    times with doubling back-off from ``backoff`` seconds; a 404 (no order book for the token,
    e.g. a resolved market) is NO_DATA.
    """

    def __init__(
        self,
        client: Any = None,
        *,
        host: str = CLOB_URL,
        retries: int = 2,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if client is None:
            require("py_clob_client", "live", "live Polymarket prices")
            from py_clob_client.client import ClobClient

            client = ClobClient(host)
        guard_clob_client()
        self.client = client
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        self.calls = 0

    def _call(self, what: str, method: Callable[..., Any], *args: Any) -> Any:
        from py_clob_client.exceptions import PolyApiException

        attempts = self.retries + 1
        delay = self.backoff
        problem, reason = "", Code.HTTP_ERROR
        for attempt in range(attempts):
            self.calls += 1
            try:
                return method(*args)
            except PolyApiException as exc:
                status = exc.status_code
                if status is None:
                    cause = exc.__context__
                    if isinstance(cause, UnusableAnswer):
                        raise _error(f"CLOB {what}: {cause}", cause.reason) from None
                    if isinstance(cause, httpx.TooManyRedirects):
                        raise _error(
                            f"CLOB {what} redirects in a loop", Code.REDIRECT_LOOP
                        ) from None
                    if isinstance(cause, httpx.TimeoutException):
                        problem, reason = "timed out", Code.TIMEOUT
                    else:
                        name = type(cause).__name__ if cause is not None else "request failed"
                        problem, reason = f"connection failed ({name})", Code.CONNECTION_ERROR
                else:
                    problem = f"HTTP {status}"
                    reason = Code.RATE_LIMITED if status == 429 else Code.HTTP_ERROR
                    if status == 404:
                        raise _error(f"CLOB {what}: {exc.error_msg}", Code.NO_DATA) from None
                    if status not in _RETRY_STATUSES:
                        raise _error(f"CLOB {what}: {problem} {exc.error_msg}", reason) from None
            except KeyError as exc:
                raise bad_response(SOURCE, f"CLOB {what} response has no field {exc}") from None
            except (TypeError, AttributeError):
                raise bad_response(SOURCE, f"CLOB {what} response is not a JSON object") from None
            except RecursionError:
                # Only a client installed without ``guard_clob_client`` gets here.
                raise _error(
                    f"CLOB {what}: JSON nested too deeply to read", Code.RESPONSE_TOO_DEEP
                ) from None
            if attempt + 1 < attempts:
                self.sleep(min(delay, self.max_backoff))
                delay *= 2
        raise _error(f"CLOB {what}: {problem} (gave up after {attempts} attempts)", reason)

    def _json_object(self, what: str, response: Any) -> dict[str, Any]:
        if not isinstance(response, dict):
            raise bad_response(SOURCE, f"CLOB {what} response is not a JSON object")
        return response

    def midpoint(self, token_id: str) -> float:
        response = self._json_object(
            "midpoint", self._call("midpoint", self.client.get_midpoint, token_id)
        )
        value = response["mid"] if "mid" in response else field_of(SOURCE, response, "mid_price")
        return _probability(value, "CLOB midpoint")

    def price(self, token_id: str, side: str) -> float:
        """Best resting price on ``side``: ``BUY`` is the best bid, ``SELL`` the best ask."""
        if side not in ("BUY", "SELL"):
            raise _error(f"side must be BUY or SELL, got {side!r}", Code.BAD_REQUEST)
        call = self._call("price", self.client.get_price, token_id, side)
        return _probability(
            field_of(SOURCE, self._json_object("price", call), "price"), "CLOB price"
        )

    def spread(self, token_id: str) -> float:
        call = self._call("spread", self.client.get_spread, token_id)
        return number(
            SOURCE, field_of(SOURCE, self._json_object("spread", call), "spread"), "CLOB spread"
        )

    def order_book(self, token_id: str) -> Book:
        summary = self._call("order book", self.client.get_order_book, token_id)
        if summary.asset_id is not None and str(summary.asset_id) != token_id:
            raise bad_response(
                SOURCE, f"CLOB returned the book of token {summary.asset_id}, not {token_id}"
            )
        timestamp = number(SOURCE, summary.timestamp, "order book timestamp") / 1000.0
        sides = []
        for name, levels in (("bids", summary.bids), ("asks", summary.asks)):
            if not isinstance(levels, list):
                raise bad_response(SOURCE, f"order book '{name}' is not a list")
            sides.append(
                [
                    (
                        _probability(level.price, f"order book {name} price"),
                        number(SOURCE, level.size, f"order book {name} size"),
                    )
                    for level in levels
                ]
            )
        bids = tuple(sorted(sides[0], key=lambda level: -level[0]))
        asks = tuple(sorted(sides[1], key=lambda level: level[0]))
        return Book(token_id, timestamp, bids, asks)


# --- feeds -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One value a feed read, with the time it refers to and context for the trace."""

    value: float
    t: float
    detail: dict[str, Any] = field(default_factory=dict)
    fetched_at: float | None = None


@dataclass(frozen=True)
class History:
    """Price points of one outcome, oldest first, none after ``as_of``."""

    times: list[float]
    prices: list[float]
    detail: dict[str, Any] = field(default_factory=dict)


class MarketFeed(Protocol):
    """Where market data comes from: Gamma + CLOB (live) or the snapshot store (replay)."""

    name: str

    def price(self, market: str, outcome: str, as_of: float, metric: str) -> Point: ...

    def top_of_book(self, market: str, outcome: str, as_of: float) -> tuple[float, float, Point]:
        """``(best_bid, best_ask, point)``; ``point.value`` is the spread."""
        ...

    def stat(self, market: str, metric: str, as_of: float) -> Point: ...

    def history(self, market: str, outcome: str, as_of: float, window: int) -> History: ...

    def token_price(self, token: str, as_of: float) -> Point:
        """The price of the outcome whose CLOB token is ``token``."""
        ...


def _fidelity(window: int) -> int:
    minutes = window / 60 / 12
    return max([f for f in _FIDELITIES if f <= minutes], default=1)


def _http_status(exc: AdapterError) -> int | None:
    match = _STATUS.match(exc.message)
    return int(match.group(1)) if match else None


def parse_history(raw: Any, what: str) -> tuple[list[float], list[float]]:
    """``{"history": [{"t": unix_s, "p": price}]}`` -> sorted times and prices (last wins)."""
    points = field_of(SOURCE, raw, "history")
    if not isinstance(points, list):
        raise bad_response(SOURCE, f"{what}: 'history' is not a list")
    by_time: dict[float, float] = {}
    for i, point in enumerate(points):
        t = number(SOURCE, field_of(SOURCE, point, "t"), f"{what} point {i} time")
        by_time[t] = _probability(field_of(SOURCE, point, "p"), f"{what} point {i} price")
    times = sorted(by_time)
    return times, [by_time[t] for t in times]


class LiveFeed:
    """Gamma metadata + CLOB midpoints, books and history; optionally recorded to a store."""

    name = "live"

    def __init__(
        self,
        http: HttpClient,
        clob: Clob,
        *,
        gamma_url: str = GAMMA_URL,
        clob_url: str = CLOB_URL,
        record: SnapshotStore | None = None,
        clock: Callable[[], float] = time.time,
        metadata_ttl: float = 60.0,
        history_ttl: float = 60.0,
        max_skew: float = 300.0,
        fidelity: int | None = None,
    ) -> None:
        self.http = http
        self.clob = clob
        self.gamma_url = gamma_url.rstrip("/")
        self.clob_url = clob_url.rstrip("/")
        self.record = record
        self.clock = clock
        self.metadata_ttl = metadata_ttl
        self.history_ttl = history_ttl
        self.max_skew = max_skew
        self.fidelity = fidelity
        self._fetched: dict[str, float] = {}
        self._recorded_until: dict[str, float] = {}

    # metadata

    def market(self, ref: str, as_of: float) -> Market:
        by_id = ref.isdigit()
        if by_id:
            url, params = f"{self.gamma_url}/markets/{ref}", None
        else:
            url, params = f"{self.gamma_url}/markets", {"slug": ref}
        sent = self.http.requests_sent
        try:
            raw = self.http.get_json(url, params, ttl=self.metadata_ttl)
        except AdapterError as exc:
            if by_id and exc.reason == Code.HTTP_ERROR and _http_status(exc) == 404:
                raise _error(
                    f"Polymarket has no market with id {ref} (Gamma: 404)", Code.UNKNOWN_MARKET
                ) from None
            raise
        fresh = self._fresh(ref, sent)
        if isinstance(raw, list):
            matches = [m for m in raw if isinstance(m, dict) and m.get("slug") == ref]
            raw = matches[0] if matches else (raw[0] if raw else None)
        if not raw:
            hint = "slugs use hyphens, " if "_" in ref else ""
            what = "id" if by_id else "slug"
            raise _error(
                f"Polymarket has no market with {what} '{ref}' (Gamma returned none); "
                f"{hint}copy the slug from the market's URL or give its numeric id",
                Code.UNKNOWN_MARKET,
            )
        return self._open(Market.from_gamma(raw, ref, self._fetched[ref]), as_of, fresh)

    def token_market(self, token: str, as_of: float) -> tuple[Market, int]:
        """The market that trades CLOB token ``token`` (``GET {gamma}/markets?clob_token_ids=``)
        and the token's outcome index in it. The market is named by its slug (else its id), so
        a recording of it replays like a market a strategy names."""
        cached = f"token {token}"  # not a market name: those have no spaces
        sent = self.http.requests_sent
        raw = self.http.get_json(
            f"{self.gamma_url}/markets", {"clob_token_ids": token}, ttl=self.metadata_ttl
        )
        fresh = self._fresh(cached, sent)
        listed = raw if isinstance(raw, list) else [raw]
        for entry in listed:
            if not isinstance(entry, dict) or entry.get("clobTokenIds") is None:
                continue
            tokens = _strings(_decode_list(entry["clobTokenIds"], "Gamma 'clobTokenIds'"), "tokens")
            if token in tokens:
                ref = str(entry.get("slug") or field_of(SOURCE, entry, "id"))
                market = Market.from_gamma(entry, ref, self._fetched[cached])
                return self._open(market, as_of, fresh), tokens.index(token)
        raise _error(
            f"Polymarket has no market with CLOB token {token} (Gamma returned none); the "
            "symbol of a Polymarket asset is the token id of the outcome it trades",
            Code.UNKNOWN_MARKET,
        )

    def _fresh(self, cached: str, sent: int) -> bool:
        """Whether the metadata read just now was asked of Gamma (not the cache); its time."""
        fresh = self.http.requests_sent != sent or cached not in self._fetched
        if fresh:
            self._fetched[cached] = self.clock()
        return fresh

    def _open(self, market: Market, as_of: float, fresh: bool) -> Market:
        """``market`` recorded when freshly read, refused when it is closed."""
        if fresh and self.record is not None and market.fetched_at is not None:
            # Stamped like the observations it yields, so a replay at this as_of finds it.
            t = self._clamp(market.fetched_at, as_of)
            t = market.fetched_at if t is None else t
            self.record.append(SOURCE, [(markets_key(market.ref), t, market.record())])
        if market.closed:
            raise _error(
                f"market {market.label} is closed: it has no live prices (replay its recorded "
                "history instead)",
                Code.MARKET_CLOSED,
            )
        return market

    def _clamp(self, t: float, as_of: float) -> float | None:
        """``t``, or ``as_of`` for a value at most ``max_skew`` later; None beyond that."""
        t = live_time(t, as_of, self.max_skew)
        return t if t <= as_of else None

    def _live_time(self, t: float, as_of: float, what: str) -> float:
        clamped = self._clamp(t, as_of)
        if clamped is not None:
            return clamped
        raise _error(
            f"live {what} is from {_iso(t)}, {format_duration(round(t - as_of))} after as_of "
            f"{_iso(as_of)}; a live source cannot answer for the past (use a replay)",
            Code.LOOK_AHEAD,
        )

    def _detail(self, market: Market, i: int, **extra: Any) -> dict[str, Any]:
        detail: dict[str, Any] = {"market": market.ref, "question": market.question}
        detail["outcome"] = market.outcomes[i]
        detail.update(extra)
        return detail

    # reads

    def price(self, market_ref: str, outcome: str, as_of: float, metric: str) -> Point:
        market = self.market(market_ref, as_of)
        return self._midpoint(market, market.index(outcome, metric), as_of)

    def token_price(self, token: str, as_of: float) -> Point:
        market, i = self.token_market(token, as_of)
        return self._midpoint(market, i, as_of)

    def _midpoint(self, market: Market, i: int, as_of: float) -> Point:
        """Outcome ``i``'s CLOB midpoint now, recorded under the market's name."""
        token = market.token(i)
        mid = self.clob.midpoint(token)
        fetched = self.clock()
        t = self._live_time(fetched, as_of, "midpoint")
        if self.record is not None:
            self.record.append(SOURCE, [(prices_key(market.ref, market.outcomes[i]), t, mid)])
        extra: dict[str, Any] = {"price": "CLOB midpoint", "token_id": token}
        if market.gamma_prices is not None and len(market.gamma_prices) == len(market.outcomes):
            extra["gamma_price"] = market.gamma_prices[i]
        return Point(mid, t, self._detail(market, i, **extra), fetched)

    def top_of_book(
        self, market_ref: str, outcome: str, as_of: float
    ) -> tuple[float, float, Point]:
        market = self.market(market_ref, as_of)
        i = market.index(outcome, "spread")
        book = self.clob.order_book(market.token(i))
        fetched = self.clock()
        if book.best_bid is None or book.best_ask is None:
            side = "bids" if book.best_bid is None else "asks"
            raise _error(
                f"the order book of {market.label} {market.outcomes[i]} has no {side}", Code.NO_DATA
            )
        bid, ask = book.best_bid, book.best_ask
        if ask < bid:
            raise bad_response(SOURCE, f"crossed order book: best bid {bid} > best ask {ask}")
        t = self._live_time(book.timestamp, as_of, "order book")
        if self.record is not None:
            key = books_key(market_ref, market.outcomes[i])
            self.record.append(SOURCE, [(key, t, {"bid": bid, "ask": ask})])
        detail = self._detail(market, i, best_bid=bid, best_ask=ask, token_id=book.token_id)
        return bid, ask, Point(ask - bid, t, detail, fetched)

    def stat(self, market_ref: str, metric: str, as_of: float) -> Point:
        market = self.market(market_ref, as_of)
        value = market.liquidity if metric == "liquidity" else market.volume_24h
        if value is None:
            raise _error(f"Gamma reports no {metric} for market {market.label}", Code.NO_DATA)
        fetched = market.fetched_at if market.fetched_at is not None else self.clock()
        t = self._live_time(fetched, as_of, "Gamma metadata")
        detail = {"market": market.ref, "question": market.question, "via": "Gamma"}
        return Point(value, t, detail, fetched)

    def history(self, market_ref: str, outcome: str, as_of: float, window: int) -> History:
        market = self.market(market_ref, as_of)
        i = market.index(outcome, "change")
        token = market.token(i)
        fidelity = self.fidelity or _fidelity(window)
        params = {"market": token, "interval": "max", "fidelity": fidelity}
        raw = self.http.get_json(f"{self.clob_url}/prices-history", params, ttl=self.history_ttl)
        times, prices = parse_history(raw, "CLOB prices-history")
        if not times:
            raise _error(
                f"the CLOB has no price history for {market.label} {market.outcomes[i]}",
                Code.NO_DATA,
            )
        if self.record is not None:
            key = prices_key(market_ref, market.outcomes[i])
            since = self._recorded_until.get(key, -math.inf)
            self.record.append(
                SOURCE, [(key, t, p) for t, p in zip(times, prices, strict=True) if t > since]
            )
            self._recorded_until[key] = times[-1]
        end = bisect_right(times, as_of)
        detail = self._detail(market, i, price="CLOB prices-history", fidelity_minutes=fidelity)
        return History(times[:end], prices[:end], detail)


class ReplayFeed:
    """The recorded series from the snapshot store; never a point dated after ``as_of``."""

    name = "replay"

    def __init__(self, store: SnapshotStore) -> None:
        self.store = store
        self._tokens: dict[str, tuple[str, str]] = {}

    def _key(self, ref: str) -> str:
        """The recorded name for ``ref``: itself, or a market whose recorded id/slug it is."""
        keys = self.store.keys(SOURCE)
        prefixes = (f"prices/{ref}/", f"books/{ref}/")
        if markets_key(ref) in keys or any(k.startswith(prefixes) for k in keys):
            return ref
        for key in keys:
            if key.startswith("markets/"):
                series = self.store.series(SOURCE, key)
                if series is not None and any(
                    isinstance(v, dict) and ref in (str(v.get("id")), v.get("slug"))
                    for v in series.values
                ):
                    return key.removeprefix("markets/")
        return ref

    def market(self, ref: str, as_of: float) -> Market | None:
        series = self.store.series(SOURCE, markets_key(self._key(ref)))
        found = series.last_at_or_before(as_of) if series is not None else None
        return None if found is None else Market.from_record(found[1], ref, found[0])

    def _outcome(self, ref: str, outcome: str, as_of: float, metric: str) -> tuple[str, str]:
        """(recorded market name, outcome name) after checking the outcome where possible."""
        key = self._key(ref)
        market = self.market(ref, as_of)
        if market is not None and market.outcomes:
            return key, market.outcomes[market.index(outcome, metric)]
        return key, outcome.strip()

    def _missing(self, ref: str, key: str, outcome: str, kind: str) -> AdapterError:
        recorded = sorted(
            k.rsplit("/", 1)[1] for k in self.store.keys(SOURCE) if k.startswith(f"{kind}/{key}/")
        )
        provide = _provide(ref, outcome, kind, self.store.directory)
        if recorded:
            return _error(
                f"no recorded {kind} for outcome {outcome!r} of market '{ref}' "
                f"(recorded outcomes: {_quoted(recorded)}): {provide}",
                Code.NO_DATA,
            )
        return _error(f"no recorded {kind} for market '{ref}': {provide}", Code.NO_DATA)

    def price(self, market: str, outcome: str, as_of: float, metric: str) -> Point:
        key, name = self._outcome(market, outcome, as_of, metric)
        series = self.store.series(SOURCE, prices_key(key, name))
        if series is None:
            raise self._missing(market, key, name, "prices")
        found = series.last_at_or_before(as_of)
        if found is None:
            raise _error(
                f"no recorded price of market '{market}' {name} at or before {_iso(as_of)} "
                f"(the first is from {_iso(series.times[0])})",
                Code.NO_DATA,
            )
        t, value = found
        detail = {"market": market, "outcome": name, "price": "recorded"}
        return Point(_recorded_price(value, market), t, detail)

    def token_price(self, token: str, as_of: float) -> Point:
        """The recorded price of the outcome whose CLOB token is ``token``: the market whose
        recorded metadata lists the token, that outcome's price series, the latest point at or
        before ``as_of``. (Any metadata snapshot maps the token, also one recorded after
        ``as_of``: which outcome a token is never changes, and it carries no price.)"""
        found = self._token_outcome(token)
        if found is None:
            raise _no_token(token, self.store.directory)
        key, outcome = found
        point = self.price(key, outcome, as_of, "outcome")
        return Point(point.value, point.t, {**point.detail, "token_id": token}, point.fetched_at)

    def token_prices(self, token: str) -> tuple[list[float], list[float]]:
        """Every recorded price of the outcome whose CLOB token is ``token``: (times, prices),
        oldest first, each price as ``token_price`` reads it. Raises the adapter's NO_DATA when
        no recorded market lists the token or its outcome's prices are not recorded, and
        BAD_SNAPSHOT for a recorded price that is no probability."""
        found = self._token_outcome(token)
        if found is None:
            raise _no_token(token, self.store.directory)
        key, outcome = found
        series = self.store.series(SOURCE, prices_key(key, outcome))
        if series is None or not len(series):
            raise self._missing(key, key, outcome, "prices")
        return list(series.times), [_recorded_price(v, key) for v in series.values]

    def _token_outcome(self, token: str) -> tuple[str, str] | None:
        """(recorded market name, outcome) of CLOB token ``token``; None when none lists it."""
        if token in self._tokens:
            return self._tokens[token]
        for key in sorted(self.store.keys(SOURCE)):
            if not key.startswith("markets/"):
                continue
            series = self.store.series(SOURCE, key)
            for value in series.values if series is not None else ():
                if not isinstance(value, dict):
                    continue  # a malformed snapshot lists no token (reads of it say so)
                tokens = [str(t) for t in value.get("token_ids") or ()]
                outcomes = [str(o) for o in value.get("outcomes") or ()]
                if token in tokens and len(tokens) == len(outcomes):
                    found = (key.removeprefix("markets/"), outcomes[tokens.index(token)])
                    self._tokens[token] = found
                    return found
        return None

    def top_of_book(self, market: str, outcome: str, as_of: float) -> tuple[float, float, Point]:
        key, name = self._outcome(market, outcome, as_of, "spread")
        series = self.store.series(SOURCE, books_key(key, name))
        found = series.last_at_or_before(as_of) if series is not None else None
        if found is None:
            raise _error(
                f"no recorded order book of market '{market}' {name} at or before {_iso(as_of)}",
                Code.NO_DATA,
            )
        t, value = found
        try:
            bid, ask = float(value["bid"]), float(value["ask"])
        except (KeyError, TypeError, ValueError):
            raise _error(
                f"recorded book of '{market}' is malformed: {value!r}", Code.BAD_SNAPSHOT
            ) from None
        detail = {"market": market, "outcome": name, "best_bid": bid, "best_ask": ask}
        return bid, ask, Point(ask - bid, t, detail)

    def stat(self, market: str, metric: str, as_of: float) -> Point:
        found = self.market(market, as_of)
        if found is None:
            raise _error(
                f"no recorded metadata of market '{market}' at or before {_iso(as_of)}",
                Code.NO_DATA,
            )
        value = found.liquidity if metric == "liquidity" else found.volume_24h
        if value is None:
            raise _error(f"no recorded {metric} for market '{market}'", Code.NO_DATA)
        t = found.fetched_at if found.fetched_at is not None else as_of
        detail = {"market": market, "question": found.question, "via": "recorded Gamma"}
        return Point(value, t, detail)

    def history(self, market: str, outcome: str, as_of: float, window: int) -> History:
        key, name = self._outcome(market, outcome, as_of, "change")
        series = self.store.series(SOURCE, prices_key(key, name))
        if series is None:
            raise self._missing(market, key, name, "prices")
        end = series.end(as_of)
        prices = [_recorded_price(v, market) for v in series.values[:end]]
        detail = {"market": market, "outcome": name, "price": "recorded"}
        return History(series.times[:end], prices, detail)


# --- the adapter -------------------------------------------------------------------------------


def price_change(
    now: Point, history: History, as_of: float, window: int
) -> tuple[float, dict[str, Any]]:
    """``now`` minus the price in force at ``as_of - window`` (the latest point at or before it)."""
    times, prices = history.times, history.prices
    then = bisect_right(times, as_of - window) - 1
    if then < 0:
        first = f"starts {_iso(times[0])}" if times else "is empty"
        raise _error(
            f"price history {first}, after as_of - {format_duration(window)} "
            f"({_iso(as_of - window)})",
            Code.INSUFFICIENT_HISTORY,
        )
    # The price "then" must be from about then: a change(1d) against a point 300 days old (a
    # history with a hole) would be a number with no meaning.
    slack = max(window // 2, 3600)
    if as_of - window - times[then] > slack:
        raise _error(
            f"no price within {format_duration(slack)} before as_of - {format_duration(window)} "
            f"({_iso(as_of - window)}): the latest is from {_iso(times[then])}",
            Code.INSUFFICIENT_HISTORY,
        )
    detail = {
        "now": {"t": _iso(now.t), "price": now.value},
        "then": {"t": _iso(times[then]), "price": prices[then]},
        "window": format_duration(window),
    }
    return now.value - prices[then], detail


class PolymarketAdapter(BaseAdapter):
    source = SOURCE
    catalogue = POLYMARKET

    def __init__(self, feed: MarketFeed) -> None:
        self.feed = feed

    @classmethod
    def live(
        cls,
        http: HttpClient | None = None,
        clob: Any = None,
        *,
        transport: httpx.BaseTransport | None = None,
        clob_transport: httpx.BaseTransport | None = None,
        record: SnapshotStore | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        gamma_url: str = GAMMA_URL,
        clob_url: str = CLOB_URL,
        metadata_ttl: float = 60.0,
        history_ttl: float = 60.0,
        max_skew: float = 300.0,
        fidelity: int | None = None,
    ) -> PolymarketAdapter:
        """A live adapter. ``transport`` serves Gamma and prices-history (via ``HttpClient``);
        ``clob_transport`` is installed for py-clob-client **process-wide** (see the module
        docstring); ``clob`` may be a ``ClobClient`` or a ready ``Clob``."""
        if http is None:
            http = HttpClient(SOURCE, transport=transport, sleep=sleep)
        if clob_transport is not None:
            use_clob_transport(clob_transport)
        if not isinstance(clob, Clob):
            clob = Clob(clob, host=clob_url, sleep=sleep)
        feed = LiveFeed(
            http,
            clob,
            gamma_url=gamma_url,
            clob_url=clob_url,
            record=record,
            clock=clock,
            metadata_ttl=metadata_ttl,
            history_ttl=history_ttl,
            max_skew=max_skew,
            fidelity=fidelity,
        )
        return cls(feed)

    @classmethod
    def replay(cls, store: SnapshotStore) -> PolymarketAdapter:
        return cls(ReplayFeed(store))

    def observe(self, request: Request, as_of: datetime, batch: dict[Any, Any]) -> Observation:
        params = request.param_dict
        t = as_of.timestamp()
        if "token" in params:  # a reference price (``token_price_request``), not a condition
            token = str(params["token"]).strip()
            if not token:
                raise _error("token id is empty", Code.BAD_REQUEST)
            point = _once(batch, ("token", token), lambda: self.feed.token_price(token, t))
            return self._observation(point, as_of)
        market = str(params["market"]).strip()
        if not market:
            raise _error("market name is empty", Code.BAD_REQUEST)
        metric = request.metric
        if metric in ("yes", "no", "outcome"):
            name = str(params["name"]) if metric == "outcome" else metric
            return self._observation(self._price(batch, market, name, t, metric), as_of)
        if metric == "spread":
            outcome = str(params["outcome"])
            key = ("book", market, outcome.strip().casefold())
            _, _, point = _once(batch, key, lambda: self.feed.top_of_book(market, outcome, t))
            return self._observation(point, as_of)
        if metric in ("liquidity", "volume_24h"):
            point = _once(
                batch, ("stat", market, metric), lambda: self.feed.stat(market, metric, t)
            )
            return self._observation(point, as_of)
        if metric == "change":
            outcome, window = str(params["outcome"]), int(params["window"])
            history_key = ("history", market, outcome.strip().casefold(), window)
            history = _once(
                batch, history_key, lambda: self.feed.history(market, outcome, t, window)
            )
            now = self._price(batch, market, outcome, t, metric)
            value, detail = price_change(now, history, t, window)
            point = Point(value, now.t, {**now.detail, **detail}, now.fetched_at)
            return self._observation(point, as_of)
        raise _error(
            f"metric '{metric}' is not implemented", Code.UNKNOWN_METRIC
        )  # pragma: no cover

    def _price(self, batch: dict[Any, Any], market: str, name: str, t: float, metric: str) -> Point:
        """The outcome's current price, read once per fetch (``yes`` and ``change`` share it)."""
        key = ("price", market, name.strip().casefold())
        return _once(batch, key, lambda: self.feed.price(market, name, t, metric))

    def _observation(self, point: Point, as_of: datetime) -> Observation:
        fetched = (
            as_of if point.fetched_at is None else datetime.fromtimestamp(point.fetched_at, UTC)
        )
        detail = dict(point.detail)
        detail["feed"] = self.feed.name
        return Observation(
            point.value,
            datetime.fromtimestamp(point.t, UTC),
            SOURCE,
            fetched_at=fetched,
            detail=detail,
        )


def _once(batch: dict[Any, Any], key: tuple[object, ...], read: Callable[[], _T]) -> _T:
    """One read per key per ``fetch`` (failures too), so ten leaves on a market ask once."""
    if key in batch:
        found = batch[key]
        if isinstance(found, AdapterError):
            raise found
        return cast(_T, found)
    try:
        value = read()
    except AdapterError as exc:
        batch[key] = exc
        raise
    batch[key] = value
    return value


# --- bundled data ------------------------------------------------------------------------------


def _listish(value: Any, what: str) -> list[Any]:
    """A list given as a list, a JSON string or a Python-style list string (``"['Yes', 'No']"``)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            try:
                value = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                raise _error(f"{what} is not a list: {value[:60]!r}", Code.BAD_DATA) from None
    if not isinstance(value, list):
        raise _error(f"{what} is {type(value).__name__}, not a list", Code.BAD_DATA)
    return value


def _load_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except ValueError as exc:
        raise _error(f"{path}: not valid JSON ({exc})", Code.BAD_DATA) from None


def _end_of_day(date: str, where: str) -> float:
    try:
        day = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        raise _error(f"{where}: date {date!r} is not YYYY-MM-DD", Code.BAD_DATA) from None
    return (day + timedelta(days=1)).timestamp()


def _election_records(folder: Path) -> Iterator[tuple[str, float, Any]]:
    prices_path, markets_path = folder / ELECTION_PRICES, folder / ELECTION_MARKETS
    if not (prices_path.exists() and markets_path.exists()):
        return
    outcome_of: dict[str, tuple[str, str]] = {}  # token -> (market id, outcome)
    for entry in _load_json(markets_path):
        market_id = str(entry["market_id"])
        where = f"{markets_path.name} market {market_id}"
        outcomes = [str(o) for o in _listish(entry["outcomes"], f"{where} outcomes")]
        tokens = [str(tk) for tk in _listish(entry["clob_token_ids"], f"{where} clob_token_ids")]
        if len(outcomes) != len(tokens):
            raise _error(f"{where}: {len(outcomes)} outcomes, {len(tokens)} tokens", Code.BAD_DATA)
        for token, outcome in zip(tokens, outcomes, strict=True):
            outcome_of[token] = (market_id, outcome)
        meta = {
            "id": market_id,
            "slug": None,
            "question": entry.get("market_question") or "",
            "outcomes": outcomes,
            "token_ids": tokens,
            "closed": False,
            "liquidity": None,  # the dataset's figures were captured after resolution
            "volume_24h": None,
        }
        key = markets_key(market_id)
        if entry.get("start_date"):
            yield key, datetime.fromisoformat(entry["start_date"]).timestamp(), meta
        if entry.get("closed_time"):
            closed_at = datetime.fromisoformat(entry["closed_time"]).timestamp()
            yield key, closed_at, {**meta, "closed": True}
    for market_id, points in _load_json(prices_path).items():
        for point in points:
            found = outcome_of.get(str(point["token_id"]))
            if found is None or found[0] != str(market_id):
                raise _error(
                    f"{prices_path.name}: token {point['token_id']} of market {market_id} "
                    f"is not in {markets_path.name}",
                    Code.BAD_DATA,
                )
            where = f"{prices_path.name} market {market_id}"
            price = point["price"]
            if isinstance(price, bool) or not isinstance(price, int | float):
                raise _error(f"{where}: price {price!r} is not a number", Code.BAD_DATA)
            t = _end_of_day(point["date"], where)
            yield prices_key(str(market_id), found[1]), t, float(price)


def _mstr_records(folder: Path) -> Iterator[tuple[str, float, Any]]:
    path = folder / MSTR_HISTORY
    if not path.exists():
        return
    try:
        times, prices = parse_history(_load_json(path), path.name)
    except AdapterError as exc:
        raise _error(f"{path}: {exc.message}", Code.BAD_DATA) from None
    key = prices_key(MSTR_SLUG, "yes")
    for t, p in zip(times, prices, strict=True):
        yield key, t, p


def import_bundled(data_dir: Path) -> Iterator[tuple[str, float, Any]]:
    """Snapshot records from the bundled Polymarket files under ``data_dir/polymarket``."""
    folder = Path(data_dir) / "polymarket"
    yield from _election_records(folder)
    yield from _mstr_records(folder)


def _to(folder: Path) -> list[str]:
    """``--to FOLDER`` when the replay reads another folder than the commands' default."""
    return [] if Path(folder) == hints.DEFAULT_FOLDER else ["--to", str(folder)]


def _provide(ref: str, outcome: str, kind: str, folder: Path) -> str:
    """The commands that provide an outcome's prices in ``folder``: a download of the market (it
    stores every outcome), or an import of a file as that outcome (``--asset MARKET/OUTCOME``;
    without the outcome a file is imported as ``yes``). Order books have no history: only a
    recording keeps them."""
    if kind != "prices":
        return (
            "order books have no history to download; record them with 'signalops run --record DIR'"
        )
    if outcome.strip().lower() == "yes":
        return hints.provide(SOURCE, ref, to=folder)
    # hints.provide names one --asset for both commands; the import needs the outcome too.
    to = _to(folder)
    download = shlex.join(
        ["signalops", "data", "download", "--source", SOURCE, "--asset", ref, *to]
    )
    imported = shlex.join(["--source", SOURCE, "--asset", f"{ref}/{outcome.strip()}", *to])
    return (
        f"download it with '{download}' or import a file with "
        f"'signalops data import FILE {imported}'"
    )


def _no_token(token: str, folder: Path) -> AdapterError:
    """No recorded market lists ``token``: the download that records the market trading it."""
    words = ["signalops", "data", "download", "--source", SOURCE, "--asset", "MARKET", *_to(folder)]
    return _error(
        f"no recorded Polymarket market lists CLOB token {token}: download the market that "
        f"trades it with '{shlex.join(words)}' (MARKET: its slug or id, as in its URL), which "
        "records its tokens and the price history of each outcome",
        Code.NO_DATA,
    )
