"""Traceability on the database: the chain of every result of a report (forward), and the impact
of a standard found out of tolerance (reverse, ISO/IEC 17025 7.10).

The checks of a chain are pure (:mod:`lims.calibration.traceability`); this module only loads.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import pint
from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session, joinedload

from lims import units
from lims.calibration import traceability
from lims.calibration.models import (
    CalibrationJob,
    CalibrationReading,
    CalibrationRecord,
    CalibrationStandard,
    ReadingStandard,
    RecordStatus,
)
from lims.calibration.services import DIMENSIONLESS, latest_on
from lims.errors import InvalidInput, NotFound, msg
from lims.instruments.models import Instrument
from lims.reports.models import Report
from lims.samples.models import Customer, Result, Sample, SampleTest, TestRequest


@lru_cache(maxsize=512)
def _unit(text: str) -> pint.Unit:
    return units.parse_stored(text)  # a result's notation unit (HV10, pH) is dimensionless


def convert(value: Decimal, unit: str, to: str) -> Decimal:
    if unit == to:
        return value
    return units.convert(value, _unit(unit), _unit(to))


class SessionLoader:
    """:class:`traceability.Loader` over a session, caching what one trace reads twice."""

    def __init__(self, session: Session, timezone: str) -> None:
        self.session, self.timezone = session, timezone
        self._instruments: dict[int, traceability.InstrumentInfo] = {}
        self._records: dict[int, traceability.RecordInfo] = {}
        self._in_force: dict[tuple[int, dt.date], int | None] = {}

    def instrument(self, instrument_id: int) -> traceability.InstrumentInfo:
        if instrument_id not in self._instruments:
            row = self.session.execute(
                select(Instrument.id, Instrument.asset_number, Instrument.name, Instrument.role)
                .where(Instrument.id == instrument_id)).first()
            if row is None:
                raise NotFound(msg("no instrument %(instrument_id)s",
                                   instrument_id=instrument_id))
            self._instruments[instrument_id] = traceability.InstrumentInfo(*row)
        return self._instruments[instrument_id]

    def record(self, record_id: int) -> traceability.RecordInfo:
        if record_id not in self._records:
            rec = self.session.get(CalibrationRecord, record_id)
            if rec is None:
                raise NotFound(msg("no calibration record %(record_id)s",
                                   record_id=record_id))
            self._records[record_id] = info(rec)
        return self._records[record_id]

    def record_in_force(self, instrument_id: int, day: dt.date
                        ) -> traceability.RecordInfo | None:
        key = (instrument_id, day)
        if key not in self._in_force:  # the walk asks the same question when choosing a standard
            rec = self._latest_on(instrument_id, day)
            self._in_force[key] = None if rec is None or day > rec.valid_until else rec.id
            if rec is not None and rec.id not in self._records:
                self._records[rec.id] = info(rec)
        rid = self._in_force[key]
        return None if rid is None else self.record(rid)


    def _latest_on(self, instrument_id: int, day: dt.date) -> CalibrationRecord | None:
        """:func:`record_in_force`'s query, with the instrument and the standards in the same
        round trip: a chain is a few links deep and each link's queries are its cost."""
        row = self.session.execute(latest_on(
            select(CalibrationRecord, Instrument.asset_number, Instrument.name, Instrument.role)
            .join(Instrument, Instrument.id == CalibrationRecord.instrument_id)
            .options(joinedload(CalibrationRecord.standards)), instrument_id, day)
        ).unique().first()
        if row is None:
            return None
        rec, asset, name, role = row
        self._instruments.setdefault(instrument_id, traceability.InstrumentInfo(
            instrument_id, asset, name, role))
        return rec


def info(rec: CalibrationRecord) -> traceability.RecordInfo:
    return traceability.RecordInfo(
        id=rec.id, instrument_id=rec.instrument_id, certificate=rec.certificate_number,
        provider=rec.provider.name, provider_kind=rec.provider.kind,
        calibrated_on=rec.calibrated_on, valid_until=rec.valid_until, status=rec.status,
        points=tuple(traceability.PointInfo(
            id=p.id, quantity=p.quantity, state=p.state, nominal=p.nominal,
            nominal_unit=_canonical(p.nominal_unit) if p.nominal_unit else None, value=p.value,
            unit=p.unit, unit_canonical=p.unit_canonical, dimension=p.dimension,
            expanded_uncertainty=p.expanded_uncertainty, k=p.k) for p in rec.points),
        standards=tuple((s.instrument_id, s.point_id) for s in rec.standards))


@lru_cache(maxsize=512)
def _canonical(unit_text: str) -> str:
    return units.canonical(units.parse_unit(unit_text))


def _dimension(unit_text: str) -> str:
    dim = str(_unit(unit_text).dimensionality)
    return DIMENSIONLESS if dim in ("", "dimensionless") else dim


