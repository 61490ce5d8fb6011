"""The global configuration file (``signalops.yaml``) and the risk limits a strategy runs under.

    config = load_config("signalops.yaml")         # ConfigError with file:line:col on any problem
    limits = limits_for(strategy, config)           # global limits, tightened by the strategy's

The file is read like a strategy: YAML with positions (duplicate keys are errors, ``no`` is not a
boolean), validated by ``schemas/config.schema.json`` (unknown keys get "did you mean"), then a
few checks the schema cannot express. Every section is optional; what is left out keeps the
cautious defaults of ``RiskLimits``, ``PaperConfig`` and ``NotifyConfig``::

    risk:                      # same shape as a strategy's risk: section
      max_position: 0.10
      max_data_age: 15m
    paper: {starting_cash: 10000, fee_bps: 10, slippage_bps: 5}   # quote: USD (default: the
                               # venues' quote of the assets traded; a run or backtest of assets
                               # in different quotes, or not in paper.quote, is refused)
    notify:
      approval_ttl: 15m        # default 15m (or risk.max_data_age if less)
      webhooks:
        - {kind: slack, url_env: SLACK_WEBHOOK_URL}
        - {kind: telegram, url_env: TELEGRAM_BOT_TOKEN, chat_id: "-100123"}
      telegram: {allowed_chat_ids: [-100123]}   # who may press Approve/Reject (signalops telegram)
    alerts:                    # through the same webhooks, per event
      on: [fill, halt, kill_switch, outage, stale, reconcile, verify_failed]
      outage_cycles: 3         # an outage (or stale) alert after 3 cycles in a row of it
    breakers:                  # HALTED until `signalops resume` (none set: no breakers)
      max_drawdown: 10%        # paper equity this far below its peak
      max_consecutive_rejects: 3
      max_outage_cycles: 5
    audit: {path: audit.sqlite}   # or {url: "postgresql://runner@db.example/signalops",
                               #     runner: desk-1}: one log that several runners share
    fundamental: {sec_user_agent: "Jane Trader jane@example.com"}   # SEC EDGAR's required contact
    news:                      # the RSS/Atom feeds news_count reads (replaces the crypto defaults)
      feeds:                   # name -> URL (or a list of URLs, each named by its URL)
        fed: https://www.federalreserve.gov/feeds/press_all.xml
        sec: https://www.sec.gov/news/pressreleases.rss
    kill_switch: KILL          # touch this file to halt all live trading (never backtests)
    venues:                    # which market serves each asset (see signalops.venues)
      coinbase: {exchange: coinbaseexchange, quote: USD}
      stocks: {exchange: yfinance, quote: USD}
    assets:
      ETH: {venue: coinbase, symbol: ETH/USD}
      AAPL: {venue: stocks}
    default_venue: binance     # every other asset: BASE/USDT on Binance, as without venues
    executor: binance          # auto mode's venue: its testnet unless sandbox: false
    dashboard:                 # operator accounts (none: the dashboard is read-only)
      operators:               # make a hash with `signalops dashboard hash-password`
        alice: {password_hash: "pbkdf2_sha256$600000$...$..."}
    strategies:                # per strategy, by name: its own paper book's cash
      Banking_Crisis_Dip: {capital: 5000}   # an amount of the quote currency
      Multi_Source_Momentum: {capital: 25%} # a share of the account's starting cash

Secrets never go in the file: a webhook names the environment variable that holds its URL (or
Telegram bot token), read only when a message is sent. Relative paths (``audit.path``,
``kill_switch``) are relative to the config file's folder, so the result does not depend on the
directory the command was started from.

Merge semantics (``limits_for``): the global limits are the defaults overridden by the config's
``risk:`` (the operator may loosen a default); a strategy's ``risk:`` can only *tighten* them. For
each key the stricter of the global and the strategy value applies — lower max_* fractions,
max_data_age, max_orders_per_hour and max_notional; higher cooldown and min_notional; the stricter
trading_state (ACTIVE < REDUCING < HALTED); the Kelly cap that allows less; the lower max_sector,
max_var and max_cvar limit (with its own estimate settings). A looser strategy value is not an error
(that would stop a running loop) but is ignored; ``looser_than_global`` lists such keys so
``validate`` can warn about them. The kill switch is global only.

Durations are whole seconds: a fractional duration is rounded towards the stricter side (down for
max_data_age and approval_ttl, up for cooldown).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator

from signalops.errors import ConfigError, InputError, StrategyError, raise_collected
from signalops.numbers import listed
from signalops.orders import to_decimal
from signalops.risk import DEFAULT_LIMITS, Kelly, RiskLimits, TradingState
from signalops.risk.limits import KellyFromTrades, TailLimit
from signalops.strategy._yaml import Document, load_yaml, read_source
from signalops.strategy.model import Strategy
from signalops.strategy.schema import _listed, _non_finite, _translate, schema_path
from signalops.venues import (
    DEFAULT_VENUES,
    AssetVenue,
    Venue,
    VenueKind,
    Venues,
    default_quote,
    exchange_problem,
    one_money,
    yahoo_crypto_quote,
)

__all__ = [
    "ALERT_EVENTS",
    "DEFAULT_CONFIG_FILE",
    "AlertsConfig",
    "AuditConfig",
    "BreakersConfig",
    "Capital",
    "Config",
    "DashboardConfig",
    "FundamentalConfig",
    "NewsConfig",
    "NotifyConfig",
    "PaperConfig",
    "StrategyConfig",
    "Webhook",
    "capital_by_strategy",
    "check_config_schema",
    "config_schema",
    "limits_for",
    "load_config",
    "loads_config",
    "looser_than_global",
    "risk_values",
    "tighten",
]

DEFAULT_CONFIG_FILE = "signalops.yaml"
CONFIG_ENV = "SIGNALOPS_CONFIG"  # the config every command reads without --config
DEFAULT_APPROVAL_TTL = 900  # seconds: equal to the default RiskLimits.max_data_age

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True, slots=True)
class PaperConfig:
    """Paper trading: 10,000 in cash, 0.1% fee (a typical taker fee), 5 bps slippage.

    ``quote``: the account's currency (in upper case); None lets the venues say it
    (``Config.account_quote``)."""

    starting_cash: Decimal = Decimal("10000")
    fee_bps: Decimal = Decimal("10")
    slippage_bps: Decimal = Decimal("5")
    quote: str | None = None


@dataclass(frozen=True, slots=True)
class Webhook:
    """Where approval requests go. ``url_env`` names the environment variable with the URL
    (Telegram: the bot token); the file never holds it."""

    kind: str  # slack | discord | telegram
    url_env: str
    chat_id: str | None = None

    def url(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The secret, read at the moment it is needed; None when the variable is unset."""
        return (os.environ if environ is None else environ).get(self.url_env) or None


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """Approvals stay open 15 minutes by default (no longer than ``RiskLimits.max_data_age``
    when that is set shorter). Any TTL may be set: an approval's re-check fetches fresh data when
    it is answered, so how long it waited does not make its data stale."""

    approval_ttl: int = DEFAULT_APPROVAL_TTL
    webhooks: tuple[Webhook, ...] = ()
    # Chats whose button presses the Telegram bot acts on (and $SIGNALOPS_TELEGRAM_ALLOWED_CHATS).
    telegram_allowed_chat_ids: tuple[str, ...] = ()


