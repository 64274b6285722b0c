"""Calibration (校准, JJF) and verification (检定, JJG) of customers' instruments: jobs, readings,
the computation per point, and the frozen content of the certificate.

A customer's instrument is received as a sample (request, unique number, condition on receipt)
and follows the sample lifecycle (:mod:`lims.samples.lifecycle`), with the review and approval
services and their separation of duties; :class:`CalibrationJob` adds what an instrument needs
(item particulars, procedure, what the customer asked for, conditions). At each point of the
procedure the technician records the item's indications (and optionally the standard's), as
found and, when the item is adjusted, as left (:class:`CalibrationReading`, versioned like
results). :func:`compute` gives per point the indicated value, the reference value, the error
(indicated − reference), U and k from the procedure's budget template through the uncertainty
engine (ILAC-P14 rounding, never below the CMC) and, when the customer asked for a statement of
conformity or the job is a verification, the verdict against the MPE under the request's
decision rule (ILAC-G8, :func:`lims.metrology.decision.decide`).

The reference value is the mean of the standard's indications when they were recorded, else
the point's nominal value (the standard realises it: a weight, a gauge block; JJG 1036 takes
the error of a balance against the weight's nominal mass, the weight's own deviation entering
the budget through ``{standard.value}`` or its U).

Only standards whose own calibration is in force when measured can be used (ISO/IEC 17025
6.4.4, 6.5): each reading keeps the record in force of every standard of the procedure, and the
certificate is refused when a standard's record is no longer in force on the calibration date.

Services take a session and keyword data, flush but never commit, and write an audit event.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from drivers import Reading
from lims import kinds, units
from lims.audit.services import record, snapshot
from lims.auth.models import User
from lims.auth.services import require
from lims.calibration.dsi import unit_to_dsi
from lims.calibration.models import (
    CalibrationJob,
    CalibrationPoint,
    CalibrationProcedure,
    CalibrationReading,
    CalibrationRecord,
    JobKind,
    PointState,
    ProcedurePoint,
    ReadingStandard,
    RecordStatus,
)
from lims.calibration.procedures import Value, decimal_text, fill, get_procedure, placeholders
from lims.calibration.services import check_fit_for_use, lab_day, latest_record
from lims.config import Settings
from lims.db import utcnow
from lims.errors import (
    CalibrationExpired,
    Choices,
    Conflict,
    InstrumentUnavailable,
    InvalidInput,
    NotFound,
    SampleStateError,
    msg,
)
from lims.instruments.models import Instrument
from lims.instruments.services import get_instrument
from lims.metrology.decision import decide
from lims.metrology.rounding import round_to, round_uncertainty
from lims.metrology.schema import parse_budget
from lims.metrology.uncertainty import evaluate
from lims.numbering import next_number
from lims.reports.certificate_content import (
    CALIBRATION_CERTIFICATE,
    VERIFICATION_CERTIFICATE,
    VERIFICATION_NOTICE,
    CertificateContent,
    Condition,
    Item,
    Party,
    PointLine,
    Procedure,
    Signature,
    StandardUsed,
)
from lims.samples.lifecycle import RESULTS_OPEN, SampleStatus
from lims.samples.models import Sample
from lims.validate import as_id, text

MAX_TEXT = 2000
MAX_READINGS = 100
STATES = (PointState.AS_FOUND, PointState.AS_LEFT)


# --- jobs --------------------------------------------------------------------------------------

def create_job(session: Session, *, actor: User, procedure_id: Any, item: Any,
               customer_id: Any = None, sample: Any = None, description: Any = None,
               decision_rule: Any = None, r: Any = None, condition: Any = None,
               conformity_requested: Any = False, recalibration_interval: Any = None,
               place: Any = "", conditions: Any = None, resolution: Any = None,
               request_number_format: str, sample_number_format: str,
               timezone: str) -> CalibrationJob:
    """Receive a customer's instrument for calibration or verification under a procedure.

    Without ``sample``: opens a request for ``customer_id`` (with the decision rule agreed,
    ISO/IEC 17025 7.1.3), registers the instrument as a sample with a unique number and
    records its receipt with ``condition`` (7.4). With ``sample``: the registered or received
    sample of that number becomes the job.

    ``item``: ``{"name", "manufacturer", "model", "serial_number", "accuracy_class"}``;
    ``conditions``: ``[{"name": "温度 Temperature", "value": "20.3", "unit": "℃"}, …]``;
    ``resolution``: the item's resolution in the procedure's unit (the indicated value keeps
    its digits); ``recalibration_interval``: only when the customer asked for one (7.8.4.3).

    :raises InvalidInput: naming the field.
    :raises SampleStateError: the sample is past receipt.
    :raises Conflict: the sample is a job already.
    """
    from lims.samples import services as samples

    require(actor, "sample.register")
    proc = get_procedure(session, procedure_id)
    particulars = _item(item)
    if isinstance(conformity_requested, bool):
        asked = conformity_requested
    else:
        raise InvalidInput(msg("must be true or false"), field="conformity_requested")
    interval = text(recalibration_interval, "recalibration_interval", required=False,
                    max_len=80) or None
    where = text(place, "place", required=False, max_len=200) or "本实验室 Laboratory"
    conds = _conditions(conditions)
    res = None
    if resolution not in (None, ""):
        res_value = units.parse_value(resolution, field="resolution")
        if res_value <= 0:
            raise InvalidInput(msg("the resolution is positive"), field="resolution")
        res = str(resolution).strip()
    elif placeholders(proc.budget) & {"resolution", "resolution.half"}:
        raise InvalidInput(msg("the budget of %(procedure)s needs the item's resolution",
                               procedure=proc.code),
                           field="resolution")
    if sample in (None, ""):
        if condition in (None, ""):
            raise InvalidInput(msg("the condition on receipt is required"), field="condition")
        req = samples.create_request(session, actor=actor, customer_id=customer_id,
                                     description=description or "", decision_rule=decision_rule,
                                     r=r, number_format=request_number_format,
                                     timezone=timezone)
        today = lab_day(utcnow(), timezone)
        target = Sample(number=next_number(session, "sample", sample_number_format, today=today),
                        request_id=req.id, status=SampleStatus.REGISTERED,
                        registered_by_id=actor.id,
                        description=text(description or " ".join(filter(None, (
                            particulars["item_name"], particulars["model"],
                            particulars["serial_number"]))), "description", max_len=300))
        session.add(target)
        session.flush()
        record(session, actor=actor, action="sample.register", entity_type="samples",
               entity_id=target.number, after={**snapshot(target), "procedure": proc.code})
        target = samples.receive_sample(session, actor=actor, number=target.number,
                                        condition=condition)
    else:
        if any(v not in (None, "") for v in (customer_id, decision_rule, r)):
            raise InvalidInput(msg("an existing sample keeps its request's customer and decision rule"),
                               field="sample")
        target = samples.get_sample(session, text(sample, "sample", max_len=40), lock=True)
        if target.status not in (SampleStatus.REGISTERED, SampleStatus.RECEIVED):
            raise SampleStateError(msg("sample %(sample)s is %(status)s; only a registered or received "
                                       "sample becomes a calibration job",
                                       sample=target.number, status=target.status),
                                   sample=target.number, current=target.status)
    if job_of(session, target) is not None:
        raise Conflict(msg("sample %(sample)s is a calibration job already",
                           sample=target.number), field="sample")
    job = CalibrationJob(sample_id=target.id, procedure_id=proc.id, kind=proc.kind,
                         conformity_requested=asked or proc.kind == JobKind.VERIFICATION,
                         recalibration_interval=interval, place=where, conditions=conds,
                         resolution=res, created_by_id=actor.id, **particulars)
    session.add(job)
    session.flush()
    record(session, actor=actor, action="calibration_job.create", entity_type="calibration_jobs",
           entity_id=target.number, after={**snapshot(job), "procedure": proc.code})
    return job


def _item(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise InvalidInput(msg("must be an object with name, manufacturer, model, serial_number"),
                           field="item")
    return {"item_name": text(raw.get("name"), "item.name", max_len=120),
            "manufacturer": text(raw.get("manufacturer"), "item.manufacturer", required=False,
                                 max_len=120),
            "model": text(raw.get("model"), "item.model", required=False, max_len=120),
            "serial_number": text(raw.get("serial_number"), "item.serial_number",
                                  required=False, max_len=80),
            "accuracy_class": text(raw.get("accuracy_class"), "item.accuracy_class",
                                   required=False, max_len=40)}


def _conditions(raw: Any) -> list[dict[str, str | None]]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list) or len(raw) > 20:
        raise InvalidInput(msg("must be a list of at most 20 conditions"), field="conditions")
    out: list[dict[str, str | None]] = []
    for i, c in enumerate(raw):
        f = f"conditions[{i}]"
        if not isinstance(c, dict):
            raise InvalidInput(msg("must be an object with name, value and unit"), field=f)
        unit = text(c.get("unit"), f"{f}.unit", required=False, max_len=40) or None
        if unit is not None:
            units.parse_unit(unit, field=f"{f}.unit")
        out.append({"name": text(c.get("name"), f"{f}.name", max_len=80),
                    "value": text(c.get("value"), f"{f}.value", max_len=80), "unit": unit})
    return out


def job_of(session: Session, sample: Sample) -> CalibrationJob | None:
    return session.scalar(select(CalibrationJob).where(CalibrationJob.sample_id == sample.id))


def get_job(session: Session, number: str, *, lock: bool = False) -> tuple[Sample, CalibrationJob]:
    """The sample and its job; with ``lock``, the sample's row lock (as every change to a
    sample's results takes, :func:`lims.samples.services.get_sample`).

    :raises NotFound: no such sample, or the sample is not a calibration job.
    """
    from lims.samples.services import get_sample

    sample = get_sample(session, number, lock=lock)
    job = job_of(session, sample)
    if job is None:
        raise NotFound(msg("sample %(number)s is not a calibration job", number=number), sample=number)
    if lock:
        session.refresh(job)
    return sample, job


# --- readings ----------------------------------------------------------------------------------

def standard_in_force(session: Session, instrument: Instrument, at: dt.datetime | dt.date, *,
                      timezone: str) -> CalibrationRecord:
    """The record in force of a standard at ``at``, refusing a standard not fit for use
    (ISO/IEC 17025 6.4.4, 6.5.1: a standard used must itself be calibrated then).

    :raises CalibrationExpired: no calibration in force then, naming the standard, its latest
        certificate and its validity.
    :raises InstrumentUnavailable: out of service, a failed intermediate check, found out of
        tolerance.
    """
    moment = at if isinstance(at, dt.datetime) else dt.datetime.combine(
        at, dt.time(12), tzinfo=ZoneInfo(timezone))
    try:
        return check_fit_for_use(session, instrument, moment, timezone=timezone)
    except CalibrationExpired:
        day = lab_day(moment, timezone)
        last = latest_record(session, instrument.id)
        revoked = None if last else session.scalar(
            select(CalibrationRecord).where(CalibrationRecord.instrument_id == instrument.id,
                                            CalibrationRecord.is_current,
                                            CalibrationRecord.status == RecordStatus.REVOKED)
            .order_by(CalibrationRecord.id.desc()).limit(1))
        # A record revoked after the work was approved (a recall, ISO/IEC 17025 6.4.4): say
        # so, rather than that the standard was never calibrated.
        # Whole sentences, one per case, so each reads naturally in translation.
        standard = {"asset": instrument.asset_number, "name": instrument.name, "day": day}
        if last:
            message = msg("standard %(asset)s %(name)s cannot be used on %(day)s: its calibration "
                          "certificate %(certificate)s (%(provider)s) was valid until %(valid_until)s "
                          "(ISO/IEC 17025 6.4.4, 6.5)", **standard, certificate=last.certificate_number,
                          provider=last.provider.name, valid_until=last.valid_until.isoformat())
        elif revoked:
            message = msg("standard %(asset)s %(name)s cannot be used on %(day)s: its calibration "
                          "certificate %(certificate)s (%(provider)s) was revoked (ISO/IEC 17025 6.4.4, "
                          "6.5)", **standard, certificate=revoked.certificate_number,
                          provider=revoked.provider.name)
        else:
            message = msg("standard %(asset)s %(name)s cannot be used on %(day)s: it has no calibration "
                          "recorded (ISO/IEC 17025 6.4.4, 6.5)", **standard)
        raise CalibrationExpired(
            message, field="standards",
            standard=instrument.asset_number, used_on=day.isoformat(),
            certificate=last.certificate_number if last else None,
            valid_until=last.valid_until.isoformat() if last else None) from None
    except InstrumentUnavailable as exc:
        raise InstrumentUnavailable(msg("standard %(message)s", message=exc.message), field="standards",
                                    standard=instrument.asset_number) from None


def _numbers(raw: Any, field: str, *, required: bool = True) -> list[str]:
    if raw in (None, "") or raw == [] and not required:
        if required:
            raise InvalidInput(msg("give at least one reading"), field=field)
        return []
    if not isinstance(raw, list | tuple) or not 1 <= len(raw) <= MAX_READINGS:
        raise InvalidInput(msg("give 1 to %(max_readings)s readings",
                               max_readings=MAX_READINGS), field=field)
    out = []
    for i, value in enumerate(raw):
        units.parse_value(value, field=f"{field}[{i}]")
        out.append(str(value).strip())
    return out


def _point(job: CalibrationJob, point_id: Any) -> ProcedurePoint:
    pid = as_id(point_id, "point_id")
    for point in job.procedure.points:
        if point.id == pid:
            return point
    raise InvalidInput(msg("point %(point)s is not a point of %(procedure)s",
                           point=pid, procedure=job.procedure.code), field="point_id")


def _check_open(sample: Sample) -> None:
    if sample.status not in RESULTS_OPEN:
        raise SampleStateError(
            msg("sample %(sample)s is %(status)s; readings can be recorded or corrected only while it is "
                "%(allowed)s",
                sample=sample.number, status=sample.status, allowed=', '.join(sorted(RESULTS_OPEN))),
            sample=sample.number, current=sample.status)


def _build(session: Session, *, actor: User, sample: Sample, job: CalibrationJob,
           point: ProcedurePoint, state: Any, values: Any, unit: Any, standard_values: Any,
           measured_at: Any, source: str, raw: bytes | None, instrument_id: Any,
           timezone: str) -> CalibrationReading:
    from lims.samples.services import measurement_time

    if state not in STATES:
        raise InvalidInput(msg("must be one of %(allowed)s", allowed=Choices(STATES)), field="state")
    proc = job.procedure
    qkind = kinds.get(proc.quantity_kind)
    written = proc.unit if unit in (None, "") else unit
    ku = kinds.resolve(qkind, written, field="unit", like=proc.unit_canonical,
                       expected=proc.unit)
    item = _numbers(values, "values")
    std = _numbers(standard_values, "standard_values", required=False)
    at = measurement_time(sample, measured_at, timezone=timezone)
    used_standards = []
    for s in proc.standards:
        instrument = session.get(Instrument, s.instrument_id)
        assert instrument is not None  # noqa: S101 - a foreign key
        rec = standard_in_force(session, instrument, at, timezone=timezone)
        used_standards.append(ReadingStandard(slot=s.slot, instrument_id=instrument.id,
                                              record_id=rec.id))
    used = get_instrument(session, as_id(instrument_id, "instrument_id")) \
        if instrument_id not in (None, "") else None
    return CalibrationReading(
        job_id=job.id, point_id=point.id, state=state, values=item, standard_values=std,
        unit=ku.written, unit_canonical=ku.canonical, standards=used_standards, source=source,
        instrument_id=used.id if used else None, raw=raw, measured_at=at,
        recorded_by_id=actor.id)


def record_readings(session: Session, *, actor: User, number: str, point_id: Any, values: Any,
                    unit: Any = None, standard_values: Any = None, state: Any = PointState.AS_LEFT,
                    measured_at: Any = None, source: str = "manual", raw: bytes | None = None,
                    instrument_id: Any = None, timezone: str) -> CalibrationReading:
    """Record the readings at a point, as found or as left (default: as left, the state the
    certificate reports for an item not adjusted), exactly as typed or captured.

    :raises InvalidInput: a value that is not a number, a unit not of the procedure's kind
        (naming both), a point not of the procedure, a time before receipt or in the future.
    :raises CalibrationExpired: a standard of the procedure has no calibration in force at
        the time of measurement (naming it and its certificate's validity).
    :raises SampleStateError: the sample does not take readings now.
    :raises Conflict: the point already has readings in that state (correct them instead).
    """
    require(actor, "result.capture" if source == "instrument" else "result.record")
    from lims.samples.services import _transition

    sample, job = get_job(session, number, lock=True)
    _check_open(sample)
    if sample.status == SampleStatus.RESULTS_COMPLETE:
        # Testing was declared complete on this set of points; a new set (an adjustment, a
        # point measured again) reopens testing first. Corrections stay possible until review.
        raise SampleStateError(msg("testing of %(sample)s was declared complete; reopen testing to record "
                                   "further readings", sample=sample.number), sample=sample.number,
                               current=sample.status)
    point = _point(job, point_id)
    if (point.id, state) in job.current_readings():
        raise Conflict(msg("point %(point)s (%(nominal)s %(unit)s) already has %(state)s readings on "
                           "%(sample)s; correct them instead",
                           point=point.seq, nominal=point.nominal, unit=point.unit, state=state,
                           sample=sample.number), field="point_id")
    reading = _build(session, actor=actor, sample=sample, job=job, point=point, state=state,
                     values=values, unit=unit, standard_values=standard_values,
                     measured_at=measured_at, source=source, raw=raw,
                     instrument_id=instrument_id, timezone=timezone)
    session.add(reading)
    session.flush()
    _dates(job, actor, timezone)
    record(session, actor=actor, action="calibration.reading", entity_type="calibration_readings",
           entity_id=reading.id, after={**snapshot(reading), "sample": sample.number,
                                        "standard_records": reading.standard_records})
    session.refresh(job)
    if sample.status == SampleStatus.RECEIVED:
        _transition(session, sample, SampleStatus.IN_TESTING, actor=actor, action="sample.start")
    return reading


def _dates(job: CalibrationJob, actor: User, timezone: str) -> None:
    """The calibration date is the day of the latest current measurement (JJF 1071 校准日期);
    who calibrated is who recorded the first readings."""
    session = object_session(job)
    assert session is not None  # noqa: S101 - a persistent job
    session.refresh(job)
    current = [r.measured_at for r in job.readings if r.is_current]
    job.calibrated_on = lab_day(max(current), timezone) if current else None
    if job.calibrated_by_id is None:
        job.calibrated_by_id = actor.id
    session.flush()


def correct_readings(session: Session, *, actor: User, reading_id: Any, values: Any,
                     reason: Any, unit: Any = None, standard_values: Any = None,
                     measured_at: Any = None, timezone: str) -> CalibrationReading:
    """Correct a point's readings: a new version with the reason; the original stays readable
    (ISO/IEC 17025 7.5.2). The measurement time is the original's unless given.

    :raises Conflict: the readings were already corrected (correct the current version).
    Otherwise raises what :func:`record_readings` raises.
    """
    require(actor, "result.correct")
    reason = text(reason, "reason", max_len=MAX_TEXT)
    old = session.get(CalibrationReading, as_id(reading_id, "reading_id"))
    if old is None:
        raise NotFound(msg("no such readings"), reading=reading_id)
    owner = session.get(CalibrationJob, old.job_id)
    sample_row = session.get(Sample, owner.sample_id) if owner else None
    if sample_row is None:  # pragma: no cover - foreign keys
        raise NotFound(msg("no such readings"), reading=reading_id)
    # Lock the sample, then read the readings again: a concurrent correction or review may
    # have changed both since the first read.
    sample, job = get_job(session, sample_row.number, lock=True)
    session.refresh(old)
    if not old.is_current:
        raise Conflict(msg("readings %(readings)s were already corrected; correct the current version",
                           readings=old.id), field="reading_id")
    _check_open(sample)
    point = _point(job, old.point_id)
    new = _build(session, actor=actor, sample=sample, job=job, point=point, state=old.state,
                 values=values, unit=unit if unit not in (None, "") else old.unit,
                 standard_values=standard_values,
                 measured_at=old.measured_at if measured_at in (None, "") else measured_at,
                 source="manual", raw=None, instrument_id=old.instrument_id, timezone=timezone)
    new.version, new.replaces_id, new.reason = old.version + 1, old.id, reason
    old.is_current = False
    session.add(new)
    session.flush()
    _dates(job, actor, timezone)
    record(session, actor=actor, action="calibration.reading_correct",
           entity_type="calibration_readings", entity_id=new.id, before=snapshot(old),
           after=snapshot(new), reason=reason)
    return new


def read_for_point(session: Session, *, actor: User, number: str, point_id: Any,
                   instrument_id: Any, target: str, count: int, timezone: str,
                   port_hosts: tuple[str, ...] = ()) -> tuple[Instrument, list[Reading]]:
    """Read ``count`` stable readings from a registered instrument for a point, writing nothing
    (run it outside a write transaction). ``target`` ``item``: the customer's instrument on a
    bench port (its register entry's serial number must be the job's); ``standard``: one of the
    procedure's standards, which must be in force now.

    :raises InvalidInput: a bad target or count, an instrument that is not the item or not a
        standard of the procedure. :raises InstrumentUnavailable: the driver failed.
    """
    from lims.instruments.capture import take_readings

    require(actor, "result.capture")
    _sample, job = get_job(session, number)
    _point(job, point_id)
    if target not in ("item", "standard"):
        raise InvalidInput(msg("must be item or standard"), field="target")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 20:
        raise InvalidInput(msg("take 1 to 20 readings"), field="count")
    instrument = get_instrument(session, as_id(instrument_id, "instrument_id"))
    standards = {s.instrument_id for s in job.procedure.standards}
    if target == "standard":
        if instrument.id not in standards:
            raise InvalidInput(msg("%(asset)s is not a standard of %(procedure)s",
                                   asset=instrument.asset_number, procedure=job.procedure.code),
                               field="instrument_id")
        standard_in_force(session, instrument, utcnow(), timezone=timezone)
    elif instrument.id in standards or (job.serial_number and
                                        instrument.serial_number != job.serial_number):
        raise InvalidInput(msg("%(asset)s is not the item of %(number)s (serial number %(serial)s)",
                               asset=instrument.asset_number, number=number, serial=job.serial_number)
                           if job.serial_number else
                           msg("%(asset)s is not the item of %(number)s (serial number not recorded)",
                               asset=instrument.asset_number, number=number),
                           field="instrument_id")
    return instrument, take_readings(instrument, job.procedure.unit, count,
                                     port_hosts=port_hosts)


def record_captured(session: Session, *, actor: User, number: str, point_id: Any,
                    instrument: Instrument, readings: list[Reading], target: str,
                    state: Any = PointState.AS_LEFT, typed: Any = None,
                    timezone: str) -> CalibrationReading:
    """Record readings captured by :func:`read_for_point` with their raw bytes; the other
    side's readings (``typed``: the standard's for an item capture, the item's for a standard
    capture) as typed."""
    captured = [r.value for r in readings]
    unit = readings[0].unit if readings else None
    if any(r.unit != unit for r in readings):
        raise InvalidInput(msg("the readings came in different units"), field="instrument_id")
    raw = b"\n".join(r.raw for r in readings)
    item, std = (captured, typed) if target == "item" else (typed, captured)
    return record_readings(session, actor=actor, number=number, point_id=point_id, values=item,
                           standard_values=std, unit=unit, state=state,
                           measured_at=max(r.at for r in readings), source="instrument",
                           raw=raw, instrument_id=instrument.id, timezone=timezone)


# --- hooks of the sample lifecycle -------------------------------------------------------------

def missing_points(sample: Sample) -> list[str]:
    """Points of a job sample not yet measured (what :func:`lims.samples.services.
    complete_testing` refuses to complete without). When the item was adjusted (a point has
    readings as found and as left), every point needs its as-left readings."""
    session = object_session(sample)
    job = job_of(session, sample) if session is not None else None
    if job is None:
        return []
    current = job.current_readings()
    adjusted = any((p, PointState.AS_FOUND) in current and (p, PointState.AS_LEFT) in current
                   for p, _s in current)
    missing = []
    for point in job.procedure.points:
        states = {s for (p, s) in current if p == point.id}
        if not states or (adjusted and PointState.AS_LEFT not in states):
            label = f"{job.procedure.code} point {point.seq} ({point.nominal} {point.unit})"
            missing.append(label + (" as left" if states else ""))
    return missing


def reading_authors(sample: Sample) -> set[int]:
    """Everyone who recorded or corrected readings of a job sample (separation of duties,
    ISO/IEC 17025 7.5.1: they neither review nor approve)."""
    session = object_session(sample)
    if session is None:
        return set()
    return set(session.scalars(
        select(CalibrationReading.recorded_by_id).join(CalibrationJob)
        .where(CalibrationJob.sample_id == sample.id)))


def job_fields(sample: Sample) -> set[str]:
    """The signatory scope a job sample's approval needs: its procedure's field."""
    session = object_session(sample)
    job = job_of(session, sample) if session is not None else None
    return {job.procedure.field} if job is not None else set()


# --- computation -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class StandardAt:
    """What a standard's certificate in force says near a point, in the procedure's unit."""

    slot: str
    instrument: Instrument
    record: CalibrationRecord
    point: CalibrationPoint | None
    value: Decimal | None
    nominal: Decimal | None
    U: Decimal | None
    k: Decimal | None


@dataclasses.dataclass(frozen=True)
class PointResult:
    """One point, one state, computed; numbers as text with the digits they are reported
    with. ``problem`` says why nothing could be computed (a budget the engine refused)."""

    point_id: int
    seq: int
    state: str
    nominal: str
    unit: str
    mpe: str | None
    reading_id: int
    version: int
    readings: tuple[str, ...]
    standard_readings: tuple[str, ...]
    indicated: str | None = None
    reference: str | None = None
    error: str | None = None
    expanded_uncertainty: str | None = None
    k: str | None = None
    coverage_probability: str | None = None
    cmc_applied: bool = False
    conformity: str | None = None
    statement: str = ""
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["readings"], data["standard_readings"] = list(self.readings), \
            list(self.standard_readings)
        return data


def _kind_unit(proc: CalibrationProcedure, written: str, field: str = "unit") -> kinds.KindUnit:
    return kinds.resolve(kinds.get(proc.quantity_kind), written, field=field,
                         like=proc.unit_canonical, expected=proc.unit)


def _in_proc_unit(proc: CalibrationProcedure, value: Decimal, written: str) -> Decimal:
    src, dst = _kind_unit(proc, written), _kind_unit(proc, proc.unit)
    return kinds.registry.convert(value, src, dst) if src.canonical != dst.canonical else value


def _interval_in_proc_unit(proc: CalibrationProcedure, value: Decimal, written: str) -> Decimal:
    """An uncertainty (an interval) in the procedure's unit: scale only, never an offset."""
    src = units.parse_unit(written)
    dst = units.parse_unit(proc.unit)
    if str(src) == str(dst):
        return value
    units.check_compatible(src, dst, given_text=written)
    return units.convert(value, src, dst) - units.convert(Decimal(0), src, dst)


