"""Live readings in a real browser (issue 12 §2): the instrument page shows a reading posted
by a capture agent (``POST /api/v1/readings/batch`` with its token) within a second, through
the Server-Sent Events stream, and keeps doing so across the stream's reconnects."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login, overflow
from tests.functional.test_live_readings import _now_reading
from tests.functional.test_readings import agent

pytestmark = pytest.mark.e2e


@pytest.fixture
def app(app: Any) -> Any:
    # Streams end after 2 s here, so the test sees the browser reconnect and resume, and no
    # stream outlives the test's server by more than that.
    app.config["LIMS_LIVE_STREAM_SECONDS"] = 2
    return app


def _post(base: str, token: str, readings: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(  # noqa: S310 (the test's own http:// server)
        f"{base}/api/v1/readings/batch", data=json.dumps({"readings": readings}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
        assert reply.status == 200


def test_the_instrument_page_shows_a_posted_reading_within_a_second(server, browser, session,
                                                                    world):
    token = agent(session, "bench-1", "EQ-1")
    page = browser.new_page(viewport={"width": 768, "height": 1024})  # a bench tablet
    try:
        login(page, server, "tech")
        page.goto(f"{server}/instruments/EQ-1")
        live = page.locator(".live")
        expect(live.locator(".live-age")).to_have_text("no reading yet")
        expect(live).to_have_class("live offline")
        page.wait_for_timeout(500)  # the EventSource is open
        for seq, value, stable in ((1, "100.0100", False), (2, "100.0200", True)):
            posted = time.monotonic()
            _post(server, token, [_now_reading(seq, value, ago=0.0, stable=stable)])
            expect(live.locator(".live-value")).to_have_text(f"{value} g", timeout=1000)
            assert time.monotonic() - posted < 1.0
            expect(live.locator(".live-stability")).to_have_text(
                "stable" if stable else "dynamic")
            expect(live.locator(".live-state")).to_have_text("online")
        expect(live.locator(".live-age")).to_have_text("1 s ago", timeout=2500)  # it ticks
        page.wait_for_timeout(2500)  # the server ended the stream; the browser reconnected
        _post(server, token, [_now_reading(3, None, unit=None, stable=None, status="error",
                                           error="E: overload")])
        expect(live.locator(".live-value")).to_have_text("—", timeout=3000)
        expect(live).to_have_class("live offline")
        expect(live.locator(".live-state")).to_have_text("offline")
        assert overflow(page) <= 0
    finally:
        page.close()
    time.sleep(2.5)  # the last stream ends by itself (live_stream_seconds) before teardown
