"""Results mean what they say (issue 9), through the JSON API on SQLite and PostgreSQL.

Each test reproduces a problem of the issue: before quantity kinds it passed a wrong result,
refused a right one, answered 500, or printed pint's spelling.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from lims.audit.models import AuditEvent
from lims.db import unit_of_work, utcnow
from lims.reports.models import Report
from lims.samples import services
from lims.samples.models import Result, Sample
from tests.support.pdf import pdftotext
from tests.support.world import PASSWORD


def _api(client, session, world, who):
    token = world.token(session, who)

    def call(method, path, body=None):
        return client.open(path, method=method, json=body,
                           headers={"Authorization": f"Bearer {token}"})
    return call


@pytest.fixture
def lab(client, session, world):
    """The API as each role, and a helper that makes a method and a received sample for it."""
    roles = {who: _api(client, session, world, who)
             for who in ("qm", "tech", "reviewer", "signatory")}

    def sample_for(*characteristics, code="K-1", received_at=None):
        resp = roles["qm"]("POST", "/api/v1/methods", {
            "code": code, "title": "kinds", "field": "textiles",
            "characteristics": list(characteristics)})
        assert resp.status_code == 201, resp.get_data(as_text=True)
        method = resp.json
        req = roles["tech"]("POST", "/api/v1/requests", {"customer_id": world.customer_id}).json
        number = roles["tech"]("POST", "/api/v1/samples", {
            "request_id": req["id"], "description": "d", "method_ids": [method["id"]]}
            ).json["number"]
        with unit_of_work(session):
            services.receive_sample(session, actor=world.user(session, "tech"), number=number,
                                    condition="intact", received_at=received_at)
        return number, [c["id"] for c in method["characteristics"]], method

    roles["sample_for"] = sample_for
    return roles


def _counts(session):
    session.rollback()
    return (session.scalar(select(func.count(Result.id))),
            session.scalar(select(func.count(AuditEvent.id))))


def _result(lab, number, cid, value, unit, **more):
    return lab["tech"]("POST", f"/api/v1/samples/{number}/results",
                       {"characteristic_id": cid, "value": value, "unit": unit, **more})


def _content(session, report):
    session.rollback()  # a fresh snapshot: the report was issued in another session
    return json.loads(session.scalar(select(Report.content).where(Report.number == report)))


def _report(lab, number):
    for who, action, body in (("tech", "complete", None), ("reviewer", "review", None),
                              ("signatory", "approve", {"password": PASSWORD})):
        resp = lab[who]("POST", f"/api/v1/samples/{number}/{action}", body)
        assert resp.status_code == 200, resp.get_data(as_text=True)
    resp = lab["signatory"]("POST", f"/api/v1/samples/{number}/report", {"password": PASSWORD})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.json["number"]


def test_a_motor_in_r_per_min_against_limits_in_hz(lab, session):
    """1500 r/min is 25 Hz of rotational frequency (pint said 157.08 Hz: 不合格)."""
    number, (speed,), _ = lab["sample_for"]({
        "name": "转速 Speed", "kind": "rotational_frequency", "unit": "Hz",
        "lower_limit": "24", "upper_limit": "26"})
    resp = _result(lab, number, speed, "1500", "r/min")
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert (resp.json["value"], resp.json["unit"], resp.json["unit_canonical"],
            resp.json["conformity"]) == ("1500", "r/min", "1 / minute", "pass")


def test_a_supply_frequency_refuses_r_per_min(lab, session):
    number, (freq,), method = lab["sample_for"]({"name": "Supply", "unit": "Hz",
                                                 "lower_limit": "49", "upper_limit": "51"})
    resp = _result(lab, number, freq, "3000", "r/min")
    assert resp.status_code == 422 and resp.json["error"]["code"] == "unit_mismatch"
    assert "'r/min'" in resp.json["error"]["message"]
    assert "frequency" in resp.json["error"]["message"]
    assert method["characteristics"][0]["kind"] == "frequency"


def test_relative_humidity_refuses_a_mass_fraction_and_its_domain(lab, session):
    """"45 mg/kg" was accepted against "≤ 60 %RH" and passed: %RH was plain percent."""
    number, (rh,), method = lab["sample_for"]({"name": "湿度 Humidity", "unit": "%RH",
                                               "upper_limit": "60"})
    before = _counts(session)
    resp = _result(lab, number, rh, "45", "mg/kg")
    assert resp.status_code == 422, resp.get_data(as_text=True)
    error = resp.json["error"]
    assert (error["code"], error["field"]) == ("unit_mismatch", "unit")
    assert "'mg/kg'" in error["message"] and "relative_humidity" in error["message"]
    resp = _result(lab, number, rh, "101", "%RH")
    assert resp.status_code == 422 and resp.json["error"]["field"] == "value"
    assert "0 … 100" in resp.json["error"]["message"]
    assert _counts(session) == before
    assert _result(lab, number, rh, "45", "%RH").json["conformity"] == "pass"
    assert method["characteristics"][0]["kind"] == "relative_humidity"


def test_mass_and_volume_fractions_are_not_interchangeable(lab, session):
    """A %(V/V) result was accepted against a %(m/m) limit (%(m/m) parsed as % · m / m)."""
    number, (fat,), method = lab["sample_for"]({"name": "脂肪 Fat", "unit": "%(m/m)",
                                                "upper_limit": "5"})
    before = _counts(session)
    resp = _result(lab, number, fat, "4.0", "%(V/V)")
    assert resp.status_code == 422 and resp.json["error"]["code"] == "unit_mismatch"
    assert "'%(V/V)'" in resp.json["error"]["message"]
    assert "mass_fraction" in resp.json["error"]["message"]
    assert _counts(session) == before
    resp = _result(lab, number, fat, "4.0", "%(m/m)")
    assert (resp.json["unit"], resp.json["conformity"]) == ("%(m/m)", "pass")
    assert (method["characteristics"][0]["kind"], method["characteristics"][0]["unit"]) == (
        "mass_fraction", "%(m/m)")


def test_reports_print_units_as_the_technician_wrote_them(lab, session, tmp_path):
    """The report printed pint's spelling: rpm, m·N, %."""
    number, (fat, torque, speed, share), method = lab["sample_for"](
        {"name": "脂肪 Fat", "kind": "mass_fraction", "unit": "%(m/m)", "upper_limit": "5"},
        {"name": "扭矩 Torque", "unit": "N·m", "lower_limit": "4", "upper_limit": "6"},
        {"name": "转速 Speed", "unit": "r/min", "upper_limit": "1600"},
        {"name": "Share", "kind": "ratio", "unit": "%", "upper_limit": "50"})
    for cid, value, unit in ((fat, "4.0", "%(m/m)"), (torque, "4.52", "N·m"),
                             (speed, "1500", "r/min"), (share, "12", "%")):
        resp = _result(lab, number, cid, value, unit)
        assert resp.status_code == 201 and resp.json["conformity"] == "pass", resp.json
    report = _report(lab, number)
    content = _content(session, report)
    lines = {r["characteristic"]: (r["value"], r["unit"], r["requirement"])
             for r in content["results"]}
    assert lines["扭矩 Torque"] == ("4.52", "N·m", "4 … 6 N·m")
    assert lines["转速 Speed"] == ("1500", "r/min", "≤ 1600 r/min")
    assert lines["脂肪 Fat"] == ("4.0", "%(m/m)", "≤ 5 %(m/m)")
    path = tmp_path / "report.pdf"
    path.write_bytes(session.scalar(select(Report.pdf).where(Report.number == report)))
    text = pdftotext(path)
    for needle in ("4.0 %(m/m)", "4.52 N·m", "1500 r/min", "≤ 1600 r/min"):
        assert needle in text, needle
    assert "rpm" not in text and "m·N" not in text
    assert [c["kind"] for c in method["characteristics"]] == [
        "mass_fraction", "torque", "rotational_frequency", "ratio"]


