"""The qualify form's user chosen by type-ahead in a real browser (issue 14): the form lists no
user; typing offers the active users the server finds, and qualifying records the one chosen
in the paged inspectors' table."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e


def test_typing_offers_users_and_qualifying_lists_the_inspector(server, browser, world):
    page = browser.new_page(viewport={"width": 1024, "height": 700})
    page.set_default_timeout(15000)
    login(page, server, "qm")
    page.goto(f"{server}/supervision/plans")
    field = page.locator("#qualify-inspector input[name=username]")
    options = page.locator("#inspector-users option")
    expect(options).to_have_count(0)  # nothing listed until the field is used
    field.click()  # focused: the first active users are offered before anything is typed
    expect(options.first).to_have_attribute("value", "admin")
    field.press_sequentially("tech2")
    expect(options).to_have_count(1)
    expect(options.first).to_have_attribute("value", "tech2")
    page.fill("#qualify-inspector input[name=qualification]", "CY-42")
    page.fill("#qualify-inspector input[name=valid_until]", "2199-12-31")
    page.click("#qualify-inspector button")
    expect(page.locator("#inspectors")).to_contain_text("CY-42")
    expect(page.locator("#inspectors")).to_contain_text("(tech2)")
    expect(page.locator("nav.pager").last).to_contain_text("1–1 of 1")
