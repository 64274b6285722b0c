"""Nonconforming work opened from an impact analysis (ISO/IEC 17025 7.10).

A quality manager opens a case for an instrument and a period; the impact analysis
(:func:`lims.calibration.chains.impact`) names the reports that carry results relying on it, and
each becomes an affected report, pending until evaluated: no impact, re-test, or recall. A case
closes only when nothing is pending. While a report has a ``recall`` evaluation in an open case
the public verification page says it is under review.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.audit.services import record, snapshot
from lims.auth.models import User
from lims.auth.services import require
from lims.calibration import chains
from lims.calibration.models import AffectedReport, CaseStatus, Evaluation, NonconformingCase
from lims.calibration.services import lab_day
from lims.db import utcnow
from lims.errors import Choices, Conflict, InvalidInput, NotFound, msg
from lims.instruments.models import Instrument
from lims.numbering import next_number
from lims.reports.models import Report
from lims.samples.models import Customer, Sample, TestRequest
from lims.validate import date, text

NUMBER_FORMAT = "NC{year}-{seq:04d}"
# What a report can be evaluated as; "pending" is only where a case starts.
EVALUATIONS = (Evaluation.NO_IMPACT, Evaluation.RETEST, Evaluation.RECALL)
MAX_TEXT = 4000


@dataclasses.dataclass(frozen=True)
class Affected:
    """An affected report with what the case pages and letters show beside it."""

    row: AffectedReport
    report: Report
    customer_id: int
    customer: str


def get_case(session: Session, number: str, *, lock: bool = False) -> NonconformingCase:
    """The case numbered ``number``; ``lock`` takes its row lock (PostgreSQL) so that an
    evaluation and the closing of the same case cannot interleave.

    :raises NotFound:
    """
    query = select(NonconformingCase).where(NonconformingCase.number == number)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    case = session.scalar(query)
    if case is None:
        raise NotFound(msg("no nonconforming-work case %(number)r", number=number), case=number)
    return case


def affected(session: Session, case: NonconformingCase) -> list[Affected]:
    """The case's reports with their customers, in report-number order."""
    rows = session.execute(
        select(AffectedReport, Report, Customer.id, Customer.name)
        .join(Report, Report.id == AffectedReport.report_id)
        .join(Sample, Sample.id == Report.sample_id)
        .join(TestRequest, TestRequest.id == Sample.request_id)
        .join(Customer, Customer.id == TestRequest.customer_id)
        .where(AffectedReport.case_id == case.id)
        .order_by(Report.number)).all()
    return [Affected(row, report, cid, name) for row, report, cid, name in rows]


def customers(items: list[Affected]) -> list[tuple[int, str]]:
    """The customers to inform, (id, name), by name: one letter each."""
    return sorted({(a.customer_id, a.customer) for a in items}, key=lambda c: (c[1], c[0]))


def open_case(session: Session, *, actor: User, asset: Any, start: Any, end: Any,
              description: Any, timezone: str) -> NonconformingCase:
    """Open a case from the impact analysis of ``asset`` between ``start`` and ``end`` (lab
    calendar, both included; ``end`` defaults to today), one pending row per affected report.

    :raises PermissionDenied: not a quality manager.
    :raises InvalidInput: a missing or bad field (asset, from, to, description).
    """
    require(actor, "nonconformity.manage")
    asset = text(asset, "asset", max_len=40)
    first = date(start, "from")
    today = lab_day(utcnow(), timezone)
    last = date(end, "to", required=False) or today
    if last > today:
        raise InvalidInput(msg("the period cannot end after today (%(today)s)",
                               today=today), field="to")
    description = text(description, "description", max_len=MAX_TEXT)
    assert first is not None  # noqa: S101 - required above
    instrument = session.scalar(select(Instrument).where(Instrument.asset_number == asset))
    if instrument is None:
        raise InvalidInput(msg("no instrument %(asset)r", asset=asset), field="asset")
    found = chains.impact(session, asset, start=first, end=last, timezone=timezone)
    reports = session.scalars(select(Report).where(Report.number.in_(found.reports))
                              .order_by(Report.number)).all() if found.reports else []
    case = NonconformingCase(
        number=next_number(session, "nonconformity", NUMBER_FORMAT, today=today),
        instrument_id=instrument.id, from_date=first, to_date=last, description=description,
        status=CaseStatus.OPEN, opened_by_id=actor.id, opened_at=utcnow(),
        reports=[AffectedReport(report_id=r.id, evaluation=Evaluation.PENDING, reason="")
                 for r in reports])
    session.add(case)
    session.flush()
    record(session, actor=actor, action="nonconformity.open", entity_type="nonconforming_cases",
           entity_id=case.number, after={
               **snapshot(case), "asset": asset,
               "impact": {"calibrations": [c["certificate"] for c in found.calibrations],
                          "instruments": found.instruments, "results": found.results,
                          "reports": found.reports, "customers": found.customers}})
    return case


