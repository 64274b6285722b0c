"""Customers, methods, requests, samples and results.

Services take a session and keyword data, flush but never commit, and write an audit event for
every change in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pint
from sqlalchemy import select
from sqlalchemy.orm import Session

from drivers import Reading
from lims import units
from lims.audit.services import record, snapshot
from lims.auth.models import User
from lims.auth.services import require
from lims.auth.sessions import LoginPolicy, reauthenticate
from lims.calibration.services import check_fit_for_use
from lims.db import utcnow
from lims.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    OutsideScope,
    SampleStateError,
    SeparationOfDuties,
)
from lims.instruments.capture import take_reading
from lims.instruments.models import Instrument
from lims.instruments.services import get_instrument
from lims.metrology.decision import verdict_of
from lims.numbering import next_number
from lims.samples.lifecycle import RESULTS_OPEN, SampleStatus, check_transition
from lims.samples.models import (
    Characteristic,
    Customer,
    Result,
    Sample,
    SampleTest,
    TestMethod,
    TestRequest,
)
from lims.validate import as_id, text

MAX_TEXT = 2000
# The meaning of the authorised signatory's electronic signature (21 CFR 11.50(a)(3)), on the
# approval and on the report it signs.
APPROVAL_MEANING = "批准 Approved"


def _local_today(tz: str) -> dt.date:
    return utcnow().astimezone(ZoneInfo(tz)).date()


# --- customers and methods -----------------------------------------------------------------

def create_customer(session: Session, *, actor: User, name: Any, contact: Any = "",
                    address: Any = "") -> Customer:
    require(actor, "customer.create")
    customer = Customer(name=text(name, "name"), contact=text(contact, "contact", required=False),
                        address=text(address, "address", required=False, max_len=300))
    session.add(customer)
    session.flush()
    record(session, actor=actor, action="customer.create", entity_type="customers",
           entity_id=customer.id, after=snapshot(customer))
    return customer


def create_method(session: Session, *, actor: User, code: Any, title: Any, field: Any,
                  clause: Any = "", characteristics: object) -> TestMethod:
    """Create a test method with its characteristics (name, unit, lower/upper limit).

    :raises InvalidInput: unknown unit, bad limit, lower limit above upper limit.
    """
    require(actor, "method.manage")
    code = text(code, "code", max_len=80)
    if session.scalar(select(TestMethod).where(TestMethod.code == code)):
        raise Conflict(f"method {code!r} exists", field="code")
    if not isinstance(characteristics, list | tuple) or not characteristics:
        raise InvalidInput("at least one characteristic is required", field="characteristics")
    method = TestMethod(code=code, title=text(title, "title"), field=text(field, "field", max_len=80),
                        clause=text(clause, "clause", required=False, max_len=80))
    for i, spec in enumerate(characteristics):
        prefix = f"characteristics[{i}]"
        if not isinstance(spec, dict):
            raise InvalidInput("must be an object", field=prefix)
        unit = units.parse_unit(spec.get("unit"), field=f"{prefix}.unit")
        limits: dict[str, str | None] = {}
        for key in ("lower_limit", "upper_limit"):
            raw = spec.get(key)
            if raw in (None, ""):
                limits[key] = None
            else:
                units.parse_value(raw, field=f"{prefix}.{key}")
                limits[key] = str(raw).strip()
        if limits["lower_limit"] and limits["upper_limit"] and \
                Decimal(limits["lower_limit"]) > Decimal(limits["upper_limit"]):
            raise InvalidInput("lower limit is above the upper limit", field=f"{prefix}.lower_limit")
        method.characteristics.append(Characteristic(
            name=text(spec.get("name"), f"{prefix}.name", max_len=120),
            unit=units.canonical(unit), **limits))
    session.add(method)
    session.flush()
    record(session, actor=actor, action="method.create", entity_type="test_methods",
           entity_id=method.id, after={**snapshot(method), "characteristics": [
               snapshot(c) for c in method.characteristics]})
    return method


# --- requests and samples ------------------------------------------------------------------

def create_request(session: Session, *, actor: User, customer_id: Any, description: Any = "",
                   number_format: str, timezone: str) -> TestRequest:
    require(actor, "sample.register")
    customer = session.get(Customer, as_id(customer_id, "customer_id"))
    if customer is None:
        raise InvalidInput("no such customer", field="customer_id")
    req = TestRequest(
        number=next_number(session, "request", number_format, today=_local_today(timezone)),
        customer_id=customer.id, created_by_id=actor.id,
        description=text(description, "description", required=False, max_len=MAX_TEXT))
    session.add(req)
    session.flush()
    record(session, actor=actor, action="request.create", entity_type="test_requests",
           entity_id=req.number, after=snapshot(req))
    return req


def register_sample(session: Session, *, actor: User, request_id: Any, description: Any,
                    method_ids: Any, number_format: str, timezone: str) -> Sample:
    """Register a sample under a request with the methods it is to be tested by.

    :raises InvalidInput: no such request or method, no method given.
    """
    require(actor, "sample.register")
    req = session.get(TestRequest, as_id(request_id, "request_id"))
    if req is None:
        raise InvalidInput("no such request", field="request_id")
    if not isinstance(method_ids, list | tuple) or not method_ids:
        raise InvalidInput("at least one method is required", field="method_ids")
    if len(method_ids) > 200:  # PostgreSQL caps bind parameters; no sample has 200 methods
        raise InvalidInput("at most 200 methods per sample", field="method_ids")
    ids = [as_id(m, "method_ids") for m in method_ids]
    methods = session.scalars(select(TestMethod).where(TestMethod.id.in_(ids))).all()
    if len({m.id for m in methods}) != len(set(ids)):
        raise InvalidInput("unknown method id", field="method_ids")
    sample = Sample(
        number=next_number(session, "sample", number_format, today=_local_today(timezone)),
        request_id=req.id, description=text(description, "description", max_len=300),
        status=SampleStatus.REGISTERED, registered_by_id=actor.id)
    sample.tests = [SampleTest(method_id=m.id) for m in sorted(methods, key=lambda m: m.id)]
    session.add(sample)
    session.flush()
    record(session, actor=actor, action="sample.register", entity_type="samples",
           entity_id=sample.number, after={**snapshot(sample), "method_ids": sorted(set(ids))})
    return sample


def get_sample(session: Session, number: str, *, lock: bool = False) -> Sample:
    """Find a sample; with ``lock``, take its row lock for the rest of the transaction.

    Every state change and every change to a sample's results locks the sample first and reads
    it afresh, so that of concurrent attempts (two issues, a correction racing a review) one
    wins and the others see the state it left (PostgreSQL: ``SELECT … FOR UPDATE``; SQLite
    serialises writers already, :func:`lims.db.unit_of_work` takes its lock up front).
    """
    query = select(Sample).where(Sample.number == number)
    if lock:
        query = query.with_for_update(of=Sample).execution_options(populate_existing=True)
    sample = session.scalar(query)
    if sample is None:
        raise NotFound(f"no sample {number!r}", sample=number)
    return sample


def _transition(session: Session, sample: Sample, target: SampleStatus, *, actor: User,
                action: str, reason: str | None = None, audit: dict[str, Any] | None = None,
                **changes: Any) -> None:
    check_transition(sample.status, target, sample=sample.number)
    before = snapshot(sample)
    sample.status = target
    for key, value in changes.items():
        setattr(sample, key, value)
    session.flush()
    record(session, actor=actor, action=action, entity_type="samples", entity_id=sample.number,
           before=before, after={**snapshot(sample), **(audit or {})}, reason=reason)


def signature_record(user: User, at: dt.datetime, meaning: str) -> dict[str, Any]:
    """What the audit trail keeps of an electronic signature: the printed name, the date and
    time, the meaning (21 CFR 11.50(a)), and that the signer re-entered their password
    (11.200(a)(1))."""
    return {"signature": {"name": user.full_name, "username": user.username,
                          "at": at.isoformat(), "meaning": meaning,
                          "reauthenticated": True}}


def receive_sample(session: Session, *, actor: User, number: str, condition: Any,
                   received_at: dt.datetime | None = None) -> Sample:
    """Record receipt: when, by whom and the condition on receipt (ISO/IEC 17025 7.4.3)."""
    require(actor, "sample.receive")
    sample = get_sample(session, number, lock=True)
    _transition(session, sample, SampleStatus.RECEIVED, actor=actor, action="sample.receive",
                received_at=received_at or utcnow(), received_by_id=actor.id,
                condition_on_receipt=text(condition, "condition", max_len=MAX_TEXT))
    return sample


def find_characteristic(sample: Sample, characteristic_id: Any
                                  ) -> tuple[SampleTest, Characteristic]:
    cid = as_id(characteristic_id, "characteristic_id")
    for test in sample.tests:
        for ch in test.method.characteristics:
            if ch.id == cid:
                return test, ch
    raise InvalidInput(f"characteristic {cid} is not tested on sample {sample.number}",
                       field="characteristic_id")


def conformity(value: Decimal, unit: pint.Unit, expected: pint.Unit, ch: Characteristic
               ) -> str | None:
    """Judge a value against the characteristic's limits by simple acceptance (ILAC-G8 4.2.1).

    A value exactly on a limit conforms. The rule itself is :mod:`lims.metrology.decision`.
    """
    if ch.lower_limit is None and ch.upper_limit is None:
        return None
    in_spec = units.convert(value, unit, expected)
    lower = None if ch.lower_limit is None else Decimal(ch.lower_limit)
    upper = None if ch.upper_limit is None else Decimal(ch.upper_limit)
    return verdict_of(in_spec, lower, upper, rule="simple")


def record_result(session: Session, *, actor: User, number: str, characteristic_id: Any,
                  value: Any, unit: Any, instrument_id: Any = None,
                  measured_at: dt.datetime | None = None, raw: bytes | None = None,
                  source: str = "manual", timezone: str) -> Result:
    """Record a result exactly as entered or captured.

    :raises UnitMismatch: the unit's dimension differs from the characteristic's.
    :raises CalibrationExpired: the instrument was overdue at the time of measurement.
    :raises SampleStateError: the sample does not accept results now.
    :raises Conflict: the characteristic already has a result (correct it instead).
    """
    require(actor, "result.capture" if source == "instrument" else "result.record")
    sample = get_sample(session, number, lock=True)
    _check_results_open(sample)
    test, ch = find_characteristic(sample, characteristic_id)
    if ch.id in test.current_results():
        raise Conflict(f"{ch.name} already has a result on {sample.number}; correct it instead",
                       field="characteristic_id")
    result = _build_result(session, actor=actor, test=test, ch=ch, value=value, unit=unit,
                           instrument_id=instrument_id, measured_at=measured_at, raw=raw,
                           source=source, timezone=timezone)
    session.add(result)
    session.flush()
    record(session, actor=actor, action="result.record", entity_type="results",
           entity_id=result.id, after=snapshot(result))
    if sample.status == SampleStatus.RECEIVED:
        _transition(session, sample, SampleStatus.IN_TESTING, actor=actor, action="sample.start")
    return result


def read_for_result(session: Session, *, actor: User, number: str, characteristic_id: Any,
                    instrument_id: Any, timezone: str, port_hosts: tuple[str, ...] = ()
                    ) -> tuple[Instrument, Reading]:
    """Read an instrument for a result, writing nothing (run it outside a write transaction:
    a stable weight can take seconds and the database must not stay locked meanwhile).

    :raises CalibrationExpired: the instrument is overdue now (nothing is read).
    :raises InstrumentUnavailable: see :func:`lims.instruments.capture.take_reading`.
    """
    require(actor, "result.capture")
    _test, ch = find_characteristic(get_sample(session, number), characteristic_id)
    instrument = get_instrument(session, as_id(instrument_id, "instrument_id"))
    return instrument, take_reading(session, instrument, ch.unit, timezone=timezone,
                                    port_hosts=port_hosts)


def record_reading(session: Session, *, actor: User, number: str, characteristic_id: Any,
                   instrument: Instrument, reading: Reading, timezone: str) -> Result:
    """Record a captured reading, with its raw bytes and time, as the result."""
    return record_result(session, actor=actor, number=number,
                         characteristic_id=characteristic_id, value=reading.value,
                         unit=reading.unit, instrument_id=instrument.id,
                         measured_at=reading.at, raw=reading.raw, source="instrument",
                         timezone=timezone)


def correct_result(session: Session, *, actor: User, result_id: Any, value: Any, unit: Any,
                   reason: Any, instrument_id: Any = None,
                   measured_at: dt.datetime | None = None, timezone: str) -> Result:
    """Correct a result: a new version with the reason; the original stays readable (7.5.2)."""
    require(actor, "result.correct")
    reason = text(reason, "reason", max_len=MAX_TEXT)
    old = session.get(Result, as_id(result_id, "result_id"))
    if old is None:
        raise NotFound("no such result", result=result_id)
    # Lock the sample, then read the result again: a concurrent correction or review may have
    # changed both since the first read.
    sample = get_sample(session, old.test.sample.number, lock=True)
    session.refresh(old)
    if not old.is_current:
        raise Conflict(f"result {old.id} was already corrected; correct the current version",
                       field="result_id")
    _check_results_open(sample)
    new = _build_result(session, actor=actor, test=old.test, ch=old.characteristic, value=value,
                        unit=unit, instrument_id=instrument_id if instrument_id not in (None, "")
                        else old.instrument_id, measured_at=measured_at, raw=None,
                        source="manual", timezone=timezone)
    new.version, new.replaces_id, new.reason = old.version + 1, old.id, reason
    old.is_current = False
    session.add(new)
    session.flush()
    record(session, actor=actor, action="result.correct", entity_type="results",
           entity_id=new.id, before=snapshot(old), after=snapshot(new), reason=reason)
    return new


def _build_result(session: Session, *, actor: User, test: SampleTest, ch: Characteristic,
                  value: Any, unit: Any, instrument_id: Any, measured_at: dt.datetime | None,
                  raw: bytes | None, source: str, timezone: str) -> Result:
    number = units.parse_value(value)
    parsed, expected = units.parse_unit(unit), units.parse_unit(ch.unit)
    units.check_compatible(parsed, expected, given_text=str(unit).strip())
    measured_at = measured_at or utcnow()
    instrument = calibration = None
    if instrument_id not in (None, ""):
        instrument = get_instrument(session, as_id(instrument_id, "instrument_id"))
        # ISO/IEC 17025 6.4.4 / EQ-04: an overdue instrument cannot produce a result; the
        # result keeps the calibration record in force when it was measured (7.5.1).
        calibration = check_fit_for_use(session, instrument, measured_at, timezone=timezone)
    return Result(
        test=test, characteristic=ch, value=str(value).strip(),
        unit=units.canonical(parsed), unit_text=str(unit).strip(),
        conformity=conformity(number, parsed, expected, ch), source=source,
        instrument_id=instrument.id if instrument else None,
        calibration_record_id=calibration.id if calibration else None,
        instrument_due_on=calibration.valid_until if calibration else None,
        raw=raw, measured_at=measured_at, recorded_by_id=actor.id)


def _check_results_open(sample: Sample) -> None:
    if sample.status not in RESULTS_OPEN:
        raise SampleStateError(
            f"sample {sample.number} is {sample.status}; results can be recorded or corrected "
            f"only while it is {', '.join(sorted(RESULTS_OPEN))}",
            sample=sample.number, current=sample.status)


def result_authors(sample: Sample) -> set[int]:
    """Everyone who recorded or corrected any result of the sample."""
    return {r.recorded_by_id for t in sample.tests for r in t.results}


def complete_testing(session: Session, *, actor: User, number: str) -> Sample:
    """Declare testing complete; every characteristic must have a current result."""
    require(actor, "sample.complete")
    sample = get_sample(session, number, lock=True)
    missing = [f"{t.method.code} {ch.name}" for t in sample.tests
               for ch in t.method.characteristics if ch.id not in t.current_results()]
    if sample.status == SampleStatus.IN_TESTING and missing:
        raise SampleStateError(f"sample {number} still lacks results for: {', '.join(missing)}",
                               sample=number, missing=missing)
    _transition(session, sample, SampleStatus.RESULTS_COMPLETE, actor=actor,
                action="sample.complete")
    return sample


def review_sample(session: Session, *, actor: User, number: str) -> Sample:
    """Record the technical review; the reviewer must not have entered any result (7.5.1)."""
    require(actor, "sample.review")
    sample = get_sample(session, number, lock=True)
    check_transition(sample.status, SampleStatus.REVIEWED, sample=number)
    if actor.id in result_authors(sample):
        raise SeparationOfDuties(f"{actor.username} entered results of {number} and may not "
                                 "review them", sample=number)
    _transition(session, sample, SampleStatus.REVIEWED, actor=actor, action="sample.review",
                reviewed_at=utcnow(), reviewed_by_id=actor.id)
    return sample


def approve_sample(session: Session, *, actor: User, number: str, password: Any,
                   policy: LoginPolicy | None = None) -> Sample:
    """Approve the results for reporting by an authorised signatory: an electronic signature,
    so the signatory re-enters their password (21 CFR 11.200(a)(1)), and the audit event
    keeps their name, the time and the meaning (11.50).

    :param policy: the login policy whose throttling and lockout a wrong password counts
        towards (default: :class:`LoginPolicy`'s defaults).
    :raises InvalidInput: no password (``field`` ``password``).
    :raises ReauthenticationFailed: a wrong password (the web edge records it as a failed
        login) or a locked account. :raises TooManyAttempts:
    :raises OutsideScope: a method's field is outside the signatory's authorised scope.
    :raises SeparationOfDuties: the signatory entered or reviewed results of this sample.
    """
    require(actor, "sample.approve")
    reauthenticate(session, user=actor, password=password, meaning=APPROVAL_MEANING,
                   policy=policy)
    sample = get_sample(session, number, lock=True)
    check_transition(sample.status, SampleStatus.APPROVED, sample=number)
    fields = {t.method.field for t in sample.tests}
    outside = sorted(fields - actor.scopes)
    if outside:
        raise OutsideScope(f"{actor.username} is not authorised to sign for "
                           f"{', '.join(outside)}", sample=number, fields=outside)
    if actor.id in result_authors(sample) or actor.id == sample.reviewed_by_id:
        raise SeparationOfDuties(f"{actor.username} entered or reviewed results of {number} "
                                 "and may not approve them", sample=number)
    now = utcnow()
    _transition(session, sample, SampleStatus.APPROVED, actor=actor, action="sample.approve",
                approved_at=now, approved_by_id=actor.id,
                audit=signature_record(actor, now, APPROVAL_MEANING))
    return sample


def mark_reported(session: Session, *, actor: User, sample: Sample, report_number: str) -> None:
    _transition(session, sample, SampleStatus.REPORTED, actor=actor, action="sample.report",
                reason=f"report {report_number} issued")
