"""Keep venue credentials out of log lines written by the libraries the executors drive.

``signalops.adapters.http.protect_logs`` scrubs httpx's and httpcore's loggers. The executors
also drive ccxt, which logs every request *with its headers* at DEBUG (Binance's API key
travels in the ``X-MBX-APIKEY`` header), and py-clob-client. A logger's filter only sees the
records logged to that very logger (not those propagated from its children), so the exact
logger names are listed here.
"""

from __future__ import annotations

from collections.abc import Iterable

from signalops.adapters.http import protect_logs, redact

CCXT_LOGGERS = ("ccxt.base.exchange",)
CLOB_LOGGERS = ("ClobClient",)


def scrub_logs(loggers: Iterable[str], *secrets: str) -> None:
    """Never let ``secrets`` reach a line logged by ``loggers`` (nor by httpx/httpcore)."""
    protect_logs(*secrets, loggers=tuple(loggers))


def clean(text: str, secrets: Iterable[str], limit: int = 400) -> str:
    """Text from a venue's error, safe for a result or a log: secrets out, length capped
    (ccxt errors carry whole response bodies)."""
    text = redact(text, tuple(s for s in secrets if s))
    return text if len(text) <= limit else text[: limit - 1] + "…"
