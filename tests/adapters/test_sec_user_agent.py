"""The SEC User-Agent from ``signalops.yaml`` (``fundamental: {sec_user_agent: ...}``) reaches
the header of the live EDGAR request a pipeline makes.

The pipeline is built as the CLI builds it (``open_workspace`` + ``build_pipeline``); httpx's own
``HTTPTransport`` is the boundary: its ``handle_request`` serves the real recorded AAPL company
facts (tests/fixtures/edgar, provenance in its README) and records the request. The live EDGAR
figures also need AAPL's split history, which yfinance fetches through the run's Yahoo session
(``Connections.yahoo_session``): a ``requests`` session serving the recorded Yahoo chart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import requests
from yahoo_recorded import RecordedChart, hermetic

from signalops.adapters.registry import Connections
from signalops.catalogue.builtin import FUNDAMENTAL
from signalops.config import loads_config
from signalops.errors import ConfigError
from signalops.observation import Observation, Request
from signalops.workspace import build_pipeline, open_workspace

UA = "Jane Trader jane@example.com"
FACTS = Path(__file__).resolve().parents[1] / "fixtures" / "edgar" / "CIK0000320193.json.gz"


@pytest.fixture
def sec(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    seen: list[httpx.Request] = []

    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=FACTS.read_bytes(), headers={"Content-Encoding": "gzip"})

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle_request)
    monkeypatch.delenv("SIGNALOPS_SEC_USER_AGENT", raising=False)
    return seen


def test_the_configured_sec_user_agent_is_the_header_of_the_live_edgar_request(
    tmp_path, sec, monkeypatch
):
    hermetic(monkeypatch)
    config = tmp_path / "signalops.yaml"
    config.write_text(f'fundamental: {{sec_user_agent: "{UA}"}}\n')
    yahoo = requests.Session()
    yahoo.mount("https://", RecordedChart())
    workspace = open_workspace(audit=tmp_path / "audit.db", config=config)
    try:
        pipeline = build_pipeline(workspace, [], connections=Connections(yahoo_session=yahoo))
        spec = FUNDAMENTAL.get("book_value_per_share")
        assert spec is not None
        wanted = Request("fundamental", spec.name, (), "AAPL")

        answer = pipeline.adapters["fundamental"].fetch(
            [wanted], datetime(2024, 1, 2, 21, tzinfo=UTC)
        )[wanted]
    finally:
        workspace.close()

    assert [str(r.url) for r in sec] == [
        "https://data.sec.gov/api/xbrl/companyfacts/CIK0000320193.json"
    ]
    assert sec[0].headers["User-Agent"] == UA
    assert isinstance(answer, Observation)


def test_a_sec_user_agent_without_a_contact_e_mail_is_a_config_error():
    with pytest.raises(ConfigError, match="sec_user_agent"):
        loads_config('fundamental: {sec_user_agent: "Jane Trader"}\n', "signalops.yaml")


def test_without_the_key_the_config_leaves_the_user_agent_to_the_environment():
    assert loads_config("paper: {fee_bps: 10}\n").fundamental.sec_user_agent is None