DEFAULT_OUTAGE_CYCLES = 3
ALERT_EVENTS = (
    "fill",
    "halt",
    "kill_switch",
    "outage",
    "stale",
    "reconcile",
    "verify_failed",
    "reload_failed",
)


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """``alerts:``: which events are posted to the notify webhooks (none by default)."""

    on: frozenset[str] = frozenset()
    outage_cycles: int = DEFAULT_OUTAGE_CYCLES


@dataclass(frozen=True, slots=True)
class BreakersConfig:
    """``breakers:``: each limit None means that breaker is off; all None, no breakers."""

    max_drawdown: Decimal | None = None  # a fraction of the peak equity
    max_consecutive_rejects: int | None = None
    max_outage_cycles: int | None = None

    @property
    def any(self) -> bool:
        return any(
            v is not None
            for v in (self.max_drawdown, self.max_consecutive_rejects, self.max_outage_cycles)
        )


@dataclass(frozen=True, slots=True)
class AuditConfig:
    """Where the audit log is (``path``: a file, or a URL from ``url``; None: the default) and
    this runner's id in a shared log (None: the host name)."""

    path: str | None = None
    runner: str | None = None


@dataclass(frozen=True, slots=True)
class FundamentalConfig:
    """The fundamentals source. ``sec_user_agent``: the name and contact e-mail SEC EDGAR
    requires of every client (None: ``$SIGNALOPS_SEC_USER_AGENT``)."""

    sec_user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class NewsConfig:
    """The news source. ``feeds``: name -> URL of the feeds ``news_count`` reads (a listed URL
    is its own name); None: the adapter's defaults (``signalops.adapters.news.DEFAULT_FEEDS``).
    A recording is filed under these names, so a replay reads it under the same ones."""

    feeds: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class DashboardConfig:
    """The dashboard's operator accounts: name -> password hash (PBKDF2, never the password).
    No operators: nobody can approve or reject in the dashboard."""

    operators: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Capital:
    """A strategy's own cash: an ``amount`` of the quote currency, or a ``fraction`` of the
    account's starting cash (``capital: 25%``)."""

    amount: Decimal | None = None
    fraction: Decimal | None = None

    def of(self, account: Decimal) -> Decimal:
        if self.amount is not None:
            return self.amount
        assert self.fraction is not None
        share = account * self.fraction
        return share.quantize(Decimal(1)) if share == share.to_integral_value() else share


