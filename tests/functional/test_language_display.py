"""Stored identifiers shown in the reader's language (issue 11 §1): quantity kinds on the
method pages and in unit refusals, instrument roles and quantities, calibration points and
port settings. The stored values and the JSON API's English text do not change."""

from __future__ import annotations

import datetime as dt
from typing import Any

from lims.db import unit_of_work, utcnow
from lims.instruments.services import register_instrument
from tests.support.world import TZ, csrf, login

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}
METHODS = {"Referer": "http://localhost/methods"}
# The English text of a refusal, which the API keeps byte for byte.
MISMATCH = ("unit 'degC' (temperature or temperature_difference) is not a unit of mass (质量 mass: "
            "kg, g, mg, μg, t, or any unit of its dimension)")


def _main(page: str) -> str:
    return page.split("<main", 1)[1]


def _method(token: str, code: str, **row: str) -> dict[str, Any]:
    blank = {"kind": "", "unit": "", "lower_limit": "", "upper_limit": "", "lod": "", "loq": "",
             "expected": ""}
    return {"csrf_token": token, "code": code, "title": "t", "field": "textiles",
            "name": ["样品特性"], **{key: [value] for key, value in {**blank, **row}.items()}}


def test_methods_pages_name_kinds_and_fields_in_the_readers_language(client: Any,
                                                                      world: Any) -> None:
    login(client, "qm")
    zh = _main(client.get("/methods", headers=ZH).get_data(as_text=True))
    table = zh.split("</table>", 1)[0]
    assert "<td>质量</td>" in table and "纺织品" in table
    assert ">mass<" not in table and "textiles" not in table
    form = zh.split('id="method-form"', 1)[1]
    assert '<option value="temperature_difference">温差</option>' in form
    assert '<option value="mass">质量</option>' in form and "mass 质量" not in form
    assert 'placeholder="例如 纺织品"' in form
    method = _main(client.get(f"/methods/{world.method_id}", headers=ZH).get_data(as_text=True))
    assert "<td>质量</td>" in method and "<td>textiles</td>" not in method
    en = _main(client.get("/methods", headers=EN).get_data(as_text=True))
    assert "<td>mass</td>" in en and "textiles" in en
    assert '<option value="temperature_difference">temperature difference</option>' in en
    assert 'placeholder="e.g. textiles"' in en


def test_a_unit_of_another_kind_is_refused_by_the_kinds_chinese_name(client: Any,
                                                                     world: Any) -> None:
    login(client, "qm")
    token = csrf(client, "/methods")
    client.post("/methods", headers={**METHODS, **ZH},
                data=_method(token, "ZH 9-2026", kind="mass", unit="degC", upper_limit="5"))
    page = _main(client.get("/methods", headers=ZH).get_data(as_text=True))
    assert "单位 &#39;degC&#39;（温度或温差） 不是质量（kg, g, mg, μg, t，或同一量纲的任何单位）的单位" \
        in page, page[:1200]
    flash = page.split("</table>", 1)[0]
    assert "temperature_difference" not in flash and "any unit of its dimension" not in flash
    client.post("/methods", headers={**METHODS, **EN},
                data=_method(token, "ZH 9-2026", kind="mass", unit="degC", upper_limit="5"))
    page = _main(client.get("/methods", headers=EN).get_data(as_text=True))
    assert MISMATCH.replace("'", "&#39;") in page
    # The API keeps the English text, whatever the reader's language.
    resp = client.post("/api/v1/methods", json={
        "code": "ZH 9-2026", "title": "t", "field": "textiles",
        "characteristics": [{"name": "m", "kind": "mass", "unit": "degC"}]},
        headers={**ZH, "X-CSRFToken": csrf(client, "/methods")})
    assert resp.status_code == 422
    assert resp.get_json()["error"]["message"] == MISMATCH


def test_a_value_outside_the_kinds_domain_names_the_kind_in_chinese(client: Any,
                                                                   world: Any) -> None:
    login(client, "qm")
    token = csrf(client, "/methods")
    client.post("/methods", headers={**METHODS, **ZH},
                data=_method(token, "ZH 10-2026", kind="mass", unit="g", lower_limit="-5"))
    page = _main(client.get("/methods", headers=ZH).get_data(as_text=True))
    assert "超出了质量的可能取值范围（≥ 0）" in page, page[:1200]
    client.post("/methods", headers={**METHODS, **EN},
                data=_method(token, "ZH 10-2026", kind="mass", unit="g", lower_limit="-5"))
    page = _main(client.get("/methods", headers=EN).get_data(as_text=True))
    assert "is outside the values a mass can take (≥ 0)" in page


