"""Pages and lists independent of the registers' size (issue 14), continued: the calibration
job's capture form offers a bounded few instruments and suggests the others; the
nonconformities page is paged instead of cut at 200; every list API pages with the same keys
and the same 422 on bad paging; the sample page checks its capture sources' calibrations in
one query, by the rules of ``check_fit_for_use``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import insert, select

from lims.calibration.models import CalibrationRecord, IntermediateCheck, NonconformingCase
from lims.calibration.services import check_fit_for_use, fit_for_use
from lims.calibration.work_views import SOURCES
from lims.db import unit_of_work, utcnow
from lims.errors import LimsError
from lims.instruments.models import Instrument
from lims.samples.models import ProductCategory
from tests.functional.test_calibration_work_api import PROCEDURE, _api
from tests.functional.test_list_search import Statements
from tests.functional.test_page_scale import FEW, INSTRUMENTS, _measure, _seed, _tokens, _unfit
from tests.integration.test_calibration_work import standard
from tests.support.world import TZ, csrf, login

PAGED = [  # path, the key of its items
    ("/api/v1/procedures", "procedures"),
    ("/api/v1/product-categories", "categories"),
    ("/api/v1/supervision/plans", "plans"),
    ("/api/v1/supervision/inspectors", "inspectors"),
    ("/api/v1/supervision/notices", "notices"),
    ("/api/v1/supervision/backups/due", "backups"),
    ("/api/v1/supervision/calendar", "days"),
    ("/api/v1/instruments/EQ-1/calibrations", "calibrations"),
    ("/api/v1/instruments/EQ-1/checks", "checks"),
]


def _job(client: Any, session: Any, world: Any) -> tuple[str, dict[str, Any]]:
    standard(session, world, "STD-W1")
    proc = _api(client, world.token(session, "qm"))("POST", "/api/v1/procedures", PROCEDURE,
                                                     201).json
    number = _api(client, world.token(session, "tech"))("POST", "/api/v1/calibration-jobs", {
        "procedure_id": proc["id"], "customer_id": world.customer_id, "condition": "ok",
        "resolution": "0.01", "item": {"name": "Balance", "serial_number": "SN-ITEM"}},
        201).json["sample"]
    return number, proc


def test_the_job_page_does_not_grow_with_the_instruments(app, client, session, world,
                                                         run_log):
    number, _proc = _job(client, session, world)
    login(client, "tech")
    url = f"/calibration-jobs/{number}"
    _seed(session, world, 1, FEW + 1, 0)
    few = _measure(app, client, url)
    _seed(session, world, FEW + 1, INSTRUMENTS + 1, 0)
    many = _measure(app, client, url)
    assert many[1] == few[1], (few[1], many[1])
    assert _tokens(many[0]) == _tokens(few[0])  # the same few suggested
    suggested = many[0].split('<datalist id="capture-instruments">')[1].split("</datalist>")[0]
    assert 0 < suggested.count("<option") <= SOURCES
    run_log(f"job page {len(few[0].encode())} -> {len(many[0].encode())} bytes, "
            f"{few[1]} -> {many[1]} statements at {FEW} -> {INSTRUMENTS} instruments")


def test_the_job_capture_suggests_standards_and_the_item_first(client, session, world):
    number, _proc = _job(client, session, world)
    _seed(session, world, 1, INSTRUMENTS + 1, 0)
    with unit_of_work(session):  # the customer's item, registered with a driver
        session.execute(insert(Instrument).values(
            asset_number="ZZ-ITEM", name="Customer balance", serial_number="SN-ITEM",
            driver="mt-sics", port="/nonexistent", port_settings={}))
        session.execute(Instrument.__table__.update()
                        .where(Instrument.asset_number == "STD-W1").values(driver="mt-sics"))
    login(client, "tech")
    page = client.get(f"/calibration-jobs/{number}").get_data(as_text=True)
    suggested = page.split('<datalist id="capture-instruments">')[1].split("</datalist>")[0]
    assert suggested.index('"STD-W1"') < suggested.index('"ZZ-ITEM"') < suggested.index('"EQ-1"')
    url = f"/calibration-jobs/{number}/instruments"
    found = client.get(url, query_string={"q": ""}).json["instruments"]
    assert [i["asset_number"] for i in found[:2]] == ["STD-W1", "ZZ-ITEM"] and len(found) == 20
    found = client.get(url, query_string={"q": "sc-0150"}).json["instruments"]
    assert [i["asset_number"] for i in found] == [f"SC-{n:05d}" for n in range(1500, 1510)]
    # An asset number that names no instrument is refused, naming the field; nothing is read.
    token = csrf(client, f"/calibration-jobs/{number}")
    resp = client.post(f"/calibration-jobs/{number}/capture", data={
        "csrf_token": token, "point_id": "1", "target": "item", "instrument": "NO-SUCH",
        "count": "2"}, follow_redirects=True)
    assert "no instrument has the asset number" in resp.get_data(as_text=True)


def _cases(session: Any, world: Any, n: int) -> None:
    opened_by = world.user(session, "qm").id
    with unit_of_work(session):
        session.execute(insert(NonconformingCase), [
            {"number": f"NC-{i:04d}", "instrument_id": world.balance_id,
             "from_date": dt.date(2026, 1, 1), "to_date": dt.date(2026, 2, 1),
             "description": f"case {i}", "status": "open", "opened_by_id": opened_by,
             "opened_at": utcnow() + dt.timedelta(seconds=i)} for i in range(1, n + 1)])


def test_the_nonconformities_page_is_paged_not_cut(client, session, world):
    _cases(session, world, 230)  # more than the 200 the page used to stop at
    login(client, "qm")
    first = client.get("/nonconformities").get_data(as_text=True)
    assert "1–50 of 230" in first and "NC-0230" in first and "NC-0180" not in first
    last = client.get("/nonconformities?page=5").get_data(as_text=True)
    assert "201–230 of 230" in last and "NC-0001" in last and "NC-0031" not in last
    by_number = client.get("/nonconformities?sort=number").get_data(as_text=True)
    assert "NC-0001" in by_number and "NC-0230" not in by_number
    for field, bad in (("page", "0"), ("limit", "501"), ("sort", "nope")):
        resp = client.get("/nonconformities", query_string={field: bad})
        assert resp.status_code == 422, (field, resp.status_code)


@pytest.mark.parametrize(("path", "key"), PAGED)
def test_the_other_list_apis_are_paged_and_check_their_paging(client, session, world, path,
                                                              key):
    auth = {"Authorization": f"Bearer {world.token(session, 'qm')}"}
    body = client.get(path, query_string={"limit": 1}, headers=auth).json
    assert {"total", "page", "limit", "pages", key} <= set(body), body
    assert body["page"] == 1 and body["limit"] == 1 and len(body[key]) <= 1
    assert body["pages"] == max(1, body["total"])
    assert client.get(path, headers=auth).json["limit"] == 100  # the default
    for field, bad in (("limit", "0"), ("limit", "501"), ("limit", "ten"), ("page", "0"),
                       ("page", "x"), ("sort", "nope")):
        resp = client.get(path, query_string={field: bad}, headers=auth)
        assert resp.status_code == 422, (field, bad, resp.status_code)
        assert resp.json["error"]["field"] == field, resp.json


def test_an_instruments_history_and_checks_come_a_page_at_a_time(client, session, world):
    with unit_of_work(session):
        record = session.scalars(select(CalibrationRecord).where(
            CalibrationRecord.instrument_id == world.balance_id)).one()
        copied = {c.key: getattr(record, c.key) for c in CalibrationRecord.__mapper__.column_attrs
                  if c.key not in ("id", "file")}
        session.execute(insert(CalibrationRecord), [
            {**copied, "certificate_number": f"OLD-{n}",
             "calibrated_on": record.calibrated_on - dt.timedelta(days=400 * n),
             "valid_until": record.calibrated_on - dt.timedelta(days=400 * n - 365)}
            for n in (1, 2)])
        session.execute(insert(IntermediateCheck), [
            {"instrument_id": world.balance_id, "checked_at": utcnow() - dt.timedelta(days=n),
             "nominal": "100", "unit": "g", "readings": ["100.0"], "mean": "100.0",
             "deviation": "0.0", "limit": "0.1", "result": "pass", "notes": f"check {n}",
             "source": "typed", "performed_by_id": world.user(session, "tech").id}
            for n in (3, 2, 1)])
    auth = {"Authorization": f"Bearer {world.token(session, 'tech')}"}
    got = [client.get("/api/v1/instruments/EQ-1/calibrations", headers=auth,
                      query_string={"limit": 2, "page": p}).json for p in (1, 2)]
    assert [b["total"] for b in got] == [3, 3] and [b["pages"] for b in got] == [2, 2]
    numbers = [c["certificate"] for b in got for c in b["calibrations"]]
    assert numbers == [record.certificate_number, "OLD-1", "OLD-2"]  # newest first
    found = client.get("/api/v1/instruments/EQ-1/calibrations", headers=auth,
                       query_string={"q": "old-2"}).json
    assert [c["certificate"] for c in found["calibrations"]] == ["OLD-2"]
    got = [client.get("/api/v1/instruments/EQ-1/checks", headers=auth,
                      query_string={"limit": 2, "page": p}).json for p in (1, 2)]
    assert [c["notes"] for b in got for c in b["checks"]] == ["check 3", "check 2", "check 1"]


def test_product_categories_page_the_families_with_their_trees(client, session, world):
    auth = {"Authorization": f"Bearer {world.token(session, 'tech')}"}
    whole = client.get("/api/v1/product-categories", headers=auth).json
    families = session.scalars(select(ProductCategory).where(
        ProductCategory.parent_id.is_(None)).order_by(ProductCategory.id)).all()
    assert whole["total"] == len(families) >= 2
    one = [client.get("/api/v1/product-categories", headers=auth,
                      query_string={"limit": 1, "page": p}).json["categories"]
           for p in range(1, len(families) + 1)]
    assert [page[0] for page in one] == whole["categories"]  # each family with its tree
    assert any(family["children"] for family in whole["categories"])


def test_fit_for_use_in_one_query_agrees_with_check_fit_for_use(app, session, world):
    _seed(session, world, 1, 120, 0)
    instruments = session.scalars(select(Instrument).order_by(Instrument.id)).all()
    now = utcnow()

    def fit(instrument: Instrument) -> bool:
        try:
            check_fit_for_use(session, instrument, now, timezone=TZ)
        except LimsError:
            return False
        return True

    expected = {i.id for i in instruments if fit(i)}
    with Statements(app) as statements:
        assert fit_for_use(session, instruments, now, timezone=TZ) == expected
    assert statements.n == 1
    seeded = {i.id for i in instruments if i.asset_number.startswith("SC-")}
    assert {i.id for i in instruments if i.id in seeded and not _unfit(
        int(i.asset_number[3:]))} <= expected
    assert any(i.id in seeded and i.id not in expected for i in instruments)


def test_the_sample_page_checks_its_capture_sources_in_one_query(app, client, session, world):
    number = world.new_sample(session)
    login(client, "tech")
    alone = _measure(app, client, f"/samples/{number}")
    _seed(session, world, 1, FEW + 1, 0)  # ten more fit capture sources
    offered = _measure(app, client, f"/samples/{number}")
    assert offered[0].count("SC-000") > alone[0].count("SC-000")
    assert offered[1] == alone[1], (alone[1], offered[1])
