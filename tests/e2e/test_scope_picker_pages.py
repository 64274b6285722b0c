"""Scope items typed with the server's suggestions in a real browser (issue 14): on the users
page an administrator types a scope item, picks the suggestion (it becomes a ticked box
beside the field) and creates a signatory with it; on the user's page an item typed by its
number alone, which matches no suggestion exactly, is resolved by the server."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import insert, select

from lims.accreditation.models import ScopeItem
from lims.auth.services import get_user
from lims.db import unit_of_work
from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e


def test_scope_items_are_picked_by_typing(server, browser, session, world):
    with unit_of_work(session):
        session.execute(insert(ScopeItem), [
            {"category": "test", "method_code": f"GB/T W{i:03d}-2019",
             "parameter": f"Browser parameter {i:03d}"} for i in range(1, 40)])
    ids = dict(session.execute(select(ScopeItem.method_code, ScopeItem.id)).all())
    wanted, other = ids["GB/T W035-2019"], ids["GB/T W031-2019"]
    label = f"#{wanted} GB/T W035-2019 Browser parameter 035"
    page = browser.new_page()
    page.set_default_timeout(15000)
    login(page, server, "admin")
    page.goto(f"{server}/users")
    form = page.locator("#create-user")
    # Only the first items by code are boxes; W035 is found by typing.
    assert form.locator(f"input[name=scope_items][value='{wanted}']").count() == 0
    field = form.locator("input[name=scope_items_typed]")
    field.fill(label)
    expect(page.locator(f"datalist#scope_items_typed-options option[value='{label}']")
           ).to_have_count(1)
    field.press("Enter")
    expect(field).to_have_value("")
    box = form.locator(f"input[name=scope_items][value='{wanted}']")
    expect(box).to_be_checked()
    form.locator("input[name=username]").fill("browsersig")
    form.locator("input[name=full_name]").fill("Browser Signatory")
    form.locator("input[name=password]").fill("a-long-enough-passphrase")
    form.locator("input[name=roles][value=signatory]").check()
    form.locator("button:has-text('Create')").click()
    page.wait_for_url(f"{server}/users/browsersig")
    expect(page.locator(f"input[name=scope_items][value='{wanted}']")).to_be_checked()
    session.rollback()  # read what the server committed, not this snapshot
    assert get_user(session, "browsersig").scope_items == {wanted}

    # "#31" matches no suggestion exactly: it stays typed and the server resolves it.
    field = page.locator("input[name=scope_items_typed]")
    field.fill(f"#{other}")
    field.press("Tab")
    expect(field).to_have_value(f"#{other}")
    page.click("#roles button:has-text('Save')")
    expect(page.locator(f"input[name=scope_items][value='{other}']")).to_be_checked()
    session.rollback()  # read what the server committed, not this snapshot
    assert get_user(session, "browsersig").scope_items == {wanted, other}
    page.close()
