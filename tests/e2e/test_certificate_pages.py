"""A calibration certificate from reception to the public verification page, in a real browser:
a technician receives a customer's balance and types the readings, a reviewer reviews, the
signatory approves and issues with the password re-entered; the report page offers the signed
PDF and the DCC, both downloaded and checked; the public page shows the status and the kind
only. A verification whose points fail says before issue that it gives a 检定结果通知书."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lims.calibration.dcc import parse_dcc
from lims.calibration.models import CalibrationJob
from lims.reports.models import Report
from lims.reports.pki import ca_certificate_pem
from lims.reports.sign import validate_pdf
from lims.samples.models import Sample
from tests.e2e.conftest import login, logout
from tests.support import calibration as cal
from tests.support.world import PASSWORD

pytestmark = pytest.mark.e2e

SCREENSHOT = "/tmp/certificate.png"  # noqa: S108 - looked at by hand after the run


def _point_ids(session: Any, number: str) -> list[int]:
    session.rollback()
    job = session.scalar(select(CalibrationJob).join(Sample, Sample.id == CalibrationJob.sample_id)
                         .where(Sample.number == number))
    return [p.id for p in job.procedure.points]


def _workflow(page: Any, base: str, number: str, user: str, button: str) -> None:
    login(page, base, user)
    page.goto(f"{base}/samples/{number}")
    page.click(f"button:has-text('{button}')")
    page.wait_for_selector(".flash.ok")
    logout(page)


def _sign(page: Any, form: str) -> None:
    page.fill(f"{form} input[name=password]", PASSWORD)
    page.click(f"{form} button:has-text('{'Approve' if 'approve' in form else 'Issue'}')")
    page.wait_for_selector(".flash.ok", timeout=60_000)


def test_a_calibration_certificate_from_reception_to_verification(
        server: str, browser: Any, session: Any, world: Any, settings: Any,
        tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    # Without a procedure nothing can be received, and the page says why.
    login(page, server, "tech")
    page.click("header a[href='/calibration-jobs']")
    page.wait_for_url(f"{server}/calibration-jobs")
    assert "/api/v1/procedures" in page.inner_text("#no-procedures")
    assert page.locator("#receive-form").count() == 0
    # The quality manager registers the standard and the procedure (no page: the API).
    cal.standard(session, world)
    cal.procedure(session, world)

    # Reception: a mistake in the form (a resolution that is not a number) keeps what was typed.
    page.reload()
    form = "#receive-form"
    page.fill(f"{form} input[name=customer]", "ACME Textiles")  # typed, with suggestions
    page.fill(f"{form} input[name=item_name]", "电子天平 Electronic balance")
    page.fill(f"{form} input[name=manufacturer]", "Mettler Toledo")
    page.fill(f"{form} input[name=model]", "XPR205")
    page.fill(f"{form} input[name=serial_number]", "C123")
    page.fill(f"{form} input[name=resolution]", "0,0001x")
    page.fill(f"{form} input[name=temperature]", "20.3")
    page.check(f"{form} input[name=conformity_requested]")  # the customer asks for a verdict
    page.click(f"{form} button")
    assert "resolution" in page.inner_text(".flash.error")
    assert page.input_value(f"{form} input[name=serial_number]") == "C123"
    assert page.input_value(f"{form} input[name=temperature]") == "20.3"
    assert page.is_checked(f"{form} input[name=conformity_requested]")
    page.fill(f"{form} input[name=resolution]", "0.0001")
    page.click(f"{form} button")
    page.wait_for_url(f"{server}/calibration-jobs/*")
    number = page.url.rsplit("/", 1)[1]
    p10, p20 = _point_ids(session, number)
    missing = page.inner_text("#missing")
    assert "point 1 (10 g)" in missing and "point 2 (20 g)" in missing

    # Readings: 10 g as found (out of tolerance), adjusted, as left; 20 g as left.
    readings = "#readings-form"
    for point, state, values in ((p10, "as found", "10.0009 10.0010 10.0009"),
                                 (p10, "as left", "10.0002 10.0003 10.0002")):
        page.select_option(f"{readings} select[name=point_id]", str(point))
        page.select_option(f"{readings} select[name=state]", state)
        page.fill(f"{readings} input[name=values]", values)
        page.click(f"{readings} button")
        page.wait_for_selector(".flash.ok")
    # 20 g is still to measure: the page names it, and testing cannot be completed yet.
    assert "point 2 (20 g)" in page.inner_text("#missing")
    assert "point 1" not in page.inner_text("#missing")
    assert page.is_disabled("#complete-form button")
    # The next point not yet measured comes selected.
    assert page.input_value(f"{readings} select[name=point_id]") == str(p20)
    # A wrong unit is refused, naming both units, and the typed readings stay in the form.
    page.fill(f"{readings} input[name=values]", "20.0003 20.0002")
    page.fill(f"{readings} input[name=unit]", "m")
    page.click(f"{readings} button")
    assert "m" in page.inner_text(".flash.error") and "g" in page.inner_text(".flash.error")
    assert page.input_value(f"{readings} input[name=values]") == "20.0003 20.0002"
    assert page.input_value(f"{readings} select[name=point_id]") == str(p20)
    page.fill(f"{readings} input[name=unit]", "g")
    page.click(f"{readings} button")
    page.wait_for_selector(".flash.ok")
    assert page.locator("#missing").count() == 0
    found = page.locator(f"tr[data-point='{p10}'][data-state='as found']")
    assert "fail" in found.inner_text()
    left = page.locator(f"tr[data-point='{p10}'][data-state='as left']")
    assert "pass" in left.inner_text() and "fail" not in left.inner_text()
    assert "Calibration certificate" in page.inner_text("#document")
    page.click("#complete-form button")  # enabled now that every point is measured
    page.wait_for_url(f"{server}/samples/{number}")
    assert page.inner_text("#sample-status") == "results complete"
    logout(page)

    _workflow(page, server, number, "reviewer", "Review")

    # The signatory approves and issues from the sample page, the password re-entered each time.
    login(page, server, "signatory")
    page.goto(f"{server}/samples/{number}")
    _sign(page, "#approve-form")
    assert "Calibration certificate" in page.inner_text("#issue-form")
    page.click("#preview-and-issue")  # the confirmation step, beside the preview
    _sign(page, "#issue-form")
    session.rollback()
    report = session.scalar(select(Report).join(Sample, Sample.id == Report.sample_id)
                            .where(Sample.number == number))
    assert report is not None and report.kind == "calibration_certificate"

    # The report page: the kind, the PDF and the DCC; both downloaded and checked.
    page.click(f"#reports a.detail-link[href='/reports/{report.number}']")
    page.wait_for_url(f"{server}/reports/{report.number}")
    assert "Calibration certificate" in page.inner_text("#report-kind")
    with page.expect_download() as pdf_download:
        page.click("a#pdf-link")
    pdf = Path(pdf_download.value.path()).read_bytes()
    assert pdf_download.value.suggested_filename == f"{report.number}.pdf"
    ca = ca_certificate_pem(Path(settings.signing_pkcs12), settings.signing_passphrase)
    # pyHanko runs its own asyncio loop, which Playwright's sync API (holding one here) does
    # not allow: validate in another thread.
    with ThreadPoolExecutor(1) as pool:
        check = pool.submit(validate_pdf, pdf, ca).result()
    assert check is not None and check.ok, check
    with page.expect_download() as dcc_download:
        page.click("a#dcc-link")
    assert dcc_download.value.suggested_filename.endswith(".xml")
    parsed = parse_dcc(Path(dcc_download.value.path()).read_bytes())
    assert parsed.number == report.number
    page.screenshot(path=SCREENSHOT, full_page=True)
    # The reports list offers the DCC of a certificate too.
    page.goto(f"{server}/reports")
    assert page.locator(f"tr[data-report='{report.number}'] a.dcc-link").count() == 1
    logout(page)

    # The public page, logged out: status and kind, the customer only in part, the item by its
    # name (no model or serial number).
    page.goto(f"{server}/verify/{report.number}")
    assert page.inner_text("#report-status") == "issued"
    assert "校准证书 Calibration certificate" in page.inner_text("#report-kind")
    content = page.content()
    assert "ACME" not in content and "C123" not in content and "XPR205" not in content


def test_a_failing_verification_says_it_gives_a_notice_before_issue(
        server: str, browser: Any, session: Any, world: Any) -> None:
    cal.standard(session, world)
    proc = cal.procedure(session, world, kind="verification", code="JJG 1036-2022")
    number = cal.approved_job(session, world, proc, offset="0.0009")
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    login(page, server, "signatory")
    page.goto(f"{server}/calibration-jobs/{number}")
    for row in page.locator("#points tr[data-state]").all():
        assert "fail" in row.inner_text()
    document = page.inner_text("#document")
    assert "Verification notice" in document
    assert "10 g" in document and "20 g" in document
    page.goto(f"{server}/samples/{number}")
    issue = page.inner_text("#issue-form")
    assert "Verification notice" in issue and "20 g" in issue
    # Not the test report's wording: no "test data only" conclusion on a verified instrument.
    assert page.locator("#conclusion").count() == 0
    assert "检定结果通知书" in page.inner_text("#document")
    page.click("#preview-and-issue")  # the confirmation step, beside the preview
    page.fill("#issue-form input[name=password]", PASSWORD)
    page.click("#issue-form button:has-text('Issue signed notice')")
    page.wait_for_selector(".flash.ok", timeout=60_000)
    page.click("#reports a.detail-link")
    assert "Verification notice" in page.inner_text("#report-kind")
    with page.expect_download() as dcc_download:
        page.click("a#dcc-link")
    parse_dcc(Path(dcc_download.value.path()).read_bytes())
    page.goto(f"{server}/calibration-jobs/{number}")
    assert "Verification notice" in page.inner_text("#reports")