def test_ph_and_decibels_are_their_own_kinds_and_never_answer_500(lab, session):
    """pH parsed as picohenry, dB(A) as decibel × ampere, and "3 dB" against % answered 500."""
    number, (ph, share, noise), method = lab["sample_for"](
        {"name": "pH", "unit": "pH", "lower_limit": "4.0", "upper_limit": "8.5"},
        {"name": "Share", "unit": "%", "upper_limit": "50"},
        {"name": "噪声 Noise", "unit": "dB(A)", "upper_limit": "85"})
    for value, unit in (("3", "dB"), ("3", "pH"), ("3", "dB(A)")):
        resp = _result(lab, number, share, value, unit)
        assert resp.status_code == 422, resp.get_data(as_text=True)
        assert f"'{unit}'" in resp.json["error"]["message"]
        assert "ratio" in resp.json["error"]["message"]
    assert _result(lab, number, ph, "7.2", "pH").json["conformity"] == "pass"
    assert [c["kind"] for c in method["characteristics"]] == ["ph", "ratio", "sound_level"]
    resp = _result(lab, number, noise, "80", "dB(C)")
    assert resp.status_code == 422 and "never converted" in resp.json["error"]["message"]
    assert _result(lab, number, noise, "80", "dB(A)").json["conformity"] == "pass"


