"""A webhook URL or bot token pasted where the config names its environment variable is not
printed back by ``validate`` (which runs in CI logs), in the message or the quoted line.

Regression test: ``url_env: https://hooks.slack.com/services/...`` was printed whole, twice.
"""

from __future__ import annotations

from pathlib import Path

from conftest import invoke as run

SLACK = "https://hooks.slack.com/services/T0SLK/B0SLK/SLACKSECRETzq81"
TELEGRAM = "123456:ABCdefGhIJKlmnoPQRsTUVwxyz"
PASTED = f"""\
notify:
  webhooks:
    - kind: slack
      url_env: {SLACK}
    - kind: telegram
      url_env: {TELEGRAM}
      chat_id: -100123
"""
MUST_BE = (
    "must be the name of an environment variable such as SLACK_WEBHOOK_URL (the URL or token "
    "itself never goes in this file) (what looks like a secret is not shown)"
)


def test_a_pasted_webhook_url_or_token_is_not_printed(in_tmp: Path):
    Path("paste.yaml").write_text(PASTED, encoding="utf-8")

    result = run("validate", "paste.yaml")

    assert result.exit_code == 1
    assert SLACK[30:] not in result.output and TELEGRAM[4:] not in result.output
    assert result.stderr.splitlines()[:6] == [
        "error: paste.yaml:4:16: notify.webhooks[0].url_env: 'https://hooks.slack.com/…' "
        + MUST_BE,
        "        url_env: https://hooks.slack.com/…",
        "                 ^",
        f"error: paste.yaml:6:16: notify.webhooks[1].url_env: '1234…' {MUST_BE}",
        "        url_env: 1234…",
        "                 ^",
    ]


def test_a_webhook_url_under_an_unknown_key_is_hidden_and_a_feed_url_is_shown(in_tmp: Path):
    Path("paste.yaml").write_text(
        "notify:\n  webhooks:\n    - kind: slack\n"
        "      url: https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX\n"
        'news:\n  feeds: ["htp://www.coindesk.com/arc/outboundfeeds/rss/"]\n',
        encoding="utf-8",
    )

    result = run("validate", "paste.yaml")

    assert result.exit_code == 1
    assert "XXXXXXXX" not in result.output
    assert result.stderr.splitlines()[:6] == [
        "error: paste.yaml:4:7: notify.webhooks[0]: unknown key 'url' (what looks like a secret "
        "is not shown) (did you mean 'url_env'?)",
        "        url: https://hooks.slack.com/…",
        "        ^",
        "error: paste.yaml:6:11: news.feeds[0]: 'htp://www.coindesk.com/arc/outboundfeeds/rss/' is "
        "not a feed URL (http:// or https://, no spaces or commas)",
        '    feeds: ["htp://www.coindesk.com/arc/outboundfeeds/rss/"]',
        "            ^",
    ]


def test_a_duplicate_key_a_url_password_and_a_slack_token_are_hidden_too(in_tmp: Path):
    """Review: the duplicate-key error (from the YAML pass) quoted the URL whole, and a URL's
    user:password and a Slack token were not recognised as secrets."""
    Path("dup.yaml").write_text(
        "notify:\n  webhooks:\n    - kind: slack\n      url_env: SLACK_URL\n"
        "      url_env: https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX\n",
        encoding="utf-8",
    )
    Path("more.yaml").write_text(
        "notify:\n  webhooks:\n    - kind: slack\n"
        "      url: https://user:hunter2pass@hooks.example.com/x\n"
        "    - kind: slack\n      url_env: xoxb-123456789012-abcdefghijklmnop\n",
        encoding="utf-8",
    )

    duplicate, more = run("validate", "dup.yaml"), run("validate", "more.yaml")

    assert "XXXXXXXX" not in duplicate.output
    assert duplicate.stderr.splitlines()[:2] == [
        "error: dup.yaml:5:7: notify.webhooks[0]: duplicate key 'url_env' (what looks like a "
        "secret is not shown) (first defined at line 4)",
        "        url_env: https://hooks.slack.com/…",
    ]
    assert "hunter2pass" not in more.output and "abcdefghijklmnop" not in more.output
    assert "        url: https://hooks.example.com/…" in more.stderr.splitlines()
    assert "        url_env: xoxb…" in more.stderr.splitlines()
