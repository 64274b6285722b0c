"""The calibration-work API and page: procedures, a customer's balance received, readings typed,
corrected, computed, completed; roles and refusals."""

from __future__ import annotations

from tests.integration.test_calibration_work import BUDGET, standard
from tests.support.world import csrf, login


def _api(client, token):
    def call(method, path, json=None, status=None):
        resp = client.open(path, method=method, json=json,
                           headers={"Authorization": f"Bearer {token}"})
        if status is not None:
            assert resp.status_code == status, resp.get_data(as_text=True)
        return resp
    return call


PROCEDURE = {"code": "JJG 1036-2022", "title": "电子天平 Electronic balances", "clause": "7.3",
             "kind": "verification", "field": "textiles", "quantity": "示值误差 Error",
             "unit": "g", "verification_months": 12, "constants": {"cmc": "0.00013"},
             "points": [{"nominal": "100", "mpe": "0.0005"}, {"nominal": "200", "mpe": "0.0005"}],
             "standards": [{"asset_number": "STD-W1"}], "budget": BUDGET}


def test_a_verification_through_the_api(client, session, world):
    standard(session, world, "STD-W1")
    qm = _api(client, world.token(session, "qm"))
    tech = _api(client, world.token(session, "tech"))
    tech("POST", "/api/v1/procedures", PROCEDURE, 403)
    proc = qm("POST", "/api/v1/procedures", PROCEDURE, 201).json
    assert [p["nominal"] for p in proc["points"]] == ["100", "200"]
    assert proc["standards"] == [{"asset_number": "STD-W1", "slot": "standard"}]
    qm("POST", "/api/v1/procedures", PROCEDURE, 409)
    bad = qm("POST", "/api/v1/procedures", {**PROCEDURE, "code": "X", "budget": {
        **BUDGET, "model": "I - m_ref + dI + nope"}}, 422).json
    assert bad["error"]["field"] == "model" or "nope" in bad["error"]["message"]
    assert [p["code"] for p in tech("GET", "/api/v1/procedures", None, 200).json[
        "procedures"]] == ["JJG 1036-2022"]

    job = tech("POST", "/api/v1/calibration-jobs", {
        "procedure_id": proc["id"], "customer_id": world.customer_id,
        "condition": "完好 intact", "resolution": "0.0001",
        "item": {"name": "电子天平", "manufacturer": "Mettler", "model": "XPR205",
                 "serial_number": "C1"},
        "conditions": [{"name": "温度 Temperature", "value": "20.1", "unit": "℃"}]}, 201).json
    number = job["sample"]
    assert job["status"] == "received" and job["kind"] == "verification"
    assert job["conformity_requested"] is True and len(job["missing"]) == 2
    p100, p200 = (p["id"] for p in job["points"])

    wrong = tech("POST", f"/api/v1/calibration-jobs/{number}/readings",
                 {"point_id": p100, "values": ["100.0003"], "unit": "mm"}, 422).json
    assert wrong["error"]["field"] == "unit" and "'mm'" in wrong["error"]["message"]
    tech("POST", f"/api/v1/calibration-jobs/{number}/readings",
         {"point_id": p100, "values": ["1x"]}, 422)
    got = tech("POST", f"/api/v1/calibration-jobs/{number}/readings",
               {"point_id": p100, "values": ["100.0009"]}, 201).json
    assert got["status"] == "in testing"
    first = got["readings"][0]["id"]
    tech("POST", f"/api/v1/calibration-jobs/{number}/readings",
         {"point_id": p100, "values": ["100.0001"]}, 409)
    fixed = tech("POST", f"/api/v1/calibration-readings/{first}/corrections",
                 {"values": ["100.0003"], "reason": "typing error"}, 201).json
    assert fixed["version"] == 2 and fixed["replaces_id"] == first
    tech("POST", f"/api/v1/samples/{number}/complete", None, 409)
    done = tech("POST", f"/api/v1/calibration-jobs/{number}/readings",
                {"point_id": p200, "values": ["200.0002", "200.0003"]}, 201).json
    results = {r["nominal"]: r for r in done["results"]}
    assert (results["100"]["error"], results["100"]["expanded_uncertainty"],
            results["100"]["conformity"]) == ("0.00030", "0.00013", "pass")
    assert done["conforms"] is True and done["missing"] == []
    shown = tech("GET", f"/api/v1/calibration-jobs/{number}", None, 200).json
    assert len(shown["readings"]) == 3 and shown["calibrated_on"] is not None
    assert tech("POST", f"/api/v1/samples/{number}/complete", None, 200).json[
        "status"] == "results complete"
    tech("POST", f"/api/v1/calibration-jobs/{number}/readings",
         {"point_id": p200, "values": ["1"], "state": "as found"}, 409)
    tech("GET", "/api/v1/calibration-jobs/NOPE", None, 404)
    tech("GET", f"/api/v1/calibration-jobs/{number}x", None, 404)


