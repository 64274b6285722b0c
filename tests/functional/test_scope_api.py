"""The accredited scope through the API, the page, the CLI and user administration."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.world import csrf, login

METHOD = "GB/T 4669-2008"


def _auth(session, world, name):
    return {"Authorization": f"Bearer {world.token(session, name)}"}


def test_scope_round_trip_check_and_refusals(client, session, world):
    qm = _auth(session, world, "qm")
    assert client.post("/api/v1/scope/items", headers=qm, json={
        "method_code": METHOD, "schemes": ["CMA"]}).json["error"]["field"] == "schemes"
    for body in ({"scheme": "CMA", "certificate_number": "231234567890",
                  "valid_from": "2024-01-01", "valid_until": "2099-12-31"},
                 {"scheme": "CNAS", "certificate_number": "CNAS L1234",
                  "valid_from": "2024-01-01", "valid_until": "2099-12-31"}):
        resp = client.post("/api/v1/scope/accreditations", headers=qm, json=body)
        assert resp.status_code == 200 and resp.json == body
    bad = client.post("/api/v1/scope/items", headers=qm, json={
        "method_code": METHOD, "parameter": "Specimen mass", "schemes": ["CMA", "CNAS"],
        "minimum": "0.1", "maximum": "220", "unit": "mm", "kind": "mass"})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "unit"
    assert client.post("/api/v1/scope/items", headers=qm, json={
        "method_code": METHOD, "schemes": ["ISO"]}).status_code == 422
    tech = client.post("/api/v1/scope/items", headers=_auth(session, world, "tech"),
                       json={"method_code": METHOD, "schemes": ["CMA"]})
    assert tech.status_code == 403

    made = client.post("/api/v1/scope/items", headers=qm, json={
        "method_code": METHOD, "parameter": "Specimen mass", "schemes": ["CMA", "CNAS"],
        "minimum": "0.1", "maximum": "220", "unit": "g", "object": "纺织品"})
    assert made.status_code == 201
    item = made.json
    assert (item["kind"], item["range"], item["schemes"]) == ("mass", "(0.1 … 220) g",
                                                             ["CMA", "CNAS"])
    listed = client.get("/api/v1/scope", headers=qm).json
    assert [i["id"] for i in listed["items"]] == [item["id"]]
    assert [a["scheme"] for a in listed["accreditations"]] == ["CMA", "CNAS"]

    check = client.post("/api/v1/scope/check", headers=qm, json={"on": "2026-11-26", "items": [
        {"method": METHOD, "parameter": "Specimen mass", "value": "220000", "unit": "mg"}]}).json
    assert check["marks"] == ["CMA", "CNAS"] and check["footnote"] == ""
    assert check["numbers"] == {"CMA": "231234567890", "CNAS": "CNAS L1234"}
    check = client.post("/api/v1/scope/check", headers=qm, json={"items": [
        {"method": METHOD, "parameter": "Specimen mass", "value": "220.1", "unit": "g"},
        {"method": METHOD, "parameter": "Length", "value": "12", "unit": "mm"}]}).json
    assert check["marks"] == [] and "not within the accredited scope" in check["footnote"]
    assert [i["in_scope"] for i in check["items"]] == [False, False]
    assert "outside the range" in check["items"][0]["reason"]
    assert check["items"][0]["scope_items"] == [item["id"]]


def test_the_page_lists_and_adds_and_an_admin_grants_items(client, session, world):
    login(client, "qm")
    token = csrf(client, "/scope/")
    assert client.post("/scope/accreditations", data={
        "scheme": "CMA", "certificate_number": "231234567890", "valid_from": "2024-01-01",
        "valid_until": "2099-12-31", "csrf_token": token}).status_code == 303
    assert client.post("/scope/items", data={
        "method_code": METHOD, "parameter": "Length", "minimum": "1", "maximum": "100",
        "unit": "mm", "schemes": "CMA", "category": "test", "csrf_token": token}
    ).status_code == 303
    page = client.get("/scope/").get_data(as_text=True)
    assert "231234567890" in page and "(1 … 100) mm" in page and 'id="scope-form"' in page
    client.post("/logout", data={"csrf_token": csrf(client)})

    login(client, "tech")  # reads the scope, may not change it
    page = client.get("/scope/").get_data(as_text=True)
    assert "(1 … 100) mm" in page and 'id="scope-form"' not in page
    client.post("/logout", data={"csrf_token": csrf(client)})

    login(client, "admin")
    page = client.get("/users/signatory").get_data(as_text=True)
    assert 'name="scope_items" value="1"' in page
    resp = client.post("/users/signatory/roles", data={
        "roles": "signatory", "scopes": "textiles", "scope_items": "1",
        "csrf_token": csrf(client, "/users/signatory")})
    assert resp.status_code == 303
    session.expire_all()
    assert world.user(session, "signatory").scope_items == {1}
    assert world.user(session, "signatory").scopes == {"textiles"}


def test_cli_records_lists_and_grants(database_url, tmp_path, font_dir):
    env = {**os.environ, "LIMS_INSTANCE_PATH": str(tmp_path / "inst"),
           "LIMS_DATABASE_URL": database_url, "LIMS_FONT_DIR": str(font_dir),
           "LIMS_CLI_USER": "qm"}

    def lims(*args, ok=True):
        done = subprocess.run([sys.executable, "-m", "lims.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert (done.returncode == 0) is ok, done.stderr
        return done

    lims("user", "create", "qm", "--role", "quality_manager", "--password", "long enough pw 1")
    lims("scope", "add", "--method", METHOD, "--scheme", "CMA", ok=False)  # no certificate yet
    lims("scope", "accreditation", "cma", "231234567890", "--from", "2024-01-01",
         "--until", "2029-12-31")
    bad = lims("scope", "add", "--method", METHOD, "--parameter", "Length", "--scheme", "CMA",
               "--min", "1", "--max", "100", "--unit", "g", "--kind", "length", ok=False)
    assert "unit" in bad.stderr and "'g'" in bad.stderr
    out = lims("scope", "add", "--method", METHOD, "--parameter", "Length", "--scheme", "CMA",
               "--min", "1", "--max", "100", "--unit", "mm").stdout
    assert out.startswith("scope item #1:")
    listed = lims("scope", "list").stdout
    assert "CMA   231234567890" in listed and "(1 … 100) mm" in listed
    env["LIMS_CLI_USER"] = "admin"
    lims("user", "create", "admin", "--role", "admin", "--password", "long enough pw 2")
    lims("user", "create", "sig", "--role", "signatory", "--scope-item", "1",
         "--password", "long enough pw 3")
    lims("user", "create", "sig2", "--role", "signatory", "--scope-item", "7",
         "--password", "long enough pw 4", ok=False)
    assert '"scope_items": [\n      1\n    ]' in lims("user", "list", "--json").stdout


def test_approval_outside_the_granted_items_is_403_naming_the_item(client, session, world):
    from lims.accreditation.services import add_scope_item, set_accreditation
    from lims.db import unit_of_work
    from lims.samples import services as samples
    from tests.support.world import PASSWORD

    with unit_of_work(session):
        qm = world.user(session, "qm")
        set_accreditation(session, actor=qm, scheme="CMA", certificate_number="231234567890",
                          valid_from="2024-01-01", valid_until="2099-12-31")
        item = add_scope_item(session, actor=qm, method_code=METHOD, parameter="Length",
                              schemes=["CMA"]).id
    number = world.new_sample(session)
    tech = world.user(session, "tech")
    with unit_of_work(session):
        for ch, value, unit in ((world.mass_id, "100.00", "g"), (world.length_id, "12.0", "mm")):
            samples.record_result(session, actor=tech, number=number, characteristic_id=ch,
                                  value=value, unit=unit, timezone="Asia/Shanghai")
        samples.complete_testing(session, actor=tech, number=number)
        samples.review_sample(session, actor=world.user(session, "reviewer"), number=number)
    resp = client.post(f"/api/v1/samples/{number}/approve", json={"password": PASSWORD},
                       headers=_auth(session, world, "signatory"))
    assert resp.status_code == 403, resp.json
    error = resp.json["error"]
    assert error["code"] == "outside_scope"
    assert f"{METHOD} Length (scope item #{item})" in error["message"]
