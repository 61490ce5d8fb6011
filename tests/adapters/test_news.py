"""Tests for the news adapter (signalops.adapters.news).

Live tests run the real stack: the shared ``HttpClient`` (a real ``httpx.Client``) over an
``httpx.MockTransport`` that serves the real recorded CoinDesk feed
(``examples/data/rss/coindesk_2026-09-25.xml``, 3 items published 14:32:48, 14:37:32 and 14:41:53
UTC on 2026-09-25, feed built 16:22:09), parsed by the real feedparser. Variants of that feed
(an item without a date, a second feed, a later poll) are built from its real items and say so.
Retries use a sleep that only records the back-off.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from signalops.adapters.news import (
    DEFAULT_FEEDS,
    NewsAdapter,
    compile_query,
    import_bundled,
    parse_feed,
    searchable,
)
from signalops.adapters.snapshots import SnapshotStore
from signalops.errors import AdapterError
from signalops.observation import DataError, Observation, Request

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data"
FEED_TEXT = (DATA / "rss" / "coindesk_2026-09-25.xml").read_text(encoding="utf-8")
COINDESK = "https://www.coindesk.com/arc/outboundfeeds/rss"
OTHER = "https://news.example.test/feed"

BUILT = datetime(2026, 9, 25, 16, 22, 9, tzinfo=UTC)  # the feed's lastBuildDate
ITEM_1 = datetime(2026, 9, 25, 14, 41, 53, tzinfo=UTC)  # Circle and Tether step in to freeze ...
ITEM_2 = datetime(2026, 9, 25, 14, 37, 32, tzinfo=UTC)  # Tokenization is moving faster ...
ITEM_3 = datetime(2026, 9, 25, 14, 32, 48, tzinfo=UTC)  # Tether confirms minimal EQIBank ...
HOUR, DAY = 3600, 86400
# The feed only vouches for time since its oldest item (14:32:48); a window must start there or
# later. 105 minutes before the build time (16:22:09) is 14:37:09: items 1 and 2.
W = 105 * 60

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Feeds:
    """An httpx transport: per URL a list of answers used in order (the last one repeats)."""

    def __init__(self, **by_url: list[Answer]) -> None:
        self.answers: dict[str, list[Answer]] = {}
        self.seen: list[str] = []
        self.transport = httpx.MockTransport(self.handle)

    def serve(self, url: str, *answers: Answer) -> Feeds:
        self.answers[url] = list(answers)
        return self

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.seen.append(url)
        answers = self.answers.get(url)
        if not answers:
            return httpx.Response(404, text="not found")
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer


def rss(text: str = FEED_TEXT) -> httpx.Response:
    return httpx.Response(200, text=text, headers={"Content-Type": "application/rss+xml"})


def status(code: int) -> httpx.Response:
    return httpx.Response(code, text=f"error {code}")


class Clock:
    """A monotonic clock that only moves when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def live(
    feeds: Feeds,
    urls: Any = (COINDESK,),
    *,
    now: datetime = BUILT,
    sleeps: Sleeps | None = None,
    **options: Any,
) -> NewsAdapter:
    return NewsAdapter.live(
        urls, transport=feeds.transport, now=lambda: now, sleep=sleeps or Sleeps(), **options
    )


def req(query: str, window: int = W) -> Request:
    return Request("news", "news_count", (("query", query), ("window", window)), None)


def ask(adapter: NewsAdapter, query: str, window: int = W, as_of: datetime = BUILT):
    return adapter.fetch([req(query, window)], as_of)[req(query, window)]


def value(answer: Observation | DataError) -> float:
    assert isinstance(answer, Observation), answer
    return answer.value


def reason(answer: Observation | DataError) -> str:
    assert isinstance(answer, DataError), answer
    return answer.reason


