"""The accredited scope is paged and searched on the server (issue 14: a centre's CNAS scope
runs to thousands of items): the page and the API are as large, and cost as many statements,
at 60 items as at 360."""

from __future__ import annotations

import re
from typing import Any

from lims.accreditation.models import Accreditation, ScopeItem
from lims.db import unit_of_work
from tests.functional.test_page_scale import _measure, _tokens
from tests.support.world import login


def _items(session: Any, numbers: range) -> None:
    with unit_of_work(session):
        schemes = list(session.query(Accreditation))
        session.add_all(ScopeItem(
            category="test", object="纺织品", parameter=f"Parameter {i:04d}",
            method_code=f"GB/T W{i:04d}-2019", unit="g", accreditations=schemes)
            for i in numbers)


def _codes(page: str) -> list[str]:
    return re.findall(r"GB/T W\d{4}-2019", page)


def test_the_scope_page_and_api_do_not_grow_with_the_scope(app, client, session, world,
                                                           run_log):
    login(client, "qm")
    _items(session, range(1, 60))
    few, few_sql = _measure(app, client, "/scope/?q=W0")
    _items(session, range(60, 360))
    many, many_sql = _measure(app, client, "/scope/?q=W0")
    assert many_sql == few_sql
    assert _codes(many) == [f"GB/T W{i:04d}-2019" for i in range(1, 51)] == _codes(few)
    assert abs(len(_tokens(many)) - len(_tokens(few))) <= 4  # the pager's totals
    run_log(f"scope page {len(few)} -> {len(many)} bytes, {few_sql} -> {many_sql} "
            f"statements at 60 -> 360 items")
    found = client.get("/scope/", query_string={"q": "parameter 0123"}).get_data(as_text=True)
    assert _codes(found) == ["GB/T W0123-2019"]
    second = client.get("/scope/", query_string={"q": "W0", "page": "2", "limit": "20"})
    assert _codes(second.get_data(as_text=True)) == [f"GB/T W{i:04d}-2019"
                                                     for i in range(21, 41)]

    listed = client.get("/api/v1/scope", query_string={"q": "W0", "limit": "100"}).get_json()
    assert (listed["total"], listed["page"], listed["limit"], listed["pages"]) == (359, 1, 100, 4)
    assert [i["method_code"] for i in listed["items"]] == [f"GB/T W{i:04d}-2019"
                                                          for i in range(1, 101)]
    assert [a["scheme"] for a in listed["accreditations"]] == \
        [a.scheme for a in session.query(Accreditation).order_by(Accreditation.scheme)]
    last = client.get("/api/v1/scope", query_string={"q": "W0", "page": "4", "limit": "100",
                                                     "sort": "-id"}).get_json()
    assert [i["method_code"] for i in last["items"]] == [f"GB/T W{i:04d}-2019"
                                                        for i in range(59, 0, -1)]
    for field, bad in (("page", "0"), ("limit", "x"), ("sort", "nope"), ("q", "x" * 101)):
        for url in ("/scope/", "/api/v1/scope"):
            resp = client.get(url, query_string={field: bad})
            assert resp.status_code == 422 and field in resp.get_data(as_text=True), \
                (url, field, bad)
