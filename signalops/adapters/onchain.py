"""On-chain flows from DeFiLlama: stablecoin supply and net flow, chain and protocol TVL, CEX flows.

Endpoints (all JSON, through the shared :class:`HttpClient`):

- ``GET https://stablecoins.llama.fi/stablecoincharts/<all|Chain>?stablecoin=<id>``: daily points
  ``[{"date": "<unix s>", "totalCirculatingUSD": {"peggedUSD": x, ...}, "totalMintedUSD": ...}]``.
  Without ``stablecoin`` it is the total of all stablecoins. The supply of a point is the sum of
  its ``totalCirculatingUSD`` values (one per peg type, all already in USD: a single coin has one,
  the total has peggedUSD, peggedEUR, ...). ``totalMintedUSD`` is cumulative and never read.
- ``GET https://stablecoins.llama.fi/stablecoins``: ``{"peggedAssets": [{"id", "symbol", "name",
  "circulating"}]}``, to resolve a symbol that is not in :data:`MAJOR_STABLECOIN_IDS`.
- ``GET https://api.llama.fi/v2/historicalChainTvl/<Chain>``: ``[{"date": s, "tvl": x}]``.
- ``GET https://api.llama.fi/protocol/<slug>``: ``{"tvl": [{"date": s, "totalLiquidityUSD": x}]}``.
- ``GET https://pro-api.llama.fi/<API_KEY>/api/inflows/<slug>/<start>?end=<end>`` (Pro API, key
  from ``$DEFILLAMA_API_KEY``): ``{"outflows": x, "oldTokens": {"date", "tvl"}, "currentTokens":
  {"date", "tvl"}}``. Despite its name, ``outflows`` is DeFiLlama's *net inflow* in USD: the sum
  over tokens of (amount at ``end`` - amount at ``start``) x price at ``end`` (DeFiLlama's
  ``defi/src/getInflows.ts``), so price moves are not counted as flows. Positive = net deposits.

Time convention (the same for live responses and replays, so backtests and live runs agree):
a DeFiLlama daily point is dated 00:00 UTC of the day D it describes, and its value is only final
at the *end* of D. Its data time is therefore ``t = D + 1 day`` (more precisely: the end of the
UTC day that contains the point's date, so an intraday "current" point is treated the same way).
Live responses include today's still-moving point; it is dated tomorrow 00:00 and therefore never
used before the day is over. Example: USDC's 2023-03-12 supply (39.08B) has ``t`` =
2023-03-13 00:00 UTC. CEX flows are read per UTC day the same way: at ``as_of`` the 24h figure is
the net inflow of the last complete UTC day, with ``t`` = the end of that day.

Series keys in the snapshot store (source ``onchain``; ``t`` as above, ``v`` in USD):

- ``stablecoin_supply/<SYMBOL or all>/<chain lowercased or all>``: circulating supply.
- ``chain_tvl/<chain lowercased>``: chain TVL.
- ``protocol_tvl/<slug lowercased>``: protocol TVL.
- ``cex_net_flow/<slug lowercased>``: net inflow into the CEX over the UTC day ending at ``t``.

Computations run on those series whichever feed produced them: ``stablecoin_net_flow`` is the
supply at the latest point at or before ``as_of`` minus the supply at the last point at or before
(that point's time - window): a supply *change* (mints - burns), never a cumulative mint total;
``chain_tvl_change`` is ``tvl(t) / tvl(t - window) - 1`` measured the same way. Anchoring the
window at the latest point rather than at ``as_of`` gives the same answer whenever the data is
current, and keeps a true window-long change when it is not (the observation is then dated at
the stale point and ``max_age`` turns it UNKNOWN instead of a spurious 0 flow).

Misspellings: a replay that has no series of a name says which recorded one it most likely means
(``no recorded series stablecoin_supply/USCD/all (did you mean USDC? recorded: ...)``), and
offers a download only of a name that is not a known misspelling. ``likely_meant``
(``signalops.adapters.defillama_names``, light enough for ``validate``) knows DeFiLlama's
stablecoins offline (``data/defillama_stablecoins.txt``: the bundled export's 282 coins of August
2025) and its spelling of the chains in ``CHAIN_NAMES``; ``validate`` warns of a name it finds
misspelt (a warning: a coin listed since may be real).

Reason codes: NO_DATA (nothing recorded/returned at or before ``as_of``), INSUFFICIENT_HISTORY
(no point a window back, or a zero base TVL), UNKNOWN_STABLECOIN (symbol not on DeFiLlama, or
ambiguous by case), NO_API_KEY (CEX flows without ``$DEFILLAMA_API_KEY``), BAD_REQUEST (a bad
parameter), plus the HTTP client's BAD_RESPONSE, HTTP_ERROR, TIMEOUT, RATE_LIMITED,
CONNECTION_ERROR.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from signalops.adapters import hints
from signalops.adapters.base import BaseAdapter
from signalops.adapters.defillama_names import (
    chain_name,
    is_listed,
    likely_meant,
)
from signalops.adapters.http import HttpClient, bad_response, field_of, number, protect_logs
from signalops.adapters.snapshots import Series, SnapshotStore
from signalops.catalogue.builtin import ONCHAIN
from signalops.codes import Code
from signalops.errors import AdapterError, DataNotFound
from signalops.observation import Observation, Request
from signalops.textmatch import closest

SOURCE = "onchain"
DAY = 86400

STABLECOINS_API = "https://stablecoins.llama.fi"
TVL_API = "https://api.llama.fi"
PRO_API = "https://pro-api.llama.fi"
API_KEY_ENV = "DEFILLAMA_API_KEY"

# DeFiLlama stablecoin ids of the majors, so the common case needs no lookup call. Verified
# against DeFiLlama's own asset list (defillama-server ``stablecoins/src/peggedData``); any other
# symbol is resolved through ``GET /stablecoins``.
MAJOR_STABLECOIN_IDS: dict[str, str] = {
    "USDT": "1",
    "USDC": "2",
    "BUSD": "4",
    "DAI": "5",
    "FRAX": "6",
    "TUSD": "7",
}

# The exchanges ``exchange='default'`` sums: the CEXs DeFiLlama's own CEX-transparency page lists
# by these slugs (Binance, OKX, Bitfinex, Bybit). Coinbase publishes no wallet list and has no
# DeFiLlama CEX entry, so it is not here: one unknown slug would make the whole sum fail.
DEFAULT_CEXES: tuple[str, ...] = ("binance-cex", "okx", "bitfinex", "bybit")

# Bundled files under ``examples/data`` (see its README).
STABLECOIN_CSV = "defillama/stablecoin_supply_daily_by_coin_2017-11_2025-08.csv"
CHAIN_TVL_CSV = "defillama/chain_tvl_daily_wide_2020-01_2025-08.csv"

HISTORY_TTL = 300.0  # daily series change once a day; 5 minutes of caching is harmless
ASSET_LIST_TTL = 6 * 3600.0  # the stablecoin list only grows


# --- time and keys -------------------------------------------------------------------------


def data_time(label: float) -> int:
    """When a DeFiLlama daily point dated ``label`` is known: the end of its UTC day."""
    return (math.floor(label / DAY) + 1) * DAY


def stablecoin_key(symbol: str, chain: str = "all") -> str:
    return f"stablecoin_supply/{symbol}/{_chain_part(chain)}"


def chain_tvl_key(chain: str) -> str:
    return f"chain_tvl/{chain.lower()}"


def protocol_tvl_key(slug: str) -> str:
    return f"protocol_tvl/{slug.lower()}"


def cex_flow_key(slug: str) -> str:
    return f"cex_net_flow/{slug.lower()}"


def _chain_part(chain: str) -> str:
    return "all" if chain.lower() == "all" else chain.lower()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _error(message: str, reason: Code) -> AdapterError:
    return AdapterError(message, source=SOURCE, reason=reason)


# --- response parsing ----------------------------------------------------------------------

Points = list[tuple[float, float]]


def _daily(points: Points) -> Points:
    """Points re-dated by :func:`data_time`, ascending; for one day the later entry wins."""
    by_time: dict[float, float] = {}
    for label, value in sorted(points, key=lambda p: p[0]):
        by_time[data_time(label)] = value
    return sorted(by_time.items())


# Daily histories since 2017 hold a few thousand points; far more is not a real answer and
# would cost seconds and gigabytes to read (600,000 points did).
MAX_POINTS = 50_000


def _list_of(payload: Any, what: str) -> list[Any]:
    if not isinstance(payload, list):
        raise bad_response(SOURCE, f"{what} is {type(payload).__name__}, not a list")
    if len(payload) > MAX_POINTS:
        raise AdapterError(
            f"{what} has {len(payload):,} points, more than the {MAX_POINTS:,} a real one has",
            source=SOURCE,
            reason=Code.RESPONSE_TOO_LARGE,
        )
    return payload


def _amount(value: Any, what: str) -> float:
    """A USD amount (supply, TVL): a finite number not below zero, else BAD_RESPONSE."""
    amount = number(SOURCE, value, what)
    if amount < 0:
        raise bad_response(SOURCE, f"{what} is {amount:g}: an amount cannot be negative")
    return amount


def parse_stablecoin_chart(payload: Any) -> Points:
    """``/stablecoincharts`` -> ``[(t, circulating USD)]``; a day with no supply is skipped."""
    points: Points = []
    for i, point in enumerate(_list_of(payload, "stablecoin chart")):
        label = number(SOURCE, field_of(SOURCE, point, "date"), f"point {i} date")
        circulating = field_of(SOURCE, point, "totalCirculatingUSD")
        if not isinstance(circulating, dict):
            raise bad_response(SOURCE, f"point {i} totalCirculatingUSD is not an object")
        if not circulating:
            continue
        value = math.fsum(
            _amount(v, f"point {i} totalCirculatingUSD.{peg}") for peg, v in circulating.items()
        )
        points.append((label, value))
    return _daily(points)


def parse_chain_tvl(payload: Any) -> Points:
    """``/v2/historicalChainTvl/<Chain>`` -> ``[(t, tvl USD)]``."""
    return _daily(
        [
            (
                number(SOURCE, field_of(SOURCE, point, "date"), f"point {i} date"),
                _amount(field_of(SOURCE, point, "tvl"), f"point {i} tvl"),
            )
            for i, point in enumerate(_list_of(payload, "chain TVL history"))
        ]
    )


def parse_protocol_tvl(payload: Any) -> Points:
    """``/protocol/<slug>`` -> ``[(t, tvl USD)]`` from its ``tvl`` list."""
    history = _list_of(field_of(SOURCE, payload, "tvl"), "protocol tvl")
    return _daily(
        [
            (
                number(SOURCE, field_of(SOURCE, point, "date"), f"tvl[{i}].date"),
                _amount(
                    field_of(SOURCE, point, "totalLiquidityUSD"), f"tvl[{i}].totalLiquidityUSD"
                ),
            )
            for i, point in enumerate(history)
        ]
    )


def parse_inflows(payload: Any, slug: str) -> float:
    """Pro ``/api/inflows`` -> net inflow in USD (DeFiLlama's ``outflows`` field, see above)."""
    return number(SOURCE, field_of(SOURCE, payload, "outflows"), f"{slug} outflows")


def _circulating(asset: Any) -> float:
    values = asset.get("circulating") if isinstance(asset, dict) else None
    if not isinstance(values, dict):
        return 0.0
    total = 0.0
    for value in values.values():
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            total += value
    return total


def pick_stablecoin(assets: Any, wanted: str) -> tuple[str, str]:
    """``(symbol, id)`` of ``wanted`` in DeFiLlama's ``peggedAssets``.

    Exact symbol first, then the same symbol in another case (refused when two symbols differ
    only by case, e.g. USDe and USDE), then the asset name. Several assets with one symbol: the
    one with the largest circulating supply.
    """
    assets = _list_of(assets, "peggedAssets")

    def symbol_of(asset: Any) -> str | None:
        value = asset.get("symbol") if isinstance(asset, dict) else None
        return value if isinstance(value, str) else None

    canonical = wanted
    candidates = [a for a in assets if symbol_of(a) == wanted]
    if not candidates:
        folded = [a for a in assets if (symbol_of(a) or "").lower() == wanted.lower()]
        symbols = sorted({symbol_of(a) or "" for a in folded})
        if len(symbols) > 1:
            raise _error(
                f"stablecoin '{wanted}' is ambiguous: {', '.join(symbols)}; write the exact symbol",
                Code.UNKNOWN_STABLECOIN,
            )
        if folded:
            canonical, candidates = symbols[0], folded
    if not candidates:
        candidates = [
            a
            for a in assets
            if isinstance(a, dict) and str(a.get("name", "")).lower() == wanted.lower()
        ]
    if not candidates:
        listed = sorted((a for a in assets if symbol_of(a)), key=_circulating, reverse=True)
        near = closest(wanted, [symbol_of(a) or "" for a in listed])
        hint = f" (did you mean '{near}'?)" if near else ""
        raise _error(f"DeFiLlama lists no stablecoin '{wanted}'{hint}", Code.UNKNOWN_STABLECOIN)
    best = max(candidates, key=_circulating)
    return canonical, str(field_of(SOURCE, best, "id"))


# --- feeds ---------------------------------------------------------------------------------


class OnchainFeed(Protocol):
    """Where the raw series come from: DeFiLlama (live) or the snapshot store (replay).

    Every series returned holds only points with ``t <= as_of`` (Unix seconds), oldest first.
    """

    name: str

    def stablecoin_symbol(self, symbol: str) -> str:
        """The symbol as the series key spells it (``usdc`` -> ``USDC``), or UNKNOWN_STABLECOIN."""
        ...

    def stablecoin_supply(self, symbol: str, chain: str, as_of: float) -> Series: ...

    def chain_tvl(self, chain: str, as_of: float) -> Series: ...

    def protocol_tvl(self, slug: str, as_of: float) -> Series: ...

    def cex_net_flow(self, slug: str, as_of: float) -> Series: ...


class DefiLlamaFeed:
    """Live series from DeFiLlama, optionally recorded into a snapshot store.

    ``api_key`` defaults to ``$DEFILLAMA_API_KEY`` (read when the feed is built); it is only used
    for CEX flows, is added to the client's ``secrets`` so it is scrubbed from every error, and
    is scrubbed from httpx's request log lines too.
    """

    name = "defillama"

    def __init__(
        self,
        http: HttpClient | None = None,
        *,
        api_key: str | None = None,
        record: SnapshotStore | None = None,
    ) -> None:
        self.http = http if http is not None else HttpClient(SOURCE, min_interval=0.25)
        key = os.environ.get(API_KEY_ENV) if api_key is None else api_key
        self.api_key = key.strip() if key and key.strip() else None
        if self.api_key:
            if self.api_key not in self.http.secrets:
                self.http.secrets = (*self.http.secrets, self.api_key)
            protect_logs(self.api_key)
        self.record = record
        self._ids: dict[str, str] = dict(MAJOR_STABLECOIN_IDS)
        self._recorded: dict[str, float] = {}

    def stablecoin_symbol(self, symbol: str) -> str:
        if symbol.lower() == "all":
            return "all"
        if symbol.upper() in MAJOR_STABLECOIN_IDS:
            return symbol.upper()
        if symbol in self._ids:
            return symbol
        assets = field_of(
            SOURCE,
            self.http.get_json(f"{STABLECOINS_API}/stablecoins", ttl=ASSET_LIST_TTL),
            "peggedAssets",
        )
        canonical, stablecoin_id = pick_stablecoin(assets, symbol)
        self._ids[canonical] = stablecoin_id
        return canonical

    def stablecoin_supply(self, symbol: str, chain: str, as_of: float) -> Series:
        path = "all" if chain.lower() == "all" else chain_name(chain)
        params = {}
        if symbol != "all":
            params["stablecoin"] = (
                self._ids.get(symbol) or self._ids[self.stablecoin_symbol(symbol)]
            )
        payload = self.http.get_json(
            f"{STABLECOINS_API}/stablecoincharts/{path}", params, ttl=HISTORY_TTL
        )
        return self._series(stablecoin_key(symbol, chain), parse_stablecoin_chart(payload), as_of)

    def chain_tvl(self, chain: str, as_of: float) -> Series:
        payload = self.http.get_json(
            f"{TVL_API}/v2/historicalChainTvl/{chain_name(chain)}", ttl=HISTORY_TTL
        )
        return self._series(chain_tvl_key(chain), parse_chain_tvl(payload), as_of)

    def protocol_tvl(self, slug: str, as_of: float) -> Series:
        payload = self.http.get_json(f"{TVL_API}/protocol/{slug.lower()}", ttl=HISTORY_TTL)
        return self._series(protocol_tvl_key(slug), parse_protocol_tvl(payload), as_of)

    def cex_net_flow(self, slug: str, as_of: float) -> Series:
        """Net inflow over the last complete UTC day before ``as_of`` (one point)."""
        if not self.api_key:
            raise _error(
                f"exchange flows need a DeFiLlama Pro API key in ${API_KEY_ENV}", Code.NO_API_KEY
            )
        end = math.floor(as_of / DAY) * DAY
        start = end - DAY
        payload = self.http.get_json(
            f"{PRO_API}/{self.api_key}/api/inflows/{slug.lower()}/{start}",
            {"end": end},
            ttl=HISTORY_TTL,
        )
        return self._series(cex_flow_key(slug), [(end, parse_inflows(payload, slug))], as_of)

    def _series(self, key: str, points: Points, as_of: float) -> Series:
        known = [(t, v) for t, v in points if t <= as_of]
        if self.record is not None:
            last = self._recorded.get(key, -math.inf)
            new = [(t, v) for t, v in known if t > last]
            if new:
                self.record.append(SOURCE, ((key, t, v) for t, v in new))
                self._recorded[key] = new[-1][0]
        return Series(key, [t for t, _ in known], [v for _, v in known])


class ReplayFeed:
    """Series from the snapshot store: never a point dated after ``as_of``."""

    name = "replay"

    def __init__(self, store: SnapshotStore) -> None:
        self.store = store

    def stablecoin_symbol(self, symbol: str) -> str:
        if symbol.lower() == "all":
            return "all"
        if symbol.upper() in MAJOR_STABLECOIN_IDS:
            return symbol.upper()
        symbols = {key.split("/")[1] for key in self.store.keys(SOURCE) if key.count("/") == 2}
        symbols.discard("all")
        if symbol in symbols:
            return symbol
        folded = sorted(s for s in symbols if s.lower() == symbol.lower())
        if len(folded) > 1:
            raise _error(
                f"stablecoin '{symbol}' is ambiguous: {', '.join(folded)}; write the exact symbol",
                Code.UNKNOWN_STABLECOIN,
            )
        return folded[0] if folded else symbol

    def stablecoin_supply(self, symbol: str, chain: str, as_of: float) -> Series:
        key = stablecoin_key(symbol, chain)
        return self._read(key, as_of, lambda: self._no_supply(symbol, chain))

    def chain_tvl(self, chain: str, as_of: float) -> Series:
        missing = partial(self._no_series, "chain", chain, chain_tvl_key)
        return self._read(chain_tvl_key(chain), as_of, missing)

    def protocol_tvl(self, slug: str, as_of: float) -> Series:
        missing = partial(self._no_series, "protocol", slug, protocol_tvl_key)
        return self._read(protocol_tvl_key(slug), as_of, missing)

    def cex_net_flow(self, slug: str, as_of: float) -> Series:
        missing = partial(self._no_series, "exchange", slug, cex_flow_key)
        return self._read(cex_flow_key(slug), as_of, missing)

    def _read(self, key: str, as_of: float, missing: Callable[[], AdapterError]) -> Series:
        series = self.store.series(SOURCE, key)
        if series is None:
            raise missing()
        end = series.end(as_of)
        return Series(key, series.times[:end], series.values[:end])

    def _no_series(self, param: str, name: str, key_of: Callable[[str], str]) -> AdapterError:
        kind = key_of(name).split("/", 1)[0] + "/"
        recorded = [k.removeprefix(kind) for k in self.store.keys(SOURCE) if k.startswith(kind)]
        return self._missing(param, name, key_of, recorded)

    def _no_supply(self, symbol: str, chain: str) -> AdapterError:
        """The coin is what is missing when another coin is recorded on ``chain`` (or the chain
        is ``all``, which every coin has), else the chain."""
        recorded = [
            parts[1:]
            for parts in (k.split("/") for k in self.store.keys(SOURCE))
            if len(parts) == 3 and parts[0] == "stablecoin_supply"
        ]
        part = _chain_part(chain)
        coins = [coin for coin, on in recorded if on == part]
        if coins or part == "all":
            return self._missing("stablecoin", symbol, partial(stablecoin_key, chain=chain), coins)
        chains = [on for coin, on in recorded if coin == symbol]
        return self._missing("chain", chain, partial(stablecoin_key, symbol), chains)

    def _missing(
        self, param: str, name: str, key_of: Callable[[str], str], recorded: Iterable[str]
    ) -> AdapterError:
        """NO_DATA for the series ``key_of(name)``: with the recorded name it most likely means
        (``did you mean USDC? recorded: ...``) unless it is a name DeFiLlama lists, and a download
        only of a name that is not a known misspelling of DeFiLlama's (it would download nothing,
        or fail)."""
        key = key_of(name)
        names = sorted(set(recorded))
        # A name DeFiLlama lists is no misspelling of a recorded one (USDD is not USDC).
        near = None if is_listed(param, name) else closest(name, names)
        meant = likely_meant(param, name)
        to = self.store.directory
        if near is not None:
            told = f"no recorded series {key} (did you mean {near}? recorded: {_some(names)})"
            if meant is None:  # perhaps a coin or chain of its own: say how to get it
                told += f"; to read {name}, {hints.provide(SOURCE, key, to=to)}"
        elif meant is not None:
            told = f"no recorded series {key} (did you mean {meant}? "
            told += f"{hints.provide(SOURCE, key_of(meant), to=to)})"
        else:
            told = f"no recorded series {key}: {hints.provide(SOURCE, key, to=to)}"
        return _error(told, Code.NO_DATA)


def _some(names: list[str], shown: int = 10) -> str:
    """``names`` for a message: the first ``shown`` of them, then how many more."""
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"


# --- the adapter ---------------------------------------------------------------------------


def _text(params: dict[str, Any], name: str, default: str | None = None) -> str:
    value = params.get(name, default)
    if not isinstance(value, str) or not value.strip():
        raise _error(f"parameter '{name}' must be a non-empty string", Code.BAD_REQUEST)
    value = value.strip()
    if "/" in value:
        raise _error(f"parameter '{name}' may not contain '/': {value!r}", Code.BAD_REQUEST)
    return value


def _window(params: dict[str, Any]) -> float:
    window = params.get("window", DAY)
    if isinstance(window, bool) or not isinstance(window, int | float) or not window > 0:
        raise _error(f"window must be a positive duration, got {window!r}", Code.BAD_REQUEST)
    return float(window)


def _latest(series: Series) -> tuple[float, float]:
    if not len(series):
        raise _error(f"{series.key}: no data at or before as_of", Code.NO_DATA)
    return series.times[-1], number(SOURCE, series.values[-1], f"{series.key} value")


def _change(series: Series, window: float) -> tuple[float, float, float, float]:
    """``(t, value, t_base, base)``: the latest point and the last one a window before it."""
    t, value = _latest(series)
    base = series.last_at_or_before(t - window)
    if base is None:
        raise _error(
            f"{series.key}: no point at or before {_iso(t - window)} (history starts "
            f"{_iso(series.times[0])})",
            Code.INSUFFICIENT_HISTORY,
        )
    return t, value, base[0], number(SOURCE, base[1], f"{series.key} value")


def _point(t: float, value: float) -> dict[str, Any]:
    return {"t": _iso(t), "v": value}


class OnchainAdapter(BaseAdapter):
    source = SOURCE
    catalogue = ONCHAIN

    def __init__(self, feed: OnchainFeed) -> None:
        self.feed = feed

    @classmethod
    def live(
        cls,
        http: HttpClient | None = None,
        *,
        api_key: str | None = None,
        record: SnapshotStore | None = None,
    ) -> OnchainAdapter:
        return cls(DefiLlamaFeed(http, api_key=api_key, record=record))

    @classmethod
    def replay(cls, store: SnapshotStore) -> OnchainAdapter:
        return cls(ReplayFeed(store))

    def observe(self, request: Request, as_of: datetime, batch: dict[Any, Any]) -> Observation:
        params = request.param_dict
        at = as_of.timestamp()
        metric = request.metric
        feed = self.feed
        if metric in ("stablecoin_supply", "stablecoin_net_flow"):
            symbol = feed.stablecoin_symbol(_text(params, "stablecoin", "all"))
            chain = _text(params, "chain", "all")
            series = self._series(
                batch,
                stablecoin_key(symbol, chain),
                lambda: feed.stablecoin_supply(symbol, chain, at),
            )
            if metric == "stablecoin_supply":
                return self._level(series, as_of)
            t, value, t0, base = _change(series, _window(params))
            detail = {"series": series.key, "latest": _point(t, value), "base": _point(t0, base)}
            return self._observation(value - base, t, as_of, detail)
        if metric in ("chain_tvl", "chain_tvl_change"):
            chain = _text(params, "chain")
            series = self._series(batch, chain_tvl_key(chain), lambda: feed.chain_tvl(chain, at))
            if metric == "chain_tvl":
                return self._level(series, as_of)
            t, value, t0, base = _change(series, _window(params))
            if base <= 0:
                raise _error(
                    f"{series.key}: TVL was {base:g} on {_iso(t0)}; no relative change",
                    Code.INSUFFICIENT_HISTORY,
                )
            detail = {"series": series.key, "latest": _point(t, value), "base": _point(t0, base)}
            return self._observation(value / base - 1.0, t, as_of, detail)
        if metric == "protocol_tvl":
            slug = _text(params, "protocol")
            series = self._series(
                batch, protocol_tvl_key(slug), lambda: feed.protocol_tvl(slug, at)
            )
            return self._level(series, as_of)
        if metric == "exchange_net_flow_24h":
            return self._exchange_flow(_text(params, "exchange", "default"), at, as_of, batch)
        raise _error(f"onchain has no metric '{metric}'", Code.UNKNOWN_METRIC)

    def _exchange_flow(
        self, exchange: str, at: float, as_of: datetime, batch: dict[Any, Any]
    ) -> Observation:
        slugs = DEFAULT_CEXES if exchange.lower() == "default" else (exchange.lower(),)
        series = {}
        for slug in slugs:
            series[slug] = self._series(
                batch, cex_flow_key(slug), partial(self.feed.cex_net_flow, slug, at)
            )
        # Sum one and the same day for every exchange: the latest day they all have.
        day_end = min(_latest(s)[0] for s in series.values())
        flows: dict[str, float] = {}
        for slug, s in series.items():
            point = s.last_at_or_before(day_end)
            if point is None or point[0] != day_end:
                raise _error(f"{s.key}: no flow for the day ending {_iso(day_end)}", Code.NO_DATA)
            flows[slug] = number(SOURCE, point[1], f"{s.key} value")
        detail = {"day": _iso(day_end - DAY)[:10], "exchanges": flows}
        return self._observation(math.fsum(flows.values()), day_end, as_of, detail)

    def _series(self, batch: dict[Any, Any], key: str, load: Callable[[], Series]) -> Series:
        """One download per series per ``fetch``; a failure is remembered for the batch too."""
        cached = batch.get(("series", key))
        if cached is None:
            try:
                cached = load()
            except AdapterError as exc:
                cached = exc
            batch[("series", key)] = cached
        if isinstance(cached, AdapterError):
            raise cached
        return cached

    def _level(self, series: Series, as_of: datetime) -> Observation:
        t, value = _latest(series)
        return self._observation(value, t, as_of, {"series": series.key})

    def _observation(
        self, value: float, t: float, as_of: datetime, detail: dict[str, Any]
    ) -> Observation:
        detail["feed"] = self.feed.name
        return Observation(
            value, datetime.fromtimestamp(t, UTC), SOURCE, fetched_at=as_of, detail=detail
        )


# --- bundled data --------------------------------------------------------------------------


def import_bundled(data_dir: Path) -> Iterator[tuple[str, float, Any]]:
    """Snapshot records ``(series, t, value)`` from the bundled DeFiLlama exports.

    - the stablecoin CSV (``Timestamp, Date, <one column per symbol>``, empty = no data) gives
      ``stablecoin_supply/<SYMBOL>/all`` for every coin, and ``stablecoin_supply/all/all`` as the
      sum of the coins *recorded that day* (a coin's first day therefore adds its whole supply
      to the total: read net flows of ``all`` around listings with care);
    - the chain TVL CSV (``date, arbitrum, avalanche, bsc, ethereum, optimism, polygon``) gives
      ``chain_tvl/<chain>``.

    Times follow the module's convention: a row dated D gets ``t = D + 1 day``.
    """
    data_dir = Path(data_dir)
    yield from _stablecoin_records(data_dir / STABLECOIN_CSV)
    yield from _chain_tvl_records(data_dir / CHAIN_TVL_CSV)


def _bad_file(path: Path, line: int, message: str) -> AdapterError:
    return _error(f"{path}:{line}: {message}", Code.BAD_SNAPSHOT)


def _cell_value(path: Path, line: int, cell: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise _bad_file(path, line, f"{cell!r} is not a number") from None
    if not math.isfinite(value):
        raise _bad_file(path, line, f"{cell!r} is not a finite number")
    return value


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    if not path.is_file():
        raise DataNotFound(f"{path}: no such file (bundled DeFiLlama data)")
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.reader(handle), 1):
            if row:
                yield line, row


def _stablecoin_records(path: Path) -> Iterator[tuple[str, float, float]]:
    rows = _rows(path)
    _, header = next(rows, (1, []))
    if header[:2] != ["Timestamp", "Date"] or len(header) < 3:
        raise _bad_file(path, 1, "expected columns Timestamp, Date, <stablecoin symbols>")
    symbols = [s.strip() for s in header[2:]]
    for symbol in symbols:
        if not symbol or "/" in symbol or symbol.lower() == "all":
            raise _bad_file(path, 1, f"column {symbol!r} cannot name a stablecoin series")
    keys = [stablecoin_key(symbol) for symbol in symbols]
    total_key = stablecoin_key("all")
    for line, row in rows:
        try:
            t = data_time(int(row[0]))
        except ValueError:
            raise _bad_file(path, line, f"timestamp {row[0]!r} is not an integer") from None
        present = []
        for key, cell in zip(keys, row[2:], strict=False):
            cell = cell.strip()
            if cell:
                value = _cell_value(path, line, cell)
                present.append(value)
                yield key, t, value
        if present:
            yield total_key, t, math.fsum(present)


def _chain_tvl_records(path: Path) -> Iterator[tuple[str, float, float]]:
    rows = _rows(path)
    _, header = next(rows, (1, []))
    if header[:1] != ["date"] or len(header) < 2:
        raise _bad_file(path, 1, "expected columns date, <chains>")
    keys = [chain_tvl_key(chain.strip()) for chain in header[1:]]
    for line, row in rows:
        try:
            label = datetime.fromisoformat(row[0]).replace(tzinfo=UTC).timestamp()
        except ValueError:
            raise _bad_file(path, line, f"date {row[0]!r} is not YYYY-MM-DD") from None
        t = data_time(label)
        for key, cell in zip(keys, row[1:], strict=False):
            cell = cell.strip()
            if cell:
                yield key, t, _cell_value(path, line, cell)
