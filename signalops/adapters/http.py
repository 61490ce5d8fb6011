"""The HTTP client every adapter shares: timeouts, bounded retries, rate limit, TTL cache.

Tests and replays inject an ``httpx`` transport (``httpx.MockTransport`` with recorded responses),
so nothing here ever needs the network to be exercised. Clock and sleep are injectable too, so
retry back-off and rate limiting are tested without waiting.

The cache keys on the full URL and parameters and compares *elapsed seconds on a monotonic
clock* with the TTL. (The original SignalOps compared ``timedelta.seconds``, which wraps at one
day, so day-old data looked fresh.)
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from signalops.codes import Code
from signalops.errors import AdapterError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Larger than any real answer of the sources (a full DeFiLlama history or an SEC companyfacts
# file is a few MB): a 90 MB answer took 40 s and 1.5 GB to parse before this limit.
MAX_RESPONSE_BYTES = 48 * 1024 * 1024
_SECRET_PARAM = re.compile(r"(?i)(api[_-]?key|apikey|token|secret|signature)=[^&\s]+")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove secrets from text that may reach a log, an error or the audit record."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=***", text)


class _SecretLogFilter(logging.Filter):
    """Scrubs secrets from httpx's own log lines: it logs every request URL at INFO, and some
    APIs (DeFiLlama's pro API) put the key in the URL path."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            try:
                message = record.getMessage()
            except Exception:  # a broken record is logging's problem, not ours
                return True
            clean = redact(message, tuple(self.secrets))
            if clean != message:
                record.msg, record.args = clean, ()
        return True


_LOG_FILTER = _SecretLogFilter()


HTTP_LOGGERS = ("httpx", "httpcore")


def declared_secrets() -> frozenset[str]:
    """Every secret a client or venue connection declared with ``protect_logs`` so far."""
    return frozenset(_LOG_FILTER.secrets)


def protect_logs(*secrets: str, loggers: tuple[str, ...] = ()) -> None:
    """Never let these strings reach a log line written by httpx, httpcore or ``loggers``.

    A filter only sees records logged to its own logger (not those propagated from children),
    so callers name the exact loggers of the libraries they drive (ccxt, py-clob-client).
    """
    _LOG_FILTER.secrets.update(s for s in secrets if s)
    for name in (*HTTP_LOGGERS, *loggers):
        logger = logging.getLogger(name)
        if _LOG_FILTER not in logger.filters:
            logger.addFilter(_LOG_FILTER)


@dataclass
class HttpClient:
    """JSON/text over HTTP for one source, with the failure handling a trading system needs.

    ``retries`` is the number of *additional* attempts after the first, for 429, 5xx, timeouts
    and connection errors; back-off doubles from ``backoff`` seconds (a 429's Retry-After wins
    when it is longer), capped at ``max_backoff``; a Retry-After beyond ``max_backoff`` ends the
    retries at once. ``min_interval`` spaces requests to respect the source's rate limit.
    ``secrets`` are scrubbed from every error message.
    """

    source: str
    transport: httpx.BaseTransport | None = None
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    min_interval: float = 0.0
    cache_ttl: float = 60.0
    headers: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    max_bytes: int = MAX_RESPONSE_BYTES
    _client: httpx.Client | None = field(default=None, init=False, repr=False)
    _cache: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[float, Any]] = field(
        default_factory=dict, init=False, repr=False
    )
    _parsed: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, Any]] = field(
        default_factory=dict, init=False, repr=False
    )
    _last_request: float | None = field(default=None, init=False, repr=False)
    requests_sent: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        protect_logs(*self.secrets)

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                transport=self.transport,
                timeout=self.timeout,
                headers={"User-Agent": "signalops", **self.headers},
                follow_redirects=True,
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def get_json(
        self, url: str, params: Mapping[str, Any] | None = None, *, ttl: float | None = None
    ) -> Any:
        """GET and parse JSON; malformed JSON or non-finite numbers are adapter errors.

        A cache hit also reuses the parsed value (a full DeFiLlama history is thousands of
        points): callers must treat what they get as read-only.
        """
        text = self.get_text(url, params, ttl=ttl)
        key = self._key(url, params)
        parsed = self._parsed.get(key)
        if parsed is not None and parsed[0] is text:
            return parsed[1]
        try:
            if too_deep(text):
                raise RecursionError
            # parse_float too: "1e999" parses to inf without ever reaching parse_constant.
            value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
        except RecursionError:
            raise AdapterError(
                f"JSON from {self._where(url)} is nested too deeply to read",
                source=self.source,
                reason=Code.RESPONSE_TOO_DEEP,
            ) from None
        except (json.JSONDecodeError, ValueError) as exc:
            raise AdapterError(
                f"malformed JSON from {self._where(url)}: {exc}",
                source=self.source,
                reason=Code.BAD_RESPONSE,
            ) from None
        self._parsed[key] = (text, value)
        return value

    @staticmethod
    def _key(url: str, params: Mapping[str, Any] | None) -> tuple[str, tuple[tuple[str, str], ...]]:
        return (url, tuple(sorted((str(k), str(v)) for k, v in (params or {}).items())))

    def get_text(
        self, url: str, params: Mapping[str, Any] | None = None, *, ttl: float | None = None
    ) -> str:
        key = self._key(url, params)
        ttl = self.cache_ttl if ttl is None else ttl
        now = self.clock()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < ttl:
            return cached[1]
        text = self._send(url, params)
        self._cache[key] = (self.clock(), text)
        return text

    def _send(self, url: str, params: Mapping[str, Any] | None) -> str:
        attempts = self.retries + 1
        delay = self.backoff
        last_problem = ""
        for attempt in range(attempts):
            self._respect_rate_limit()
            try:
                self.requests_sent += 1
                response, body = self._get(url, params)
            except httpx.TimeoutException:
                last_problem = f"timed out after {self.timeout:g}s"
                reason = Code.TIMEOUT
            except httpx.TransportError as exc:
                last_problem = f"connection failed ({type(exc).__name__})"
                reason = Code.CONNECTION_ERROR
            except httpx.TooManyRedirects:
                raise AdapterError(
                    f"{self._where(url)} redirects in a loop",
                    source=self.source,
                    reason=Code.REDIRECT_LOOP,
                ) from None
            except (httpx.HTTPError, OSError, RuntimeError, ValueError) as exc:
                # A transport (a plugin's, a proxy's) failing in a way httpx has no class for:
                # still this source's failure, not a bug of the caller.
                raise AdapterError(
                    f"request to {self._where(url)} failed ({type(exc).__name__}: "
                    f"{redact(str(exc), self.secrets)[:200]})",
                    source=self.source,
                    reason=Code.TRANSPORT_ERROR,
                ) from None
            else:
                if response.status_code < 400:
                    return _decode(response, body)
                last_problem = f"HTTP {response.status_code}"
                reason = Code.RATE_LIMITED if response.status_code == 429 else Code.HTTP_ERROR
                if response.status_code not in RETRY_STATUSES:
                    raise AdapterError(
                        f"{last_problem} from {self._where(url)}", source=self.source, reason=reason
                    )
                retry_after = _retry_after(response)
                if retry_after is not None:
                    if retry_after > self.max_backoff and attempt + 1 < attempts:
                        # Retrying before the server allows it only earns another 429 (or a
                        # ban), and waiting that long would stall the cycle: give up now.
                        raise AdapterError(
                            f"{last_problem} from {self._where(url)}: Retry-After "
                            f"{retry_after:g}s exceeds {self.max_backoff:g}s "
                            f"(gave up after {attempt + 1} attempts)",
                            source=self.source,
                            reason=reason,
                        )
                    delay = max(delay, retry_after)
            if attempt + 1 < attempts:
                self.sleep(min(delay, self.max_backoff))
                delay *= 2
        raise AdapterError(
            f"{last_problem} from {self._where(url)} (gave up after {attempts} attempts)",
            source=self.source,
            reason=reason,
        )

    def _get(self, url: str, params: Mapping[str, Any] | None) -> tuple[httpx.Response, bytes]:
        """The response and its body, read no further than ``max_bytes``."""
        with self.client.stream("GET", url, params=params) as response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise self._too_large(url)
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise self._too_large(url)
                chunks.append(chunk)
        return response, b"".join(chunks)

    def _too_large(self, url: str) -> AdapterError:
        return AdapterError(
            f"{self._where(url)} answered more than {self.max_bytes:,} bytes",
            source=self.source,
            reason=Code.RESPONSE_TOO_LARGE,
        )

    def _respect_rate_limit(self) -> None:
        if self.min_interval <= 0:
            return
        now = self.clock()
        if self._last_request is not None:
            wait = self._last_request + self.min_interval - now
            if wait > 0:
                self.sleep(wait)
                now += wait
        self._last_request = now

    def _where(self, url: str) -> str:
        return redact(url, self.secrets)