def _instrument(session: Any, world: Any) -> None:
    """A weight set on a balance port: conventional mass, indication, a baud rate."""
    from lims.calibration.certificates import parse_json
    from lims.calibration.services import record_certificate
    from lims.instruments.models import Instrument

    today = utcnow().date()
    with unit_of_work(session):
        register_instrument(session, actor=world.user(session, "qm"), timezone=TZ, data={
            "asset_number": "EQ-7", "name": "Weights", "role": "working standard",
            "driver": "mt-sics", "port": "/nonexistent", "baudrate": "9600",
            "quantities": [{"quantity": "conventional mass", "unit": "g"}],
            "calibrated_on": (today - dt.timedelta(days=10)).isoformat(),
            "calibration_due_on": (today + dt.timedelta(days=300)).isoformat()})
    with unit_of_work(session):
        instrument = session.query(Instrument).filter_by(asset_number="EQ-7").one()
        cert = parse_json({
            "number": "W-1", "instrument": "EQ-7",
            "provider": {"name": "Provincial Metrology Institute", "kind": "accredited",
                         "accreditation": "CNAS L0001", "country": "CN"},
            "calibrated_on": (today - dt.timedelta(days=5)).isoformat(),
            "valid_until": (today + dt.timedelta(days=300)).isoformat(), "standards_used": [],
            "results": [{"quantity": "conventional mass", "nominal": "100", "value": "100.0002",
                         "unit": "g", "expanded_uncertainty": "0.0003", "k": "2"},
                        {"quantity": "indication", "nominal": "200", "value": "200.0001",
                         "unit": "g", "expanded_uncertainty": "0.0003", "k": "2"}]})
        record_certificate(session, actor=world.user(session, "qm"), instrument=instrument,
                           cert=cert, source="typed", timezone=TZ)


def test_instrument_list_and_export_show_roles_and_quantities_by_name(client: Any, session: Any,
                                                                      world: Any) -> None:
    _instrument(session, world)
    login(client, "qm")
    zh = _main(client.get("/instruments/", headers=ZH).get_data(as_text=True))
    assert '<option value="working standard">工作标准</option>' in zh
    assert '<option value="conventional mass">折算质量</option>' in zh
    assert '<option value="mass">质量</option>' in zh
    rows = zh.split('<table id="instruments">', 1)[1].split("</table>", 1)[0]
    assert "<td>工作标准</td>" in rows and "<td>检测设备</td>" in rows
    assert "working standard" not in rows and "test equipment" not in rows
    csv = client.get("/instruments/?format=csv", headers=ZH).get_data().decode("utf-8-sig")
    assert "工作标准" in csv and "折算质量 (g)" in csv and "working standard" not in csv
    en = _main(client.get("/instruments/", headers=EN).get_data(as_text=True))
    assert "<td>working standard</td>" in en
    assert '<option value="conventional mass">conventional mass</option>' in en
    csv = client.get("/instruments/?format=csv", headers=EN).get_data().decode("utf-8-sig")
    assert "working standard" in csv and "conventional mass (g)" in csv


def test_instrument_page_reads_as_words_not_codes(client: Any, session: Any, world: Any) -> None:
    _instrument(session, world)
    login(client, "qm")
    zh = _main(client.get("/instruments/EQ-7", headers=ZH).get_data(as_text=True))
    assert '<span class="muted" id="port-settings">波特率 9600</span>' in zh
    assert "{&#39;baudrate" not in zh and "[mass]" not in zh and "dimensionless" not in zh
    assert "<td>折算质量</td>" in zh and "<td>示值</td>" in zh
    # An instrument's quantity is what it measures, not a sample's quantity (样品数量).
    assert '<th scope="col">测量参数</th>' in zh and "样品数量" not in zh
    shown = zh.split('<table id="quantities">', 1)[1].split('<table id="checks">', 1)[0]
    assert "indication" not in shown and "conventional mass" not in shown
    assert "登记时录入" in zh and ">register " not in zh
    en = _main(client.get("/instruments/EQ-7", headers=EN).get_data(as_text=True))
    assert "baud rate 9600" in en and "<td>indication</td>" in en
    assert '<th scope="col">Quantity</th>' in en
    assert "entered at registration" in en


def test_traceability_page_names_the_calibrated_quantity(client: Any, session: Any, world: Any,
                                                        settings: Any) -> None:
    world.calibrate(session, world.balance_id, valid_until=utcnow().date() + dt.timedelta(days=90))
    _, report = world.reported_sample(session, settings)
    login(client, "qm")
    zh = _main(client.get(f"/reports/{report}/traceability", headers=ZH).get_data(as_text=True))
    nodes = zh.split('<table class="chain-nodes">', 1)[1].split("</table>", 1)[0]
    assert "<td>质量<br>" in nodes and ">mass<" not in nodes
    en = _main(client.get(f"/reports/{report}/traceability", headers=EN).get_data(as_text=True))
    assert "<td>mass<br>" in en
