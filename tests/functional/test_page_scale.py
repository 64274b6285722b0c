"""Pages independent of the reference data's size (issue 14): with 3,000 customers and 2,000
instruments the home page and an open sample's page are as big, and ask the database as many
times, as with ten; the instrument type-ahead answers a bounded list of fit instruments."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import insert, select

from lims.calibration.models import CalibrationRecord
from lims.db import unit_of_work
from lims.instruments.models import Instrument, InstrumentQuantity
from lims.samples import bench
from lims.samples.lists import SUGGESTED
from lims.samples.models import Customer
from tests.functional.test_list_search import Statements
from tests.support.world import login

FEW = 10
CUSTOMERS, INSTRUMENTS = 3_000, 2_000


def _out_of_service(n: int) -> bool:
    return n > FEW and n % 7 == 0


def _check_failed(n: int) -> bool:
    return n > FEW and n % 11 == 0


def _expired(n: int) -> bool:
    return n > FEW and n % 13 == 0


def _volts(n: int) -> bool:
    return n > FEW and n % 17 == 0


def _unfit(n: int) -> bool:
    return _out_of_service(n) or _check_failed(n) or _expired(n) or _volts(n)


def _seed(session: Any, world: Any, start: int, stop: int, customers: int) -> None:
    """Customers and instruments SC-nnnnn written by Core (the services would take minutes):
    each instrument a balance with EQ-1's calibration, except the unfit ones above FEW."""
    with unit_of_work(session):
        if customers:
            session.execute(insert(Customer), [
                {"name": f"Customer {start + i:05d} Ltd", "name_initials": f"c{start + i}"}
                for i in range(customers)])
        record = session.scalars(select(CalibrationRecord).where(
            CalibrationRecord.instrument_id == world.balance_id)).one()
        mass = session.scalars(select(InstrumentQuantity).where(
            InstrumentQuantity.instrument_id == world.balance_id)).one()
        numbers = range(start, stop)
        session.execute(insert(Instrument), [
            {"asset_number": f"SC-{n:05d}", "name": f"Balance {n}", "driver": "mt-sics",
             "port": "/nonexistent", "port_settings": {},
             "status": "out of service" if _out_of_service(n) else "in service",
             "calibration_flag": "check failed" if _check_failed(n) else "ok"}
            for n in numbers])
        ids: dict[str, int] = dict(session.execute(select(Instrument.asset_number, Instrument.id).where(
            Instrument.asset_number.in_([f"SC-{n:05d}" for n in numbers]))).all())
        session.execute(insert(InstrumentQuantity), [
            {"instrument_id": ids[f"SC-{n:05d}"], "quantity": "DC voltage" if _volts(n)
             else "mass", "unit": "V" if _volts(n) else "g",
             "dimension": "[length] ** 2 * [mass] / [current] / [time] ** 3" if _volts(n)
             else mass.dimension} for n in numbers])
        copied = {c.key: getattr(record, c.key) for c in CalibrationRecord.__mapper__.column_attrs
                  if c.key not in ("id", "file")}
        session.execute(insert(CalibrationRecord), [
            {**copied, "instrument_id": ids[f"SC-{n:05d}"],
             "certificate_number": f"C-{n}",
             "valid_until": record.calibrated_on if _expired(n) else record.valid_until}
            for n in numbers])


def _measure(app: Any, client: Any, url: str) -> tuple[str, int]:
    client.get(url)  # warm: the first request of a path compiles its templates
    with Statements(app) as statements:
        resp = client.get(url)
    assert resp.status_code == 200, url
    return resp.get_data(as_text=True), statements.n


def _tokens(page: str) -> str:
    """The page without what differs from one request to the next (the form tokens)."""
    return re.sub(r'name="csrf_token" value="[^"]*"', "", page)


