"""Readings from bench capture agents (issue 12 §2): agent tokens, idempotent batches, paging.

Every test runs on SQLite and PostgreSQL (the ``client`` fixture is parametrised).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from lims.audit.models import AuditEvent
from lims.auth.services import get_user
from lims.db import unit_of_work
from lims.readings.models import Reading
from lims.readings.services import register_agent
from tests.support.world import csrf, login

T0 = dt.datetime(2026, 11, 27, 1, 2, 3, 123456, tzinfo=dt.UTC)
BATCH = "/api/v1/readings/batch"


def agent(session: Any, name: str, *assets: str) -> str:
    with unit_of_work(session):
        _, token = register_agent(session, actor=get_user(session, "admin"), name=name,
                                  assets=list(assets))
    return token


def reading(seq: int, asset: str = "EQ-1", **change: Any) -> dict[str, Any]:
    value = f"{100 + seq / 10000:.4f}"
    return {"seq": seq, "asset": asset, "read_at": (T0 + dt.timedelta(seconds=seq)).isoformat(),
            "value": value, "unit": "g", "stable": True, "status": "ok", "error": None,
            "raw": base64.b64encode(f"S S {value:>10} g".encode()).decode(), **change}


def post(client: Any, token: str, readings: list[dict[str, Any]]) -> Any:
    return client.post(BATCH, json={"readings": readings},
                       headers={"Authorization": f"Bearer {token}"})


def stored(session: Any) -> list[tuple[int, int, str | None]]:
    session.rollback()  # a fresh snapshot: the app committed in its own session
    return [tuple(r) for r in session.execute(
        select(Reading.agent_id, Reading.seq, Reading.value).order_by(Reading.agent_id,
                                                                     Reading.seq))]


def test_a_batch_is_stored_once_however_often_and_in_whatever_order(client, session, world):
    token = agent(session, "bench-1", "EQ-1")
    first = post(client, token, [reading(3), reading(1), reading(2)])
    assert first.status_code == 200, first.json
    assert first.json == {"acknowledged": 3, "stored": 3, "duplicates": 0}
    replay = post(client, token, [reading(3), reading(1), reading(2)])
    assert replay.json == {"acknowledged": 3, "stored": 0, "duplicates": 3}
    overlap = post(client, token, [reading(5), reading(2), reading(4), reading(3)])
    assert overlap.json == {"acknowledged": 5, "stored": 2, "duplicates": 2}
    rows = stored(session)
    assert [r[1] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0][2] == "100.0001"  # the digits as sent
    row = session.scalar(select(Reading).where(Reading.seq == 4))
    assert row.raw == b"S S   100.0004 g" and row.read_at == T0 + dt.timedelta(seconds=4)
    assert row.stable is True and row.status == "ok" and row.unit == "g"
    # When it arrived, by the server's clock (the agent's read_at is kept as sent).
    assert abs(row.received_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_sequence_numbers_are_per_agent(client, session, world):
    one, two = agent(session, "bench-1", "EQ-1"), agent(session, "bench-2", "EQ-2")
    assert post(client, one, [reading(1), reading(2)]).json["stored"] == 2
    assert post(client, two, [reading(1, "EQ-2"), reading(2, "EQ-2")]).json["stored"] == 2
    assert len(stored(session)) == 4


def test_error_readings_are_stored_with_their_message_and_bytes(client, session, world):
    token = agent(session, "bench-1", "EQ-1")
    resp = post(client, token, [
        reading(1, value=None, unit=None, stable=None, status="overload",
                raw=base64.b64encode(b"S +").decode()),
        reading(2, value=None, unit=None, stable=False, status="error",
                error="ES: syntax error", raw=base64.b64encode(b"ES\xff").decode())])
    assert resp.status_code == 200, resp.json
    session.rollback()
    rows = session.scalars(select(Reading).order_by(Reading.seq)).all()
    assert [(r.status, r.value, r.stable, r.raw) for r in rows] == [
        ("overload", None, None, b"S +"), ("error", None, False, b"ES\xff")]
    assert rows[1].error == "ES: syntax error"


def test_a_reading_of_another_agents_instrument_refuses_the_batch(client, session, world):
    one = agent(session, "bench-1", "EQ-1")
    agent(session, "bench-2", "EQ-2")
    resp = post(client, one, [reading(1), reading(2, "EQ-2"), reading(3)])
    assert resp.status_code == 403
    assert resp.json["error"]["field"] == "readings[1].asset"
    assert "EQ-2" in resp.json["error"]["message"]
    assert stored(session) == []


def test_an_agent_token_may_only_post_readings(client, session, world):
    headers = {"Authorization": f"Bearer {agent(session, 'bench-1', 'EQ-1')}"}
    for method, path in [("get", "/api/v1/instruments"), ("get", "/api/v1/instruments/EQ-1"),
                         ("get", "/api/v1/instruments/EQ-1/readings"),
                         ("post", "/api/v1/instruments"), ("get", "/api/v1/samples"),
                         ("get", "/agents/"), ("get", "/instruments/"),
                         ("get", BATCH)]:
        resp = getattr(client, method)(path, headers=headers, json={} if method == "post"
                                       else None)
        assert resp.status_code in (403, 405), (path, resp.status_code)
        if resp.status_code == 403:
            assert "agent token" in resp.get_data(as_text=True), path


def test_a_users_token_cannot_post_readings(client, session, world):
    agent(session, "bench-1", "EQ-1")
    resp = post(client, world.token(session, "admin"), [reading(1)])
    assert resp.status_code == 403 and "agent" in resp.json["error"]["message"]
    assert client.post(BATCH, json={"readings": [reading(1)]}).status_code == 401
    assert post(client, "lims_agent_forged", [reading(1)]).status_code == 401
    assert stored(session) == []


@pytest.mark.parametrize(("change", "field"), [
    ({"read_at": "2026-11-27T01:02:03"}, "readings[1].read_at"),    # no offset
    ({"read_at": "yesterday"}, "readings[1].read_at"),
    ({"raw": "not base64!"}, "readings[1].raw"),
    ({"raw": base64.b64encode(b"x" * 5000).decode()}, "readings[1].raw"),
    ({"seq": 0}, "readings[1].seq"),
    ({"seq": "2"}, "readings[1].seq"),
    ({"seq": 2**63}, "readings[1].seq"),
    ({"seq": 1}, "readings[1].seq"),                                 # twice in the batch
    ({"status": "great"}, "readings[1].status"),
    ({"value": None}, "readings[1].value"),                          # ok needs a value
    ({"value": "1" * 65}, "readings[1].value"),
    ({"value": 12.5}, "readings[1].value"),                          # digits as text
    ({"unit": "g\x00"}, "readings[1].unit"),
    ({"stable": "yes"}, "readings[1].stable"),
    ({"colour": "red"}, "readings[1].colour"),
    ({"asset": "EQ-404"}, "readings[1].asset"),
])
def test_a_malformed_reading_refuses_the_whole_batch(client, session, world, change, field):
    token = agent(session, "bench-1", "EQ-1")
    bad = {**reading(2), **change}
    resp = post(client, token, [reading(1), bad, reading(3)])
    assert resp.status_code in (422, 403), resp.json
    assert resp.json["error"]["field"] == field, resp.json
    assert stored(session) == []


def test_missing_fields_and_bad_shapes_are_named(client, session, world):
    token = agent(session, "bench-1", "EQ-1")
    incomplete = reading(2)
    del incomplete["read_at"]
    resp = post(client, token, [reading(1), incomplete])
    assert resp.status_code == 422 and resp.json["error"]["field"] == "readings[1].read_at"
    resp = client.post(BATCH, json={"readings": "many"},
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 422 and resp.json["error"]["field"] == "readings"
    assert stored(session) == []


def test_too_large_or_empty_a_batch_is_refused(client, session, world):
    token = agent(session, "bench-1", "EQ-1")
    resp = post(client, token, [reading(i) for i in range(1, 1002)])
    assert resp.status_code == 422
    assert resp.json["error"]["field"] == "readings"
    assert "1 to 1000 readings, not 1001" in resp.json["error"]["message"]
    empty = post(client, token, [])
    assert empty.status_code == 422 and empty.json["error"]["field"] == "readings"
    full = post(client, token, [reading(i) for i in range(1, 1001)])
    assert full.json == {"acknowledged": 1000, "stored": 1000, "duplicates": 0}


def test_readings_are_paged_in_read_order_with_a_cursor(client, session, world):
    token = agent(session, "bench-1", "EQ-1")
    # Uploaded out of read order: seq 1..30 read at T0 + (31 - seq) s, two batches.
    batch = [reading(s, read_at=(T0 + dt.timedelta(seconds=31 - s)).isoformat())
             for s in range(1, 31)]
    assert post(client, token, batch[10:]).status_code == 200
    assert post(client, token, batch[:10]).status_code == 200
    headers = {"Authorization": f"Bearer {world.token(session, 'tech')}"}
    seen: list[int] = []
    url = "/api/v1/instruments/EQ-1/readings?limit=12"
    pages = 0
    while url:
        page = client.get(url, headers=headers)
        assert page.status_code == 200, page.json
        assert page.json["total"] == 30 and page.json["limit"] == 12
        seen += [r["seq"] for r in page.json["readings"]]
        pages += 1
        nxt = page.json["next"]
        url = f"/api/v1/instruments/EQ-1/readings?limit=12&cursor={nxt}" if nxt else ""
    assert pages == 3 and seen == list(range(30, 0, -1))  # read order, each once
    first = client.get("/api/v1/instruments/EQ-1/readings?limit=1", headers=headers).json
    assert first["readings"][0] == {
        "agent": "bench-1", "seq": 30, "asset": "EQ-1",
        "read_at": (T0 + dt.timedelta(seconds=1)).isoformat(),
        "received_at": first["readings"][0]["received_at"], "value": "100.0030", "unit": "g",
        "stable": True, "status": "ok", "error": None,
        "raw": base64.b64encode(b"S S   100.0030 g").decode()}
    since = (T0 + dt.timedelta(seconds=21)).isoformat().replace("+00:00", "Z")
    recent = client.get(f"/api/v1/instruments/EQ-1/readings?since={since}", headers=headers)
    assert recent.json["total"] == 10 and recent.json["next"] is None
    assert [r["seq"] for r in recent.json["readings"]] == list(range(10, 0, -1))


@pytest.mark.parametrize(("query", "status", "field"), [
    ("since=2026-11-27T01:02:03", 422, "since"),
    ("since=tomorrow", 422, "since"),
    ("limit=501", 422, "limit"),
    ("limit=0", 422, "limit"),
    ("cursor=bm9wZQ", 422, "cursor"),
    ("cursor=" + base64.urlsafe_b64encode(b"2026-11-27T00:00:00+00:00|99999999999999999999")
     .decode(), 422, "cursor"),
])
def test_bad_paging_arguments_are_named(client, session, world, query, status, field):
    headers = {"Authorization": f"Bearer {world.token(session, 'tech')}"}
    resp = client.get(f"/api/v1/instruments/EQ-1/readings?{query}", headers=headers)
    assert resp.status_code == status and resp.json["error"]["field"] == field


def test_readings_of_no_instrument_and_without_login(client, session, world):
    headers = {"Authorization": f"Bearer {world.token(session, 'tech')}"}
    assert client.get("/api/v1/instruments/EQ-404/readings", headers=headers).status_code == 404
    assert client.get("/api/v1/instruments/EQ-1/readings").status_code == 401


def test_stored_readings_cannot_be_rewritten(client, session, world):
    token = agent(session, "bench-1", "EQ-1")
    post(client, token, [reading(1)])
    session.rollback()
    for statement in (update(Reading).values(value="99.9999"), delete(Reading)):
        with pytest.raises(DBAPIError, match="append-only"):
            with unit_of_work(session):
                session.execute(statement)
    assert stored(session)[0][2] == "100.0001"


def test_registering_refuses_bad_names_unknown_and_taken_instruments(client, session, world):
    from lims.errors import Conflict, InvalidInput, PermissionDenied

    agent(session, "bench-1", "EQ-1")
    admin = get_user(session, "admin")
    for name, assets, error, field in [
            ("bench 2", ["EQ-2"], InvalidInput, "name"),
            ("bench-1", ["EQ-2"], Conflict, "name"),
            ("bench-2", [], InvalidInput, "instruments"),
            ("bench-2", ["EQ-404"], InvalidInput, "instruments"),
            ("bench-2", ["EQ-2", "EQ-1"], Conflict, "instruments")]:
        with pytest.raises(error) as caught:
            with unit_of_work(session):
                register_agent(session, actor=admin, name=name, assets=assets)
        assert caught.value.field == field, name
    with pytest.raises(PermissionDenied):
        register_agent(session, actor=get_user(session, "qm"), name="bench-3", assets=["EQ-2"])


def test_the_agent_commands(session, world, database_url, tmp_path):
    from lims.cli import main

    env = {"LIMS_DATABASE_URL": database_url, "LIMS_INSTANCE_PATH": str(tmp_path / "inst"),
           "LIMS_SECRET_KEY": "test-secret", "LIMS_CLI_USER": "admin"}

    def lims(*args: str, **extra: str) -> Any:
        return CliRunner().invoke(main, ["agent", *args], env={**env, **extra})

    out = lims("register", "bench-1", "--instrument", "EQ-1", "--instrument", "EQ-2")
    assert out.exit_code == 0, out.output
    token = out.output.strip().splitlines()[-1]
    assert token.startswith("lims_agent_") and " " not in token
    assert "bench-1" in out.output and "EQ-1, EQ-2" in out.output
    session.rollback()
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "agent.register")).one()
    assert event.actor == "admin"
    assert token not in json.dumps(event.after)  # the token is never stored in clear

    taken = lims("register", "bench-2", "--instrument", "EQ-1")
    assert taken.exit_code != 0 and "EQ-1" in taken.output
    refused = lims("register", "bench-3", "--instrument", "EQ-2", LIMS_CLI_USER="tech")
    assert refused.exit_code != 0

    from lims import create_app
    from lims.config import Settings

    app = create_app(Settings(instance_path=tmp_path / "inst2", database_url=database_url,
                              secret_key="test-secret", default_locale="en"))
    try:
        client = app.test_client()
        assert post(client, token, [reading(7), reading(8, "EQ-2")]).json["stored"] == 2
        listed = lims("list", "--json")
        assert listed.exit_code == 0, listed.output
        [row] = json.loads(listed.output)
        assert row["name"] == "bench-1" and row["instruments"] == ["EQ-1", "EQ-2"]
        assert row["last_seq"] == 8 and row["revoked_at"] is None
        assert "bench-1" in lims("list").output

        assert lims("revoke", "bench-1").exit_code == 0
        assert post(client, token, [reading(9)]).status_code == 401
        assert lims("revoke", "bench-9").exit_code != 0
        # Once revoked, its instruments may be given to a new agent.
        again = lims("register", "bench-2", "--instrument", "EQ-1")
        assert again.exit_code == 0, again.output
    finally:
        app.extensions["lims"].engine.dispose()
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == "agent.revoke")) == 1


def test_the_agents_page_registers_and_shows_the_token_once(client, session, world):
    login(client, "admin")
    page = client.get("/agents/")
    assert page.status_code == 200 and "No agents" in page.get_data(as_text=True)
    resp = client.post("/agents/", data={"name": "bench-7", "instruments": "EQ-1, EQ-2",
                                         "csrf_token": csrf(client, "/agents/")})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    token = html.split('<code id="new-token">', 1)[1].split("<", 1)[0]
    assert token.startswith("lims_agent_")
    again = client.get("/agents/").get_data(as_text=True)
    assert "bench-7" in again and token not in again
    assert post(client, token, [reading(1)]).json["stored"] == 1
    bad = client.post("/agents/", data={"name": "bench-8", "instruments": "EQ-404",
                                        "csrf_token": csrf(client, "/agents/")})
    assert bad.status_code == 422 and "EQ-404" in bad.get_data(as_text=True)
    revoke = client.post("/agents/bench-7/revoke", data={"csrf_token": csrf(client, "/agents/")})
    assert revoke.status_code == 303
    assert post(client, token, [reading(2)]).status_code == 401


def test_only_administrators_see_the_agents_page(client, session, world):
    login(client, "qm")
    assert client.get("/agents/").status_code == 403
