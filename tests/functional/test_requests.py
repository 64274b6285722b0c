"""Requests with several samples (issue 11 §2) through the pages and the JSON API: one form
for the request and its samples, the request's page with bulk receipt, and the API."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from lims import create_app
from lims.audit.models import AuditEvent
from lims.db import utcnow
from lims.samples.models import Sample, TestRequest
from lims.samples.turnaround import local_date
from tests.support.world import TZ, csrf, login


def _today() -> dt.date:
    return local_date(utcnow(), TZ)


def _api(client, token):
    def call(method, path, body=None, status=None):
        resp = client.open(path, method=method, json=body,
                           headers={"Authorization": f"Bearer {token}"})
        if status is not None:
            assert resp.status_code == status, resp.get_data(as_text=True)
        return resp
    return call


def _form(world, token, rows=3, **cells):
    data: dict[str, Any] = {"csrf_token": token, "customer": "ACME Textiles",
                            "decision_rule": "simple", "inspection_type": "sampling",
                            "product_standard": "GB 18401-2010"}
    for i in range(rows):
        data.update({f"s-{i}-description": f"布样 {i + 1}", f"s-{i}-model": "160 cm",
                     f"s-{i}-method_ids": [str(world.method_id)],
                     f"s-{i}-due_date": (_today() + dt.timedelta(days=7)).isoformat(),
                     f"s-{i}-priority": "normal", f"s-{i}-acquisition": "sampled",
                     f"s-{i}-assignee_id": ""})
    data.update(cells)
    return data


def _count(session, model):
    session.rollback()  # a fresh snapshot: the app committed in its own session
    return session.scalar(select(func.count()).select_from(model))


def test_one_form_registers_a_request_with_three_samples(client, session, world):
    login(client, "tech")
    page = client.get("/requests/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('class="sample-row"') == 3 + 1  # three rows and the script's template
    assert 'id="sample-row-template"' in html and 's-2-due_date' in html
    token = csrf(client, "/requests/new")
    tech2 = world.user(session, "tech2")
    resp = client.post("/requests", data=_form(world, token, **{
        "s-1-assignee_id": str(tech2.id), "s-2-priority": "urgent",
        "s-3-description": "", "s-3-priority": "normal"}))  # an empty fourth row: ignored
    assert resp.status_code == 303, resp.get_data(as_text=True)
    number = resp.headers["Location"].rsplit("/", 1)[1]
    session.rollback()
    req = session.scalar(select(TestRequest).where(TestRequest.number == number))
    assert [s.description for s in req.samples] == ["布样 1", "布样 2", "布样 3"]
    assert [s.priority for s in req.samples] == ["normal", "normal", "urgent"]
    assert req.samples[1].assignee_id == tech2.id and req.samples[0].acquisition == "sampled"
    assert req.inspection_type == "sampling"

    detail = client.get(f"/requests/{number.lower()}")  # any case
    assert detail.status_code == 200
    text = detail.get_data(as_text=True)
    assert f"Request {number} registered with 3 samples." in text
    for s in req.samples:
        assert f'value="{s.number}"' in text  # a tick box each to receive it
    assert "7 days left" in text and tech2.full_name in text and "urgent" in text


def test_an_error_in_row_three_names_it_and_keeps_everything_typed(client, session, world):
    login(client, "tech")
    token = csrf(client, "/requests/new")
    before = (_count(session, TestRequest), _count(session, Sample))
    past = (_today() - dt.timedelta(days=2)).isoformat()
    resp = client.post("/requests", data=_form(world, token, **{
        "s-0-trademark": "西湖牌", "s-2-due_date": past, "request_description": "加急",
        "customer_data": "生产日期由委托方提供"}))
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Sample 3, Due date:" in html and "before the registration date" in html
    assert 'name="s-2-due_date" value="' + past + '"' in html
    assert 'aria-describedby="s-2-due_date-error"' in html
    assert 'value="西湖牌"' in html and 'value="加急"' in html and "生产日期由委托方提供" in html
    assert html.count(f'value="{world.method_id}" checked') == 3
    assert (_count(session, TestRequest), _count(session, Sample)) == before

    # A request-level error is shown beside its field, too.
    resp = client.post("/requests", data=_form(world, token, decision_rule="guarded", r="11"))
    assert resp.status_code == 422
    assert "Guard band factor r:" in resp.get_data(as_text=True)
    # Nothing typed at all: the request needs a sample.
    resp = client.post("/requests", data={"csrf_token": token,
                                          "customer_id": str(world.customer_id),
                                          "s-0-description": "", "s-0-priority": "normal"})
    assert resp.status_code == 422 and "at least one sample" in resp.get_data(as_text=True)
    assert (_count(session, TestRequest), _count(session, Sample)) == before


def test_the_customer_is_typed_not_picked_from_every_customer(client, session, world):
    """A lab has thousands of customers: the form offers recent ones and searches, by name or
    pinyin initials, as the sample list's register form does (issue 11 §2)."""
    login(client, "tech")
    html = client.get("/requests/new").get_data(as_text=True)
    assert 'name="customer_id"' not in html and "<select name=\"customer" not in html
    assert 'name="customer" required' in html and 'list="customer-options"' in html
    assert 'data-lookup="/customers/search"' in html
    assert '<option value="ACME Textiles">' in html  # the recent customers
    token = csrf(client, "/requests/new")
    before = _count(session, TestRequest)
    resp = client.post("/requests", data=_form(world, token, customer="Nobody Ltd",
                                               request_description="加急"))
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Customer:" in html and "no customer is named" in html
    assert 'id="customer-error"' in html and 'aria-describedby="customer-error"' in html
    assert 'value="Nobody Ltd"' in html and 'value="加急"' in html
    assert html.count(f'value="{world.method_id}" checked') == 3
    resp = client.post("/requests", data=_form(world, token, customer=""))
    assert resp.status_code == 422 and "customer is required" in resp.get_data(as_text=True)
    assert _count(session, TestRequest) == before
    # An older client still sends the id; a bad id is an error on the same field.
    old = {k: v for k, v in _form(world, token).items() if k != "customer"}
    resp = client.post("/requests", data={**old, "customer_id": "999999"})
    assert resp.status_code == 422 and 'id="customer-error"' in resp.get_data(as_text=True)
    resp = client.post("/requests", data={**old, "customer_id": str(world.customer_id)})
    assert resp.status_code == 303
    session.rollback()
    number = resp.headers["Location"].rsplit("/", 1)[1]
    assert session.scalar(select(TestRequest.customer_id).where(
        TestRequest.number == number)) == world.customer_id


