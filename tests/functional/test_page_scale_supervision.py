"""The supervision pages independent of the registers' size (issue 14): the plans page (with
its sampling inspectors), the notices, the backups due and the working-day calendar are paged
like their APIs, so with 300 rows each is as big, and asks the database as many times, as
with a page's worth; page 2 shows the next rows; the qualify form names its user by a typed,
type-ahead field instead of a list of every user."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import insert, select

from lims.auth.models import User
from lims.db import unit_of_work
from lims.reports.models import Report
from lims.supervision.models import (
    BackupSample,
    ResultNotice,
    SamplingInspector,
    SamplingRecord,
    SamplingTask,
    SpotCheckPlan,
    WorkingDayOverride,
)
from lims.web.listing import PER_PAGE
from tests.functional.test_page_scale import _measure
from tests.support.supervision import drawn_task
from tests.support.world import csrf, login

FEW, MANY = PER_PAGE + 10, 300  # more than a page already, so the first page is full
YEAR = 2027
DUE = dt.date(2020, 1, 1)  # backups kept until then: long due


def _seed(session: Any, world: Any, made: tuple[str, str], start: int, stop: int) -> None:
    """Rows start … stop - 1 of each list, by Core (the services would take minutes): plans,
    inspectors (with their users), calendar days, and backups due and notices of ``made``
    (a drawn task's number, a report's number)."""
    numbers = range(start, stop)
    with unit_of_work(session):
        qm = world.user(session, "qm")
        session.execute(insert(SpotCheckPlan), [
            {"number": f"PS{n:05d}", "year": 2026, "title": f"Plan {n}", "authority": "SAMR",
             "budget_samples": n, "created_by_id": qm.id} for n in numbers])
        session.execute(insert(User), [
            {"username": f"insp{n:05d}", "full_name": f"Inspector {n}", "password_hash": "x"}
            for n in numbers])
        users = dict(session.execute(select(User.username, User.id).where(
            User.username.like("insp%"))).all())
        session.execute(insert(SamplingInspector), [
            {"user_id": users[f"insp{n:05d}"], "qualification": f"CY-{n}",
             "valid_until": dt.date(2199, 1, 1)} for n in numbers])
        session.execute(insert(WorkingDayOverride), [
            {"day": dt.date(YEAR, 1, 1) + dt.timedelta(days=n), "working": n % 2 == 0,
             "note": f"day {n}"} for n in numbers])
    task = session.scalar(select(SamplingTask).where(SamplingTask.number == made[0]))
    report = session.scalar(select(Report).where(Report.number == made[1]))
    with unit_of_work(session):
        copied = {c.key: getattr(task, c.key) for c in SamplingTask.__mapper__.column_attrs
                  if c.key not in ("id", "number", "created_at")}
        session.execute(insert(SamplingTask), [
            {**copied, "number": f"RS{n:05d}"} for n in numbers])
        tasks = dict(session.execute(select(SamplingTask.number, SamplingTask.id).where(
            SamplingTask.number.like("RS%"))).all())
        session.execute(insert(SamplingRecord), [
            {"number": f"CS{n:05d}", "task_id": tasks[f"RS{n:05d}"], "site": "warehouse",
             "sampled_on": DUE, "product_name": "dress", "base_quantity": "200",
             "sample_quantity": "4", "test_seal": f"FT-{n}", "backup_seal": f"FB-{n}",
             "representative": "Wang", "created_by_id": qm.id} for n in numbers])
        records = dict(session.execute(select(SamplingRecord.number, SamplingRecord.id).where(
            SamplingRecord.number.like("CS%"))).all())
        session.execute(insert(BackupSample), [
            {"record_id": records[f"CS{n:05d}"], "seal_number": f"FB-{n:05d}",
             "location": "B-2", "retain_until": DUE + dt.timedelta(days=n)} for n in numbers])
        session.execute(insert(ResultNotice), [
            {"number": f"TS{n:05d}", "sample_id": report.sample_id, "report_id": report.id,
             "objection_rule": "product", "issued_by_id": qm.id, "sha256": "0" * 64,
             "size": 4, "content": "{}", "pdf": b"%PDF", "delivered_on": DUE,
             "objection_deadline": DUE + dt.timedelta(days=n)} for n in numbers])


PAGES = {  # the page, the numbers of its rows in order (n: the rows there are)
    "/supervision/plans": lambda n: [f"PS{i:05d}" for i in range(n, 0, -1)],  # newest first
    "/supervision/notices": lambda n: [f"TS{i:05d}" for i in range(n, 0, -1)],  # latest first
    "/supervision/backups": lambda n: [f"CS{i:05d}" for i in range(1, n + 1)],  # longest due
    f"/supervision/calendar?year={YEAR}": lambda n: [
        (dt.date(YEAR, 1, 1) + dt.timedelta(days=i)).isoformat() for i in range(1, n + 1)],
}
ROW = {"/supervision/plans": r"PS\d{5}", "/supervision/notices": r"TS\d{5}",
       "/supervision/backups": r"CS\d{5}", f"/supervision/calendar?year={YEAR}":
           rf"{YEAR}-\d\d-\d\d"}


def _shown(page: str, pattern: str) -> list[str]:
    found = re.findall(rf">({pattern})<", page)
    return list(dict.fromkeys(found))  # a row's number may be shown twice


def _steady(page: str) -> str:
    """The page without what differs between requests or with the list's total: the form
    token, the pager's counts."""
    page = re.sub(r'name="csrf_token" value="[^"]*"', "", page)
    return re.sub(r"\d+", "#", page)


