"""The product catalogue (产品类别, issue 11 §3; foundation of issue 13): its services, samples
registered in a category through the forms and the API, the list filter, and the dashboard's
pass rate per category computed from known verdicts. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from lims.audit.models import AuditEvent
from lims.db import unit_of_work, utcnow
from lims.errors import InvalidInput, PermissionDenied
from lims.samples import categories, services
from lims.samples.models import ProductCategory, Sample
from lims.samples.turnaround import local_date
from lims.work import stats
from tests.support.world import TZ, csrf, login


def _api(client, token):
    def call(method, path, body=None, status=None):
        resp = client.open(path, method=method, json=body,
                           headers={"Authorization": f"Bearer {token}"})
        if status is not None:
            assert resp.status_code == status, resp.get_data(as_text=True)
        return resp
    return call


def _sample(session, number: str) -> Sample:
    session.rollback()  # a fresh snapshot: the app committed in its own session
    return session.scalar(select(Sample).where(Sample.number == number))


def _set_category(session, number: str, code: str | None) -> None:
    """Test setup: put an existing sample in a category (no service changes it later)."""
    with unit_of_work(session):
        sample = session.scalar(select(Sample).where(Sample.number == number))
        sample.category_id = None if code is None else categories.get_category(session,
                                                                                 code).id


# -- services ----------------------------------------------------------------------------------

def test_the_migration_seeds_the_three_target_families(session):
    families = categories.tree(session)
    assert [(n.category.code, n.category.name_zh, n.category.target_pass_rate)
            for n in families] == [("FOOD", "食品", Decimal("98.50")),
                                   ("DMC", "药品、医疗器械、化妆品", Decimal("98.00")),
                                   ("IND", "工业产品", Decimal("95.00"))]
    below = {n.category.code: [c.category.name_zh for c in n.walk()[1:]] for n in families}
    assert {"儿童服装", "电线电缆", "电动自行车"} <= set(below["IND"])
    assert sum(len(v) for v in below.values()) >= 12
    assert all(c.target_pass_rate is None for n in families for c in
               (x.category for x in n.walk()[1:]))


def test_create_list_tree_and_path(session, world):
    qm = world.user(session, "qm")
    with unit_of_work(session):
        sub = categories.create_category(session, actor=qm, code="ind-lamp",
                                         name_zh="灯具", name_en="Luminaires", parent="IND")
        leaf = categories.create_category(session, actor=qm, code="IND-LAMP-LED",
                                          name_zh="LED 灯", name_en="LED lamps",
                                          parent="IND-LAMP")
        fam = categories.create_category(session, actor=qm, code="AGRI", name_zh="农资",
                                         name_en="Farm inputs", target_pass_rate="96.5")
    assert sub.code == "IND-LAMP" and fam.target_pass_rate == Decimal("96.5")
    assert [c.code for c in categories.path(session, leaf)] == ["IND", "IND-LAMP",
                                                                "IND-LAMP-LED"]
    assert categories.family(session, leaf).code == "IND"
    ind = next(n for n in categories.tree(session) if n.category.code == "IND")
    lamp = next(n for n in ind.children if n.category.code == "IND-LAMP")
    assert [(n.category.code, n.depth) for n in lamp.walk()] == [("IND-LAMP", 1),
                                                                  ("IND-LAMP-LED", 2)]
    assert "AGRI" in [c.code for c in categories.list_categories(session)]
    actions = session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity_type == "product_categories")).all()
    assert actions == ["category.create"] * 3


@pytest.mark.parametrize(("data", "field"), [
    ({"code": "", "name_zh": "x", "name_en": "x"}, "code"),
    ({"code": "a b", "name_zh": "x", "name_en": "x"}, "code"),
    ({"code": "FOOD", "name_zh": "x", "name_en": "x"}, "code"),         # taken
    ({"code": "N1", "name_zh": "", "name_en": "x"}, "name_zh"),
    ({"code": "N1", "name_zh": "x", "name_en": None}, "name_en"),
    ({"code": "N1", "name_zh": "x", "name_en": "x", "parent": "NOPE"}, "parent"),
    ({"code": "N1", "name_zh": "x", "name_en": "x", "parent": "IND",
      "target_pass_rate": "90"}, "target_pass_rate"),                   # on a subcategory
    ({"code": "N1", "name_zh": "x", "name_en": "x", "target_pass_rate": "101"},
     "target_pass_rate"),
    ({"code": "N1", "name_zh": "x", "name_en": "x", "target_pass_rate": "abc"},
     "target_pass_rate"),
    ({"code": "N1", "name_zh": "x", "name_en": "x", "target_pass_rate": "95.125"},
     "target_pass_rate"),
])
def test_create_refuses_bad_input_naming_the_field(session, world, data, field):
    qm = world.user(session, "qm")
    before = session.scalar(select(func.count()).select_from(ProductCategory))
    with pytest.raises(InvalidInput) as err, unit_of_work(session):
        categories.create_category(session, actor=qm, **data)
    assert err.value.field == field
    assert session.scalar(select(func.count()).select_from(ProductCategory)) == before


def test_only_reference_data_managers_create_categories(session, world):
    with pytest.raises(PermissionDenied), unit_of_work(session):
        categories.create_category(session, actor=world.user(session, "tech"), code="X1",
                                   name_zh="x", name_en="x", target_pass_rate="90")


def test_no_cycles(session, world):
    qm = world.user(session, "qm")
    with unit_of_work(session):
        categories.create_category(session, actor=qm, code="IND-A", name_zh="甲", name_en="A",
                                   parent="IND")
        categories.create_category(session, actor=qm, code="IND-A-1", name_zh="甲一",
                                   name_en="A1", parent="IND-A")
    for parent in ("IND-A", "IND-A-1"):
        with pytest.raises(InvalidInput) as err, unit_of_work(session):
            categories.move_category(session, actor=qm, code="IND-A", parent=parent)
        assert err.value.field == "parent"
    # A family put under another loses its own target; one moved to the top needs a new one.
    with unit_of_work(session):
        moved = categories.move_category(session, actor=qm, code="IND-A", parent="FOOD")
        assert moved.target_pass_rate is None
        top = categories.move_category(session, actor=qm, code="IND-A-1", parent=None,
                                       target_pass_rate="97")
        assert top.parent_id is None and top.target_pass_rate == Decimal("97")
    assert [c.code for c in categories.path(session, categories.get_category(
        session, "IND-A"))] == ["FOOD", "IND-A"]


def test_a_retired_category_takes_no_new_sample(session, world):
    qm, tech = world.user(session, "qm"), world.user(session, "tech")
    with unit_of_work(session):
        categories.retire_category(session, actor=qm, code="IND-TOY")
    assert "IND-TOY" not in [c.code for c, _ in
                             (x for fam in categories.choices(session) for x in fam[1])]
    with unit_of_work(session):
        req = services.create_request(session, actor=tech, customer_id=world.customer_id,
                                      number_format="WT{year}-{seq:06d}", timezone=TZ)
    with pytest.raises(InvalidInput) as err, unit_of_work(session):
        services.register_sample(session, actor=tech, request_id=req.id, description="toy",
                                 method_ids=[world.method_id], number_format="YP{seq:06d}",
                                 timezone=TZ, category="IND-TOY")
    assert err.value.field == "category" and "retired" in err.value.message


# -- the API -----------------------------------------------------------------------------------

def test_api_lists_the_tree_to_any_role(client, session, world):
    auditor = _api(client, world.token(session, "auditor"))
    body = auditor("GET", "/api/v1/product-categories", status=200).json
    families = body["categories"]
    assert [(f["code"], f["target_pass_rate"]) for f in families] == [
        ("FOOD", "98.50"), ("DMC", "98.00"), ("IND", "95.00")]
    ind = families[2]
    clothing = next(c for c in ind["children"] if c["code"] == "IND-CHILD-CLOTHING")
    assert clothing == {"code": "IND-CHILD-CLOTHING", "name_zh": "儿童服装",
                        "name_en": "Children's clothing", "target_pass_rate": None,
                        "retired": False, "children": []}
    assert client.get("/api/v1/product-categories",
                      headers={"Accept": "application/json"}).status_code == 401


def test_api_registers_samples_in_a_category_and_names_a_bad_one(client, session, world):
    tech = _api(client, world.token(session, "tech"))
    req = tech("POST", "/api/v1/requests", {"customer_id": world.customer_id}, 201).json
    one = tech("POST", "/api/v1/samples", {"request_id": req["id"], "description": "童装 T 恤",
                                           "method_ids": [world.method_id],
                                           "category": "ind-child-clothing"}, 201).json
    assert one["category"] == "IND-CHILD-CLOTHING"
    # Optional: without it the sample has none, as before.
    two = tech("POST", "/api/v1/samples", {"request_id": req["id"], "description": "布样",
                                           "method_ids": [world.method_id]}, 201).json
    assert two["category"] is None
    error = tech("POST", "/api/v1/samples", {"request_id": req["id"], "description": "x",
                                             "method_ids": [world.method_id],
                                             "category": "NO-SUCH"}, 422).json["error"]
    assert error["field"] == "category" and "NO-SUCH" in error["message"]
    error = tech("POST", "/api/v1/samples", {"request_id": req["id"], "description": "x",
                                             "method_ids": [world.method_id],
                                             "category": 7}, 422).json["error"]
    assert error["field"] == "category"

    samples = [{"description": f"电线 {i}", "method_ids": [world.method_id],
                "category": "IND-WIRE-CABLE"} for i in range(2)]
    created = tech("POST", "/api/v1/requests", {"customer_id": world.customer_id,
                                                "samples": samples}, 201).json
    assert [s["category"] for s in created["samples"]] == ["IND-WIRE-CABLE"] * 2
    count = session.scalar(select(func.count()).select_from(Sample))
    samples[1]["category"] = "WIRES"
    error = tech("POST", "/api/v1/requests", {"customer_id": world.customer_id,
                                              "samples": samples}, 422).json["error"]
    assert error["field"] == "samples[1].category"
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Sample)) == count  # all or none
    shown = tech("GET", f"/api/v1/samples/{one['number']}", status=200).json
    assert shown["category"] == "IND-CHILD-CLOTHING"


def test_the_sample_list_filters_by_category_and_its_subcategories(client, session, world):
    numbers = [world.new_sample(session) for _ in range(3)]
    _set_category(session, numbers[0], "IND-CHILD-CLOTHING")
    _set_category(session, numbers[1], "FOOD-DAIRY")
    tech = _api(client, world.token(session, "tech"))

    def listed(code: str) -> list[str]:
        body = tech("GET", f"/api/v1/samples?category={code}", status=200).json
        return sorted(s["number"] for s in body["samples"])

    assert listed("IND") == [numbers[0]]                    # the family takes its subcategories
    assert listed("ind-child-clothing") == [numbers[0]]
    assert listed("FOOD") == [numbers[1]]
    assert listed("none") == [numbers[2]]
    assert listed("DMC") == []
    login(client, "tech")
    page = client.get("/samples?category=IND").get_data(as_text=True)
    assert numbers[0] in page and numbers[1] not in page
    assert '<option value="IND" selected>' in page


# -- pages -------------------------------------------------------------------------------------

def _form(world, token, **cells):
    due = (local_date(utcnow(), TZ) + dt.timedelta(days=7)).isoformat()
    data: dict[str, Any] = {"csrf_token": token, "customer": "ACME Textiles",
                            "decision_rule": "simple", "inspection_type": "sampling"}
    for i in range(2):
        data.update({f"s-{i}-description": f"样品 {i + 1}",
                     f"s-{i}-method_ids": [str(world.method_id)], f"s-{i}-due_date": due,
                     f"s-{i}-priority": "normal", f"s-{i}-acquisition": "sampled",
                     f"s-{i}-assignee_id": "", f"s-{i}-category": ""})
    data.update(cells)
    return data


def test_the_request_form_registers_samples_in_categories(client, session, world):
    login(client, "tech")
    html = client.get("/requests/new").get_data(as_text=True)
    select_0 = re.search(r'<select name="s-0-category".*?</select>', html, re.S).group(0)
    assert re.findall(r'<optgroup label="([^"]+)"', select_0) == [
        "Food", "Drugs, medical devices and cosmetics", "Manufactured products"]
    assert '<option value="IND-E-BIKE">' in select_0
    resp = client.post("/requests", data=_form(world, csrf(client, "/requests/new"),
                                               **{"s-0-category": "IND-E-BIKE"}))
    assert resp.status_code == 303, resp.get_data(as_text=True)
    detail = client.get(resp.headers["Location"]).get_data(as_text=True)
    first, second = re.findall(r'href="/samples/([^"]+)"', detail)[:2]
    assert _sample(session, first).category.code == "IND-E-BIKE"
    assert _sample(session, second).category_id is None
    page = client.get(f"/samples/{first}").get_data(as_text=True)
    cell = re.search(r'id="product-category">(.*?)</td>', page).group(1)
    assert cell == "Manufactured products / Electric bicycles"
    zh = client.get(f"/samples/{first}", headers={"Accept-Language": "zh-CN"})
    assert "工业产品 / 电动自行车" in zh.get_data(as_text=True)


def test_a_bad_category_on_the_form_is_shown_beside_its_row(client, session, world):
    login(client, "tech")
    before = session.scalar(select(func.count()).select_from(Sample))
    resp = client.post("/requests", data=_form(world, csrf(client, "/requests/new"),
                                               **{"s-1-category": "BOGUS"}))
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Sample 2, Product category: no product category BOGUS" in html
    assert 'id="s-1-category-error"' in html
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Sample)) == before


def test_the_single_sample_form_takes_a_category(client, session, world):
    login(client, "tech")
    page = client.get("/samples").get_data(as_text=True)
    assert 'name="category"' in page.split('id="register-form"', 1)[1]
    resp = client.post("/samples", data={
        "csrf_token": csrf(client, "/samples"), "customer": "ACME Textiles",
        "description": "牛奶", "method_ids": [str(world.method_id)], "category": "FOOD-DAIRY"})
    assert resp.status_code == 303
    number = resp.headers["Location"].rsplit("/", 1)[1]
    assert _sample(session, number).category.code == "FOOD-DAIRY"


# -- the dashboard -----------------------------------------------------------------------------

def _table(page: str, ident: str) -> list[list[str]]:
    block = page.split(f'id="{ident}"', 1)[1].split("</section>", 1)[0]
    body = block.split("<details>", 1)[1]
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)][1:]


def test_the_dashboard_counts_pass_rates_per_category(client, session, world, settings):
    """Known verdicts: two children's clothing samples (one fails the mass limit), one food
    sample in the family itself, one sample without a category that fails, and one sample not
    reported yet (not counted)."""
    cases = [("IND-CHILD-CLOTHING", "100.00"), ("IND-CHILD-CLOTHING", "101.00"),
             ("FOOD", "100.00"), (None, "99.00")]
    for code, value in cases:
        number, _report = world.reported_sample(session, settings, value=value)
        _set_category(session, number, code)
    _set_category(session, world.new_sample(session), "IND-WIRE-CABLE")

    today = local_date(utcnow(), TZ)
    rates = {r.code: r for r in stats.pass_rates(session, today=today, timezone=TZ)}
    assert list(rates) == ["FOOD", "DMC", "IND", "IND-CHILD-CLOTHING", None]
    assert (rates["IND"].tested, rates["IND"].qualified, rates["IND"].unqualified) == (2, 1, 1)
    assert rates["IND"].percent == 50.0 and rates["IND"].target == Decimal("95.00")
    assert rates["IND-CHILD-CLOTHING"].target == Decimal("95.00")  # the family's
    assert rates["FOOD"].percent == 100.0 and rates["DMC"].percent is None
    assert (rates[None].tested, rates[None].unqualified) == (1, 1)

    login(client, "auditor")
    page = client.get("/dashboard").get_data(as_text=True)
    assert _table(page, "chart-pass") == [
        ["Food", "100.0", "98.5", "1", "1", "0"],
        ["Drugs, medical devices and cosmetics", "—", "98.0", "0", "0", "0"],
        ["Manufactured products", "50.0", "95.0", "2", "1", "1"],
        ["› Children&#39;s clothing", "50.0", "95.0", "2", "1", "1"],
        ["Uncategorised", "0.0", "—", "1", "0", "1"]]
    header = re.search(r'id="chart-pass".*?<details>.*?<tr>(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r"<th[^>]*>(.*?)</th>", header) == [
        "Product category", "Passed (%)", "Target (%)", "Tested", "Qualified", "Unqualified"]
    zh = client.get("/dashboard", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    rows = _table(zh, "chart-pass")
    assert rows[0][0] == "食品" and rows[3][0] == "› 儿童服装" and rows[4][0] == "未分类"