def trace_result(session: Session, result: Result, *, timezone: str,
                 loader: SessionLoader | None = None) -> dict[str, Any]:
    """The chain of one result, as ``lims trace --json`` prints it."""
    loader = loader or SessionLoader(session, timezone)
    out: dict[str, Any] = {"result_id": result.id, "characteristic": result.characteristic.name,
                           "value": result.value, "unit": result.unit_text,
                           "measured_at": result.measured_at.isoformat(),
                           "instrument": None, "complete": False, "reason": None, "chain": []}
    if result.instrument_id is None:
        out["reason"] = "typed without an instrument"
        return out
    out["instrument"] = loader.instrument(result.instrument_id).asset
    try:
        value: Decimal | None = Decimal(result.value)
    except (InvalidOperation, ValueError):
        value = None
    chain = traceability.trace(
        loader, convert, instrument_id=result.instrument_id,
        day=result.measured_at.astimezone(ZoneInfo(timezone)).date(),
        dimension=_dimension(result.unit), value=value, unit=result.unit,
        first_record=result.calibration_record_id)
    out.update(complete=chain.complete, reason=chain.reason,
               chain=[n.to_json() for n in chain.nodes])
    return out


def trace_report(session: Session, number: str, *, timezone: str) -> dict[str, Any]:
    """Every result of a report with its chain up to a national standard (``lims trace``).

    The results are the report's: the versions current when it was issued, taken from what the
    report says it carries (its content snapshot names each result's version).
    """
    report = session.scalar(select(Report).where(Report.number == number))
    if report is None:
        raise NotFound(msg("no report %(number)r", number=number), report=number)
    sample = session.get(Sample, report.sample_id)
    assert sample is not None  # noqa: S101 - a foreign key
    loader = SessionLoader(session, timezone)
    results = []
    for test in sample.tests:
        for r in _reported_results(test, report):
            results.append(trace_result(session, r, timezone=timezone, loader=loader))
    return {"report": report.number, "sample": sample.number, "results": results}


def _reported_results(test: SampleTest, report: Report) -> list[Result]:
    """The result versions current at the report's issue."""
    by_char: dict[int, Result] = {}
    for r in test.results:
        if r.recorded_at <= report.issued_at:
            prev = by_char.get(r.characteristic_id)
            if prev is None or r.version > prev.version:
                by_char[r.characteristic_id] = r
    return [by_char[k] for k in sorted(by_char)]


# --- impact analysis (reverse traceability) --------------------------------------------------

@dataclasses.dataclass
class Impact:
    asset: str
    start: dt.date
    end: dt.date
    calibrations: list[dict[str, Any]]
    instruments: list[str]
    windows: list[tuple[int, dt.date, dt.date]]
    results: int
    reports: list[str]
    customers: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"asset": self.asset, "from": self.start.isoformat(), "to": self.end.isoformat(),
                "calibrations": self.calibrations, "instruments": self.instruments,
                "results": self.results, "reports": self.reports, "customers": self.customers}