@dataclass(frozen=True, slots=True)
class StrategyConfig:
    """``strategies: {NAME: ...}``. No capital: the strategy shares the whole account (its
    positions are still its own)."""

    capital: Capital | None = None


def capital_by_strategy(config: Config, account: Decimal) -> dict[str, Decimal]:
    """Each configured strategy's allocation, for ``PaperBroker.allocate``."""
    return {
        name: entry.capital.of(account)
        for name, entry in sorted(config.strategies.items())
        if entry.capital is not None
    }


@dataclass(frozen=True, slots=True)
class Config:
    """A validated ``signalops.yaml`` (or the defaults, without one).

    ``limits`` are the global risk limits (defaults overridden by ``risk:``, with the kill switch
    file); ``risk`` is the ``risk:`` section as written.
    """

    limits: RiskLimits = DEFAULT_LIMITS
    paper: PaperConfig = PaperConfig()
    notify: NotifyConfig = NotifyConfig()
    alerts: AlertsConfig = AlertsConfig()
    breakers: BreakersConfig = BreakersConfig()
    audit: AuditConfig = AuditConfig()
    fundamental: FundamentalConfig = FundamentalConfig()
    news: NewsConfig = NewsConfig()
    dashboard: DashboardConfig = DashboardConfig()
    risk: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    venues: Venues = DEFAULT_VENUES
    strategies: Mapping[str, StrategyConfig] = field(default_factory=lambda: MappingProxyType({}))
    sectors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    file: str | None = None
    # What the file says that runs but most likely does not do what was meant (``validate``
    # shows them): each with the file's line and column.
    warnings: tuple[StrategyError, ...] = field(default=(), compare=False, repr=False)

    @property
    def kill_switch(self) -> str | None:
        return self.limits.kill_switch_file

    def account_quote(self, assets: Sequence[str]) -> str | None:
        """The currency a paper account trading ``assets`` is made in: ``paper.quote`` when
        the file says it, else their venues' quote when they share one; None: the ledger's
        default (USDT). A run or backtest first asks ``check_quotes``, so the two agree."""
        return self.paper.quote or self.venues.quote_of(assets)

    def quote_problem(self, assets: Sequence[str]) -> str | None:
        """Why ``assets`` cannot be traded in one paper account, in a line; None when they can.

        SignalOps has no exchange rates: assets whose venues quote different currencies, or a
        ``paper.quote`` other than their venues', would have prices in one currency booked
        and added up as another (KO's USD closes beside BTC's EUR ones in a EUR account)."""
        quotes = self.venues.by_quote(assets)
        if not one_money(quotes):
            parts = [
                _quoted(venues, quote, i == 0) for i, (quote, venues) in enumerate(quotes.items())
            ]
            return (
                f"{listed(parts)}, and SignalOps converts no currency: one paper account cannot "
                "hold them; backtest or run the assets of each currency apart, one account per "
                "currency"
            )
        wanted = self.paper.quote
        if wanted is None or not quotes or one_money({wanted, *quotes}):
            return None
        if len(quotes) > 1:  # dollars at par, in an account of another currency
            wanted_line = f"paper.quote is {wanted} but "
            parts = [
                _quoted(venues, quote, i == 0) for i, (quote, venues) in enumerate(quotes.items())
            ]
            return (
                f"{wanted_line}{listed(parts)}, and SignalOps converts no currency: write "
                "paper.quote: USD, or leave it out (one account per currency)"
            )
        ((quote, venues),) = quotes.items()
        their = "its" if sum(map(len, venues.values())) == 1 else "their"
        return (
            f"paper.quote is {wanted} but {_quoted(venues, quote, True)}, and SignalOps "
            f"converts no currency: {their} prices would be booked as {wanted}; write "
            f"paper.quote: {quote}, or leave it out (one account per currency)"
        )

    def account_problem(self, assets: Sequence[str], account: str) -> str | None:
        """Why ``assets`` cannot be traded in a paper account made earlier in ``account``, in
        words that follow ``is in USDT, not EUR: ``; None when they can (their venues quote
        ``account``, or dollars at par with it). An account keeps the currency it was made in,
        and SignalOps has no exchange rates: a later run on venues in another currency would
        book its prices as the account's."""
        quotes = self.venues.by_quote(assets)
        if not quotes or one_money({account, *quotes}):
            return None
        parts = [_quoted(venues, quote, i == 0) for i, (quote, venues) in enumerate(quotes.items())]
        their = "its" if sum(len(a) for v in quotes.values() for a in v.values()) == 1 else "their"
        return (
            f"{listed(parts)}, and SignalOps converts no currency: {their} prices would be "
            f"booked as {account}"
        )

    def par_note(self, assets: Sequence[str], account: str | None = None) -> str | None:
        """The line a run or backtest of ``assets`` says when their money is in several dollars
        (``venues.DOLLARS``) added at par; None when it is in one currency. ``account``: the
        currency of a paper account made earlier, which they are added in (USD stocks in a
        USDT account a crypto run made)."""
        quotes = self.venues.by_quote(assets)
        wanted = account or self.paper.quote
        named = {*quotes, *([wanted] if wanted is not None else [])}
        if len(named) < 2 or not one_money(named) or self.quote_problem(assets) is not None:
            return None
        parts = [_quoted(venues, quote, False) for quote, venues in quotes.items()]
        many = len(parts) > 1 or sum(map(len, next(iter(quotes.values())).values())) > 1
        return (
            f"{listed(parts)} {'are' if many else 'is'} added at par in one "
            f"{wanted or self.venues.quote_of(assets)} account "
            f"({' = '.join(f'1 {q}' for q in sorted(named))}): SignalOps has no exchange rates, "
            "and a stablecoin's depeg is not modelled"
        )

    def check_quotes(self, assets: Sequence[str]) -> None:
        """Refuse (``InputError``) to trade ``assets`` in one paper account when their money
        is in different currencies (``quote_problem``)."""
        problem = self.quote_problem(assets)
        if problem is not None:
            raise InputError(problem)