def test_a_temperature_rise_takes_degrees_celsius_as_a_difference(lab, session):
    """"45 ℃" against "温升 ≤ 80 K" became 318.15 K and failed."""
    number, (rise,), _ = lab["sample_for"]({
        "name": "温升 Temperature rise", "kind": "temperature_difference", "unit": "K",
        "upper_limit": "80"})
    resp = _result(lab, number, rise, "45", "℃")
    assert resp.status_code == 201 and resp.json["conformity"] == "pass"
    assert (resp.json["unit"], resp.json["unit_canonical"]) == ("℃", "delta_degree_Celsius")
    resp = lab["qm"]("POST", "/api/v1/methods", {
        "code": "K-2", "title": "t", "field": "textiles",
        "characteristics": [{"name": "温升", "unit": "K", "upper_limit": "80"}]})
    assert resp.status_code == 422
    assert resp.json["error"]["field"] == "characteristics[0].kind"
    assert "temperature or temperature_difference" in resp.json["error"]["message"]


def test_lab_value_syntax_is_kept_as_entered_and_judged(lab, session):
    """"<0.01", "未检出"/"ND", "阴性", "1.5×10³" and "4-5" 级 were refused; "−5 mg/kg" passed."""
    number, (hcho, germs, fastness, odour, lead), _ = lab["sample_for"](
        {"name": "甲醛 Formaldehyde", "unit": "mg/kg", "upper_limit": "0.05", "lod": "0.01",
         "loq": "0.03"},
        {"name": "菌落总数 Aerobic count", "unit": "CFU/g", "upper_limit": "1×10⁴"},
        {"name": "色牢度 Fastness", "kind": "grade", "unit": "级", "lower_limit": "4"},
        {"name": "沙门氏菌 Salmonella", "kind": "qualitative", "expected": "阴性"},
        {"name": "铅 Lead", "unit": "mg/kg", "upper_limit": "90", "lod": "0.5"})
    before = _counts(session)
    resp = _result(lab, number, lead, "−5", "mg/kg")
    assert resp.status_code == 422 and resp.json["error"]["field"] == "value"
    assert "mass fraction" in resp.json["error"]["message"]
    assert _counts(session) == before
    got = {cid: _result(lab, number, cid, value, unit).json for cid, value, unit in (
        (hcho, "<0.01", "mg/kg"), (germs, "1.5×10³", "CFU/g"), (fastness, "4-5", "级"),
        (odour, "阴性", None), (lead, "ND", "mg/kg"))}
    assert [(got[c]["value"], got[c]["conformity"]) for c in (hcho, germs, fastness, odour,
                                                              lead)] == [
        ("<0.01", "pass"), ("1.5×10³", "pass"), ("4-5", "pass"), ("阴性", "pass"),
        ("ND", "pass")]
    assert got[lead]["shown"] == "未检出 (< 0.5 mg/kg)"
    assert got[odour]["unit"] == ""
    report = _report(lab, number)
    content = _content(session, report)
    lines = {r["characteristic"]: r for r in content["results"]}
    assert (lines["铅 Lead"]["value"], lines["铅 Lead"]["unit"]) == ("未检出 (< 0.5 mg/kg)", "")
    assert lines["菌落总数 Aerobic count"]["requirement"] == "≤ 1×10⁴ CFU/g"
    assert "bound" in content["decision_rule"]