# Deeper than any real answer; measured before parsing because the json module's C parser
# recurses on the C stack, and a library that raises Python's recursion limit (py_ecc, under
# py-clob-client, sets 100,000) turns a deeply nested answer into a segmentation fault.
MAX_JSON_DEPTH = 512
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}",')


def _structure(text: str | bytes) -> np.ndarray:
    """``text``'s brackets, braces and commas outside strings, in order (as bytes).

    Escaped backslashes and quotes go first, on the raw text: removed after the other
    characters, ``"a\\n"`` would leave ``\\"`` and hide the closing quote. What is left between
    two quotes is inside a string: the running parity of the quotes marks it.
    """
    raw = text.encode("utf-8", "replace") if isinstance(text, str) else bytes(text)
    raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = np.frombuffer(raw.translate(None, _NOT_STRUCTURE), dtype=np.uint8)
    quote = kept == ord('"')
    in_string = np.bitwise_xor.accumulate(quote.view(np.uint8)).view(bool)
    return kept[~(in_string | quote)]


def json_shape(text: str | bytes) -> tuple[int, int]:
    """How deeply ``text``'s arrays and objects nest, and about how many values it holds (one
    per array or object and one per comma), counted without parsing it."""
    kept = _structure(text)
    if not len(kept):
        return 0, 0
    opens = (kept == ord("[")) | (kept == ord("{"))
    closes = (kept == ord("]")) | (kept == ord("}"))
    depth = np.cumsum(opens.view(np.int8) - closes.view(np.int8), dtype=np.int32)
    commas = len(kept) - int(opens.sum()) - int(closes.sum())
    return max(int(depth.max()), 0), int(opens.sum()) + commas