def _quoted(venues: Mapping[str, Sequence[str]], quote: str, first: bool) -> str:
    """``BTC is quoted in EUR (venue kraken)``; after the first, ``KO in USD (venue stocks)``."""
    assets = [asset for names in venues.values() for asset in names]
    where = f"venue{'s' if len(venues) > 1 else ''} {listed(list(venues))}"
    verb = ("is" if len(assets) == 1 else "are") + " quoted " if first else ""
    return f"{listed(assets, most=5)} {verb}in {quote} ({where})"


# --- loading ------------------------------------------------------------------------------------


def load_config(path: str | Path | None = None) -> Config:
    """Read a config file; ``None`` gives the defaults (no file is searched for).

    Any problem with the file is a ``ConfigError`` (``ConfigErrors`` for several).
    """
    if path is None:
        return Config()
    with _config_errors():
        text = read_source(path, "config")
    return loads_config(text, str(path), base=Path(path).parent)


def loads_config(text: str, file: str = "<string>", *, base: str | Path | None = None) -> Config:
    """Config YAML given as text; ``base`` is the folder relative paths are resolved against
    (None: left as written)."""
    with _config_errors():
        return _parse(text, file, base)


@contextmanager
def _config_errors() -> Iterator[None]:
    # The YAML reader and the schema translation are shared with strategies and speak of
    # StrategyError; a caller of this module learns that the *config* is wrong.
    try:
        yield
    except StrategyError as exc:
        raise ConfigError.from_strategy_error(exc) from None


def _paper(section: Mapping[str, Any]) -> PaperConfig:
    """The schema-valid ``paper:`` section: amounts as Decimal, the currency in upper case."""
    values: dict[str, Any] = {key: to_decimal(v) for key, v in section.items() if key != "quote"}
    quote = section.get("quote")
    return PaperConfig(**values, quote=None if quote is None else _currency(quote))


def _currency(code: str) -> str:
    """A currency code as symbols and ledgers spell it: ``eur`` is ``EUR`` (written lower case
    it named candles ``BTC/eur`` that no ``BTC/EUR`` download or import fills)."""
    return code.upper()


def _parse(text: str, file: str, base: str | Path | None) -> Config:
    doc = load_yaml(text, file)
    raise_collected(check_config_schema(doc))
    data: dict[str, Any] = doc.data
    risk = data.get("risk", {})
    limits = replace(DEFAULT_LIMITS, **risk_values(risk))
    if "kill_switch" in data:
        limits = replace(limits, kill_switch_file=_resolve(data["kill_switch"], base))
    paper = data.get("paper", {})
    notify = data.get("notify", {})
    audit = data.get("audit", {})
    ttl = notify.get("approval_ttl")
    config = Config(
        limits=limits,
        paper=_paper(paper),
        notify=NotifyConfig(
            approval_ttl=(
                # by default no longer than a max_data_age set shorter (any TTL may be given)
                min(DEFAULT_APPROVAL_TTL, limits.max_data_age)
                if ttl is None
                else _seconds(ttl, ROUND_FLOOR)
            ),
            webhooks=tuple(
                Webhook(
                    kind=hook["kind"],
                    url_env=hook["url_env"],
                    chat_id=None if "chat_id" not in hook else str(hook["chat_id"]),
                )
                for hook in notify.get("webhooks", [])
            ),
            telegram_allowed_chat_ids=tuple(
                str(chat) for chat in notify.get("telegram", {}).get("allowed_chat_ids", [])
            ),
        ),
        alerts=_alerts(data),
        breakers=_breakers(data),
        audit=_audit(audit, base),
        fundamental=FundamentalConfig(**data.get("fundamental", {})),
        news=_news(data),
        dashboard=_dashboard(data),
        risk=MappingProxyType(dict(risk)),
        venues=_venues(data),
        strategies=_strategies(data),
        sectors=MappingProxyType({str(k): str(v) for k, v in data.get("sectors", {}).items()}),
        file=file,
    )
    raise_collected(
        [
            *_check_meaning(doc, config),
            *_check_venues(doc, config.venues),
            *_check_news(doc),
            *_check_dashboard(doc),
        ]
    )
    return replace(config, warnings=tuple(_symbol_warnings(doc, config.venues)))


