"""Amend and withdraw in a real browser: the buttons only for those allowed, a confirmation
step before anything changes, and the public verification page showing the outcome."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from lims.reports.models import Report
from tests.e2e.conftest import login, logout

pytestmark = pytest.mark.e2e

SCREENSHOT = "/tmp/amend.png"  # noqa: S108 - looked at by hand after the run


def _status(session: Any, number: str) -> str:
    session.rollback()
    return session.scalar(select(Report.status).where(Report.number == number))


def test_amend_and_withdraw_pages(server, browser, app, session, world, settings):
    # Signing runs its own asyncio loop, which Playwright's sync API (holding one here) does
    # not allow: issue the reports from another thread, with a session of its own.
    runtime = app.extensions["lims"]
    with ThreadPoolExecutor(1) as pool, runtime.session() as other:
        sample, first = pool.submit(world.reported_sample, other, runtime.settings).result()
        _sample2, second = pool.submit(world.reported_sample, other, runtime.settings).result()
    page = browser.new_page(viewport={"width": 1024, "height": 1000})

    # A technician sees no Amend or Withdraw, on the list or the report's page.
    login(page, server, "tech")
    page.goto(f"{server}/reports")
    assert page.locator("a.manage-link").count() == 0
    page.goto(f"{server}/reports/{first}")
    assert page.locator("#amend-form").count() == 0 and page.locator("#withdraw-form").count() == 0
    logout(page)

    # The signatory amends the first report: a confirmation step, then the change.
    login(page, server, "signatory")
    page.goto(f"{server}/reports")
    page.click(f"tr[data-report='{first}'] a.manage-link")
    page.wait_for_url(f"{server}/reports/{first}#manage")
    page.fill("#amend-form textarea[name=reason]", "长度读数错误 length misread")
    page.click("#amend-form button")
    assert "will be amended" in page.inner_text("#confirm-what")
    assert page.inner_text("#confirm-reason") == "长度读数错误 length misread"
    assert _status(session, first) == "issued"
    # Cancel changes nothing; confirming does.
    page.click("#confirm-form a")
    page.wait_for_url(f"{server}/reports/{first}")
    assert page.locator("#amending").count() == 0
    page.fill("#amend-form textarea[name=reason]", "长度读数错误 length misread")
    page.click("#amend-form button")
    page.click("#confirm-form button")
    page.wait_for_url(f"{server}/reports/{first}")
    assert "length misread" in page.inner_text("#amending")
    assert page.locator("#amend-form").count() == 0  # one amendment at a time
    page.goto(f"{server}/samples/{sample}")
    assert "in testing" in page.content()
    logout(page)

    # The quality manager withdraws the second one; an empty reason is refused by the page.
    login(page, server, "qm")
    page.goto(f"{server}/reports/{second}")
    page.select_option("#withdraw-form select[name=category]", "recall")
    page.fill("#withdraw-form textarea[name=reason]", "balance EQ-1 out of tolerance")
    page.click("#withdraw-form button")
    assert "will be withdrawn" in page.inner_text("#confirm-what")
    page.click("#confirm-form button")
    page.wait_for_url(f"{server}/reports/{second}")
    assert "withdrawn" in page.inner_text("#report-status")
    assert "recall" in page.inner_text("#withdrawal")
    assert page.locator("#withdraw-form").count() == 0
    assert _status(session, second) == "withdrawn"
    page.screenshot(path=SCREENSHOT, full_page=True)
    logout(page)

    # The public page, logged out: withdrawn on a date, the category, not the reason.
    page.goto(f"{server}/verify/{second}")
    status = page.inner_text("#verification")
    assert "withdrawn on" in status and "recall" in status
    assert "out of tolerance" not in page.content()
    page.goto(f"{server}/verify/{first}")
    assert page.inner_text("#report-status") == "issued"
