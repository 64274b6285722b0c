"""Methods chosen by typing (issue 14): the sample list's register form, a new request's rows
and a new plan's rows offer the latest methods and search the rest on the server, so they are
as big, and ask the database as often, at 60 methods as at 560; without the page's script a
method field takes codes as typed, and an unknown code is refused by name with nothing
written."""

from __future__ import annotations

import html
import re
from typing import Any

from sqlalchemy import func, insert, select

from lims.db import unit_of_work, utcnow
from lims.samples.models import Sample, SampleTest, TestMethod, TestRequest
from lims.supervision.models import SpotCheckPlan
from tests.functional.test_page_scale import _measure, _tokens
from tests.support.world import csrf, login

PAGES = ("/samples", "/requests/new", "/supervision/plans/new")


def _methods(session: Any, numbers: range) -> None:
    with unit_of_work(session):
        session.execute(insert(TestMethod), [
            {"code": f"GB/T Y{i:04d}-2021", "title": f"Picker method {i:04d}", "field": "textiles"}
            for i in numbers])


def _codes(page: str) -> set[str]:
    return set(re.findall(r"GB/T Y\d{4}-2021", page))


def _count(session: Any, model: Any) -> int:
    session.rollback()  # read what the app committed, not this snapshot
    return session.scalar(select(func.count()).select_from(model))


def _measure_all(app: Any, client: Any) -> dict[str, tuple[str, int]]:
    measured = {}
    for user, urls in (("tech", PAGES[:2]), ("qm", PAGES[2:])):
        login(client, user)
        measured.update({url: _measure(app, client, url) for url in urls})
        client.post("/logout", data={"csrf_token": csrf(client, "/")})
    return measured


def test_forms_do_not_grow_with_the_methods(app, client, session, world, run_log):
    _methods(session, range(1, 60))
    few = _measure_all(app, client)
    _methods(session, range(60, 560))
    many = _measure_all(app, client)
    for url in PAGES:
        (small, small_sql), (big, big_sql) = few[url], many[url]
        assert big_sql == small_sql, url
        # The same boxes: the world's method (the only one used) then the first by code.
        assert _tokens(big) == _tokens(small), url
        assert _codes(big) == {f"GB/T Y{i:04d}-2021" for i in range(1, 12)}, url
        run_log(f"{url}: {len(small)} -> {len(big)} bytes, {big_sql} statements "
                f"at 60 -> 560 methods")


def test_method_search_finds_active_methods_by_code_or_title(client, session, world):
    assert client.get("/methods/search?q=Y").status_code == 401
    _methods(session, range(1, 40))
    with unit_of_work(session):
        session.scalars(select(TestMethod).where(TestMethod.code == "GB/T Y0007-2021")).one() \
            .retired_at = utcnow()
    login(client, "tech")
    found = client.get("/methods/search", query_string={"q": "picker method 000"}).get_json()
    codes = [m["code"] for m in found["methods"]]
    assert codes == [f"GB/T Y{i:04d}-2021" for i in range(1, 10) if i != 7]  # retired: not offered
    first = found["methods"][0]
    assert first["value"] == first["code"] and first["label"] == "Picker method 0001"
    assert isinstance(first["id"], int)
    # An exact code comes first whatever else contains it; at most 20 answers.
    assert client.get("/methods/search?q=gb/t y0003-2021").get_json()["methods"][0]["code"] \
        == "GB/T Y0003-2021"
    assert len(client.get("/methods/search?q=GB").get_json()["methods"]) == 20
    # Nothing typed: the methods of the latest tests first.
    world.new_sample(session)
    latest = client.get("/methods/search?q=").get_json()["methods"]
    assert latest[0]["id"] == world.method_id and len(latest) == 20
    assert client.get("/methods/search", query_string={"q": "x" * 101}).status_code == 422


def _register(client: Any, **fields: Any) -> Any:
    return client.post("/samples", data={
        "csrf_token": csrf(client, "/samples"), "customer": "ACME Textiles",
        "description": "cotton", "decision_rule": "simple", **fields})


