"""Auto mode: real orders, only with an explicit ``live`` opt-in and credentials from the env.

``build_auto_executor`` is the one way the CLI gets a real-order executor. It refuses, with a
``SignalOpsError`` a user can act on, when

  - ``live`` is False: auto mode places real orders; the user must pass --live to confirm;
  - a credential is missing: the message names the environment variables, never a value;
  - the venue cannot place orders (yfinance), or has no sandbox while the venue asks for one.

The venue is the configuration's executor venue (``signalops.venues``: ``executor:`` or the
default venue): its exchange id, quote currency, rate limit and ``sandbox``. Mainnet therefore
takes two explicit statements: ``sandbox: false`` on the venue and ``--live``.

Venues and their environment variables:

  any ccxt exchange id (default ``binance``): each credential ccxt says the exchange requires,
      named ``SIGNALOPS_EXCHANGE_<CREDENTIAL>`` -- for Binance ``SIGNALOPS_EXCHANGE_API_KEY``
      and ``SIGNALOPS_EXCHANGE_SECRET`` (OKX adds ``SIGNALOPS_EXCHANGE_PASSWORD``, ...).
      ``sandbox=True`` (the default) trades on the exchange's testnet.
  ``polymarket``: ``SIGNALOPS_POLYMARKET_PRIVATE_KEY`` (signs orders); optionally
      ``SIGNALOPS_POLYMARKET_API_KEY`` / ``_API_SECRET`` / ``_API_PASSPHRASE`` (all three, else
      they are derived from the key on first use), ``SIGNALOPS_POLYMARKET_FUNDER`` and
      ``SIGNALOPS_POLYMARKET_SIGNATURE_TYPE`` (proxy wallets). Polymarket has no testnet, so it
      needs ``sandbox=False``: real funds, said twice. Each asset on that venue trades as the
      outcome token its ``symbol`` names (``assets: {TRUMP_YES: {venue: pm, symbol: <token
      id>}}``); an asset without one is itself the token id.

The executors themselves live in ``exchange`` (``CcxtExecutor``) and ``clob``
(``PolymarketExecutor``) and are re-exported here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from signalops.extras import require

try:
    import ccxt
    import py_clob_client  # noqa: F401  (the Polymarket executor below is built on it)
except ModuleNotFoundError:  # one line naming the extra instead of a traceback
    require("ccxt", "live", "auto mode")
    require("py_clob_client", "live", "auto mode")
    raise

from signalops.adapters.polymarket import CLOB_URL
from signalops.errors import ExecutionError, SignalOpsError
from signalops.venues import Venue, VenueKind

from .base import Executor
from .clob import PolymarketExecutor
from .exchange import CcxtExecutor

__all__ = [
    "LIVE_REFUSAL",
    "CcxtExecutor",
    "PolymarketExecutor",
    "build_auto_executor",
    "credential_env",
]

LIVE_REFUSAL = "auto mode places real orders; pass --live to confirm"
POLYMARKET = "polymarket"
POLYGON_CHAIN_ID = 137
POLYMARKET_KEY_ENV = "SIGNALOPS_POLYMARKET_PRIVATE_KEY"
POLYMARKET_CREDS_ENV = (
    "SIGNALOPS_POLYMARKET_API_KEY",
    "SIGNALOPS_POLYMARKET_API_SECRET",
    "SIGNALOPS_POLYMARKET_API_PASSPHRASE",
)
POLYMARKET_FUNDER_ENV = "SIGNALOPS_POLYMARKET_FUNDER"
POLYMARKET_SIGNATURE_TYPE_ENV = "SIGNALOPS_POLYMARKET_SIGNATURE_TYPE"


def credential_env(credential: str) -> str:
    """The environment variable of a ccxt credential: ``apiKey`` -> SIGNALOPS_EXCHANGE_API_KEY."""
    return "SIGNALOPS_EXCHANGE_" + re.sub(r"(?<!^)(?=[A-Z])", "_", credential).upper()


def _value(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    return value or None


def _missing(names: list[str], venue: str) -> SignalOpsError:
    listed = ", ".join(names)
    verb = "is" if len(names) == 1 else "are"
    return ExecutionError(
        f"auto mode on {venue} needs credentials from the environment: {listed} {verb} not set"
    )


def build_auto_executor(
    *,
    live: bool,
    env: Mapping[str, str] = os.environ,
    exchange_id: str = "binance",
    sandbox: bool = True,
    venue: Venue | None = None,
    symbols: Mapping[str, str] | None = None,
) -> Executor:
    """A real-order executor for ``venue`` (else ``exchange_id`` and ``sandbox``), or a clear
    refusal. ``symbols``: asset -> the symbol it trades as there (the config's ``assets:``)."""
    if not live:
        raise ExecutionError(LIVE_REFUSAL)
    if venue is None:
        venue = Venue(exchange_id, exchange_id, sandbox=sandbox)
    if venue.kind is VenueKind.POLYMARKET:
        # The configured symbols are the outcome tokens the assets trade as (without them an
        # asset named TRUMP_YES would be posted as token "TRUMP_YES").
        return _polymarket(env, sandbox=venue.sandbox, tokens=symbols)
    if venue.kind is not VenueKind.CCXT:
        raise ExecutionError(
            f"auto mode cannot trade on venue '{venue.name}' ({venue.exchange}): it places no "
            "orders; set executor: in the config to a ccxt exchange venue or polymarket"
        )
    if venue.exchange not in ccxt.exchanges:
        raise ExecutionError(f"unknown exchange {venue.exchange!r}: not a ccxt exchange id")
    exchange_class = getattr(ccxt, venue.exchange)
    template = exchange_class()
    if venue.sandbox and not template.urls.get("test"):
        # Never fall back to mainnet: a venue that asks for a sandbox gets one or nothing.
        raise ExecutionError(
            f"{venue.exchange} has no sandbox in ccxt; set sandbox: false on venue "
            f"'{venue.name}' to trade on its mainnet (with --live)"
        )
    required = [name for name, needed in template.requiredCredentials.items() if needed]
    credentials = {name: _value(env, credential_env(name)) for name in required}
    missing = [credential_env(name) for name, value in credentials.items() if value is None]
    if missing:
        raise _missing(missing, venue.exchange)
    exchange = exchange_class({**venue.ccxt_options(), **credentials})
    return CcxtExecutor(exchange, sandbox=venue.sandbox, quote=venue.quote, symbols=symbols)


def _polymarket(
    env: Mapping[str, str], *, sandbox: bool, tokens: Mapping[str, str] | None = None
) -> PolymarketExecutor:
    from py_clob_client.client import ClobClient
    from py_clob_client.clob_types import ApiCreds

    if sandbox:
        raise ExecutionError(
            "Polymarket has no sandbox: auto mode there trades real funds; "
            "configure its venue with sandbox: false to confirm"
        )
    key = _value(env, POLYMARKET_KEY_ENV)
    if key is None:
        raise _missing([POLYMARKET_KEY_ENV], POLYMARKET)
    given = {name: _value(env, name) for name in POLYMARKET_CREDS_ENV}
    creds = None
    if any(given.values()):
        absent = [name for name, value in given.items() if value is None]
        if absent:
            raise _missing(absent, POLYMARKET)
        api_key, secret, passphrase = (given[name] for name in POLYMARKET_CREDS_ENV)
        creds = ApiCreds(api_key=api_key, api_secret=secret, api_passphrase=passphrase)
    signature_type = _value(env, POLYMARKET_SIGNATURE_TYPE_ENV)
    if signature_type is not None and signature_type not in ("0", "1", "2"):
        raise ExecutionError(f"{POLYMARKET_SIGNATURE_TYPE_ENV} must be 0, 1 or 2")
    try:
        client = ClobClient(
            CLOB_URL,
            chain_id=POLYGON_CHAIN_ID,
            key=key,
            creds=creds,
            signature_type=None if signature_type is None else int(signature_type),
            funder=_value(env, POLYMARKET_FUNDER_ENV),
        )
    except Exception:  # the library's message may quote the key: name the variable instead
        raise ExecutionError(f"{POLYMARKET_KEY_ENV} does not hold a usable private key") from None
    return PolymarketExecutor(client, tokens=tokens)
