"""The portfolio's equity chart reads its times in UTC, as every other time on the page.

Regression test: the Altair time axis used the browser's zone in 12-hour form, so in a New York
browser the chart said "07 PM" beside fills at 2023-03-10T00:00:00Z.
"""

from __future__ import annotations

from signalops.dashboard.views.portfolio import _equity_chart


def test_the_equity_charts_time_axis_and_tooltip_are_utc():
    points = [
        {"time": "2023-03-10T00:00:00Z", "equity": 10_000.0},
        {"time": "2023-03-11T00:00:00Z", "equity": 9_999.25},
    ]

    spec = _equity_chart(points, "USDT").to_dict()

    x = spec["encoding"]["x"]
    assert (x["scale"], x["title"], x["axis"]["format"]) == (
        {"type": "utc"},
        "UTC",
        "%Y-%m-%d %H:%M",
    )
    time_tip = spec["encoding"]["tooltip"][0]
    assert (time_tip["timeUnit"], time_tip["title"]) == (
        "utcyearmonthdatehoursminutes",
        "time (UTC)",
    )
