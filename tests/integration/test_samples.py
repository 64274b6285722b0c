"""Samples and results through the services, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from lims.calibration.services import latest_record
from lims.db import unit_of_work, utcnow
from lims.errors import (
    Conflict,
    InstrumentNotFit,
    InvalidInput,
    OutsideScope,
    PermissionDenied,
    SampleStateError,
    SeparationOfDuties,
    UnitMismatch,
)
from lims.samples import services
from lims.samples.models import Result, Sample
from tests.support.world import PASSWORD, TZ


def _record(session, world, number, value, unit, who="tech", ch=None, **kw):
    with unit_of_work(session):
        r = services.record_result(session, timezone=TZ, actor=world.user(session, who), number=number,
                                   characteristic_id=ch or world.mass_id, value=value, unit=unit,
                                   **kw)
        return r.id


def test_result_keeps_digits_and_unit_as_recorded(session, world):
    number = world.new_sample(session)
    rid = _record(session, world, number, "100.00", "g")
    r = session.get(Result, rid)
    assert (r.value, r.unit_text, r.unit, r.conformity) == ("100.00", "g", "gram", "pass")
    assert session.scalar(select(Sample.status).where(Sample.number == number)) == "in testing"


@pytest.mark.parametrize(("value", "unit", "verdict"), [
    ("99.50", "g", "pass"), ("100.50", "g", "pass"),       # on the limits: conforms
    ("99.49", "g", "fail"), ("100.51", "g", "fail"),
    ("0.1005", "kg", "pass"), ("100501", "mg", "fail"),   # converted exactly, no float noise
])
def test_simple_acceptance_at_and_beyond_both_limits(session, world, value, unit, verdict):
    number = world.new_sample(session)
    rid = _record(session, world, number, value, unit)
    r = session.get(Result, rid)
    assert (r.value, r.unit_text, r.conformity) == (value, unit, verdict)


def test_lab_unit_notation_accepted_for_length(session, world):
    number = world.new_sample(session)
    rid = _record(session, world, number, "12000", "μm", ch=world.length_id)
    assert session.get(Result, rid).conformity == "pass"


def test_incompatible_unit_is_refused_naming_both_units(session, world):
    number = world.new_sample(session)
    with pytest.raises(UnitMismatch) as exc:
        _record(session, world, number, "100.00", "mm")
    assert "'mm'" in exc.value.message and "'g'" in exc.value.message
    assert exc.value.field == "unit"
    assert session.scalar(select(Result.id)) is None


@pytest.mark.parametrize("value", ["abc", "1,5", "", "1e", "NaN", "Infinity", 100.5, True, None])
def test_malformed_value_is_refused(session, world, value):
    number = world.new_sample(session)
    with pytest.raises(InvalidInput) as exc:
        _record(session, world, number, value, "g")
    assert exc.value.field == "value"


def test_correction_creates_a_version_and_keeps_the_original(session, world):
    number = world.new_sample(session)
    rid = _record(session, world, number, "100.00", "g")
    with pytest.raises(InvalidInput) as exc, unit_of_work(session):
        services.correct_result(session, timezone=TZ, actor=world.user(session, "tech"), result_id=rid,
                                value="100.20", unit="g", reason="  ")
    assert exc.value.field == "reason"
    with unit_of_work(session):
        new = services.correct_result(session, timezone=TZ, actor=world.user(session, "tech2"), result_id=rid,
                                      value="100.70", unit="g", reason="transcription error")
        new_id = new.id
    old, new = session.get(Result, rid), session.get(Result, new_id)
    assert (old.value, old.is_current, old.version) == ("100.00", False, 1)
    assert (new.value, new.is_current, new.version, new.replaces_id, new.reason) == \
        ("100.70", True, 2, rid, "transcription error")
    assert new.conformity == "fail"
    with pytest.raises(Conflict), unit_of_work(session):
        services.correct_result(session, timezone=TZ, actor=world.user(session, "tech"), result_id=rid,
                                value="1", unit="g", reason="again")


def test_second_result_for_same_characteristic_must_be_a_correction(session, world):
    number = world.new_sample(session)
    _record(session, world, number, "100.00", "g")
    with pytest.raises(Conflict):
        _record(session, world, number, "100.01", "g")


def test_overdue_instrument_is_refused_at_the_time_of_measurement(session, world):
    """An instrument not fit for use when the result was measured refuses it with a 422
    (issue 9: the input, the measurement time with that instrument, is what is wrong)."""
    today = utcnow().date()
    # The balance's latest calibration ran out two days ago; the sample came in before that.
    world.calibrate(session, world.balance_id, calibrated_on=today - dt.timedelta(days=30),
                    valid_until=today - dt.timedelta(days=2))
    number = world.new_sample(session, receive=False)
    with unit_of_work(session):
        services.receive_sample(session, actor=world.user(session, "tech"), number=number,
                                condition="intact", received_at=utcnow() - dt.timedelta(days=20))
    due = latest_record(session, world.balance_id).valid_until
    # On the due date (lab time) the calibration is still valid.
    on_due = dt.datetime.combine(due, dt.time(12), tzinfo=dt.timezone(dt.timedelta(hours=8)))
    rid = _record(session, world, number, "100.00", "g", instrument_id=world.balance_id,
                  measured_at=on_due)
    stored = session.get(Result, rid)
    assert stored.instrument_due_on == due and stored.measured_at == on_due
    assert stored.calibration_record_id == latest_record(session, world.balance_id).id
    with pytest.raises(InstrumentNotFit) as exc:
        _record(session, world, number, "12.0", "mm", ch=world.length_id,
                instrument_id=world.balance_id, measured_at=on_due + dt.timedelta(days=1))
    assert exc.value.data["due_on"] == due.isoformat()
    assert exc.value.data["reason"] == "calibration_expired"
    assert exc.value.field == "instrument_id"
    with pytest.raises(InstrumentNotFit):
        _record(session, world, number, "12.0", "mm", ch=world.length_id,
                instrument_id=world.overdue_id)


def test_lifecycle_refuses_illegal_transitions(session, world):
    number = world.new_sample(session, receive=False)
    with pytest.raises(SampleStateError) as exc:
        _record(session, world, number, "100.00", "g")
    assert "registered" in exc.value.message
    with pytest.raises(SampleStateError), unit_of_work(session):
        services.review_sample(session, actor=world.user(session, "reviewer"), number=number)
    with unit_of_work(session):
        services.receive_sample(session, actor=world.user(session, "tech"), number=number,
                                condition="intact")
    with pytest.raises(SampleStateError), unit_of_work(session):
        services.receive_sample(session, actor=world.user(session, "tech"), number=number,
                                condition="again")


def _complete(session, world, number, who="tech"):
    _record(session, world, number, "100.00", "g", who=who)
    _record(session, world, number, "12.0", "mm", ch=world.length_id, who=who)
    with unit_of_work(session):
        services.complete_testing(session, actor=world.user(session, who), number=number)


def test_complete_requires_every_result(session, world):
    number = world.new_sample(session)
    _record(session, world, number, "100.00", "g")
    with pytest.raises(SampleStateError) as exc, unit_of_work(session):
        services.complete_testing(session, actor=world.user(session, "tech"), number=number)
    assert "Length" in exc.value.message


def test_separation_of_duties_and_signatory_scope(session, world):
    number = world.new_sample(session)
    _complete(session, world, number)
    with pytest.raises(PermissionDenied), unit_of_work(session):
        services.review_sample(session, actor=world.user(session, "tech"), number=number)
    with unit_of_work(session):
        services.review_sample(session, actor=world.user(session, "reviewer"), number=number)
    with pytest.raises(OutsideScope), unit_of_work(session):
        services.approve_sample(session, actor=world.user(session, "signatory2"), number=number,
                                password=PASSWORD)
    with unit_of_work(session):
        services.approve_sample(session, actor=world.user(session, "signatory"), number=number,
                                password=PASSWORD)
    assert session.scalar(select(Sample.status).where(Sample.number == number)) == "approved"


def test_reviewer_who_entered_results_may_not_review(session, world):
    from lims.auth.models import UserRole

    number = world.new_sample(session)
    # A person holding both roles enters the results, then tries to review them.
    with unit_of_work(session):
        session.add(UserRole(user_id=world.user(session, "reviewer").id, role="technician"))
    _complete(session, world, number, who="reviewer")
    with pytest.raises(SeparationOfDuties), unit_of_work(session):
        services.review_sample(session, actor=world.user(session, "reviewer"), number=number)


def test_signatory_who_entered_results_may_not_approve(session, world):
    from lims.auth.models import UserRole

    number = world.new_sample(session)
    with unit_of_work(session):
        session.add(UserRole(user_id=world.user(session, "signatory").id, role="technician"))
    _complete(session, world, number, who="signatory")
    with unit_of_work(session):
        services.review_sample(session, actor=world.user(session, "reviewer"), number=number)
    with pytest.raises(SeparationOfDuties), unit_of_work(session):
        services.approve_sample(session, actor=world.user(session, "signatory"), number=number,
                                password=PASSWORD)


def test_results_are_closed_after_review(session, world):
    number = world.new_sample(session)
    _complete(session, world, number)
    with unit_of_work(session):
        services.review_sample(session, actor=world.user(session, "reviewer"), number=number)
    rid = session.scalars(select(Result.id)).first()
    with pytest.raises(SampleStateError), unit_of_work(session):
        services.correct_result(session, timezone=TZ, actor=world.user(session, "tech"), result_id=rid,
                                value="1", unit="g", reason="late")


def test_receipt_records_who_when_and_condition(session, world):
    before = utcnow()
    number = world.new_sample(session)
    s = session.scalar(select(Sample).where(Sample.number == number))
    assert s.received_by_id == world.user(session, "tech").id
    assert s.received_at >= before and s.received_at.tzinfo is not None
    assert s.condition_on_receipt == "intact"