def _strategies(data: Mapping[str, Any]) -> Mapping[str, StrategyConfig]:
    """``strategies:``; the schema has checked each capital's shape (a positive number, or a
    percentage in (0, 100])."""
    found = {}
    for name, entry in data.get("strategies", {}).items():
        capital = entry.get("capital")
        if capital is None:
            found[name] = StrategyConfig()
        elif isinstance(capital, str):
            found[name] = StrategyConfig(Capital(fraction=Decimal(capital.rstrip("%")) / 100))
        else:
            found[name] = StrategyConfig(Capital(amount=to_decimal(capital)))
    return MappingProxyType(found)


def _alerts(data: Mapping[str, Any]) -> AlertsConfig:
    section = data.get("alerts", {})
    return AlertsConfig(
        on=frozenset(section.get("on", ())),
        outage_cycles=int(section.get("outage_cycles", DEFAULT_OUTAGE_CYCLES)),
    )


def _breakers(data: Mapping[str, Any]) -> BreakersConfig:
    """``breakers:``; the schema has checked the shapes (a drawdown in (0, 1] or a percentage)."""
    section = data.get("breakers", {})
    drawdown = section.get("max_drawdown")
    if isinstance(drawdown, str):
        drawdown = Decimal(drawdown.rstrip("%")) / 100
    rejects, outage = section.get("max_consecutive_rejects"), section.get("max_outage_cycles")
    return BreakersConfig(
        max_drawdown=None if drawdown is None else to_decimal(drawdown),
        max_consecutive_rejects=None if rejects is None else int(rejects),
        max_outage_cycles=None if outage is None else int(outage),
    )


def _dashboard(data: Mapping[str, Any]) -> DashboardConfig:
    operators = data.get("dashboard", {}).get("operators", {})
    return DashboardConfig(
        operators=MappingProxyType({name: o["password_hash"] for name, o in operators.items()})
    )


def _check_dashboard(doc: Document) -> list[StrategyError]:
    """Each password hash must be one the dashboard can check, and slow enough to guess."""
    from signalops.dashboard.accounts import hash_problem

    errors = []
    for name, account in doc.data.get("dashboard", {}).get("operators", {}).items():
        problem = hash_problem(account["password_hash"])
        if problem is not None:
            errors.append(
                doc.error(
                    problem,
                    ("dashboard", "operators", name, "password_hash"),
                    hint="make one with `signalops dashboard hash-password`",
                )
            )
    return errors


def _news(data: Mapping[str, Any]) -> NewsConfig:
    """The schema-valid ``news:`` section; names are checked by ``_check_news``."""
    feeds = data.get("news", {}).get("feeds")
    if feeds is None:
        return NewsConfig()
    table = dict(feeds) if isinstance(feeds, Mapping) else {url: url for url in feeds}
    return NewsConfig(feeds=MappingProxyType(table))


# ``news_count(..., feeds='all')`` means every configured feed, so no feed may be called that.
_ALL_FEEDS = "all"


def _check_news(doc: Document) -> list[StrategyError]:
    """What the schema cannot say: the reserved name 'all', and one URL given twice."""
    feeds = doc.data.get("news", {}).get("feeds")
    if isinstance(feeds, list):
        named: Mapping[Any, str] = dict(enumerate(feeds))
    elif isinstance(feeds, Mapping):
        named = feeds
    else:
        return []
    errors = []
    seen: dict[str, Any] = {}
    for name, url in named.items():
        path = ("news", "feeds", name)
        if name == _ALL_FEEDS:
            errors.append(
                doc.error(
                    "'all' is not a feed name: news_count(..., feeds='all') means every feed",
                    path,
                    at=doc.key_mark(path),
                )
            )
        if url in seen:
            first = seen[url]
            where = f"line {doc.mark(('news', 'feeds', first)).line}"
            also = f"as '{first}' ({where})" if isinstance(first, str) else f"at {where}"
            errors.append(doc.error(f"feed URL is already configured {also}", path))
        seen.setdefault(url, name)
    return errors


