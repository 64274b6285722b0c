"""The calibration pages in a real browser: a quality manager imports a certificate and records
an intermediate check; an auditor goes from the reports list to a report's traceability chain."""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from lims.calibration import services as calibration
from lims.db import unit_of_work, utcnow
from lims.instruments.services import register_instrument
from tests.e2e.conftest import login, logout, overflow
from tests.support.world import TZ

pytestmark = pytest.mark.e2e

SCREENSHOT = "/tmp/trace.png"  # noqa: S108 - looked at by hand after the run


def _cert(number: str, provider: dict[str, str], calibrated_on: dt.date, valid_until: dt.date,
          results: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    return {"number": number, "provider": provider, "calibrated_on": calibrated_on.isoformat(),
            "valid_until": valid_until.isoformat(), "results": results, **extra}


NIM = {"name": "中国计量科学研究院 NIM", "kind": "nmi", "country": "CN"}
ACCREDITED = {"name": "Shanghai Example Calibration Centre", "kind": "accredited",
              "accreditation": "CNAS L9999", "country": "CN"}
IN_HOUSE = {"name": "本实验室 In-house calibration", "kind": "in-house", "country": "CN"}


def _mass_point(nominal: str, value: str, u: str) -> dict[str, str]:
    return {"quantity": "Mass", "nominal": nominal, "nominal_unit": "g", "value": value,
            "unit": "g", "expanded_uncertainty": u, "k": "2"}


@pytest.fixture
def standards(session: Any, world: Any) -> dict[str, Any]:
    """A weight set calibrated by NIM and a thermometer by an accredited lab, both in force."""
    qm = world.user(session, "qm")
    today = calibration.lab_day(utcnow(), TZ)
    with unit_of_work(session):
        for asset, name, role, quantity, unit in (
                ("MS-1", "E2 weight set", "reference standard", "mass", "g"),
                ("TH-9", "Ambient thermometer", "working standard", "temperature", "℃")):
            register_instrument(session, actor=qm, timezone=TZ, data={
                "asset_number": asset, "name": name, "role": role,
                "quantities": [{"quantity": quantity, "unit": unit}]})
        certs = {
            "MS-1": _cert("NIM-M-2026-0042", NIM, today - dt.timedelta(days=200),
                          today + dt.timedelta(days=165),
                          [_mass_point("100", "100.00003", "0.00002"),
                           _mass_point("200", "200.00005", "0.00004")]),
            "TH-9": _cert("WK-2026-1187", ACCREDITED, today - dt.timedelta(days=90),
                          today + dt.timedelta(days=275),
                          [{"quantity": "Temperature correction", "nominal": "20",
                            "nominal_unit": "℃", "value": "0.05", "unit": "K",
                            "expanded_uncertainty": "0.10", "k": "2"}])}
        for asset, cert in certs.items():
            calibration.import_certificate(session, actor=qm, data=json.dumps(cert).encode(),
                                           filename=f"{asset}.json", asset=asset, timezone=TZ)
    return {"today": today}


def test_quality_manager_and_auditor_pages(server, browser, app, session, world, standards,
                                           tmp_path):
    today = standards["today"]
    page = browser.new_page(viewport={"width": 768, "height": 1000})
    page.set_default_timeout(15000)

    # The quality manager imports the in-house calibration of the balance EQ-1 (mass in g),
    # made against the NIM weight set, with the thermometer also used.
    login(page, server, "qm")
    page.goto(f"{server}/instruments/EQ-1")
    assert "EQ-1" in page.inner_text("h1")
    cert = _cert("IH-2026-0007", IN_HOUSE, today - dt.timedelta(days=5),
                 today + dt.timedelta(days=360),
                 [_mass_point("50", "50.0001", "0.0002"), _mass_point("100", "100.0002", "0.0002"),
                  _mass_point("200", "200.0003", "0.0003")],
                 instrument="EQ-1", standards_used=["MS-1", "TH-9"],
                 conditions=[{"name": "Ambient temperature", "value": "20.4", "unit": "℃"}])
    path = tmp_path / "IH-2026-0007.json"
    path.write_text(json.dumps(cert, ensure_ascii=False), encoding="utf-8")
    page.set_input_files("#import-form input[type=file]", str(path))
    page.click("#import-form button")
    assert "Certificate IH-2026-0007 recorded" in page.inner_text(".flash.ok")
    history = page.inner_text("#calibrations")
    assert "IH-2026-0007" in history and "MS-1" in history and "TH-9" in history
    assert "IH-2026-0007" in page.inner_text("#in-force")
    assert "mass" in page.inner_text("#quantities")  # declared by the certificate
    row = page.locator("#calibrations tr[data-certificate='IH-2026-0007']")
    assert row.locator("a:has-text('file')").count() == 1
    details = page.locator("#calibrations tr.record-detail details[open]")
    assert "200.0003 g" in details.inner_text() and "as left" in details.inner_text()
    # The standard links to its own page.
    row.locator("a:has-text('MS-1')").click()
    assert "NIM-M-2026-0042" in page.inner_text("#in-force")
    page.go_back()

    # A report carrying a mass weighed on EQ-1 while that calibration was in force. Signing
    # runs its own asyncio loop, which Playwright's sync API (holding one here) does not allow:
    # issue it from another thread, with a session of its own.
    runtime = app.extensions["lims"]
    with ThreadPoolExecutor(1) as pool, runtime.session() as other:
        sample, report = pool.submit(world.reported_sample, other, runtime.settings).result()

    # A failing intermediate check flags the balance and shows on the control chart.
    page.goto(f"{server}/instruments/EQ-1")
    form = page.locator("#check-form form")
    form.locator("input[name=nominal]").fill("100")
    form.locator("input[name=unit]").fill("g")
    form.locator("input[name=readings]").fill("100.9 100.8 100.9")
    form.locator("input[name=limit]").fill("0.5")
    form.locator("input[name=check_standard]").fill("MS-1")
    form.locator("button").click()
    assert "Intermediate check recorded: fail" in page.inner_text(".flash.error")
    assert "check failed" in page.inner_text("#calibration-flag")
    assert page.locator("#check-failed").is_visible()
    assert "fail" in page.inner_text("#checks")
    assert page.locator("figure.chart svg[role=img] circle.out").count() == 1
    logout(page)

    # The auditor: reports list → the report's traceability, one click.
    login(page, server, "auditor")
    page.click("header a:has-text('Reports')")
    page.wait_for_url(f"{server}/reports")
    assert page.locator("#import-form").count() == 0
    page.locator(f"#reports tr:has-text('{report}') a.trace-link").click()
    page.wait_for_url(f"{server}/reports/{report}/traceability")
    assert report in page.inner_text("h1")
    mass = page.locator("section.chain", has_text="Specimen mass")
    assert "complete" in mass.locator(".chain-status").inner_text()
    chain = mass.locator("figure.chain-figure svg.chain-svg")
    assert chain.is_visible()
    assert "EQ-1" in chain.locator("desc").text_content()
    assert chain.locator("g.chain-node").count() == 2
    assert chain.locator("g.chain-node.root[data-asset='MS-1']").count() == 1
    assert chain.locator("g.chain-other[data-asset='TH-9']").count() == 1
    nodes = mass.locator("table.chain-nodes")
    assert "IH-2026-0007" in nodes.inner_text() and "NIM-M-2026-0042" in nodes.inner_text()
    assert nodes.locator("a:has-text('IH-2026-0007')").get_attribute("href").endswith("/file")
    length = page.locator("section.chain", has_text="Length")
    assert "typed without an instrument" in length.inner_text()
    page.screenshot(path=SCREENSHOT, full_page=True)
    width = overflow(page)
    assert width <= 0, f"the trace page scrolls sideways at 768 px ({width} px too wide)"

    # From the sample page too: the report and each result link to the chain.
    page.goto(f"{server}/samples/{sample}")
    assert page.locator("a.trace-link").count() == 3  # the report, and each of two results
    page.locator("a:has-text('EQ-1')").first.click()
    assert "EQ-1" in page.inner_text("h1")

    # The impact of the weight set reaches the balance, the report and the customer.
    page.goto(f"{server}/instruments/MS-1/impact")
    page.fill("input[name=from]", (today - dt.timedelta(days=30)).isoformat())
    page.click("#impact-form button")
    assert "IH-2026-0007" in page.inner_text("#impact-calibrations")
    assert page.inner_text("#impact-results") == "1"
    assert "ACME Textiles" in page.inner_text("#impact-customers")
    page.locator(f"#impact-reports a:has-text('{report}')").click()
    page.wait_for_url(f"{server}/reports/{report}/traceability")
