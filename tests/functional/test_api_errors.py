"""Bad input gets a clear 4xx that names the field, and leaves nothing half-written."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from lims.audit.models import AuditEvent
from lims.samples.models import Result, Sample


@pytest.fixture
def tech(client, session, world):
    headers = {"Authorization": f"Bearer {world.token(session, 'tech')}"}

    def call(path, body=None, **kw):
        return client.post(path, json=body, headers=headers, **kw)
    call.headers = headers
    return call


def _counts(session):
    session.rollback()
    return (session.scalar(select(func.count(Sample.id))),
            session.scalar(select(func.count(Result.id))),
            session.scalar(select(func.count(AuditEvent.id))))


def test_malformed_json_wrong_types_and_oversize(client, session, world, tech):
    before = _counts(session)
    resp = client.post("/api/v1/samples", data="{not json", content_type="application/json",
                       headers=tech.headers)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "bad_request"
    resp = client.post("/api/v1/samples", data="[1, 2]", content_type="application/json",
                       headers=tech.headers)
    assert resp.status_code == 400
    resp = client.post("/api/v1/samples", data="x=1", headers=tech.headers)
    assert resp.status_code == 400
    resp = tech("/api/v1/samples", {"request_id": "abc", "description": "d", "method_ids": [1]})
    assert resp.status_code == 422 and resp.json["error"]["field"] == "request_id"
    resp = tech("/api/v1/samples", {"request_id": 1, "description": ["x"], "method_ids": [1]})
    assert resp.status_code == 422
    big = {"description": "x" * 2_000_000}
    resp = tech("/api/v1/customers", big)
    assert resp.status_code == 413 and resp.json["error"]["code"] == "request_entity_too_large"
    assert _counts(session) == before


def test_unknown_and_mismatched_units(client, session, world, tech):
    number = world.new_sample(session)
    before = _counts(session)
    resp = tech(f"/api/v1/samples/{number}/results",
                {"characteristic_id": world.mass_id, "value": "1.0", "unit": "bogons"})
    assert resp.status_code == 422 and resp.json["error"]["field"] == "unit"
    assert "unknown unit 'bogons'" in resp.json["error"]["message"]
    resp = tech(f"/api/v1/samples/{number}/results",
                {"characteristic_id": world.mass_id, "value": "1.0", "unit": "%RH"})
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "unit_mismatch"
    assert "'g'" in resp.json["error"]["message"]
    resp = tech(f"/api/v1/samples/{number}/results",
                {"characteristic_id": world.mass_id, "value": "1.0", "unit": "℃"})
    assert resp.status_code == 422 and "'℃'" in resp.json["error"]["message"]
    assert _counts(session) == before


def test_illegal_transition_is_409_with_a_clear_message(client, session, world, tech):
    number = world.new_sample(session)
    resp = tech(f"/api/v1/samples/{number}/receive", {"condition": "again"})
    assert resp.status_code == 409
    assert "received" in resp.json["error"]["message"]
    assert "cannot become received" in resp.json["error"]["message"]


def test_not_found_is_json_404(client, world, tech):
    resp = client.get("/api/v1/samples/NOPE", headers=tech.headers)
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"
    resp = client.get("/api/v1/nope", headers=tech.headers)
    assert resp.status_code == 404 and "error" in resp.json


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8),
                                                                      children, max_size=3),
    max_leaves=8)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.dictionaries(st.sampled_from(["characteristic_id", "value", "unit",
                                             "instrument_id", "condition", "request_id",
                                             "description", "method_ids", "customer_id"]),
                            json_values, max_size=6))
def test_no_input_produces_a_500(client, session, world, tech, body):
    number = "YP-none"
    for path in ("/api/v1/samples", "/api/v1/requests", f"/api/v1/samples/{number}/results",
                 "/api/v1/customers", "/api/v1/results/1/corrections"):
        resp = tech(path, body)
        assert resp.status_code < 500, (path, body, resp.get_data(as_text=True))
        if resp.status_code >= 400:
            assert set(resp.json["error"]) >= {"code", "message"}


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/samples", {"request_id": 2**31, "description": "d", "method_ids": [1]}, "request_id"),
    ("/api/v1/samples", {"request_id": 1, "description": "d", "method_ids": [2**40]}, "method_ids"),
    ("/api/v1/requests", {"customer_id": -1}, "customer_id"),
    ("/api/v1/results/99999999999/corrections", {"value": "1", "unit": "g", "reason": "r"},
     "result_id"),
])
def test_ids_beyond_the_integer_range_are_422_not_500(client, world, tech, path, body, field):
    tech("/api/v1/requests", {"customer_id": world.customer_id})  # request 1 exists
    resp = tech(path, body)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.json["error"]["field"] == field


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/calibrations/42629918271047420870656/status", {"status": "revoked", "reason": "r"}),
    ("/api/v1/calibrations/42629918271047420870656/corrections", {
        "number": "C-1", "provider": {"name": "p", "kind": "nmi"}, "calibrated_on": "2026-01-01",
        "results": [{"quantity": "mass", "value": "1", "unit": "g"}], "reason": "r"}),
])
def test_a_record_id_beyond_64_bits_is_422_not_500(client, session, world, path, body):
    """Found by schemathesis (issue 8): SQLite cannot bind such an int, so the lookup crashed."""
    qm = {"Authorization": f"Bearer {world.token(session, 'qm')}"}
    resp = client.post(path, json=body, headers=qm)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.json["error"]["field"] == "record_id"


def test_inputs_that_used_to_answer_500(client, session, world, tech):
    """Causes of HTTP 500 found by fuzzing (issue 8); each now answers 4xx and writes nothing."""
    number = world.new_sample(session)
    qm = {"Authorization": f"Bearer {world.token(session, 'qm')}"}
    before = _counts(session)
    for value in ("²", "①", "٣"):  # digits to str.isdigit(), not to int()
        resp = tech(f"/api/v1/samples/{number}/results",
                    {"characteristic_id": value, "value": "1", "unit": "g"})
        assert resp.status_code == 422 and resp.json["error"]["field"] == "characteristic_id"
    deep = "[" * 50_000 + "]" * 50_000
    resp = client.post("/api/v1/customers", data=deep, content_type="application/json",
                       headers=tech.headers)
    assert resp.status_code in (400, 413)
    resp = client.post("/api/v1/customers", data='{"name": "a\\ud800b"}',
                       content_type="application/json", headers=tech.headers)
    assert resp.status_code == 422 and resp.json["error"]["field"] == "name"
    resp = tech("/api/v1/customers", {"name": "ACME\u0000 Ltd"})
    assert resp.status_code == 422 and resp.json["error"]["field"] == "name"
    resp = client.post("/api/v1/instruments", headers=qm, json={
        "asset_number": "B-1", "name": "n", "baudrate": [9600]})
    assert resp.status_code == 422 and resp.json["error"]["field"] == "baudrate"
    resp = tech(f"/api/v1/samples/{number}/results",
                {"characteristic_id": world.mass_id, "value": "1e99999999", "unit": "kg"})
    assert resp.status_code == 422 and resp.json["error"]["field"] == "value"
    resp = tech("/api/v1/samples", {"request_id": 1, "description": "d",
                                    "method_ids": list(range(1, 70_000))})
    assert resp.status_code == 422 and resp.json["error"]["field"] == "method_ids"
    resp = client.post("/login", data={"username": "tech\u0000", "password": "x"})
    assert resp.status_code in (400, 401)
    assert _counts(session)[:2] == before[:2]


def test_a_temperature_difference_on_an_absolute_characteristic(client, session, world):
    qm = {"Authorization": f"Bearer {world.token(session, 'qm')}"}
    method = client.post("/api/v1/methods", headers=qm, json={
        "code": "T-1", "title": "t", "field": "textiles", "characteristics": [
            {"name": "temperature", "kind": "temperature", "unit": "℃",
             "upper_limit": "80"}]}).json
    req = client.post("/api/v1/requests", headers={
        "Authorization": f"Bearer {world.token(session, 'tech')}"},
        json={"customer_id": world.customer_id}).json
    tech = {"Authorization": f"Bearer {world.token(session, 'tech')}"}
    sample = client.post("/api/v1/samples", headers=tech, json={
        "request_id": req["id"], "description": "d", "method_ids": [method["id"]]}).json
    client.post(f"/api/v1/samples/{sample['number']}/receive", headers=tech,
                json={"condition": "ok"})
    resp = client.post(f"/api/v1/samples/{sample['number']}/results", headers=tech, json={
        "characteristic_id": method["characteristics"][0]["id"], "value": "5",
        "unit": "delta_degC"})
    assert resp.status_code == 422 and resp.json["error"]["code"] == "unit_mismatch"
    assert "Δ°C" in resp.json["error"]["message"] or "delta" in resp.json["error"]["message"]


def test_control_characters_in_a_path_match_no_route(client, session, world, tech):
    """A NUL in a sample number reached the query, which PostgreSQL refuses (500); no number
    holds a control character, so such a URL is simply not found."""
    for path in ("/api/v1/samples/YP%00X", "/api/v1/instruments/EQ-1%0A/checks",
                 "/api/v1/reports/BG%1F1/traceability", "/audit/?actor=a%00b"):
        resp = client.get(path, headers=tech.headers)
        assert resp.status_code in (403, 404, 422), (path, resp.get_data(as_text=True))
    resp = client.get("/api/v1/audit/events?actor=a%00b",
                      headers={"Authorization": f"Bearer {world.token(session, 'qm')}"})
    assert resp.status_code == 422 and resp.json["error"]["field"] == "actor"


def test_a_method_the_url_does_not_take_is_405_with_allow(client, tech):
    resp = client.put("/api/v1/samples", headers=tech.headers)
    assert resp.status_code == 405
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