def _nesting_depth(text: str | bytes) -> int:
    """How deeply ``text``'s arrays and objects nest (brackets inside strings do not count)."""
    return json_shape(text)[0]


def too_deep(text: str | bytes) -> bool:
    """Whether parsing ``text`` as JSON would recurse deeper than ``MAX_JSON_DEPTH``."""
    return len(text) > 2 * MAX_JSON_DEPTH and _nesting_depth(text) > MAX_JSON_DEPTH


# --- bounds for libraries that drive httpx themselves (py-clob-client) ---------------------------


class UnusableAnswer(httpx.RequestError):
    """A request that got no answer worth parsing: too large, nested too deeply, a redirect to
    itself, or a transport that failed in a way httpx has no class for. ``reason`` says which.

    A ``RequestError``, so a library that only knows httpx's errors (py-clob-client) reports it
    as a failed request and whoever called that library finds it as the failure's context.
    """

    def __init__(self, message: str, reason: Code) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class AnswerBounds:
    """An httpx response hook: read the body, at most ``max_bytes`` of it, and refuse it
    (``UnusableAnswer``) when JSON in it would nest too deeply to parse safely, or when it
    redirects to the URL that was asked. Runs before the library that sent the request reads or
    parses anything."""

    max_bytes: int = MAX_RESPONSE_BYTES

    def __call__(self, response: httpx.Response) -> None:
        where = redact(str(response.request.url), tuple(declared_secrets()))
        if response.is_redirect:
            target = response.request.url.join(response.headers["Location"])
            if target == response.request.url:
                raise UnusableAnswer(f"{where} redirects in a loop", Code.REDIRECT_LOOP)
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large(where)
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise self._too_large(where)
            chunks.append(chunk)
        body = b"".join(chunks)
        # What ``Response.read()`` stores: the library's own read then reuses these bytes.
        response._content = body
        if too_deep(body):
            raise UnusableAnswer(
                f"JSON from {where} is nested too deeply to read", Code.RESPONSE_TOO_DEEP
            )

    def _too_large(self, where: str) -> UnusableAnswer:
        return UnusableAnswer(
            f"{where} answered more than {self.max_bytes:,} bytes", Code.RESPONSE_TOO_LARGE
        )


