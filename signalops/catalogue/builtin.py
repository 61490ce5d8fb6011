"""The metric declarations of the five built-in sources.

These are the names a strategy may use. Each adapter answers exactly the metrics declared for its
source here; units are what the adapter returns, so thresholds are written in the same units.
"""

from __future__ import annotations

import re

from signalops.catalogue.spec import Catalogue, MetricSpec, Param, SourceCatalogue
from signalops.textmatch import check_query

HOUR = 3600
DAY = 86400

# Timeframes every major exchange offers through ccxt; the technical metrics take one of them.
TIMEFRAMES = (60, 300, 900, 1800, HOUR, 4 * HOUR, DAY, 7 * DAY)
_TIMEFRAME = Param(
    "timeframe",
    "duration",
    DAY,
    "candle length (1m, 5m, 15m, 30m, 1h, 4h, 1d, 1w)",
    None,
    TIMEFRAMES,
)


def _period(name: str = "n", default: int | None = None, what: str = "look-back in bars") -> Param:
    if default is None:
        return Param(name, "int", description=what, minimum=1)
    return Param(name, "int", default, what, minimum=1)


def _technical(
    name: str,
    unit: str,
    description: str,
    *params: Param,
    aliases: tuple[str, ...] = (),
    low: float | None = None,
    high: float | None = None,
) -> MetricSpec:
    return MetricSpec(
        name,
        (*params, _TIMEFRAME),
        unit,
        description,
        asset_scoped=True,
        max_age_bars=2,
        aliases=aliases,
        low=low,
        high=high,
    )


_MACD = (
    _period("fast", 12, "fast EMA period"),
    _period("slow", 26, "slow EMA period"),
    _period("signal", 9, "signal EMA period"),
)
_BBANDS = (_period("n", 20), Param("k", "number", 2.0, "band width in standard deviations", 0.0))

TECHNICAL = SourceCatalogue.of(
    "technical",
    [
        _technical("open", "quote currency", "open of the last closed candle"),
        _technical("high", "quote currency", "high of the last closed candle"),
        _technical("low", "quote currency", "low of the last closed candle"),
        _technical(
            "close", "quote currency", "close of the last closed candle", aliases=("price",)
        ),
        _technical("volume", "base currency", "volume of the last closed candle", low=0),
        _technical(
            "rsi", "0-100", "relative strength index (Wilder)", _period("n", 14), low=0, high=100
        ),
        _technical("sma", "quote currency", "simple moving average of closes", _period()),
        _technical("ema", "quote currency", "exponential moving average of closes", _period()),
        _technical("macd", "quote currency", "MACD line (fast EMA - slow EMA)", *_MACD),
        _technical("macd_signal", "quote currency", "MACD signal line", *_MACD),
        _technical("macd_hist", "quote currency", "MACD histogram (line - signal)", *_MACD),
        _technical("atr", "quote currency", "average true range", _period("n", 14), low=0),
        _technical("bb_upper", "quote currency", "upper Bollinger band", *_BBANDS),
        _technical("bb_middle", "quote currency", "middle Bollinger band", *_BBANDS),
        _technical("bb_lower", "quote currency", "lower Bollinger band", *_BBANDS),
        _technical(
            "volume_z",
            "z-score",
            "z-score of the last volume against the previous n",
            _period("n", 20),
        ),
        _technical(
            "return",
            "fraction",
            "close-to-close return over the window (0.05 = +5%)",
            Param("window", "duration", description="look-back, e.g. 24h or 7d"),
            low=-1,  # a price falls at most to 0
        ),
    ],
    "exchange candles through ccxt, equities through yfinance, indicators through TA-Lib",
)

_MARKET = Param("market", "string", description="Polymarket market slug or id")


def _odds(name: str, params: tuple[Param, ...], description: str, low: float = 0) -> MetricSpec:
    """A price on a Polymarket book, or a difference of two: a probability, at most 1."""
    return MetricSpec(name, params, "probability", description, False, HOUR, low=low, high=1)


