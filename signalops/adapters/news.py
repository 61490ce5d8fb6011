"""News counts over RSS/Atom feeds: feeds fetched with the shared HTTP client, parsed by feedparser.

Metric ``news_count(query, window, feeds)``: how many items of the feeds were published (or,
without a published date, updated) in ``(as_of - window, as_of]`` and match the query in their
title or summary (HTML tags stripped):

- ``'/pattern/'`` (slashes at both ends): a case-insensitive regular-expression search
  (``re.search`` with ``re.IGNORECASE``); an invalid or empty pattern is BAD_REQUEST;
- anything else: the whole phrase, case-insensitively, at word boundaries: ``"us"`` matches
  "US asset seizure" but not "USDT" or "bonus"; runs of spaces in the phrase match any
  whitespace; a phrase may start or end with punctuation ("$BTC", "S&P 500").

Which feeds. The configuration's ``news: {feeds: ...}`` (a mapping name -> URL, or a list of URLs,
each its own name) replaces ``DEFAULT_FEEDS``; ``feeds='all'`` (the default) counts every configured
feed, and ``feeds='fed, sec'`` only those (names or URLs, separated by commas or spaces). A URL
that is a configured feed's counts under that feed's name; any other URL is read as a feed of its
own, named by its URL; any other word is BAD_REQUEST naming the configured feeds. (A URL holding
a comma cannot be named in ``feeds=``: configure it under a name.)

The same story syndicated by two feeds (same link) counts once. The matching headlines, links and
times are kept in ``Observation.detail["matches"]`` (newest first, at most ``MAX_MATCHES``) for the
audit trace, with ``feeds`` (how many were read), ``items_in_window`` and ``undated``.

Items with no parseable date cannot be placed in time: they are skipped and counted in
``detail["undated"]`` (live only; they are never recorded), never guessed.

Failures fail closed. If any feed a leaf counts cannot be fetched (HTTP error, timeout, ...) or is
not a feed (an HTML page, XML cut short), the request is a DataError with that reason: a count over
the remaining feeds would be an undercount, not a smaller truth. A feed that lists no items at all
is NO_DATA. And a feed whose oldest known item is newer than the window start may have dropped
older items of the window (RSS lists only its latest N items), so that is INSUFFICIENT_HISTORY
rather than a count that could be too low (the oldest item itself marks the horizon: a window
starting before it reaches into time the feed no longer shows). The live feed remembers items
across polls (and, when recording, starts from what the store already holds), so after running for
one window it covers it. ``strict_coverage=False`` counts such partial windows anyway and names the
feeds in ``detail["partial_window"]`` (for demos on short recordings; not for vetoes).

Time. Live: the observation's ``as_of`` is the fetch time of the feeds (the oldest, if several) -
a live feed is current as of its fetch, so the count is "as of now" (a fetch that completes within
``LIVE_SKEW`` seconds after ``as_of`` is stamped ``as_of``). Replay: the data time is the newest
recorded item or poll mark at or before ``as_of`` (the oldest such time across feeds). A live run
that records (``signalops run --record DIR``) marks every poll, so its replay is dated as the live
run was; items without poll marks (imports, downloads) cannot say when the recording stopped, so
the newest item dates them: when no news was recorded for longer than the predicate's ``max_age``
the leaf goes stale (UNKNOWN) instead of counting zero on a recording that may have lapsed.

Series keys (source ``news``): ``items/<feed>`` where ``<feed>`` is the feed's configured name
(its URL unless a mapping name -> URL is given); ``t`` = the item's published (else updated) time,
``v`` = ``{title, link, summary, published}`` (``published`` as ISO 8601 UTC), or a list of such
objects when a feed has several items with the very same second (the store keeps one value per
time). ``polled/<feed>``: one point per live poll while recording, ``t`` = the poll's data time,
``v`` = ``{items, undated}`` (how many dated and undated items the feed listed). A recording under
a configured name replays under that name, so replay with the same ``news:`` configuration.
A configured name -> URL feed also reads what was recorded under its URL (``items/<URL>`` and
``polled/<URL>``: a recording made without the name, the bundled items), merged with its own
(an item in both counts once), live when recording (the memory starts from both) and in replay:
naming a feed never hides items recorded under its URL. When a feed has no recorded items the
message names the ``signalops data download`` command that provides them. ``import_bundled``
files the bundled CoinDesk feed under its own self link,
``items/https://www.coindesk.com/arc/outboundfeeds/rss``, which is also the default live name.
"""

