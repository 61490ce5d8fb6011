"""News feeds from configuration: ``news: {feeds: ...}`` in signalops.yaml, and the ``feeds``
parameter of ``news_count`` that narrows which of them a leaf counts.

Live feeds are the real recorded CoinDesk feed (``examples/data/rss/coindesk_2026-09-25.xml``,
copied from ../shared/data/rss, a zotochev/trade-news test fixture; 3 items published 14:32:48,
14:37:32 and 14:41:53 UTC on 2026-09-25, built 16:22:09) served through ``httpx.MockTransport``
to the real ``HttpClient`` and feedparser. The second feed is built from that real feed with its
newest item removed (and says so), so the two feeds overlap in item 2 and item 3.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from signalops.adapters import registry
from signalops.adapters.news import DEFAULT_FEEDS, NewsAdapter
from signalops.adapters.registry import Connections
from signalops.adapters.snapshots import SnapshotStore
from signalops.cli import cli
from signalops.config import load_config, loads_config
from signalops.errors import ConfigError
from signalops.observation import DataError, Observation, Request

ROOT = Path(__file__).resolve().parents[1]
FEED_TEXT = (ROOT / "examples" / "data" / "rss" / "coindesk_2026-09-25.xml").read_text("utf-8")
COINDESK = "https://www.coindesk.com/arc/outboundfeeds/rss"
MIRROR = "https://news.example.test/older.rss"
UNLISTED = "https://unlisted.example.test/feed"
BUILT = datetime(2026, 9, 25, 16, 22, 9, tzinfo=UTC)
W = 105 * 60  # from 14:37:09: items 1 and 2 of the real feed (item 3 is its horizon)

CONFIG = f"""\
news:
  feeds:
    coindesk: {COINDESK}
    older: {MIRROR}
