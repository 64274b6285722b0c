"""Sending work back over HTTP (issue 11 §2): the return API and its comments in the sample
JSON, the sample page's workflow block (only the steps this user may take), the preview and
the confirmation of issue."""

from __future__ import annotations

import io
from typing import Any

from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import func, select

from lims.db import unit_of_work
from lims.reports.models import Report, ReportClaim
from lims.samples import services as samples
from lims.samples.models import Sample
from tests.support.pdf import pdftotext
from tests.support.world import PASSWORD, TZ, csrf, login


def _api(client: Any, token: str) -> Any:
    def call(method: str, path: str, json: Any = None, status: int | None = None) -> Any:
        resp = client.open(path, method=method, json=json,
                           headers={"Authorization": f"Bearer {token}"})
        if status is not None:
            assert resp.status_code == status, resp.get_data(as_text=True)
        return resp
    return call


def _complete(session: Any, world: Any) -> str:
    number = world.new_sample(session)
    tech = world.user(session, "tech")
    with unit_of_work(session):
        for ch, value, unit in ((world.mass_id, "100.00", "g"), (world.length_id, "12.0", "mm")):
            samples.record_result(session, actor=tech, number=number, characteristic_id=ch,
                                  value=value, unit=unit, timezone=TZ)
        samples.complete_testing(session, actor=tech, number=number)
    return number


def _status(session: Any, number: str) -> str:
    session.rollback()
    return session.scalar(select(Sample.status).where(Sample.number == number))


def _mass_result(sample_json: dict[str, Any], world: Any) -> dict[str, Any]:
    return next(r for t in sample_json["tests"] for r in t["results"]
                if r["characteristic_id"] == world.mass_id and r["is_current"])


def test_the_return_api_and_the_comments_in_the_sample_json(client, session, world):
    number = _complete(session, world)
    tech = _api(client, world.token(session, "tech"))
    reviewer = _api(client, world.token(session, "reviewer"))
    signatory = _api(client, world.token(session, "signatory"))
    shown = tech("GET", f"/api/v1/samples/{number}", status=200).json
    assert shown["review_comments"] == []
    mass = _mass_result(shown, world)
    url = f"/api/v1/samples/{number}/return"

    # The technician who measured may not send their own work back; a wrong result id, or
    # nothing to say, is refused naming the field; nothing is written.
    assert tech("POST", url, {"reason": "mine"}).status_code == 403
    bad = reviewer("POST", url, {"comments": [{"result_id": 999999, "comment": "x"}]}, 422)
    assert bad.json["error"]["field"] == "comments[0].result_id"
    assert reviewer("POST", url, {}, 422).json["error"]["field"] == "comments"
    assert _status(session, number) == "results complete"

    body = reviewer("POST", url, {"comments": [{"result_id": mass["id"],
                                                "comment": "复核天平读数 check the balance"}],
                                  "reason": "见各项意见"}, 200).json
    assert body["status"] == "in testing"
    (on_result, on_sample) = body["review_comments"]
    assert on_result["result_id"] == mass["id"] and on_result["result_version"] == 1
    assert on_result["characteristic_id"] == world.mass_id and on_result["stage"] == "review"
    assert on_result["author"] == "Reviewer Tester"
    assert on_sample["result_id"] is None and on_sample["comment"] == "见各项意见"
    # Returned once: the same request again is a state conflict.
    assert reviewer("POST", url, {"reason": "again"}).status_code == 409

    # Corrected, completed, reviewed; the signatory sends it back to review with a reason.
    tech("POST", f"/api/v1/results/{mass['id']}/corrections",
         {"value": "100.01", "unit": "g", "reason": "re-read"}, 201)
    tech("POST", f"/api/v1/samples/{number}/complete", None, 200)
    reviewer("POST", f"/api/v1/samples/{number}/review", None, 200)
    assert signatory("POST", url, {"to": "review", "comments": [
        {"result_id": mass["id"], "comment": "x"}], "reason": "r"}).status_code == 422
    assert signatory("POST", url, {"to": "review"}).status_code == 422
    back = signatory("POST", url, {"to": "review", "reason": "结论需复核"}, 200).json
    assert back["status"] == "results complete" and back["reviewed_by_id"] is None
    assert back["review_comments"][-1]["stage"] == "approval"
    # Comments on the earlier version stay on record beside the corrected result.
    assert tech("GET", f"/api/v1/samples/{number}", status=200).json["review_comments"][0][
        "result_version"] == 1