def _stats(values: list[Decimal]) -> dict[str, Decimal | None]:
    n = len(values)
    mean = sum(values, Decimal(0)) / n
    if n < 2:
        return {"mean": mean, "s": None, "sdm": Decimal(0), "n": Decimal(n), "dof": None}
    s = (sum(((x - mean) ** 2 for x in values), Decimal(0)) / (n - 1)).sqrt()
    return {"mean": mean, "s": s, "sdm": s / Decimal(n).sqrt(), "n": Decimal(n),
            "dof": Decimal(n - 1)}


def standards_at(session: Session, job: CalibrationJob, reading: CalibrationReading,
                 nominal: Decimal) -> list[StandardAt]:
    """Each standard's record as kept with the readings, and its calibration point nearest the
    nominal (of the procedure's dimension; as-left values where the record has both)."""
    proc = job.procedure
    proc_unit = units.parse_unit(proc.unit)
    want = proc_unit.dimensionality
    out = []
    for s in proc.standards:
        instrument = session.get(Instrument, s.instrument_id)
        rec = session.get(CalibrationRecord, reading.standard_records.get(s.slot, 0))
        assert instrument is not None  # noqa: S101 - a foreign key
        if rec is None:
            raise InvalidInput(msg("the readings keep no calibration of standard %(asset)s",
                                   asset=instrument.asset_number), field="standards")
        best: tuple[Decimal, int, CalibrationPoint, Decimal, Decimal] | None = None
        for p in rec.points:
            try:
                unit = units.parse_unit(p.unit)
                if unit.dimensionality != want:
                    continue
                value = units.convert(units.parse_value(p.value), unit, proc_unit)
                nom_unit = unit if not p.nominal_unit or p.nominal_unit == p.unit else \
                    units.parse_unit(p.nominal_unit)
                nom = value if p.nominal is None or nom_unit.dimensionality != want else \
                    units.convert(units.parse_value(p.nominal), nom_unit, proc_unit)
            except (InvalidInput, ArithmeticError):
                continue
            key = (abs(nom - nominal), 0 if p.state == PointState.AS_LEFT else 1, p, value, nom)
            if best is None or key[:2] < best[:2]:
                best = key
        if best is None:
            out.append(StandardAt(s.slot, instrument, rec, None, None, None, None, None))
            continue
        p, value, nom = best[2], best[3], best[4]
        U = k = None
        if p.expanded_uncertainty is not None:
            U = _interval_in_proc_unit(proc, units.parse_value(p.expanded_uncertainty), p.unit)
            k = units.parse_value(p.k) if p.k else Decimal(2)
        out.append(StandardAt(s.slot, instrument, rec, p, value, nom, U, k))
    return out