class ReportingTransport(httpx.BaseTransport):
    """``inner``, with anything it raises besides httpx's own errors turned into an
    ``UnusableAnswer`` (TRANSPORT_ERROR): a plugin's or a proxy's transport failing is the
    source's failure, not a bug of whoever called the library."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return self.inner.handle_request(request)
        except httpx.HTTPError:
            raise
        except Exception as exc:
            secrets = tuple(declared_secrets())
            raise UnusableAnswer(
                f"request to {redact(str(request.url), secrets)} failed ({type(exc).__name__}: "
                f"{redact(str(exc), secrets)[:200]})",
                Code.TRANSPORT_ERROR,
            ) from exc

    def close(self) -> None:
        self.inner.close()


def bound_answers(client: httpx.Client, max_bytes: int = MAX_RESPONSE_BYTES) -> httpx.Client:
    """``client`` with ``AnswerBounds`` among its response hooks (once, however often asked)."""
    hooks = client.event_hooks
    if not any(isinstance(hook, AnswerBounds) for hook in hooks["response"]):
        client.event_hooks = {**hooks, "response": [*hooks["response"], AnswerBounds(max_bytes)]}
    return client


def _decode(response: httpx.Response, body: bytes) -> str:
    """The body as text in the response's charset (UTF-8 when it names none or a bad one)."""
    try:
        return body.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"non-finite number {name} in JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} in JSON is out of range")
    return value


# --- response validation -------------------------------------------------------------------


def bad_response(source: str, message: str) -> AdapterError:
    return AdapterError(message, source=source, reason=Code.BAD_RESPONSE)


def field_of(source: str, obj: Any, *path: str | int) -> Any:
    """``obj[path...]`` or a BAD_RESPONSE error naming the missing field."""
    current = obj
    for i, key in enumerate(path):
        try:
            current = current[key]
        except (KeyError, IndexError, TypeError):
            where = ".".join(str(p) for p in path[: i + 1])
            raise bad_response(source, f"response has no field '{where}'") from None
    return current


def number(source: str, value: Any, what: str) -> float:
    """A finite float from a JSON number or numeric string; anything else is BAD_RESPONSE."""
    if isinstance(value, bool) or value is None:
        raise bad_response(source, f"{what} is {value!r}, not a number")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise bad_response(source, f"{what} is {value!r}, not a number") from None
    if not isinstance(value, int | float):
        raise bad_response(source, f"{what} is {type(value).__name__}, not a number")
    try:
        value = float(value)
    except OverflowError:  # an int beyond float range, e.g. a JSON number with 400 digits
        raise bad_response(source, f"{what} is out of range") from None
    if not math.isfinite(value):
        raise bad_response(source, f"{what} is {value}, not a finite number")
    return value
