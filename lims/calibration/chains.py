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
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lims import units
from lims.calibration import traceability
from lims.calibration.models import CalibrationRecord, CalibrationStandard, RecordStatus
from lims.calibration.services import DIMENSIONLESS, record_in_force
from lims.errors import InvalidInput, NotFound
from lims.instruments.models import Instrument
from lims.reports.models import Report
from lims.samples.models import Customer, Result, Sample, SampleTest, TestRequest


@lru_cache(maxsize=512)
def _unit(text: str) -> pint.Unit:
    return units.ureg.parse_units(text)


def convert(value: Decimal, unit: str, to: str) -> Decimal:
    return units.convert(value, _unit(unit), _unit(to))


class SessionLoader:
    """:class:`traceability.Loader` over a session, caching what one trace reads twice."""

    def __init__(self, session: Session, timezone: str) -> None:
        self.session, self.timezone = session, timezone
        self._instruments: dict[int, traceability.InstrumentInfo] = {}
        self._records: dict[int, traceability.RecordInfo] = {}

    def instrument(self, instrument_id: int) -> traceability.InstrumentInfo:
        if instrument_id not in self._instruments:
            i = self.session.get(Instrument, instrument_id)
            if i is None:
                raise NotFound(f"no instrument {instrument_id}")
            self._instruments[instrument_id] = traceability.InstrumentInfo(
                i.id, i.asset_number, i.name, i.role)
        return self._instruments[instrument_id]

    def record(self, record_id: int) -> traceability.RecordInfo:
        if record_id not in self._records:
            rec = self.session.get(CalibrationRecord, record_id)
            if rec is None:
                raise NotFound(f"no calibration record {record_id}")
            self._records[record_id] = info(rec)
        return self._records[record_id]

    def record_in_force(self, instrument_id: int, day: dt.date
                        ) -> traceability.RecordInfo | None:
        rec = record_in_force(self.session, instrument_id, day, timezone=self.timezone)
        return None if rec is None else self.record(rec.id)


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
        raise NotFound(f"no report {number!r}", report=number)
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
    """
    if end < start:
        raise InvalidInput("the end date is before the start date", field="to")
    root = session.scalar(select(Instrument).where(Instrument.asset_number == asset))
    if root is None:
        raise NotFound(f"no instrument {asset!r}")
    windows = [(root.id, start, end)]
    calibrations: list[dict[str, Any]] = []
    seen_records: set[int] = set()
    names = {root.id: root.asset_number}
    i = 0
    while i < len(windows):  # breadth first over reliance windows; records visited once
        iid, lo, hi = windows[i]
        i += 1
        recs = session.scalars(
            select(CalibrationRecord)
            .where(CalibrationRecord.id.in_(select(CalibrationStandard.record_id)
                                            .where(CalibrationStandard.instrument_id == iid)),
                   CalibrationRecord.is_current,
                   CalibrationRecord.status != RecordStatus.REVOKED,
                   CalibrationRecord.calibrated_on >= lo, CalibrationRecord.calibrated_on <= hi)
            .order_by(CalibrationRecord.calibrated_on, CalibrationRecord.id)).all()
        for rec in recs:
            if rec.id in seen_records:
                continue
            seen_records.add(rec.id)
            calibrated = session.get(Instrument, rec.instrument_id)
            assert calibrated is not None  # noqa: S101 - a foreign key
            names[calibrated.id] = calibrated.asset_number
            calibrations.append({"certificate": rec.certificate_number,
                                 "instrument": calibrated.asset_number,
                                 "standard": names[iid],
                                 "calibrated_on": rec.calibrated_on.isoformat()
                                 if rec.calibrated_on else None,
                                 "valid_until": rec.valid_until.isoformat()})
            assert rec.calibrated_on is not None  # noqa: S101 - filtered by the query
            windows.append((calibrated.id, rec.calibrated_on,
                            _reliance_end(session, rec)))
    tz = ZoneInfo(timezone)
    conditions = [
        (Result.instrument_id == iid)
        & (Result.measured_at >= dt.datetime.combine(lo, dt.time(), tz))
        & (Result.measured_at < dt.datetime.combine(hi + dt.timedelta(days=1), dt.time(), tz))
        for iid, lo, hi in windows]
    where = or_(*conditions)
    count = session.scalar(select(func.count()).select_from(Result).where(where)) or 0
    affected = (select(SampleTest.sample_id).join(Result, Result.test_id == SampleTest.id)
                .where(where).distinct().subquery())
    reports = list(session.scalars(
        select(Report.number).where(Report.sample_id.in_(select(affected.c.sample_id)))
        .order_by(Report.number)))
    customers = list(session.scalars(
        select(Customer.name).join(TestRequest, TestRequest.customer_id == Customer.id)
        .join(Sample, Sample.request_id == TestRequest.id)
        .join(Report, Report.sample_id == Sample.id)
        .where(Report.number.in_(reports)).distinct().order_by(Customer.name))) if reports else []
    instruments = sorted({names[iid] for iid, _lo, _hi in windows[1:]})
    return Impact(asset, start, end, calibrations, instruments, windows, count, reports, customers)


def _reliance_end(session: Session, rec: CalibrationRecord) -> dt.date:
    """A calibration is relied on until it expires or the next calibration replaces it."""
    nxt = session.scalar(
        select(func.min(CalibrationRecord.calibrated_on))
        .where(CalibrationRecord.instrument_id == rec.instrument_id, CalibrationRecord.is_current,
               CalibrationRecord.status != RecordStatus.REVOKED,
               CalibrationRecord.calibrated_on > rec.calibrated_on))
    end = rec.valid_until
    if nxt is not None and nxt - dt.timedelta(days=1) < end:
        end = nxt - dt.timedelta(days=1)
    return end
