"""Methods typed with the server's suggestions in a real browser (issue 14): a method picked
from the list, or typed exactly and confirmed with Enter, becomes a ticked box beside the
field; the register form, a row the request form's script adds, and a plan's row."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, insert, select

from lims.db import unit_of_work
from lims.samples.models import Sample, SampleTest, TestMethod
from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e


def _methods(session):
    with unit_of_work(session):
        session.execute(insert(TestMethod), [
            {"code": f"GB/T X{i:03d}-2022", "title": f"Browser method {i:03d}",
             "field": "textiles"} for i in range(1, 40)])
    return dict(session.execute(select(TestMethod.code, TestMethod.id)).all())


def _pick(page, field, code):
    """Type a code, wait for the server's suggestion of it, confirm with Enter."""
    field.fill(code)
    options = field.get_attribute("list")
    expect(page.locator(f"datalist#{options} option[value='{code}']")).to_have_count(1)
    field.press("Enter")
    expect(field).to_have_value("")


def _open(browser, server, user, path):
    page = browser.new_page()
    page.set_default_timeout(15000)
    login(page, server, user)
    page.goto(f"{server}{path}")
    return page


def test_methods_are_picked_by_typing(server, browser, session, world):
    ids = _methods(session)
    page = _open(browser, server, "tech", "/samples")
    form = page.locator("#register-form")
    # Only the latest used and the first by code are boxes; GB/T X035 is found by typing.
    assert form.locator(f"input[name=method_ids][value='{ids['GB/T X035-2022']}']").count() == 0
    field = form.locator("input[name=method_codes]")
    _pick(page, field, "GB/T X035-2022")
    box = form.locator(f"input[name=method_ids][value='{ids['GB/T X035-2022']}']")
    expect(box).to_be_checked()
    # Picking it again does not add a second box.
    _pick(page, field, "GB/T X035-2022")
    expect(box).to_have_count(1)
    page.check(f"input[name=method_ids][value='{world.method_id}']")
    page.fill("input[name=customer]", "ACME Textiles")
    page.fill("input[name=description]", "涤棉坯布 grey fabric")
    page.click("#register-form button")
    assert "registered under request" in page.inner_text(".flash.ok")
    number = page.inner_text("h1").split()[1]
    session.rollback()
    assert sorted(session.scalars(
        select(TestMethod.code).join(SampleTest.method).join(SampleTest.sample)
        .where(Sample.number == number))) == ["GB/T 4669-2008", "GB/T X035-2022"]

    # A row added by the script has its own picker, with its own list.
    page.goto(f"{server}/requests/new")
    page.click("#add-row")
    field = page.locator("input[name=s-3-method_codes]")
    _pick(page, field, "GB/T X021-2022")
    expect(page.locator(f"input[name=s-3-method_ids][value='{ids['GB/T X021-2022']}']")
           ).to_be_checked()
    # Text that matches no suggestion stays typed for the server to resolve or refuse.
    other = page.locator("input[name=s-0-method_codes]")
    other.fill("GB/T X999-2022")
    other.press("Tab")
    expect(other).to_have_value("GB/T X999-2022")
    page.close()


def test_a_plan_row_picks_methods_by_code(server, browser, session, world):
    _methods(session)
    page = _open(browser, server, "qm", "/supervision/plans/new")
    field = page.locator("input[name=c-1-methods_typed]")
    _pick(page, field, "GB/T X030-2022")
    expect(page.locator("input[name=c-1-method_codes][value='GB/T X030-2022']")).to_be_checked()
    page.close()


def test_enter_in_the_method_field_adds_and_never_sends_the_form(server, browser, session, world):
    """Enter on a code typed before the suggestions came, or typed in another case, sent the
    register form: a sample registered with that one method, the operator meaning to add it.
    Enter adds the method once the server names it; in the empty field it sends the form."""
    ids = _methods(session)
    page = _open(browser, server, "tech", "/samples")
    form = page.locator("#register-form")
    page.fill("input[name=customer]", "ACME Textiles")
    page.fill("input[name=description]", "涤棉坯布 grey fabric")
    field = form.locator("input[name=method_codes]")
    for typed, code in (("GB/T X035-2022", "GB/T X035-2022"),   # before its suggestion
                        ("gb/t x036-2022", "GB/T X036-2022")):  # in another case
        field.fill(typed)
        field.press("Enter")
        expect(form.locator(f"input[name=method_ids][value='{ids[code]}']")).to_be_checked()
        expect(field).to_have_value("")
        assert page.url == f"{server}/samples", typed
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Sample)) == 0
    field.press("Enter")  # the empty field: Enter sends the form as usual
    expect(page.locator(".flash.ok")).to_contain_text("registered under request")
    number = page.inner_text("h1").split()[1]
    session.rollback()
    assert sorted(session.scalars(
        select(TestMethod.code).join(SampleTest.method).join(SampleTest.sample)
        .where(Sample.number == number))) == ["GB/T X035-2022", "GB/T X036-2022"]
    page.close()