def test_measurement_times_are_given_checked_and_make_the_report_dates(lab, session, world):
    """The entry time stood for the measurement time, a result measured before receipt was
    accepted, and the report's dates of testing started before receipt."""
    received = utcnow() - dt.timedelta(days=3)
    number, (mass, length), _ = lab["sample_for"](
        {"name": "m", "unit": "g", "lower_limit": "1"},
        {"name": "l", "unit": "mm", "lower_limit": "1"}, received_at=received)
    before = _counts(session)
    for at, words in ((received - dt.timedelta(hours=1), "before sample"),
                      (utcnow() + dt.timedelta(days=1), "in the future"),
                      ("yesterday", "not a date and time")):
        resp = _result(lab, number, mass, "2", "g",
                       measured_at=at if isinstance(at, str) else at.isoformat())
        assert resp.status_code == 422, resp.get_data(as_text=True)
        assert resp.json["error"]["field"] == "measured_at"
        assert words in resp.json["error"]["message"]
    assert _counts(session) == before
    at = received + dt.timedelta(days=1)
    resp = _result(lab, number, mass, "2", "g", measured_at="2000-01-01T00:00:00+08:00")
    assert resp.status_code == 422
    resp = _result(lab, number, mass, "2", "g",
                   measured_at=at.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat())
    assert resp.status_code == 201
    assert dt.datetime.fromisoformat(resp.json["measured_at"]) == at
    typed = _result(lab, number, length, "2", "mm").json  # no time given: now, and shown
    assert dt.datetime.fromisoformat(typed["measured_at"]) > at
    report = _report(lab, number)
    content = _content(session, report)
    assert dt.datetime.fromisoformat(content["tested_from"]) == at
    assert dt.datetime.fromisoformat(content["tested_from"]) >= \
        dt.datetime.fromisoformat(content["received_at"])


def test_a_result_with_an_instrument_unfit_at_its_time_is_422(lab, session, world):
    number = world.new_sample(session)
    resp = _result(lab, number, world.mass_id, "100.00", "g", instrument_id=world.overdue_id)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert (resp.json["error"]["code"], resp.json["error"]["field"]) == ("instrument_not_fit",
                                                                         "instrument_id")
    assert "EQ-2" in resp.json["error"]["message"]


