"""Live readings (issue 12 §2): the Server-Sent Events stream of an instrument's readings and
Capture taking the latest stable reading an agent uploaded.

Every test runs on SQLite and PostgreSQL (the ``client`` fixture is parametrised). The stream
is read through the Flask test client as the browser would, a chunk at a time, then closed.
"""

from __future__ import annotations

import json
from typing import Any

from tests.functional.test_readings import agent, post, reading

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
