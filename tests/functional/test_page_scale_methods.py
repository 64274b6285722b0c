"""The methods page is paged and searched on the server (issue 14: a centre's standards library
runs to thousands of methods): as large, and as many statements, at 60 methods as at 310."""

from __future__ import annotations

import re
from typing import Any

from lims.db import unit_of_work
from lims.samples.models import Characteristic, TestMethod
from tests.functional.test_page_scale import _measure, _tokens
from tests.support.world import login


def _methods(session: Any, numbers: range) -> None:
    with unit_of_work(session):
        session.add_all(TestMethod(
            code=f"GB/T Z{i:04d}-2020", title=f"Method {i:04d}", field="textiles",
            characteristics=[Characteristic(name="Mass", kind="mass", unit="gram",
                                            unit_text="g", lower_limit="1.0")])
            for i in numbers)


def _codes(page: str) -> list[str]:
    return re.findall(r"GB/T Z\d{4}-2020", page)


def test_the_methods_page_does_not_grow_with_the_methods(app, client, session, world, run_log):
    login(client, "qm")
    _methods(session, range(1, 60))
    few, few_sql = _measure(app, client, "/methods?q=Z0")
    _methods(session, range(60, 310))
    many, many_sql = _measure(app, client, "/methods?q=Z0")
    assert many_sql == few_sql
    # The same rows (the first 50 codes starting Z0…) but for the pager's totals.
    assert _codes(many) == [f"GB/T Z{i:04d}-2020" for i in range(1, 51)]
    assert _codes(few) == _codes(many)
    assert abs(len(_tokens(many)) - len(_tokens(few))) <= 4  # the pager's totals
    run_log(f"methods page {len(few)} -> {len(many)} bytes, {few_sql} -> {many_sql} "
            f"statements at 60 -> 310 methods")
    second = client.get("/methods", query_string={"q": "Z0", "page": "2", "limit": "20"})
    assert _codes(second.get_data(as_text=True)) == [f"GB/T Z{i:04d}-2020"
                                                     for i in range(21, 41)]
    found = client.get("/methods", query_string={"q": "method 0123"}).get_data(as_text=True)
    assert _codes(found) == ["GB/T Z0123-2020"]
    for field, bad in (("page", "0"), ("limit", "x"), ("sort", "nope"), ("q", "x" * 101)):
        resp = client.get("/methods", query_string={field: bad})
        assert resp.status_code == 422 and field in resp.get_data(as_text=True), (field, bad)