def test_add_a_row_without_the_script_keeps_what_was_typed(client, session, world):
    login(client, "tech")
    token = csrf(client, "/requests/new")
    assert client.get("/requests/new?rows=5").get_data(as_text=True).count(
        'class="sample-row"') == 5 + 1
    assert client.get("/requests/new?rows=9999").get_data(as_text=True).count(
        'class="sample-row"') == 50 + 1
    resp = client.post("/requests/new?rows=4", data=_form(world, token, **{
        "s-1-trademark": "好布牌"}))
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert html.count('class="sample-row"') == 4 + 1
    assert 'value="好布牌"' in html and 'name="s-3-description" value=""' in html
    assert _count(session, TestRequest) == 0  # nothing saved


def test_only_a_technician_opens_the_form(client, session, world):
    login(client, "reviewer")
    assert client.get("/requests/new").status_code == 403
    token = csrf(client)
    assert client.post("/requests", data=_form(world, token)).status_code in (303, 403)
    assert _count(session, TestRequest) == 0


def test_bulk_receipt_on_the_request_page(client, session, world):
    login(client, "tech")
    token = csrf(client, "/requests/new")
    number = client.post("/requests", data=_form(world, token)).headers["Location"].rsplit(
        "/", 1)[1]
    session.rollback()
    a, b, c = session.scalars(select(Sample.number).join(TestRequest)
                              .where(TestRequest.number == number).order_by(Sample.id)).all()
    resp = client.post(f"/requests/{number}/receive", data={
        "csrf_token": token, "samples": [a, c], "condition": "完好",
        f"condition-{c}": "封条破损 seal broken", f"condition-{b}": "ignored: not ticked"},
        headers={"Referer": f"http://localhost/requests/{number}"})
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert f"Received 2 samples: {a}, {c}." in page
    assert "封条破损 seal broken" in page and "完好" in page
    session.rollback()
    statuses = dict(session.execute(select(Sample.number, Sample.condition_on_receipt)
                                    .where(Sample.number.in_([a, b, c]))).all())
    assert statuses == {a: "完好", b: None, c: "封条破损 seal broken"}
    assert f'value="{b}"' in page and f'value="{a}"' not in page  # only b is left to tick
    # Receiving a again is refused, and b with it is not received either.
    resp = client.post(f"/requests/{number}/receive",
                       data={"csrf_token": token, "samples": [a, b], "condition": "ok"},
                       headers={"Referer": f"http://localhost/requests/{number}"})
    assert resp.status_code == 303
    assert a in client.get(resp.headers["Location"]).get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(Sample.status).where(Sample.number == b)) == "registered"
    assert client.get("/requests/NOPE-1").status_code == 404