def _show_k(k: float) -> str:
    return str(round(k)) if abs(k - round(k)) < 1e-9 else f"{k:.2f}"


def compute_reading(session: Session, job: CalibrationJob, reading: CalibrationReading, *,
                    rule: str, r: str | None) -> PointResult:
    """Compute one point in one state (see the module docstring). Never raises for a budget
    or a standard's certificate that does not fit: the result says what the problem is."""
    proc = job.procedure
    point = next(p for p in proc.points if p.id == reading.point_id)
    base = PointResult(point_id=point.id, seq=point.seq, state=reading.state,
                       nominal=_nominal_text(proc, point), unit=proc.unit, mpe=point.mpe,
                       reading_id=reading.id, version=reading.version,
                       readings=tuple(reading.values),
                       standard_readings=tuple(reading.standard_values))
    try:
        return _compute(session, job, reading, point, base, rule=rule, r=r)
    except InvalidInput as exc:
        where = f" ({exc.field})" if exc.field else ""
        return dataclasses.replace(base, problem=f"{exc.message}{where}")
    except (ArithmeticError, ValueError) as exc:
        # Numbers the arithmetic cannot carry (a reading of 1e30 g kept to 0.1 mg, a model
        # dividing by zero at this point) are the point's problem, shown and refused on the
        # certificate, never a server error.
        return dataclasses.replace(base, problem=f"cannot be computed: {type(exc).__name__}")