from __future__ import annotations

import calendar
import difflib
import html
import re
import time
import xml.parsers.expat
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import feedparser

from signalops import textmatch
from signalops.adapters import hints
from signalops.adapters.base import BaseAdapter, live_time
from signalops.adapters.http import HttpClient
from signalops.adapters.snapshots import Series, SnapshotStore
from signalops.catalogue.builtin import NEWS
from signalops.catalogue.spec import format_duration
from signalops.codes import Code
from signalops.errors import AdapterError
from signalops.observation import Observation, Request
from signalops.textmatch import Matcher

SOURCE = "news"
MAX_MATCHES = 50

# Public crypto news feeds read by default. CoinDesk's URL is the feed's own self link.
DEFAULT_FEEDS: tuple[str, ...] = (
    "https://www.coindesk.com/arc/outboundfeeds/rss",
    "https://cointelegraph.com/rss",
    "https://decrypt.co/feed",
)

# The ``feeds`` parameter's default: every configured feed (so no feed may be named "all").
ALL_FEEDS = "all"

Item = dict[str, Any]  # {title, link, summary, published}


def items_key(feed: str) -> str:
    return f"items/{feed}"


def polled_key(feed: str) -> str:
    return f"polled/{feed}"


def is_feed_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def recorded_as(name: str, url: str) -> tuple[str, ...]:
    """The names a feed's items may be recorded under: its own, then its URL (see the module
    docstring), so that naming a feed in the configuration hides nothing recorded before."""
    return (name,) if url == name else (name, url)


def select_feeds(
    wanted: str, table: Mapping[str, str], *, recorded: Collection[str] = ()
) -> dict[str, str] | None:
    """The feeds (name -> URL) a ``feeds`` parameter names; None for ``'all'``.

    ``table``: the configured feeds; ``recorded``: names a replay store holds (also valid).
    BAD_REQUEST for an empty list, ``'all'`` among names, or a name that is neither configured,
    recorded nor a URL.
    """
    tokens = [token for token in re.split(r"[\s,]+", wanted.strip()) if token]
    if not tokens:
        raise _error("parameter 'feeds' names no feed", Code.BAD_REQUEST)
    if tokens == [ALL_FEEDS]:
        return None
    by_url = {url: name for name, url in table.items()}
    chosen: dict[str, str] = {}
    for token in tokens:
        if token in table:
            chosen[token] = table[token]
        elif token in by_url:
            chosen[by_url[token]] = token
        elif token in recorded or is_feed_url(token):
            chosen[token] = token
        else:
            known = [*table, *(r for r in recorded if r not in table)]
            what = "configured or recorded" if recorded else "configured"
            raise _unknown_feed(token, known, what)
    return chosen


def feed_problems(requests: Iterable[Request], feeds: Mapping[str, str] | None) -> Iterator[str]:
    """What is wrong with the ``feeds`` each news request names, against the configured feeds
    (None: the defaults). For ``validate``: a name may still be one a replay store recorded."""
    table = _feed_table(feeds if feeds is not None else DEFAULT_FEEDS)
    seen: set[str] = set()
    for request in requests:
        wanted = request.param_dict.get("feeds", ALL_FEEDS)
        if request.source != SOURCE or wanted in seen:
            continue
        seen.add(wanted)
        try:
            select_feeds(str(wanted), table)
        except AdapterError as exc:
            yield exc.message