def test_the_register_form_takes_typed_codes(client, session, world):
    _methods(session, range(1, 5))
    login(client, "tech")
    before = (_count(session, Sample), _count(session, TestRequest))
    for typed, wanted in (
            ("GB/T Y0404-2021", "'GB/T Y0404-2021'"),
            ("gb/t y0001-2021; NOPE-1", "'NOPE-1'"),
            ("GB/T Y0001-2021\x00", "control character")):
        resp = _register(client, method_codes=typed)
        text = html.unescape(resp.get_data(as_text=True))
        assert resp.status_code == 422 and "method codes" in text and wanted in text, typed
    assert (_count(session, Sample), _count(session, TestRequest)) == before  # nothing written

    with unit_of_work(session):
        session.scalars(select(TestMethod).where(TestMethod.code == "GB/T Y0004-2021")).one() \
            .retired_at = utcnow()
    resp = _register(client, method_codes="GB/T Y0004-2021")
    assert resp.status_code == 422 and "GB/T Y0004-2021 is retired" in resp.get_data(as_text=True)

    # Codes typed in any case, separated by ";" "," or a new line, with a ticked box.
    resp = _register(client, method_ids=str(world.method_id),
                     method_codes="gb/t y0001-2021，GB/T Y0002-2021\nGB/T Y0003-2021; GB/T 4669-2008")
    assert resp.status_code == 303, resp.get_data(as_text=True)
    number = resp.location.rsplit("/", 1)[1]
    session.rollback()
    tested = session.scalars(select(TestMethod.code).join(SampleTest.method).join(SampleTest.sample)
                             .where(Sample.number == number).order_by(TestMethod.code)).all()
    assert tested == ["GB/T 4669-2008", "GB/T Y0001-2021", "GB/T Y0002-2021",
                      "GB/T Y0003-2021"]
    # The list's method filter takes the code as typed; an unknown code selects nothing.
    listed = client.get("/samples", query_string={"method_code": "gb/t y0002-2021"})
    assert number in listed.get_data(as_text=True)
    assert number not in client.get("/samples?method_code=NOPE").get_data(as_text=True)
    chosen = client.get("/samples", query_string={"method": world.method_id}).get_data(as_text=True)
    assert f'<option value="{world.method_id}" selected>GB/T 4669-2008</option>' in chosen


def test_a_request_row_takes_typed_codes_and_keeps_them_when_refused(client, session, world):
    _methods(session, range(1, 5))
    login(client, "tech")
    form = {"csrf_token": csrf(client, "/requests/new"), "customer": "ACME Textiles",
            "decision_rule": "simple",
            "s-0-description": "cotton", "s-0-method_ids": str(world.method_id),
            "s-2-description": "linen", "s-2-method_codes": "GB/T Y0001-2021; GB/T Y9999-2021"}
    bad = client.post("/requests", data=form)
    page = bad.get_data(as_text=True)
    # The rows come back in order, without the gap the page's script may leave (s-1 is gone).
    assert bad.status_code == 422 and 'id="s-1-method_ids-error"' in page, page
    assert "Sample 2, Methods" in page and "GB/T Y9999-2021" in page
    # What was typed and ticked is kept: the typed text, and row 1's ticked box.
    assert 'name="s-1-method_codes" value="GB/T Y0001-2021; GB/T Y9999-2021"' in page
    assert f'name="s-0-method_ids" value="{world.method_id}" checked' in page
    assert _count(session, TestRequest) == 0

    made = client.post("/requests", data={**form, "s-2-method_codes": "GB/T Y0001-2021"})
    assert made.status_code == 303, made.get_data(as_text=True)
    session.rollback()
    rows = session.execute(select(Sample.description, TestMethod.code)
                           .join(SampleTest.sample).join(SampleTest.method)
                           .order_by(Sample.number)).all()
    assert [tuple(r) for r in rows] == [("cotton", "GB/T 4669-2008"),
                                        ("linen", "GB/T Y0001-2021")]


