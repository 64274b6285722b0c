"""Electronic signatures over HTTP: the password again at each signing, throttled and locked
out like logins; the signing forms; the verification page.

A wrong signing password answers 403 ``reauthentication_failed`` (the request's own
credentials are fine; 401 would tell the client to log in again) and is recorded as a failed
login (21 CFR 11.300(d)); the signing itself writes nothing.
"""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

from sqlalchemy import func, select

from lims import create_app
from lims.audit.models import AuditEvent
from lims.auth.models import LoginFailure, User
from lims.db import unit_of_work
from lims.reports.models import Report
from lims.samples import services as samples
from lims.samples.models import Sample
from tests.support.world import PASSWORD, csrf, login

WRONG = "not my password at all"


def _reviewed(session: Any, world: Any) -> str:
    number = world.new_sample(session)
    tech = world.user(session, "tech")
    with unit_of_work(session):
        for ch, value, unit in ((world.mass_id, "100.00", "g"), (world.length_id, "12.0", "mm")):
            samples.record_result(session, actor=tech, number=number, characteristic_id=ch,
                                  value=value, unit=unit, timezone="Asia/Shanghai")
        samples.complete_testing(session, actor=tech, number=number)
        samples.review_sample(session, actor=world.user(session, "reviewer"), number=number)
    return number


def _status(session: Any, number: str) -> str:
    session.rollback()  # a fresh snapshot: the app committed in its own session
    return session.scalar(select(Sample.status).where(Sample.number == number))


def _events(session: Any, action: str) -> list[AuditEvent]:
    session.rollback()
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                .order_by(AuditEvent.seq)))


def _post(client: Any, token: str, path: str, body: Any = None, **kwargs: Any) -> Any:
    return client.post(path, json=body, headers={"Authorization": f"Bearer {token}"}, **kwargs)


def test_the_api_requires_the_password_to_approve_and_issue(client, session, world):
    token = world.token(session, "signatory")
    number = _reviewed(session, world)
    url = f"/api/v1/samples/{number}/approve"
    for body in (None, {}, {"password": ""}, {"password": 123}):
        resp = _post(client, token, url, body)
        assert resp.status_code == 422, resp.get_data(as_text=True)
        assert resp.json["error"]["field"] == "password"
    bad = client.post(url, data="{", content_type="application/json",
                      headers={"Authorization": f"Bearer {token}"})
    assert bad.status_code == 400
    events = len(_events(session, "sample.approve"))

    resp = _post(client, token, url, {"password": WRONG})
    assert resp.status_code == 403, resp.get_data(as_text=True)
    assert resp.json["error"] == {"code": "reauthentication_failed", "field": "password",
                                  "message": "wrong password: your electronic signature "
                                             "(批准 Approved) was not applied"}
    assert "WWW-Authenticate" not in resp.headers
    assert _status(session, number) == "reviewed" and len(_events(session, "sample.approve")) == events
    # ... but the failure itself is kept, as a failed login's is.
    (failed,) = _events(session, "auth.reauth_failed")
    assert failed.actor == "signatory"
    assert session.scalar(select(func.count()).select_from(LoginFailure)
                          .where(LoginFailure.username == "signatory")) == 1
    assert session.scalar(select(User.failed_logins).where(User.username == "signatory")) == 1

    resp = _post(client, token, url, {"password": PASSWORD})
    assert resp.status_code == 200 and resp.json["status"] == "approved"
    approval = _events(session, "sample.approve")[-1]
    signature = json.loads(approval.after)["signature"]
    assert (signature["meaning"], signature["reauthenticated"]) == ("批准 Approved", True)
    # A right password clears the account's failures, as a login does.
    assert session.scalar(select(User.failed_logins).where(User.username == "signatory")) == 0

    report_url = f"/api/v1/samples/{number}/report"
    assert _post(client, token, report_url).json["error"]["field"] == "password"
    assert _post(client, token, report_url, {"password": WRONG}).status_code == 403
    assert session.scalar(select(func.count()).select_from(Report)) == 0
    resp = _post(client, token, report_url, {"password": PASSWORD})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert _status(session, number) == "reported"


