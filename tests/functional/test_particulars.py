"""Request and sample particulars, test conditions and the overall conclusion through the JSON
API and the pages, down to the issued PDF (issue 10, section 5)."""

from __future__ import annotations

import json

from sqlalchemy import select

from lims.audit.models import AuditEvent
from tests.support.pdf import pdftotext
from tests.support.world import PASSWORD, csrf, login


def _api(client, token):
    def call(method, path, body=None, status=None):
        resp = client.open(path, method=method, json=body,
                           headers={"Authorization": f"Bearer {token}"})
        if status is not None:
            assert resp.status_code == status, resp.get_data(as_text=True)
        return resp
    return call


def test_particulars_conditions_and_worded_conclusion_through_the_api(client, session, world,
                                                                      tmp_path):
    tech = _api(client, world.token(session, "tech"))
    qm = _api(client, world.token(session, "qm"))
    reviewer = _api(client, world.token(session, "reviewer"))
    signatory = _api(client, world.token(session, "signatory"))

    method = qm("POST", "/api/v1/methods", {
        "code": "GB/T 6529-2008", "title": "调湿 Conditioning", "field": "textiles",
        "requires_conditions": True,
        "characteristics": [{"name": "回潮率 Moisture regain", "unit": "%", "upper_limit": "13"}],
    }, 201).json
    assert method["requires_conditions"] is True
    req = tech("POST", "/api/v1/requests", {
        "customer_id": world.customer_id, "inspection_type": "type",
        "product_standard": "GB 18401-2010", "customer_data": "批号由委托方提供"}, 201).json
    assert (req["inspection_type"], req["product_standard"], req["customer_data"]) == (
        "type", "GB 18401-2010", "批号由委托方提供")
    tech("POST", "/api/v1/requests", {"customer_id": world.customer_id,
                                      "inspection_type": "rumour"}, 422)
    sample = tech("POST", "/api/v1/samples", {
        "request_id": req["id"], "description": "grey fabric",
        "method_ids": [world.method_id, method["id"]], "trademark": "好布牌", "model": "150 cm",
        "batch": "P2610", "quantity": "3 m", "manufacturer": "杭州第一纺织厂"}, 201).json
    number = sample["number"]
    assert sample["particulars"] == {"trademark": "好布牌", "model": "150 cm", "batch": "P2610",
                                     "quantity": "3 m", "manufacturer": "杭州第一纺织厂"}
    tech("POST", f"/api/v1/samples/{number}/receive", {"condition": "intact"}, 200)
    for ch, value, unit in ((world.mass_id, "100.00", "g"), (world.length_id, "12.0", "mm"),
                            (method["characteristics"][0]["id"], "8.2", "%")):
        tech("POST", f"/api/v1/samples/{number}/results",
             {"characteristic_id": ch, "value": value, "unit": unit}, 201)
    tech("POST", f"/api/v1/samples/{number}/complete", None, 409)  # no conditions yet

    path = f"/api/v1/samples/{number}/tests/{method['id']}/conditions"
    bad = tech("POST", path, {"conditions": [{"kind": "temperature", "value": "20",
                                              "unit": "%RH"}]}, 422).json
    assert bad["error"]["field"] == "conditions[0].unit" and "%RH" in bad["error"]["message"]
    tech("POST", f"/api/v1/samples/{number}/tests/999999/conditions",
         {"deviation": "x"}, 422)
    shown = tech("POST", path, {
        "conditions": [{"kind": "temperature", "value": "20.5", "unit": "℃"},
                       {"kind": "relative_humidity", "value": "65", "unit": "%RH"}],
        "deviation": "调湿 12 h instead of 24 h"}, 200).json
    test = shown["tests"][1]
    assert test["conditions"][0] == {"kind": "temperature", "value": "20.5", "unit": "℃"}
    assert test["deviation"] == "调湿 12 h instead of 24 h"
    tech("POST", f"/api/v1/samples/{number}/complete", None, 200)
    reviewer("POST", f"/api/v1/samples/{number}/review", None, 200)

    derived = tech("GET", f"/api/v1/samples/{number}").json["conclusion"]
    assert derived["outcome"] == "conforming" and derived["worded"] is None
    assert "GB 18401-2010" in derived["derived"]
    refused = signatory("POST", f"/api/v1/samples/{number}/approve",
                        {"password": PASSWORD, "conclusion": "符合一等品要求"}, 422).json
    assert refused["error"]["field"] == "conclusion_reason"
    worded = "经检验，所检项目符合 GB 18401-2010 B 类要求。/ Conforms to GB 18401-2010 class B."
    approved = signatory("POST", f"/api/v1/samples/{number}/approve", {
        "password": PASSWORD, "conclusion": worded,
        "conclusion_reason": "委托方要求注明安全类别"}, 200).json
    assert approved["conclusion"]["worded"] == worded
    assert approved["conclusion"]["reason"] == "委托方要求注明安全类别"
    report = signatory("POST", f"/api/v1/samples/{number}/report", {"password": PASSWORD},
                       201).json
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(tech("GET", f"/api/v1/reports/{report['number']}/pdf", None, 200).data)
    flat = "".join(pdftotext(pdf).split())
    for needle in ("型式检验 Type test", "GB 18401-2010 B 类要求", "好布牌", "杭州第一纺织厂",
                   "20.5 ℃", "65 %RH", "调湿 12 h instead of 24 h", "批号由委托方提供",
                   "检验方法", "检验检测专用章"):
        assert "".join(needle.split()) in flat, needle