def _unknown_feed(token: str, known: Sequence[str], what: str) -> AdapterError:
    if token == ALL_FEEDS:
        return _error("feeds: 'all' cannot be combined with feed names", Code.BAD_REQUEST)
    names = ", ".join(known) if known else "none"
    close = difflib.get_close_matches(token, list(known), n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else "; name one of them or a feed URL"
    return _error(f"unknown news feed '{token}' ({what}: {names}){hint}", Code.BAD_REQUEST)


@dataclass
class FeedItems:
    """One feed's items as of a time: ``times`` ascending, ``values[i]`` an item or a list of
    items at ``times[i]``; ``values[:end]`` are at or before ``as_of``."""

    name: str
    times: Sequence[float]
    values: Sequence[Any]
    end: int
    data_time: float
    undated: int = 0

    @property
    def oldest(self) -> float | None:
        return self.times[0] if self.end > 0 else None

    def since(self, start: float) -> Iterator[tuple[float, Item]]:
        """Items with ``start < t`` among ``values[:end]`` (so at or before ``as_of``)."""
        for i in range(bisect_right(self.times, start, 0, self.end), self.end):
            value = self.values[i]
            for item in value if isinstance(value, list) else (value,):
                yield self.times[i], item


class ItemFeed(Protocol):
    """Where items come from: the feeds over HTTP (live) or the snapshot store (replay)."""

    name: str

    def resolve(self, wanted: str) -> list[str]:
        """The names of the feeds a ``feeds`` parameter selects (AdapterError if it cannot)."""
        ...

    def load_feed(self, name: str, as_of: float) -> FeedItems:
        """One resolved feed's items as of ``as_of`` (raises AdapterError for any failure)."""
        ...


# --- parsing --------------------------------------------------------------------------------------

# feedparser maps both <description> and <dc:description> to "summary", and an empty
# <dc:description/> after the real description (as in CoinDesk's feed) would erase it.
_EMPTY_DC_DESCRIPTION = re.compile(r"<dc:description\s*/>|<dc:description>\s*</dc:description>")
_TAG = re.compile(r"<[^>]*>")


@dataclass
class ParsedFeed:
    items: list[tuple[float, Item]]  # dated items, any order
    undated: int
    self_link: str | None


# A feed is a few elements deep (rss > channel > item > title); a body nested a hundred
# thousand levels deep took feedparser two seconds to make nothing of.
MAX_DEPTH = 128


class _TooDeep(Exception):
    """Raised inside ``_deeper_than``'s scan only; never leaves this module."""


def _deeper_than(text: str, limit: int) -> bool:
    """Whether ``text``'s elements nest more than ``limit`` deep (expat, at C speed). A body
    that is not well-formed XML is scanned as far as it is: feedparser says what it makes of
    the rest."""
    parser = xml.parsers.expat.ParserCreate()
    depth = 0

    def start(name: str, attributes: Any) -> None:
        nonlocal depth
        depth += 1
        if depth > limit:
            raise _TooDeep

    def end(name: str) -> None:
        nonlocal depth
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(text, True)
    except _TooDeep:
        return True
    except xml.parsers.expat.ExpatError:
        return False
    return False


def parse_feed(text: str, where: str) -> ParsedFeed:
    """Parse RSS/Atom text with feedparser (which never fetches anything itself here)."""
    if _deeper_than(text, MAX_DEPTH):
        message = f"{where} returned XML nested more than {MAX_DEPTH} levels deep (not a feed)"
        raise _error(message, Code.RESPONSE_TOO_DEEP)
    parsed = feedparser.parse(_EMPTY_DC_DESCRIPTION.sub("", text))
    if not parsed.get("version"):
        raise _error(f"{where} did not return an RSS or Atom feed", Code.BAD_RESPONSE)
    problem = parsed.get("bozo_exception")
    if parsed.get("bozo") and type(problem).__name__ == "SAXParseException":
        # Not well-formed XML: most often a body cut short, i.e. items missing.
        raise _error(f"{where} returned a malformed feed ({problem})", Code.BAD_RESPONSE)
    items: list[tuple[float, Item]] = []
    undated = 0
    for entry in parsed.get("entries", []):
        # dict.get: FeedParserDict.get("updated_parsed") silently falls back to the published
        # date (with a DeprecationWarning); the plain lookups say what the feed really has.
        stamp = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
        if stamp is None:
            undated += 1
            continue
        t = float(calendar.timegm(stamp))
        items.append(
            (
                t,
                {
                    "title": str(entry.get("title", "")),
                    "link": str(entry.get("link", "")),
                    "summary": str(entry.get("summary", "")),
                    "published": _iso(t),
                },
            )
        )
    self_link = next(
        (link.get("href") for link in parsed.feed.get("links", []) if link.get("rel") == "self"),
        None,
    )
    return ParsedFeed(items, undated, self_link)


def _records(feed: str, items: Sequence[tuple[float, Item]]) -> Iterator[tuple[str, float, Any]]:
    """Snapshot records of one feed's items; items sharing a second go into one list value."""
    by_time: dict[float, list[Item]] = {}
    for t, item in items:
        group = by_time.setdefault(t, [])
        if item not in group:
            group.append(item)
    for t in sorted(by_time):
        group = by_time[t]
        yield items_key(feed), t, group[0] if len(group) == 1 else group


# --- live: RSS over HTTP --------------------------------------------------------------------------


@dataclass
class _Known:
    """Everything one feed has shown this process (and the store), by time."""

    items: dict[tuple[float, str, str], Item] = field(default_factory=dict)
    fetched: float = 0.0
    polled: float | None = None  # monotonic time of the last fetch
    undated: int = 0
    seeded: bool = False


class RssFeed:
    """Live feeds through the shared ``HttpClient`` (retries, back-off, timeouts).

    ``feeds``: URLs (each its own name) or a mapping name -> URL. A feed is fetched again when its
    last fetch is older than ``cache_ttl`` seconds (on a monotonic ``clock``). Items seen in earlier
    polls are remembered, so coverage grows past the feed's own N-item horizon; with ``record`` set
    new items are appended to the store, every fetch leaves a poll mark, and the memory starts
    from the store's items. A leaf may name a feed URL that is not configured: it is read too.
    """

    name = "rss"

    def __init__(
        self,
        feeds: Sequence[str] | Mapping[str, str] = DEFAULT_FEEDS,
        *,
        client: HttpClient | None = None,
        record: SnapshotStore | None = None,
        cache_ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] | None = None,
        **http_options: Any,
    ) -> None:
        self.feeds = _feed_table(feeds)
        self.client = client or HttpClient(SOURCE, **http_options)
        self.record = record
        self.cache_ttl = cache_ttl
        self.clock = clock
        self.now = now or (lambda: datetime.now(UTC))
        self._known: dict[str, _Known] = {}
        self._unlisted: dict[str, str] = {}  # feed URLs named by a leaf, not configured

    def resolve(self, wanted: str) -> list[str]:
        chosen = select_feeds(wanted, self.feeds)
        if chosen is None:
            return list(self.feeds)
        for name, url in chosen.items():
            if name not in self.feeds:
                self._unlisted[name] = url
        return list(chosen)

    def load(self, as_of: float) -> list[FeedItems]:
        """Every configured feed's items as of ``as_of``."""
        return [self.load_feed(name, as_of) for name in self.feeds]

    def load_feed(self, name: str, as_of: float) -> FeedItems:
        url = self.feeds.get(name) or self._unlisted[name]
        known = self._poll(name, url, as_of)
        ordered = sorted(known.items.items(), key=lambda kv: kv[0][0])
        times = [key[0] for key, _ in ordered]
        return FeedItems(
            name=name,
            times=times,
            values=[item for _, item in ordered],
            end=bisect_right(times, as_of),
            data_time=live_time(known.fetched, as_of),
            undated=known.undated,
        )

    def _poll(self, name: str, url: str, as_of: float) -> _Known:
        known = self._known.setdefault(name, _Known())
        if known.polled is not None and self.clock() - known.polled < self.cache_ttl:
            return known
        if not known.seeded:
            known.seeded = True
            self._seed(name, known)
        # ttl=0: freshness is decided here, where the fetch time is known.
        text = self.client.get_text(url, ttl=0)
        fetched = self.now().timestamp()
        parsed = parse_feed(text, f"feed {name}")
        if not parsed.items and not parsed.undated:
            raise _error(f"feed {name} lists no items", Code.NO_DATA)
        new = []
        for t, item in parsed.items:
            key = (t, item["link"], item["title"])
            if key not in known.items:
                known.items[key] = item
                new.append(t)
        known.fetched, known.polled, known.undated = fetched, self.clock(), parsed.undated
        if self.record is not None:
            # Re-write the whole group of each new item's second: the store keeps one value a time.
            stamps = set(new)
            group = [(t, item) for (t, _, _), item in known.items.items() if t in stamps]
            # The poll mark dates a replay as this poll dated the live answer (items alone
            # cannot say that the feed was read later and had nothing newer).
            mark = {"items": len(parsed.items), "undated": parsed.undated}
            polled = (polled_key(name), live_time(fetched, as_of), mark)
            self.record.append(SOURCE, [*_records(name, group), polled])
        return known

    def _seed(self, name: str, known: _Known) -> None:
        if self.record is None:
            return
        url = self.feeds.get(name) or self._unlisted[name]
        for recorded in recorded_as(name, url):
            series = self.record.series(SOURCE, items_key(recorded))
            if series is None:
                continue
            for t, item in _each_item(series.times, series.values):
                known.items.setdefault(_identity(t, item), item)


