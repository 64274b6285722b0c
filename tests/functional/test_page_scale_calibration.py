"""Calibration pages independent of the history's size (issue 14): an instrument's page shows a
page of its calibrations and a page of its checks, each paged by its own argument; the
calibration jobs page shows a page of jobs and suggests a bounded few procedures, the others
typed. With 300 more of each, the pages are the same and ask the database as many times."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import insert, select

from lims.calibration.models import (
    CalibrationJob,
    CalibrationProcedure,
    CalibrationRecord,
    IntermediateCheck,
)
from lims.calibration.procedures import SUGGESTED
from lims.calibration.views import CHECKS_PER_PAGE, RECORDS_PER_PAGE
from lims.db import unit_of_work, utcnow
from lims.samples.models import Sample
from tests.functional.test_calibration_work_api import PROCEDURE, _api
from tests.functional.test_page_scale import _measure, _tokens
from tests.functional.test_page_scale_lists import _job
from tests.support.world import csrf, login

MORE = 300
PAGER = re.compile(r'<nav class="pager".*?</nav>', re.S)


def _same(page: str) -> str:
    """The page without its form tokens and its pagers' counts (the totals differ)."""
    return PAGER.sub("", _tokens(page))


def _history(session: Any, world: Any, start: int, stop: int) -> None:
    """Older calibrations OLD-nnnn and checks check-nnnn of EQ-1, nnnn days and hours back:
    the higher the number, the older (Core inserts: the services would take minutes)."""
    with unit_of_work(session):
        record = session.scalars(select(CalibrationRecord).where(
            CalibrationRecord.instrument_id == world.balance_id,
            CalibrationRecord.certificate_number.not_like("OLD-%"))).one()
        copied = {c.key: getattr(record, c.key) for c in CalibrationRecord.__mapper__.column_attrs
                  if c.key not in ("id", "file")}
        session.execute(insert(CalibrationRecord), [
            {**copied, "certificate_number": f"OLD-{n:04d}",
             "calibrated_on": record.calibrated_on - dt.timedelta(days=n),
             "valid_until": record.calibrated_on - dt.timedelta(days=n)}
            for n in range(start, stop)])
        now, tech = utcnow(), world.user(session, "tech").id
        session.execute(insert(IntermediateCheck), [
            {"instrument_id": world.balance_id, "checked_at": now - dt.timedelta(hours=n),
             "nominal": "100", "unit": "g", "readings": ["100.01", "100.03"], "mean": "100.020",
             "deviation": "0.020", "limit": "0.1", "result": "pass", "notes": f"check-{n:04d}",
             "source": "typed", "performed_by_id": tech} for n in range(start, stop)])


def test_the_instrument_page_does_not_grow_with_its_history(app, client, session, world,
                                                            run_log):
    login(client, "tech")
    url = "/instruments/EQ-1"
    few_n = CHECKS_PER_PAGE + 10  # both lists fill their first page
    _history(session, world, 1, few_n + 1)
    few = _measure(app, client, url)
    _history(session, world, few_n + 1, few_n + MORE + 1)
    many = _measure(app, client, url)
    run_log(f"instrument page {len(few[0].encode())} -> {len(many[0].encode())} bytes, "
            f"{few[1]} -> {many[1]} statements at {few_n} -> {few_n + MORE} calibrations "
            "and checks")
    assert many[1] == few[1], (few[1], many[1])
    assert _same(many[0]) == _same(few[0])  # the newest rows, the same charts
    page = many[0]
    # The first page keeps what the page showed: the certificate in force, its due date.
    record = session.scalars(select(CalibrationRecord).where(
        CalibrationRecord.instrument_id == world.balance_id,
        CalibrationRecord.certificate_number.not_like("OLD-%"))).one()
    assert f"<strong>{record.certificate_number}</strong>" in page.split('id="in-force"')[1]
    assert str(record.valid_until) in page.split('id="in-force"')[1]
    history = page.split('id="calibrations"')[1].split("</table>")[0]
    assert history.count('id="record-') == RECORDS_PER_PAGE
    assert "OLD-0001" in history and f"OLD-{RECORDS_PER_PAGE - 1:04d}" in history
    assert f"OLD-{RECORDS_PER_PAGE:04d}" not in history
    checks = page.split('id="checks"')[1].split("</table>")[0]
    assert checks.count('class="check ') == CHECKS_PER_PAGE
    assert checks.index("check-0001") < checks.index("check-0002")  # newest first
    assert f"check-{CHECKS_PER_PAGE + 1:04d}" not in checks
    total = few_n + MORE
    assert f"1–{RECORDS_PER_PAGE} of {total + 1}" in page
    assert f"1–{CHECKS_PER_PAGE} of {total}" in page


