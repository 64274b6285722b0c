"""Auditors and the public in Chromium (issue 11 §5): the audit trail's filters and pages, and
the public verification form at a phone's 390 px, in Chinese and in English."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.conftest import login, overflow

pytestmark = pytest.mark.e2e

def _reported(app: Any, world: Any) -> tuple[str, str]:
    """A reported sample, issued from another thread: signing runs its own asyncio loop,
    which Playwright's sync API (holding one here) does not allow."""
    runtime = app.extensions["lims"]
    with ThreadPoolExecutor(1) as pool, runtime.session() as other:
        return pool.submit(world.reported_sample, other, runtime.settings).result()  # type: ignore[no-any-return]


def test_an_auditor_filters_the_trail_by_a_sample_number(server: str, browser: Any, app: Any,
                                                         world: Any) -> None:
    number, _report = _reported(app, world)
    page = browser.new_page(viewport={"width": 768, "height": 900})
    login(page, server, "auditor")
    page.goto(f"{server}/audit/")
    assert overflow(page) <= 0  # the bench tablet: the table scrolls inside its box
    page.fill("#f-number", number.lower())
    page.select_option("#f-entity", "results")
    page.click("form.filters button")
    page.wait_for_url(f"**/audit/?*number={number.lower()}*")
    rows = page.locator("#events > tbody > tr")
    assert rows.count() == 2
    assert all("result.record" in t for t in rows.all_inner_texts())
    # The change is a table of field: old → new, and the filters stay in the form and the URL.
    assert page.locator("#events table.diff th", has_text="value").count() == 2
    assert page.input_value("#f-number") == number.lower()
    assert "entity=results" in page.get_attribute("#csv", "href")
    page.click("a:has-text('Clear')")
    page.fill("#f-actor", "Reviewer")
    page.click("form.filters button")
    # Read the rows of the filtered page, not of the page being left.
    page.wait_for_url("**/audit/?*actor=Reviewer*")
    actors = page.locator("#events > tbody > tr > td:nth-child(3)").all_inner_texts()
    assert actors and set(actors) == {"reviewer"}
    page.close()


@pytest.mark.parametrize(("locale", "words"), [
    ("zh-CN", ("报告核验", "委托单位", "检验结论", "已签发")),
    ("en-US", ("Report verification", "Customer", "Conclusion", "issued")),
])
def test_the_public_types_a_number_in_lower_case_on_a_phone(
        server: str, browser: Any, app: Any, world: Any, locale: str,
        words: tuple[str, ...]) -> None:
    _sample, number = _reported(app, world)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale=locale)
    page = context.new_page()
    page.goto(f"{server}/verify")
    assert overflow(page) <= 0
    page.fill("#verify-number", number.lower())
    page.press("#verify-number", "Enter")  # as a scanner ends a code
    page.wait_for_selector("#verification")
    # The element can be there before the stylesheet is: measure the laid-out page.
    page.wait_for_load_state("load")
    assert page.url.endswith(f"/verify/{number.lower()}")
    assert page.inner_text("#report-number") == number
    assert page.inner_text("#customer") == "AC*********es"
    assert page.inner_text("#item") == "test fabric"
    text = page.inner_text("main")
    for word in words:
        assert word in text, word
    assert "ACME" not in page.content()
    width = overflow(page)
    assert width <= 0, width
    context.close()
