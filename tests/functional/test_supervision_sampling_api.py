"""The sampling → notice → objection → re-inspection flow through the JSON API (issue 13)."""

from __future__ import annotations

from sqlalchemy import update

from lims.db import unit_of_work
from lims.supervision.models import ResultNotice
from tests.support.supervision import SAMPLING, drawn_task, report_sample


def _api(client, token):
    def call(method, path, json=None, status=None):
        resp = client.open(path, method=method, json=json,
                           headers={"Authorization": f"Bearer {token}"})
        if status is not None:
            assert resp.status_code == status, resp.get_data(as_text=True)
        return resp
    return call


def test_sampling_notice_objection_reinspection_api(client, session, world, settings):
    task = drawn_task(session)
    tech = _api(client, world.token(session, "tech"))
    qm = _api(client, world.token(session, "qm"))
    admin = _api(client, world.token(session, "admin"))
    base = "/api/v1/supervision"

    bad = tech("POST", f"{base}/tasks/{task}/sampling", {**SAMPLING, "sampled_on": "2026-13-01"},
               422).json
    assert bad["error"]["field"] == "sampled_on"
    qm("POST", f"{base}/tasks/{task}/sampling", {**SAMPLING, "sampled_on": "2026-09-01"}, 403)
    rec = tech("POST", f"{base}/tasks/{task}/sampling", {**SAMPLING, "sampled_on": "2026-09-01"},
               201).json
    tech("POST", f"{base}/tasks/{task}/sampling", {**SAMPLING, "sampled_on": "2026-09-01"}, 409)
    number, sample = rec["number"], rec["sample"]
    assert rec["backup"]["seal_number"] == "FB-0001" and rec["seal_broken"] is False
    checked = tech("POST", f"{base}/sampling/{number}/seal-check",
                   {"intact": False, "note": "封条破损"}, 200).json
    assert checked["seal_broken"] is True
    assert tech("GET", f"{base}/samples/{sample}", status=200).json["seal_broken"] is True

    report_sample(session, world, settings, sample, mass="101.00")
    tech("POST", f"{base}/sampling/{number}/notice", status=403)
    notice = qm("POST", f"{base}/sampling/{number}/notice", status=201).json
    pdf = qm("GET", f"{base}/notices/{notice['number']}/pdf", status=200)
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert [n["number"] for n in qm("GET", f"{base}/notices", status=200).json["notices"]] == \
        [notice["number"]]
    with unit_of_work(session):  # dated back, so that the delivery can be
        session.execute(update(ResultNotice).values(issued_at=notice_day()))
    delivered = qm("POST", f"{base}/notices/{notice['number']}/delivery",
                   {"delivered_on": "2026-09-24"}, 200).json
    assert delivered["objection_deadline"] == "2026-10-09"
    qm("POST", f"{base}/notices/{notice['number']}/delivery", {"delivered_on": "2026-09-24"}, 409)
    late = qm("POST", f"{base}/notices/{notice['number']}/objections",
              {"received_on": "2026-10-12", "applicant": "A", "grounds": "G"}, 422).json
    assert "2026-10-09" in late["error"]["message"]
    objection = qm("POST", f"{base}/notices/{notice['number']}/objections",
                   {"received_on": "2026-10-08", "applicant": "A", "grounds": "G"}, 201).json
    qm("POST", f"{base}/objections/{objection['id']}/decision", {"decision": "accept"}, 200)
    done = tech("POST", f"{base}/objections/{objection['id']}/reinspection",
                {"backup_seal_intact": True}, 200).json
    again = done["reinspection_sample"]
    assert again.startswith("JD")
    both = tech("GET", f"{base}/samples/{again}", status=200).json
    assert both["reinspection_of"] == sample and both["record"] == number
    assert tech("GET", f"{base}/samples/{sample}", status=200).json["reinspections"] == [again]
    assert tech("GET", f"{base}/sampling/{number}", status=200).json["backup"][
        "used_for_sample"] == again

    admin("PUT", f"{base}/calendar", {"days": [{"day": "2027-01-01", "working": False,
                                                 "note": "元旦"}]}, 200)
    tech("PUT", f"{base}/calendar", {"days": [{"day": "2027-01-04", "working": False}]}, 403)
    days = tech("GET", f"{base}/calendar?year=2026", status=200).json["days"]
    assert {"day": "2026-10-10", "working": True, "note": "调休上班 2026"} in days
    page = client.get(f"/supervision/sampling/{number}")  # the token does not log a browser in
    assert page.status_code in (302, 401)


def notice_day():
    import datetime as dt

    return dt.datetime(2026, 9, 20, tzinfo=dt.UTC)