"""


def without_item_1(text: str = FEED_TEXT) -> str:
    """The real feed without its newest item ("Circle and Tether step in ...")."""
    return re.sub(r"<item>(?:(?!</item>).)*Circle and Tether(?:(?!</item>).)*</item>", "", text,
                  count=1, flags=re.S)  # fmt: skip


class Served:
    """An httpx transport over recorded feeds; what was asked is kept, the rest is a 404."""

    def __init__(self, **status: int) -> None:
        self.bodies = {COINDESK: FEED_TEXT, MIRROR: without_item_1(), UNLISTED: without_item_1()}
        self.status = status
        self.seen: list[str] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.seen.append(url)
        if url in self.status.values():
            return httpx.Response(503, text="unavailable")
        if url not in self.bodies:
            return httpx.Response(404, text="not found")
        return httpx.Response(200, text=self.bodies[url])


def news_live(served: Served, config: str = CONFIG, record: SnapshotStore | None = None):
    feeds = loads_config(config).news.feeds
    connections = Connections(http=served.transport, now=lambda: BUILT, sleep=lambda s: None)
    adapters = registry.live_adapters(record, news_feeds=feeds, connections=connections)
    return adapters["news"]


def count(query: str, feeds: str = "all", window: int = W) -> Request:
    return Request(
        "news", "news_count", (("query", query), ("window", window), ("feeds", feeds)), None
    )


def value(answer: Observation | DataError) -> float:
    assert isinstance(answer, Observation), answer
    return answer.value


def failure(answer: Observation | DataError) -> tuple[str, str]:
    assert isinstance(answer, DataError), answer
    return answer.reason, answer.message


# --- the configuration --------------------------------------------------------------------------


def test_a_mapping_names_each_feed_and_a_list_names_each_by_its_url():
    assert dict(loads_config(CONFIG).news.feeds or {}) == {"coindesk": COINDESK, "older": MIRROR}
    listed = loads_config(f"news:\n  feeds:\n    - {COINDESK}\n    - {MIRROR}\n").news.feeds
    assert dict(listed or {}) == {COINDESK: COINDESK, MIRROR: MIRROR}


def test_without_a_news_section_the_three_default_feeds_are_read():
    assert load_config().news.feeds is None
    adapter = registry.live_adapters()["news"]
    assert isinstance(adapter, NewsAdapter)
    assert adapter.feed.feeds == {url: url for url in DEFAULT_FEEDS}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "news:\n  feeds:\n    fed: ftp://www.federalreserve.gov/feeds/press_all.xml\n",
            "c.yaml:3:10: news.feeds.fed: 'ftp://www.federalreserve.gov/feeds/press_all.xml' is "
            "not a feed URL (http:// or https://, no spaces or commas)",
        ),
        ("news:\n  feeds: []\n", "c.yaml:2:10: news.feeds: must not be empty"),
        ("news:\n  feeds: {}\n", "c.yaml:2:10: news.feeds: must not be empty"),
        ("news: {}\n", "c.yaml:1:7: news: missing required key 'feeds'"),
        (
            "news:\n  feeds:\n    - https://a.example/rss\n    - https://a.example/rss\n",
            "c.yaml:4:7: news.feeds[1]: feed URL is already configured at line 3",
        ),
        (
            "news:\n  feeds:\n    fed: https://a.example/rss\n    fed2: https://a.example/rss\n",
            "c.yaml:4:11: news.feeds.fed2: feed URL is already configured as 'fed' (line 3)",
        ),
        (
            "news:\n  feeds:\n    fed: https://a.example/rss\n    fed: https://b.example/rss\n",
            "c.yaml:4:5: news.feeds: duplicate key 'fed' (first defined at line 3)",
        ),
        (
            "news:\n  feeds:\n    all: https://a.example/rss\n",
            "c.yaml:3:5: news.feeds.all: 'all' is not a feed name: news_count(..., "
            "feeds='all') means every feed",
        ),
        (
            "news:\n  feeds:\n    fed reserve: https://a.example/rss\n",
            "c.yaml:3:5: news.feeds: 'fed reserve' is not a feed name (letters, digits, '_', "
            "'.', '-')",
        ),
        (
            "news:\n  feed:\n    fed: https://a.example/rss\n",
            "c.yaml:2:3: news: unknown key 'feed' (did you mean 'feeds'?)",
        ),
        (
            "news:\n  feeds: https://a.example/rss\n",
            "c.yaml:2:10: news.feeds: expected a mapping or a list, got 'https://a.example/rss'",
        ),
    ],
    ids=[
        "ftp_url",
        "empty_list",
        "empty_mapping",
        "no_feeds",
        "url_listed_twice",
        "url_under_two_names",
        "name_twice",
        "reserved_all",
        "name_with_space",
        "misspelt_key",
        "a_bare_url",
    ],
)
def test_a_bad_news_section_is_a_config_error_at_its_position(text: str, message: str):
    with pytest.raises(ConfigError) as raised:
        loads_config(text, "c.yaml")

    assert str(raised.value) == message


def test_validate_prints_a_bad_feed_url_with_its_line_and_caret(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text("news:\n  feeds:\n    fed: www.federalreserve.gov/feeds\n")
    strategy = ROOT / "strategies" / "news_risk_off.yaml"

    result = CliRunner().invoke(cli, ["validate", "--config", "c.yaml", str(strategy)])

    assert result.exit_code == 1
    # The strategy is still checked, and the invalid config counted among the files.
    assert result.stdout == (
        f"ok {strategy}  News_Risk_Off: 1 entry rule, 0 exit rules, 1 veto, 3 conditions\n"
        "2 files: 1 valid, 1 invalid (1 error)\n"
    )
    assert result.stderr == (
        "error: c.yaml:3:10: news.feeds.fed: 'www.federalreserve.gov/feeds' is not a feed URL "
        "(http:// or https://, no spaces or commas)\n"
        "      fed: www.federalreserve.gov/feeds\n"
        "           ^\n"
        "warning: venues and news feeds of the strategies not checked: the config c.yaml is "
        "invalid\n"
    )


def test_validate_warns_about_a_feed_a_condition_names_that_the_config_does_not(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(
        "news:\n  feeds:\n    fed: https://www.federalreserve.gov/feeds/press_all.xml\n"
    )
    (tmp_path / "s.yaml").write_text(
        "strategy:\n"
        '  name: "Fed_Watch"\n'
        '  assets: ["BTC"]\n'
        "  rules:\n"
        "    - id: cut\n"
        "      source: news\n"
        "      conditions:\n"
        """        - when: "news_count('rate cut', 24h, feeds='fed, fedd') >= 1"\n"""
        "  execution:\n"
        "    position_size: 0.01\n"
        "    action_mode: paper\n"
    )

    result = CliRunner().invoke(cli, ["validate", "--config", "c.yaml", "s.yaml"])

    assert result.exit_code == 0  # a replay store may have recorded it under that name
    assert result.stderr == (
        "warning: s.yaml: unknown news feed 'fedd' (configured: fed); did you mean 'fed'?\n"
    )


# --- a leaf's feeds -----------------------------------------------------------------------------


def test_a_leaf_counts_only_the_feeds_it_names():
    served = Served()
    adapter = news_live(served)
    every, coindesk, older = count("/./"), count("/./", "coindesk"), count("/./", "older")

    answers = adapter.fetch([every, coindesk, older], BUILT)

    assert value(answers[coindesk]) == 2  # items 1 and 2
    assert value(answers[older]) == 1  # item 2 only: item 1 is not in that feed
    assert value(answers[every]) == 2  # item 2 is in both feeds and counts once
    assert [m["feed"] for m in answers[older].detail["matches"]] == ["older"]
    assert answers[older].detail["feeds"] == 1 and answers[every].detail["feeds"] == 2
    assert sorted(served.seen) == [MIRROR, COINDESK]  # each feed fetched once per fetch


def test_a_leaf_naming_only_one_feed_fetches_only_that_feed():
    served = Served()

    answer = news_live(served).fetch([count("Tether", "coindesk")], BUILT)

    assert value(answer[count("Tether", "coindesk")]) == 1
    assert served.seen == [COINDESK]


def test_a_configured_url_counts_under_its_name_and_any_other_url_is_read_as_its_own_feed():
    served = Served()
    by_url, unlisted = count("/./", MIRROR), count("/./", f"coindesk, {UNLISTED}")

    answers = news_live(served).fetch([by_url, unlisted], BUILT)

    assert [m["feed"] for m in answers[by_url].detail["matches"]] == ["older"]
    assert value(answers[unlisted]) == 2
    assert answers[unlisted].detail["feeds"] == 2
    assert UNLISTED in served.seen


def test_a_failing_feed_fails_only_the_leaves_that_count_it():
    served = Served(down=MIRROR)
    every, coindesk = count("Tether"), count("Tether", "coindesk")

    answers = news_live(served).fetch([every, coindesk], BUILT)

    assert value(answers[coindesk]) == 1
    assert failure(answers[every])[0] == "HTTP_ERROR"


def test_an_unknown_feed_name_is_unknown_with_the_configured_names():
    answers = news_live(Served()).fetch([count("Tether", "coindsk")], BUILT)

    assert failure(answers[count("Tether", "coindsk")]) == (
        "BAD_REQUEST",
        "unknown news feed 'coindsk' (configured: coindesk, older); did you mean 'coindesk'?",
    )


def test_all_cannot_be_combined_with_names_and_an_empty_list_names_nothing():
    answers = news_live(Served()).fetch([count("x", "all, older"), count("x", " , ")], BUILT)

    assert failure(answers[count("x", "all, older")]) == (
        "BAD_REQUEST",
        "feeds: 'all' cannot be combined with feed names",
    )
    assert failure(answers[count("x", " , ")]) == ("BAD_REQUEST", "parameter 'feeds' names no feed")


# --- replay -------------------------------------------------------------------------------------


def test_a_configured_feed_recorded_live_replays_under_its_name(tmp_path: Path):
    store = SnapshotStore(tmp_path)
    requests = [count("/./"), count("/./", "older"), count("Tether", "coindesk")]
    live = news_live(Served(), record=store).fetch(requests, BUILT)

    feeds = loads_config(CONFIG).news.feeds
    configured = registry.replay_adapters(SnapshotStore(tmp_path), news_feeds=feeds)["news"]
    unconfigured = registry.replay_adapters(SnapshotStore(tmp_path))["news"]

    assert sorted(store.keys("news")) == [
        "items/coindesk",
        "items/older",
        "polled/coindesk",
        "polled/older",
    ]
    for adapter in (configured, unconfigured):
        replayed = adapter.fetch(requests, BUILT)
        for request in requests:
            assert replayed[request] == live[request]


def test_replay_of_a_configured_feed_that_was_not_recorded_names_the_download_command(
    tmp_path: Path,
):
    config = CONFIG + "    fed: https://www.federalreserve.gov/feeds/press_all.xml\n"
    store = SnapshotStore(tmp_path)
    news_live(Served(), record=store).fetch([count("Tether", "coindesk")], BUILT)
    feeds = loads_config(config).news.feeds
    adapter = registry.replay_adapters(SnapshotStore(tmp_path), news_feeds=feeds)["news"]

    answers = adapter.fetch([count("rate cut", "fed"), count("Tether", "coindesk")], BUILT)

    assert failure(answers[count("rate cut", "fed")]) == (
        "NO_DATA",
        "no recorded items for feed fed: download it with 'signalops data download --source "
        f"news --asset fed --to {tmp_path}'",
    )
    assert value(answers[count("Tether", "coindesk")]) == 1


def test_an_unknown_feed_in_a_strategy_is_an_unknown_leaf_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = SnapshotStore(tmp_path / "data")
    news_live(Served(), record=store).fetch([count("Tether")], BUILT)
    (tmp_path / "signalops.yaml").write_text(CONFIG)
    (tmp_path / "s.yaml").write_text(
        "strategy:\n"
        "  name: Fed_Watch\n"
        "  assets: [BTC]\n"
        "  rules:\n"
        "    - id: fed_news\n"
        "      source: news\n"
        "      conditions:\n"
        "        - when: \"news_count('rate cut', 105m, feeds='fed') >= 1\"\n"
    )

    result = CliRunner().invoke(
        cli, ["evaluate", "s.yaml", "--data", "data", "--at", "2026-09-25T16:22:09Z"]
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Fed_Watch · BTC · 2026-09-25T16:22:09Z: HOLD\n"
        "UNKNOWN BUY when this rule passes\n"
        "└── UNKNOWN rule fed_news [news]: all of\n"
        "    └── UNKNOWN news_count('rate cut', 105m, 'fed') >= 1   news · max age 1h · line 8\n"
        "            news_count('rate cut', 105m, 'fed'): BAD_REQUEST: unknown news feed 'fed' "
        "(configured or recorded: coindesk, older); name one of them or a feed URL\n"
        "            UNKNOWN: the data source reported an error\n"
        "SELL: no exit rules\n"
        "VETOES: none\n"
    )