def test_an_undecided_result_holds_the_review_until_a_reviewer_decides(lab, session, world):
    """A censored value whose bound straddles a limit is "cannot decide": shown, and resolved
    by a person with a reason before the review, on record."""
    number, (hcho,), _ = lab["sample_for"]({"name": "甲醛", "unit": "mg/kg",
                                           "upper_limit": "0.05"})
    result = _result(lab, number, hcho, "<0.1", "mg/kg").json
    assert (result["conformity"], result["verdict"], result["decision"]) == (
        "undecided", "undecided", None)
    assert lab["tech"]("POST", f"/api/v1/samples/{number}/complete").status_code == 200
    resp = lab["reviewer"]("POST", f"/api/v1/samples/{number}/review")
    assert resp.status_code == 409 and "undecided" in resp.json["error"]["message"]
    path = f"/api/v1/results/{result['id']}/decision"
    assert lab["tech"]("POST", path, {"conformity": "pass", "reason": "x"}).status_code == 403
    resp = lab["reviewer"]("POST", path, {"conformity": "pass"})
    assert resp.status_code == 422 and resp.json["error"]["field"] == "reason"
    resp = lab["reviewer"]("POST", path, {"conformity": "maybe", "reason": "r"})
    assert resp.status_code == 422 and resp.json["error"]["field"] == "conformity"
    reason = "LOQ of the retest 0.02 mg/kg; method blank clean"
    resp = lab["reviewer"]("POST", path, {"conformity": "pass", "reason": reason})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert lab["reviewer"]("POST", path, {"conformity": "fail", "reason": "r"}).status_code \
        == 409
    shown = lab["tech"]("GET", f"/api/v1/samples/{number}").json["tests"][0]["results"][0]
    assert (shown["conformity"], shown["verdict"]) == ("undecided", "pass")
    assert shown["decision"]["reason"] == reason
    assert lab["reviewer"]("POST", f"/api/v1/samples/{number}/review").status_code == 200
    assert lab["signatory"]("POST", f"/api/v1/samples/{number}/approve",
                            {"password": PASSWORD}).status_code == 200
    report = lab["signatory"]("POST", f"/api/v1/samples/{number}/report",
                              {"password": PASSWORD}).json["number"]
    content = _content(session, report)
    (line,) = content["results"]
    assert line["conformity"] == "pass" and reason in line["note"]
    assert "Reviewer Tester" in line["note"]
    session.rollback()
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "result.decide"))
    assert json.loads(event.after)["result_id"] == result["id"] and event.reason == reason


def test_a_corrected_result_can_resolve_an_undecided_one(lab, session, world):
    number, (hcho,), _ = lab["sample_for"]({"name": "甲醛", "unit": "mg/kg",
                                           "upper_limit": "0.05"})
    result = _result(lab, number, hcho, "<0.1", "mg/kg").json
    corrected = lab["tech"]("POST", f"/api/v1/results/{result['id']}/corrections", {
        "value": "<0.02", "unit": "mg/kg", "reason": "retested with a lower LOQ"}).json
    assert corrected["conformity"] == "pass"
    assert corrected["measured_at"] == result["measured_at"]  # a correction keeps the time
    assert lab["tech"]("POST", f"/api/v1/samples/{number}/complete").status_code == 200
    assert lab["reviewer"]("POST", f"/api/v1/samples/{number}/review").status_code == 200
    session.rollback()
    assert session.scalar(select(Sample.status).where(Sample.number == number)) == "reviewed"


def test_a_captured_temperature_is_not_taken_for_a_temperature_difference(lab, session, world):
    """℃ is both; only the instrument knows which it read (a Vaisala ``T`` against its ``dT``).
    Capture picks the reading of the characteristic's kind and refuses the other."""
    from drivers import Reading
    from lims.errors import UnitMismatch
    from lims.instruments.models import Instrument

    number, (rise,), _m = lab["sample_for"](
        {"name": "温升", "unit": "K", "kind": "temperature_difference", "upper_limit": "80"})
    at = utcnow()
    absolute = Reading("vaisala-hmt330", "45.0", "degC", True, "ok", b"T= 45.0 'C", at,
                       quantity="temperature")
    difference = Reading("vaisala-hmt330", "5.0", "delta_degC", True, "ok", b"dT= 5.0 'C", at,
                         quantity="temperature_difference")
    ch = session.get(services.Characteristic, rise)
    assert not services._of_kind(ch, absolute.unit, absolute.quantity)
    assert services._of_kind(ch, difference.unit, difference.quantity)
    before = _counts(session)
    with pytest.raises(UnitMismatch, match="temperature_difference"), unit_of_work(session):
        services.record_reading(session, actor=world.user(session, "tech"), number=number,
                                characteristic_id=rise, reading=absolute, timezone="UTC",
                                instrument=session.get(Instrument, world.balance_id))
    assert _counts(session) == before