def test_pages_do_not_grow_with_customers_and_instruments(app, client, session, world,
                                                           run_log):
    number = world.new_sample(session)
    login(client, "tech")
    _seed(session, world, 1, FEW + 1, FEW)
    home, sample = "/samples", f"/samples/{number}"
    few = {url: _measure(app, client, url) for url in (home, sample)}
    _seed(session, world, FEW + 1, INSTRUMENTS + 1, CUSTOMERS - FEW)
    many = {url: _measure(app, client, url) for url in (home, sample)}
    for url in (home, sample):
        assert many[url][1] == few[url][1], (url, few[url][1], many[url][1])
    # The sample page lists the same capture sources whatever the register holds.
    assert _tokens(many[sample][0]) == _tokens(few[sample][0])
    assert many[sample][0].count("<option") <= 2 * bench.SOURCES + 10
    # The home page offers the latest customers (at most SUGGESTED), no instrument at all.
    grown = len(many[home][0].encode()) - len(few[home][0].encode())
    assert 0 <= grown <= SUGGESTED * 60, grown
    assert "SC-0" not in many[home][0]
    assert 0 <= many[home][0].count("<option") - few[home][0].count("<option") <= SUGGESTED
    run_log(f"home {len(few[home][0].encode())} -> {len(many[home][0].encode())} bytes, "
            f"{few[home][1]} statements; sample {len(few[sample][0].encode())} -> "
            f"{len(many[sample][0].encode())} bytes, {few[sample][1]} statements")


def test_the_type_ahead_offers_only_fit_instruments_matching_the_text(client, session, world):
    number = world.new_sample(session)
    _seed(session, world, 1, INSTRUMENTS + 1, 0)
    login(client, "tech")
    url = f"/samples/{number}/instruments"
    for q in ("", "sc-01", "SC-0150", "balance 19"):
        found = client.get(url, query_string={"characteristic": world.mass_id, "q": q}).json
        assets = [i["asset_number"] for i in found["instruments"]]
        assert 0 < len(assets) <= bench.SHOWN, (q, assets)
        for asset, name in ((i["asset_number"], i["name"]) for i in found["instruments"]):
            assert q.lower() in asset.lower() or q.lower() in name.lower()
            assert asset == "EQ-1" or not _unfit(int(asset[3:])), asset
    found = client.get(url, query_string={"characteristic": world.mass_id, "q": "SC-0150"}).json
    assert [i["asset_number"] for i in found["instruments"]] == [
        f"SC-{n:05d}" for n in range(1500, 1510) if not _unfit(n)]
    assert client.get(url, query_string={"characteristic": world.length_id, "q": "SC"}
                      ).json == {"instruments": []}
    found = client.get("/instruments/search", query_string={"q": "sc-0019"}).json
    assert [i["asset_number"] for i in found["instruments"]] == [
        f"SC-{n:05d}" for n in range(190, 200)]  # the list filter's: every instrument


@pytest.mark.parametrize("path", ["/api/v1/instruments", "/api/v1/methods",
                                  "/api/v1/nonconformities", "/api/v1/customers"])
def test_every_list_api_is_paged_and_checks_its_paging(client, session, world, path):
    auth = {"Authorization": f"Bearer {world.token(session, 'qm')}"}
    key = path.rsplit("/", 1)[1].replace("nonconformities", "cases")
    body = client.get(path, query_string={"limit": 1}, headers=auth).json
    assert {"total", "page", "limit", "pages", key} <= set(body)
    assert body["page"] == 1 and body["limit"] == 1 and len(body[key]) <= 1
    assert body["pages"] == max(1, body["total"])
    assert client.get(path, headers=auth).json["limit"] == 100  # the default
    for field, bad in (("limit", "0"), ("limit", "501"), ("limit", "ten"), ("page", "0"),
                       ("page", "x")):
        resp = client.get(path, query_string={field: bad}, headers=auth)
        # The API's answer to invalid input everywhere: 422 with the field named.
        assert resp.status_code == 422, (field, bad, resp.status_code)
        assert resp.json["error"]["field"] == field, resp.json


def test_the_instrument_list_api_pages_the_register(client, session, world):
    _seed(session, world, 1, 251, 0)
    auth = {"Authorization": f"Bearer {world.token(session, 'tech')}"}
    seen: list[str] = []
    for page in (1, 2, 3):
        body = client.get("/api/v1/instruments", headers=auth,
                          query_string={"limit": 100, "page": page}).json
        assert (body["total"], body["pages"], body["page"]) == (252, 3, page)
        seen += [i["asset_number"] for i in body["instruments"]]
    assert len(seen) == len(set(seen)) == 252
    first = body = client.get("/api/v1/instruments?q=SC-00001", headers=auth).json
    assert first["instruments"][0]["calibration_due_on"] is not None  # read in one query