def test_the_instruments_lists_page_independently(client, session, world):
    _history(session, world, 1, 121)
    login(client, "tech")
    page = client.get("/instruments/EQ-1", query_string={"cal_page": 2, "check_page": 3}
                      ).get_data(as_text=True)
    history = page.split('id="calibrations"')[1].split("</table>")[0]
    first = RECORDS_PER_PAGE  # page 1: the record in force and OLD-0001..OLD-0019
    assert f"OLD-{first:04d}" in history and f"OLD-{2 * RECORDS_PER_PAGE - 1:04d}" in history
    assert "OLD-0001<" not in history and f"OLD-{first - 1:04d}" not in history
    checks = page.split('id="checks"')[1].split("</table>")[0]
    assert f"check-{2 * CHECKS_PER_PAGE + 1:04d}" in checks and "check-0120" in checks
    assert f"check-{2 * CHECKS_PER_PAGE:04d}" not in checks
    # Each pager moves its own list and keeps the other's page.
    cal_pager = page.split('id="pager-cal_page"')[1].split("</nav>")[0]
    assert "cal_page=3" in cal_pager and "check_page=3" in cal_pager
    check_pager = page.split('id="pager-check_page"')[1].split("</nav>")[0]
    assert "check_page=2" in check_pager and "cal_page=2" in check_pager
    # The in-force certificate is shown whatever the page of the history.
    assert "No calibration is in force today" not in page


@pytest.mark.parametrize(("field", "bad"), [("cal_page", "0"), ("cal_limit", "501"),
                                            ("check_page", "x"), ("check_limit", "0"),
                                            ("cal_sort", "nope")])
def test_bad_paging_of_the_instruments_lists_is_named(client, world, field, bad):
    login(client, "tech")
    resp = client.get("/instruments/EQ-1", query_string={field: bad})
    assert resp.status_code == 422, (field, resp.status_code)
    assert field in resp.get_data(as_text=True)


def _jobs(session: Any, template: str, numbers: range, first_id: int) -> None:
    """Jobs CJ-nnnnn copied from the job ``template`` by Core, with ids from ``first_id`` (the
    page lists the highest ids first)."""
    with unit_of_work(session):
        sample = session.scalars(select(Sample).where(Sample.number == template)).one()
        job = session.scalars(select(CalibrationJob).where(
            CalibrationJob.sample_id == sample.id)).one()
        sample_cols = {c.key: getattr(sample, c.key) for c in Sample.__mapper__.column_attrs
                       if c.key not in ("id", "number")}
        session.execute(insert(Sample), [{**sample_cols, "number": f"CJ-{n:05d}"}
                                         for n in numbers])
        ids = dict(session.execute(select(Sample.number, Sample.id).where(
            Sample.number.in_([f"CJ-{n:05d}" for n in numbers]))).all())
        job_cols = {c.key: getattr(job, c.key) for c in CalibrationJob.__mapper__.column_attrs
                    if c.key not in ("id", "sample_id")}
        session.execute(insert(CalibrationJob), [
            {**job_cols, "id": first_id + i, "sample_id": ids[f"CJ-{n:05d}"],
             "item_name": f"Balance {n}"} for i, n in enumerate(numbers)])


def _procedures(session: Any, proc_id: int, prefix: str, n: int) -> None:
    with unit_of_work(session):
        proc = session.get(CalibrationProcedure, proc_id)
        cols = {c.key: getattr(proc, c.key) for c in CalibrationProcedure.__mapper__.column_attrs
                if c.key != "id"}
        session.execute(insert(CalibrationProcedure), [
            {**cols, "code": f"{prefix}-{i:04d}"} for i in range(n)])


