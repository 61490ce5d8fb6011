"""Real market orders on a ccxt exchange (Binance first), idempotent by client order id.

Every order is ``create_order(symbol, "market", side, amount, None, {"clientOrderId": id})``:
``clientOrderId`` is ccxt's unified parameter, which ccxt's binance sends as Binance's
``newClientOrderId``. The id is the intent's ``client_order_id`` (derived from the decision id),
so the venue itself can answer "was this decision already placed?".

Idempotency: ``find_order(client_order_id, symbol)`` looks the id up at the venue --
``fetch_order(None, symbol, {"clientOrderId": id})``, which ccxt's binance sends as
``GET /api/v3/order?origClientOrderId=<id>`` (Binance answers -2013 "Order does not exist." ->
``OrderNotFound`` -> None); venues that cannot query by client id are scanned through
``fetch_open_orders``/``fetch_closed_orders``. ``execute`` looks BEFORE every send and returns
what it finds instead of sending again. (Binance refuses a duplicate ``newClientOrderId`` only
while the first order is still open; a filled market order's id can be reused, so without this
check a restart would buy twice.) ``reconcile(client_order_id, asset)`` is the same look-up as
an ``ExecutionResult``, for the pipeline's crash recovery (an ``order_submitted`` record without
an ``order_result``): the order's state, FAILED ``NOT_PLACED``, or FAILED ``AMBIGUOUS`` when
the venue cannot be asked.

Ambiguous outcomes. A timeout, a dropped connection, a 5xx or an unreadable answer after
``create_order`` was sent does not mean the order was not placed (Binance documents 5xx as
"execution status UNKNOWN"). The executor then reconciles once more before reporting:

  found                the order's real state (FILLED / SUBMITTED), ``details["recovered_from"]``
  not found            FAILED with the error's reason, ``may_have_been_placed: False``
  reconcile failed     FAILED ``AMBIGUOUS``, ``may_have_been_placed: True``: a human (or a later
                       retry, which reconciles first) must settle it; nothing is resent blindly

A request Binance has not executed within its ``recvWindow`` (ccxt sends 10 s) of its timestamp
is rejected, so an order still not found a few seconds after a timeout will not appear later.

Refusals are FAILED results with a stable ``details["reason"]``:

  INSUFFICIENT_FUNDS  INVALID_ORDER  ORDER_NOT_FOUND  BAD_SYMBOL  AUTHENTICATION_FAILED
  MARKET_CLOSED  RATE_LIMITED  CLOCK_SKEW  REQUEST_TIMEOUT  EXCHANGE_UNAVAILABLE
  NETWORK_ERROR  BAD_RESPONSE  OPERATION_FAILED  EXCHANGE_ERROR  AMBIGUOUS
  ORDER_CANCELED / ORDER_EXPIRED / ORDER_REJECTED (the venue ended the order unfilled)

Holdings: ``portfolio(prices, as_of)`` is the account as the risk gate must see it in auto mode
(the paper ledger never sees a real fill), read from ``fetch_balance()`` (Binance spot:
``GET /api/v3/account``). Cash is the quote currency's total (free + locked); every other
non-zero total is a position in the asset ``prices`` names for it, valued at that price. What the
venue cannot tell is filled in, and each gap is a known limitation:

  average_price       the venue keeps no cost basis: the given price (unrealised PnL reads 0)
  realised_pnl        unknown: 0 (no risk check reads it)
  day_start_equity    no snapshot is kept: the current equity, so MAX_DAILY_LOSS never trips
                      in auto mode (the kill switch and HALTED remain the manual stops)
  unpriced holdings   currencies no given price values (a third currency, BNB kept for fees, a
                      testnet's pre-funded coins) are listed in ``unpriced``, not ignored: the
                      pipeline denies BUYs while there are any (equity and exposure unknown)
  dust                a holding below the market's lot step (what a SELL leaves when the fee
                      was taken in the asset) is no position: it cannot be sold

When the venue cannot be asked, ``portfolio`` raises ``PortfolioUnavailable``, which the
pipeline records as a PORTFOLIO_UNAVAILABLE risk denial: no holdings, no order.

Credentials live on the ccxt exchange object; every error message is redacted with them, and
ccxt's request log (which carries the API-key header) is scrubbed (``redaction``). Never turn on
ccxt's ``verbose``: it prints requests with ``print``, out of any filter's reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from typing import Any

import ccxt

from signalops.codes import Code
from signalops.errors import ExecutionError, PortfolioUnavailable
from signalops.orders import (
    ExecutionResult,
    ExecutionStatus,
    Fill,
    Mode,
    OrderIntent,
    Position,
    Side,
    to_decimal,
)

from .base import VenuePortfolio
from .outcomes import check_intent, failed, plain, require_aware
from .redaction import CCXT_LOGGERS, clean, scrub_logs

# Most specific first: the first matching class names the reason.
_REASONS: tuple[tuple[type[Exception], Code], ...] = (
    (ccxt.InsufficientFunds, Code.INSUFFICIENT_FUNDS),
    (ccxt.OrderNotFound, Code.ORDER_NOT_FOUND),
    (ccxt.InvalidOrder, Code.INVALID_ORDER),
    (ccxt.BadSymbol, Code.BAD_SYMBOL),
    (ccxt.AuthenticationError, Code.AUTHENTICATION_FAILED),
    (ccxt.MarketClosed, Code.MARKET_CLOSED),
    (ccxt.RateLimitExceeded, Code.RATE_LIMITED),
    (ccxt.DDoSProtection, Code.RATE_LIMITED),
    (ccxt.InvalidNonce, Code.CLOCK_SKEW),
    (ccxt.RequestTimeout, Code.REQUEST_TIMEOUT),
    (ccxt.ExchangeNotAvailable, Code.EXCHANGE_UNAVAILABLE),
    (ccxt.NetworkError, Code.NETWORK_ERROR),
    (ccxt.BadResponse, Code.BAD_RESPONSE),
    (ccxt.OperationFailed, Code.OPERATION_FAILED),  # Binance -1000/-1006: "status unknown"
    (ccxt.BaseError, Code.EXCHANGE_ERROR),
)

# Answers that prove the venue refused the request: the order does not exist.
_NOT_PLACED = (ccxt.RateLimitExceeded, ccxt.DDoSProtection, ccxt.InvalidNonce, ccxt.ExchangeError)
_CREDENTIALS = ("apiKey", "secret", "password", "uid", "privateKey", "token", "login", "twofa")


def reason_for(exc: BaseException) -> Code:
    for cls, reason in _REASONS:
        if isinstance(exc, cls):
            return reason
    return Code.EXCHANGE_ERROR


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = to_decimal(value)
    except (ArithmeticError, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


class _OwnDecimals:
    """``exchange``, each of its methods run in a decimal context of its own: ccxt's
    ``decimal_to_precision`` (``amount_to_precision``, and ``create_order`` on many venues) sets
    the thread's context to round half up and trap underflow, and left so, every Decimal of the
    process rounded otherwise after the first order, the executor's own arithmetic after a ccxt
    call included (see ``technical.ccxt_errors``)."""

    def __init__(self, exchange: Any) -> None:
        self._exchange = exchange

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._exchange, name)
        if not callable(found):
            return found

        def isolated(*args: Any, **kwargs: Any) -> Any:
            with localcontext():
                return found(*args, **kwargs)

        return isolated


class CcxtExecutor:
    """Market orders on ``exchange`` (a ccxt exchange holding its credentials).

    ``sandbox=True`` switches ccxt to the exchange's testnet URLs (Binance spot:
    ``https://testnet.binance.vision``) before anything is sent; fills are then labelled
    ``<exchange>:sandbox``. An asset trades as ``symbols`` maps it (the config's ``assets:``,
    a unified ``ETH/USD`` or the venue's own id ``ETH-USD``), else against ``quote``.
    """

    mode = Mode.AUTO

    def __init__(
        self,
        exchange: ccxt.Exchange,
        *,
        sandbox: bool,
        quote: str = "USDT",
        symbols: Mapping[str, str] | None = None,
    ) -> None:
        if sandbox:
            try:
                exchange.set_sandbox_mode(True)
            except ccxt.NotSupported:
                raise ExecutionError(
                    f"{exchange.id} has no sandbox in ccxt; only sandbox=False could trade there"
                ) from None
        self.exchange = exchange
        self._ccxt = _OwnDecimals(exchange)  # every call of ccxt's goes through it
        self.sandbox = sandbox
        self.quote = quote
        self.symbols = dict(symbols or {})
        self.venue = f"{exchange.id}:sandbox" if sandbox else exchange.id
        self._secrets = tuple(
            value
            for name in _CREDENTIALS
            if isinstance(value := getattr(exchange, name, None), str) and value
        )
        scrub_logs(CCXT_LOGGERS, *self._secrets)

    def symbol(self, asset: str) -> str:
        """The unified ccxt symbol ``asset`` trades as (orders, fees and holdings all use it)."""
        mapped = self.symbols.get(asset)
        if mapped is None:
            return asset if "/" in asset else f"{asset}/{self.quote}"
        if "/" in mapped:
            return mapped
        # A venue id such as Coinbase's ``ETH-USD``: ccxt knows it once the markets are loaded
        # (load_markets is cached by ccxt, and create_order would load them anyway).
        self._ccxt.load_markets()
        return str(self._ccxt.market(mapped)["symbol"])

    # --- the venue's memory -------------------------------------------------------------------

    def find_order(self, client_order_id: str, symbol: str) -> dict[str, Any] | None:
        """The venue's ccxt order with this client order id, or None when it has none.

        Raises ccxt errors when the venue cannot be asked: "unknown" is not "absent".
        """
        try:
            return self._ccxt.fetch_order(None, symbol, {"clientOrderId": client_order_id})
        except ccxt.OrderNotFound:
            return None
        except (ccxt.NotSupported, ccxt.ArgumentsRequired):
            pass  # this venue cannot look an order up by client id: scan its order lists
        for method in ("fetchOpenOrders", "fetchClosedOrders"):
            if not self.exchange.has.get(method):
                continue
            fetch = getattr(self._ccxt, method)
            for order in fetch(symbol):
                if order.get("clientOrderId") == client_order_id:
                    return order
        return None

    def reconcile(
        self, client_order_id: str, asset: str, *, as_of: datetime | None = None
    ) -> ExecutionResult:
        """What the venue knows about this client order id, as a result; never raises.

        ``asset`` may also be a ccxt symbol. Found: the order's state (side and size as the
        venue has them). Not found: FAILED ``NOT_PLACED``. Venue unreachable: FAILED
        ``AMBIGUOUS`` -- a human must look, nothing may be resent.
        """
        symbol = self.symbol(asset)
        try:
            order = self.find_order(client_order_id, symbol)
        except ccxt.BaseError as exc:
            return failed(
                Code.AMBIGUOUS,
                f"could not look up client order id {client_order_id} at {self.venue} "
                f"({self._text(exc)}); it may have been placed",
                venue=self.venue,
                client_order_id=client_order_id,
                cause=reason_for(exc),
                may_have_been_placed=True,
            )
        if order is None:
            return failed(
                Code.NOT_PLACED,
                f"{self.venue} has no order with client order id {client_order_id}",
                venue=self.venue,
                client_order_id=client_order_id,
                may_have_been_placed=False,
            )
        side = Side.SELL if str(order.get("side")).lower() == "sell" else Side.BUY
        requested = _decimal(order.get("amount")) or Decimal(0)
        moment = as_of or datetime.now(UTC)  # only when the venue gives the order no time
        return self._outcome(
            order, client_order_id, asset, side, requested, moment, {"reconciled": True}
        )

    # --- holdings -------------------------------------------------------------------------------

    def portfolio(self, prices: Mapping[str, Decimal], as_of: datetime) -> VenuePortfolio:
        """The account at the venue now, valued at ``prices`` (asset -> price in ``quote``).

        ``as_of`` is only checked: a venue answers with its present balance, never a past one.
        Raises ``PortfolioUnavailable`` when the venue cannot be asked or answers nonsense.
        """
        require_aware(as_of)
        try:
            balance = self._ccxt.fetch_balance()
        except ccxt.BaseError as exc:
            raise PortfolioUnavailable(
                f"could not read the balance at {self.venue}: {self._text(exc)}"
            ) from None
        totals = balance.get("total") if isinstance(balance, dict) else None
        if not isinstance(totals, dict):
            raise PortfolioUnavailable(f"{self.venue} answered a balance without totals")
        # A holding is valued by the asset trading it against our quote currency; an asset
        # quoted in another currency has a price in other units, so it values nothing here.
        by_currency: dict[str, tuple[str, Decimal]] = {}
        for asset, price in prices.items():
            base, _, quote = self.symbol(asset).partition("/")
            if quote == self.quote:
                by_currency.setdefault(base, (asset, to_decimal(price)))
        cash = Decimal(0)
        positions: dict[str, Position] = {}
        unpriced: dict[str, Decimal] = {}
        for currency, total in totals.items():
            amount = _decimal(total)
            if amount is None and total is not None:
                raise PortfolioUnavailable(
                    f"{self.venue} reported an unreadable {currency} balance: {total!r}"
                )
            if not amount:
                continue
            if currency == self.quote:
                cash = amount
            elif currency in by_currency:
                asset, price = by_currency[currency]
                if self._below_lot_step(asset, amount):
                    # What a SELL leaves when the fee was taken in the asset: worth less than
                    # one step and unsellable, so no position (a SELL of it could only fail).
                    continue
                positions[asset] = Position(asset, amount, average_price=price, last_price=price)
            else:
                unpriced[currency] = amount
        equity = cash + sum((p.market_value for p in positions.values()), Decimal(0))
        return VenuePortfolio(
            cash=cash,
            positions=positions,
            realised_pnl=Decimal(0),  # the venue does not know it; no check reads it
            day_start_equity=equity,  # no day-start snapshot: see the module docstring
            unpriced=unpriced,
        )

    def _below_lot_step(self, asset: str, amount: Decimal) -> bool:
        """True when ccxt truncates ``amount`` to nothing at the market's lot step."""
        try:
            self._ccxt.amount_to_precision(self.symbol(asset), float(amount))
        except ccxt.InvalidOrder:  # ccxt's answer to an amount that truncates to zero
            return True
        except ccxt.BaseError:  # a market ccxt cannot size: the holding counts (fail closed)
            pass
        return False

    # --- execution ------------------------------------------------------------------------------

    def execute(self, intent: OrderIntent, *, as_of: datetime) -> ExecutionResult:
        require_aware(as_of)
        problem = check_intent(intent)
        if problem is not None:
            return problem
        symbol = self.symbol(intent.asset)
        coid = intent.client_order_id
        try:
            existing = self.find_order(coid, symbol)
        except ccxt.BaseError as exc:
            return self._refused(exc, "could not check for an existing order; nothing was sent")
        if existing is not None:
            return self._intent_outcome(existing, intent, None, as_of, {"already_placed": True})
        try:
            # What ccxt sends: the quantity truncated to the market's lot step. A fill is
            # complete when it reaches this, not the intent's 8 decimals.
            sent = to_decimal(self._ccxt.amount_to_precision(symbol, float(intent.quantity)))
        except ccxt.BaseError as exc:
            return self._refused(exc, "the order cannot be sized for the venue; nothing was sent")
        try:
            order = self._ccxt.create_order(
                symbol,
                "market",
                intent.side.value.lower(),
                float(sent),
                None,
                {"clientOrderId": coid},
            )
        except _NOT_PLACED as exc:
            if isinstance(exc, ccxt.InvalidOrder) and "Duplicate order" in str(exc):
                # The venue knows this id already (placed by a concurrent run): report that one.
                return self._after_ambiguity(exc, intent, sent, symbol, as_of)
            return self._refused(exc, "the venue refused the order")
        except ccxt.BaseError as exc:  # timeouts, dropped connections, 5xx, unreadable answers
            return self._after_ambiguity(exc, intent, sent, symbol, as_of)
        return self._intent_outcome(order, intent, sent, as_of, {})

    def _after_ambiguity(
        self,
        exc: ccxt.BaseError,
        intent: OrderIntent,
        sent: Decimal,
        symbol: str,
        as_of: datetime,
    ) -> ExecutionResult:
        """The order may or may not exist: ask the venue before saying anything."""
        reason = reason_for(exc)
        coid = intent.client_order_id
        try:
            existing = self.find_order(coid, symbol)
        except ccxt.BaseError as again:
            return failed(
                Code.AMBIGUOUS,
                f"{self._text(exc)}; the order may have been placed and looking it up failed "
                f"too ({reason_for(again)}): check {self.venue} for client order id {coid} "
                "before retrying (a retry looks it up first)",
                venue=self.venue,
                client_order_id=coid,
                cause=reason,
                may_have_been_placed=True,
            )
        if existing is not None:
            return self._intent_outcome(existing, intent, sent, as_of, {"recovered_from": reason})
        return failed(
            reason,
            f"{self._text(exc)}; {self.venue} has no order with client order id {coid} "
            "(checked after the error), so it was not placed",
            venue=self.venue,
            client_order_id=coid,
            may_have_been_placed=False,
        )

    def _refused(self, exc: ccxt.BaseError, what: str) -> ExecutionResult:
        return failed(
            reason_for(exc),
            f"{what}: {self._text(exc)}",
            venue=self.venue,
            may_have_been_placed=False,
        )

    def _text(self, exc: BaseException) -> str:
        return clean(f"{type(exc).__name__}: {exc}", self._secrets)

    # --- reading an order -----------------------------------------------------------------------

    def _intent_outcome(
        self,
        order: dict[str, Any],
        intent: OrderIntent,
        sent: Decimal | None,
        as_of: datetime,
        extra: dict[str, Any],
    ) -> ExecutionResult:
        if sent is None:  # placed by an earlier attempt: the venue says what it got
            sent = _decimal(order.get("amount")) or intent.quantity
        return self._outcome(
            order,
            intent.client_order_id,
            intent.asset,
            intent.side,
            intent.quantity,
            as_of,
            {"sent": sent, **extra},
            sent=sent,
        )

    def _outcome(
        self,
        order: dict[str, Any],
        client_order_id: str,
        asset: str,
        side: Side,
        requested: Decimal,
        as_of: datetime,
        extra: dict[str, Any],
        sent: Decimal | None = None,
    ) -> ExecutionResult:
        """``requested`` is what was asked for; ``sent`` (default: requested) what the venue got."""
        status = order.get("status")
        filled = _decimal(order.get("filled")) or Decimal(0)
        price = _decimal(order.get("average"))
        cost = _decimal(order.get("cost"))
        if price is None and cost is not None and filled:
            price = cost / filled
        venue_id = None if order.get("id") is None else str(order["id"])
        fee, fees = self._fees(order, price, asset)
        details: dict[str, Any] = {
            "venue": self.venue,
            "sandbox": self.sandbox,
            "symbol": self.symbol(asset),
            "client_order_id": client_order_id,
            "venue_status": status,
            "requested": requested,
            "filled": filled,
            "fees": fees,
            **extra,
        }
        if filled > 0 and price is not None:
            fill = Fill(
                client_order_id=client_order_id,
                asset=asset,
                side=side,
                quantity=filled,
                price=price,
                fee=fee,
                at=_order_time(order) or as_of,
                venue=self.venue,
                venue_order_id=venue_id,
            )
            partial = filled < (requested if sent is None else sent)
            if partial:
                details["partial"] = True
            done = status in ("closed", "canceled", "expired")
            return ExecutionResult(
                ExecutionStatus.FILLED if done else ExecutionStatus.SUBMITTED,
                message=(
                    f"{self.venue} {side.value} {plain(filled)} {asset} at "
                    f"{plain(price)} ({status}{', partial' if partial else ''})"
                ),
                fill=fill,
                venue_order_id=venue_id,
                details=details,
            )
        if status in ("canceled", "expired", "rejected"):
            return failed(
                Code(f"ORDER_{status.upper()}"),  # ORDER_CANCELED, _EXPIRED, _REJECTED
                f"{self.venue} {status} the order without filling any of it",
                **details,
                venue_order_id=venue_id,
            )
        return ExecutionResult(
            ExecutionStatus.SUBMITTED,
            message=f"{self.venue} accepted the order ({status or 'status unknown'})",
            venue_order_id=venue_id,
            details=details,
        )

    def _fees(
        self, order: dict[str, Any], price: Decimal | None, asset: str
    ) -> tuple[Decimal, list[dict[str, Any]]]:
        """The fee in the quote currency, and every fee as the venue charged it.

        A fee in the base asset (Binance charges a BUY's fee in what it buys) is valued at the
        fill price; one in a third currency (BNB) is listed but not valued here.
        """
        base, _, quote = self.symbol(asset).partition("/")
        charged = order.get("fees") or ([order["fee"]] if order.get("fee") else [])
        total = Decimal(0)
        listed = []
        for entry in charged:
            cost = _decimal(entry.get("cost"))
            currency = entry.get("currency")
            if cost is None:
                continue
            listed.append({"currency": currency, "cost": cost})
            if currency == quote:
                total += cost
            elif currency == base and price is not None:
                total += cost * price
        return total, listed


def _order_time(order: dict[str, Any]) -> datetime | None:
    stamp = order.get("lastTradeTimestamp") or order.get("timestamp")
    if not isinstance(stamp, int | float) or isinstance(stamp, bool):
        return None
    return datetime.fromtimestamp(stamp / 1000, UTC)