# --- real values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ("Tether", 2),  # item 1 title, item 3 title and summary
        ("tether", 2),  # case-insensitive
        ("/freez|seiz/", 2),  # "freeze" (item 1), "seizure" (item 3)
        ("stablecoin", 1),  # item 1 summary only
        ("us", 1),  # "$89M US asset seizure"; not USDT, USDC, "argues", "underscores"
        ("USD", 0),  # USDT and USDC are other words
        ("regulatory   clarity", 1),  # a phrase; any whitespace between its words
        ("$89M", 1),  # punctuation at the edge of a phrase
        ("ether", 1),  # item 1 summary "in ether" - not "Tether"
        ("/^circle and tether/", 1),
        ("solana", 0),
    ],
)
def test_query_semantics_on_the_three_real_items(query, count):
    items = [item for _, item in parse_feed(FEED_TEXT, "coindesk").items]
    pattern = compile_query(query)
    assert sum(bool(pattern.search(searchable(item))) for item in items) == count


@pytest.mark.parametrize(("query", "count"), [("Tether", 1), ("/tether|tokeniz/", 2), ("us", 0)])
def test_real_coindesk_feed_counts_matching_items_in_the_window(query, count):
    feeds = Feeds().serve(COINDESK, rss())
    assert value(ask(live(feeds), query)) == count


def test_count_keeps_headlines_links_and_times_for_the_audit_trace():
    answer = ask(live(Feeds().serve(COINDESK, rss())), "/tether|tokeniz/")
    assert isinstance(answer, Observation)
    assert answer.as_of == BUILT  # live: the count is as of the fetch
    assert answer.detail["feeds"] == 1
    assert answer.detail["items_in_window"] == 2
    assert answer.detail["undated"] == 0
    assert answer.detail["window"] == "105m"
    assert answer.detail["matches"] == [
        {
            "title": "Circle and Tether step in to freeze hacker wallet after massive Bitget "
            "crypto heist",
            "link": "https://www.coindesk.com/markets/2026/09/25/circle-and-tether-step-in-to-"
            "freeze-hacker-wallet-after-massive-bitget-crypto-heist",
            "published": "2026-09-25T14:41:53Z",
            "feed": COINDESK,
        },
        {
            "title": "Tokenization is moving faster than Washington",
            "link": "https://www.coindesk.com/opinion/2026/09/25/tokenization-is-moving-faster-"
            "than-washington",
            "published": "2026-09-25T14:37:32Z",
            "feed": COINDESK,
        },
    ]


def test_window_is_half_open_and_excludes_items_after_as_of():
    feeds = Feeds().serve(COINDESK, rss())
    # as_of 14:41:53 exactly: item 1 is in (as_of - window, as_of]; a window of 9m05s starts
    # exactly at item 3 (14:32:48), which is therefore out.
    adapter = live(feeds, now=ITEM_1)
    assert value(ask(adapter, "/./", 545, ITEM_1)) == 2
    adapter = live(Feeds().serve(COINDESK, rss()), now=ITEM_2)
    answer = ask(adapter, "/./", 5 * 60, ITEM_2 + timedelta(minutes=1))
    assert value(answer) == 1  # item 2; item 1 (14:41:53) is after as_of (14:38:32)


def test_summary_survives_the_empty_dc_description_of_the_coindesk_feed():
    # CoinDesk follows <description> with an empty <dc:description/>, which feedparser would map
    # onto the same "summary" and so erase the real one.
    assert value(ask(live(Feeds().serve(COINDESK, rss())), "Regulatory clarity")) == 1


def test_fetch_just_after_as_of_is_stamped_as_of_and_a_long_past_as_of_is_look_ahead():
    feeds = Feeds().serve(COINDESK, rss())
    answer = ask(live(feeds, now=BUILT + timedelta(seconds=3)), "Tether")
    assert answer.as_of == BUILT
    answer = ask(live(feeds, now=BUILT + timedelta(days=2)), "Tether")
    assert reason(answer) == "LOOK_AHEAD"


# --- coverage and dates --------------------------------------------------------------------------


