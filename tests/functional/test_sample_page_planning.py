"""The sample's page shows its plan (issue 11 §2, §3): its request, its due date against today,
its priority and its assignee, and a technician takes or gives back the sample from there."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from lims.audit.models import AuditEvent
from lims.db import utcnow
from lims.samples.models import Sample
from lims.samples.turnaround import local_date
from tests.support.world import TZ, csrf, login


def _plan(session, number, *, days, priority="normal"):
    """Give the sample a due date ``days`` from today (lab zone) and a priority."""
    due = local_date(utcnow(), TZ) + dt.timedelta(days=days)
    session.rollback()  # a fresh transaction: the app wrote in its own
    session.execute(update(Sample).where(Sample.number == number)
                    .values(due_date=due, priority=priority))
    session.commit()
    return due


def _cell(html, ident):
    return html.split(f'id="{ident}"', 1)[1].split("</td>", 1)[0]


def test_the_page_shows_request_due_date_priority_and_assignee(client, session, world):
    number = world.new_sample(session, receive=False)
    due = _plan(session, number, days=5, priority="urgent")
    request_number = session.scalar(select(Sample).where(Sample.number == number)).request.number
    session.rollback()
    login(client, "tech")
    html = client.get(f"/samples/{number}").get_data(as_text=True)
    assert f'href="/requests/{request_number}">{request_number}</a>' in html
    assert due.isoformat() in _cell(html, "due-date") and "5 days left" in _cell(html, "due-date")
    assert "urgent" in _cell(html, "priority")
    assert "not yet assigned" in _cell(html, "assignee")

    _plan(session, number, days=-2)
    html = client.get(f"/samples/{number}").get_data(as_text=True)
    assert "Overdue by 2 days" in _cell(html, "due-date") and "normal" in _cell(html, "priority")


def test_a_technician_takes_the_sample_from_its_page_and_gives_it_back(
        client, app, session, world):
    number = world.new_sample(session, receive=False)
    login(client, "tech")
    html = client.get(f"/samples/{number}").get_data(as_text=True)
    assert f'action="/queue/{number}/take"' in html and "give-back" not in html
    resp = client.post(f"/queue/{number}/take",
                       data={"csrf_token": csrf(client), "back": "sample"})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/samples/{number}"
    html = client.get(f"/samples/{number}").get_data(as_text=True)
    assert f"Sample {number} is assigned to you." in html
    tech = world.user(session, "tech")
    assert tech.full_name in _cell(html, "assignee")
    assert f'action="/queue/{number}/give-back"' in html and "/take" not in html

    # Another technician sees who has it, and no button; a reviewer sees no button either.
    other = app.test_client()
    login(other, "tech2")
    theirs = other.get(f"/samples/{number}").get_data(as_text=True)
    assert tech.full_name in _cell(theirs, "assignee")
    assert "/take" not in theirs and "/give-back" not in theirs
    reviewer = app.test_client()
    login(reviewer, "reviewer")
    seen = reviewer.get(f"/samples/{number}").get_data(as_text=True)
    assert "/take" not in seen and "/give-back" not in seen

    resp = client.post(f"/queue/{number}/give-back",
                       data={"csrf_token": csrf(client), "back": "sample"})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/samples/{number}"
    html = client.get(f"/samples/{number}").get_data(as_text=True)
    assert "not yet assigned" in _cell(html, "assignee") and "/take" in html
    # Anything but "sample" goes back to the queue: the form cannot choose the address.
    resp = client.post(f"/queue/{number}/take",
                       data={"csrf_token": csrf(client), "back": "https://example.com/"})
    assert resp.headers["Location"] == "/"
    session.rollback()
    actions = session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity_id == number, AuditEvent.action.like("sample.%assign"))
        .order_by(AuditEvent.id)).all()
    assert actions == ["sample.assign", "sample.unassign", "sample.assign"]


def test_the_plan_in_chinese(client, session, world):
    number = world.new_sample(session, receive=False)
    _plan(session, number, days=-3, priority="urgent")
    login(client, "tech")
    html = client.get(f"/samples/{number}",
                      headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "要求完成日期" in html and "已超期 3 天" in _cell(html, "due-date")
    assert "紧急" in _cell(html, "priority") and "尚未指派" in _cell(html, "assignee")
    assert ">领取</button>" in html
    assert "Overdue" not in html and "not yet assigned" not in html