def test_a_plan_row_takes_typed_codes(client, session, world):
    _methods(session, range(1, 5))
    login(client, "qm")
    form = {"csrf_token": csrf(client, "/supervision/plans/new"), "year": "2026",
            "title": "儿童服装抽查", "authority": "湖北省市场监督管理局", "budget_samples": "9",
            "sampling_method": "随机抽取", "c-0-code": "IND-CHILD-CLOTHING",
            "c-0-product_standard": "GB 31701-2015", "c-0-method_codes": "GB/T 4669-2008",
            "c-0-methods_typed": "gb/t y0002-2021; GB/T Y7777-2021",
            "q-0-category": "IND-CHILD-CLOTHING", "q-0-region": "420100", "q-0-quota": "3"}
    bad = client.post("/supervision/plans/new", data=form)
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'id="c-0-method_codes-error"' in page, page
    assert "GB/T Y7777-2021" in page and 'value="gb/t y0002-2021; GB/T Y7777-2021"' in page
    assert 'name="c-0-method_codes" value="GB/T 4669-2008" checked' in page
    assert _count(session, SpotCheckPlan) == 0
    made = client.post("/supervision/plans/new",
                       data={**form, "c-0-methods_typed": "gb/t y0002-2021"})
    assert made.status_code == 303, made.get_data(as_text=True)
    page = client.get(made.location).get_data(as_text=True)
    assert "GB/T 4669-2008" in page and "GB/T Y0002-2021" in page


def test_a_refused_request_row_with_a_non_ascii_digit_id_is_shown_again(client, session, world):
    """"²" is a digit to str.isdigit() but not to int(): the form came back as a 500 (the row's
    boxes), and "٣" (an Arabic-Indic 3, refused as an id) came back as method 3 ticked."""
    _methods(session, range(1, 5))
    login(client, "tech")
    token = csrf(client, "/requests/new")
    for posted in ("²", "٣"):
        form = {"csrf_token": token, "customer": "ACME Textiles", "decision_rule": "simple",
                "s-0-description": "cotton", "s-0-method_ids": posted,
                "s-0-method_codes": "GB/T Y0001-2021"}
        for url in ("/requests", "/requests/new?rows=4"):
            resp = client.post(url, data=form)
            page = resp.get_data(as_text=True)
            assert resp.status_code == (422 if url == "/requests" else 200), (posted, url, page)
            assert 'value="GB/T Y0001-2021"' in page  # what was typed is kept
            assert not re.search(r'name="s-0-method_ids" value="\d+" checked', page), posted
    assert _count(session, TestRequest) == 0


def test_a_refused_plan_shows_a_posted_code_holding_a_nul_again(client, session, world):
    """A category row's box posted with a NUL is refused; the form showing it again looked
    the codes up (PostgreSQL cannot compare text holding a NUL: a 500)."""
    login(client, "qm")
    form = {"csrf_token": csrf(client, "/supervision/plans/new"), "year": "2026",
            "title": "儿童服装抽查", "authority": "湖北省市场监督管理局", "budget_samples": "9",
            "sampling_method": "随机抽取", "c-0-code": "IND-CHILD-CLOTHING",
            "c-0-product_standard": "GB 31701-2015",
            "c-0-method_codes": ["GB/T 4669-2008", "GB/T\x004669"],
            "q-0-category": "IND-CHILD-CLOTHING", "q-0-region": "420100", "q-0-quota": "3"}
    bad = client.post("/supervision/plans/new", data=form)
    page = html.unescape(bad.get_data(as_text=True))
    assert bad.status_code == 422 and "control character" in page, page
    assert 'name="c-0-method_codes" value="GB/T 4669-2008" checked' in page
    more = client.post("/supervision/plans/new?more=1", data=form)
    assert more.status_code == 200
    assert _count(session, SpotCheckPlan) == 0


