"""Live readings (issue 12 §2): the Server-Sent Events stream of an instrument's readings and
Capture taking the latest stable reading an agent uploaded.

Every test runs on SQLite and PostgreSQL (the ``client`` fixture is parametrised). The stream
is read through the Flask test client as the browser would, a chunk at a time, then closed.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
from typing import Any

from sqlalchemy import func, select

from lims.readings.models import Reading
from lims.samples.models import Result
from tests.functional.test_readings import agent, post, reading
from tests.support.world import csrf, login

STREAM = "/api/v1/instruments/EQ-1/readings/stream"


def events(response: Any, count: int) -> list[dict[str, Any]]:
    """The next ``count`` events of an open stream (skipping ``retry`` and heartbeats)."""
    found: list[dict[str, Any]] = []
    chunks = iter(response.response)
    while len(found) < count:
        text = next(chunks)
        text = text.decode() if isinstance(text, bytes) else text
        for block in text.split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.splitlines()
                          if line and not line.startswith(":") and ": " in line)
            if fields.get("event") == "reading":
                found.append({"id": int(fields["id"]), **json.loads(fields["data"])})
    return found


def test_the_stream_sends_readings_posted_after_it_opened(client, session, world):
    token = agent(session, "bench-1", "EQ-1", "EQ-2")
    post(client, token, [reading(1)])  # before the stream: not sent again
    user = {"Authorization": f"Bearer {world.token(session, 'auditor')}"}
    response = client.get(STREAM, headers=user, buffered=False)
    try:
        assert response.status_code == 200
        assert response.mimetype == "text/event-stream"
        assert response.headers["Cache-Control"] == "no-cache"
        post(client, token, [reading(2), reading(3, "EQ-2"), reading(4, stable=False)])
        got = events(response, 2)
    finally:
        response.close()
    assert [e["seq"] for e in got] == [2, 4]  # EQ-2's reading is not on EQ-1's stream
    first = got[0]
    assert first["value"] == "100.0002" and first["unit"] == "g" and first["agent"] == "bench-1"
    assert first["stable"] is True and got[1]["stable"] is False
    assert first["asset"] == "EQ-1" and first["status"] == "ok"
    assert first["age"] > 0  # the reading was read (T0) before now
    assert got[0]["id"] < got[1]["id"]


def test_last_event_id_resumes_after_the_last_reading_seen(client, session, world):
    token = agent(session, "bench-1", "EQ-1")
    post(client, token, [reading(1), reading(2), reading(3)])
    user = {"Authorization": f"Bearer {world.token(session, 'tech')}"}
    listed = client.get("/api/v1/instruments/EQ-1/readings", headers=user).json["readings"]
    ids = {r["seq"]: r for r in listed}
    # The ids of the list are not part of its contract: take them from a stream from zero.
    response = client.get(STREAM, headers={**user, "Last-Event-ID": "0"}, buffered=False)
    try:
        every = events(response, 3)
    finally:
        response.close()
    assert [e["seq"] for e in every] == [1, 2, 3] and set(ids) == {1, 2, 3}
    response = client.get(STREAM + "?after=0",
                          headers={**user, "Last-Event-ID": str(every[0]["id"])},
                          buffered=False)
    try:
        rest = events(response, 2)  # the header wins over the first connection's ?after=
    finally:
        response.close()
    assert [e["seq"] for e in rest] == [2, 3]
    response = client.get(f"{STREAM}?after={every[1]['id']}", headers=user, buffered=False)
    try:
        assert [e["seq"] for e in events(response, 1)] == [3]
    finally:
        response.close()


def test_the_stream_needs_a_login_and_a_real_instrument(client, session, world):
    token = agent(session, "bench-1", "EQ-1")
    assert client.get(STREAM).status_code == 401
    # An agent's token may post readings, not watch them.
    assert client.get(STREAM, headers={"Authorization": f"Bearer {token}"}).status_code == 403
    user = {"Authorization": f"Bearer {world.token(session, 'tech')}"}
    missing = client.get("/api/v1/instruments/EQ-404/readings/stream", headers=user)
    assert missing.status_code == 404
    bad = client.get(STREAM, headers={**user, "Last-Event-ID": "last"})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "Last-Event-ID"


# --- Capture from the stream -------------------------------------------------------------------

def _now_reading(seq: int, value: str | None, *, ago: float = 0.01,
                 **change: Any) -> dict[str, Any]:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=ago)
    return reading(seq, read_at=at.isoformat(), value=value,
                   raw=base64.b64encode(f"S S {value or '':>10} g".encode()).decode(), **change)


def _new_sample(session: Any, world: Any) -> str:
    number: str = world.new_sample(session)
    time.sleep(0.1)  # so that the readings below are read after the sample was received
    return number


def _capture(client: Any, session: Any, world: Any, number: str) -> Any:
    return client.post(f"/api/v1/samples/{number}/capture",
                       json={"characteristic_id": world.mass_id, "instrument_id": world.balance_id},
                       headers={"Authorization": f"Bearer {world.token(session, 'tech')}"})


def test_capture_takes_the_latest_stable_reading_of_the_agent(client, session, world):
    token = agent(session, "bench-1", "EQ-1")
    number = _new_sample(session, world)
    # Unstable readings after the stable one (the item lifted) are passed over; the port of
    # EQ-1 (/nonexistent) is never opened.
    assert post(client, token, [_now_reading(1, "99.0000", ago=0.03),
                                _now_reading(2, "100.0200", ago=0.02),
                                _now_reading(3, "100.7", ago=0.01, stable=False)]).status_code == 200
    resp = _capture(client, session, world, number)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    result = resp.json
    assert (result["value"], result["unit"], result["source"]) == ("100.0200", "g", "instrument")
    assert result["raw"] == "S S   100.0200 g" and result["conformity"] == "pass"
    session.rollback()
    stored_reading = session.get(Reading, result["reading_id"])
    assert (stored_reading.seq, stored_reading.value) == (2, "100.0200")
    stored_result = session.get(Result, result["id"])
    assert stored_result.reading_id == stored_reading.id
    assert stored_result.measured_at == stored_reading.read_at  # when it was read, not now


def test_capture_refuses_a_stale_or_unsteady_stream(client, session, world):
    token = agent(session, "bench-1", "EQ-1")
    number = _new_sample(session, world)
    post(client, token, [_now_reading(1, "100.0100", stable=False)])
    unsteady = _capture(client, session, world, number)
    assert unsteady.status_code == 409
    assert unsteady.json["error"]["code"] == "instrument_unavailable"
    assert "no stable reading" in unsteady.json["error"]["message"]
    post(client, token, [_now_reading(2, "100.0100", ago=95)])
    stale = _capture(client, session, world, number)
    assert stale.status_code == 409
    assert re.search(r"latest stable reading is 9\d s old \(at most 30 s\)",
                     stale.json["error"]["message"]), stale.json
    # An error reading is not a value either; nothing was recorded by any of these.
    post(client, token, [_now_reading(3, None, status="error", error="E: overload", unit=None, stable=None)])
    assert _capture(client, session, world, number).status_code == 409
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Result)) == 0


def test_capture_takes_a_reading_of_an_instrument_without_a_stability_flag(client, session,
                                                                           world):
    # A multimeter or hygrometer sends no stability flag (stable is None, as `make run`'s
    # bench does): its latest ok reading is taken, as a direct read through its port would be.
    token = agent(session, "bench-1", "EQ-1")
    number = _new_sample(session, world)
    post(client, token, [_now_reading(1, "100.0300", ago=0.02, stable=None),
                         _now_reading(2, "100.4", ago=0.01, stable=False)])
    resp = _capture(client, session, world, number)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert resp.json["value"] == "100.0300"


def test_capture_checks_the_calibration_at_the_time_read(client, session, world):
    token = agent(session, "bench-1", "EQ-2")  # EQ-2's calibration ran out two days ago
    number = _new_sample(session, world)
    post(client, token, [_now_reading(1, "100.0100", asset="EQ-2")])
    resp = client.post(f"/api/v1/samples/{number}/capture",
                       json={"characteristic_id": world.mass_id, "instrument_id": world.overdue_id},
                       headers={"Authorization": f"Bearer {world.token(session, 'tech')}"})
    assert resp.status_code == 409 and resp.json["error"]["code"] == "calibration_expired"


def test_the_capture_form_takes_the_stream_too(client, session, world):
    token = agent(session, "bench-1", "EQ-1")
    number = _new_sample(session, world)
    post(client, token, [_now_reading(1, "100.0300")])
    login(client, "tech")
    resp = client.post(f"/samples/{number}/capture", data={
        "characteristic_id": world.mass_id, "instrument_id": world.balance_id,
        "csrf_token": csrf(client, f"/samples/{number}")})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    session.rollback()
    result = session.scalar(select(Result))
    assert result.value == "100.0300" and result.reading_id is not None
    assert result.raw == b"S S   100.0300 g"


def test_an_instrument_without_an_agent_is_still_read_through_its_port(client, session, world):
    agent(session, "bench-1", "EQ-2")  # another instrument's agent changes nothing for EQ-1
    number = _new_sample(session, world)
    resp = _capture(client, session, world, number)
    # EQ-1's port (/nonexistent) was opened, and could not be.
    assert resp.status_code == 409 and "/nonexistent" in resp.json["error"]["message"]


# --- the pages (without JS: the latest stored reading when the page was rendered) ----------------

def test_the_instrument_page_shows_the_latest_reading_stability_and_age(client, session, world):
    login(client, "tech")
    plain = client.get("/instruments/EQ-1").get_data(as_text=True)
    assert "data-live-url" not in plain  # no agent reads EQ-1 yet: nothing live to show
    token = agent(session, "bench-1", "EQ-1")
    page = client.get("/instruments/EQ-1").get_data(as_text=True)
    assert "Live reading" in page and "no reading yet" in page
    assert 'class="live offline"' in page  # nothing reported: offline
    post(client, token, [_now_reading(1, "23.40", ago=2, unit="degC")])
    page = client.get("/instruments/EQ-1").get_data(as_text=True)
    assert "23.40 ℃" in page and "stable" in page  # the unit as people write it
    assert re.search(r'<span class="live-age">[23] s ago</span>', page), page
    assert '<span class="live-state">online</span>' in page
    assert 'data-live-url="/api/v1/instruments/EQ-1/readings/stream"' in page
    post(client, token, [_now_reading(2, None, unit=None, stable=None, status="offline",
                                      error="port gone")])
    page = client.get("/instruments/EQ-1").get_data(as_text=True)
    assert 'class="live offline"' in page and '<span class="live-state">offline</span>' in page
    chinese = client.get("/instruments/EQ-1", headers={"Accept-Language": "zh-CN"})
    assert "实时读数" in chinese.get_data(as_text=True)


def test_the_sample_grid_offers_capture_from_an_agent_fed_instrument(client, session, world):
    token = agent(session, "bench-1", "EQ-1")
    number = _new_sample(session, world)
    post(client, token, [_now_reading(1, "100.0400", stable=False)])
    login(client, "tech")
    page = client.get(f"/samples/{number}").get_data(as_text=True)
    assert 'class="live compact"' in page and "100.0400 g" in page and "dynamic" in page
    assert page.count('data-live-asset="EQ-1"') == 1  # beside the one row EQ-1 is fit for


def test_a_process_serves_a_bounded_number_of_streams(client, session, world):
    token = agent(session, "bench-1", "EQ-1")
    user = {"Authorization": f"Bearer {world.token(session, 'tech')}"}
    first = client.get(STREAM, headers=user, buffered=False)
    second = client.get(STREAM, headers=user, buffered=False)
    try:
        # Two open (the default per process): a third is told to come back in 10 s, and ends.
        third = client.get(STREAM, headers=user)
        assert third.status_code == 200 and third.get_data(as_text=True) == "retry: 10000\n\n"
        second.close()  # a closed stream gives its place back
        fourth = client.get(STREAM, headers=user, buffered=False)
        try:
            post(client, token, [reading(1)])
            assert [e["seq"] for e in events(fourth, 1)] == [1]
        finally:
            fourth.close()
    finally:
        first.close()
        second.close()
