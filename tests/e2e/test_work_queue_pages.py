"""In Chromium, in Chinese and in English: each role logs in and lands on its own queue."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import overflow
from tests.functional.test_work_queues import lab_with_queues
from tests.support.world import PASSWORD

pytestmark = pytest.mark.e2e

# role: (its queue section, the attribute and value of a row it must show)
LANDINGS = {
    "tech": ("unassigned", "data-sample", "new"),
    "reviewer": ("to-review", "data-sample", "complete"),
    "signatory": ("to-approve", "data-sample", "reviewed"),
    "qm": ("calibration-due", "data-asset", "EQ-2"),
}
QUEUES = {"tech": {"assigned", "unassigned"}, "reviewer": {"to-review"},
          "signatory": {"to-approve"}, "qm": {"calibration-due", "failed-checks", "open-cases"}}


@pytest.fixture
def lab(session, world, settings):
    # Built before the browser starts: signing the report runs its own event loop, which
    # cannot start inside Playwright's.
    return lab_with_queues(session, world, settings)


@pytest.mark.parametrize(("locale", "heading", "see_all"),
                         [("en-US", "My work", "See all"), ("zh-CN", "我的工作", "查看全部")])
def test_each_role_lands_on_its_queue(lab, server, browser, locale, heading, see_all):
    for name, (queue, attr, key) in LANDINGS.items():
        page = browser.new_page(locale=locale, viewport={"width": 768, "height": 1000})
        page.set_default_timeout(15000)
        page.goto(f"{server}/login")
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", PASSWORD)
        page.click("main form button")
        page.wait_for_url(f"{server}/")
        assert page.inner_text("h1") == heading, name
        shown = {s.get_attribute("id").removeprefix("queue-")
                 for s in page.locator("section.queue").all()}
        assert shown == QUEUES[name], name  # its own queues, no other role's
        value = lab.get(key, key)
        row = page.locator(f"#queue-{queue} tr[{attr}='{value}']")
        assert row.count() == 1, (name, value)
        assert see_all in page.inner_text(f"#queue-{queue} a.see-all")
        # A bench tablet: no sideways scrolling.
        assert overflow(page) <= 0, name
        if name == "reviewer":
            row.locator("a").first.click()
            page.wait_for_url(f"{server}/samples/{value}")
        if name == "qm":
            page.click("header a[href='/dashboard']")
            page.wait_for_url(f"{server}/dashboard")
            # flow, turnaround, reported on time (samples have due dates), pass rate, calibration
            assert page.locator("svg.chart").count() == 5
            assert overflow(page) <= 0
        page.close()