def _nominal_text(proc: CalibrationProcedure, point: ProcedurePoint) -> str:
    """The nominal value in the procedure's unit: as written when written in it."""
    if point.unit == proc.unit:
        return point.nominal
    try:
        value = _in_proc_unit(proc, units.parse_value(point.nominal), point.unit)
    except InvalidInput:
        return f"{point.nominal} {point.unit}"
    return decimal_text(value.normalize() if value == value.to_integral() else value)


def _compute(session: Session, job: CalibrationJob, reading: CalibrationReading,
             point: ProcedurePoint, base: PointResult, *, rule: str,
             r: str | None) -> PointResult:
    proc = job.procedure
    xs = [_in_proc_unit(proc, units.parse_value(v), reading.unit) for v in reading.values]
    refs = [_in_proc_unit(proc, units.parse_value(v), reading.unit)
            for v in reading.standard_values]
    nominal = _in_proc_unit(proc, units.parse_value(point.nominal), point.unit)
    item, std = _stats(xs), _stats(refs) if refs else None
    mean = item["mean"]
    assert mean is not None  # noqa: S101 - at least one reading
    # The indicated value keeps the item's resolution (JJF 1071 5.12: no more digits than the
    # instrument shows), or the finest digits of the readings as written.
    if job.resolution:
        exponent = units.parse_value(job.resolution).as_tuple().exponent
    else:
        # the readings' digits as written, moved by the conversion (mg → g: three places)
        shift = _in_proc_unit(proc, Decimal(1), reading.unit).adjusted()
        exponent = min(int(units.parse_value(v).as_tuple().exponent)
                       for v in reading.values) + shift
    assert isinstance(exponent, int)  # noqa: S101 - parse_value admits finite numbers only
    indicated = mean.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)
    reference = std["mean"] if std else nominal
    assert reference is not None  # noqa: S101
    error = indicated - reference
    standards = standards_at(session, job, reading, nominal)
    resolution = units.parse_value(job.resolution) if job.resolution else None
    values: dict[str, Value] = {
        "unit": proc.unit, "nominal": decimal_text(nominal),
        "mpe": point.mpe, "reference": decimal_text(reference),
        "indicated": decimal_text(indicated), "error": decimal_text(error),
        "resolution": decimal_text(resolution) if resolution else None,
        "resolution.half": decimal_text(resolution / 2) if resolution else None,
        "readings": [decimal_text(x) for x in xs],
        "standard_readings": [decimal_text(x) for x in refs] if refs else None}
    for group, stats in (("readings", item), ("standard_readings", std)):
        for key in ("mean", "s", "sdm", "n"):
            value = stats.get(key) if stats else None
            values[f"{group}.{key}"] = decimal_text(value) if value is not None else None
        values[f"{group}.dof"] = (decimal_text(stats["dof"]) if stats["dof"] is not None
                                  else "inf") if stats else None
    for s in standards:
        values |= {f"{s.slot}.U": _opt(s.U), f"{s.slot}.k": _opt(s.k),
                   f"{s.slot}.u": _opt(None if s.U is None or s.k is None else s.U / s.k),
                   f"{s.slot}.value": _opt(s.value), f"{s.slot}.nominal": _opt(s.nominal)}
    values |= {f"const.{k}": v for k, v in proc.constants.items()}
    budget = parse_budget(fill(proc.budget, values))
    evaluation = evaluate(budget)
    U = _interval_in_proc_unit(proc, evaluation.reported.expanded_uncertainty, budget.unit.text)
    U = round_uncertainty(U) if U != evaluation.reported.expanded_uncertainty else U
    exponent = U.as_tuple().exponent
    assert isinstance(exponent, int)  # noqa: S101 - a finite Decimal
    quantum = Decimal(1).scaleb(exponent)
    # ILAC-P14 5.4 / GUM 7.2.6: the error is stated to the decimal place of its U.
    shown_error = round_to(error, quantum) if U > 0 else error
    shown_reference = base.nominal if not refs else \
        decimal_text(round_to(reference, quantum) if U > 0 else reference)
    k = _show_k(evaluation.k)
    result = dataclasses.replace(
        base, indicated=decimal_text(indicated), reference=shown_reference,
        error=decimal_text(shown_error), expanded_uncertainty=decimal_text(U), k=k,
        coverage_probability=f"{evaluation.coverage_probability:.2f}",
        cmc_applied=evaluation.reported.cmc_applied)
    if (job.conformity_requested or job.kind == JobKind.VERIFICATION) and point.mpe:
        d = decide(value=decimal_text(error), unit=proc.unit,
                   expanded_uncertainty=decimal_text(U), lower=f"-{point.mpe}",
                   upper=point.mpe, rule=rule, r=r or "1", k=k)
        result = dataclasses.replace(result, conformity=d.verdict,
                                     statement=f"{d.statement_zh} / {d.statement_en}")
    return result


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def compute(session: Session, sample: Sample, job: CalibrationJob) -> list[PointResult]:
    """Every current reading set of the job, computed, in point order (as found first)."""
    req = sample.request
    order = {p.id: p.seq for p in job.procedure.points}
    readings = sorted((r for r in job.readings if r.is_current),
                      key=lambda r: (order[r.point_id], STATES.index(PointState(r.state))))
    # The session's identity map holds objects weakly: without these references every point
    # would load the standards and their certificates (with their points) again — 5 queries
    # a point, most of a 20-point certificate's content time. Same rows, same transaction.
    held: list[object] = [session.get(Instrument, s.instrument_id)
                          for s in job.procedure.standards]
    held += [session.get(CalibrationRecord, rec_id)
             for rec_id in {i for r in readings for i in r.standard_records.values()}]
    results = [compute_reading(session, job, r, rule=req.decision_rule, r=req.guard_factor)
               for r in readings]
    del held
    return results