def _venues(data: Mapping[str, Any]) -> Venues:
    """The schema-valid venue sections; names are checked by ``_check_venues``."""
    venues = dict(DEFAULT_VENUES.venues)
    for name, spec in data.get("venues", {}).items():
        venues[name] = Venue(
            name=name,
            exchange=spec["exchange"],
            quote=_currency(spec.get("quote", default_quote(spec["exchange"]))),
            sandbox=spec.get("sandbox", True),
            rate_limit=spec.get("rate_limit"),
        )
    assets = {
        asset: AssetVenue(venue=spec["venue"], symbol=spec.get("symbol"))
        for asset, spec in data.get("assets", {}).items()
    }
    executor = data.get("executor")
    if executor is not None and executor not in venues:
        # An exchange id needs no venue of its own: ``executor: kraken`` is kraken's testnet.
        venues[executor] = Venue(executor, executor)
    return Venues(
        venues=MappingProxyType(venues),
        assets=MappingProxyType(assets),
        default=data.get("default_venue", DEFAULT_VENUES.default),
        executor=executor,
    )


def _check_venues(doc: Document, venues: Venues) -> list[StrategyError]:
    """Exchange ids ccxt knows (with a did-you-mean), and venue names that exist."""
    errors = []
    sections = doc.data.get("venues", {})
    for name, spec in sections.items():
        problem = exchange_problem(spec["exchange"])
        if problem is not None:
            message, hint = problem
            errors.append(doc.error(message, ("venues", name, "exchange"), hint=hint))
    if "executor" in doc.data and doc.data["executor"] not in sections:
        problem = exchange_problem(doc.data["executor"])
        if problem is not None:
            message, hint = problem
            errors.append(doc.error(message, ("executor",), hint=hint))
    names = ", ".join(sorted(venues.venues))
    references: list[tuple[tuple[str, ...], str]] = [
        (("assets", a, "venue"), s["venue"]) for a, s in doc.data.get("assets", {}).items()
    ]
    if doc.data.get("default_venue") is not None:
        references.append((("default_venue",), doc.data["default_venue"]))
    for path, name in references:
        if name not in venues.venues:
            from signalops.textmatch import closest  # RE2 with it: only for a name to correct

            near = closest(str(name), sorted(venues.venues))
            hint = None if near is None else f"did you mean '{near}'?"
            message = f"unknown venue '{name}' (configured: {names})"
            errors.append(doc.error(message, path, hint=hint))
    executor = venues.executor_venue()
    if "executor" in doc.data and executor is not None and executor.kind is VenueKind.YFINANCE:
        errors.append(
            doc.error(
                f"venue '{executor.name}' ({executor.exchange}) cannot place orders",
                ("executor",),
                hint="name a ccxt exchange venue or polymarket",
            )
        )
    return errors


# ccxt's unified symbol: BASE/QUOTE, and :SETTLE for a derivative (BTC/USDT:USDT).
_UNIFIED = re.compile(r"[^/:\s]+/[^/:\s]+(?::[^/:\s]+)?")


def _symbol_warnings(doc: Document, venues: Venues) -> list[StrategyError]:
    """A ccxt venue's symbol not written BASE/QUOTE (``BTCEUR``): it is taken as the exchange's
    own market id, which nothing offline can confirm, and its candles are read (and downloaded
    or imported) under it, beside data held under BASE/QUOTE; a BASE/QUOTE symbol in another
    quote than its venue's, whose prices the account would book in the venue's; one of Yahoo's
    crypto symbols in another currency than its yfinance venue's (``_yahoo_warning``)."""
    found = []
    for asset, spec in doc.data.get("assets", {}).items():
        venue = venues.named(spec["venue"])
        symbol = spec.get("symbol")
        if symbol is not None and venue is not None and venue.kind is VenueKind.YFINANCE:
            found.extend(_yahoo_warning(doc, asset, str(symbol), venue))
        if symbol is None or venue is None or venue.kind is not VenueKind.CCXT:
            continue
        symbol, path = str(symbol), ("assets", asset, "symbol")
        if not _UNIFIED.fullmatch(symbol):
            exchange = venue.exchange
            found.append(
                doc.error(
                    f"'{symbol}' is not written BASE/QUOTE: it is taken as {exchange}'s own "
                    f"market id, which only {exchange} can confirm, and its candles are read "
                    f"as candles/{exchange}/{symbol}/<timeframe>",
                    path,
                    hint=f"write {_unified(asset, symbol, venue.quote)}, ccxt's unified symbol",
                )
            )
            continue
        quote = symbol.split(":")[0].partition("/")[2]
        if quote != venue.quote:
            found.append(
                doc.error(
                    f"'{symbol}' is quoted in {quote}, not in venue {venue.name}'s quote "
                    f"{venue.quote}: its prices would be booked as {venue.quote}",
                    path,
                    hint=f"give the venue quote: {quote}, or write {symbol.partition('/')[0]}/"
                    f"{venue.quote}",
                )
            )
    return found


