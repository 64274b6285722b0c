"""Result entry at the bench (issue 11 §4): the sample page's grid, its fragment, the
instruments it offers, and sample labels."""

from __future__ import annotations

import datetime as dt
import html
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lims.instruments.models import Instrument
from lims.samples.models import Result, Sample
from tests.conftest import require_binary
from tests.support.pdf import pdftotext
from tests.support.world import csrf, login


def _results(session, number):
    session.rollback()
    return session.scalar(select(func.count(Result.id)).join(Result.test)
                          .where(Result.test.has(sample_id=session.scalar(
                              select(Sample.id).where(Sample.number == number)))))


def test_save_all_rows_at_once_without_javascript(client, session, world):
    number = world.new_sample(session)
    login(client, "tech")
    token = csrf(client, f"/samples/{number}")
    resp = client.post(f"/samples/{number}/grid", data={
        "csrf_token": token, "save": "all",
        f"value-{world.mass_id}": "100.01", f"unit-{world.mass_id}": "g",
        f"instrument_id-{world.mass_id}": str(world.balance_id),
        f"value-{world.length_id}": "1.25", f"unit-{world.length_id}": "cm"})
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith(f"/samples/{number}#result-grid")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "2 results recorded." in page
    assert "100.01 g" in page and "1.25 cm" in page
    assert _results(session, number) == 2


def test_one_refused_row_writes_nothing_and_keeps_what_was_typed(client, session, world):
    number = world.new_sample(session)
    login(client, "tech")
    token = csrf(client, f"/samples/{number}")
    resp = client.post(f"/samples/{number}/grid", data={
        "csrf_token": token, "save": "all",
        f"value-{world.mass_id}": "100.01", f"unit-{world.mass_id}": "g",
        f"value-{world.length_id}": "12.5", f"unit-{world.length_id}": "kg"})
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert _results(session, number) == 0  # the good row was not written either
    assert "Nothing was saved: 1 row needs correcting." in page
    # The error is beside the unit field, names both units, and the typed input is kept.
    error = re.search(rf'id="unit-{world.length_id}-error">([^<]*)<', page).group(1)
    assert "kg" in error and "mm" in error
    assert f'name="unit-{world.length_id}" id="unit-{world.length_id}" value="kg"' in page
    assert f'aria-describedby="unit-{world.length_id}-error"' in page
    assert f'name="value-{world.mass_id}" id="value-{world.mass_id}" value="100.01"' in page
    assert "<html" in page  # without JavaScript: the whole page again


def test_save_one_row_as_a_fragment_keeps_the_other_rows_typing(client, session, world):
    number = world.new_sample(session)
    login(client, "tech")
    token = csrf(client, f"/samples/{number}")
    resp = client.post(f"/samples/{number}/grid?fragment=grid", data={
        "csrf_token": token, "save": str(world.mass_id),
        f"value-{world.mass_id}": "100.01", f"unit-{world.mass_id}": "g",
        f"value-{world.length_id}": "12.5", f"unit-{world.length_id}": "mm"})
    assert resp.status_code == 200 and resp.headers["X-Fragment"] == "grid"
    page = resp.get_data(as_text=True)
    assert "<html" not in page and page.lstrip().startswith('<div id="result-grid"')
    assert 'data-status="in testing"' in page and "1 result recorded." in page
    assert f'id="value-{world.length_id}" value="12.5"' in page  # not saved, not lost
    assert _results(session, number) == 1
    # Nothing typed in the row asked for: refused, beside the field.
    resp = client.post(f"/samples/{number}/grid?fragment=grid", data={
        "csrf_token": token, "save": str(world.length_id)})
    assert resp.status_code == 422 and f'id="value-{world.length_id}-error"' in resp.get_data(
        as_text=True)


