"""A request with several samples in a real browser (Debian's Chromium driven by Playwright;
issue 11 §2): three samples typed in one form, a fourth row added by the script, an error in
row three shown beside its field with everything kept, then all received at once; in Chinese
and in English, at a bench tablet's 768 px."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from lims.db import utcnow
from lims.samples.models import Sample, TestRequest
from lims.samples.turnaround import local_date
from tests.e2e.conftest import login, overflow
from tests.support.world import TZ

pytestmark = pytest.mark.e2e

WORDS = {
    "zh-CN": {"add": "添加一行样品", "register": "登记委托单", "receive": "登记勾选样品的接收",
              "row3": "样品 3，检验方法：", "registered": "已登记，共 3 个样品",
              "received": "已接收 3 个样品", "left": "还剩 7 天", "urgent": "紧急",
              "status": "已接收"},
    "en": {"add": "Add a sample row", "register": "Register the request",
           "receive": "Record receipt of the ticked samples", "row3": "Sample 3, Methods:",
           "registered": "registered with 3 samples", "received": "Received 3 samples",
           "left": "7 days left", "urgent": "urgent", "status": "received"},
}


def _fill_row(page, i, name, due, *, method_id, priority="normal", assignee=None):
    page.fill(f"input[name=s-{i}-description]", name)
    page.fill(f"input[name=s-{i}-model]", "160 cm")
    page.fill(f"input[name=s-{i}-batch]", f"P26100{i}")
    page.fill(f"input[name=s-{i}-quantity]", "3 块")
    page.fill(f"input[name=s-{i}-manufacturer]", "杭州示例纺织有限公司")
    page.select_option(f"select[name=s-{i}-acquisition]", "sampled")
    page.fill(f"input[name=s-{i}-due_date]", due)
    page.select_option(f"select[name=s-{i}-priority]", priority)
    if assignee:
        page.select_option(f"select[name=s-{i}-assignee_id]", str(assignee))
    if method_id is not None:
        page.check(f"input[name=s-{i}-method_ids][value='{method_id}']")


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_register_three_samples_in_one_form_and_receive_them_together(
        server, browser, session, world, locale):
    words = WORDS[locale]
    today = local_date(utcnow(), TZ)
    due = (today + dt.timedelta(days=7)).isoformat()
    page = browser.new_page(locale=locale, viewport={"width": 768, "height": 1000})
    page.set_default_timeout(15000)
    login(page, server, "tech") if locale == "en" else _login_zh(page, server)
    page.goto(f"{server}/requests/new")
    assert page.locator("[data-row]").count() == 3
    # A typed customer (name or pinyin initials) with a list of recent ones, not a <select>
    # of every customer.
    page.fill("input[name=customer]", "ACME Textiles")
    page.select_option("select[name=inspection_type]", "sampling")
    page.fill("input[name=product_standard]", "GB/T 5325-2009")
    tech2 = world.user(session, "tech2").id
    _fill_row(page, 0, "涤棉坯布 A", due, method_id=world.method_id, assignee=tech2)
    _fill_row(page, 1, "涤棉坯布 B", due, method_id=world.method_id, priority="urgent")
    # The third row has no method: refused, named, and nothing typed is lost. (A due date in
    # the past the browser refuses itself: the field's min is today.)
    _fill_row(page, 2, "涤棉坯布 C", due, method_id=None)
    # "Add a row" by the script: a fourth row appears without a page load, left empty.
    page.click("#add-row")
    assert page.locator("[data-row]").count() == 4
    assert page.input_value("input[name=s-0-description]") == "涤棉坯布 A"
    page.click("#register-request")
    assert words["row3"] in page.inner_text("#form-error")
    assert page.get_attribute("#row-2 fieldset.methods", "aria-invalid") == "true"
    assert page.input_value("input[name=s-1-description]") == "涤棉坯布 B"
    assert page.input_value("select[name=s-1-priority]") == "urgent"
    assert page.input_value("select[name=s-0-assignee_id]") == str(tech2)
    assert page.input_value("input[name=product_standard]") == "GB/T 5325-2009"
    assert page.input_value("input[name=customer]") == "ACME Textiles"
    assert page.is_checked(f"input[name=s-1-method_ids][value='{world.method_id}']")
    assert page.input_value("input[name=s-2-due_date]") == due
    page.check(f"input[name=s-2-method_ids][value='{world.method_id}']")
    page.click("#register-request")
    assert words["registered"] in page.inner_text(".flash.ok")
    # The page fits the bench tablet: the table scrolls inside its wrapper, the page does not.
    assert overflow(page) <= 0

    table = page.inner_text("#request-samples")
    assert table.count(words["left"]) == 3 and words["urgent"] in table
    session.rollback()
    number = page.url.rsplit("/", 1)[1]
    samples = session.scalars(select(Sample).join(TestRequest)
                              .where(TestRequest.number == number).order_by(Sample.id)).all()
    assert [s.description for s in samples] == ["涤棉坯布 A", "涤棉坯布 B", "涤棉坯布 C"]
    assert [s.acquisition for s in samples] == ["sampled"] * 3
    for s in samples:
        page.check(f"#tick-{s.number}")
    page.fill("#common-condition", "完好")
    page.fill(f"#condition-{samples[1].number}", "封条完整")
    page.click("#receive-ticked")
    assert words["received"] in page.inner_text(".flash.ok")
    for s in samples:
        assert words["status"] in page.inner_text(f"#sample-{s.number}")
    assert "封条完整" in page.inner_text(f"#sample-{samples[1].number}")
    assert page.locator("#receive-ticked").count() == 0  # nothing left to receive
    session.rollback()
    assert [c for c in session.scalars(select(Sample.condition_on_receipt).where(
        Sample.id.in_([s.id for s in samples])).order_by(Sample.id))] == [
        "完好", "封条完整", "完好"]


def _login_zh(page, server):
    page.goto(f"{server}/login")
    from tests.support.world import PASSWORD

    page.fill("input[name=username]", "tech")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button:has-text('登录')")
    page.wait_for_url(f"{server}/")


def test_add_a_row_without_the_script_keeps_what_was_typed(server, browser, session, world):
    context = browser.new_context(java_script_enabled=False, locale="en")
    page = context.new_page()
    page.set_default_timeout(15000)
    login(page, server, "tech")
    page.goto(f"{server}/requests/new")
    page.fill("input[name=s-0-description]", "无脚本 no script")
    page.click("#add-row")
    page.wait_for_url("**rows=4*")
    assert page.locator("[data-row]").count() == 4
    assert page.input_value("input[name=s-0-description]") == "无脚本 no script"
    context.close()
