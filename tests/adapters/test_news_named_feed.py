"""A news feed named in the configuration (``news: {feeds: {coindesk: URL}}``) still reads the
items recorded under its URL.

Regression tests: the bundled CoinDesk items are filed under the feed's URL
(``items/https://www.coindesk.com/arc/outboundfeeds/rss``); with the feed named ``coindesk`` in
the configuration, the replay looked only under ``items/coindesk`` and answered NO_DATA ("no
recorded items for feed coindesk: download it ..."), while the same strategy without the
``news:`` section counted them. A download (or ``run --record``) of the named feed into that
folder filed the very same items a second time under the name.

The feed is the real recorded CoinDesk feed (examples/data/rss/coindesk_2026-09-25.xml: items
published 14:32:48, 14:37:32 and 14:41:53 UTC on 2026-09-25), served by an
``httpx.MockTransport`` where a download fetches it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from conftest import DATA, invoke

from signalops.adapters import news, registry
from signalops.adapters.download import Connections
from signalops.adapters.registry import Connections as RegistryConnections
from signalops.adapters.snapshots import SnapshotStore
from signalops.cli import cli
from signalops.observation import Observation, Request

COINDESK = "https://www.coindesk.com/arc/outboundfeeds/rss"
FEED_TEXT = (DATA / "rss" / "coindesk_2026-09-25.xml").read_text("utf-8")
NAMED = f"news:\n  feeds:\n    coindesk: {COINDESK}\n"
STRATEGY = """\
strategy:
  name: N
  assets: [BTC]
  rules: [{id: tether, source: news, conditions: [{when: "news_count('Tether', 10m) >= 1"}]}]
  vetoes: [{id: news, source: news, conditions: [{when: "news_count('/./', 12m) >= 3"}]}]
"""


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture()
def bundled(tmp_path: Path) -> Path:
    """A folder holding the bundled CoinDesk items, as ``signalops data import`` files them."""
    store = tmp_path / "replay"
    SnapshotStore(store).append(news.SOURCE, news.import_bundled(DATA))
    return store


def files(folder: Path, **texts: str) -> dict[str, Path]:
    paths = {name: folder / f"{name}.yaml" for name in texts}
    for name, path in paths.items():
        path.write_text(texts[name])
    return paths


def evaluate(folder: Path, store: Path, config: str) -> str:
    paths = files(folder, n=STRATEGY, config=config)
    result = invoke("evaluate", str(paths["n"]), "--config", str(paths["config"]),
                    "--data", str(store), "--at", "2026-09-25T14:45Z")  # fmt: skip
    assert (result.exit_code, result.stderr) == (0, "")
    return result.stdout


ALL_ITEMS = "news_count('/./', 12m) >= 3   news · max age 1h · line 5"
BUNDLED = (
    "N · BTC · 2026-09-25T14:45:00Z: BUY\n"
    "PASS    BUY when this rule passes\n"
    "└── PASS    rule tether [news]: all of\n"
    "    └── PASS    news_count('Tether', 10m) >= 1   news · max age 1h · line 4\n"
    "            news_count('Tether', 10m) = 1 at 2026-09-25T14:41:53Z (3.1m old, max 1h)\n"
    "SELL: no exit rules\n"
    "clear   VETO news: blocks BUY when this passes or is unknown\n"
    f"└── FAIL    {ALL_ITEMS}\n"
    "        news_count('/./', 12m) = 2 at 2026-09-25T14:41:53Z (3.1m old, max 1h)\n"
)


def test_a_named_feed_reads_the_items_recorded_under_its_url(tmp_path: Path, bundled: Path):
    named = evaluate(tmp_path, bundled, NAMED)
    unnamed = evaluate(tmp_path, bundled, "audit: {path: signalops.db}\n")

    assert named == BUNDLED
    assert unnamed == named


def test_items_under_the_name_and_under_the_url_are_read_together_and_counted_once(
    tmp_path: Path, bundled: Path
):
    """A later recording under the name adds an item (14:44:00) and repeats the newest one."""
    store = SnapshotStore(bundled)
    newest = store.series(news.SOURCE, news.items_key(COINDESK))
    assert newest is not None
    later = {"title": "A later headline", "link": "https://example.test/later", "summary": "",
             "published": "2026-09-25T14:44:00Z"}  # fmt: skip
    store.append(
        news.SOURCE,
        [
            (news.items_key("coindesk"), newest.times[-1], newest.values[-1]),
            (news.items_key("coindesk"), newest.times[-1] + 127, later),
        ],
    )

    result = evaluate(tmp_path, bundled, NAMED)

    assert result == (
        "N · BTC · 2026-09-25T14:45:00Z: BLOCKED (BUY blocked by news)\n"
        "conflict: BUY signal conflicts with veto 'news'\n"
        "PASS    BUY when this rule passes\n"
        "└── PASS    rule tether [news]: all of\n"
        "    └── PASS    news_count('Tether', 10m) >= 1   news · max age 1h · line 4\n"
        "            news_count('Tether', 10m) = 1 at 2026-09-25T14:44:00Z (1m old, max 1h)\n"
        "SELL: no exit rules\n"
        "BLOCKS  VETO news: blocks BUY when this passes or is unknown\n"
        f"└── PASS    {ALL_ITEMS}\n"
        "        news_count('/./', 12m) = 3 at 2026-09-25T14:44:00Z (1m old, max 1h)\n"
    )


def test_downloading_a_named_feed_does_not_file_its_recorded_items_again(
    tmp_path: Path, bundled: Path
):
    paths = files(tmp_path, config=NAMED)
    served = httpx.MockTransport(lambda request: httpx.Response(200, text=FEED_TEXT))
    args = ["data", "download", "--source", "news", "--asset", "coindesk",
            "--config", str(paths["config"]), "--to", str(bundled)]  # fmt: skip

    result = CliRunner().invoke(cli, args, obj=Connections(http=served))

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == "news items/coindesk: 0 new points\n"
    keys = SnapshotStore(bundled).keys(news.SOURCE)
    assert keys == ["items/" + COINDESK, "polled/coindesk"]
    assert evaluate(tmp_path, bundled, NAMED).startswith("N · BTC · 2026-09-25T14:45:00Z: BUY\n")


def test_a_live_recording_of_a_named_feed_starts_from_its_url_items_and_replays_alike(
    bundled: Path,
):
    """``run --record``: the live feed's memory starts from what the folder holds for the feed,
    under its name or its URL, so the items are not filed again and the replay answers as the
    live run did."""
    served = httpx.MockTransport(lambda request: httpx.Response(200, text=FEED_TEXT))
    built = datetime(2026, 9, 25, 16, 22, 9, tzinfo=UTC)
    connections = RegistryConnections(http=served, now=lambda: built, sleep=lambda s: None)
    store = SnapshotStore(bundled)
    feeds = {"coindesk": COINDESK}
    count = Request("news", "news_count", (("query", "/./"), ("window", 105 * 60)), None)

    live = registry.live_adapters(store, news_feeds=feeds, connections=connections)["news"]
    answered = live.fetch([count], built)[count]

    assert store.keys(news.SOURCE) == ["items/" + COINDESK, "polled/coindesk"]
    replayed = registry.replay_adapters(SnapshotStore(bundled), news_feeds=feeds)["news"]
    assert replayed.fetch([count], built)[count] == answered
    # From 14:37:09 (105 minutes before the fetch at 16:22:09): items 1 and 2.
    assert isinstance(answered, Observation) and answered.value == 2.0
