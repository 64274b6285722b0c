"""Nonconforming-work cases through the JSON API and the pages: open from an impact analysis,
evaluate, letters, close; the public verification page shows a recalled report under review."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lims.reports.pki import ca_certificate_pem
from lims.reports.sign import validate_pdf
from tests.integration.test_nonconforming import build_chain, events_after, last_seq
from tests.support.pdf import pdftotext
from tests.support.world import csrf, login


def _api(client, token):
    def call(method, path, json=None, status=None):
        resp = client.open(path, method=method, json=json,
                           headers={"Authorization": f"Bearer {token}"})
        if status is not None:
            assert resp.status_code == status, resp.get_data(as_text=True)
        return resp
    return call


@pytest.fixture
def chain(session, world, settings):
    return build_chain(session, world, settings)


def test_case_through_the_api(app, client, session, world, chain, settings, tmp_path):
    qm = _api(client, world.token(session, "qm"))
    tech = _api(client, world.token(session, "tech"))
    start = (chain.today - dt.timedelta(days=30)).isoformat()
    body = {"asset": "MS-1", "from": start, "description": "MS-1 out of tolerance"}

    seq = last_seq(session)
    denied = tech("POST", "/api/v1/nonconformities", body, 403).json
    assert denied["error"]["code"] == "forbidden"
    assert events_after(session, seq) == []

    case = qm("POST", "/api/v1/nonconformities", body, 201).json
    number = case["number"]
    assert number == f"NC{chain.today.year}-0001"
    assert (case["status"], case["asset"], case["from"], case["to"]) == (
        "open", "MS-1", start, chain.today.isoformat())
    assert [(r["report"], r["customer"], r["evaluation"]) for r in case["reports"]] == sorted([
        (chain.acme, "ACME Textiles", "pending"), (chain.beta, "Beta Metals", "pending")])
    assert [c["name"] for c in case["customers"]] == ["ACME Textiles", "Beta Metals"]
    assert [e.action for e in events_after(session, seq)] == ["nonconformity.open"]
    assert tech("GET", f"/api/v1/nonconformities/{number}", None, 200).json == case
    assert [c["number"] for c in tech("GET", "/api/v1/nonconformities", None, 200)
            .json["cases"]] == [number]
    assert qm("GET", "/api/v1/nonconformities/NC1999-0001", None, 404)

    # Bad input: 422 naming the field, nothing written.
    seq = last_seq(session)
    evaluations = f"/api/v1/nonconformities/{number}/evaluations"
    for bad, field in (({"evaluation": "discard"}, "evaluation"), ({"reason": ""}, "reason"),
                       ({"reason": None}, "reason"), ({"report": "BG1999-000009"}, "report")):
        resp = qm("POST", evaluations, {"report": chain.acme, "evaluation": "recall",
                                        "reason": "why", **bad}, 422).json
        assert resp["error"]["field"] == field, resp
    for bad, field in (({"from": "last week"}, "from"), ({"description": " "}, "description"),
                       ({"asset": "NOPE-1"}, "asset"), ({"to": "2000-01-01"}, "to")):
        resp = qm("POST", "/api/v1/nonconformities", {**body, **bad}, 422).json
        assert resp["error"]["field"] == field, resp
    assert events_after(session, seq) == []
    assert {r["evaluation"] for r in qm("GET", f"/api/v1/nonconformities/{number}").json[
        "reports"]} == {"pending"}
    assert len(qm("GET", "/api/v1/nonconformities").json["cases"]) == 1

    # The technician may not evaluate; a pending report blocks closing.
    tech("POST", evaluations, {"report": chain.acme, "evaluation": "recall", "reason": "x"}, 403)
    assert qm("POST", f"/api/v1/nonconformities/{number}/close", None, 409).json[
        "error"]["code"] == "conflict"
    assert events_after(session, seq) == []

    # Recall ACME's report: the public page shows it under review, and nothing confidential.
    after = qm("POST", evaluations, {"report": chain.acme, "evaluation": "recall",
                                     "reason": "weighed with MS-1 out of tolerance"}, 200).json
    row = next(r for r in after["reports"] if r["report"] == chain.acme)
    assert (row["evaluation"], row["evaluated_by"]) == ("recall", "Qm Tester")
    public = app.test_client()
    html = public.get(f"/verify/{chain.acme}").get_data(as_text=True)
    assert f"Under review, recalled (nonconforming work {number})" in html
    assert "ACME" not in html and "MS-1 out of tolerance" not in html
    assert "Under review" not in public.get(f"/verify/{chain.beta}").get_data(as_text=True)

    # One signed letter per customer, each with only its own reports.
    ca = ca_certificate_pem(Path(settings.signing_pkcs12), settings.signing_passphrase)
    letters = {c["name"]: c["letter"] for c in after["customers"]}
    tech("GET", letters["ACME Textiles"], None, 403)
    for name, mine, other in (("ACME Textiles", chain.acme, chain.beta),
                              ("Beta Metals", chain.beta, chain.acme)):
        resp = qm("GET", letters[name], None, 200)
        assert resp.mimetype == "application/pdf"
        check = validate_pdf(resp.data, ca)
        assert check is not None and check.ok, check
        path = tmp_path / f"{mine}.pdf"
        path.write_bytes(resp.data)
        text = pdftotext(path)
        assert "Notification of nonconforming work" in text and name in text and mine in text
        assert other not in text
    qm("GET", f"/api/v1/nonconformities/{number}/letters/999999.pdf", None, 404)

    seq = last_seq(session)
    qm("POST", evaluations, {"report": chain.beta, "evaluation": "no impact",
                             "reason": "within the margin"}, 200)
    closed = qm("POST", f"/api/v1/nonconformities/{number}/close", None, 200).json
    assert closed["status"] == "closed" and closed["closed_at"]
    qm("POST", evaluations, {"report": chain.acme, "evaluation": "re-test", "reason": "x"}, 409)
    qm("POST", f"/api/v1/nonconformities/{number}/close", None, 409)
    assert [e.action for e in events_after(session, seq)] == ["nonconformity.evaluate",
                                                              "nonconformity.close"]
    assert "recalled" in public.get(f"/verify/{chain.acme}").get_data(as_text=True)


def test_case_through_the_pages(client, session, world, chain):
    login(client, "qm")
    token = csrf(client, "/nonconformities")
    start = (chain.today - dt.timedelta(days=30)).isoformat()
    resp = client.post("/nonconformities", data={
        "asset": "MS-1", "from": start, "to": "", "description": "MS-1 out of tolerance",
        "csrf_token": token})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    number = f"NC{chain.today.year}-0001"
    assert resp.headers["Location"].endswith(f"/nonconformities/{number}")
    page = client.get(f"/nonconformities/{number}").get_data(as_text=True)
    assert chain.acme in page and chain.beta in page and "evaluate-form" in page
    assert f"/nonconformities/{number}/letters/" in page
    assert number in client.get("/nonconformities").get_data(as_text=True)

    for report, evaluation in ((chain.acme, "re-test"), (chain.beta, "no impact")):
        resp = client.post(f"/nonconformities/{number}/evaluations", data={
            "report": report, "evaluation": evaluation, "reason": "checked",
            "csrf_token": token})
        assert resp.status_code == 303
    page = client.get(f"/nonconformities/{number}").get_data(as_text=True)
    assert "<strong>re-test</strong>" in page and "close-form" in page
    resp = client.post(f"/nonconformities/{number}/close", data={"csrf_token": token})
    assert resp.status_code == 303
    assert ">closed</span>" in client.get(f"/nonconformities/{number}").get_data(as_text=True)

    # A technician sees the case, but no forms, and a form post is refused.
    other = client.application.test_client()
    login(other, "tech")
    page = other.get(f"/nonconformities/{number}").get_data(as_text=True)
    assert chain.acme in page and "evaluate-form" not in page and "/letters/" not in page
    resp = other.post("/nonconformities", data={
        "asset": "MS-1", "from": start, "description": "x",
        "csrf_token": csrf(other, "/nonconformities")}, headers={"Accept": "application/json"})
    assert resp.status_code == 403
