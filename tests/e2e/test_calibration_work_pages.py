"""The calibration-job page in a real browser: a technician types the readings of each point
of a customer's balance and sees the error, U, k and the verdict computed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import login
from tests.integration.test_calibration_work import ids, job, procedure, standard

pytestmark = pytest.mark.e2e

SCREENSHOT = "/tmp/calibration-job.png"  # noqa: S108 - looked at by hand after the run


def test_a_technician_types_readings_and_sees_them_computed(server: str, browser: Any,
                                                            session: Any, world: Any) -> None:
    standard(session, world, "STD-W1")
    number = job(session, world, procedure(session, world))
    p100, p200 = ids(session, number)
    page = browser.new_page()
    login(page, server, "tech")
    page.goto(f"{server}/samples/{number}")
    page.click("#calibration-job a")
    page.wait_for_url(f"{server}/calibration-jobs/{number}")
    assert page.locator("#missing").inner_text().count("point") == 2
    for point, values in ((p100, "100.0002 100.0004 100.0003"), (p200, "200.0009")):
        page.select_option("#readings-form select[name=point_id]", str(point))
        page.fill("#readings-form input[name=values]", values)
        page.click("#readings-form button")
        page.wait_for_selector(".flash")
    row = page.locator(f"tr[data-point='{p100}'][data-state='as left']")
    assert row.locator(".error").inner_text() == "0.00030"
    assert row.locator(".uncertainty").inner_text().startswith("0.00015 (2)")
    assert "pass" in row.inner_text()
    bad = page.locator(f"tr[data-point='{p200}'][data-state='as left']")
    assert "fail" in bad.inner_text() and "CMC" in bad.inner_text()
    assert page.locator("#missing").count() == 0
    assert "Some points do not conform" in page.locator("#conforms").inner_text()
    page.screenshot(path=SCREENSHOT, full_page=True)