def _yahoo_warning(doc: Document, asset: str, symbol: str, venue: Venue) -> list[StrategyError]:
    """``ETH-EUR`` on a yfinance venue whose quote is USD: Yahoo prices it in EUR, so its money
    is counted in EUR (``Venues.asset_quote``), apart from the venue's USD stocks, which
    one paper account cannot hold with it; most likely the venue's currency was meant. Dollars
    (``ETH-USDT`` on a USD venue) are added at par, which a run says: nothing to warn of."""
    quote = yahoo_crypto_quote(symbol)
    if quote is None or one_money({quote, venue.quote}):
        return []
    coin = symbol.strip().partition("-")[0].upper()
    return [
        doc.error(
            f"'{symbol}' is priced in {quote}, not in venue {venue.name}'s quote "
            f"{venue.quote}: {asset}'s money is in {quote}, which one paper account cannot hold "
            f"beside the venue's {venue.quote}",
            ("assets", asset, "symbol"),
            hint=f"give {asset} a yfinance venue with quote: {quote}, or write "
            f"{coin}-{venue.quote}",
        )
    ]


def _unified(asset: str, symbol: str, quote: str) -> str:
    """The BASE/QUOTE most likely meant by an exchange's id: ``ETH-USD`` -> ``ETH/USD``,
    ``BTCEUR`` on a EUR venue -> ``BTC/EUR``; else ``asset/quote``."""
    parts = re.split(r"[-_]", symbol)
    if len(parts) == 2 and all(parts):
        return f"{parts[0].upper()}/{parts[1].upper()}"
    upper = symbol.upper()
    if upper.endswith(quote.upper()) and len(upper) > len(quote):
        return f"{upper[: -len(quote)]}/{quote}"
    return f"{asset}/{quote}"


def _audit(audit: dict[str, Any], base: str | Path | None) -> AuditConfig:
    """``path`` resolved against the config's folder; a ``sqlite:///`` URL's path the same."""
    where = audit.get("url") or audit.get("path")
    if isinstance(where, str) and where.startswith(_SQLITE_URL):
        where = _SQLITE_URL + _resolve(where.removeprefix(_SQLITE_URL), base)
    elif where is not None and "url" not in audit:
        where = _resolve(where, base)
    return AuditConfig(path=where, runner=audit.get("runner"))


_SQLITE_URL = "sqlite:///"


def _resolve(path: str, base: str | Path | None) -> str:
    expanded = Path(path).expanduser()
    if base is None or expanded.is_absolute():
        return str(expanded)
    return str(Path(base) / expanded)


def _check_meaning(doc: Document, config: Config) -> list[StrategyError]:
    """What the schema cannot say: limits that contradict each other."""
    errors = []
    if {"path", "url"} <= set(doc.data.get("audit", {})):
        errors.append(doc.error("audit: give path or url, not both", ("audit", "url")))
    limits, ttl = config.limits, config.notify.approval_ttl
    if "approval_ttl" in doc.data.get("notify", {}):
        path = ("notify", "approval_ttl")
        if ttl <= 0:
            errors.append(doc.error("approval_ttl must be at least 1s", path))
        # No bound from max_data_age: an approval is checked again on data fetched when it is
        # answered (``pipeline.approvals``), however long it waited.
    if (
        "min_notional" in config.risk
        and limits.max_notional is not None
        and limits.min_notional > limits.max_notional
    ):
        errors.append(
            doc.error(
                f"min_notional {limits.min_notional} is above max_notional "
                f"{limits.max_notional}: no order could pass",
                ("risk", "min_notional"),
            )
        )
    return errors


@cache
def config_schema() -> dict[str, Any]:
    return json.loads(schema_path("config.schema.json").read_text(encoding="utf-8"))


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(config_schema())


def check_config_schema(doc: Document) -> list[StrategyError]:
    """Every schema problem in a config document, in source order, worded as for strategies.

    The same translation as ``signalops.strategy.schema.check_schema`` (which is bound to the
    strategy schema): unknown keys with "did you mean", a missing key reported once.
    """
    return schema_problems(doc, _validator())


