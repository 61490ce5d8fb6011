"""``signalops metrics`` and ``signalops adapters`` say which provider answers each metric.

Fundamentals have two providers, and which one answers differs between a live run and a replay.
The listings print it under each such metric (golden files ``tests/golden/metrics_fundamental.txt``
and ``tests/golden/adapters.txt``, byte for byte), and what they print must be what the adapter
does: the catalogue's ``live_from``/``replay_from`` are checked against the metric sets the
fundamental adapter routes to EDGAR.
"""

from __future__ import annotations

from conftest import ROOT, invoke

from signalops.adapters.edgar import EDGAR_METRICS, EDGAR_ONLY
from signalops.catalogue.builtin import BUILTIN, FUNDAMENTAL

GOLDEN = ROOT / "tests" / "golden"


def test_metrics_fundamental_says_under_each_metric_which_provider_answers_live_and_in_replay():
    result = invoke("metrics", "fundamental")

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (GOLDEN / "metrics_fundamental.txt").read_text(encoding="utf-8")


def test_adapters_lists_every_source_with_the_providers_of_the_fundamental_metrics():
    result = invoke("adapters")

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (GOLDEN / "adapters.txt").read_text(encoding="utf-8")


def test_the_stated_providers_are_the_ones_the_fundamental_adapter_routes_to():
    for spec in FUNDAMENTAL.metrics.values():
        live_edgar = spec.live_from.startswith("SEC EDGAR")
        replay_edgar = spec.replay_from.startswith("SEC EDGAR")
        assert live_edgar == (spec.name in EDGAR_ONLY), spec.name
        assert replay_edgar == (spec.name in EDGAR_METRICS), spec.name
        # yfinance stands in during a replay only for what yfinance can answer at all
        falls_back = "yfinance" in spec.replay_from
        assert falls_back == (spec.name not in EDGAR_ONLY), spec.name


def test_a_metric_with_one_provider_prints_no_provider_line():
    single = [
        s for c in BUILTIN.sources.values() if c is not FUNDAMENTAL for s in c.metrics.values()
    ]

    assert single and all(spec.providers() == "" for spec in single)
    assert "live:" not in invoke("metrics", "technical").stdout


def test_metrics_help_says_the_listing_names_live_and_replay_providers():
    result = invoke("metrics", "--help")

    assert result.exit_code == 0
    assert "which one answers live and which in a replay" in " ".join(result.stdout.split())