def evaluate(session: Session, *, actor: User, case_number: str, report_number: Any,
             evaluation: Any, reason: Any) -> AffectedReport:
    """Record the evaluation of one affected report: no impact, re-test or recall, with the
    reason. An evaluation may be revised while the case is open; the audit keeps each.

    :raises Conflict: the case is closed.
    :raises InvalidInput: the report is not in the case, an unknown evaluation, no reason.
    """
    require(actor, "nonconformity.manage")
    case = get_case(session, case_number, lock=True)
    if case.status != CaseStatus.OPEN:
        raise Conflict(msg("case %(case)s is closed; its evaluations cannot change",
                           case=case.number),
                       case=case.number)
    number = text(report_number, "report", max_len=40)
    if evaluation not in EVALUATIONS:
        raise InvalidInput(msg("must be one of %(allowed)s",
                               allowed=Choices(EVALUATIONS)), field="evaluation")
    why = text(reason, "reason", max_len=MAX_TEXT)
    row = session.scalar(select(AffectedReport).join(Report, Report.id == AffectedReport.report_id)
                         .where(AffectedReport.case_id == case.id, Report.number == number))
    if row is None:
        raise InvalidInput(msg("report %(number)s is not affected by case %(case)s",
                               number=number, case=case.number),
                           field="report")
    before = {"report": number, **snapshot(row)}
    row.evaluation, row.reason = Evaluation(evaluation), why
    row.evaluated_by_id, row.evaluated_at = actor.id, utcnow()
    session.flush()
    record(session, actor=actor, action="nonconformity.evaluate",
           entity_type="nonconforming_cases", entity_id=case.number, before=before,
           after={"report": number, **snapshot(row)}, reason=why)
    return row


def close_case(session: Session, *, actor: User, case_number: str) -> NonconformingCase:
    """Close a case once every affected report is evaluated.

    :raises Conflict: already closed, or a report is still pending.
    """
    require(actor, "nonconformity.manage")
    case = get_case(session, case_number, lock=True)
    if case.status != CaseStatus.OPEN:
        raise Conflict(msg("case %(case)s is already closed", case=case.number), case=case.number)
    pending = [a.report.number for a in affected(session, case)
               if a.row.evaluation == Evaluation.PENDING]
    if pending:
        # Two messages, not an inflected verb, so a translation needs no grammar of its own.
        raise Conflict(msg("case %(case)s cannot close: %(reports)s is not evaluated yet", case=case.number,
                           reports=pending[0]) if len(pending) == 1 else
                       msg("case %(case)s cannot close: %(reports)s are not evaluated yet",
                           case=case.number, reports=", ".join(pending)),
                       case=case.number, pending=pending)
    before = snapshot(case)
    case.status, case.closed_at = CaseStatus.CLOSED, utcnow()
    session.flush()
    record(session, actor=actor, action="nonconformity.close", entity_type="nonconforming_cases",
           entity_id=case.number, before=before, after=snapshot(case))
    return case


def review_case(session: Session, report_id: int) -> str | None:
    """The number of a case that evaluated the report as ``recall``, if any.

    A recall outlives its case: closing the case ends the investigation, not the recall, so
    the public verification page keeps saying so (until the report is withdrawn or replaced).
    """
    return session.scalar(
        select(NonconformingCase.number)
        .join(AffectedReport, AffectedReport.case_id == NonconformingCase.id)
        .where(AffectedReport.report_id == report_id,
               AffectedReport.evaluation == Evaluation.RECALL)
        .order_by(NonconformingCase.id).limit(1))


def under_review(session: Session, report_id: int) -> bool:
    """Whether a report is recalled by a nonconforming-work case."""
    return review_case(session, report_id) is not None