def test_correction_refused_beside_its_field_with_input_kept(client, session, world):
    number = world.new_sample(session)
    login(client, "tech")
    token = csrf(client, f"/samples/{number}")
    client.post(f"/samples/{number}/grid", data={
        "csrf_token": token, f"value-{world.length_id}": "12.0", f"unit-{world.length_id}": "mm"})
    session.rollback()
    rid = session.scalar(select(Result.id).where(Result.characteristic_id == world.length_id,
                                                 Result.test.has(sample_id=session.scalar(
                                                     select(Sample.id).where(
                                                         Sample.number == number)))))
    resp = client.post(f"/results/{rid}/correct?fragment=grid", data={
        "csrf_token": token, "value": "12.6", "unit": "kg", "reason": "typo"})
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    error = html.unescape(re.search(rf'id="correct-unit-{rid}-error">([^<]*)<', page).group(1))
    assert "'kg'" in error and "'mm'" in error
    assert 'value="12.6"' in page and 'value="typo"' in page and "<details open>" in page
    resp = client.post(f"/results/{rid}/correct?fragment=grid", data={
        "csrf_token": token, "value": "12.6", "unit": "mm", "reason": "typo"})
    assert resp.status_code == 200
    assert "Result corrected (version 2); version 1 is kept." in resp.get_data(as_text=True)


def test_only_fit_instruments_of_the_quantity_are_offered(client, session, world):
    from lims.db import unit_of_work, utcnow
    from lims.instruments.services import register_instrument

    with unit_of_work(session):
        qm = world.user(session, "qm")
        today = utcnow().date()
        for asset, due, status in (("EQ-7", 200, None), ("EQ-8", -1, None),
                                   ("EQ-9", 200, "out of service")):
            inst = register_instrument(session, actor=qm, timezone="Asia/Shanghai", data={
                "asset_number": asset, "name": f"Balance {asset}", "driver": "mt-sics",
                "port": "/nonexistent",
                "quantities": [{"quantity": "mass", "unit": "mg"}],
                "calibrated_on": (today - dt.timedelta(days=300)).isoformat(),
                "calibration_due_on": (today + dt.timedelta(days=due)).isoformat()})
            if status:
                inst.status = status
    number = world.new_sample(session)
    login(client, "tech")
    page = client.get(f"/samples/{number}").get_data(as_text=True)
    mass_row = page.split(f'data-characteristic="{world.mass_id}"')[1].split("</tr>")[0]
    capture = mass_row.split('class="inline capture"')[1].split("</form>")[0]
    offered = re.findall(r'<option value="(\d+)"( selected)?>(EQ-\d+)', capture)
    assert [(a, s) for _i, s, a in offered] == [("EQ-1", " selected"), ("EQ-7", "")]
    # The typed row's instrument is a type-ahead field: the server's list, fit ones only.
    assert f'name="instrument-{world.mass_id}"' in mass_row
    assert "EQ-2" not in mass_row and "EQ-8" not in mass_row and "EQ-9" not in mass_row
    found = client.get(f"/samples/{number}/instruments?characteristic={world.mass_id}").json
    assert [i["asset_number"] for i in found["instruments"]] == ["EQ-1", "EQ-7"]
    found = client.get(f"/samples/{number}/instruments?characteristic={world.mass_id}&q=eq-7")
    assert [(i["value"], i["label"]) for i in found.json["instruments"]] == [
        ("EQ-7", "Balance EQ-7")]
    found = client.get(f"/samples/{number}/instruments?characteristic={world.length_id}")
    assert found.json == {"instruments": []}
    length_row = page.split(f'data-characteristic="{world.length_id}"')[1].split("</tr>")[0]
    assert "EQ-" not in length_row and 'class="inline capture"' not in length_row
    session.rollback()
    assert session.scalar(select(func.count(Instrument.id))) == 5


def _page_size_mm(pdf: bytes) -> tuple[float, float]:
    box = re.search(rb"/MediaBox \[\s*([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)", pdf)
    return (round(float(box.group(3)) / 72 * 25.4, 1), round(float(box.group(4)) / 72 * 25.4, 1))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("size", "mm"), [("50x30", (50.0, 30.0)), ("40x30", (40.0, 30.0)),
                                          ("70x40", (70.0, 40.0)), ("a4", (210.0, 297.0))])