def _each_item(times: Sequence[float], values: Sequence[Any]) -> Iterator[tuple[float, Item]]:
    """The recorded items with their times (a value is an item or a list of a second's items)."""
    for t, value in zip(times, values, strict=True):
        for item in value if isinstance(value, list) else (value,):
            if isinstance(item, dict):
                yield t, item


def _identity(t: float, item: Item) -> tuple[float, str, str]:
    return t, str(item.get("link", "")), str(item.get("title", ""))


def _feed_table(feeds: Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    if isinstance(feeds, str):
        feeds = (feeds,)
    table = dict(feeds) if isinstance(feeds, Mapping) else {url: url for url in feeds}
    if not table:
        raise ValueError("news needs at least one feed")
    return table


# --- replay: the snapshot store -------------------------------------------------------------------


class ReplayItemFeed:
    """Recorded items from the store: never one dated after ``as_of``.

    ``feeds``: the configured feeds (names, or a mapping name -> URL, as live); ``'all'`` reads
    those. None (no configuration): ``'all'`` reads every ``items/...`` series recorded. Either
    way a leaf may name any recorded feed.
    """

    name = "replay"

    def __init__(
        self, store: SnapshotStore, feeds: Sequence[str] | Mapping[str, str] | None = None
    ) -> None:
        self.store = store
        self.feeds = _feed_table(feeds) if feeds is not None else None
        self._merged: dict[str, tuple[list[Series], Series]] = {}

    def recorded(self) -> list[str]:
        prefix = "items/"
        return [k[len(prefix) :] for k in self.store.keys(SOURCE) if k.startswith(prefix)]

    def resolve(self, wanted: str) -> list[str]:
        recorded = self.recorded()
        chosen = select_feeds(wanted, self.feeds or {}, recorded=recorded)
        if chosen is not None:
            return list(chosen)
        names = list(self.feeds) if self.feeds is not None else recorded
        if not names:
            provide = hints.feeds(DEFAULT_FEEDS, to=self.store.directory)
            raise _error(f"no news feed was recorded: {provide}", Code.NO_DATA)
        return names

    def load(self, as_of: float) -> list[FeedItems]:
        """Every configured (else recorded) feed's items as of ``as_of``."""
        return [self.load_feed(name, as_of) for name in self.resolve(ALL_FEEDS)]

    def load_feed(self, name: str, as_of: float) -> FeedItems:
        names = recorded_as(name, (self.feeds or {}).get(name, name))
        series = self._items(name, names)
        if series is None:
            provide = hints.provide(SOURCE, name, to=self.store.directory)
            raise _error(f"no recorded items for feed {name}: {provide}", Code.NO_DATA)
        end = series.end(as_of)
        data_time = series.times[end - 1] if end else None
        undated = 0
        mark = self._last_poll(names, as_of)
        if mark is not None:
            data_time = mark[0] if data_time is None else max(data_time, mark[0])
            undated = int(mark[1].get("undated", 0)) if isinstance(mark[1], dict) else 0
        if data_time is None:
            raise _error(
                f"no item of feed {name} was recorded at or before {_iso(as_of)}: "
                + hints.provide(SOURCE, name, to=self.store.directory),
                Code.NO_DATA,
            )
        return FeedItems(name, series.times, series.values, end, data_time, undated)

    def _items(self, name: str, names: Sequence[str]) -> Series | None:
        """The items recorded under any of ``names``, one series (merged once, then kept)."""
        found = [
            series
            for series in (self.store.series(SOURCE, items_key(n)) for n in names)
            if series is not None
        ]
        if len(found) < 2:
            return found[0] if found else None
        cached = self._merged.get(name)
        if cached is not None and list(map(id, cached[0])) == list(map(id, found)):
            return cached[1]  # the same series objects: the store was not read again
        merged = _merged_items(items_key(name), found)
        self._merged[name] = (found, merged)
        return merged

    def _last_poll(self, names: Sequence[str], as_of: float) -> tuple[float, Any] | None:
        """The newest poll mark at or before ``as_of`` under any of ``names``."""
        marks = [self.store.series(SOURCE, polled_key(n)) for n in names]
        found = [m.last_at_or_before(as_of) for m in marks if m is not None]
        return max((mark for mark in found if mark is not None), key=lambda m: m[0], default=None)


def _merged_items(key: str, parts: Sequence[Series]) -> Series:
    """One feed's items recorded under several names, as one series: an item recorded twice
    (same time, link and title) once, a second's items a list as the recording writes them."""
    by_time: dict[float, dict[tuple[float, str, str], Item]] = {}
    for part in parts:
        for t, item in _each_item(part.times, part.values):
            by_time.setdefault(t, {}).setdefault(_identity(t, item), item)
    times = sorted(by_time)
    values = [_one_or_list(list(by_time[t].values())) for t in times]
    return Series(key, times, values)


def _one_or_list(items: list[Item]) -> Item | list[Item]:
    return items[0] if len(items) == 1 else items


# --- matching -------------------------------------------------------------------------------------


def compile_query(query: str) -> Matcher:
    """``'/regex/'`` -> that regex on RE2; otherwise the whole phrase at word boundaries; both
    ignore case (``signalops.textmatch``). BAD_REQUEST for an empty query or a bad pattern."""
    try:
        return textmatch.compile_query(query)
    except ValueError as exc:
        raise _error(str(exc), Code.BAD_REQUEST) from None


def searchable(item: Item) -> str:
    summary = html.unescape(_TAG.sub(" ", str(item.get("summary", ""))))
    return f"{item.get('title', '')}\n{summary}"


# --- the adapter ----------------------------------------------------------------------------------


class NewsAdapter(BaseAdapter):
    source = SOURCE
    catalogue = NEWS

    def __init__(self, feed: ItemFeed, *, strict_coverage: bool = True) -> None:
        self.feed = feed
        self.strict_coverage = strict_coverage

    @classmethod
    def live(
        cls,
        feeds: Sequence[str] | Mapping[str, str] = DEFAULT_FEEDS,
        *,
        transport: Any = None,
        client: HttpClient | None = None,
        record: SnapshotStore | None = None,
        cache_ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] | None = None,
        strict_coverage: bool = True,
        **http_options: Any,
    ) -> NewsAdapter:
        """``http_options`` go to the ``HttpClient`` (retries, backoff, timeout, sleep, ...)."""
        if client is None:
            client = HttpClient(SOURCE, transport=transport, **http_options)
        feed = RssFeed(
            feeds, client=client, record=record, cache_ttl=cache_ttl, clock=clock, now=now
        )
        return cls(feed, strict_coverage=strict_coverage)

    @classmethod
    def replay(
        cls,
        store: SnapshotStore,
        feeds: Sequence[str] | Mapping[str, str] | None = None,
        *,
        strict_coverage: bool = True,
    ) -> NewsAdapter:
        return cls(ReplayItemFeed(store, feeds), strict_coverage=strict_coverage)

    def observe(self, request: Request, as_of: datetime, batch: dict[Any, Any]) -> Observation:
        params = request.param_dict
        query = str(params.get("query", ""))
        pattern = compile_query(query)
        window = float(params.get("window", 86400))
        if window <= 0:
            raise _error("window must be positive", Code.BAD_REQUEST)
        until = as_of.timestamp()
        since = until - window
        loaded = self._load(str(params.get("feeds", ALL_FEEDS)), until, batch)
        short = [f for f in loaded if f.oldest is None or f.oldest > since]
        if short and self.strict_coverage:
            covered = ", ".join(
                f"{f.name} from {_iso(f.oldest) if f.oldest is not None else 'nothing'}"
                for f in short
            )
            raise _error(
                f"the {format_duration(window)} window starts {_iso(since)} but the items known "
                f"only go back to: {covered}; older items of the window may be missing",
                Code.INSUFFICIENT_HISTORY,
            )
        matches: list[dict[str, Any]] = []
        seen: set[str] = set()
        in_window = 0
        for feed in loaded:
            for t, item in feed.since(since):
                identity = str(item.get("link") or "") or f"{feed.name}|{t}|{item.get('title')}"
                if identity in seen:
                    continue
                seen.add(identity)
                in_window += 1
                if pattern.search(searchable(item)):
                    matches.append(
                        {
                            "title": item.get("title", ""),
                            "link": item.get("link", ""),
                            "published": _iso(t),
                            "feed": feed.name,
                            "_t": t,
                        }
                    )
        matches.sort(key=lambda m: m["_t"], reverse=True)
        for match in matches:
            del match["_t"]
        detail: dict[str, Any] = {
            "query": query,
            "window": format_duration(window),
            "feeds": len(loaded),
            "items_in_window": in_window,
            "undated": sum(f.undated for f in loaded),
            "matches": matches[:MAX_MATCHES],
        }
        if len(matches) > MAX_MATCHES:
            detail["more_matches"] = len(matches) - MAX_MATCHES
        if short:
            detail["partial_window"] = {
                f.name: None if f.oldest is None else _iso(f.oldest) for f in short
            }
        data_time = min(f.data_time for f in loaded)
        return Observation(
            float(len(matches)),
            datetime.fromtimestamp(data_time, UTC),
            SOURCE,
            fetched_at=as_of,
            detail=detail,
        )

    def _load(self, wanted: str, as_of: float, batch: dict[Any, Any]) -> list[FeedItems]:
        """The selected feeds' items, each loaded once per fetch (a failure is kept, so every
        leaf counting that feed fails alike); any failing feed fails the count."""
        loaded = []
        for name in self.feed.resolve(wanted):
            key = (SOURCE, "feed", name)
            found = batch.get(key)
            if found is None:
                try:
                    found = self.feed.load_feed(name, as_of)
                except AdapterError as exc:
                    found = exc
                batch[key] = found
            if isinstance(found, AdapterError):
                raise found
            loaded.append(found)
        return loaded


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _error(message: str, reason: Code) -> AdapterError:
    return AdapterError(message, source=SOURCE, reason=reason)


# --- bundled data ---------------------------------------------------------------------------------


def import_bundled(data_dir: Path) -> Iterator[tuple[str, float, Any]]:
    """``rss/*.xml`` -> ``items/<feed>`` records, ``<feed>`` being the feed's self link (else the
    file name), at each item's published time; undated items are skipped."""
    for path in sorted((Path(data_dir) / "rss").glob("*.xml")):
        parsed = parse_feed(path.read_text(encoding="utf-8"), str(path))
        yield from _records(parsed.self_link or path.stem, parsed.items)
