"""The whole slice through the JSON API: bench to signed, verifiable report."""

from __future__ import annotations

from pathlib import Path

from lims.reports.pki import ca_certificate_pem
from lims.reports.sign import validate_pdf
from tests.support.pdf import nss_db, pdffonts, pdfsig, pdftotext
from tests.support.world import PASSWORD


def _api(client, token):
    def call(method, path, json=None, status=None):
        resp = client.open(path, method=method, json=json,
                           headers={"Authorization": f"Bearer {token}"})
        if status is not None:
            assert resp.status_code == status, resp.get_data(as_text=True)
        return resp
    return call


def test_bench_to_signed_report(client, session, world, attached_balance, settings, tmp_path):
    tech = _api(client, world.token(session, "tech"))
    reviewer = _api(client, world.token(session, "reviewer"))
    signatory = _api(client, world.token(session, "signatory"))

    req = tech("POST", "/api/v1/requests", {"customer_id": world.customer_id}, 201).json
    sample = tech("POST", "/api/v1/samples", {"request_id": req["id"], "description": "grey fabric",
                                              "method_ids": [world.method_id]}, 201).json
    number = sample["number"]
    assert sample["status"] == "registered"
    tech("POST", f"/api/v1/samples/{number}/receive", {"condition": "intact, sealed"}, 200)

    # Capture from the simulated balance over a real pseudo-terminal.
    captured = tech("POST", f"/api/v1/samples/{number}/capture",
                    {"characteristic_id": world.mass_id, "instrument_id": world.balance_id},
                    201).json
    assert (captured["value"], captured["unit"], captured["source"]) == ("100.02", "g",
                                                                         "instrument")
    assert captured["raw"] == "S S     100.02 g"
    assert captured["conformity"] == "pass"
    assert captured["instrument_due_on"] is not None
    assert "SI" not in attached_balance.model.received  # a stable weight (S) was asked for
    assert "I4" in attached_balance.model.received      # identity checked first

    tech("POST", f"/api/v1/samples/{number}/results",
         {"characteristic_id": world.length_id, "value": "12.5", "unit": "mm"}, 201)
    tech("POST", f"/api/v1/samples/{number}/complete", None, 200)
    reviewer("POST", f"/api/v1/samples/{number}/review", None, 200)
    approved = signatory("POST", f"/api/v1/samples/{number}/approve",
                         {"password": PASSWORD}, 200).json
    assert approved["status"] == "approved"
    report = signatory("POST", f"/api/v1/samples/{number}/report",
                       {"password": PASSWORD}, 201).json
    assert tech("GET", f"/api/v1/samples/{number}").json["status"] == "reported"

    pdf = tech("GET", f"/api/v1/reports/{report['number']}/pdf", None, 200).data
    import hashlib
    assert hashlib.sha256(pdf).hexdigest() == report["sha256"]
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)

    # pyHanko: trusted, intact, covering the whole file.
    ca = ca_certificate_pem(Path(settings.signing_pkcs12), settings.signing_passphrase)
    check = validate_pdf(pdf, ca)
    assert check is not None and check.ok, check

    # poppler's pdfsig, independently, against the exported CA.
    nss = nss_db(tmp_path, ca)
    out = pdfsig(path, nss)
    assert "Signature is Valid" in out and "Certificate is Trusted" in out, out
    assert "Total document signed" in out and "ETSI.CAdES.detached" in out

    # Every font embedded; the ISO/IEC 17025 7.8.2.1 content is there.
    assert " no " not in pdffonts(path).split("\n", 2)[2]
    text = pdftotext(path)
    for needle in ("检验检测报告", report["number"], "ACME Textiles", "GB/T 4669-2008",
                   "100.02 g", "12.5 mm", "合格 Pass", "Page 1 of ", "第 1 页 共 ", "检验结论 Conclusion",
                   "End of report", "relate only to the items tested",
                   "Tech Tester", "Reviewer Tester", "Signatory Tester", "EQ-1",
                   "intact, sealed", f"https://lims.example.test/verify/{report['number']}"):
        assert needle in text, needle

    # One changed byte is detected by both validators.
    tampered = bytearray(pdf)
    idx = pdf.index(b"/Producer") if b"/Producer" in pdf else len(pdf) // 3
    tampered[idx + 2] ^= 0x01
    bad = tmp_path / "tampered.pdf"
    bad.write_bytes(bytes(tampered))
    check = validate_pdf(bytes(tampered), ca)
    assert check is None or not check.intact
    out = pdfsig(bad, nss)
    assert "Signature is Valid" not in out, out

    # The public verification page: status, date and hash, nothing confidential.
    public = client.application.test_client()
    page = public.get(f"/verify/{report['number']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert report["sha256"] in html and "issued" in html
    assert "ACME" not in html and "100.02" not in html
    assert public.get("/verify/NOPE-1").status_code == 404


def test_capture_refuses_a_different_instrument_on_the_port(client, session, world,
                                                           attached_balance):
    attached_balance.model.serial_number = "SOMEONE-ELSE"
    tech = _api(client, world.token(session, "tech"))
    number = world.new_sample(session)
    resp = tech("POST", f"/api/v1/samples/{number}/capture",
                {"characteristic_id": world.mass_id, "instrument_id": world.balance_id}, 409)
    assert "SOMEONE-ELSE" in resp.json["error"]["message"]
    assert tech("GET", f"/api/v1/samples/{number}").json["tests"][0]["results"] == []


def test_capture_reports_overload_and_unplugged_port_without_writing(client, session, world,
                                                                    attached_balance):
    tech = _api(client, world.token(session, "tech"))
    number = world.new_sample(session)
    attached_balance.model.overload = True
    resp = tech("POST", f"/api/v1/samples/{number}/capture",
                {"characteristic_id": world.mass_id, "instrument_id": world.balance_id}, 409)
    assert "overload" in resp.json["error"]["message"]
    attached_balance.unplug()
    resp = tech("POST", f"/api/v1/samples/{number}/capture",
                {"characteristic_id": world.mass_id, "instrument_id": world.balance_id}, 409)
    assert resp.json["error"]["code"] == "instrument_unavailable"
    assert tech("GET", f"/api/v1/samples/{number}").json["tests"][0]["results"] == []


def test_capture_with_overdue_instrument_is_refused(client, session, world):
    tech = _api(client, world.token(session, "tech"))
    number = world.new_sample(session)
    resp = tech("POST", f"/api/v1/samples/{number}/capture",
                {"characteristic_id": world.mass_id, "instrument_id": world.overdue_id}, 409)
    assert resp.json["error"]["code"] == "calibration_expired"


def test_issued_report_cannot_be_rewritten_or_deleted(client, session, world, settings):
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    from lims.db import unit_of_work
    from lims.reports.services import issue_report

    number = world.approved_sample(session)
    u = world.user
    with unit_of_work(session):
        report_number = issue_report(session, actor=u(session, "signatory"),
                                     sample_number=number, settings=settings,
                                     password=PASSWORD).number
    for sql in ("UPDATE reports SET sha256 = 'x'", "UPDATE reports SET pdf = NULL",
                "DELETE FROM reports"):
        with pytest.raises(DatabaseError, match="append-only"):
            session.execute(text(sql))  # the trigger fires on the statement itself
        session.rollback()
    # Its status may still move on (superseded / withdrawn come with a later issue).
    session.execute(text("UPDATE reports SET status = 'withdrawn'"))
    session.commit()
    assert "withdrawn" in client.get(f"/verify/{report_number}").get_data(as_text=True)


def test_capture_length_from_a_simulated_caliper(client, session, world, tmp_path):
    """Another driver into a result: a Digimatic caliper line for the length characteristic."""
    from drivers.simulators.mitutoyo import MitutoyoModel
    from drivers.simulators.pty import PtySimulator

    qm = _api(client, world.token(session, "qm"))
    tech = _api(client, world.token(session, "tech"))
    with PtySimulator(MitutoyoModel(value="12.345"), tmp_path / "caliper") as sim:
        caliper = qm("POST", "/api/v1/instruments", {
            "asset_number": "EQ-CAL-1", "name": "Caliper", "driver": "mitutoyo-digimatic",
            "port": sim.port, "calibration_due_on": "2099-01-01"}, 201).json
        number = world.new_sample(session)
        result = tech("POST", f"/api/v1/samples/{number}/capture",
                      {"characteristic_id": world.length_id, "instrument_id": caliper["id"]},
                      201).json
    assert (result["value"], result["unit"], result["raw"]) == ("12.345", "mm", "01A+0012.345")
    assert result["conformity"] == "pass"


def test_capture_picks_the_quantity_the_characteristic_needs(client, session, world, tmp_path):
    """A hygrometer sends RH and T on one line: a temperature result takes T."""
    from drivers.simulators.pty import PtySimulator
    from drivers.simulators.vaisala import VaisalaHMT330Model

    qm = _api(client, world.token(session, "qm"))
    tech = _api(client, world.token(session, "tech"))
    method = qm("POST", "/api/v1/methods", {
        "code": "GB/T 6529-2008", "title": "Conditioning atmosphere", "field": "textiles",
        "characteristics": [{"name": "Temperature", "kind": "temperature", "unit": "℃",
                             "lower_limit": "18", "upper_limit": "22"},
                            {"name": "Humidity", "unit": "%RH", "lower_limit": "61",
                             "upper_limit": "69"}]}, 201).json
    req = tech("POST", "/api/v1/requests", {"customer_id": world.customer_id}, 201).json
    number = tech("POST", "/api/v1/samples", {"request_id": req["id"], "description": "room",
                                              "method_ids": [method["id"]]}, 201).json["number"]
    tech("POST", f"/api/v1/samples/{number}/receive", {"condition": "n/a"}, 200)
    with PtySimulator(VaisalaHMT330Model(serial_number="G7"), tmp_path / "hyg") as sim:
        hyg = qm("POST", "/api/v1/instruments", {
            "asset_number": "EQ-HYG-9", "name": "Hygrometer", "driver": "vaisala-hmt330",
            "serial_number": "G7", "port": sim.port, "calibration_due_on": "2099-01-01"},
            201).json
        temperature, humidity = (c["id"] for c in method["characteristics"])
        t = tech("POST", f"/api/v1/samples/{number}/capture",
                 {"characteristic_id": temperature, "instrument_id": hyg["id"]}, 201).json
        rh = tech("POST", f"/api/v1/samples/{number}/capture",
                  {"characteristic_id": humidity, "instrument_id": hyg["id"]}, 201).json
    assert (t["value"], t["unit"], t["conformity"]) == ("21.0", "degC", "pass")
    assert (rh["value"], rh["unit"], rh["conformity"]) == ("43.0", "%RH", "fail")
    assert rh["raw"] == "RH= 43.0 %RH T= 21.0 'C"