def test_the_pages_take_particulars_conditions_and_a_worded_conclusion(client, session, world):
    login(client, "tech")
    page = client.get("/samples").get_data(as_text=True)
    assert 'name="inspection_type"' in page and "Supervision spot check" in page
    resp = client.post("/samples", data={
        "csrf_token": csrf(client), "customer_id": str(world.customer_id),
        "description": "grey fabric", "method_ids": [str(world.method_id)],
        "inspection_type": "supervision", "product_standard": "GB 18401-2010",
        "trademark": "好布牌", "model": "150 cm", "batch": "P2610", "quantity": "3 m",
        "manufacturer": "杭州第一纺织厂", "customer_data": "批号由委托方提供"})
    assert resp.status_code == 303
    number = resp.headers["Location"].rsplit("/", 1)[1]
    page = client.get(f"/samples/{number}").get_data(as_text=True)
    for needle in ("监督抽查 Supervision spot check", "GB 18401-2010", "好布牌", "150 cm",
                   "杭州第一纺织厂", "批号由委托方提供"):
        assert needle in page, needle
    token = csrf(client, f"/samples/{number}")
    client.post(f"/samples/{number}/receive", data={"csrf_token": token, "condition": "ok"})
    for ch, value, unit in ((world.mass_id, "101.00", "g"), (world.length_id, "12.0", "mm")):
        client.post(f"/samples/{number}/results", data={
            "csrf_token": token, "characteristic_id": str(ch), "value": value, "unit": unit})
    resp = client.post(f"/samples/{number}/tests/{world.method_id}/conditions", data={
        "csrf_token": token, "kind": ["temperature", "relative_humidity", "pressure"],
        "value": ["20", "65", ""], "unit": ["%RH", "%RH", "kPa"], "deviation": ""},
        headers={"Referer": f"http://localhost/samples/{number}"})
    assert resp.status_code == 303  # back to the page, with the error shown there
    page = client.get(f"/samples/{number}").get_data(as_text=True)
    assert "%RH" in page and "conditions[0].unit" in page
    assert "温度 Temperature" not in page.split('id="conditions-')[1].split("</p>")[0]
    resp = client.post(f"/samples/{number}/tests/{world.method_id}/conditions", data={
        "csrf_token": token, "kind": ["temperature", "relative_humidity", "pressure"],
        "value": ["20", "65", ""], "unit": ["℃", "%RH", "kPa"], "deviation": "none"})
    assert resp.status_code == 303
    page = client.get(f"/samples/{number}").get_data(as_text=True)
    assert "温度 Temperature 20 ℃; 相对湿度 Relative humidity 65 %RH" in page
    client.post(f"/samples/{number}/complete", data={"csrf_token": token})
    client.post("/logout", data={"csrf_token": csrf(client)})
    login(client, "reviewer")
    client.post(f"/samples/{number}/review", data={"csrf_token": csrf(client)})
    client.post("/logout", data={"csrf_token": csrf(client)})

    login(client, "signatory")
    page = client.get(f"/samples/{number}").get_data(as_text=True)
    assert "不合格项目：Specimen mass" in page and 'name="conclusion_reason"' in page
    token = csrf(client, f"/samples/{number}")
    resp = client.post(f"/samples/{number}/approve", data={
        "csrf_token": token, "password": PASSWORD, "conclusion": "所检项目不符合要求。",
        "conclusion_reason": ""}, headers={"Referer": f"http://localhost/samples/{number}"})
    assert resp.status_code == 303
    page = client.get(f"/samples/{number}").get_data(as_text=True)
    assert "(reason for the conclusion)" in page and 'id="sample-status">reviewed' in page
    resp = client.post(f"/samples/{number}/approve", data={
        "csrf_token": token, "password": PASSWORD, "conclusion": "所检项目不符合要求（质量）。",
        "conclusion_reason": "按委托方要求简写"})
    assert resp.status_code == 303
    page = client.get(f"/samples/{number}").get_data(as_text=True)
    assert "所检项目不符合要求（质量）。" in page and "按委托方要求简写" in page
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "sample.approve")
                            .order_by(AuditEvent.seq.desc())).first()
    after = json.loads(event.after)
    assert after["conclusion_reason"] == "按委托方要求简写"
    assert "不合格项目：Specimen mass" in after["derived_conclusion"]