@pytest.fixture
def zh_app(settings: Any) -> Any:
    app = create_app(dataclasses.replace(settings, default_locale="zh_CN"))
    yield app
    app.extensions["lims"].engine.dispose()


def test_the_pages_in_chinese(zh_app, session, world):
    client = zh_app.test_client()
    login(client, "tech")
    html = client.get("/requests/new").get_data(as_text=True)
    assert "<h1>新建委托单</h1>" in html and "样品名称" in html and "要求完成日期" in html
    token = csrf(client, "/requests/new")
    resp = client.post("/requests", data=_form(world, token, **{"s-1-priority": "urgent",
                                                                 "s-2-description": ""}))
    assert resp.status_code == 422
    assert "样品 3，样品名称：" in resp.get_data(as_text=True)
    resp = client.post("/requests", data=_form(world, token, **{"s-1-priority": "urgent"}))
    number = resp.headers["Location"].rsplit("/", 1)[1]
    page = client.get(f"/requests/{number}").get_data(as_text=True)
    assert f"委托单 {number}" in page and "紧急" in page and "还剩 7 天" in page
    assert "抽样" in page


# --- API ----------------------------------------------------------------------------------


def _api_samples(world, n=3):
    return [{"description": f"sample {i}", "method_ids": [world.method_id],
             "due_date": (_today() + dt.timedelta(days=i)).isoformat(),
             "priority": "urgent" if i == 0 else "normal", "trademark": "TM",
             "model": "M1", "batch": "B", "quantity": "1 件", "manufacturer": "厂",
             "acquisition": "delivered"} for i in range(n)]


