"""Each role's work queue: how many items wait and the first few, oldest or due first.

A queue is a count and the top rows of one query, so a page with every queue asks the database
a fixed number of questions whatever the size of the lab. A user with several roles sees every
queue of those roles.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, or_, select
from sqlalchemy.orm import Session

from lims.accreditation.services import check_authority, sample_items
from lims.auth.models import Role, User
from lims.calibration.models import (
    CalibrationRecord,
    CaseStatus,
    IntermediateCheck,
    NonconformingCase,
    RecordStatus,
)
from lims.errors import OutsideScope
from lims.instruments.models import CalibrationFlag, Instrument, InstrumentStatus
from lims.reports.models import Report
from lims.samples.lifecycle import SampleStatus
from lims.samples.models import Result, Sample, SampleTest
from lims.work.assignment import OPEN

TOP = 10
# How many reviewed samples the signatory's scope is checked for on one page: the check reads
# each sample's methods, so it is bounded; the count says when there are more.
SIGNATORY_WINDOW = 100
RECENT_REPORT_DAYS = 7


@dataclasses.dataclass(frozen=True)
class Queue:
    """``key`` names the queue (the page's section id and title); ``kind`` what its rows are:
    ``samples``, ``instruments``, ``checks``, ``cases`` or ``reports``; ``filter`` the list
    filter that shows all of it (``status`` for samples)."""

    key: str
    kind: str
    count: int
    rows: Sequence[Any]
    filter: dict[str, str] = dataclasses.field(default_factory=dict)
    more: bool = False  # the count is a lower bound (signatory window)


def _sample_order(query: Select[Any]) -> Select[Any]:
    """Due first (samples without a due date last), then oldest registration first."""
    return query.order_by(Sample.due_date.asc().nulls_last(), Sample.registered_at, Sample.id)


def _recorded_by(user_id: int) -> ColumnElement[bool]:
    return exists().where(SampleTest.sample_id == Sample.id, Result.test_id == SampleTest.id,
                          Result.recorded_by_id == user_id)


def _sample_queue(session: Session, key: str, status: str | Sequence[str],
                  *conditions: ColumnElement[bool], top: int,
                  filter: dict[str, str] | None = None) -> Queue:
    statuses = [status] if isinstance(status, str) else list(status)
    where = [Sample.status.in_(statuses), *conditions]
    count = session.scalar(select(func.count()).select_from(Sample).where(*where)) or 0
    rows = session.scalars(_sample_order(select(Sample).where(*where)).limit(top)).all()
    return Queue(key, "samples", count, rows, filter or {"status": statuses[0]})


def assigned(session: Session, user: User, *, top: int = TOP) -> Queue:
    """Technician: samples assigned to me still to receive or test, due (or oldest) first."""
    return _sample_queue(session, "assigned", OPEN, Sample.assignee_id == user.id, top=top,
                         filter={"assignee": user.username})


def unassigned(session: Session, user: User, *, top: int = TOP) -> Queue:
    """Technician: samples to receive or test that nobody has taken on yet."""
    return _sample_queue(session, "unassigned", OPEN, Sample.assignee_id.is_(None), top=top,
                         filter={"assignee": "none"})


def to_review(session: Session, user: User, *, top: int = TOP) -> Queue:
    """Reviewer: results complete, except samples whose results the reviewer entered
    (separation of duties, which the review itself enforces too)."""
    return _sample_queue(session, "to_review", SampleStatus.RESULTS_COMPLETE,
                         ~_recorded_by(user.id), top=top)


def may_approve(session: Session, user: User, sample: Sample) -> bool:
    """Whether the signatory may approve the sample: every item within their authorised scope
    (RB/T 214 4.2.4, the check approval makes) and no result entered or reviewed by them."""
    if sample.reviewed_by_id == user.id or any(
            r.recorded_by_id == user.id for t in sample.tests for r in t.results):
        return False
    try:
        check_authority(session, actor=user, items=sample_items(sample))
    except OutsideScope:
        return False
    return True


def to_approve(session: Session, user: User, *, top: int = TOP) -> Queue:
    """Signatory: reviewed samples within my scope, oldest (or due) first."""
    query = _sample_order(select(Sample).where(Sample.status == SampleStatus.REVIEWED))
    candidates = session.scalars(query.limit(SIGNATORY_WINDOW + 1)).all()
    mine = [s for s in candidates[:SIGNATORY_WINDOW] if may_approve(session, user, s)]
    return Queue("to_approve", "samples", len(mine), mine[:top],
                 {"status": SampleStatus.REVIEWED}, more=len(candidates) > SIGNATORY_WINDOW)


def latest_calibrations() -> Any:
    """Each instrument's latest current, non-revoked calibration (what the due date is read
    from, as :func:`lims.calibration.services.latest_record`), one row per instrument:
    ``instrument_id``, ``valid_until``."""
    ranked = (select(CalibrationRecord.instrument_id, CalibrationRecord.valid_until,
                     func.row_number().over(
                         partition_by=CalibrationRecord.instrument_id,
                         order_by=(CalibrationRecord.calibrated_on.desc().nulls_last(),
                                   CalibrationRecord.id.desc())).label("rank"))
              .where(CalibrationRecord.is_current,
                     CalibrationRecord.status != RecordStatus.REVOKED)
              .subquery())
    return (select(ranked.c.instrument_id, ranked.c.valid_until)
            .where(ranked.c.rank == 1).subquery())


@dataclasses.dataclass(frozen=True)
class DueRow:
    instrument: Instrument
    valid_until: dt.date | None
    days: int | None  # until due; negative: overdue by so many days


def calibration_due(session: Session, *, today: dt.date, warning_days: int,
                    top: int = TOP) -> Queue:
    """Quality manager: equipment in service due for calibration within the warning period,
    or overdue, or never calibrated (ISO/IEC 17025 6.4.7), the most overdue first."""
    latest = latest_calibrations()
    horizon = today + dt.timedelta(days=warning_days)
    where = [Instrument.status == InstrumentStatus.IN_SERVICE,
             or_(latest.c.valid_until.is_(None), latest.c.valid_until <= horizon)]
    base = select(Instrument, latest.c.valid_until).outerjoin(
        latest, latest.c.instrument_id == Instrument.id).where(*where)
    count = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = [DueRow(i, until, None if until is None else (until - today).days)
            for i, until in session.execute(
                base.order_by(latest.c.valid_until.asc().nulls_first(),
                              Instrument.asset_number).limit(top))]
    return Queue("calibration_due", "instruments", count, rows)


@dataclasses.dataclass(frozen=True)
class CheckRow:
    instrument: Instrument
    checked_at: dt.datetime | None


def failed_checks(session: Session, *, top: int = TOP) -> Queue:
    """Quality manager: equipment whose last intermediate check failed and was not cleared by
    a passing check or a calibration since (ISO/IEC 17025 6.4.10)."""
    last_fail = (select(IntermediateCheck.instrument_id,
                        func.max(IntermediateCheck.checked_at).label("checked_at"))
                 .where(IntermediateCheck.result == "fail")
                 .group_by(IntermediateCheck.instrument_id).subquery())
    where = Instrument.calibration_flag == CalibrationFlag.CHECK_FAILED
    count = session.scalar(select(func.count()).select_from(Instrument).where(where)) or 0
    rows = [CheckRow(i, at) for i, at in session.execute(
        select(Instrument, last_fail.c.checked_at)
        .outerjoin(last_fail, last_fail.c.instrument_id == Instrument.id).where(where)
        .order_by(last_fail.c.checked_at.desc().nulls_last(), Instrument.asset_number)
        .limit(top))]
    return Queue("failed_checks", "checks", count, rows)


def open_cases(session: Session, *, top: int = TOP) -> Queue:
    """Quality manager: nonconforming-work cases still open (ISO/IEC 17025 7.10), oldest first."""
    where = NonconformingCase.status == CaseStatus.OPEN
    count = session.scalar(select(func.count()).select_from(NonconformingCase).where(where)) or 0
    rows = session.scalars(select(NonconformingCase).where(where)
                           .order_by(NonconformingCase.opened_at, NonconformingCase.id)
                           .limit(top)).all()
    return Queue("open_cases", "cases", count, rows)


def recent_reports(session: Session, *, now: dt.datetime, top: int = TOP) -> Queue:
    """Auditor: reports issued in the last days, newest first (the count is of those days)."""
    since = now - dt.timedelta(days=RECENT_REPORT_DAYS)
    count = session.scalar(select(func.count()).select_from(Report)
                           .where(Report.issued_at >= since)) or 0
    rows = session.scalars(select(Report).order_by(Report.issued_at.desc(), Report.id.desc())
                           .limit(top)).all()
    return Queue("recent_reports", "reports", count, rows)


def queues_for(session: Session, user: User, *, now: dt.datetime, today: dt.date,
               warning_days: int, top: int = TOP) -> list[Queue]:
    """Every queue of the user's roles, in the order of the work (intake to audit)."""
    roles = user.roles
    out: list[Queue] = []
    if Role.TECHNICIAN in roles:
        out += [assigned(session, user, top=top), unassigned(session, user, top=top)]
    if Role.REVIEWER in roles:
        out.append(to_review(session, user, top=top))
    if Role.SIGNATORY in roles:
        out.append(to_approve(session, user, top=top))
    if Role.QUALITY_MANAGER in roles:
        out += [calibration_due(session, today=today, warning_days=warning_days, top=top),
                failed_checks(session, top=top), open_cases(session, top=top)]
    if Role.AUDITOR in roles:
        out.append(recent_reports(session, now=now, top=top))
    return out
