"""The pages of issue 9: the method form with kinds, LOD and LOQ; results with their measurement
time; an undecided result shown and decided by a reviewer."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from lims.db import unit_of_work, utcnow
from lims.samples import services
from lims.samples.models import Characteristic, Result, TestMethod
from tests.support.world import TZ, csrf, login


def test_the_method_form_declares_kinds_lod_and_loq(client, session, world):
    login(client, "qm")
    page = client.get("/methods").get_data(as_text=True)
    assert 'value="rotational_frequency"' in page and "GB/T 4669-2008" in page
    token = csrf(client, "/methods")
    rows = {"name": ["转速 Speed", "甲醛 Formaldehyde", ""], "kind": ["rotational_frequency", "", ""],
            "unit": ["Hz", "mg/kg", ""], "lower_limit": ["24", "", ""],
            "upper_limit": ["26", "75", ""], "lod": ["", "5", ""], "loq": ["", "20", ""],
            "expected": ["", "", ""], "uncertainty": ["", "1.5 %", ""], "k": ["", "2", ""]}
    resp = client.post("/methods", data={"csrf_token": token, "code": "GB 1-2026",
                                         "title": "Motors", "field": "textiles", **rows})
    assert resp.status_code == 303
    method = session.scalar(select(TestMethod).where(TestMethod.code == "GB 1-2026"))
    got = [(c.name, c.kind, c.unit_text, c.lower_limit, c.upper_limit, c.lod, c.loq,
            c.uncertainty_kind, c.uncertainty) for c in method.characteristics]
    assert got == [("转速 Speed", "rotational_frequency", "Hz", "24", "26", None, None, None,
                    None),
                   ("甲醛 Formaldehyde", "mass_fraction", "mg/kg", None, "75", "5", "20",
                    "relative", "1.5")]
    page = client.get("/methods").get_data(as_text=True)
    assert "24 … 26 Hz" in page and "≤ 75 mg/kg" in page and "5 mg/kg" in page
    assert "U = 1.5 % (k = 2)" in page
    # A bare K is refused, with the field named, and nothing is written.
    resp = client.post("/methods", headers={"Referer": "http://localhost/methods"}, data={
        "csrf_token": token, "code": "GB 2-2026", "title": "t", "field": "textiles",
        "name": ["温升"], "kind": [""], "unit": ["K"], "lower_limit": [""], "upper_limit": ["80"],
        "lod": [""], "loq": [""], "expected": [""]})
    assert resp.status_code == 303
    page = client.get("/methods").get_data(as_text=True)
    assert "temperature or temperature_difference" in page and "characteristics[0].kind" in page
    session.rollback()
    assert session.scalar(select(TestMethod).where(TestMethod.code == "GB 2-2026")) is None


def test_results_take_a_measurement_time_and_undecided_ones_a_decision(client, session, world):
    tz = ZoneInfo(TZ)
    with unit_of_work(session):
        method = services.create_method(
            session, actor=world.user(session, "qm"), code="GB 3-2026", title="HCHO",
            field="textiles", characteristics=[{"name": "甲醛", "unit": "mg/kg",
                                                "upper_limit": "0.05", "lod": "0.01",
                                                "uncertainty": {"expanded": "0.005"}},
                                               {"name": "铅", "unit": "mg/kg", "lod": "0.5"}])
        hcho, lead = (c.id for c in method.characteristics)
        req = services.create_request(session, actor=world.user(session, "tech"),
                                      customer_id=world.customer_id, number_format="WT{seq}",
                                      timezone=TZ)
        number = services.register_sample(session, actor=world.user(session, "tech"),
                                           request_id=req.id, description="d",
                                           method_ids=[method.id], number_format="YPK{seq}",
                                           timezone=TZ).number
        services.receive_sample(session, actor=world.user(session, "tech"), number=number,
                                condition="ok", received_at=utcnow() - dt.timedelta(days=2))
    login(client, "tech")
    token = csrf(client, f"/samples/{number}")
    at = (utcnow() - dt.timedelta(days=1)).astimezone(tz).replace(second=0, microsecond=0,
                                                                 tzinfo=None)
    resp = client.post(f"/samples/{number}/results", data={
        "csrf_token": token, "characteristic_id": hcho, "value": "<0.1", "unit": "mg/kg",
        "measured_at": at.strftime("%Y-%m-%dT%H:%M")})
    assert resp.status_code == 303
    page = client.get(f"/samples/{number}").get_data(as_text=True)
    assert f"measured at {at:%Y-%m-%d %H:%M}" in page and ">undecided<" in page
    assert "U = 0.005 mg/kg (k = 2)" in page and "simple acceptance" in page
    client.post(f"/samples/{number}/results", data={
        "csrf_token": token, "characteristic_id": lead, "value": "未检出", "unit": "mg/kg"})
    page = client.get(f"/samples/{number}").get_data(as_text=True)
    assert "未检出 (&lt; 0.5 mg/kg)" in page and "(now: no time was given)" in page
    assert 'class="inline decide"' not in page  # the technician does not decide
    client.post("/logout", data={"csrf_token": csrf(client)})

    login(client, "reviewer")
    page = client.get(f"/samples/{number}").get_data(as_text=True)
    assert 'class="inline decide"' in page
    rid = session.scalar(select(Result.id).where(Result.characteristic_id == hcho))
    resp = client.post(f"/results/{rid}/decision", data={
        "csrf_token": csrf(client, f"/samples/{number}"), "conformity": "fail",
        "reason": "bound above the limit; not retested"})
    assert resp.status_code == 303
    page = client.get(f"/samples/{number}").get_data(as_text=True)
    assert ">fail<" in page and "bound above the limit; not retested" in page
    session.rollback()
    assert session.get(Characteristic, hcho).lod == "0.01"