POLYMARKET = SourceCatalogue.of(
    "polymarket",
    [
        _odds("yes", (_MARKET,), "price of the YES outcome"),
        _odds("no", (_MARKET,), "price of the NO outcome"),
        _odds(
            "outcome",
            (
                _MARKET,
                Param("name", "string", description="outcome name of a multi-outcome market"),
            ),
            "price of a named outcome",
        ),
        _odds(
            "spread",
            (_MARKET, Param("outcome", "string", "yes", "outcome whose book is read")),
            "best ask - best bid on the CLOB order book",
        ),
        MetricSpec("liquidity", (_MARKET,), "USD", "market liquidity (Gamma)", False, HOUR, low=0),
        MetricSpec(
            "volume_24h", (_MARKET,), "USD", "traded volume over 24h (Gamma)", False, HOUR, low=0
        ),
        _odds(
            "change",
            (
                _MARKET,
                Param("window", "duration", DAY, "look-back"),
                Param("outcome", "string", "yes", "outcome whose price is compared"),
            ),
            "price change over the window (0.10 = +10 points)",
            low=-1,
        ),
    ],
    "prediction-market odds: Gamma API, CLOB prices and history",
)

_STABLECOIN = Param("stablecoin", "string", "all", "symbol such as USDC, or all")
_CHAIN_ALL = Param("chain", "string", "all", "chain name such as Ethereum, or all")
_CHAIN = Param("chain", "string", description="chain name such as Ethereum")
_WINDOW = Param("window", "duration", DAY, "look-back")

ONCHAIN = SourceCatalogue.of(
    "onchain",
    [
        MetricSpec(
            "stablecoin_supply",
            (_STABLECOIN, _CHAIN_ALL),
            "USD",
            "circulating stablecoin supply",
            False,
            2 * DAY,
            low=0,
        ),
        MetricSpec(
            "stablecoin_net_flow",
            (_STABLECOIN, _WINDOW, _CHAIN_ALL),
            "USD",
            "change in circulating supply over the window (mints - burns)",
            False,
            2 * DAY,
            window_step=DAY,  # a point a day
        ),
        MetricSpec(
            "chain_tvl", (_CHAIN,), "USD", "total value locked on a chain", False, 2 * DAY, low=0
        ),
        MetricSpec(
            "chain_tvl_change",
            (_CHAIN, _WINDOW),
            "fraction",
            "relative TVL change over the window (-0.05 = -5%)",
            False,
            2 * DAY,
            low=-1,
            window_step=DAY,
        ),
        MetricSpec(
            "protocol_tvl",
            (Param("protocol", "string", description="DeFiLlama protocol slug"),),
            "USD",
            "total value locked in a protocol",
            False,
            2 * DAY,
            low=0,
        ),
        MetricSpec(
            "exchange_net_flow_24h",
            (Param("exchange", "string", "default", "CEX slug such as binance-cex, or default"),),
            "USD",
            "net flow into centralised exchanges over 24h (needs a DeFiLlama API key)",
            False,
            2 * DAY,
        ),
    ],
    "DeFiLlama: stablecoins, chain and protocol TVL, CEX flows",
)

# Fundamentals have two providers. yfinance answers live snapshots (Yahoo's own ratios); EDGAR
# answers from SEC company facts read point in time (each fact known from the end of its filed day),
# and is what a replay uses whenever the store holds the company's facts (else yfinance snapshots).
# EDGAR values carry their filing in the trace; per-share figures are in shares as traded at as_of.
_YAHOO = "yfinance"
_EDGAR = "SEC EDGAR"
_EDGAR_FIRST = "SEC EDGAR (yfinance if no facts are recorded)"
# Filings come once a quarter: an EDGAR-only figure is as fresh as the record is complete.
_FILING_AGE = 7 * DAY


def _fundamental(
    name: str,
    unit: str,
    description: str,
    live: str,
    replay: str,
    aliases: tuple[str, ...] = (),
    low: float | None = None,
) -> MetricSpec:
    return MetricSpec(
        name,
        (),
        unit,
        description,
        True,
        _FILING_AGE,
        aliases=aliases,
        live_from=live,
        replay_from=replay,
        low=low,
    )