def schema_problems(doc: Document, validator: Draft202012Validator) -> list[StrategyError]:
    """Every problem ``validator`` finds in ``doc``, in source order, each once, worded as for
    strategies (the config's and the stress scenarios' schemas share this)."""
    raw = sorted(validator.iter_errors(doc.data), key=lambda e: list(map(str, e.absolute_path)))
    found: list[StrategyError] = []
    suggested: set[tuple[tuple[Any, ...], str]] = set()
    required = []
    for error in raw:
        if error.validator == "required":
            required.append(error)
        else:
            found.extend(_translate(doc, error, suggested))
    for error in required:
        path = tuple(error.absolute_path)
        for key in _listed(error.validator_value):
            if isinstance(error.instance, dict) and key not in error.instance:
                if (path, key) in suggested or (path, "*") in suggested:
                    continue
                found.append(doc.error(f"missing required key '{key}'", path))
    found.extend(_non_finite(doc, doc.data, ()))
    unique: dict[str, StrategyError] = {}
    for error in sorted(found, key=lambda e: (e.line, e.column)):
        unique.setdefault(str(error), error)
    return list(unique.values())


# --- risk sections ------------------------------------------------------------------------------


def _seconds(text: str, rounding: str) -> int:
    """A schema-valid duration in whole seconds, rounded as asked."""
    text = text.strip()
    amount = Decimal(text[:-1]) * _DURATION_UNITS[text[-1]]
    return int(amount.to_integral_value(rounding=rounding))


def risk_values(section: Mapping[str, Any]) -> dict[str, Any]:
    """A schema-valid ``risk:`` section as ``RiskLimits`` field values (Decimals, seconds)."""
    values: dict[str, Any] = {}
    for key, value in section.items():
        if key == "trading_state":
            values[key] = TradingState(value.upper())
        elif key == "max_data_age":
            values[key] = _seconds(value, ROUND_FLOOR)
        elif key == "cooldown":
            values[key] = _seconds(value, ROUND_CEILING)
        elif key == "max_orders_per_hour":
            values[key] = int(value)
        elif key == "max_notional":
            values[key] = None if value is None else to_decimal(value)
        elif key == "kelly":
            values[key] = Kelly(**{k: to_decimal(v) for k, v in value.items()})
        elif key in ("max_var", "max_cvar"):
            values[key] = TailLimit(**value)
        elif key == "kelly_from_trades":
            values[key] = KellyFromTrades(**value)
        else:  # max_position, max_exposure, max_daily_loss, min_notional
            values[key] = to_decimal(value)
    return values


_LOWER_IS_STRICTER = (
    "max_data_age",
    "max_position",
    "max_exposure",
    "max_daily_loss",
    "max_orders_per_hour",
)
_HIGHER_IS_STRICTER = ("cooldown", "min_notional")


def _stricter(key: str, mine: Any, theirs: Any) -> Any:
    """The stricter of two values of the limit ``key``; ``mine`` (the global one) on a tie."""
    if key in _LOWER_IS_STRICTER:
        return theirs if theirs < mine else mine
    if key in _HIGHER_IS_STRICTER:
        return theirs if theirs > mine else mine
    if key == "trading_state":
        return theirs if theirs.strictness > mine.strictness else mine
    if key == "max_notional":  # None: no cap, the loosest
        if theirs is None:
            return mine
        return theirs if mine is None or theirs < mine else mine
    if key == "kelly":  # None: no cap, the loosest
        if theirs is None:
            return mine
        return theirs if mine is None or theirs.cap < mine.cap else mine
    if key == "max_sector":  # None: no limit, the loosest
        return theirs if mine is None or theirs < mine else mine
    if key in ("max_var", "max_cvar", "kelly_from_trades"):  # None: no limit, the loosest
        return theirs if mine is None or theirs.stricter_than(mine) else mine
    raise KeyError(key)  # pragma: no cover - the schema admits no other key


def tighten(limits: RiskLimits, section: Mapping[str, Any]) -> RiskLimits:
    """``limits`` with each value of a schema-valid ``risk:`` section applied where stricter."""
    values = risk_values(section)
    return replace(
        limits, **{key: _stricter(key, getattr(limits, key), v) for key, v in values.items()}
    )


def limits_for(strategy: Strategy, config: Config | None = None) -> RiskLimits:
    """The limits ``strategy`` runs under: the global ones, tightened by its ``risk:``."""
    return tighten((config or Config()).limits, strategy.risk)


def looser_than_global(strategy: Strategy, config: Config | None = None) -> tuple[str, ...]:
    """The keys of ``strategy``'s ``risk:`` that ask for more than the global limits allow, and
    are therefore ignored (in schema order)."""
    base = (config or Config()).limits
    values = risk_values(strategy.risk)
    order = [f.name for f in fields(RiskLimits)]
    return tuple(
        key
        for key in sorted(values, key=order.index)
        if _stricter(key, getattr(base, key), values[key]) != values[key]
    )
