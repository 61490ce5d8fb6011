"""Real limit orders on Polymarket's CLOB through py-clob-client.

An intent becomes ``OrderArgs(token_id, price, size, side)``: a GTC limit order for
``quantity`` outcome shares at the intent's reference price (a probability, 0 < p < 1). The
asset names the outcome token (``tokens`` maps a readable name to a token id; otherwise the
asset IS the token id). The client must hold a private key (it signs orders, EIP-712); API
credentials are derived on first use when the client has none.

The two halves of ``create_and_post_order`` are called one after the other (that is all it
does), so that a failure can be placed on the right side of the only line that matters:

  create_order  reads tick size, neg-risk flag and fee rate, then signs locally -- any failure
                here means nothing was sent (FAILED, ``may_have_been_placed: False``);
  post_order    sends the signed order -- no answer (timeout, connection lost) or a 5xx
                means it may be on the book (FAILED ``AMBIGUOUS``, ``may_have_been_placed:
                True``, with the order's salt so it can be found).

Idempotency. The CLOB has no client order id: the venue cannot be asked "was decision X
placed?". The executor remembers, for its lifetime, every client order id it posted or may have
posted, and never posts one again (a second ``execute`` returns the first result). Across a
restart the guarantee is the audit log's ``order_submitted`` record, written just before the
send: a decision with that record and no ``order_result`` must be settled by a human, not
re-executed. (A deterministic salt derived from the decision id would make the order hash,
and so the venue's order id, derivable -- py-clob-client does not let a caller choose the salt.)

Outcomes of ``POST /order`` (``{"success", "errorMsg", "orderID", "status", "makingAmount",
"takingAmount", "transactionsHashes"}``): ``matched`` -> FILLED (size and limit price as sent,
which py-clob-client rounds: the size down to two decimals, the price to the tick; a marketable
limit order fills at the limit or better; the venue's amounts are kept in the details),
``live`` / ``delayed`` / ``unmatched`` -> SUBMITTED, ``success: false`` -> FAILED
ORDER_REJECTED. HTTP errors: 400 with "balance"/"allowance" -> INSUFFICIENT_FUNDS, other 4xx ->
ORDER_REJECTED, 401/403 -> AUTHENTICATION_FAILED, 429 -> RATE_LIMITED, 503 (trading paused) ->
EXCHANGE_UNAVAILABLE.

Holdings. Unlike ``CcxtExecutor`` this executor has no ``portfolio``: the CLOB answers the
balance of one given token (``get_balance_allowance``) but cannot list what an account holds, so
holdings nobody asked about could not block BUYs the way ``CcxtExecutor``'s unpriced holdings
do. The pipeline's gate therefore stays on the paper ledger in Polymarket auto mode, which does
not see these fills: a SELL is denied NO_POSITION and MAX_POSITION / MAX_EXPOSURE see nothing
held. Until it has one, Polymarket auto mode is effectively buy-only, capped per order by
``max_notional`` and in count by ``max_orders_per_hour`` and ``cooldown``.

Secrets (the private key, the API secret and passphrase) are redacted from every message and
scrubbed from httpx's and py-clob-client's logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from py_clob_client.client import ClobClient
from py_clob_client.clob_types import OrderArgs
from py_clob_client.exceptions import PolyApiException

from signalops.adapters.http import UnusableAnswer
from signalops.adapters.polymarket import guard_clob_client
from signalops.codes import Code
from signalops.orders import (
    ExecutionResult,
    ExecutionStatus,
    Fill,
    Mode,
    OrderIntent,
    Side,
)

from .outcomes import check_intent, failed, plain, require_aware
from .redaction import CLOB_LOGGERS, clean, scrub_logs

VENUE = "polymarket"


def _unusable(exc: BaseException) -> UnusableAnswer | None:
    """The bounded client's refusal (too large, too deep, a redirect loop, a failed transport)
    behind a py-clob-client error, if that is what it was."""
    cause = exc.__context__
    return cause if isinstance(cause, UnusableAnswer) else None


def _http_reason(exc: PolyApiException, text: str) -> Code:
    status = exc.status_code
    if status in (401, 403):
        return Code.AUTHENTICATION_FAILED
    if status == 429:
        return Code.RATE_LIMITED
    if status == 503:
        return Code.EXCHANGE_UNAVAILABLE
    lowered = text.lower()
    if "balance" in lowered or "allowance" in lowered:
        return Code.INSUFFICIENT_FUNDS
    return Code.ORDER_REJECTED


class PolymarketExecutor:
    """Limit orders on the Polymarket CLOB through a signing ``ClobClient``."""

    mode = Mode.AUTO

    def __init__(self, client: ClobClient, *, tokens: Mapping[str, str] | None = None) -> None:
        if client.signer is None:
            raise ValueError("PolymarketExecutor needs a ClobClient built with a private key")
        self.client = client
        self.tokens = dict(tokens or {})
        self._posted: dict[str, ExecutionResult] = {}
        self._protect()
        guard_clob_client()  # no answer to an order may crash the process

    def _secrets(self) -> tuple[str, ...]:
        found = [getattr(self.client.signer, "private_key", None)]
        creds = self.client.creds
        if creds is not None:
            found += [creds.api_secret, creds.api_passphrase, creds.api_key]
        return tuple(s for s in found if isinstance(s, str) and s)

    def _protect(self) -> None:
        secrets = self._secrets()
        # the key is also printed without its 0x prefix by some libraries
        scrub_logs(CLOB_LOGGERS, *secrets, *(s.removeprefix("0x") for s in secrets))

    def _text(self, exc: BaseException) -> str:
        secrets = self._secrets()
        # py-clob-client says only "Request exception!"; a refused answer says what it was.
        shown = _unusable(exc) or exc
        return clean(
            f"{type(shown).__name__}: {shown}",
            (*secrets, *(s.removeprefix("0x") for s in secrets)),
        )

    def execute(self, intent: OrderIntent, *, as_of: datetime) -> ExecutionResult:
        require_aware(as_of)
        earlier = self._posted.get(intent.client_order_id)
        if earlier is not None:
            return earlier
        problem = check_intent(intent)
        if problem is not None:
            return problem
        if intent.reference_price >= 1:
            return failed(
                Code.INVALID_ORDER,
                f"a Polymarket price is a probability below 1, got {intent.reference_price}",
            )
        token = self.tokens.get(intent.asset, intent.asset)
        base = {"venue": VENUE, "token_id": token, "client_order_id": intent.client_order_id}

        refusal = self._ensure_credentials()
        if refusal is not None:
            return refusal
        args = OrderArgs(
            token_id=token,
            price=float(intent.reference_price),
            size=float(intent.quantity),
            side=intent.side.value,
        )
        try:
            signed = self.client.create_order(args)
        except PolyApiException as exc:
            unusable = _unusable(exc)
            if unusable is not None:
                reason = unusable.reason
            elif exc.status_code is None:
                reason = Code.NETWORK_ERROR
            else:
                reason = _http_reason(exc, str(exc))
            return failed(
                reason,
                f"preparing the order failed: {self._text(exc)}; nothing was sent",
                **base,
                may_have_been_placed=False,
            )
        except Exception as exc:  # py-clob-client validates with bare Exception (price, tick)
            return failed(Code.INVALID_ORDER, self._text(exc), **base, may_have_been_placed=False)
        base["salt"] = str(signed.order["salt"])

        try:
            answer = self.client.post_order(signed)
        except PolyApiException as exc:
            result = self._post_failure(exc, base)
        else:
            result = self._outcome(answer, intent, as_of, base, _sent(signed.order, intent))
        if result.status is not ExecutionStatus.FAILED or result.details.get(
            "may_have_been_placed"
        ):
            self._posted[intent.client_order_id] = result
        return result

    def reconcile(
        self, client_order_id: str, asset: str, *, as_of: datetime | None = None
    ) -> ExecutionResult:
        """What became of an order this executor may have posted; never raises.

        The CLOB cannot be asked by client order id, so only this executor's own memory
        answers; after a restart the answer is FAILED ``AMBIGUOUS`` (a human must look at the
        token's open orders and trades), never "not placed".
        """
        earlier = self._posted.get(client_order_id)
        if earlier is not None:
            return earlier
        token = self.tokens.get(asset, asset)
        return failed(
            Code.AMBIGUOUS,
            "the Polymarket CLOB cannot look an order up by client order id: check the open "
            f"orders and trades of token {token} before deciding anything about it",
            venue=VENUE,
            token_id=token,
            client_order_id=client_order_id,
            may_have_been_placed=True,
        )

    def _ensure_credentials(self) -> ExecutionResult | None:
        if self.client.creds is not None:
            return None
        try:
            creds = self.client.create_or_derive_api_creds()
        except Exception as exc:  # whatever went wrong: no credentials, no order
            return failed(Code.AUTHENTICATION_FAILED, f"no CLOB API credentials: {self._text(exc)}")
        if creds is None:
            return failed(Code.AUTHENTICATION_FAILED, "the CLOB returned no API credentials")
        self.client.set_api_creds(creds)
        self._protect()
        return None

    def _post_failure(self, exc: PolyApiException, base: dict[str, Any]) -> ExecutionResult:
        status = exc.status_code
        if status is None or (status >= 500 and status != 503):
            return failed(
                Code.AMBIGUOUS,
                f"posting the order got no usable answer ({self._text(exc)}): it may be on the "
                f"book; look for salt {base['salt']} among the open orders and trades of "
                f"token {base['token_id']} before retrying",
                **base,
                may_have_been_placed=True,
            )
        text = self._text(exc)
        return failed(
            _http_reason(exc, text),
            f"the CLOB refused the order: {text}",
            **base,
            may_have_been_placed=False,
        )

    def _outcome(
        self,
        answer: Any,
        intent: OrderIntent,
        as_of: datetime,
        base: dict[str, Any],
        sent: tuple[Decimal, Decimal],
    ) -> ExecutionResult:
        if not isinstance(answer, dict):
            return failed(
                Code.AMBIGUOUS,
                "the CLOB answered something that is not an order result; check the book",
                **base,
                may_have_been_placed=True,
            )
        order_id = answer.get("orderID") or None
        status = answer.get("status")
        details = {
            **base,
            "venue_status": status,
            "making_amount": answer.get("makingAmount"),
            "taking_amount": answer.get("takingAmount"),
            "transactions": list(answer.get("transactionsHashes") or []),
        }
        if not answer.get("success", False):
            message = clean(str(answer.get("errorMsg") or "no reason given"), self._secrets())
            return failed(
                Code.ORDER_REJECTED,
                f"the CLOB refused the order: {message}",
                **details,
                may_have_been_placed=False,
            )
        quantity, price = sent
        if status == "matched":
            fill = Fill(
                client_order_id=intent.client_order_id,
                asset=intent.asset,
                side=intent.side,
                quantity=quantity,
                price=price,
                fee=Decimal(0),
                at=as_of,
                venue=VENUE,
                venue_order_id=order_id,
            )
            return ExecutionResult(
                ExecutionStatus.FILLED,
                message=(
                    f"polymarket {intent.side.value} {plain(quantity)} shares of "
                    f"{intent.asset} at {plain(price)} or better (matched)"
                ),
                fill=fill,
                venue_order_id=order_id,
                details=details,
            )
        verb = "buy" if intent.side is Side.BUY else "sell"
        return ExecutionResult(
            ExecutionStatus.SUBMITTED,
            message=(
                f"polymarket limit {verb} of {plain(quantity)} at "
                f"{plain(price)} is {status or 'accepted'}"
            ),
            venue_order_id=order_id,
            details=details,
        )


def _sent(order: Any, intent: OrderIntent) -> tuple[Decimal, Decimal]:
    """The size and limit price of the signed ``order``: py-clob-client rounds the size down to
    two decimals and the price to the token's tick, and the amounts it signs (6-decimal units;
    a BUY makes USDC and takes shares, a SELL the reverse) are what the venue trades. The
    intent's own values where it changed nothing."""
    maker = Decimal(int(order["makerAmount"])).scaleb(-6)
    taker = Decimal(int(order["takerAmount"])).scaleb(-6)
    shares, usdc = (taker, maker) if intent.side is Side.BUY else (maker, taker)
    if shares <= 0:
        return intent.quantity, intent.reference_price
    price = usdc / shares
    return (
        intent.quantity if shares == intent.quantity else _tidy(shares),
        intent.reference_price if price == intent.reference_price else _tidy(price),
    )


def _tidy(value: Decimal) -> Decimal:
    """No trailing zeros, and no exponent either (``100``, not ``1E+2``)."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
