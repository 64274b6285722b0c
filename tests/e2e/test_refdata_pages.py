"""Customers, methods and instruments managed in a real browser (Debian's Chromium driven by
Playwright; issue 11 §2): a duplicate customer is flagged and created only when confirmed, a
method's limit is changed with a reason, an instrument is retired — in English and Chinese."""

from __future__ import annotations

from typing import Any

import pytest

from lims.samples.models import Characteristic
from tests.e2e.conftest import login, overflow
from tests.support.world import PASSWORD

pytestmark = pytest.mark.e2e


def _login_zh(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button")
    page.wait_for_url(f"{base}/")


def test_a_duplicate_customer_is_created_only_when_confirmed(server, browser, session, world):
    page = browser.new_page()
    page.set_default_timeout(15000)
    login(page, server, "tech")
    page.goto(f"{server}/customers/new")
    page.fill("#customer-form input[name=name]", "ＡＣＭＥ Textiles Co., Ltd.")
    page.fill("#customer-form input[name=contact]", "Ms Li")
    page.click("#customer-form button")
    warning = page.inner_text("#duplicate-warning")
    assert "ACME Textiles" in warning and "same name" in warning
    assert page.input_value("#customer-form input[name=contact]") == "Ms Li"  # kept
    page.click("#create-anyway")
    assert "added" in page.inner_text(".flash.ok")
    assert "ACME Textiles" in page.inner_text("#known-duplicates")
    assert page.inner_text("h1").startswith("ＡＣＭＥ Textiles Co., Ltd.")
    # The page fits a bench tablet.
    page.set_viewport_size({"width": 768, "height": 1000})
    assert overflow(page) <= 0


def test_a_method_limit_changes_with_a_reason_and_an_instrument_retires_in_chinese(
        server, browser, session, world):
    page = browser.new_page(locale="zh-CN")
    page.set_default_timeout(15000)
    _login_zh(page, server, "qm")
    page.goto(f"{server}/methods")
    page.click("a:has-text('GB/T 4669-2008')")
    page.fill("input[aria-label='上限: Specimen mass']", "100.30")
    page.click("#edit-method button")  # the reason is required: the browser asks for it
    assert page.url.endswith(f"/methods/{world.method_id}")
    assert page.locator(".flash.ok").count() == 0
    page.fill("#edit-method input[name=reason]", "标准换版 2026")
    page.click("#edit-method button")
    assert "方法已更新" in page.inner_text(".flash.ok")
    assert "100.30" in page.inner_text(f"#characteristics tr[data-characteristic='{world.mass_id}']")
    session.expire_all()
    assert session.get(Characteristic, world.mass_id).upper_limit == "100.30"
    page.set_viewport_size({"width": 768, "height": 1000})  # a bench tablet: no sideways scroll
    assert overflow(page) <= 0

    page.goto(f"{server}/instruments/{world.overdue_id}")  # by id: to the asset's page
    assert page.url.endswith("/instruments/EQ-2")
    page.click("#manage-instrument summary")
    page.fill("#retire-instrument input[name=reason]", "已报废")
    page.click("#retire-instrument button")
    banner = page.inner_text("#retired-banner")
    assert "已退役" in banner and "已报废" in banner
    assert page.locator("#manage-instrument").count() == 0