def test_the_reviewer_returns_from_the_page_and_the_technician_sees_the_comment(
        client, session, world):
    number = _complete(session, world)
    login(client, "tech")
    page = client.get(f"/samples/{number}").get_data(as_text=True)
    assert 'id="return-form"' not in page and 'id="review-form"' not in page

    login(client, "reviewer")
    detail = f"/samples/{number}"
    page = client.get(detail).get_data(as_text=True)
    assert 'id="return-form"' in page and 'id="review-form"' in page
    mass = samples.get_sample(session, number).tests[0].current_results()[world.mass_id]
    assert f'name="comment-{mass.id}"' in page
    resp = client.post(f"/samples/{number}/return", data={
        "csrf_token": csrf(client, detail), f"comment-{mass.id}": "质量偏高，请复称",
        "reason": ""})
    assert resp.status_code == 303 and _status(session, number) == "in testing"

    login(client, "tech")
    page = client.get(detail).get_data(as_text=True)
    row = page.split(f'data-characteristic="{world.mass_id}"', 1)[1].split("</tr>", 1)[0]
    assert "质量偏高，请复称" in row and "Returned by the reviewer" in row and "version 1" in row


def test_buttons_follow_scope_and_separation_of_duties_and_the_server_agrees(
        client, session, world):
    number = _complete(session, world)
    with unit_of_work(session):
        samples.review_sample(session, actor=world.user(session, "reviewer"), number=number)
    detail = f"/samples/{number}"

    # Outside the signatory's scope (electrical, not textiles): no approve or return button,
    # and the POST is refused all the same.
    login(client, "signatory2")
    page = client.get(detail).get_data(as_text=True)
    assert 'id="approve-form"' not in page and 'id="return-review-form"' not in page
    token = csrf(client, detail)
    assert client.post(f"/samples/{number}/approve",
                       data={"csrf_token": token, "password": PASSWORD}).status_code == 403
    assert client.post(f"/samples/{number}/return-to-review",
                       data={"csrf_token": token, "reason": "no"}).status_code == 403
    # The reviewer who reviewed it has no signatory buttons either.
    login(client, "reviewer")
    page = client.get(detail).get_data(as_text=True)
    assert 'id="approve-form"' not in page and 'id="return-form"' not in page
    assert _status(session, number) == "reviewed"

    login(client, "signatory")
    page = client.get(detail).get_data(as_text=True)
    assert 'id="approve-form"' in page and 'id="return-review-form"' in page
    client.post(f"/samples/{number}/approve",
                data={"csrf_token": csrf(client, detail), "password": PASSWORD})
    assert _status(session, number) == "approved"
    page = client.get(detail).get_data(as_text=True)
    assert 'id="issue-form"' in page and 'id="approve-form"' not in page
    login(client, "signatory2")
    assert 'id="issue-form"' not in client.get(detail).get_data(as_text=True)
    assert client.get(f"/samples/{number}/report/preview.pdf").status_code == 403
    assert client.get(f"/samples/{number}/report/confirm").status_code == 403


def test_preview_then_confirm_issues_the_same_document(client, session, world, tmp_path):
    number = world.approved_sample(session)
    login(client, "signatory")
    confirm = client.get(f"/samples/{number}/report/confirm")
    assert confirm.status_code == 200
    page = confirm.get_data(as_text=True)
    assert f'src="/samples/{number}/report/preview.pdf"' in page and 'id="issue-form"' in page

    resp = client.get(f"/samples/{number}/report/preview.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.headers["Content-Disposition"].startswith("inline")
    assert resp.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert resp.headers["Cache-Control"] == "no-store"
    pdf = resp.get_data()
    assert PdfFileReader(io.BytesIO(pdf)).embedded_signatures == []  # unsigned
    path = tmp_path / "preview.pdf"
    path.write_bytes(pdf)
    text = pdftotext(path)
    assert "预览 PREVIEW" in text and "not valid" in text
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Report)) == 0
    assert session.scalar(select(func.count()).select_from(ReportClaim)) == 0

    # The API gives the same preview to a token.
    api = _api(client, world.token(session, "signatory"))
    assert api("GET", f"/api/v1/samples/{number}/report/preview", status=200).data.startswith(
        b"%PDF")
    assert _api(client, world.token(session, "tech"))(
        "GET", f"/api/v1/samples/{number}/report/preview").status_code == 403

    resp = client.post(f"/samples/{number}/report", data={
        "csrf_token": csrf(client, f"/samples/{number}/report/confirm"), "password": PASSWORD})
    assert resp.status_code == 303 and _status(session, number) == "reported"
    issued = session.scalar(select(Report.pdf))
    assert PdfFileReader(io.BytesIO(issued)).embedded_signatures
    path.write_bytes(issued)
    assert "PREVIEW" not in pdftotext(path)
    # Once reported there is nothing to preview.
    assert client.get(f"/samples/{number}/report/preview.pdf").status_code == 409