def test_label_pdf_on_each_size(client, session, world, tmp_path, size, mm):
    number = world.new_sample(session)
    login(client, "tech")
    resp = client.get(f"/samples/{number.lower()}/label.pdf?size={size}")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    pdf = resp.data
    assert _page_size_mm(pdf) == mm
    path = tmp_path / "label.pdf"
    path.write_bytes(pdf)
    text = pdftotext(path)
    assert number in text and "test fabric" in text
    assert re.search(r"\d{4}-\d{2}-\d{2}", text)
    # The barcode is drawn: a line across the label's top fifth crosses Code 128's bars.
    assert _bars_across(path, mm, top=0.2) > 40


def _bars_across(pdf: Path, size_mm: tuple[float, float], *, top: float) -> int:
    """Black/white changes along a horizontal line ``top`` of the first label's height down."""
    from PIL import Image

    subprocess.run([require_binary("pdftoppm"), "-r", "300", "-gray", "-png", "-singlefile",
                    str(pdf), str(pdf.with_suffix(""))], check=True)
    image = Image.open(pdf.with_suffix(".png")).convert("L")
    scale = image.width / size_mm[0]  # pixels per mm
    first = (0.0, 0.0) if size_mm[0] < 200 else ((210 - 3 * 70) / 2, (297 - 8 * 37) / 2)
    height = size_mm[1] if size_mm[0] < 200 else 37
    y = int((first[1] + height * top) * scale)
    row = [image.getpixel((x, y)) < 128 for x in range(image.width)]
    return sum(1 for a, b in zip(row, row[1:], strict=False) if a != b)


def test_labels_of_several_samples_and_bad_sizes(client, session, world, tmp_path):
    first, second = world.new_sample(session), world.new_sample(session)
    login(client, "tech")
    resp = client.get(f"/labels.pdf?numbers={first},{second.lower()}&size=50x30")
    assert resp.status_code == 200
    path = tmp_path / "labels.pdf"
    path.write_bytes(resp.data)
    text = pdftotext(path)
    assert first in text and second in text and resp.data.count(b"/Type /Page\n") + \
        resp.data.count(b"/Type /Page ") + resp.data.count(b"/Type /Page>") >= 2
    bad = client.get(f"/samples/{first}/label.pdf?size=99x99",
                     headers={"Accept": "application/json"})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "size"
    assert client.get("/labels.pdf?numbers=", headers={"Accept": "application/json"}
                      ).status_code == 422
    assert client.get("/labels.pdf?numbers=NOPE-1").status_code == 404


def test_a_row_recorded_meanwhile_is_refused_beside_it(client, session, world):
    number = world.new_sample(session)
    login(client, "tech")
    token = csrf(client, f"/samples/{number}")
    row = {"csrf_token": token, f"value-{world.length_id}": "12.0",
           f"unit-{world.length_id}": "mm"}
    assert client.post(f"/samples/{number}/grid", data=row).status_code == 303
    # The same page submitted again (another tab, a double click): refused, nothing doubled.
    resp = client.post(f"/samples/{number}/grid?fragment=grid", data={
        **row, f"value-{world.mass_id}": "100.00", f"unit-{world.mass_id}": "g"})
    assert resp.status_code == 422
    page = html.unescape(resp.get_data(as_text=True))
    assert "already has a result" in page.split(f'id="row-{world.length_id}-error">')[1]
    assert _results(session, number) == 1


def test_the_grid_is_for_those_who_record_results(client, session, world):
    number = world.new_sample(session)
    login(client, "auditor")
    page = client.get(f"/samples/{number}").get_data(as_text=True)
    assert 'id="grid-form"' not in page and f'id="value-{world.mass_id}"' not in page
    resp = client.post(f"/samples/{number}/grid", data={
        "csrf_token": csrf(client, f"/samples/{number}"), f"value-{world.mass_id}": "1",
        f"unit-{world.mass_id}": "g"}, headers={"Accept": "application/json"})
    assert resp.status_code == 403
    assert _results(session, number) == 0


def test_the_sample_page_in_chinese(client, session, world):
    number = world.new_sample(session)
    login(client, "tech")
    page = client.get(f"/samples/{number}", headers={"Accept-Language": "zh-CN"}).get_data(
        as_text=True)
    for text in ("检验项目", "技术要求", "全部保存", "采集", "流程", "标签", "Specimen mass：数值"):
        assert text in page, text
    assert 'id="sample-status">已接收<' in page