# Crypto assets, by base symbol: they have no company fundamentals. The fundamental adapter
# answers them NOT_APPLICABLE without asking Yahoo, and validate warns of fundamental conditions
# on a strategy that trades nothing else (they could never pass).
KNOWN_CRYPTO = frozenset(
    {
        "BTC", "ETH", "SOL", "USDT", "USDC", "DAI", "BNB", "XRP", "DOGE", "ADA", "AVAX",
        "DOT", "MATIC", "POL", "LINK", "LTC", "BCH", "TRX", "TON", "SHIB", "XLM", "ATOM",
        "UNI", "ETC", "NEAR", "APT", "ARB", "OP", "SUI", "PEPE", "WBTC", "STETH",
    }
)  # fmt: skip


def base_symbol(asset: str) -> str:
    """The symbol a crypto asset is known by, however a venue pairs it: ``BTC`` of ``btc``,
    ``BTC-USD`` and ``BTC/USDT``."""
    return re.split(r"[-/]", asset.strip().upper(), maxsplit=1)[0]


FUNDAMENTAL = SourceCatalogue.of(
    "fundamental",
    [
        _fundamental(
            "price_to_book",
            "ratio",
            "price / book value per share",
            _YAHOO,
            _EDGAR_FIRST,
        ),
        _fundamental(
            "trailing_pe",
            "ratio",
            "price / trailing 12-month EPS",
            _YAHOO,
            _EDGAR_FIRST,
            aliases=("pe_ratio", "pe"),
        ),
        _fundamental("forward_pe", "ratio", "price / forward EPS estimate", _YAHOO, _YAHOO),
        _fundamental(
            "price_to_sales",
            "ratio",
            "market cap / trailing revenue",
            _YAHOO,
            _EDGAR_FIRST,
            low=0,
        ),
        _fundamental(
            "debt_to_equity", "percent", "total debt / equity x 100", _YAHOO, _EDGAR_FIRST
        ),
        _fundamental(
            "current_ratio",
            "ratio",
            "current assets / current liabilities",
            _YAHOO,
            _EDGAR_FIRST,
            low=0,
        ),
        _fundamental(
            "market_cap", "currency", "market capitalisation", _YAHOO, _EDGAR_FIRST, low=0
        ),
        _fundamental(
            "ncav_per_share",
            "currency",
            "(current assets - total liabilities - preferred stock) / shares outstanding "
            "(preferred from SEC EDGAR only)",
            _YAHOO,
            _EDGAR_FIRST,
        ),
        _fundamental(
            "book_value_per_share",
            "currency",
            "stockholders' equity less preferred / shares outstanding (latest filed)",
            _EDGAR,
            _EDGAR,
        ),
        _fundamental(
            "shares_outstanding",
            "shares",
            "latest filed share count, in shares as traded at as_of",
            _EDGAR,
            _EDGAR,
            low=0,
        ),
    ],
    "company fundamentals: yfinance snapshots and SEC EDGAR point-in-time facts",
)

NEWS = SourceCatalogue.of(
    "news",
    [
        MetricSpec(
            "news_count",
            (
                Param(
                    "query",
                    "string",
                    description="keywords, or /regex/ for a pattern (RE2: linear time)",
                    check=check_query,
                ),
                Param("window", "duration", DAY, "look-back"),
                Param(
                    "feeds",
                    "string",
                    "all",
                    "the feeds counted: all (the configured ones), or names and URLs such as "
                    "'fed, sec'",
                ),
            ),
            "items",
            "number of feed items matching the query in the window",
            False,
            HOUR,
            low=0,
        ),
    ],
    "RSS/Atom feeds through feedparser",
)

BUILTIN = Catalogue.of([FUNDAMENTAL, POLYMARKET, ONCHAIN, TECHNICAL, NEWS])
SOURCES = tuple(BUILTIN.sources)