def test_the_job_page_lists_points_and_takes_readings(client, session, world):
    standard(session, world, "STD-W1")
    qm = _api(client, world.token(session, "qm"))
    proc = qm("POST", "/api/v1/procedures", PROCEDURE, 201).json
    tech = _api(client, world.token(session, "tech"))
    new = {"procedure_id": proc["id"], "customer_id": world.customer_id, "condition": "ok",
           "item": {"name": "Balance"}}
    assert tech("POST", "/api/v1/calibration-jobs", new, 422).json["error"][
        "field"] == "resolution"  # the budget needs it
    number = tech("POST", "/api/v1/calibration-jobs", {**new, "resolution": "0.0001"},
                  201).json["sample"]
    login(client, "tech")
    page = client.get(f"/calibration-jobs/{number}").get_data(as_text=True)
    assert "<h2>Points</h2>" in page and "not measured" in page
    token = csrf(client, f"/calibration-jobs/{number}")
    resp = client.post(f"/calibration-jobs/{number}/readings", data={
        "csrf_token": token, "point_id": str(proc["points"][0]["id"]), "state": "as left",
        "values": "100.0003 100.0003", "unit": "g"})
    assert resp.status_code == 303
    page = client.get(f"/calibration-jobs/{number}").get_data(as_text=True)
    assert "100.0003" in page and "conformity\">pass</span>" in page
    sample_page = client.get(f"/samples/{number}").get_data(as_text=True)
    assert f'href="/calibration-jobs/{number}"' in sample_page
    refused = client.post(f"/calibration-jobs/{number}/readings", data={
        "point_id": str(proc["points"][1]["id"]), "values": "200"})
    assert refused.status_code == 400  # no CSRF token


def test_an_instrument_is_received_through_the_form(client, session, world):
    standard(session, world, "STD-W1")
    qm = _api(client, world.token(session, "qm"))
    proc = qm("POST", "/api/v1/procedures", PROCEDURE, 201).json
    login(client, "tech")
    page = client.get("/calibration-jobs").get_data(as_text=True)
    assert "<legend>Receive an instrument</legend>" in page and "JJG 1036-2022" in page
    token = csrf(client, "/calibration-jobs")
    form = {"csrf_token": token, "customer_id": str(world.customer_id),
            "procedure_id": str(proc["id"]), "item_name": "电子天平", "model": "XPR205",
            "serial_number": "C9", "resolution": "0.0001", "condition": "完好 intact",
            "decision_rule": "simple", "place": "本实验室 Laboratory", "temperature": "20.2",
            "humidity": "50"}
    resp = client.post("/calibration-jobs", data={**form, "resolution": "x"})
    assert resp.status_code == 422 and "resolution" in resp.get_data(as_text=True)
    resp = client.post("/calibration-jobs", data=form)
    assert resp.status_code == 303
    number = resp.headers["Location"].rsplit("/", 1)[1]
    tech = _api(client, world.token(session, "tech"))
    shown = tech("GET", f"/api/v1/calibration-jobs/{number}", None, 200).json
    assert shown["status"] == "received" and shown["item"]["serial_number"] == "C9"
    assert shown["conditions"] == [
        {"name": "温度 Temperature", "value": "20.2", "unit": "℃"},
        {"name": "相对湿度 Relative humidity", "value": "50", "unit": "%RH"}]
    assert number in client.get("/calibration-jobs").get_data(as_text=True)


def test_the_items_readings_are_captured_from_the_page(client, session, world,
                                                       attached_balance):
    standard(session, world, "STD-W1")
    qm = _api(client, world.token(session, "qm"))
    proc = qm("POST", "/api/v1/procedures", PROCEDURE, 201).json
    tech = _api(client, world.token(session, "tech"))
    number = tech("POST", "/api/v1/calibration-jobs", {
        "procedure_id": proc["id"], "customer_id": world.customer_id, "condition": "ok",
        "resolution": "0.01", "item": {"name": "Balance", "serial_number": "B021002593"}},
        201).json["sample"]
    login(client, "tech")
    token = csrf(client, f"/calibration-jobs/{number}")
    resp = client.post(f"/calibration-jobs/{number}/capture", data={
        "csrf_token": token, "point_id": str(proc["points"][0]["id"]), "state": "as left",
        "target": "item", "instrument_id": str(world.balance_id), "count": "2"})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    shown = tech("GET", f"/api/v1/calibration-jobs/{number}", None, 200).json
    (reading,) = shown["readings"]
    assert reading["source"] == "instrument" and reading["values"] == ["100.02", "100.02"]
    assert "100.02" in reading["raw"] and reading["instrument_id"] == world.balance_id
    assert shown["results"][0]["indicated"] == "100.02"