def impact(session: Session, asset: str, *, start: dt.date, end: dt.date,
           timezone: str) -> Impact:
    """Everything that relied on ``asset`` between ``start`` and ``end`` (lab calendar, both
    days included): the calibrations it took part in and, transitively, the instruments they
    calibrated while those calibrations were in force, the results measured with any of them in
    its window of reliance, the reports carrying those results and their customers.

    The graph is walked a layer at a time (one query for the calibrations that used any
    instrument of the layer, one for the calibrations that followed them), so the cost grows
    with the depth of the chains, not with the number of calibrations found; the results are
    then counted in one join against the windows.
    """
    if end < start:
        raise InvalidInput(msg("the end date is before the start date"), field="to")
    root = session.execute(select(Instrument.id, Instrument.asset_number)
                           .where(Instrument.asset_number == asset)).first()
    if root is None:
        raise NotFound(msg("no instrument %(asset)r", asset=asset))
    names = {root.id: root.asset_number}
    windows: list[tuple[int, dt.date, dt.date]] = [(root.id, start, end)]
    calibrations: list[dict[str, Any]] = []
    seen: set[int] = set()
    layer = [(root.id, start, end)]
    live = (CalibrationRecord.is_current, CalibrationRecord.status != RecordStatus.REVOKED)
    while layer:
        spans: dict[int, list[tuple[dt.date, dt.date]]] = {}
        for iid, lo, hi in layer:
            spans.setdefault(iid, []).append((lo, hi))
        first, last = min(lo for _, lo, _ in layer), max(hi for _, _, hi in layer)
        rows = session.execute(
            select(CalibrationStandard.instrument_id.label("standard"), CalibrationRecord.id,
                   CalibrationRecord.instrument_id, CalibrationRecord.certificate_number,
                   CalibrationRecord.calibrated_on, CalibrationRecord.valid_until)
            .join(CalibrationRecord, CalibrationRecord.id == CalibrationStandard.record_id)
            .where(CalibrationStandard.instrument_id.in_(spans), *live,
                   CalibrationRecord.calibrated_on >= first, CalibrationRecord.calibrated_on <= last)
            .order_by(CalibrationRecord.calibrated_on, CalibrationRecord.id)).all()
        found = [r for r in rows if r.id not in seen
                 and any(lo <= r.calibrated_on <= hi for lo, hi in spans[r.standard])]
        if not found:
            break
        following = _next_calibrations(session, {r.instrument_id for r in found})
        names.update(session.execute(
            select(Instrument.id, Instrument.asset_number)
            .where(Instrument.id.in_({r.instrument_id for r in found}))).all())
        layer = []
        for r in found:
            if r.id in seen:
                continue  # two standards of one calibration: the calibration counts once
            seen.add(r.id)
            calibrations.append({"certificate": r.certificate_number,
                                 "instrument": names[r.instrument_id],
                                 "standard": names[r.standard],
                                 "calibrated_on": r.calibrated_on.isoformat(),
                                 "valid_until": r.valid_until.isoformat()})
            # Relied on until it expires or the next calibration of the item replaces it.
            later = [d for d in following.get(r.instrument_id, ()) if d > r.calibrated_on]
            until = min([r.valid_until, *(d - dt.timedelta(days=1) for d in later[:1])])
            layer.append((r.instrument_id, r.calibrated_on, until))
        windows.extend(layer)
    count, reports, customers = _affected(session, (root.id, start, end), seen, timezone)
    instruments = sorted({names[iid] for iid, _lo, _hi in windows[1:]})
    return Impact(asset, start, end, calibrations, instruments, windows, count, reports, customers)


def _next_calibrations(session: Session, instrument_ids: set[int]) -> dict[int, list[dt.date]]:
    rows = session.execute(
        select(CalibrationRecord.instrument_id, CalibrationRecord.calibrated_on)
        .where(CalibrationRecord.instrument_id.in_(instrument_ids), CalibrationRecord.is_current,
               CalibrationRecord.status != RecordStatus.REVOKED,
               CalibrationRecord.calibrated_on.is_not(None))
        .order_by(CalibrationRecord.calibrated_on))
    out: dict[int, list[dt.date]] = {}
    for iid, day in rows:
        if day is not None:  # the query excludes it; this tells the type checker
            out.setdefault(iid, []).append(day)
    return out


def _affected(session: Session, root: tuple[int, dt.date, dt.date], records: set[int],
              timezone: str) -> tuple[int, list[str], list[str]]:
    """Results that relied on the root in its period, or on one of the calibrations found (a
    result records the calibration in force when it was measured), their reports and customers.

    The count is of current result versions; the reports are those of every version, since a
    report issued before a correction still carries the older value.
    """
    tz = ZoneInfo(timezone)
    iid, lo, hi = root
    relied = or_(
        (Result.instrument_id == iid)
        & (Result.measured_at >= dt.datetime.combine(lo, dt.time(), tz))
        & (Result.measured_at < dt.datetime.combine(hi + dt.timedelta(days=1), dt.time(), tz)),
        Result.calibration_record_id.in_(records) if records else false())
    count = session.scalar(select(func.count()).select_from(Result)
                           .where(relied, Result.is_current)) or 0
    # Customers' instruments calibrated with the standard, or with an instrument calibrated by
    # it, in its window of reliance: the readings keep each standard's record in force.
    read_with = or_(
        (ReadingStandard.instrument_id == iid)
        & (CalibrationReading.measured_at >= dt.datetime.combine(lo, dt.time(), tz))
        & (CalibrationReading.measured_at < dt.datetime.combine(hi + dt.timedelta(days=1),
                                                                  dt.time(), tz)),
        ReadingStandard.record_id.in_(records) if records else false())
    jobs = (select(CalibrationJob.sample_id)
            .join(CalibrationReading, CalibrationReading.job_id == CalibrationJob.id)
            .join(ReadingStandard, ReadingStandard.reading_id == CalibrationReading.id)
            .where(read_with))
    samples = select(SampleTest.sample_id).join(Result, Result.test_id == SampleTest.id).where(
        relied).union(jobs)
    reports = list(session.scalars(select(Report.number).where(Report.sample_id.in_(samples))
                                   .order_by(Report.number)))
    customers = list(session.scalars(
        select(Customer.name).join(TestRequest, TestRequest.customer_id == Customer.id)
        .join(Sample, Sample.request_id == TestRequest.id)
        .join(Report, Report.sample_id == Sample.id)
        .where(Report.sample_id.in_(samples)).distinct().order_by(Customer.name)))
    return count, reports, customers
