"""The decision rule agreed per request and the uncertainty of results (issue 9 §4): one rule,
:func:`lims.metrology.decision.verdict_of`, for results, reports and ``lims decide``."""

from __future__ import annotations

import json

from sqlalchemy import select

from lims.metrology.decision import decide
from lims.reports.models import Report
from tests.support.pdf import pdftotext
from tests.support.world import PASSWORD


def _api(client, session, world, who):
    token = world.token(session, who)

    def call(method, path, body=None):
        return client.open(path, method=method, json=body,
                           headers={"Authorization": f"Bearer {token}"})
    return call


def _setup(client, session, world, *, rule, r=None, uncertainty=None, limits=4):
    qm, tech = _api(client, session, world, "qm"), _api(client, session, world, "tech")
    method = qm("POST", "/api/v1/methods", {
        "code": "R-1", "title": "rules", "field": "textiles", "characteristics": [
            {"name": f"甲醛 {i}", "unit": "mg/kg", "upper_limit": "0.05",
             **({"uncertainty": uncertainty} if uncertainty else {})}
            for i in range(limits)]})
    assert method.status_code == 201, method.get_data(as_text=True)
    req = tech("POST", "/api/v1/requests", {"customer_id": world.customer_id,
                                           "decision_rule": rule, **({"r": r} if r else {})})
    assert req.status_code == 201, req.get_data(as_text=True)
    sample = tech("POST", "/api/v1/samples", {"request_id": req.json["id"], "description": "d",
                                              "method_ids": [method.json["id"]]})
    return tech, req.json, method.json, sample


def test_a_guarded_rule_applies_w_r_u_and_the_report_states_it(client, session, world,
                                                               tmp_path):
    tech, req, method, sample = _setup(client, session, world, rule="guarded", r="1",
                                       uncertainty={"expanded": "0.01", "k": "2"}, limits=1)
    assert req["decision_rule"] == {"rule": "guarded", "r": "1"}
    number = sample.json["number"]
    tech("POST", f"/api/v1/samples/{number}/receive", {"condition": "ok"})
    (cid,) = (c["id"] for c in method["characteristics"])
    result = tech("POST", f"/api/v1/samples/{number}/results",
                  {"characteristic_id": cid, "value": "0.045", "unit": "mg/kg"}).json
    # 0.045 ≤ 0.05 passes simple acceptance; the guard band w = 1 × 0.01 makes it fail.
    assert (result["conformity"], result["expanded_uncertainty"], result["k"],
            result["uncertainty_unit"]) == ("fail", "0.01", "2", "mg/kg")
    same = decide(value="0.045", unit="mg/kg", expanded_uncertainty="0.01", upper="0.05",
                  rule="guarded", r="1", k="2")
    assert same.verdict == result["conformity"]  # lims decide says the same
    page = client.get(f"/api/v1/samples/{number}", headers={
        "Authorization": f"Bearer {world.token(session, 'auditor')}"}).json
    assert page["decision_rule"] == {"rule": "guarded", "r": "1"}
    for who, action, body in (("tech", "complete", None), ("reviewer", "review", None),
                              ("signatory", "approve", {"password": PASSWORD})):
        assert _api(client, session, world, who)(
            "POST", f"/api/v1/samples/{number}/{action}", body).status_code == 200
    report = _api(client, session, world, "signatory")(
        "POST", f"/api/v1/samples/{number}/report", {"password": PASSWORD}).json["number"]
    session.rollback()
    row = session.scalar(select(Report).where(Report.number == report))
    content = json.loads(row.content)
    assert "w = 1·U" in content["decision_rule"] and "guard band" in content["decision_rule"]
    (line,) = content["results"]
    assert (line["conformity"], line["uncertainty"]) == ("fail", "U = 0.01 mg/kg (k = 2)")
    path = tmp_path / "report.pdf"
    path.write_bytes(row.pdf)
    text = pdftotext(path)
    assert "U = 0.01 mg/kg" in text and "w = 1·U" in text, text  # the cell wraps "(k = 2)"


def test_a_non_binary_rule_gives_conditional_verdicts(client, session, world):
    tech, _req, method, sample = _setup(client, session, world, rule="non-binary",
                                        uncertainty={"relative": "20"})
    number = sample.json["number"]
    tech("POST", f"/api/v1/samples/{number}/receive", {"condition": "ok"})
    got = []
    for ch, value in zip(method["characteristics"], ("0.035", "0.045", "0.055", "0.08"),
                         strict=True):
        got.append(tech("POST", f"/api/v1/samples/{number}/results", {
            "characteristic_id": ch["id"], "value": value, "unit": "mg/kg"}).json)
    assert [(r["conformity"], r["expanded_uncertainty"]) for r in got] == [
        ("pass", "0.0070"), ("conditional pass", "0.0090"), ("conditional fail", "0.011"),
        ("fail", "0.016")]
    for r, value in zip(got, ("0.035", "0.045", "0.055", "0.08"), strict=True):
        assert decide(value=value, unit="mg/kg", expanded_uncertainty=r["expanded_uncertainty"],
                      upper="0.05", rule="non-binary", r="1").verdict == r["conformity"]


def test_a_rule_with_a_guard_band_needs_the_uncertainty_of_every_judged_characteristic(
        client, session, world):
    _tech, _req, _method, sample = _setup(client, session, world, rule="guarded", limits=1)
    assert sample.status_code == 422, sample.get_data(as_text=True)
    assert sample.json["error"]["field"] == "method_ids"
    assert "uncertainty" in sample.json["error"]["message"]
    tech = _api(client, session, world, "tech")
    for body, field in (({"decision_rule": "strict"}, "decision_rule"),
                        ({"decision_rule": "simple", "r": "2"}, "r"),
                        ({"decision_rule": "guarded", "r": "-1"}, "r"),
                        ({"decision_rule": "guarded", "r": "many"}, "r")):
        resp = tech("POST", "/api/v1/requests", {"customer_id": world.customer_id, **body})
        assert resp.status_code == 422 and resp.json["error"]["field"] == field, body
