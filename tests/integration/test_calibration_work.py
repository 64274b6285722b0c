"""Calibration and verification of customers' instruments: procedures, jobs, readings, the
computation per point (checked against hand calculations), verdicts, the refusal of a standard
out of calibration, as found / as left, reading versions, and the certificate's content.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from lims.audit.models import AuditEvent
from lims.calibration import procedures, work
from lims.calibration.certificates import parse_json
from lims.calibration.models import CalibrationReading
from lims.calibration.services import record_certificate
from lims.db import unit_of_work, utcnow
from lims.errors import (
    CalibrationExpired,
    Conflict,
    InvalidInput,
    OutsideScope,
    SampleStateError,
    SeparationOfDuties,
    UnitMismatch,
)
from lims.instruments.models import Instrument
from lims.instruments.services import register_instrument
from lims.metrology.coverage import coverage_probability
from lims.reports.certificate_content import CertificateContent
from lims.samples import services as samples
from tests.support.calibration import BUDGET, FORMATS, LAB
from tests.support.world import PASSWORD, TZ

TODAY = utcnow().date()


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def standard(session, world, asset: str, *, calibrated: int = -100, valid: int = 200,
             number: str = "W-1") -> Instrument:
    """A set of E2 weights with a certificate of an accredited lab: 100 g (U 0.08 mg) and
    200 g (U 0.10 mg), both k = 2, written in g."""
    qm = world.user(session, "qm")
    with unit_of_work(session):
        inst = register_instrument(session, actor=qm, timezone=TZ, data={
            "asset_number": asset, "name": "E2 weights", "model": "F1-set",
            "serial_number": f"SN-{asset}", "role": "reference standard",
            "quantities": [{"quantity": "mass", "unit": "g"}]})
        cert = parse_json({
            "number": number, "provider": LAB, "instrument": asset,
            "calibrated_on": day(calibrated), "valid_until": day(valid), "standards_used": [],
            "results": [{"quantity": "mass", "nominal": "100", "value": "100.00003",
                         "unit": "g", "expanded_uncertainty": "0.00008", "k": "2"},
                        {"quantity": "mass", "nominal": "200", "value": "200.00005",
                         "unit": "g", "expanded_uncertainty": "0.00010", "k": "2"}]})
        record_certificate(session, actor=qm, instrument=inst, cert=cert, source="typed",
                           timezone=TZ)
        return inst


def procedure(session, world, *, kind: str = "calibration", asset: str = "STD-W1",
              field: str = "textiles") -> int:
    with unit_of_work(session):
        proc = procedures.create_procedure(
            session, actor=world.user(session, "qm"), code="JJF 1847-2020",
            title="电子天平校准规范 Calibration of electronic balances", clause="6.3",
            kind=kind, field=field, quantity="示值误差 Error of indication", unit="g",
            points=[{"nominal": "100", "mpe": "0.0005"}, {"nominal": "200000", "unit": "mg",
                                                         "mpe": "0.0005"}],
            standards=[{"asset_number": asset}], constants={"cmc": "0.00013"},
            verification_months=12 if kind == "verification" else None, budget=BUDGET)
        return proc.id


def job(session, world, proc_id: int, *, rule: str | None = None, r: str | None = None,
        conformity: bool = True, interval: str | None = None, serial: str = "C123") -> str:
    with unit_of_work(session):
        j = work.create_job(
            session, actor=world.user(session, "tech"), procedure_id=proc_id,
            customer_id=world.customer_id, condition="完好 intact",
            item={"name": "电子天平 Electronic balance", "manufacturer": "Mettler Toledo",
                  "model": "XPR205", "serial_number": serial, "accuracy_class": "Ⅰ"},
            resolution="0.0001", conformity_requested=conformity, decision_rule=rule, r=r,
            recalibration_interval=interval, place="本实验室 Laboratory",
            conditions=[{"name": "温度 Temperature", "value": "20.3", "unit": "℃"},
                        {"name": "相对湿度 Relative humidity", "value": "45", "unit": "%RH"}],
            **FORMATS)
        return session.get(work.Sample, j.sample_id).number


def points(session, number: str) -> dict[tuple[str, str], work.PointResult]:
    sample, j = work.get_job(session, number)
    return {(r.nominal, r.state): r for r in work.compute(session, sample, j)}


def ids(session, number: str) -> list[int]:
    return [p.id for p in work.get_job(session, number)[1].procedure.points]


def read(session, world, number: str, point: int, values, *, state="as left", user="tech",
         standard_values=None, unit=None):
    with unit_of_work(session):
        return work.record_readings(session, actor=world.user(session, user), number=number,
                                    point_id=point, values=values, state=state, unit=unit,
                                    standard_values=standard_values, timezone=TZ).id


def expanded(*u: float) -> Decimal:
    """2·√(Σu²), rounded to two significant digits (ILAC-P14)."""
    from lims.metrology.rounding import round_uncertainty

    return round_uncertainty(Decimal(repr(2 * math.sqrt(sum(x * x for x in u)))))


# --- the computation against hand calculations ----------------------------------------------

def test_error_u_and_k_against_a_hand_calculation(session, world):
    standard(session, world, "STD-W1")
    number = job(session, world, procedure(session, world))
    p100, p200 = ids(session, number)
    read(session, world, number, p100, ["100.0002", "100.0004", "100.0003"])
    # the 200 g point typed in mg: converted to the procedure's g
    read(session, world, number, p200, ["200000.8", "200000.8"], unit="mg")
    got = points(session, number)

    a = got[("100", "as left")]
    # I: s = 0.0001 g, s/√3; m_ref: 0.08 mg / 2 (the standard's 100 g point); δI: 0.00005/√3
    want = expanded(0.0001 / math.sqrt(3), 0.00008 / 2, 0.00005 / math.sqrt(3))
    assert want == Decimal("0.00015")
    assert (a.indicated, a.reference, a.error) == ("100.0003", "100", "0.00030")
    # k = 2 with ν_eff = u_c⁴ / (u_A⁴ / 2) ≈ 6 (Welch–Satterthwaite, GUM G.4.1): p ≈ 0.90
    nu = sum(u * u for u in (0.0001 / math.sqrt(3), 0.00004, 0.00005 / math.sqrt(3))) ** 2 / (
        (0.0001 / math.sqrt(3)) ** 4 / 2)
    assert 5.9 < nu < 6.1 and 0.895 < coverage_probability(2, nu) < 0.905
    assert (a.expanded_uncertainty, a.k, a.coverage_probability) == ("0.00015", "2", "0.90")
    assert a.conformity == "pass" and not a.cmc_applied

    b = got[("200", "as left")]
    # readings equal: no type A; the standard's nearest point is 200 g (U 0.10 mg)
    computed = expanded(0.0001 / 2, 0.00005 / math.sqrt(3))
    assert computed == Decimal("0.00012")
    assert (b.indicated, b.reference, b.error) == ("200.0008", "200", "0.00080")
    # ILAC-P14: never below the CMC (0.00013 g)
    assert b.expanded_uncertainty == "0.00013" and b.cmc_applied
    assert b.conformity == "fail"  # |0.00080| > 0.0005


def test_reference_from_the_standards_readings_and_no_verdict_unless_asked(session, world):
    standard(session, world, "STD-W1")
    number = job(session, world, procedure(session, world), conformity=False)
    p100, _ = ids(session, number)
    read(session, world, number, p100, ["100.0002", "100.0004"],
         standard_values=["100.0001", "100.0001"])
    a = points(session, number)[("100", "as left")]
    assert a.reference == "100.00010" and a.error == "0.00020"
    assert a.conformity is None and a.statement == ""


@pytest.mark.parametrize(("rule", "r", "verdict"), [
    ("simple", None, "pass"),            # 0.00030 ≤ 0.0005
    ("guarded", "1", "fail"),
    ("non-binary", "2", "conditional pass"),
])
def test_verdicts_follow_the_requests_decision_rule(session, world, rule, r, verdict):
    standard(session, world, "STD-W1")
    number = job(session, world, procedure(session, world), rule=rule, r=r)
    p100, _ = ids(session, number)
    read(session, world, number, p100, ["100.0003", "100.0004", "100.0005"])
    # mean 100.0004: error 0.00040, U = 2·√((0.0001/√3)² + 0.00004² + (0.00005/√3)²) = 0.00015
    a = points(session, number)[("100", "as left")]
    assert (a.error, a.expanded_uncertainty) == ("0.00040", "0.00015")
    # guarded, w = U: acceptance |E| ≤ 0.00035 → fail; non-binary, w = 2U = 0.0003: 0.0004
    # lies between the acceptance limit 0.0002 and the tolerance 0.0005 → conditional pass
    assert a.conformity == verdict


# --- standards in force ------------------------------------------------------------------------

def test_a_standard_out_of_calibration_is_refused_naming_it(session, world):
    standard(session, world, "STD-OLD", calibrated=-400, valid=-35, number="W-OLD")
    number = job(session, world, procedure(session, world, asset="STD-OLD"))
    before = session.scalar(select(func.count()).select_from(CalibrationReading))
    with pytest.raises(CalibrationExpired) as exc:
        read(session, world, number, ids(session, number)[0], ["100.0001"])
    assert exc.value.data["standard"] == "STD-OLD"
    assert "W-OLD" in exc.value.message and day(-35) in exc.value.message
    assert exc.value.data["valid_until"] == day(-35)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(CalibrationReading)) == before


def test_the_certificate_is_refused_when_a_standards_record_is_revoked_later(session, world,
                                                                              settings):
    from lims.calibration.services import set_record_status

    std = standard(session, world, "STD-W1")
    number = approved_job(session, world, procedure(session, world))
    with unit_of_work(session):
        rec = work.latest_record(session, std.id)
        set_record_status(session, actor=world.user(session, "qm"), record_id=rec.id,
                          status="revoked", reason="issued in error")
    with pytest.raises(CalibrationExpired, match="STD-W1"):
        work.certificate_content(session, work.get_job(session, number)[0], number="JZ-1",
                                 issued_at=utcnow(), settings=settings)


def test_a_procedure_refuses_unknown_placeholders_and_units_of_another_kind(session, world):
    standard(session, world, "STD-W1")
    base = {"code": "JJF X", "title": "t", "kind": "calibration", "field": "f", "quantity": "q",
            "unit": "g", "points": [{"nominal": "1"}], "standards": [{"asset_number": "STD-W1"}],
            "budget": BUDGET, "constants": {"cmc": "0.1"}}
    qm = world.user(session, "qm")
    with pytest.raises(InvalidInput, match=r"\{standard\.V\}"):
        procedures.create_procedure(session, actor=qm, **{**base, "budget": {
            **BUDGET, "cmc": {"expanded": "{standard.V}", "unit": "g"}}})
    with pytest.raises(UnitMismatch) as exc:
        procedures.create_procedure(session, actor=qm, **{**base, "points": [
            {"nominal": "1", "unit": "mm"}]})
    assert exc.value.field == "points[0].unit" and "'mm'" in exc.value.message
    with pytest.raises(InvalidInput) as exc:
        procedures.create_procedure(session, actor=qm, **{**base, "kind": "verification",
                                                          "verification_months": 12})
    assert exc.value.field == "points[0].mpe"
    with pytest.raises(InvalidInput, match="not a working or reference standard"):
        procedures.create_procedure(session, actor=qm, **{**base, "standards": [
            {"asset_number": "EQ-1"}]})


# --- readings: versions, as found / as left, lifecycle ----------------------------------------

def test_readings_are_corrected_as_new_versions_and_never_rewritten(session, world):
    standard(session, world, "STD-W1")
    number = job(session, world, procedure(session, world))
    p100, _ = ids(session, number)
    first = read(session, world, number, p100, ["100.0009"])
    with pytest.raises(Conflict, match="correct them instead"):
        read(session, world, number, p100, ["100.0001"])
    session.rollback()
    with unit_of_work(session):
        new = work.correct_readings(session, actor=world.user(session, "tech2"),
                                    reading_id=first, values=["100.0001"],
                                    reason="typing error", timezone=TZ)
        new_id = new.id
    rows = session.scalars(select(CalibrationReading).order_by(CalibrationReading.id)).all()
    assert [(r.version, r.is_current, r.values) for r in rows] == [
        (1, False, ["100.0009"]), (2, True, ["100.0001"])]
    assert rows[1].replaces_id == first and rows[1].reason == "typing error"
    assert points(session, number)[("100", "as left")].error == "0.00010"
    with pytest.raises(Conflict, match="already corrected"), unit_of_work(session):
        work.correct_readings(session, actor=world.user(session, "tech"), reading_id=first,
                              values=["1"], reason="again", timezone=TZ)
    events = session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity_type == "calibration_readings")).all()
    assert events == ["calibration.reading", "calibration.reading_correct"]
    # the database itself refuses a rewrite (migration 0007's triggers)
    with pytest.raises(Exception, match="append-only"):
        session.execute(text("UPDATE calibration_readings SET unit = 'kg' WHERE id = :i"),
                        {"i": new_id})
    session.rollback()


def test_as_found_and_as_left_are_both_kept_and_completion_needs_every_point(session, world):
    standard(session, world, "STD-W1")
    number = job(session, world, procedure(session, world))
    p100, p200 = ids(session, number)
    tech = world.user(session, "tech")
    read(session, world, number, p100, ["100.0003"])
    with pytest.raises(SampleStateError, match="point 2"), unit_of_work(session):
        samples.complete_testing(session, actor=tech, number=number)
    read(session, world, number, p200, ["200.0009"], state="as found")
    read(session, world, number, p200, ["200.0002"], state="as left")
    # the item was adjusted: every point needs its as-left readings (the 100 g has them)
    got = points(session, number)
    assert got[("200", "as found")].conformity == "fail"
    assert got[("200", "as left")].conformity == "pass"
    final = work.final_results(got.values())
    assert [(r.nominal, r.state) for r in final] == [("100", "as left"),
                                                      ("200", "as left")]
    with unit_of_work(session):
        sample = samples.complete_testing(session, actor=tech, number=number)
        assert sample.status == "results complete"


def test_as_found_alone_then_adjustment_needs_as_left_everywhere(session, world):
    standard(session, world, "STD-W1")
    number = job(session, world, procedure(session, world))
    p100, p200 = ids(session, number)
    read(session, world, number, p100, ["100.0003"], state="as found")
    read(session, world, number, p200, ["200.0009"], state="as found")
    read(session, world, number, p200, ["200.0002"], state="as left")
    sample = work.get_job(session, number)[0]
    assert work.missing_points(sample) == ["JJF 1847-2020 point 1 (100 g) as left"]


def test_separation_of_duties_and_scope_cover_readings(session, world):
    standard(session, world, "STD-W1")
    number = job(session, world, procedure(session, world, field="mass"))
    p100, p200 = ids(session, number)
    read(session, world, number, p100, ["100.0003"])
    read(session, world, number, p200, ["200.0003"], user="tech2")
    sample = work.get_job(session, number)[0]
    ids_ = {world.user(session, "tech").id, world.user(session, "tech2").id}
    assert samples.result_authors(sample) == ids_
    with unit_of_work(session):
        samples.complete_testing(session, actor=world.user(session, "tech"), number=number)
        samples.review_sample(session, actor=world.user(session, "reviewer"), number=number)
    # the procedure's field is the signatory scope the approval needs
    with pytest.raises(OutsideScope, match="mass"), unit_of_work(session):
        samples.approve_sample(session, actor=world.user(session, "signatory"), number=number,
                               password=PASSWORD)


def test_a_reading_author_may_not_review(session, world):
    from lims.auth.services import create_user

    standard(session, world, "STD-W1")
    number = job(session, world, procedure(session, world))
    with unit_of_work(session):
        both = create_user(session, username="both", full_name="Both", password=PASSWORD,
                           roles=["technician", "reviewer"])
    p100, p200 = ids(session, number)
    read(session, world, number, p100, ["100.0003"], user="both")
    read(session, world, number, p200, ["200.0003"])
    with unit_of_work(session):
        samples.complete_testing(session, actor=world.user(session, "tech"), number=number)
    with pytest.raises(SeparationOfDuties), unit_of_work(session):
        samples.review_sample(session, actor=both, number=number)


# --- the certificate's content ----------------------------------------------------------------

def approved_job(session, world, proc_id: int, *, values=("100.0003", "200.0003"),
                 **kw) -> str:
    number = job(session, world, proc_id, **kw)
    p100, p200 = ids(session, number)
    read(session, world, number, p100, [values[0]])
    read(session, world, number, p200, [values[1]])
    with unit_of_work(session):
        samples.complete_testing(session, actor=world.user(session, "tech"), number=number)
        samples.review_sample(session, actor=world.user(session, "reviewer"), number=number)
        samples.approve_sample(session, actor=world.user(session, "signatory"), number=number,
                               password=PASSWORD)
    return number


def test_calibration_certificate_content(session, world, settings):
    standard(session, world, "STD-W1")
    number = approved_job(session, world, procedure(session, world), interval="12 个月 months")
    sample = work.get_job(session, number)[0]
    content = work.certificate_content(session, sample, number="JZ2026-000001",
                                       issued_at=utcnow(), settings=settings)
    assert content.kind == "calibration_certificate"
    assert content.item.serial_number == "C123" and content.item.sample_number == number
    assert content.procedure.code == "JJF 1847-2020"
    assert [(s.asset_number, s.certificate_number, s.provider) for s in content.standards] == [
        ("STD-W1", "W-1", LAB["name"])]
    assert [(p.nominal, p.unit, p.dsi_unit, p.error, p.expanded_uncertainty, p.k)
            for p in content.points] == [("100", "g", "\\gram", "0.00030", "0.00013", "2"),
                                         ("200", "g", "\\gram", "0.00030", "0.00013", "2")]
    assert [s.meaning for s in content.signatures] == [
        "校准员 Calibrated by", "核验员 Checked by", "批准人 Approved by"]
    assert [s.name for s in content.signatures] == ["Tech Tester", "Reviewer Tester",
                                                    "Signatory Tester"]
    assert "12 个月" in content.recalibration
    assert content.decision_rule.startswith("简单接受") and "符合" in content.conformity_statement
    assert [c.unit for c in content.conditions] == ["℃", "%RH"]
    assert content.calibrated_on == work.get_job(session, number)[1].calibrated_on
    assert CertificateContent.from_json(content.to_json()) == content


def test_no_recalibration_or_statement_unless_asked(session, world, settings):
    standard(session, world, "STD-W1")
    number = approved_job(session, world, procedure(session, world), conformity=False)
    content = work.certificate_content(session, work.get_job(session, number)[1],
                                       number="JZ-2", issued_at=utcnow(), settings=settings)
    assert content.recalibration == "" and content.conformity_statement == ""
    assert content.decision_rule == "" and all(p.conformity is None for p in content.points)


def test_verification_certificate_or_notice(session, world, settings):
    standard(session, world, "STD-W1")
    proc = procedure(session, world, kind="verification")
    good = approved_job(session, world, proc)
    content = work.certificate_content(session, work.get_job(session, good)[0], number="JD-1",
                                       issued_at=utcnow(), settings=settings)
    assert content.kind == "verification_certificate"
    calibrated = content.calibrated_on
    assert content.valid_until == work.add_months(calibrated, 12) - dt.timedelta(days=1)
    assert content.signatures[0].meaning == "检定员 Verified by"
    bad = approved_job(session, world, proc, values=("100.0003", "200.0009"))
    notice = work.certificate_content(session, work.get_job(session, bad)[0], number="JD-2",
                                      issued_at=utcnow(), settings=settings)
    assert notice.kind == "verification_notice" and notice.valid_until is None
    assert [p.conformity for p in notice.points] == ["pass", "fail"]
    assert "200 g" in notice.conformity_statement and "0.00090" in notice.conformity_statement


def test_the_certificate_needs_review_and_approval(session, world, settings):
    standard(session, world, "STD-W1")
    number = job(session, world, procedure(session, world))
    with pytest.raises(SampleStateError):
        work.certificate_content(session, work.get_job(session, number)[0], number="JZ-3",
                                 issued_at=utcnow(), settings=settings)


def test_add_months_keeps_the_end_of_the_month():
    assert work.add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert work.add_months(dt.date(2026, 11, 26), 12) == dt.date(2027, 11, 26)


def test_numbers_the_arithmetic_cannot_carry_are_a_points_problem(session, world, settings):
    standard(session, world, "STD-W1")
    number = job(session, world, procedure(session, world))
    p100, _ = ids(session, number)
    read(session, world, number, p100, ["1e30", "2e30"])
    problem = points(session, number)[("100", "as left")].problem
    assert problem is not None and "cannot be computed" in problem


# --- races ---------------------------------------------------------------------------------------

def test_concurrent_first_readings_and_corrections_of_a_point_one_wins(app, session, world):
    from tests.integration.test_races import race

    standard(session, world, "STD-W1")
    number = job(session, world, procedure(session, world))
    p100, _ = ids(session, number)
    session.rollback()

    def first(s):
        return work.record_readings(s, actor=world.user(s, "tech"), number=number,
                                    point_id=p100, values=["100.0003"], timezone=TZ).id

    outcomes = race(app, [first] * 4)
    won = [o for o in outcomes if isinstance(o, int)]
    assert len(won) == 1 and all(isinstance(o, Conflict) for o in outcomes if o not in won)

    def correct(s):
        return work.correct_readings(s, actor=world.user(s, "tech"), reading_id=won[0],
                                     values=["100.0002"], reason="typo", timezone=TZ).version

    outcomes = race(app, [correct] * 4)
    assert sorted(o for o in outcomes if isinstance(o, int)) == [2]
    assert all(isinstance(o, Conflict) for o in outcomes if not isinstance(o, int))
    session.rollback()  # end this session's read snapshot: see what the threads committed
    rows = session.scalars(select(CalibrationReading)).all()
    assert sorted((r.version, r.is_current) for r in rows) == [(1, False), (2, True)]
    assert session.scalar(select(work.Sample.status).where(
        work.Sample.number == number)) == "in testing"


# --- capture through the drivers --------------------------------------------------------------

def test_the_items_readings_are_captured_with_their_raw_bytes(session, world, attached_balance):
    """The customer's balance on a bench port (a real MT-SICS simulator on a pty), registered
    under its serial number: the readings come through the driver with the bytes received."""
    standard(session, world, "STD-W1")
    number = job(session, world, procedure(session, world), serial="B021002593")
    p100, _ = ids(session, number)
    tech = world.user(session, "tech")
    with pytest.raises(InvalidInput, match="not a standard"):
        work.read_for_point(session, actor=tech, number=number, point_id=p100,
                            instrument_id=world.balance_id, target="standard", count=2,
                            timezone=TZ)
    instrument, taken = work.read_for_point(session, actor=tech, number=number, point_id=p100,
                                            instrument_id=world.balance_id, target="item",
                                            count=2, timezone=TZ)
    session.rollback()
    with unit_of_work(session):
        reading = work.record_captured(session, actor=tech, number=number, point_id=p100,
                                       instrument=instrument, readings=taken, target="item",
                                       timezone=TZ)
        assert reading.source == "instrument" and reading.values == ["100.02", "100.02"]
        assert reading.raw is not None and b"100.02" in reading.raw
        assert reading.instrument_id == world.balance_id
    assert points(session, number)[("100", "as left")].indicated == "100.0200"
    other = job(session, world, procedure_id_of(session, number), serial="OTHER")
    with pytest.raises(InvalidInput, match="not the item"):
        work.read_for_point(session, actor=tech, number=other, point_id=p100,
                            instrument_id=world.balance_id, target="item", count=1,
                            timezone=TZ)


def procedure_id_of(session, number: str) -> int:
    return work.get_job(session, number)[1].procedure_id


def test_a_received_sample_becomes_a_job_once(session, world):
    standard(session, world, "STD-W1")
    proc = procedure(session, world)
    number = world.new_sample(session)
    tech = world.user(session, "tech")
    with unit_of_work(session):
        made = work.create_job(session, actor=tech, procedure_id=proc, sample=number,
                               item={"name": "Balance"}, resolution="0.0001", **FORMATS)
        assert made.kind == "calibration" and made.conformity_requested is False
    with pytest.raises(Conflict, match="already"), unit_of_work(session):
        work.create_job(session, actor=tech, procedure_id=proc, sample=number,
                        item={"name": "Balance"}, resolution="0.0001", **FORMATS)
    with pytest.raises(InvalidInput) as exc, unit_of_work(session):
        work.create_job(session, actor=tech, procedure_id=proc, sample=number,
                        customer_id=world.customer_id, item={"name": "B"}, resolution="1",
                        **FORMATS)
    assert exc.value.field == "sample"
    # the sample's own methods and the procedure's points are both needed to complete
    p100, p200 = ids(session, number)
    read(session, world, number, p100, ["100.0001"])
    read(session, world, number, p200, ["200.0001"])
    with pytest.raises(SampleStateError) as exc, unit_of_work(session):
        samples.complete_testing(session, actor=tech, number=number)
    assert exc.value.data["missing"] == ["GB/T 4669-2008 Specimen mass", "GB/T 4669-2008 Length"]


def test_the_impact_analysis_of_a_standard_reaches_the_certificates_it_supported(session, world,
                                                                                 settings):
    """A standard found out of tolerance: the customers' instruments calibrated with it are
    affected (ISO/IEC 17025 7.10), through the record each reading kept."""
    import hashlib

    from lims.calibration.chains import impact
    from lims.reports.models import Report

    standard(session, world, "STD-W1")
    number = approved_job(session, world, procedure(session, world))
    sample, j = work.get_job(session, number)
    content = work.certificate_content(session, sample, number="JZ-9", issued_at=utcnow(),
                                       settings=settings)
    with unit_of_work(session):
        # Stands for the certificate that issuing (outside this module) stores for the job.
        session.add(Report(number="JZ-9", sample_id=sample.id, status="issued",
                           issued_at=utcnow(), issued_by_id=world.user(session, "signatory").id,
                           sha256=hashlib.sha256(b"pdf").hexdigest(), size=3,
                           content=content.to_json(), pdf=b"pdf"))
    today = work.lab_day(utcnow(), TZ)  # the lab's day, not UTC's
    found = impact(session, "STD-W1", start=today, end=today, timezone=TZ)
    assert found.reports == ["JZ-9"] and found.customers == ["ACME Textiles"]
    before = impact(session, "STD-W1", start=today - dt.timedelta(days=30),
                    end=today - dt.timedelta(days=1), timezone=TZ)
    assert before.reports == []
    assert {s.instrument_id for r in j.readings for s in r.standards} == {
        session.scalar(select(Instrument.id).where(Instrument.asset_number == "STD-W1"))}
