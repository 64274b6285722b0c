"""The calibration API: register, record, import, checks, chains, impact; roles and refusals."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

from lims.db import utcnow
from tests.support.world import PASSWORD

CERTS = Path(__file__).resolve().parents[1] / "data" / "certificates"
TODAY = utcnow().date()


def _api(client, token):
    def call(method, path, json=None, status=None, **kw):
        resp = client.open(path, method=method, json=json,
                           headers={"Authorization": f"Bearer {token}"}, **kw)
        if status is not None:
            assert resp.status_code == status, resp.get_data(as_text=True)
        return resp
    return call


def day(n: int) -> str:
    return (TODAY + dt.timedelta(days=n)).isoformat()


def test_register_refuses_a_due_date_before_the_calibration_and_warns_of_twins(client, session,
                                                                               world):
    qm = _api(client, world.token(session, "qm"))
    bad = qm("POST", "/api/v1/instruments", {"asset_number": "A-1", "name": "n",
                                             "calibrated_on": day(0), "calibration_due_on":
                                             day(-1)}, 422).json
    assert bad["error"]["field"] == "calibration_due_on"
    assert qm("GET", "/api/v1/instruments/A-1", None, 404)
    made = qm("POST", "/api/v1/instruments", {
        "asset_number": "A-2", "name": "twin", "serial_number": "B021002593", "role":
        "working standard", "quantities": [{"quantity": "mass", "unit": "g", "range_min": "0",
                                            "range_max": "200.0"}],
        "calibrated_on": day(-10), "calibration_due_on": day(300)}, 201).json
    assert made["warnings"] == ["serial number also used by EQ-1"]
    assert made["role"] == "working standard" and made["calibration_due_on"] == day(300)
    assert made["quantities"][0]["range_max"] == "200.0"
    wrong = qm("POST", "/api/v1/instruments", {"asset_number": "A-3", "name": "n", "quantities":
                                               [{"quantity": "q", "unit": "furlongs/fortnite"}]},
               422).json
    assert wrong["error"]["field"] == "quantities[0].unit"


def test_typed_calibration_import_and_history(client, session, world):
    qm = _api(client, world.token(session, "qm"))
    tech = _api(client, world.token(session, "tech"))
    cert = {"number": "T-1", "provider": {"name": "Prov", "kind": "accredited",
                                          "accreditation": "CNAS L1"},
            "calibrated_on": day(-5), "valid_until": day(360),
            "results": [{"quantity": "mass", "nominal": "100", "value": "100.00020",
                         "unit": "g", "expanded_uncertainty": "0.00030", "k": "2"}]}
    tech("POST", "/api/v1/instruments/EQ-1/calibrations", cert, 403)
    rec = qm("POST", "/api/v1/instruments/EQ-1/calibrations", cert, 201).json
    assert rec["points"][0]["value"] == "100.00020" and rec["provider_kind"] == "accredited"
    bad = qm("POST", "/api/v1/instruments/EQ-1/calibrations",
             {**cert, "number": "T-2", "results": [{**cert["results"][0], "unit": "V"}]},
             422).json
    assert "V" in bad["error"]["message"] and "mass (g)" in bad["error"]["message"]
    history = qm("GET", "/api/v1/instruments/EQ-1/calibrations", None, 200).json
    assert [c["certificate"] for c in history["calibrations"]][:1] == ["T-1"]

    data = (CERTS / "dcc-nim-mass-e1.xml").read_bytes()
    tech("POST", "/api/v1/calibrations/import", None, 403,
         data={"file": (io.BytesIO(data), "nim.xml")})
    imported = qm("POST", "/api/v1/calibrations/import", None, 201,
                  data={"file": (io.BytesIO(data), "nim.xml")}).json
    assert imported["certificate"]["provider_kind"] == "nmi"
    stored = qm("GET", f"/api/v1/instruments/{imported['instrument']}/calibrations").json
    rid = stored["calibrations"][0]["id"]
    file = qm("GET", f"/api/v1/calibrations/{rid}/file", None, 200)
    assert file.data == data
    empty = qm("POST", "/api/v1/calibrations/import", None, 422,
               data={"file": (io.BytesIO(b""), "x.xml")}).json
    assert empty["error"]["field"] == "file"
    raw = qm("POST", "/api/v1/calibrations/import?instrument=EQ-1", None, 422,
             data=b"<x/>", content_type="application/xml").json
    assert raw["error"]["code"] == "invalid"


def test_checks_status_and_impact(client, session, world):
    qm = _api(client, world.token(session, "qm"))
    check = qm("POST", "/api/v1/instruments/EQ-1/checks",
               {"nominal": "100.0000", "unit": "g", "readings": ["100.0009", "100.0011"],
                "limit": "0.0005"}, 201).json
    assert check["result"] == "fail"
    assert qm("GET", "/api/v1/instruments/EQ-1").json["calibration_flag"] == "check failed"
    refused = qm("POST", "/api/v1/instruments/EQ-1/checks",
                 {"nominal": "1", "unit": "g", "readings": "1", "limit": "1"}, 422).json
    assert refused["error"]["field"] == "readings"
    out = qm("POST", "/api/v1/instruments/EQ-1/status", {"in_service": False,
                                                         "reason": "dropped"}, 200).json
    assert out["status"] == "out of service" and out["status_reason"] == "dropped"
    qm("POST", "/api/v1/instruments/EQ-1/status", {"in_service": False, "reason": "x"}, 409)
    qm("POST", "/api/v1/instruments/EQ-1/status", {"in_service": "no", "reason": "x"}, 422)
    assert qm("GET", "/api/v1/instruments/EQ-1/impact", None, 422).json["error"]["field"] == \
        "from"
    found = qm("GET", f"/api/v1/instruments/EQ-1/impact?from={day(-30)}", None, 200).json
    assert found["asset"] == "EQ-1" and found["results"] == 0
    qm("GET", "/api/v1/instruments/NOPE/impact?from=2026-01-01", None, 404)
    qm("GET", f"/api/v1/instruments/EQ-1/impact?from={day(0)}&to={day(-1)}", None, 422)


def test_traceability_api_of_a_report(client, session, world, settings):
    from lims.reports.services import issue_report

    number = world.approved_sample(session)
    from lims.db import unit_of_work

    with unit_of_work(session):
        report = issue_report(session, actor=world.user(session, "signatory"),
                              sample_number=number, settings=settings,
                              password=PASSWORD).number
    auditor = _api(client, world.token(session, "auditor"))
    data = auditor("GET", f"/api/v1/reports/{report}/traceability", None, 200).json
    assert data["report"] == report and len(data["results"]) == 2
    assert all(r["instrument"] is None and r["complete"] is False for r in data["results"])
    auditor("GET", "/api/v1/reports/NOPE/traceability", None, 404)
    assert client.get(f"/api/v1/reports/{report}/traceability").status_code == 401
    json.dumps(data)  # plain JSON


def test_a_calibration_typed_from_paper_on_the_page(client, session, world):
    from tests.support.world import csrf, login

    login(client, "qm")
    token = csrf(client, "/instruments/EQ-1")
    form = {"csrf_token": token, "number": "PAPER-1", "provider_name": "Prov",
            "provider_kind": "accredited", "accreditation": "CNAS L1",
            "calibrated_on": day(-3), "valid_until": day(300), "standards_used": "",
            "points": "mass | 100 | 100.00020 | g | 0.00030 | 2\nmass | 200 | 200.0004 | g | |\n"}
    resp = client.post("/instruments/EQ-1/calibrations", data=form)
    assert resp.status_code == 303, resp.get_data(as_text=True)
    page = client.get("/instruments/EQ-1").get_data(as_text=True)
    assert "PAPER-1" in page and "100.00020" in page
    bad = client.post("/instruments/EQ-1/calibrations",
                      data={**form, "number": "PAPER-2", "points": "mass | 100 | 1 g"},
                      headers={"Referer": "http://localhost/instruments/EQ-1"})
    assert bad.status_code == 303
    assert "6 cells" in client.get("/instruments/EQ-1").get_data(as_text=True)
    qm = _api(client, world.token(session, "qm"))
    certs = [c["certificate"] for c in qm("GET", "/api/v1/instruments/EQ-1/calibrations").json[
        "calibrations"]]
    assert "PAPER-1" in certs and "PAPER-2" not in certs


def test_hostile_inputs_get_422_or_a_clean_file(client, session, world):
    qm = _api(client, world.token(session, "qm"))
    cert = {"number": "H-1", "provider": {"name": "Prov", "kind": "accredited",
                                          "accreditation": "CNAS L1"},
            "calibrated_on": "9999-12-31",
            "results": [{"quantity": "mass", "value": "1", "unit": "g"}]}
    assert qm("POST", "/api/v1/instruments/EQ-1/calibrations", cert, 422).json["error"][
        "field"] == "calibrated_on"
    for query in ("from=0001-01-01", f"from={day(-1)}&to=9999-12-31"):
        qm("GET", f"/api/v1/instruments/EQ-1/impact?{query}", None, 422)
    nul = {**cert, "calibrated_on": day(-1), "number": "A\u0000B"}
    assert qm("POST", "/api/v1/instruments/EQ-1/calibrations", nul, 422).json["error"][
        "field"] == "number"
    long_k = {**cert, "calibrated_on": day(-1), "results": [
        {"quantity": "mass", "value": "1", "unit": "g", "expanded_uncertainty": "0.1",
         "k": "2." + "0" * 40}]}
    assert qm("POST", "/api/v1/instruments/EQ-1/calibrations", long_k, 422).json["error"][
        "field"] == "results[0].k"
    # A certificate file larger than the app's 1 MB body limit, with a non-ASCII name.
    data = (CERTS / "json-thermometer.json").read_text()
    padded = json.loads(data)
    padded["conformity"] = "x" * 1500
    body = json.dumps(padded, indent=2) + " " * 1_500_000
    for asset in ("TH-0012", "SPRT-01", "BATH-03"):
        qm("POST", "/api/v1/instruments", {"asset_number": asset, "name": asset, "quantities":
                                           [{"quantity": "t", "unit": "K"}]}, 201)
    # Encoded here in memory: the test client would spool a body this large to a temporary file.
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    boundary, payload = encode_multipart({"file": FileStorage(io.BytesIO(body.encode()),
                                                              "温度计证书.json")})
    imported = qm("POST", "/api/v1/calibrations/import?valid_until=2025-04-17", None, 201,
                  data=payload,
                  content_type=f"multipart/form-data; boundary={boundary}").json
    records = qm("GET", f"/api/v1/instruments/{imported['instrument']}/calibrations").json
    file = qm("GET", f"/api/v1/calibrations/{records['calibrations'][0]['id']}/file", None, 200)
    assert "filename*=UTF-8''%E6%B8%A9" in file.headers["Content-Disposition"]
    assert len(file.data) == len(body.encode())


def test_quantities_can_be_corrected_with_a_reason(client, session, world):
    qm = _api(client, world.token(session, "qm"))
    out = qm("POST", "/api/v1/instruments/EQ-1", {
        "reason": "add the density range", "quantities": [
            {"quantity": "mass", "unit": "g"}, {"quantity": "density", "unit": "kg/m**3"}]},
        200).json
    assert [q["quantity"] for q in out["quantities"]] == ["mass", "density"]
    qm("POST", "/api/v1/instruments/EQ-1", {"reason": "", "name": "x"}, 422)


def test_an_intermediate_check_read_through_the_driver(client, session, world, attached_balance):
    qm = _api(client, world.token(session, "qm"))
    tech = _api(client, world.token(session, "tech"))
    tech("POST", "/api/v1/instruments/EQ-1/checks/capture",
         {"nominal": "100.00", "limit": "0.05", "count": 2}, 403)
    qm("POST", "/api/v1/instruments/EQ-1/checks/capture",
       {"nominal": "100.00", "limit": "0.05", "count": 0}, 422)
    check = qm("POST", "/api/v1/instruments/EQ-1/checks/capture",
               {"nominal": "100.00", "limit": "0.05", "count": 3}, 201).json
    assert check["readings"] == ["100.02", "100.02", "100.02"] and check["unit"] == "g"
    assert check["source"] == "instrument" and check["result"] == "pass"
    from lims.calibration.models import IntermediateCheck

    stored = session.get(IntermediateCheck, check["id"])
    assert stored.raw.split(b"\n") == [b"S S     100.02 g"] * 3
    fail = qm("POST", "/api/v1/instruments/EQ-1/checks/capture",
              {"nominal": "100.00", "limit": "0.01", "count": 1}, 201).json
    assert fail["result"] == "fail"
    assert qm("GET", "/api/v1/instruments/EQ-1").json["calibration_flag"] == "check failed"


def test_a_retired_instrument_is_neither_offered_nor_taken_as_a_check_standard(client, session,
                                                                             world):
    qm = _api(client, world.token(session, "qm"))
    admin = _api(client, world.token(session, "admin"))
    check = {"nominal": "100.0000", "unit": "g", "readings": ["100.0001", "100.0002"],
             "limit": "0.0005", "check_standard": "EQ-2"}
    assert qm("POST", "/api/v1/instruments/EQ-1/checks", check, 201).json["result"] == "pass"
    admin("POST", "/api/v1/instruments/EQ-2/retire", {"reason": "scrapped"}, 200)
    refused = qm("POST", "/api/v1/instruments/EQ-1/checks", check, 422).json["error"]
    assert refused["field"] == "check_standard" and "EQ-2 is retired" in refused["message"]
    found = qm("GET", "/instruments/search?q=EQ", None, 200).json["instruments"]
    assert {i["value"] for i in found} == {"EQ-1", "EQ-2"}  # a list's filter still finds it
    offered = qm("GET", "/instruments/search?q=EQ&active=1", None, 200).json["instruments"]
    assert [i["value"] for i in offered] == ["EQ-1"]