def test_api_creates_a_request_with_its_samples_and_receives_them(client, session, world):
    tech = _api(client, world.token(session, "tech"))
    body = {"customer_id": world.customer_id, "product_standard": "GB 18401-2010",
            "samples": _api_samples(world)}
    body["samples"][1]["assignee"] = "tech2"
    created = tech("POST", "/api/v1/requests", body, 201).json
    assert created["product_standard"] == "GB 18401-2010"
    numbers = [s["number"] for s in created["samples"]]
    assert len(numbers) == 3 and len(set(numbers)) == 3
    first, second, third = created["samples"]
    assert (first["priority"], first["due_date"], first["turnaround"]["days_left"]) == (
        "urgent", _today().isoformat(), 0)
    assert second["assignee"] == world.user(session, "tech2").full_name
    assert second["assignee_id"] == world.user(session, "tech2").id
    assert third["turnaround"] == {"due_date": (_today() + dt.timedelta(days=2)).isoformat(),
                                   "days_left": 2, "overdue": False, "reported_on": None,
                                   "turnaround_days": None, "on_time": None}
    number = created["number"]
    shown = tech("GET", f"/api/v1/requests/{number.lower()}", status=200).json
    assert shown["customer"]["id"] == world.customer_id and shown["samples"] == created["samples"]

    received = tech("POST", f"/api/v1/requests/{number}/receive",
                    {"samples": numbers[:2], "condition": "完好 intact",
                     "conditions": {numbers[1]: "damp"}}, 200).json
    assert [s["status"] for s in received["samples"]] == ["received", "received", "registered"]
    assert [s["condition_on_receipt"] for s in received["samples"]] == [
        "完好 intact", "damp", None]
    again = tech("POST", f"/api/v1/requests/{number}/receive",
                 {"samples": numbers, "condition": "ok"}, 409).json
    assert numbers[0] in again["error"]["message"]
    assert tech("GET", f"/api/v1/requests/{number}", status=200).json["samples"][2][
        "status"] == "registered"
    session.rollback()
    events = session.scalar(select(func.count()).select_from(AuditEvent)
                            .where(AuditEvent.action == "sample.receive"))
    assert events == 2
    tech("GET", "/api/v1/requests/NOPE", status=404)
    tech("POST", f"/api/v1/requests/{number}/receive", {"samples": ["YP-X"],
                                                        "condition": "ok"}, 422)

    sample = tech("GET", f"/api/v1/samples/{numbers[0]}", status=200).json
    assert (sample["due_date"], sample["priority"], sample["acquisition"]) == (
        _today().isoformat(), "urgent", "delivered")
    assert sample["turnaround"]["days_left"] == 0 and sample["reported_at"] is None


def test_api_request_errors_name_the_sample_and_write_nothing(client, session, world):
    tech = _api(client, world.token(session, "tech"))
    samples = _api_samples(world)
    samples[2]["due_date"] = "2020-01-01"
    error = tech("POST", "/api/v1/requests", {"customer_id": world.customer_id,
                                              "samples": samples}, 422).json["error"]
    assert error["field"] == "samples[2].due_date"
    samples[2]["due_date"] = "soon"
    error = tech("POST", "/api/v1/requests", {"customer_id": world.customer_id,
                                              "samples": samples}, 422).json["error"]
    assert error["field"] == "samples[2].due_date"
    samples[2]["due_date"] = None
    samples[1]["assignee_id"] = world.user(session, "reviewer").id
    error = tech("POST", "/api/v1/requests", {"customer_id": world.customer_id,
                                              "samples": samples}, 422).json["error"]
    assert error["field"] == "samples[1].assignee_id"
    error = tech("POST", "/api/v1/requests", {"customer_id": world.customer_id,
                                              "samples": []}, 422).json["error"]
    assert error["field"] == "samples"
    assert _count(session, TestRequest) == 0 and _count(session, Sample) == 0


def test_api_one_sample_at_a_time_still_works_and_takes_a_plan(client, session, world):
    tech = _api(client, world.token(session, "tech"))
    req = tech("POST", "/api/v1/requests", {"customer_id": world.customer_id}, 201).json
    assert req["samples"] == []
    plain = tech("POST", "/api/v1/samples", {"request_id": req["id"], "description": "x",
                                             "method_ids": [world.method_id]}, 201).json
    assert (plain["priority"], plain["due_date"], plain["assignee_id"]) == ("normal", None, None)
    assert plain["turnaround"]["days_left"] is None
    planned = tech("POST", "/api/v1/samples", {
        "request_id": req["id"], "description": "y", "method_ids": [world.method_id],
        "due_date": (_today() + dt.timedelta(days=1)).isoformat(), "priority": "urgent",
        "assignee_id": world.user(session, "tech").id, "acquisition": "sampled"}, 201).json
    assert (planned["priority"], planned["acquisition"], planned["turnaround"]["days_left"]) \
        == ("urgent", "sampled", 1)
    tech("POST", "/api/v1/samples", {"request_id": req["id"], "description": "z",
                                     "method_ids": [world.method_id],
                                     "priority": "whenever"}, 422)
    shown = tech("GET", f"/api/v1/requests/{req['number']}", status=200).json
    assert [s["number"] for s in shown["samples"]] == [plain["number"], planned["number"]]