@pytest.fixture
def lists(session: Any, world: Any, settings: Any) -> Any:
    made = drawn_task(session), world.reported_sample(session, settings)[1]
    return lambda start, stop: _seed(session, world, made, start, stop)


def test_the_supervision_pages_do_not_grow_with_their_lists(app, client, lists, run_log):
    login(client, "qm")
    lists(1, FEW + 1)
    few = {url: _measure(app, client, url) for url in PAGES}
    lists(FEW + 1, MANY + 1)
    many = {url: _measure(app, client, url) for url in PAGES}
    for url in PAGES:
        assert many[url][1] == few[url][1], (url, few[url][1], many[url][1])
        # The same page but for the rows' numbers and the pager's counts.
        grown = len(many[url][0].encode()) - len(few[url][0].encode())
        assert abs(grown) <= 200, (url, grown)
        assert len(_steady(many[url][0])) == len(_steady(few[url][0])), url
        assert _shown(many[url][0], ROW[url]) == PAGES[url](MANY)[:PER_PAGE], url
        assert _shown(few[url][0], ROW[url]) == PAGES[url](FEW)[:PER_PAGE], url
    plans = many["/supervision/plans"][0]
    assert len(re.findall(r">Inspector \d+ \(insp\d{5}\)<", plans)) == PER_PAGE
    assert "<select name=\"username\"" not in plans and "insp00300" not in plans.split(
        'id="qualify-inspector"')[1]
    run_log("; ".join(f"{url} {len(few[url][0].encode())} -> {len(many[url][0].encode())} "
                      f"bytes, {few[url][1]} -> {many[url][1]} statements" for url in PAGES))


def test_page_two_shows_the_next_rows(client, lists):
    login(client, "qm")
    lists(1, MANY + 1)
    for url, rows in PAGES.items():
        sep = "&" if "?" in url else "?"
        page = client.get(f"{url}{sep}page=2&limit=20").get_data(as_text=True)
        assert _shown(page, ROW[url]) == rows(MANY)[20:40], url
        # The plans' total counts the drawn task's plan too.
        assert f"21–40 of {MANY + (url == '/supervision/plans')}" in page, url
    page = client.get("/supervision/plans?inspectors_page=3&inspectors_limit=10"
                      ).get_data(as_text=True)
    assert re.findall(r"\(insp(\d{5})\)", page) == [f"{n:05d}" for n in range(21, 31)]
    assert _shown(page, ROW["/supervision/plans"]) == PAGES["/supervision/plans"](MANY)[:PER_PAGE]
    # The plans page's search box keeps what was searched, and finds by number.
    page = client.get("/supervision/plans?q=PS00012").get_data(as_text=True)
    assert _shown(page, ROW["/supervision/plans"]) == ["PS00012"]
    assert 'id="plan-search"' in page and 'name="q" value="PS00012"' in page


@pytest.mark.parametrize("query", ["page=0", "page=x", "limit=0", "limit=501",
                                   "inspectors_page=0", "inspectors_limit=x"])
def test_bad_paging_is_a_422_naming_the_field(client, world, query):
    login(client, "qm")
    field = query.split("=")[0]
    for url in ["/supervision/plans", *PAGES][: 1 if "inspectors" in field else None]:
        sep = "&" if "?" in url else "?"
        resp = client.get(f"{url}{sep}{query}")
        assert resp.status_code == 422, (url, query, resp.status_code)
        assert field in resp.get_data(as_text=True), (url, query)


def test_the_qualify_form_finds_users_by_type_ahead(client, lists, world):
    lists(1, MANY + 1)
    login(client, "qm")
    found = client.get("/supervision/inspectors/users", query_string={"q": "insp0012"}).json
    assert [u["value"] for u in found["users"]] == [f"insp{n:05d}" for n in range(120, 130)]
    assert found["users"][0]["label"] == "Inspector 120"
    assert len(client.get("/supervision/inspectors/users").json["users"]) <= 20
    # A user typed who is not one is refused beside the field, as typed.
    bad = client.post("/supervision/inspectors", data={
        "csrf_token": csrf(client, "/supervision/plans"), "username": "nobody9",
        "qualification": "CY-9", "valid_until": "2199-12-31", "active": "1"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'id="username-error"' in page
    assert "no active user nobody9" in page and 'value="nobody9"' in page
    login(client, "tech")
    assert client.get("/supervision/inspectors/users?q=insp").status_code == 403