def test_a_capture_that_cannot_read_is_shown_beside_the_control(client, session, world):
    number = world.new_sample(session)  # the balance's port does not exist
    login(client, "tech")
    resp = client.post(f"/samples/{number}/capture", data={
        "csrf_token": csrf(client, f"/samples/{number}"), "characteristic_id": world.mass_id,
        "instrument_id": world.balance_id})
    assert resp.status_code == 422
    page = html.unescape(resp.get_data(as_text=True))
    error = page.split(f'id="capture-{world.mass_id}-error">')[1].split("<")[0]
    assert "EQ-1" in error
    assert f'aria-describedby="capture-{world.mass_id}-error"' in page
    assert _results(session, number) == 0


def test_labels_of_every_sample_of_a_request(client, session, world):
    from lims.db import unit_of_work
    from lims.samples import services

    tech = world.user(session, "tech")
    with unit_of_work(session):
        req = services.create_request(session, actor=tech, customer_id=world.customer_id,
                                      number_format="WT{year}-{seq:06d}",
                                      timezone="Asia/Shanghai")
        numbers = [services.register_sample(session, actor=tech, request_id=req.id,
                                            description=f"fabric {i}",
                                            method_ids=[world.method_id],
                                            number_format="YP{year}-{seq:06d}",
                                            timezone="Asia/Shanghai").number for i in range(2)]
    login(client, "tech")
    page = html.unescape(client.get(f"/samples/{numbers[0]}").get_data(as_text=True))
    assert f"/labels.pdf?numbers={numbers[0]},{numbers[1]}" in page.replace("%2C", ",")


def _typed(client, session, world, cid, value, unit, instrument):
    """Post one grid row with its instrument typed by asset number (no JavaScript)."""
    number = world.new_sample(session)
    login(client, "tech")
    token = csrf(client, f"/samples/{number}")
    return number, client.post(f"/samples/{number}/grid", data={
        "csrf_token": token, "save": "all", f"value-{cid}": value, f"unit-{cid}": unit,
        f"instrument-{cid}": instrument})


def test_the_instrument_typed_by_asset_number_is_recorded(client, session, world):
    """Without JavaScript the grid's instrument field takes the asset number, in any case."""
    _number, resp = _typed(client, session, world, world.mass_id, "100.01", "g", " eq-1 ")
    assert resp.status_code == 303
    session.rollback()
    assert session.scalars(select(Result.instrument_id)).all() == [world.balance_id]


@pytest.mark.parametrize(("typed", "error"), [
    ("EQ-404", "no instrument has the asset number 'EQ-404'"),
    ("EQ-2", "EQ-2 had no calibration in force"),
])
def test_an_unknown_or_unfit_instrument_is_refused_beside_its_field(client, session, world,
                                                                     typed, error):
    number, resp = _typed(client, session, world, world.mass_id, "100.01", "g", typed)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    shown = html.unescape(re.search(rf'id="instrument_id-{world.mass_id}-error">([^<]*)<',
                                    page).group(1))
    assert error in shown
    assert f'id="instrument-{world.mass_id}" value="{typed}"' in page  # kept as typed
    assert f'aria-describedby="instrument_id-{world.mass_id}-error"' in page
    assert _results(session, number) == 0


def test_an_instrument_of_another_quantity_is_refused(client, session, world):
    _number, resp = _typed(client, session, world, world.length_id, "12.5", "mm", "EQ-1")
    assert resp.status_code == 422
    assert "EQ-1 does not measure Length (mm)" in resp.get_data(as_text=True)


@pytest.mark.parametrize("query", ["", "characteristic=abc", "characteristic=999999",
                                   "characteristic={mass}&q=%00"])
def test_the_instrument_search_names_a_bad_parameter(client, session, world, query):
    number = world.new_sample(session)
    login(client, "tech")
    resp = client.get(f"/samples/{number}/instruments?" + query.format(mass=world.mass_id),
                      headers={"Accept": "application/json"})
    assert resp.status_code in (400, 422)
    body = resp.get_data(as_text=True)
    assert "characteristic" in body or "q" in body
