"""The whole slice in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login, logout
from tests.support.world import PASSWORD

pytestmark = pytest.mark.e2e

def test_technician_to_signed_report_in_the_browser(server, browser, session, world,
                                                    attached_balance, tmp_path):
    page = browser.new_page()
    page.set_default_timeout(15000)
    login(page, server, "tech")
    page.goto(f"{server}/samples")

    # Register a sample under a new request.
    page.fill("input[name=customer]", "ACME Textiles")
    page.fill("input[name=description]", "涤棉坯布 grey fabric")
    page.check(f"input[name=method_ids][value='{world.method_id}']")
    page.click("#register-form button")
    assert "registered under request" in page.inner_text(".flash.ok")
    number = page.inner_text("h1").split()[1]

    page.click("button:has-text('Record receipt')")
    assert page.inner_text("#sample-status") == "received"

    # Capture the mass from the simulated balance (offered first: it measures mass and is
    # fit for use); type the length by hand in the grid. Both without a page load.
    row = page.locator(f"tr[data-characteristic='{world.mass_id}']")
    assert row.locator("form.capture select").input_value() == str(world.balance_id)
    row.locator("form.capture button").click()
    expect(page.locator("#grid-notice")).to_contain_text("Captured 100.02 g from EQ-1")
    row = page.locator(f"tr[data-characteristic='{world.mass_id}']")
    assert "100.02 g" in row.inner_text() and "S S     100.02 g" in row.inner_text()

    page.fill(f"#value-{world.length_id}", "12.5")
    page.fill(f"#unit-{world.length_id}", "cm")  # converted: 125 mm ≥ 10 mm
    page.locator(f"tr[data-characteristic='{world.length_id}'] button.save-row").click()
    expect(page.locator(f"tr[data-characteristic='{world.length_id}'] td.value")
           ).to_contain_text("12.5 cm")

    # A wrong unit is refused with both units named beside the field, and nothing is lost.
    length = page.locator(f"tr[data-characteristic='{world.length_id}']")
    length.locator("summary").click()
    form = length.locator("form.correct")
    form.locator("input[name=value]").fill("12.6")
    form.locator("input[name=unit]").fill("kg")
    form.locator("input[name=reason]").fill("typo")
    form.locator("button").click()
    expect(page.locator(".field-error")).to_be_visible()
    length = page.locator(f"tr[data-characteristic='{world.length_id}']")
    error = length.locator(".field-error").inner_text()
    assert "'kg'" in error and "'mm'" in error
    assert length.locator("form.correct input[name=value]").input_value() == "12.6"
    assert length.locator("form.correct input[name=reason]").input_value() == "typo"

    page.click("#workflow button:has-text('Testing complete')")
    assert page.inner_text("#sample-status") == "results complete"
    logout(page)

    login(page, server, "reviewer")
    page.goto(f"{server}/samples/{number}")
    page.click("button:has-text('Review')")
    assert page.inner_text("#sample-status") == "reviewed"
    logout(page)

    login(page, server, "signatory")
    page.goto(f"{server}/samples/{number}")
    # Approving and issuing are electronic signatures: the form says what the signature
    # means, and a wrong password applies nothing.
    assert "Approved" in page.inner_text("#approve-form")
    page.fill("#approve-form input[name=password]", "not my password")
    page.click("button:has-text('Approve')")
    assert "wrong password" in page.inner_text(".flash.error")
    assert page.inner_text("#sample-status") == "reviewed"
    page.fill("#approve-form input[name=password]", PASSWORD)
    page.click("button:has-text('Approve')")
    assert page.inner_text("#sample-status") == "approved"
    page.click("#preview-and-issue")  # the confirmation step, beside the preview
    page.fill("#issue-form input[name=password]", PASSWORD)
    page.click("button:has-text('Issue signed report')")
    assert page.inner_text("#sample-status") == "reported"
    with page.expect_download() as download:
        page.click("a:has-text('.pdf')")
    pdf_path = tmp_path / "report.pdf"
    download.value.save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF")
    page.screenshot(path=str(tmp_path / "sample.png"), full_page=True)
    page.click("a:has-text('verify')")
    assert "issued" in page.inner_text("#report-status")
    verify_url = page.url

    # Anyone can check a copy on the public page, without logging in.
    public = browser.new_context().new_page()
    public.goto(verify_url)
    assert public.inner_text("#report-sha256") == page.inner_text("#report-sha256")
    public.set_input_files("input[type=file]", str(pdf_path))
    public.click("button:has-text('Check')")
    assert "identical" in public.inner_text(".flash.ok")
    signers = public.inner_text("#signatures")
    assert "Signatory Tester" in signers and "批准 Approved: test report" in signers