def test_window_reaching_before_the_oldest_listed_item_is_insufficient_history():
    # The feed lists 3 items spanning 9 minutes: it cannot vouch for a whole day.
    answer = ask(live(Feeds().serve(COINDESK, rss())), "Tether", DAY)
    assert reason(answer) == "INSUFFICIENT_HISTORY"
    assert "2026-09-24T16:22:09Z" in answer.message and "2026-09-25T14:32:48Z" in answer.message


def test_lenient_coverage_counts_the_partial_window_and_names_the_short_feed():
    feeds = Feeds().serve(COINDESK, rss())
    answer = ask(live(feeds, strict_coverage=False), "Tether", DAY)
    assert value(answer) == 2
    assert answer.detail["partial_window"] == {COINDESK: "2026-09-25T14:32:48Z"}


def without_item_3(text: str = FEED_TEXT) -> str:
    return re.sub(r"<item>(?:(?!</item>).)*EQIBank(?:(?!</item>).)*</item>", "", text, flags=re.S)


def test_items_remembered_from_earlier_polls_still_count_after_they_left_the_feed():
    # Second poll: the real feed with its oldest item rolled off (built from the real feed).
    clock = Clock()
    feeds = Feeds().serve(COINDESK, rss(), rss(without_item_3()))
    adapter = NewsAdapter.live(
        [COINDESK], transport=feeds.transport, now=lambda: BUILT, clock=clock,
        cache_ttl=60.0, sleep=Sleeps(),
    )  # fmt: skip
    assert value(ask(adapter, "Tether")) == 1
    clock.now += 30  # within the TTL: no new fetch
    assert value(ask(adapter, "Tether")) == 1
    assert len(feeds.seen) == 1
    clock.now += 60
    # Item 3 left the feed but is remembered, so the window (from 14:37:09) is still covered;
    # without it the feed would only reach back to item 2 (14:37:32).
    assert value(ask(adapter, "Tether")) == 1
    assert len(feeds.seen) == 2


def test_item_without_a_date_is_skipped_and_counted_as_undated():
    # The real feed with item 2's pubDate removed.
    text = FEED_TEXT.replace("<pubDate>Fri, 25 Sep 2026 14:37:32 +0000</pubDate>", "", 1)
    answer = ask(live(Feeds().serve(COINDESK, rss(text))), "Tether")
    assert value(answer) == 1
    assert answer.detail["undated"] == 1
    assert answer.detail["items_in_window"] == 1


def test_unparseable_date_string_is_treated_as_undated_not_guessed():
    text = FEED_TEXT.replace("Fri, 25 Sep 2026 14:37:32 +0000", "sometime on Friday", 1)
    answer = ask(live(Feeds().serve(COINDESK, rss(text))), "Tether")
    assert value(answer) == 1
    assert answer.detail["undated"] == 1


def test_atom_entry_without_published_uses_updated():
    # An Atom rendering of real items 1 and 3 (titles, links, times) with only <updated>.
    atom = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>t</title><id>urn:x</id><updated>2026-09-25T14:41:53Z</updated>"
        "<entry><title>Circle and Tether step in to freeze hacker wallet after massive Bitget "
        'crypto heist</title><link href="https://www.coindesk.com/markets/2026/09/25/circle"/>'
        "<id>urn:1</id><updated>2026-09-25T14:41:53Z</updated></entry>"
        "<entry><title>Tether confirms minimal EQIBank exposure following $89M US asset seizure"
        '</title><link href="https://www.coindesk.com/policy/2026/09/25/tether-confirms"/>'
        "<id>urn:3</id><updated>2026-09-25T14:32:48Z</updated></entry></feed>"
    )
    answer = ask(live(Feeds().serve(OTHER, rss(atom)), [OTHER]), "Tether")
    assert value(answer) == 1
    assert answer.detail["matches"][0]["published"] == "2026-09-25T14:41:53Z"


