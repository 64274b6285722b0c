"""The statistics API, page and XLSX export (issue 13 §4), on both databases: the API answers
exactly the service's numbers, the workbook's cells are the API's, the page flags a family
below its target and shows the interval of a rate on few samples; bad filters are 422s
naming the field; nothing without a login."""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import load_workbook
from sqlalchemy import select

from lims.db import unit_of_work, utcnow
from lims.samples.models import Sample
from lims.samples.particulars import INSPECTION_TYPES
from lims.supervision import statistics
from lims.supervision.stats_api_models import InspectionType
from tests.integration.test_supervision_statistics import _place, _region
from tests.support.world import TZ, login

API = "/api/v1/statistics/pass-rates"


def _data(session, world, settings):
    """Children's clothing in Wuhan: two pass, one fails; a dairy sample pending."""
    with unit_of_work(session):
        hubei = _region(session, "420000", "湖北省", "Hubei", "province")
        wuhan = _region(session, "420100", "武汉市", "Wuhan", "prefecture", hubei)
    for seq, value in enumerate(("100.00", "100.00", "101.00")):
        number, _ = world.reported_sample(session, settings, value=value)
        _place(session, world, number, category="IND-CHILD-CLOTHING", region=wuhan,
               size="small", seq=seq)
    pending = world.new_sample(session)
    _place(session, world, pending, category="FOOD-DAIRY", region=wuhan, size="large", seq=9)
    # A commissioned sample from the year before (for the trend).
    with unit_of_work(session):
        old = session.scalar(select(Sample).where(Sample.number == world.new_sample(session)))
        old.sampled_on = old.sampled_on - dt.timedelta(days=400)


def test_api_page_and_export(client, session, world, settings):
    assert client.get(API).status_code == 401
    assert client.get(API).json["error"]["code"]
    assert client.get("/statistics").status_code in (302, 303, 401)
    _data(session, world, settings)
    year = utcnow().astimezone(dt.timezone(dt.timedelta(hours=8))).year
    auth = {"Authorization": f"Bearer {world.token(session, 'auditor')}"}

    # The API is the service, filter for filter.
    for query in ({"year": year}, {"year": year, "category": "ind", "region": "420100"},
                  {"year": year, "size": "large", "inspection_type": "supervision"}):
        got = client.get(API, query_string=query, headers=auth)
        assert got.status_code == 200, got.json
        assert got.json == statistics.pass_rates(session, timezone=TZ, **query).as_dict()
    body = client.get(API, query_string={"year": year}, headers=auth).json
    ind = next(f for f in body["families"] if f["key"] == "IND")
    assert (ind["qualified"], ind["unqualified"], ind["below_target"]) == (2, 1, True)
    assert body["total"]["pending"] == 1 and ind["interval"] == [20.77, 93.85]
    for field, value in (("year", "twenty"), ("year", "99999"), ("category", "NOPE"),
                         ("category", "A\x00"), ("region", "999999"), ("size", "huge"),
                         ("inspection_type", "bribe")):
        refused = client.get(API, query_string={field: value}, headers=auth)
        assert refused.status_code == 422, (field, value)
        assert refused.json["error"]["field"] == field
    assert set(InspectionType.__args__) == set(INSPECTION_TYPES)

    # The trend: each family's counts per year, as the service gives them for each year.
    trend = client.get(f"{API}/trend", query_string={"from": year - 1, "to": year},
                       headers=auth).json
    ind_years = next(f for f in trend["families"] if f["key"] == "IND")["years"]
    assert [y["year"] for y in ind_years] == [year - 1, year]
    keys = ("sampled", "tested", "qualified", "unqualified", "data_only", "pending",
            "pass_rate", "interval")
    assert {k: ind_years[1][k] for k in keys} == {k: ind[k] for k in keys}
    # Last year's only sample has no category: in no family.
    assert sum(f["years"][0]["sampled"] for f in trend["families"]) == 0
    assert client.get(f"{API}/trend", query_string={"from": year, "to": year - 1},
                      headers=auth).json["error"]["field"] == "to"

    # The workbook: one sheet per breakdown, the API's numbers as numbers.
    xlsx = client.get("/statistics.xlsx", query_string={"year": year}, headers=auth)
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.data))
    assert len(book.sheetnames) == 6
    families = list(book.worksheets[0].iter_rows(min_row=2, values_only=True))
    assert families[0][3:10] == tuple(body["total"][k] for k in (
        "sampled", "tested", "qualified", "unqualified", "data_only", "pending", "pass_rate"))
    for row, api in zip(families[1:], body["families"], strict=True):
        assert row[0] == api["key"] and row[3:12] == (
            api["sampled"], api["tested"], api["qualified"], api["unqualified"],
            api["data_only"], api["pending"], api["pass_rate"],
            *(api["interval"] or [None, None]))
        assert row[12] == (float(api["target"]) if api["target"] else None)
    regions = list(book.worksheets[2].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[3]) for r in regions] == [(r["key"], r["sampled"])
                                               for r in body["regions"]]
    items = list(book.worksheets[5].iter_rows(min_row=2, values_only=True))
    assert items == [(1, "Specimen mass", 1)]

    # The page: the flag (the family, and its categories inheriting its target), the
    # interval on few samples, the charts.
    login(client, "tech")
    page = client.get("/statistics", query_string={"year": year, "region": "420100"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count('class="flag-below"') == 3  # IND, and IND, IND-CHILD-CLOTHING below
    assert "(20.8–93.9 %)" in html  # Wilson, 2 of 3
    assert html.count("<svg") == 2 and 'class="bar below"' in html
    assert f'href="/statistics.xlsx?year={year}&amp;region=420100"' in html
    assert '<option value="420100" selected>\u3000Wuhan (420100)</option>' in html
    assert '<a href="/statistics">' in html  # in the navigation
    bad = client.get("/statistics", query_string={"size": "huge"})
    assert bad.status_code == 422 and 'class="flash error"' in bad.get_data(as_text=True)
    assert client.get("/statistics.xlsx", query_string={"region": "9"}).status_code == 422
