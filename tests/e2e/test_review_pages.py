"""Work that goes back, in a real browser (issue 11 §2): the reviewer returns a result with a
comment, the technician sees it and corrects, the reviewer approves, the signatory previews
the PDF and then confirms the issue; and buttons only for those who may use them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import func, select

from lims.auth.services import create_user
from lims.db import unit_of_work
from lims.reports.models import Report, ReportClaim
from lims.samples import services as samples
from lims.samples.models import Sample
from tests.e2e.conftest import login, logout, overflow
from tests.support.pdf import pdftotext
from tests.support.world import PASSWORD, TZ

pytestmark = pytest.mark.e2e
PAGE_TIMEOUT = 30_000  # ms


def _results(session: Any, world: Any, *, by: str = "tech", mass: str = "100.80") -> str:
    number = world.new_sample(session)
    with unit_of_work(session):
        for ch, value, unit in ((world.mass_id, mass, "g"), (world.length_id, "12.0", "mm")):
            samples.record_result(session, actor=world.user(session, by), number=number,
                                  characteristic_id=ch, value=value, unit=unit, timezone=TZ)
    return number


def _status_becomes(page: Any, status: str) -> None:
    """Waits for the page after a click: read at once, the status can be the page being left.
    As long as the page's own waits (expect's default is 5 s, short on a loaded CI machine)."""
    expect(page.locator("#sample-status")).to_have_text(status, timeout=PAGE_TIMEOUT)


def _reports(session: Any) -> tuple[int, int]:
    session.rollback()
    return (session.scalar(select(func.count()).select_from(Report)),
            session.scalar(select(func.count()).select_from(ReportClaim)))


def test_return_correct_review_preview_and_issue(server: str, browser: Any, session: Any,
                                                 world: Any, tmp_path: Path) -> None:
    number = _results(session, world)  # 100.80 g: outside 99.50 … 100.50, a misreading
    page = browser.new_page(viewport={"width": 768, "height": 1000})
    page.set_default_timeout(PAGE_TIMEOUT)
    sample_url = f"{server}/samples/{number}"

    login(page, server, "tech")
    page.goto(sample_url)
    page.click("button:has-text('Testing complete')")
    _status_becomes(page, "results complete")
    assert page.locator("#return-form").count() == 0  # the technician does not review
    logout(page)

    # The reviewer returns the mass to the technician with a comment on that result.
    login(page, server, "reviewer")
    page.goto(sample_url)
    page.click("#return-details summary")
    page.locator("#return-form input[name^=comment-]").first.fill(  # the mass, listed first
        "质量超出上限，请核对天平打印 check the balance print")
    page.click("#return-form button")
    page.wait_for_selector(".flash.ok")
    _status_becomes(page, "in testing")
    logout(page)

    # The technician sees the comment beside the result, corrects it and completes again.
    login(page, server, "tech")
    page.goto(sample_url)
    row = page.locator(f"tr[data-characteristic='{world.mass_id}']")
    comment = row.locator(".review-comment")
    assert "核对天平打印" in comment.inner_text() and "Reviewer Tester" in comment.inner_text()
    row.locator("summary").click()
    form = row.locator("form.correct")
    form.locator("input[name=value]").fill("100.08")
    form.locator("input[name=reason]").fill("天平打印为 100.08 g，录入错误")
    form.locator("button").click()
    page.wait_for_selector(".flash.ok")
    row = page.locator(f"tr[data-characteristic='{world.mass_id}']")
    assert "100.08 g" in row.inner_text() and "核对天平打印" in row.inner_text()
    page.click("button:has-text('Testing complete')")
    _status_becomes(page, "results complete")
    logout(page)

    login(page, server, "reviewer")
    page.goto(sample_url)
    page.click("#review-form button")
    _status_becomes(page, "reviewed")
    logout(page)

    # The signatory approves, previews the PDF, then confirms the issue.
    login(page, server, "signatory")
    page.goto(sample_url)
    page.fill("#approve-form input[name=password]", PASSWORD)
    page.click("#approve-form button:has-text('Approve')")
    _status_becomes(page, "approved")
    page.click("#preview-and-issue")
    page.wait_for_url("**/report/confirm")
    assert page.locator("#preview-frame").count() == 1
    href = page.get_attribute("#preview-link", "href")
    preview = page.request.get(f"{server}{href}")
    assert preview.status == 200 and preview.headers["content-type"] == "application/pdf"
    pdf = preview.body()
    assert PdfFileReader(io.BytesIO(pdf)).embedded_signatures == []
    (tmp_path / "preview.pdf").write_bytes(pdf)
    text = pdftotext(tmp_path / "preview.pdf")
    assert "预览 PREVIEW" in text and "100.08" in text
    assert _reports(session) == (0, 0)  # a preview is never stored, takes no number
    page.fill("#issue-form input[name=password]", PASSWORD)
    page.click("#issue-form button:has-text('Issue signed report')")
    page.wait_for_selector(".flash.ok", timeout=60_000)
    _status_becomes(page, "reported")
    assert _reports(session) == (1, 1)
    width = overflow(page)
    assert width <= 1, width


def test_no_approve_button_outside_scope_or_for_the_measurer(server: str, browser: Any,
                                                              session: Any,
                                                              world: Any) -> None:
    with unit_of_work(session):
        create_user(session, username="techsign", full_name="Techsign Tester",
                    password=PASSWORD, roles=["technician", "signatory"], scopes=["textiles"])
    number = _results(session, world, by="techsign", mass="100.00")
    with unit_of_work(session):
        samples.complete_testing(session, actor=world.user(session, "techsign"), number=number)
        samples.review_sample(session, actor=world.user(session, "reviewer"), number=number)
    page = browser.new_page()
    page.set_default_timeout(PAGE_TIMEOUT)
    url = f"{server}/samples/{number}"
    for who in ("signatory2", "techsign"):  # outside the scope; who measured
        login(page, server, who)
        page.goto(url)
        assert page.locator("#approve-form").count() == 0
        assert page.locator("#return-review-form").count() == 0
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        resp = page.request.post(f"{url}/approve",
                                 form={"csrf_token": token, "password": PASSWORD})
        assert resp.status == 403, (who, resp.status)
        logout(page)
    login(page, server, "signatory")
    page.set_extra_http_headers({"Accept-Language": "zh-CN"})  # and in Chinese
    page.goto(url)
    assert page.locator("#approve-form").count() == 1
    assert "退回审核" in page.inner_text("#return-review-details summary")
    session.rollback()
    assert session.scalar(select(Sample.status).where(Sample.number == number)) == "reviewed"