def test_feed_listing_no_items_is_no_data():
    empty = re.sub(r"<item>.*</item>", "", FEED_TEXT, flags=re.S)
    assert reason(ask(live(Feeds().serve(COINDESK, rss(empty))), "Tether")) == "NO_DATA"


# --- bad requests and bad responses --------------------------------------------------------------


@pytest.mark.parametrize("query", ["/[unclosed/", "//", "   ", "/(?P<x/"])
def test_invalid_query_is_a_bad_request(query):
    feeds = Feeds().serve(COINDESK, rss())
    assert reason(ask(live(feeds), query)) == "BAD_REQUEST"


def test_a_single_slash_query_is_a_phrase_not_a_regex():
    assert compile_query("/").pattern == r"(?<!\w)/(?!\w)"
    assert compile_query("/btc").search("the /btc pair")


def test_html_page_instead_of_a_feed_is_a_bad_response():
    page = httpx.Response(200, text="<html><body><h1>Just a moment...</h1></body></html>")
    answer = ask(live(Feeds().serve(COINDESK, page)), "Tether")
    assert reason(answer) == "BAD_RESPONSE"


def test_feed_cut_short_is_a_bad_response_not_a_smaller_count():
    answer = ask(live(Feeds().serve(COINDESK, rss(FEED_TEXT[:3000]))), "Tether")
    assert reason(answer) == "BAD_RESPONSE"
    assert "malformed" in answer.message


def test_a_feed_nested_a_hundred_thousand_deep_is_refused_before_feedparser_reads_it():
    # The real feed with 100,000 nested elements spliced into its channel (feedparser took two
    # seconds over such a body): refused by its depth, the real feed's own depth being fine.
    deep = "<x>" * 100_000 + "</x>" * 100_000
    text = FEED_TEXT.replace("<channel>", "<channel>" + deep, 1)
    answer = ask(live(Feeds().serve(COINDESK, rss(text))), "Tether")
    assert reason(answer) == "RESPONSE_TOO_DEEP"
    assert answer.message.endswith("returned XML nested more than 128 levels deep (not a feed)")
    assert value(ask(live(Feeds().serve(COINDESK, rss())), "Tether")) >= 0


def test_json_body_is_a_bad_response():
    answer = ask(live(Feeds().serve(COINDESK, httpx.Response(200, json={"items": []}))), "Tether")
    assert reason(answer) == "BAD_RESPONSE"


# --- HTTP failures -------------------------------------------------------------------------------


def test_429_then_success_counts_after_one_back_off():
    sleeps = Sleeps()
    feeds = Feeds().serve(COINDESK, status(429), rss())
    assert value(ask(live(feeds, sleeps=sleeps), "Tether")) == 1
    assert sleeps.waits == [0.5]


def test_timeout_that_persists_is_a_timeout():
    sleeps = Sleeps()
    feeds = Feeds().serve(COINDESK, httpx.ReadTimeout("read timed out"))
    answer = ask(live(feeds, sleeps=sleeps, retries=2), "Tether")
    assert reason(answer) == "TIMEOUT"
    assert sleeps.waits == [0.5, 1.0]
    assert len(feeds.seen) == 3


def test_5xx_storm_exhausts_retries_and_is_an_http_error():
    feeds = Feeds().serve(COINDESK, status(503))
    answer = ask(live(feeds, retries=3), "Tether")
    assert reason(answer) == "HTTP_ERROR"
    assert "gave up after 4 attempts" in answer.message


def test_one_failing_feed_of_two_fails_the_count_closed():
    feeds = Feeds().serve(COINDESK, rss()).serve(OTHER, status(503))
    answer = ask(live(feeds, [COINDESK, OTHER], retries=1), "Tether")
    assert reason(answer) == "HTTP_ERROR"
    assert "news.example.test" in answer.message