def final_results(results: Iterable[PointResult]) -> list[PointResult]:
    """The result each point ends with: as left where the item was adjusted, else as found."""
    by_point: dict[int, PointResult] = {}
    for res in results:
        if res.point_id not in by_point or res.state == PointState.AS_LEFT:
            by_point[res.point_id] = res
    return [by_point[p] for p in sorted(by_point, key=lambda p: by_point[p].seq)]


def job_json(session: Session, sample: Sample, job: CalibrationJob) -> dict[str, Any]:
    proc = job.procedure
    results = compute(session, sample, job)
    final = final_results(results)
    judged = [r for r in final if r.conformity is not None]
    return {
        "sample": sample.number, "request": sample.request.number, "status": sample.status,
        "customer": sample.request.customer.name,
        "decision_rule": {"rule": sample.request.decision_rule, "r": sample.request.guard_factor},
        "kind": job.kind, "procedure": {"id": proc.id, "code": proc.code, "title": proc.title,
                                        "clause": proc.clause, "unit": proc.unit},
        "item": {"name": job.item_name, "manufacturer": job.manufacturer, "model": job.model,
                 "serial_number": job.serial_number, "accuracy_class": job.accuracy_class},
        "resolution": job.resolution, "conformity_requested": job.conformity_requested,
        "recalibration_interval": job.recalibration_interval, "place": job.place,
        "conditions": job.conditions,
        "calibrated_on": job.calibrated_on.isoformat() if job.calibrated_on else None,
        "calibrated_by_id": job.calibrated_by_id,
        "points": [{"id": p.id, "seq": p.seq, "nominal": p.nominal, "unit": p.unit,
                    "mpe": p.mpe} for p in proc.points],
        "results": [r.to_json() for r in results],
        "missing": missing_points(sample),
        "conforms": (all(r.conformity == "pass" for r in judged) and len(judged) == len(final)
                     and bool(final)) if judged else None,
        "readings": [reading_json(r) for r in job.readings],
    }


