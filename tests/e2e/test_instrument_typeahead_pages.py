"""The result grid's instrument chosen by type-ahead in a real browser (issue 14): typing in
the field offers the fit instruments the server finds, and saving records the one chosen."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from lims.db import unit_of_work, utcnow
from lims.instruments.services import register_instrument
from lims.samples.models import Result
from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e


def test_typing_offers_the_fit_instrument_and_saving_records_it(server, browser, session,
                                                                 world):
    with unit_of_work(session):
        qm, today = world.user(session, "qm"), utcnow().date()
        ids = {}
        for asset, due in (("EQ-7", 200), ("EQ-8", -1)):  # EQ-8: calibration expired
            ids[asset] = register_instrument(session, actor=qm, timezone="Asia/Shanghai", data={
                "asset_number": asset, "name": f"Bench balance {asset}",
                "quantities": [{"quantity": "mass", "unit": "g"}],
                "calibrated_on": (today - dt.timedelta(days=300)).isoformat(),
                "calibration_due_on": (today + dt.timedelta(days=due)).isoformat()}).id
    number = world.new_sample(session)
    page = browser.new_page(viewport={"width": 1024, "height": 700})
    page.set_default_timeout(15000)
    login(page, server, "tech")
    page.goto(f"{server}/samples/{number}")
    field = page.locator(f"#instrument-{world.mass_id}")
    options = page.locator(f"#instruments-{world.mass_id} option")
    field.click()  # focused: the first fit instruments are offered before anything is typed
    expect(options).to_have_count(2)
    field.press_sequentially("eq-")
    expect(options.first).to_have_attribute("value", "EQ-1")
    assert options.evaluate_all("os => os.map(o => o.value)") == ["EQ-1", "EQ-7"]  # not EQ-8
    field.press_sequentially("7")
    expect(options).to_have_count(1)
    expect(options.first).to_have_attribute("value", "EQ-7")
    expect(options.first).to_have_text("Bench balance EQ-7")
    field.fill("EQ-7")  # as picking the offered option does
    page.fill(f"#value-{world.mass_id}", "100.02")
    page.click(f"tr[data-characteristic='{world.mass_id}'] button.save-row")
    expect(page.locator("#grid-notice")).to_contain_text("1 result recorded.")
    row = page.locator(f"tr[data-characteristic='{world.mass_id}']")
    expect(row).to_contain_text("EQ-7")
    session.rollback()
    assert session.scalars(select(Result.instrument_id)).all() == [ids["EQ-7"]]