def test_all_queries_of_a_cycle_share_one_fetch_and_one_failure():
    feeds = Feeds().serve(COINDESK, status(404))
    answers = live(feeds).fetch([req("Tether"), req("/hack/"), req("Circle")], BUILT)
    assert {reason(a) for a in answers.values()} == {"HTTP_ERROR"}
    assert len(feeds.seen) == 1  # 404 is not retried, and not re-fetched per query


def test_same_story_in_two_feeds_counts_once():
    feeds = Feeds().serve(COINDESK, rss()).serve(OTHER, rss())  # a mirror of the real feed
    answer = ask(live(feeds, {"coindesk": COINDESK, "mirror": OTHER}), "/tether|tokeniz/")
    assert value(answer) == 2
    assert answer.detail["feeds"] == 2


# --- recording, replay and bundled data ----------------------------------------------------------


def test_import_bundled_files_the_coindesk_items_under_its_self_link():
    records = list(import_bundled(DATA))
    assert [(key, t) for key, t, _ in records] == [
        (f"items/{COINDESK}", ITEM_3.timestamp()),
        (f"items/{COINDESK}", ITEM_2.timestamp()),
        (f"items/{COINDESK}", ITEM_1.timestamp()),
    ]
    first = records[2][2]
    assert first["title"].startswith("Circle and Tether step in")
    assert first["link"].endswith(
        "circle-and-tether-step-in-to-freeze-hacker-wallet-after-massive-bitget-crypto-heist"
    )
    assert first["published"] == "2026-09-25T14:41:53Z"
    assert first["summary"].startswith("The stablecoin issuer blacklisted a wallet")
    assert COINDESK in DEFAULT_FEEDS


def bundled_store(tmp_path: Path) -> SnapshotStore:
    store = SnapshotStore(tmp_path)
    store.write("news", import_bundled(DATA))
    return store


def test_replay_of_the_bundled_feed_counts_like_live_and_is_dated_at_the_newest_item(tmp_path):
    adapter = NewsAdapter.replay(bundled_store(tmp_path))
    answer = ask(adapter, "/tether|tokeniz/")
    assert value(answer) == 2
    assert answer.as_of == ITEM_1  # the newest recorded item at or before as_of
    assert [m["published"] for m in answer.detail["matches"]] == [
        "2026-09-25T14:41:53Z",
        "2026-09-25T14:37:32Z",
    ]


def test_replay_never_counts_an_item_published_after_as_of(tmp_path):
    adapter = NewsAdapter.replay(bundled_store(tmp_path))
    as_of = datetime(2026, 9, 25, 14, 40, tzinfo=UTC)  # before item 1 (14:41:53)
    answers = adapter.fetch([req("/./", 7 * 60), req("Circle", 7 * 60)], as_of)
    assert value(answers[req("/./", 7 * 60)]) == 1  # item 2 only
    assert value(answers[req("Circle", 7 * 60)]) == 0  # item 1 is not yet published
    assert answers[req("/./", 7 * 60)].as_of == ITEM_2


def test_replay_before_anything_was_recorded_is_no_data(tmp_path):
    adapter = NewsAdapter.replay(bundled_store(tmp_path))
    answer = ask(adapter, "Tether", HOUR, ITEM_3 - timedelta(seconds=1))
    assert reason(answer) == "NO_DATA"


def test_replay_of_a_feed_that_was_never_recorded_is_no_data(tmp_path):
    adapter = NewsAdapter.replay(bundled_store(tmp_path), feeds=[COINDESK, OTHER])
    assert reason(ask(adapter, "Tether")) == "NO_DATA"
    assert reason(ask(NewsAdapter.replay(SnapshotStore(tmp_path / "empty")), "Tether")) == "NO_DATA"


def test_live_recording_replays_to_the_same_count(tmp_path):
    store = SnapshotStore(tmp_path)
    live_answer = ask(live(Feeds().serve(COINDESK, rss()), record=store), "/tether|circle/")
    replayed = ask(NewsAdapter.replay(SnapshotStore(tmp_path)), "/tether|circle/")
    assert value(replayed) == value(live_answer) == 1
    assert replayed.detail["matches"] == live_answer.detail["matches"]