def reading_json(r: CalibrationReading) -> dict[str, Any]:
    return {"id": r.id, "point_id": r.point_id, "state": r.state, "version": r.version,
            "is_current": r.is_current, "values": list(r.values),
            "standard_values": list(r.standard_values), "unit": r.unit, "source": r.source,
            "instrument_id": r.instrument_id,
            "raw": r.raw.decode("latin-1") if r.raw is not None else None,
            "standard_records": dict(r.standard_records),
            "measured_at": r.measured_at.isoformat(), "recorded_at": r.recorded_at.isoformat(),
            "recorded_by_id": r.recorded_by_id,
            "replaces_id": r.replaces_id, "reason": r.reason}


# --- the certificate's content -----------------------------------------------------------------

VERDICT_TEXT = {"pass": "符合 conforms", "fail": "不符合 does not conform",
                "conditional pass": "有条件符合 conditional pass",
                "conditional fail": "有条件不符合 conditional fail"}
def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year,
                                                                                   month)[1]))


def certificate_content(session: Session, sample_or_job: Sample | CalibrationJob, *,
                        number: str, issued_at: dt.datetime,
                        settings: Settings) -> CertificateContent:
    """Snapshot what the certificate says, from the job, its current readings, the procedure
    and the standards' records in force (ISO/IEC 17025 7.8.2.1, 7.8.4.1; JJF 1071).

    A calibration gives a 校准证书 (``calibration_certificate``); a verification a 检定证书
    (``verification_certificate``, valid until the calibration date plus the regulation's
    period less a day) when every point conforms, else a 检定结果通知书
    (``verification_notice``) listing the failing points.

    :raises SampleStateError: the sample is not reviewed and approved, or a point is missing.
    :raises CalibrationExpired: a standard's record is no longer in force on the calibration
        date (revoked or corrected since), naming it.
    :raises Conflict: a point could not be computed (its problem named).
    """
    from lims.reports.services import decision_rule_text

    if isinstance(sample_or_job, CalibrationJob):
        job = sample_or_job
        found = session.get(Sample, job.sample_id)
        assert found is not None  # noqa: S101 - a foreign key
        sample = found
    else:
        sample = sample_or_job
        found_job = job_of(session, sample)
        if found_job is None:
            raise NotFound(msg("sample %(sample)s is not a calibration job",
                               sample=sample.number),
                           sample=sample.number)
        job = found_job
    if sample.reviewed_by_id is None or sample.approved_by_id is None or \
            job.calibrated_on is None or job.calibrated_by_id is None:
        raise SampleStateError(msg("%(sample)s has not been calibrated, reviewed and approved",
                                   sample=sample.number), sample=sample.number)
    missing = missing_points(sample)
    if missing:
        raise SampleStateError(msg("%(sample)s lacks readings for %(points)s",
                                   sample=sample.number, points=', '.join(missing)),
                               sample=sample.number, missing=missing)
    proc, req, tz = job.procedure, sample.request, settings.timezone
    results = compute(session, sample, job)
    broken = [f"point {r.seq} ({r.state}): {r.problem}" for r in results if r.problem]
    if broken:
        raise Conflict(msg("%(sample)s: %(problems)s",
                           sample=sample.number, problems='; '.join(broken)), sample=sample.number)
    final = final_results(results)
    dsi = unit_to_dsi(proc.unit, field="unit")
    # Both states print when the item was adjusted (ISO/IEC 17025 7.8.4.1 b).
    adjusted = any(r.state == PointState.AS_FOUND for r in results) and any(
        r.state == PointState.AS_LEFT for r in results)
    shown = results if adjusted else final
    points = tuple(PointLine(
        seq=r.seq, state=r.state, quantity=proc.quantity, nominal=r.nominal,
        reference=r.reference or "", indicated=r.indicated or "", error=r.error or "",
        unit=r.unit, dsi_unit=dsi, expanded_uncertainty=r.expanded_uncertainty or "",
        k=r.k or "", coverage_probability=r.coverage_probability or "", mpe=r.mpe,
        conformity=r.conformity, readings=r.readings) for r in shown)

    standards = []
    for s in proc.standards:
        instrument = session.get(Instrument, s.instrument_id)
        assert instrument is not None  # noqa: S101 - a foreign key
        rec = standard_in_force(session, instrument, job.calibrated_on, timezone=tz)
        near = [p for p in rec.points if p.expanded_uncertainty]
        accuracy = instrument.accuracy_class or (
            f"U = {near[0].expanded_uncertainty} {near[0].unit} (k = {near[0].k or '2'})"
            if len(near) == 1 else "")
        standards.append(StandardUsed(
            asset_number=instrument.asset_number, name=instrument.name, model=instrument.model,
            serial_number=instrument.serial_number, certificate_number=rec.certificate_number,
            provider=rec.provider.name, valid_until=rec.valid_until, accuracy=accuracy))

    judged = job.conformity_requested or job.kind == JobKind.VERIFICATION
    failing = [r for r in final if r.conformity not in (None, "pass")]
    kind = CALIBRATION_CERTIFICATE
    valid_until = None
    statement = rule = ""
    # "The results relate only to the item calibrated" (7.8.2.1 j) is printed by the
    # document itself, PDF and DCC alike: not repeated here.
    remarks: list[str] = []
    if judged:
        rule = decision_rule_text(req.decision_rule, req.guard_factor)
        ref = f"{proc.code}{' ' + proc.clause if proc.clause else ''}"
        if not failing:
            statement = (f"所检各点示值误差均符合 {ref} 规定的最大允许误差 / At every point the "
                         f"error is within the maximum permissible error of {ref}")
        else:
            listed = "; ".join(f"{r.nominal} {r.unit}: {r.error} {r.unit} (MPE ±{r.mpe} "
                               f"{r.unit}, {VERDICT_TEXT.get(r.conformity or '', '')})"
                               for r in failing)
            statement = (f"下列各点不符合 {ref} 的最大允许误差要求 / These points do not conform to "
                         f"the maximum permissible error of {ref}: {listed}")
    if job.kind == JobKind.VERIFICATION:
        if failing:
            kind = VERIFICATION_NOTICE
            remarks.append("不合格项 Failing points: " + "; ".join(
                f"{r.nominal} {r.unit}" for r in failing))
        else:
            kind = VERIFICATION_CERTIFICATE
            valid_until = add_months(job.calibrated_on, proc.verification_months or 12) \
                - dt.timedelta(days=1)
    recalibration = ""
    if job.recalibration_interval and job.kind == JobKind.CALIBRATION:
        recalibration = (f"应客户要求，建议复校时间间隔为 {job.recalibration_interval} / At the "
                         f"customer's request: recalibration interval {job.recalibration_interval}")

    authors = reading_authors(sample) or {job.calibrated_by_id}
    names = {u.id: u.full_name for u in session.scalars(select(User).where(User.id.in_(
        authors | {job.calibrated_by_id, sample.reviewed_by_id, sample.approved_by_id})))}
    doer = "检定员 Verified by" if job.kind == JobKind.VERIFICATION else "校准员 Calibrated by"
    calibrated_at = max(r.measured_at for r in job.readings if r.is_current)
    signatures = (
        Signature(doer, "、".join(sorted(names[a] for a in authors)), calibrated_at),
        Signature("核验员 Checked by", names[sample.reviewed_by_id], sample.reviewed_at),
        Signature("批准人 Approved by", names[sample.approved_by_id], issued_at))
    customer = req.customer
    return CertificateContent(
        kind=kind, number=number,
        lab=Party(settings.lab_name, settings.lab_name_en, settings.lab_address),
        customer=Party(customer.name, "", customer.address, customer.contact),
        item=Item(name=job.item_name, manufacturer=job.manufacturer, model=job.model,
                  serial_number=job.serial_number, sample_number=sample.number,
                  condition_on_receipt=sample.condition_on_receipt or "",
                  accuracy_class=job.accuracy_class),
        procedure=Procedure(proc.code, proc.title, proc.clause), request_number=req.number,
        received_at=sample.received_at or sample.registered_at,
        calibrated_on=job.calibrated_on, issued_at=issued_at, place=job.place,
        standards=tuple(standards),
        conditions=tuple(Condition(str(c.get("name") or ""), str(c.get("value") or ""),
                                   c.get("unit")) for c in job.conditions),
        points=points, signatures=signatures,
        verify_url=f"{settings.public_url.rstrip('/')}/verify/{number}", timezone=tz,
        conformity_statement=statement, decision_rule=rule, method_note=proc.method_note,
        valid_until=valid_until, recalibration=recalibration, remarks=tuple(remarks))