def test_wrong_signing_passwords_are_throttled_like_logins(app, client, session, world):
    token = world.token(session, "signatory")
    number = _reviewed(session, world)
    url = f"/api/v1/samples/{number}/approve"
    for _ in range(5):  # the login policy: 5 failures per account within 15 minutes
        assert _post(client, token, url, {"password": WRONG}).status_code == 403
    resp = _post(client, token, url, {"password": PASSWORD})
    assert resp.status_code == 429 and resp.headers["Retry-After"]
    assert resp.json["error"]["code"] == "too_many_attempts"
    assert _status(session, number) == "reviewed"
    # The same budget as the login form: no guessing on one to get round the other.
    other = app.test_client()
    page = other.post("/login", data={"username": "signatory", "password": PASSWORD,
                                      "csrf_token": csrf(other, "/login")})
    assert page.status_code == 429


def test_repeated_wrong_signing_passwords_lock_the_account(settings, session, world):
    strict = dataclasses.replace(settings, login_lockout_failures=3, login_max_failures=0)
    app = create_app(strict)
    try:
        client = app.test_client()
        token = world.token(session, "signatory")
        number = _reviewed(session, world)
        url = f"/api/v1/samples/{number}/approve"
        for _ in range(3):
            assert _post(client, token, url, {"password": WRONG}).status_code == 403
        (lock,) = _events(session, "user.lock")
        resp = _post(client, token, url, {"password": PASSWORD})
        assert resp.status_code == 403 and "locked" in resp.json["error"]["message"]
        assert _status(session, number) == "reviewed"
        assert session.scalar(select(User.locked_at).where(User.username == "signatory"))
    finally:
        app.extensions["lims"].engine.dispose()


def test_the_signing_forms_state_the_meaning_and_take_the_password(client, session, world):
    number = _reviewed(session, world)
    login(client, "signatory")
    page = client.get(f"/samples/{number}").get_data(as_text=True)
    form = page.split('id="approve-form"', 1)[1].split("</form>", 1)[0]
    assert 'type="password" name="password" required' in form
    assert "<strong>Approved</strong>" in form and "electronic signature" in form \
        and "Signatory Tester" in form

    detail = f"/samples/{number}"
    resp = client.post(f"/samples/{number}/approve",
                       data={"csrf_token": csrf(client, detail), "password": WRONG},
                       headers={"Referer": f"http://localhost{detail}"})
    assert resp.status_code == 303
    shown = client.get(detail).get_data(as_text=True)
    assert "wrong password: your electronic signature" in shown and _status(session, number) == "reviewed"
    client.post(f"/samples/{number}/approve",
                data={"csrf_token": csrf(client, detail), "password": PASSWORD})
    assert _status(session, number) == "approved"

    # Issuing goes through the confirmation page, which shows the preview (issue 11 §2).
    page = client.get(f"/samples/{number}/report/confirm").get_data(as_text=True)
    form = page.split('id="issue-form"', 1)[1].split("</form>", 1)[0]
    assert 'type="password" name="password" required' in form and "<strong>Approved</strong>" in form
    resp = client.post(f"/samples/{number}/report",
                       data={"csrf_token": csrf(client, detail), "password": PASSWORD})
    assert resp.status_code == 303 and _status(session, number) == "reported"


def test_the_verification_page_names_the_signer_the_meaning_and_the_seal(client, session,
                                                                         world, settings):
    _number, report_number = world.reported_sample(session, settings)
    pdf = session.scalar(select(Report.pdf).where(Report.number == report_number))
    resp = client.post(f"/verify/{report_number}",
                       data={"file": (io.BytesIO(pdf), "r.pdf"),
                             "csrf_token": csrf(client, f"/verify/{report_number}")},
                       content_type="multipart/form-data")
    page = resp.get_data(as_text=True)
    assert "identical to the issued report" in page
    rows = page.split('id="signatures"', 1)[1].split("</table>", 1)[0]
    assert rows.index("Report Signing (development)") < rows.index("Signatory Tester")
    assert f"批准 Approved: test report {report_number}" in rows and "检验检测专用章" in rows