def test_polling_again_records_only_new_items(tmp_path):
    store = SnapshotStore(tmp_path)
    clock = Clock()
    feeds = Feeds().serve(COINDESK, rss(without_item_3()), rss())
    adapter = NewsAdapter.live(
        [COINDESK], transport=feeds.transport, record=store, now=lambda: BUILT, clock=clock,
        sleep=Sleeps(),
    )  # fmt: skip
    ask(adapter, "Tether", 5 * 60)
    clock.now += 120
    ask(adapter, "Tether", 5 * 60)
    assert len(feeds.seen) == 2
    lines = store.path("news").read_text().splitlines()
    items = [line for line in lines if line.startswith('{"series": "items/')]
    assert len(items) == 3  # items 1 and 2, then item 3 when it appeared
    assert len(lines) - len(items) == 2  # and a poll mark per fetch


def test_a_restarted_live_adapter_starts_from_the_recorded_items(tmp_path):
    store = bundled_store(tmp_path)
    feeds = Feeds().serve(COINDESK, rss(without_item_3()))
    answer = ask(live(feeds, record=store), "Tether")
    # Covered from item 3 (14:32:48), which only the store still knows; without it the feed
    # would reach back to item 2 (14:37:32), after the window start (14:37:09).
    assert value(answer) == 1
    assert reason(ask(live(Feeds().serve(COINDESK, rss(without_item_3()))), "Tether")) == (
        "INSUFFICIENT_HISTORY"
    )


def test_items_sharing_a_second_are_both_recorded_and_counted(tmp_path):
    # Item 2 re-dated to item 1's second (built from the real feed).
    text = FEED_TEXT.replace("Fri, 25 Sep 2026 14:37:32 +0000", "Fri, 25 Sep 2026 14:41:53 +0000")
    (tmp_path / "rss").mkdir()
    (tmp_path / "rss" / "coindesk.xml").write_text(text)
    records = list(import_bundled(tmp_path))
    assert len(records) == 2 and isinstance(records[1][2], list) and len(records[1][2]) == 2
    store = SnapshotStore(tmp_path / "snap")
    store.write("news", records)
    assert value(ask(NewsAdapter.replay(store), "/./")) == 2  # both at 14:41:53


def test_unknown_metric_is_refused():
    request = Request("news", "sentiment", (), None)
    answer = NewsAdapter.replay(SnapshotStore("/nonexistent")).fetch([request], BUILT)[request]
    assert reason(answer) == "UNKNOWN_METRIC"


def test_adapter_error_type_is_the_shared_one():
    with pytest.raises(AdapterError):
        compile_query("/(/")


# --- patterns cannot hang (issue 11) -------------------------------------------------------------


def test_a_catastrophic_pattern_on_a_long_headline_is_answered_not_hung(tmp_path):
    # /(a+)+$/ backtracks exponentially in Python's re (42 s on 28 characters); on RE2 it is
    # linear, so a 5,000-character headline is answered at once (this test would never end).
    store = bundled_store(tmp_path)
    store.append(
        "news",
        [(f"items/{COINDESK}", ITEM_1.timestamp(), {"title": "a" * 5000 + "!", "link": "x"})],
    )
    adapter = NewsAdapter.replay(store)

    assert value(ask(adapter, "/(a+)+$/")) == 0
    assert value(ask(adapter, "/(a+)+!/")) == 1


def test_a_pattern_re2_cannot_run_is_a_bad_request_naming_why(tmp_path):
    answer = ask(NewsAdapter.replay(bundled_store(tmp_path)), "/(hack)\\1/")

    assert reason(answer) == "BAD_REQUEST"
    assert str(answer.message).startswith(
        "invalid regular expression /(hack)\\1/: invalid escape sequence: \\1 (patterns run on RE2"
    )
