"""Authentication, the role × action matrix, CSRF and login."""

from __future__ import annotations

import re

import pytest

from lims.auth.permissions import PERMISSIONS
from tests.support.world import PASSWORD, USERS, csrf, login

PUBLIC = {"/login", "/health", "/verify", "/verify/<number>", "/static/<path:filename>",
          "/locale"}  # the language switch of the login page (CSRF-checked)

# Each API action, the permission it needs, and a request that is valid enough to get past
# validation for an allowed role (so 403 can only come from the role check).
ACTIONS = [
    ("POST", "/api/v1/customers", "customer.create", {"name": "X"}),
    ("POST", "/api/v1/methods", "method.manage", {
        "code": "M-1", "title": "t", "field": "f",
        "characteristics": [{"name": "m", "unit": "g"}]}),
    ("POST", "/api/v1/instruments", "instrument.manage", {
        "asset_number": "A-9", "name": "n", "calibration_due_on": "2099-01-01"}),
    ("POST", "/api/v1/requests", "sample.register", "REQUEST"),
    ("POST", "/api/v1/samples/{number}/receive", "sample.receive", {"condition": "ok"}),
    ("POST", "/api/v1/samples/{received}/results", "result.record", "RESULT"),
    ("POST", "/api/v1/samples/{received}/complete", "sample.complete", None),
    ("POST", "/api/v1/samples/{received}/review", "sample.review", None),
    ("POST", "/api/v1/samples/{received}/approve", "sample.approve", {"password": PASSWORD}),
    ("POST", "/api/v1/samples/{received}/report", "report.issue", {"password": PASSWORD}),
    ("POST", "/api/v1/scope/accreditations", "scope.manage", {
        "scheme": "CMA", "certificate_number": "231234567890", "valid_from": "2024-01-01",
        "valid_until": "2029-12-31"}),
    ("GET", "/api/v1/audit/events", "audit.read", None),
    ("GET", "/api/v1/audit/verify", "audit.read", None),
    ("POST", "/api/v1/audit/verify", "audit.read", None),
    ("GET", "/api/v1/samples", "read", None),
    ("GET", "/api/v1/reports", "read", None),
]


def test_every_endpoint_but_the_public_ones_needs_credentials(app, client):
    rules = [r for r in app.url_map.iter_rules() if r.rule not in PUBLIC]
    assert len(rules) > 25
    for rule in rules:
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: "1" if "id" in m[1] else "X1",
                      rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            resp = client.open(path, method=method, json={} if method == "POST" else None)
            assert resp.status_code == 401, (method, path, resp.status_code)
    assert client.get("/health").status_code == 200
    assert client.get("/login").status_code == 200
    assert client.get("/api/v1/samples").json["error"]["code"] == "unauthenticated"


def test_bad_or_revoked_tokens_are_refused(client, session, world):
    assert client.get("/api/v1/samples", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/v1/samples", headers={"Authorization": "Basic abc"}).status_code == 401
    token = world.token(session, "auditor")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/samples", headers=headers).status_code == 200
    from sqlalchemy import update

    from lims.auth.models import ApiToken
    from lims.db import unit_of_work, utcnow
    with unit_of_work(session):
        session.execute(update(ApiToken).values(revoked_at=utcnow()))
    assert client.get("/api/v1/samples", headers=headers).status_code == 401


@pytest.mark.parametrize("role_user", sorted(USERS))
def test_role_action_matrix(client, session, world, role_user):
    token = world.token(session, role_user)
    roles = set(USERS[role_user])
    number = world.new_sample(session, receive=False)
    received = world.new_sample(session)
    for method, path, permission, body in ACTIONS:
        if body == "REQUEST":
            body = {"customer_id": world.customer_id}
        elif body == "RESULT":
            body = {"characteristic_id": world.mass_id, "value": "100.00", "unit": "g"}
        url = path.format(number=number, received=received)
        resp = client.open(url, method=method, json=body,
                           headers={"Authorization": f"Bearer {token}"})
        allowed = bool(roles & {r.value for r in PERMISSIONS[permission]})
        if allowed:
            assert resp.status_code != 403, (role_user, url, resp.get_data(as_text=True))
            assert resp.status_code < 500
        else:
            assert resp.status_code == 403, (role_user, url, resp.status_code)
            assert resp.json["error"]["code"] == "forbidden"


def test_auditor_is_read_only_in_the_browser(client, session, world):
    login(client, "auditor")
    number = world.new_sample(session)
    page = client.get(f"/samples/{number}").get_data(as_text=True)
    assert "Record" not in page and "Capture" not in page
    token = csrf(client, f"/samples/{number}")
    resp = client.post(f"/samples/{number}/results", data={
        "csrf_token": token, "characteristic_id": world.mass_id, "value": "1", "unit": "g"},
        headers={"Accept": "application/json"})
    assert resp.status_code == 403


def test_login_logout_and_csrf(client, session, world):
    bad = client.post("/login", data={"username": "tech", "password": "wrong",
                                      "csrf_token": csrf(client, "/login")})
    assert bad.status_code == 401 and "Wrong username or password" in bad.get_data(as_text=True)
    login(client, "tech")
    assert client.get("/").status_code == 200
    # A form post without the CSRF token is refused even with a valid session.
    resp = client.post("/customers", data={"name": "Evil"}, headers={"Accept": "application/json"})
    assert resp.status_code == 400 and resp.json["error"]["code"] == "csrf"
    ok = client.post("/customers", data={"name": "Good", "csrf_token": csrf(client)})
    assert ok.status_code == 303
    client.post("/logout", data={"csrf_token": csrf(client)})
    assert client.get("/").status_code == 401


def test_login_redirect_stays_on_site(client, world):
    token = csrf(client, "/login")
    resp = client.post("/login", data={"username": "tech", "password": PASSWORD,
                                       "csrf_token": token, "next": "//evil.example/x"})
    assert resp.status_code == 303 and resp.headers["Location"] == "/"


def test_failed_logins_are_audited(client, session, world):
    from sqlalchemy import select

    from lims.audit.models import AuditEvent
    client.post("/login", data={"username": "tech", "password": "nope",
                                "csrf_token": csrf(client, "/login")})
    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq.desc())).first()
    assert actions == "auth.login_failed"


@pytest.mark.parametrize("password", ["short9chr", "1234567890", "Password123", "QWERTYUIOP"])
def test_weak_passwords_are_refused(session, world, password):
    from lims.auth.services import create_user
    from lims.db import unit_of_work
    from lims.errors import InvalidInput

    with pytest.raises(InvalidInput) as exc, unit_of_work(session):
        create_user(session, username="weak", full_name="W", password=password,
                    roles=["technician"])
    assert exc.value.field == "password"


def test_pages_carry_security_headers(client):
    resp = client.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert client.get("/api/v1/samples").headers["X-Content-Type-Options"] == "nosniff"
