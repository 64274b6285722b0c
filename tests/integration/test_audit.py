"""The hash-chained audit trail detects edits, deletions and reordering behind the app's back."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select, text

from lims.audit.models import AuditEvent
from lims.audit.services import verify_chain
from lims.db import unit_of_work
from lims.errors import UnitMismatch
from lims.samples import services
from tests.support.world import PASSWORD, TZ


def _lims(settings, *args):
    env = {**os.environ, "LIMS_DATABASE_URL": settings.database_url,
           "LIMS_INSTANCE_PATH": str(settings.instance_path), "LIMS_SECRET_KEY": "x"}
    return subprocess.run([sys.executable, "-m", "lims.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_changes_write_events_in_the_same_transaction(session, world):
    count = session.scalar(select(func.count(AuditEvent.id)))
    number = world.new_sample(session)
    events = session.scalars(select(AuditEvent).where(AuditEvent.seq > count)
                             .order_by(AuditEvent.seq)).all()
    assert [e.action for e in events] == ["request.create", "sample.register", "sample.receive"]
    receive = events[-1]
    assert receive.actor == "tech" and receive.entity_id == number
    assert json.loads(receive.before)["status"] == "registered"
    assert json.loads(receive.after)["status"] == "received"
    assert receive.at.tzinfo is not None
    # A refused change leaves neither the change nor its event.
    with pytest.raises(UnitMismatch), unit_of_work(session):
        services.record_result(session, timezone=TZ, actor=world.user(session, "tech"), number=number,
                               characteristic_id=world.mass_id, value="1", unit="s")
    assert session.scalar(select(func.count(AuditEvent.id))) == count + 3


def test_correction_event_carries_before_after_and_reason(session, world):
    number = world.new_sample(session)
    tech = world.user(session, "tech")
    with unit_of_work(session):
        r = services.record_result(session, timezone=TZ, actor=tech, number=number,
                                   characteristic_id=world.mass_id, value="100.00", unit="g")
        rid = r.id
    with unit_of_work(session):
        services.correct_result(session, timezone=TZ, actor=tech, result_id=rid, value="100.10", unit="g",
                                reason="misread display")
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert event.action == "result.correct" and event.reason == "misread display"
    assert json.loads(event.before)["value"] == "100.00"
    assert json.loads(event.after)["value"] == "100.10"


def _drop_guards(session):
    """Do what a database owner acting behind the application's back can do."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))
    else:
        session.execute(text("DROP TRIGGER audit_events_no_update"))
        session.execute(text("DROP TRIGGER audit_events_no_delete"))
    session.commit()


def _tamper(session, sql):
    session.execute(text(sql))
    session.commit()


@pytest.mark.parametrize("sql", ["UPDATE audit_events SET actor = 'eve' WHERE seq = 3",
                                 "DELETE FROM audit_events WHERE seq = 4"])
def test_the_database_refuses_to_rewrite_the_audit_trail(session, world, sql):
    from sqlalchemy.exc import DatabaseError

    with pytest.raises(DatabaseError, match="append-only"):
        _tamper(session, sql)
    session.rollback()
    assert verify_chain(session).ok


@pytest.mark.parametrize(("sql", "bad"), [
    ("UPDATE audit_events SET after = replace(after, 'Tester', 'Hacker') WHERE seq = 5", 5),
    ("UPDATE audit_events SET actor = 'eve' WHERE seq = 3", 3),
    ("DELETE FROM audit_events WHERE seq = 4", 4),
    ("UPDATE audit_events SET seq = CASE seq WHEN 6 THEN 7 ELSE 6 END WHERE seq IN (6, 7)", 6),
])
def test_tampering_is_detected_naming_the_first_bad_event(session, world, settings, sql, bad):
    ok = _lims(settings, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "intact" in ok.stdout
    _drop_guards(session)
    if "seq IN" in sql:
        # Swap in two steps to get past the unique constraint on seq.
        _tamper(session, "UPDATE audit_events SET seq = -6 WHERE seq = 6")
        _tamper(session, "UPDATE audit_events SET seq = 6 WHERE seq = 7")
        _tamper(session, "UPDATE audit_events SET seq = 7 WHERE seq = -6")
    else:
        _tamper(session, sql)
    verdict = verify_chain(session)
    assert not verdict.ok and verdict.first_bad_seq == bad
    failed = _lims(settings, "audit", "verify")
    assert failed.returncode == 1
    assert f"event {bad}" in failed.stderr


def test_deleting_the_newest_events_is_detected(session, world):
    total = session.scalar(select(func.max(AuditEvent.seq)))
    _drop_guards(session)
    _tamper(session, f"DELETE FROM audit_events WHERE seq = {total}")
    verdict = verify_chain(session)
    assert not verdict.ok and verdict.first_bad_seq == total


def test_a_forged_pdf_never_verifies_as_genuine(app, client, session, world, settings):
    """A database owner who drops the guard and swaps a report's PDF and hash gets the forgery
    called "not issued by this laboratory" and the genuine copy "signed, but not this version"
    (issue 8, finding 4): the public page trusts the lab's key, not the database."""
    import hashlib
    import io

    from reportlab.pdfgen import canvas

    from lims.reports.models import Report
    from lims.reports.services import issue_report

    number = world.approved_sample(session)
    with unit_of_work(session):
        report = issue_report(session, actor=world.user(session, "signatory"),
                              sample_number=number, settings=settings,
                              password=PASSWORD)
        genuine, report_number = report.pdf, report.number
    buf = io.BytesIO()
    forged_canvas = canvas.Canvas(buf)
    forged_canvas.drawString(72, 720, f"Test report {report_number}: all results pass")
    forged_canvas.save()
    forged = buf.getvalue()

    from tests.support.world import csrf

    def check(data: bytes) -> str:
        token = csrf(client, f"/verify/{report_number}")
        page = client.post(f"/verify/{report_number}", data={
            "csrf_token": token, "file": (io.BytesIO(data), "r.pdf")})
        return page.get_data(as_text=True)

    assert "signed by this laboratory and identical" in check(genuine)
    with unit_of_work(session):
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("DROP TRIGGER reports_frozen ON reports"))
        else:
            session.execute(text("DROP TRIGGER reports_frozen"))
        stored = session.scalar(select(Report).where(Report.number == report_number))
        stored.pdf, stored.sha256 = forged, hashlib.sha256(forged).hexdigest()
    assert "was not issued by this laboratory" in check(forged)
    assert "not the version issued under this number" in check(genuine)