def test_the_jobs_page_does_not_grow_with_jobs_and_procedures(app, client, session, world,
                                                              run_log):
    number, proc = _job(client, session, world)
    login(client, "tech")
    url = "/calibration-jobs"
    # The few: a full page of the newest jobs, more procedures than are suggested.
    _jobs(session, number, range(1, 61), 100_000)
    _procedures(session, proc["id"], "JJF A", SUGGESTED + 5)
    few = _measure(app, client, url)
    _jobs(session, number, range(1000, 1000 + MORE), 10_000)  # older: lower ids
    _procedures(session, proc["id"], "JJF Z", MORE)
    many = _measure(app, client, url)
    run_log(f"jobs page {len(few[0].encode())} -> {len(many[0].encode())} bytes, "
            f"{few[1]} -> {many[1]} statements at 61 -> {61 + MORE} jobs, "
            f"{SUGGESTED + 6} -> {SUGGESTED + 6 + MORE} procedures")
    assert many[1] == few[1], (few[1], many[1])
    assert _same(many[0]) == _same(few[0])
    page = many[0]
    assert "<select name=\"procedure_id\"" not in page and "JJF Z" not in page
    suggested = page.split('<datalist id="procedure-options">')[1].split("</datalist>")[0]
    assert suggested.count("<option") == SUGGESTED
    # The latest jobs' procedure first, and filled in.
    assert suggested.index(f'"JJG 1036-2022 #{proc["id"]}"') < suggested.index("JJF A-0000")
    assert f'value="JJG 1036-2022 #{proc["id"]}"' in page.split('name="procedure"')[1][:400]
    jobs = page.split('id="jobs"')[1].split("</table>")[0]
    assert "CJ-00060" in jobs and "CJ-00011" in jobs and "CJ-00010" not in jobs
    assert f"1–50 of {61 + MORE}" in page
    older = client.get(url, query_string={"page": 2}).get_data(as_text=True)
    jobs = older.split('id="jobs"')[1].split("</table>")[0]
    assert "CJ-00010" in jobs and "CJ-00001" in jobs and "CJ-01299" in jobs
    assert "CJ-00011" not in jobs
    for field, bad in (("page", "0"), ("limit", "501"), ("limit", "x"), ("sort", "nope")):
        resp = client.get(url, query_string={field: bad})
        assert resp.status_code == 422, (field, resp.status_code)
        assert field in resp.get_data(as_text=True)


def test_the_procedure_is_typed_with_suggestions_and_checked(client, session, world):
    number, proc = _job(client, session, world)
    _procedures(session, proc["id"], "JJF Z", MORE)
    qm = _api(client, world.token(session, "qm"))
    twin = qm("POST", "/api/v1/procedures", {**PROCEDURE, "quantity": "重复性 Repeatability"},
              201).json
    login(client, "tech")
    found = client.get("/procedures/search", query_string={"q": "jjf z-01"}).json["procedures"]
    assert [p["code"] for p in found] == [f"JJF Z-{i:04d}" for i in range(100, 120)]
    assert found[0]["value"] == f"JJF Z-0100 #{found[0]['id']}"
    assert len(client.get("/procedures/search").json["procedures"]) == SUGGESTED
    token = csrf(client, "/calibration-jobs")
    form = {"csrf_token": token, "customer_id": str(world.customer_id), "item_name": "天平",
            "resolution": "0.0001", "condition": "完好", "decision_rule": "simple"}
    for typed, error in (("", "procedure is required"),
                         ("JJF NONE", "no procedure has the code"),
                         ("JJG 1036-2022", "several procedures have the code"),
                         ("JJF Z-0001 #999999", "no procedure has the code")):
        resp = client.post("/calibration-jobs", data={**form, "procedure": typed})
        text = resp.get_data(as_text=True)
        assert resp.status_code == 422 and error in text, (typed, text[:2000])
        assert f'value="{typed}"' in text.split('name="procedure"')[1][:400]  # kept
    for field, typed in (("procedure", "JJF\x00Z-0007"), ("procedure", "JJF\x1bZ"),
                         ("customer", "\x00ACME")):  # PostgreSQL refuses NUL in text
        resp = client.post("/calibration-jobs", data={
            **form, "procedure": "jjf z-0007", "customer_id": "", "customer": "ACME Textiles",
            field: typed})
        assert resp.status_code == 422, (field, resp.status_code)
        assert "control character" in resp.get_data(as_text=True)
    resp = client.post("/calibration-jobs", data={**form, "procedure": "jjf z-0007"})
    assert resp.status_code == 303
    made = resp.headers["Location"].rsplit("/", 1)[1]
    resp = client.post("/calibration-jobs", data={
        **form, "procedure": f"JJG 1036-2022 #{twin['id']}"})
    assert resp.status_code == 303
    tech = _api(client, world.token(session, "tech"))
    shown = tech("GET", f"/api/v1/calibration-jobs/{made}", None, 200).json
    assert shown["procedure"]["code"] == "JJF Z-0007", shown["procedure"]
    twin_job = resp.headers["Location"].rsplit("/", 1)[1]
    shown = tech("GET", f"/api/v1/calibration-jobs/{twin_job}", None, 200).json
    assert shown["procedure"]["id"] == twin["id"]
