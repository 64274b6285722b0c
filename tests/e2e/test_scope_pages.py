"""The accredited-scope page in a real browser: a quality manager records the CMA certificate
and adds a scope item; an administrator grants it to a signatory on the user page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import login, logout

pytestmark = pytest.mark.e2e


def test_quality_manager_adds_scope_and_admin_grants_it(server, browser, session, world):
    page: Any = browser.new_page()
    login(page, server, "qm")
    page.click("nav a:has-text('Scope')")  # the nav link, in English (the browser asks for en-US)
    page.wait_for_url(f"{server}/scope/")
    assert "No certificate recorded" in page.content()
    form = page.locator("#accreditation-form")
    form.locator("select[name=scheme]").select_option("CMA")
    form.locator("input[name=certificate_number]").fill("231234567890")
    form.locator("input[name=valid_from]").fill("2024-01-01")
    form.locator("input[name=valid_until]").fill("2029-12-31")
    form.locator("button").click()
    page.wait_for_selector("tr[data-scheme=CMA]")

    form = page.locator("#scope-form")
    form.locator("input[name=method_code]").fill("GB/T 4669-2008")
    form.locator("input[name=parameter]").fill("Specimen mass")
    form.locator("input[name=minimum]").fill("0.1")
    form.locator("input[name=maximum]").fill("220")
    form.locator("input[name=unit]").fill("mm")  # not a mass: refused, naming the unit
    form.locator("select[name=kind]").select_option("mass")
    form.locator("button").click()
    page.wait_for_selector(".flash.error")  # back on the form with the reason, not the page left
    assert "'mm'" in page.content() and page.locator("tr[data-scope-item]").count() == 0
    page.goto(f"{server}/scope/")
    form = page.locator("#scope-form")
    form.locator("input[name=method_code]").fill("GB/T 4669-2008")
    form.locator("input[name=parameter]").fill("Specimen mass")
    form.locator("input[name=minimum]").fill("0.1")
    form.locator("input[name=maximum]").fill("220")
    form.locator("input[name=unit]").fill("g")
    form.locator("button").click()
    row = page.locator("tr[data-scope-item]")
    row.wait_for()
    assert "(0.1 … 220) g" in row.inner_text()
    # The signatory who signed the method under "textiles" now needs the item granted.
    assert "signatory signed GB/T 4669-2008 under their field" in page.content()
    logout(page)

    login(page, server, "admin")
    page.goto(f"{server}/users/signatory")
    page.check("input[name=scope_items]")
    page.click("button:has-text('Save')")
    page.wait_for_url(f"{server}/users/signatory")
    assert page.locator("input[name=scope_items]").is_checked()
    session.expire_all()
    assert world.user(session, "signatory").scope_items == {1}
    page.close()
