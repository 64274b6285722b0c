"""The intake form's particulars, a test's conditions and a worded conclusion in a real browser
(Debian's Chromium driven by Playwright; issue 10, section 5)."""

from __future__ import annotations

import pytest

from lims.db import unit_of_work
from lims.samples import services
from tests.e2e.conftest import login, logout
from tests.support.world import PASSWORD, TZ

pytestmark = pytest.mark.e2e


def test_intake_particulars_conditions_and_worded_conclusion(server, browser, session, world):
    page = browser.new_page()
    page.set_default_timeout(15000)
    login(page, server, "tech")
    page.goto(f"{server}/samples")
    page.fill("input[name=customer]", "ACME Textiles")
    page.fill("input[name=description]", "涤棉坯布 grey fabric")
    page.select_option("select[name=inspection_type]", "supervision")
    page.fill("input[name=product_standard]", "GB/T 5325-2009")
    page.fill("input[name=trademark]", "西湖")
    page.fill("input[name=model]", "160 cm")
    page.fill("input[name=batch]", "P261008")
    page.fill("input[name=quantity]", "3 块")
    page.fill("input[name=manufacturer]", "杭州示例纺织有限公司")
    page.fill("input[name=customer_data]", "生产日期由委托方提供")
    page.check(f"input[name=method_ids][value='{world.method_id}']")
    page.click("#register-form button")
    assert "registered under request" in page.inner_text(".flash.ok")
    number = page.inner_text("h1").split()[1]
    assert page.inner_text("#inspection-type") == "监督抽查 Supervision spot check"
    assert page.inner_text("#product-standard") == "GB/T 5325-2009"
    assert page.inner_text("#manufacturer") == "杭州示例纺织有限公司"
    page.click("button:has-text('Record receipt')")

    # Conditions with a unit of the wrong kind are refused naming both; then recorded.
    page.click("summary:has-text('Conditions and deviation')")
    form = page.locator("form.conditions-form")
    form.locator("input[aria-label='temperature value']").fill("20.2")
    form.locator("input[aria-label='temperature unit']").fill("%RH")
    form.locator("button").click()
    error = page.inner_text(".flash.error")
    assert "%RH" in error and "temperature" in error
    page.click("summary:has-text('Conditions and deviation')")
    form = page.locator("form.conditions-form")
    form.locator("input[aria-label='temperature value']").fill("20.2")
    form.locator("input[aria-label='relative_humidity value']").fill("64")
    form.locator("input[aria-label='deviation']").fill("试样 50 cm²")
    form.locator("button").click()
    text = page.inner_text(f"#conditions-{world.method_id}")
    assert "温度 Temperature 20.2 ℃" in text and "64 %RH" in text and "试样 50 cm²" in text
    logout(page)

    tech = world.user(session, "tech")
    with unit_of_work(session):
        for ch, value, unit in ((world.mass_id, "101.00", "g"), (world.length_id, "12.0", "mm")):
            services.record_result(session, actor=tech, number=number, characteristic_id=ch,
                                   value=value, unit=unit, timezone=TZ)
        services.complete_testing(session, actor=tech, number=number)
        services.review_sample(session, actor=world.user(session, "reviewer"), number=number)

    login(page, server, "signatory")
    page.goto(f"{server}/samples/{number}")
    derived = page.inner_text("#derived-conclusion")
    assert "不合格项目：Specimen mass" in derived and "GB/T 5325-2009" in derived
    page.click("summary:has-text('Word the conclusion differently')")
    page.fill("#approve-form textarea[name=conclusion]", "试样质量不符合 GB/T 5325-2009 要求。")
    page.fill("#approve-form input[name=password]", PASSWORD)
    page.click("button:has-text('Approve')")
    assert "reason for the conclusion" in page.inner_text(".flash.error")
    assert page.inner_text("#sample-status") == "reviewed"
    page.click("summary:has-text('Word the conclusion differently')")
    page.fill("#approve-form textarea[name=conclusion]", "试样质量不符合 GB/T 5325-2009 要求。")
    page.fill("#approve-form input[name=conclusion_reason]", "委托方只关心质量")
    page.fill("#approve-form input[name=password]", PASSWORD)
    page.click("button:has-text('Approve')")
    assert page.inner_text("#sample-status") == "approved"
    shown = page.inner_text("#conclusion")
    assert "试样质量不符合 GB/T 5325-2009 要求。" in shown and "委托方只关心质量" in shown