def _two_in_case(session: Any, world: Any) -> dict[str, str]:
    """Methods "GB/T Z1-2020" and "gb/t z1-2020" (codes differ only in case), a sample of
    each: {code: sample number}."""
    from lims.samples import services
    from tests.support.world import FMT

    with unit_of_work(session):
        session.execute(insert(TestMethod), [
            {"code": code, "title": f"Case {code}", "field": "textiles"}
            for code in ("GB/T Z1-2020", "gb/t z1-2020")])
    ids = dict(session.execute(select(TestMethod.code, TestMethod.id)).all())
    tech = world.user(session, "tech")
    numbers = {}
    for code in ("GB/T Z1-2020", "gb/t z1-2020"):
        with unit_of_work(session):
            req = services.create_request(session, actor=tech, customer_id=world.customer_id,
                                          number_format="WT{year}-{seq:06d}",
                                          timezone="Asia/Shanghai")
            numbers[code] = services.register_sample(
                session, actor=tech, request_id=req.id, description="case",
                method_ids=[ids[code]], **FMT).number
    return numbers


def test_the_method_filter_takes_an_exact_code_before_its_case(client, session, world):
    """Two methods whose codes differ only in case: the filter named one by its exact code
    listed the other's samples too; a code matching neither exactly matches both."""
    numbers = _two_in_case(session, world)
    login(client, "tech")
    for typed in numbers:
        page = client.get("/samples", query_string={"method_code": typed}).get_data(as_text=True)
        assert {c: n in page for c, n in numbers.items()} == \
            {c: c == typed for c in numbers}, typed
    page = client.get("/samples", query_string={"method_code": "Gb/T Z1-2020"}).get_data(
        as_text=True)
    assert all(n in page for n in numbers.values())


def test_a_code_two_methods_have_in_other_cases_is_refused_as_ambiguous(client, session, world):
    """Typed "Gb/T z1-2020" names both; it was refused as a code no method has."""
    _two_in_case(session, world)
    login(client, "tech")
    before = _count(session, Sample)
    resp = _register(client, method_codes="Gb/T z1-2020")
    text = html.unescape(resp.get_data(as_text=True))
    assert resp.status_code == 422, text
    assert "no method has" not in text
    assert "'Gb/T z1-2020' names several methods (GB/T Z1-2020, gb/t z1-2020)" in text, text
    assert _count(session, Sample) == before
    # Each exact code is its own method.
    assert _register(client, method_codes="gb/t z1-2020").status_code == 303


def test_a_refused_registration_keeps_what_was_typed(client, session, world):
    """The sample list's register form comes back (422) with every field as typed, the ticked
    and typed methods kept and the message beside the field it names; nothing is written."""
    _methods(session, range(1, 5))
    login(client, "tech")
    before = (_count(session, Sample), _count(session, TestRequest))
    typed = {"customer": "ACME Textiles", "description": "涤棉坯布", "decision_rule": "guarded",
             "r": "2", "inspection_type": "supervision", "product_standard": "GB 18401-2010",
             "trademark": "好布牌", "model": "150 cm", "batch": "P2610", "quantity": "3 m",
             "manufacturer": "杭州第一纺织厂", "customer_data": "批号由委托方提供",
             "category": "FOOD-DAIRY", "method_ids": str(world.method_id)}
    for field, bad, shown in (("request_description", "note\x07", "request note"),
                              ("method_codes", "GB/T Y0001-2021; NOPE-9", "method codes"),
                              ("customer", "nobody at all", "customer")):
        resp = _register(client, **{**typed, field: bad})
        page = html.unescape(resp.get_data(as_text=True))
        assert resp.status_code == 422, (field, page)
        form = page.split('id="register-form"', 1)[1].split("</form>", 1)[0]
        assert f'id="{field}-error"' in form or (field == "method_codes"
                                                 and 'id="method_ids-error"' in form), field
        assert f"{shown}:" in page.split('id="register-error"', 1)[1].split("</div>", 1)[0]
        for name, value in typed.items():
            if name in ("decision_rule", "inspection_type", "category"):
                assert f'value="{value}" selected' in form, (field, name)
            elif name == "method_ids":
                assert f'name="method_ids" value="{value}" checked' in form, field
            elif name != field:
                assert f'name="{name}"' in form and f'value="{value}"' in form, (field, name)
        assert f'value="{bad}"' in form or field == "request_description", field
    assert (_count(session, Sample), _count(session, TestRequest)) == before
