"""The sample list in Chromium (issue 11 §3): search by pinyin initials, filter, page 2 and
sort, with the whole state in the URL so that a reload (or a bookmark) shows the same list."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from lims.db import unit_of_work
from lims.samples import services as samples
from tests.e2e.conftest import login, overflow

CHINESE = "湖北长江电缆有限公司"


def _rows(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("#samples tbody tr td:first-child").all_inner_texts()]


def _state(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_search_filter_page_and_sort_survive_a_reload(server: str, browser: Any, session: Any,
                                                      world: Any) -> None:
    with unit_of_work(session):
        chinese = samples.create_customer(session, actor=world.user(session, "tech"),
                                          name=CHINESE).id
    theirs = sorted(world.new_sample(session, customer_id=chinese) for _ in range(3))
    world.new_sample(session, customer_id=chinese, receive=False)
    world.new_sample(session)  # ACME's: never found by the search
    page = browser.new_page(viewport={"width": 768, "height": 1000})
    page.set_default_timeout(15000)
    login(page, server, "tech")
    page.goto(f"{server}/samples?limit=2")

    page.fill("#sample-filters input[name=q]", "cjdl")
    page.select_option("#sample-filters select[name=status]", "received")
    page.click("#sample-filters button")
    page.wait_for_url("**/samples?*q=cjdl*")
    assert _state(page)["status"] == ["received"] and _state(page)["limit"] == ["2"]
    assert "1–2 of 3" in page.inner_text("nav.pager")
    first = _rows(page)
    assert len(first) == 2 and set(first) < set(theirs)

    page.click("nav.pager a[rel=next]")
    page.wait_for_url("**page=2*")
    assert len(_rows(page)) == 1 and set(first + _rows(page)) == set(theirs)

    # Sorting by number goes back to page 1, ascending; again: descending.
    page.click("#samples thead a:has-text('Sample number')")
    page.wait_for_url("**sort=number*")
    assert "page" not in _state(page) and _rows(page) == theirs[:2]
    page.click("#samples thead a:has-text('Sample number')")
    page.wait_for_url("**sort=-number*")
    assert _rows(page) == theirs[::-1][:2]
    page.click("nav.pager a[rel=next]")
    page.wait_for_url("**page=2*")
    assert _rows(page) == [theirs[0]]

    # Reload: the same list, and the form still shows the search and the filter.
    url = page.url
    page.reload()
    assert page.url == url and _rows(page) == [theirs[0]]
    assert page.input_value("#sample-filters input[name=q]") == "cjdl"
    assert page.input_value("#sample-filters select[name=status]") == "received"
    assert overflow(page) <= 0
