"""Lists that scale (issue 11 §3): server-side paging, sorting, filters, search by pinyin
initials, CSV/XLSX export and the API's paging, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from lims.db import unit_of_work
from lims.samples import services as samples
from tests.support.world import csrf, login

CHINESE = "湖北长江电缆有限公司"  # pinyin initials hbcjdlyxgs


def _customer(session: Any, world: Any, name: str) -> int:
    with unit_of_work(session):
        return samples.create_customer(session, actor=world.user(session, "tech"), name=name).id


@pytest.fixture
def stock(session: Any, world: Any) -> dict[str, Any]:
    """Seven samples: four of ACME (one only registered, one measured on the balance), three
    of the Chinese customer."""
    chinese = _customer(session, world, CHINESE)
    acme = [world.new_sample(session) for _ in range(3)] + [
        world.new_sample(session, receive=False)]
    cn = [world.new_sample(session, customer_id=chinese) for _ in range(3)]
    with unit_of_work(session):
        samples.record_result(session, actor=world.user(session, "tech"), number=acme[0],
                              characteristic_id=world.mass_id, value="100.00", unit="g",
                              instrument_id=world.balance_id, timezone="Asia/Shanghai")
    return {"acme": acme, "cn": cn, "chinese_id": chinese, "all": acme + cn}


def _numbers(page: str) -> list[str]:
    table = page.split('<table id="samples">', 1)[1].split("</table>", 1)[0]
    return re.findall(r'href="/samples/([^"]+)"', table)


def _get(client: Any, url: str, **headers: str) -> str:
    resp = client.get(url, headers=headers)
    assert resp.status_code == 200, (url, resp.status_code, resp.get_data(as_text=True)[:400])
    return str(resp.get_data(as_text=True))


def test_the_sample_list_pages_on_the_server_with_links_that_keep_the_state(
        client: Any, stock: dict[str, Any]) -> None:
    login(client, "tech")
    first = _get(client, "/samples?limit=3&sort=number")
    assert _numbers(first) == sorted(stock["all"])[:3]
    assert "1–3 of 7" in first and "Page 1 of 3" in first
    assert 'rel="next" href="/samples?limit=3&amp;sort=number&amp;page=2"' in first
    second = _get(client, "/samples?limit=3&sort=number&page=2")
    assert _numbers(second) == sorted(stock["all"])[3:6] and 'rel="prev"' in second
    last = _get(client, "/samples?limit=3&sort=number&page=3")
    assert _numbers(last) == sorted(stock["all"])[6:] and 'rel="next"' not in last
    # A page past the end is empty, not an error; the totals still say what there is.
    assert _numbers(_get(client, "/samples?limit=3&page=9")) == []


def test_column_headers_sort_and_toggle(client: Any, stock: dict[str, Any]) -> None:
    login(client, "tech")
    up = _get(client, "/samples?sort=number")
    assert _numbers(up) == sorted(stock["all"])
    assert 'aria-sort="ascending"' in up and 'href="/samples?sort=-number"' in up
    down = _get(client, "/samples?sort=-number")
    assert _numbers(down) == sorted(stock["all"], reverse=True)
    assert 'aria-sort="descending"' in down and 'href="/samples?sort=number"' in down
    # The default: newest registration first.
    assert _numbers(_get(client, "/samples"))[0] == stock["cn"][-1]
    by_customer = _numbers(_get(client, "/samples?sort=customer"))
    assert set(by_customer[:4]) == set(stock["acme"])  # "ACME …" sorts before "湖北…"


def test_each_filter_narrows_the_list(client: Any, session: Any, world: Any,
                                      stock: dict[str, Any], settings: Any) -> None:
    login(client, "tech")
    assert _numbers(_get(client, "/samples?status=registered")) == [stock["acme"][3]]
    assert set(_numbers(_get(client, f"/samples?customer={stock['chinese_id']}"))) \
        == set(stock["cn"])
    assert _numbers(_get(client, f"/samples?instrument={world.balance_id}")) \
        == [stock["acme"][0]]
    assert len(_numbers(_get(client, f"/samples?method={world.method_id}"))) == 7
    today = dt.datetime.now(ZoneInfo(settings.timezone)).date()
    tomorrow, yesterday = today + dt.timedelta(days=1), today - dt.timedelta(days=1)
    assert len(_numbers(_get(client, f"/samples?from={today}&to={today}"))) == 7
    assert _numbers(_get(client, f"/samples?from={tomorrow}")) == []
    assert _numbers(_get(client, f"/samples?to={yesterday}")) == []


def test_search_finds_a_chinese_customer_by_its_pinyin_initials(
        client: Any, stock: dict[str, Any]) -> None:
    login(client, "tech")
    for q in ("cjdl", "CJDL", "长江电缆", "hbcj"):
        assert set(_numbers(_get(client, f"/samples?q={q}"))) == set(stock["cn"]), q
    assert set(_numbers(_get(client, "/samples?q=acme"))) == set(stock["acme"])
    number = stock["acme"][1]
    assert _numbers(_get(client, f"/samples?q={number.lower()}")) == [number]
    # Search and filter together; a LIKE wildcard is taken literally.
    assert _numbers(_get(client, "/samples?q=cjdl&status=registered")) == []
    assert _numbers(_get(client, "/samples?q=%25")) == []
    page = _get(client, "/samples?q=cjdl&status=received")
    assert 'value="cjdl"' in page and '<option value="received" selected>' in page


def test_export_is_the_whole_filtered_list_in_csv_and_xlsx(
        client: Any, stock: dict[str, Any]) -> None:
    login(client, "tech")
    resp = client.get("/samples?format=csv&limit=2&q=cjdl&sort=number",
                      headers={"Accept-Language": "zh-CN"})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    body = resp.get_data()
    assert body.startswith("\ufeff".encode())  # the BOM: Excel reads the Chinese right
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0].split(",")[:3] == ["样品编号", "委托单", "委托单位"]
    assert [line.split(",")[0] for line in lines[1:]] == sorted(stock["cn"])  # not one page
    assert all(CHINESE in line for line in lines[1:])
    xlsx = client.get("/samples?format=xlsx&status=received&sort=-number")
    assert xlsx.status_code == 200 and "spreadsheetml" in xlsx.mimetype
    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Sample number"
    received = [n for n in stock["all"] if n not in (stock["acme"][0], stock["acme"][3])]
    assert [r[0] for r in rows[1:]] == sorted(received, reverse=True)


@pytest.mark.parametrize(("query", "field"), [
    ("page=0", "page"), ("page=two", "page"), ("limit=501", "limit"), ("limit=-1", "limit"),
    ("sort=colour", "sort"), ("status=lost", "status"), ("from=2026-13-01", "from"),
    ("to=yesterday", "to"), ("customer=x", "customer"), ("format=pdf", "format"),
    ("q=" + "x" * 101, "q"),
])
def test_bad_paging_sort_or_filter_is_a_422_naming_the_field(
        client: Any, world: Any, query: str, field: str) -> None:
    login(client, "tech")
    resp = client.get(f"/samples?{query}")
    assert resp.status_code == 422, (query, resp.status_code)
    assert field in resp.get_data(as_text=True)


def test_the_api_lists_page_with_totals_and_refuse_a_limit_beyond_the_maximum(
        client: Any, session: Any, world: Any, stock: dict[str, Any]) -> None:
    auth = {"Authorization": f"Bearer {world.token(session, 'tech')}"}
    body = client.get("/api/v1/samples?limit=3&page=2&sort=number", headers=auth).get_json()
    assert (body["total"], body["page"], body["limit"], body["pages"]) == (7, 2, 3, 3)
    assert [s["number"] for s in body["samples"]] == sorted(stock["all"])[3:6]
    found = client.get("/api/v1/samples?q=cjdl", headers=auth).get_json()
    assert found["total"] == 3 and {s["customer"]["name"] for s in found["samples"]} == {CHINESE}
    assert client.get("/api/v1/samples?status=registered", headers=auth).get_json()["total"] == 1
    too_many = client.get("/api/v1/samples?limit=501", headers=auth)
    assert too_many.status_code == 422 and too_many.get_json()["error"]["field"] == "limit"
    assert client.get("/api/v1/samples?sort=colour", headers=auth).get_json()[
        "error"]["field"] == "sort"
    customers = client.get("/api/v1/customers?q=cjdl", headers=auth).get_json()
    assert [c["name"] for c in customers["customers"]] == [CHINESE] and customers["total"] == 1
    instruments = client.get("/api/v1/instruments?flag=overdue", headers=auth).get_json()
    assert instruments["total"] == 1 and instruments["instruments"][0]["calibration_flag"] \
        == "overdue"
    reports = client.get("/api/v1/reports?limit=10", headers=auth).get_json()
    assert reports == {"reports": [], "total": 0, "page": 1, "limit": 10, "pages": 1}


def test_register_takes_the_customer_by_name_or_initials_and_refuses_an_ambiguous_one(
        client: Any, session: Any, world: Any) -> None:
    chinese = _customer(session, world, CHINESE)
    _customer(session, world, "湖北长江电力有限公司")  # the same initials: hbcjdlyxgs
    login(client, "tech")
    page = _get(client, "/samples")
    assert 'list="customer-options"' in page and "<select name=\"customer_id\"" not in page

    def register(customer: str) -> Any:
        return client.post("/samples", data={"csrf_token": csrf(client, "/samples"),
                                             "customer": customer, "description": "cable",
                                             "method_ids": [str(world.method_id)]})

    made = register(CHINESE)
    assert made.status_code == 303
    number = made.headers["Location"].rsplit("/", 1)[1]
    assert CHINESE in _get(client, f"/samples?customer={chinese}&q={number}")
    assert register("acme textiles").status_code == 303  # any case
    ambiguous = register("hbcjdlyxgs")
    assert ambiguous.status_code == 422
    text = ambiguous.get_data(as_text=True)
    assert "customer" in text and "several customers" in text and "湖北长江电力有限公司" in text
    assert register("nobody").status_code == 422
    assert register(f"{CHINESE} #{chinese}").status_code == 303
    found = client.get("/customers/search?q=cjdl").get_json()["customers"]
    assert {c["name"] for c in found} == {CHINESE, "湖北长江电力有限公司"}


def test_the_request_customer_report_and_instrument_lists(
        client: Any, session: Any, world: Any, stock: dict[str, Any]) -> None:
    login(client, "tech")
    requests = _get(client, "/requests?q=cjdl")
    assert requests.count("<tr data-request=") == 3 and CHINESE in requests
    assert "ACME" not in requests.split('<table id="requests">', 1)[1]
    customers = _get(client, "/customers?q=cjdl&sort=-samples")
    assert customers.count("<tr data-customer=") == 1 and CHINESE in customers
    assert _get(client, "/customers?sort=-samples").index("ACME") \
        < _get(client, "/customers?sort=-samples").index(CHINESE)
    assert "No reports" in _get(client, "/reports?kind=calibration_certificate")
    assert client.get("/reports?kind=novel").status_code == 422
    overdue = _get(client, "/instruments/?flag=overdue")
    assert "EQ-2" in overdue and "EQ-1<" not in overdue
    assert "EQ-1" in _get(client, "/instruments/?q=eq-1")
    csv = client.get("/instruments/?format=csv").get_data().decode("utf-8-sig")
    assert csv.splitlines()[0].startswith("Asset number,Name")
    assert "EQ-1" in csv and "EQ-2" in csv


def test_a_deep_page_is_fetched_by_ids_and_matches_the_plain_query(
        session: Any, stock: dict[str, Any]) -> None:
    """The deferred join used from an offset on gives the same rows as a plain OFFSET."""
    from lims.samples import lists
    from lims.samples.models import Sample
    from lims.web import listing

    def pages(deferred_from: int | None) -> list[list[str]]:
        return [[s.number for s in listing.paginate(
            session, lists.samples_query({}, timezone="Asia/Shanghai"),
            {"limit": "2", "page": str(p)}, sorts=lists.SAMPLE_SORTS,
            default=lists.SAMPLE_DEFAULT_SORT, tiebreak=Sample.id,
            deferred_from=deferred_from).items] for p in (1, 2, 3, 4)]

    plain, deferred = pages(None), pages(0)
    assert deferred == plain
    assert sum(plain, []) == list(reversed(stock["all"]))


def test_the_sample_list_filters_by_assignee(client: Any, session: Any, world: Any) -> None:
    """The technician queue's "See all" links (issue 11 §3): assigned to a user, or to none."""
    from lims.auth.services import get_user
    from lims.db import unit_of_work
    from lims.samples.models import Sample

    login(client, "tech")
    page = client.get("/").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    numbers = []
    for name in ("mine", "nobody's"):
        made = client.post("/samples", data={"customer_id": world.customer_id, "description": name,
                                             "method_ids": world.method_id, "csrf_token": token})
        numbers.append(made.headers["Location"].rsplit("/", 1)[1])
    with unit_of_work(session):
        tech = get_user(session, "tech")
        assert tech is not None
        session.query(Sample).filter(Sample.number == numbers[0]).update(
            {"assignee_id": tech.id})
    client.get("/")  # shows (and clears) the registration's flash, which names the sample
    mine = client.get("/samples?assignee=tech").get_data(as_text=True)
    assert numbers[0] in mine and numbers[1] not in mine
    free = client.get("/samples?assignee=none").get_data(as_text=True)
    assert numbers[1] in free and numbers[0] not in free
