"""The request form offers each sample row a product category grouped by target family
(issue 11 §3), in a real browser (Debian's Chromium driven by Playwright), in Chinese."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import login, overflow

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_request_form_offers_categories_grouped_by_family(server, browser, world):
    page = browser.new_page(locale="zh-CN", viewport={"width": 768, "height": 1000})
    page.set_default_timeout(15000)
    login(page, server, "tech")
    page.goto(f"{server}/requests/new")
    select = page.locator("select[name=s-0-category]")
    groups = select.locator("optgroup")
    assert [groups.nth(i).get_attribute("label") for i in range(groups.count())] == [
        "食品", "药品、医疗器械、化妆品", "工业产品"]
    assert "儿童服装" in groups.nth(2).inner_text()
    select.select_option("IND-CHILD-CLOTHING")
    assert select.input_value() == "IND-CHILD-CLOTHING"
    # A row added by the page's script has its own select with the same groups.
    page.click("#add-row")
    assert page.locator("select[name=s-3-category] optgroup").count() == 3
    # The form's width still fits the bench tablet.
    assert overflow(page) <= 0
