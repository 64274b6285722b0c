"""Statements per write request (issue 14): counted with a ``before_cursor_execute`` listener,
which sees every statement the driver runs (SQLite's BEGIN too; COMMIT is the driver's call).

The request's user, roles and scopes are read once (lims.db.keep_loaded), the audit head is
locked once per transaction (lims.audit.services.record), a sample's graph is loaded once per
service call with what it needs (lims.samples.services.SAMPLE_GRAPH); a result reads the sample
with its request, then the one test and characteristic it is for. The bounds are the counts
reached, so that a regression fails; the issue's target for registration is 12 at most.
"""

from __future__ import annotations

import base64
from typing import Any

from lims.db import unit_of_work, utcnow
from lims.readings.services import register_agent
from tests.support.sql import statements
from tests.support.world import PASSWORD

# dialect: (registration, a result that starts testing, a result read on an instrument,
# an agent's upload of one reading, a report issue)
BOUNDS = {"sqlite": (11, 12, 14, 5, 37), "postgresql": (9, 10, 12, 3, 33)}




def _bounds(app: Any) -> tuple[int, ...]:
    return BOUNDS[app.extensions["lims"].engine.dialect.name]


def _users_read(sql: list[str]) -> int:
    """Statements that load whole users (their row, with or without roles and scopes)."""
    return sum(1 for s in sql if "users.locale" in s or "users_1.locale" in s)


def test_registering_a_sample_takes_at_most_twelve_statements(app, client, session, world):
    auth = {"Authorization": f"Bearer {world.token(session, 'tech')}"}
    req = client.post("/api/v1/requests", json={"customer_id": world.customer_id},
                      headers=auth).get_json()
    body = {"request_id": req["id"], "description": "x", "method_ids": [world.method_id]}
    assert client.post("/api/v1/samples", json=body, headers=auth).status_code == 201
    with statements(app) as sql:
        resp = client.post("/api/v1/samples", json=body, headers=auth)
    assert resp.status_code == 201, resp.get_json()
    assert len(sql) <= min(12, _bounds(app)[0]), "\n".join(sql)
    assert _users_read(sql) == 1, "\n".join(sql)  # the token's user, once, with its roles
    assert sum("audit_head" in s for s in sql) == 2  # locked and read once, moved once


def test_recording_results_reads_the_sample_once(app, client, session, world):
    auth = {"Authorization": f"Bearer {world.token(session, 'tech')}"}
    number = world.new_sample(session)
    with statements(app) as sql:
        resp = client.post(f"/api/v1/samples/{number}/results", headers=auth, json={
            "characteristic_id": world.length_id, "value": "12.0", "unit": "mm"})
    assert resp.status_code == 201, resp.get_json()
    assert len(sql) <= _bounds(app)[1], "\n".join(sql)
    # Two events (the result, the sample starting testing): one head read for both.
    assert sum(s.startswith("SELECT audit_head") for s in sql) == 1
    assert sum(s.startswith("INSERT INTO audit_events") for s in sql) == 2
    assert sum(s.startswith("SELECT samples.") for s in sql) == 1
    with statements(app) as sql:
        resp = client.post(f"/api/v1/samples/{number}/results", headers=auth, json={
            "characteristic_id": world.mass_id, "value": "100.00", "unit": "g",
            "instrument_id": world.balance_id})
    assert resp.status_code == 201, resp.get_json()
    assert len(sql) <= _bounds(app)[2], "\n".join(sql)


def test_an_agent_upload_and_a_report_issue_stay_within_their_counts(app, client, session,
                                                                     world):
    with unit_of_work(session):
        _agent, token = register_agent(session, actor=world.user(session, "admin"),
                                       name="counted", assets=["EQ-1"])

    def batch(seq: int) -> dict[str, Any]:
        return {"readings": [{"seq": seq, "asset": "EQ-1", "read_at": utcnow().isoformat(),
                              "value": "1.0", "unit": "g", "stable": True, "status": "ok",
                              "error": None, "raw": base64.b64encode(b"S S 1.0 g").decode()}]}

    agent = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/readings/batch", json=batch(1), headers=agent).status_code == 200
    with statements(app) as sql:
        resp = client.post("/api/v1/readings/batch", json=batch(2), headers=agent)
    assert resp.status_code == 200, resp.get_json()
    assert len(sql) <= _bounds(app)[3], "\n".join(sql)

    number = world.approved_sample(session)
    sign = {"Authorization": f"Bearer {world.token(session, 'signatory')}"}
    with statements(app) as sql:
        resp = client.post(f"/api/v1/samples/{number}/report", json={"password": PASSWORD},
                           headers=sign)
    assert resp.status_code == 201, resp.get_json()
    assert len(sql) <= _bounds(app)[4], "\n".join(sql)
    # The signatory: authenticated once; the password and lock read afresh to sign.
    assert _users_read(sql) == 1, "\n".join(sql)
    assert sum(s.startswith("SELECT users.password_hash") for s in sql) == 1


def test_a_cookie_session_reads_its_user_once_per_write(app, client, session, world):
    from tests.support.world import csrf, login

    login(client, "tech")
    token = csrf(client, "/")
    with statements(app) as sql:
        resp = client.post("/api/v1/customers", json={"name": "Counted Ltd"},
                           headers={"X-CSRFToken": token})
    assert resp.status_code == 201, resp.get_json()
    assert _users_read(sql) == 1, "\n".join(sql)
