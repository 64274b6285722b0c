"""The statistics page in a real browser (Debian's Chromium driven by Playwright): the family
chart draws a family below its target as a red bar under its target mark, the filters submit,
and the XLSX link downloads the workbook."""

from __future__ import annotations

import datetime as dt

import pytest

from lims.db import utcnow
from tests.e2e.conftest import login
from tests.functional.test_supervision_statistics_views import _data

pytestmark = pytest.mark.e2e


@pytest.fixture
def samples(session, world, settings):
    """Reported before the browser starts: signing runs its own event loop."""
    _data(session, world, settings)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_statistics_page_draws_filters_and_exports(samples, server, browser):
    year = utcnow().astimezone(dt.timezone(dt.timedelta(hours=8))).year
    page = browser.new_page(locale="zh-CN", viewport={"width": 1024, "height": 1000})
    page.set_default_timeout(15000)
    login(page, server, "tech")
    page.goto(f"{server}/statistics")
    chart = page.locator("#main svg").first
    bar, target = chart.locator("rect.bar"), chart.locator("line.target")
    assert bar.count() == 1 and target.count() == 3  # only IND judged; three targets
    assert "below" in bar.get_attribute("class")
    box, mark = bar.bounding_box(), target.nth(2).bounding_box()
    assert box["height"] > 50 and box["y"] > mark["y"]  # 66.7 % drawn below the 95 % mark
    page.select_option("select[name=category]", "IND-CHILD-CLOTHING")
    page.click("form.filters button")
    page.wait_for_url(f"**/statistics?year={year}&category=IND-CHILD-CLOTHING**")
    assert page.locator("#categories tr").count() == 3  # the header, IND, children's clothing
    with page.expect_download() as download:
        page.click("a[download]")
    assert download.value.suggested_filename.startswith(f"pass-rates-{year}-")
