"""Amend, supersede and withdraw issued documents (ISO/IEC 17025 7.8.8, RB/T 214 4.5.27).

An issued document is never changed. When it must be corrected, a signatory or the quality
manager **amends** it: the work goes back to correction (the sample returns from reported to
in testing, its review and approval cleared; results keep their versions and are corrected
with :func:`lims.samples.services.correct_result`), is reviewed and approved again, and is
issued as a new document that names the one it replaces and says what changed and why
(7.8.8.2). When the replacement is stored, the original becomes **superseded** in the same
transaction; both files stay retrievable.

A document that must no longer be relied upon, and is not (or not yet) replaced, is
**withdrawn** with the reason and a category (:class:`WithdrawalCategory`), e.g. after a
recall by a nonconforming-work case (7.10). Decisions, for an assessor:

* only an ``issued`` document can be amended or withdrawn. A superseded one is already out of
  use and names its replacement; withdrawing it too would hide that chain, so it is refused
  (withdraw the replacement instead). Superseded and withdrawn are final.
* an issued document under amendment may still be withdrawn (a recall does not wait for the
  correction); its replacement, once issued, still names it, and it stays ``withdrawn``.
* one amendment of a document at a time: the open amendment is a row of
  ``report_amendments``, which a partial unique index keeps to one per report; requests take
  the sample's and the report's row locks first, so of N concurrent requests exactly one
  wins and the others get a 409.

Every step writes an audit event in the same transaction: ``report.amend`` (report),
``sample.reopen`` (sample, before/after), ``report.supersede`` and ``report.withdraw``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lims.accreditation.services import check_authority, sample_items
from lims.audit.records import WITHDRAWAL_FIELDS
from lims.audit.services import _jsonable, record, snapshot
from lims.auth.models import Role, User
from lims.auth.services import require
from lims.db import utcnow
from lims.errors import Choices, Conflict, InvalidInput, NotFound, ReportError, msg
from lims.reports.models import Report, ReportAmendment, ReportStatus, WithdrawalCategory
from lims.samples.lifecycle import SampleStatus, check_transition
from lims.samples.models import Sample

MAX_REASON = 2000
CATEGORIES = tuple(c.value for c in WithdrawalCategory)


class ReportStateError(Conflict):
    """The document's status (or an open amendment) does not allow the step (409)."""

    code = "report_state"


def _reason(value: Any, field: str = "reason") -> str:
    from lims.validate import text

    return text(value, field, max_len=MAX_REASON, multiline=True)


def _report(session: Session, number: Any, *, lock: bool = False) -> tuple[Report, Sample]:
    """The report and its sample; with ``lock``, both row-locked (sample first, as issuing
    takes it, so an amendment and an issue cannot deadlock) and read afresh.

    :raises NotFound:
    """
    if not isinstance(number, str) or not number or len(number) > 40:
        raise NotFound(msg("no report %(report)r", report=str(number)[:40]), report=str(number)[:40])
    sample_id = session.scalar(select(Report.sample_id).where(Report.number == number))
    if sample_id is None:
        raise NotFound(msg("no report %(report)r", report=number), report=number)
    sample_query = select(Sample).where(Sample.id == sample_id)
    report_query = select(Report).where(Report.number == number)
    if lock:
        sample_query = sample_query.with_for_update(of=Sample).execution_options(
            populate_existing=True)
        report_query = report_query.with_for_update(of=Report).execution_options(
            populate_existing=True)
    sample, report = session.scalar(sample_query), session.scalar(report_query)
    if sample is None or report is None:  # deleted meanwhile: triggers refuse it, but say so
        raise NotFound(msg("no report %(report)r", report=number), report=number)
    return report, sample


def _locked_report(session: Session, number: Any) -> tuple[Report, Sample]:
    return _report(session, number, lock=True)


def open_amendment(session: Session, report_id: int) -> ReportAmendment | None:
    """The amendment of the report still in progress, if any."""
    return session.scalar(select(ReportAmendment).where(
        ReportAmendment.report_id == report_id, ReportAmendment.finished_at.is_(None)))


def amendment_for_sample(session: Session, sample_id: int) -> tuple[Report, ReportAmendment] | None:
    """The issued-and-being-amended report of a sample and its open amendment: what the next
    report of the sample replaces."""
    row = session.execute(
        select(Report, ReportAmendment)
        .join(ReportAmendment, ReportAmendment.report_id == Report.id)
        .where(Report.sample_id == sample_id, ReportAmendment.finished_at.is_(None))
        .order_by(ReportAmendment.id.desc()).limit(1)).first()
    return (row[0], row[1]) if row else None


def amend_report(session: Session, *, actor: User, number: Any, reason: Any) -> ReportAmendment:
    """Open the amendment of issued report ``number``: its sample goes back to correction.

    No password is asked here: nothing is signed; the replacement is signed, with the
    signatory's password, when it is issued (21 CFR 11.200 applies there).

    :raises PermissionDenied: not a signatory or quality manager. :raises OutsideScope: a
        signatory (not the quality manager) not authorised for the report's fields.
    :raises InvalidInput: no reason. :raises NotFound: no such report.
    :raises ReportStateError: the report is not issued, or an amendment is already open.
    :raises SampleStateError: the sample is not reported (e.g. already reopened).
    """
    require(actor, "report.amend")
    why = _reason(reason)
    report, sample = _locked_report(session, number)
    _check_amendable(session, actor, report, sample)
    now = utcnow()
    amendment = ReportAmendment(report_id=report.id, reason=why, requested_by_id=actor.id,
                                requested_at=now)
    session.add(amendment)
    session.flush()
    record(session, actor=actor, action="report.amend", entity_type="reports",
           entity_id=report.number, after={"number": report.number, "status": report.status,
                                           "amendment": amendment.id}, reason=why)
    # ISO/IEC 17025 7.8.8: back to correction; what was reviewed and approved is no longer
    # what will be reported, so both are done again.
    before = snapshot(sample)
    sample.status = SampleStatus.IN_TESTING
    sample.reviewed_at = sample.reviewed_by_id = None
    sample.approved_at = sample.approved_by_id = None
    session.flush()
    record(session, actor=actor, action="sample.reopen", entity_type="samples",
           entity_id=sample.number, before=before,
           after={**snapshot(sample), "amendment_of": report.number}, reason=why)
    return amendment


def _check_amendable(session: Session, actor: User, report: Report, sample: Sample) -> None:
    if report.status != ReportStatus.ISSUED:
        raise ReportStateError(msg("report %(report)s is %(status)s; only an issued report can be amended",
                                   report=report.number, status=report.status), report=report.number,
                               status=report.status)
    current = open_amendment(session, report.id)
    if current is not None:
        raise ReportStateError(msg("report %(report)s is already being amended (since %(since)s UTC)",
                                   report=report.number,
                                   since=format(current.requested_at, "%Y-%m-%d %H:%M")),
                               report=report.number)
    _check_scope(session, actor, sample)
    check_transition(sample.status, SampleStatus.IN_TESTING, sample=sample.number,
                     amendment=True)


def check_amend(session: Session, *, actor: User, number: Any, reason: Any) -> Report:
    """What :func:`amend_report` would refuse, checked without writing (the pages' confirm
    step); raises the same errors."""
    require(actor, "report.amend")
    _reason(reason)
    report, sample = _report(session, number)
    _check_amendable(session, actor, report, sample)
    return report


def check_withdraw(session: Session, *, actor: User, number: Any, reason: Any,
                   category: Any) -> Report:
    """What :func:`withdraw_report` would refuse, checked without writing."""
    require(actor, "report.withdraw")
    _reason(reason)
    _category(category)
    report, sample = _report(session, number)
    _check_withdrawable(session, report)
    _check_scope(session, actor, sample)
    return report


def _check_scope(session: Session, actor: User, sample: Sample) -> None:
    """A signatory amends or withdraws only within their authorised scope (RB/T 214 4.2.4):
    the same items that approval and issue check, so a certificate's procedure counts too
    (its sample has no test methods); the quality manager may open any amendment (the
    replacement is still signed within scope)."""
    if Role.QUALITY_MANAGER in actor.roles:
        return
    check_authority(session, actor=actor, items=sample_items(sample), sample=sample.number)


C = TypeVar("C")


def mark_replacement(session: Session, sample_id: int, content: C) -> C:
    """The content of a report being claimed, naming the report it replaces and what changed
    when the sample is under amendment (ISO/IEC 17025 7.8.8.2; the renderer prints
    "本报告代替 … / This report replaces …"). Works on any content dataclass that has
    ``supersedes`` and ``amendment`` (test reports and certificates)."""
    found = amendment_for_sample(session, sample_id)
    if found is None:
        return content
    old, amendment = found
    return dataclasses.replace(content, supersedes=old.number,  # type: ignore[type-var]
                               amendment=amendment.reason)


def replacement_fields(session: Session, content: str) -> dict[str, Any]:
    """The columns of a report about to be stored that its frozen content decides: its kind,
    and, when it replaces another, which one and what changed and why.

    :raises ReportError: the content names a report that does not exist.
    """
    data = json.loads(content)
    fields: dict[str, Any] = {"kind": data.get("kind") or "test_report"}
    named = data.get("supersedes")
    if named:
        old_id = session.scalar(select(Report.id).where(Report.number == named))
        if old_id is None:
            raise ReportError(msg("report %(report)s replaces %(named)s, which does not exist",
                                  report=data.get("number"), named=named), report=data.get("number"))
        fields.update(supersedes_id=old_id, amendment_reason=data.get("amendment") or None)
    return fields


def supersede_on_store(session: Session, *, actor: User, report: Report) -> None:
    """When a stored report replaces another, close the amendment and mark the original
    superseded, in the storing transaction (ISO/IEC 17025 7.8.8.2).

    The status changes by a conditional update (issued → superseded): an original withdrawn
    meanwhile stays withdrawn, and the replacement still names it.
    """
    if report.supersedes_id is None:
        return
    now = utcnow()
    session.execute(update(ReportAmendment).where(
        ReportAmendment.report_id == report.supersedes_id, ReportAmendment.finished_at.is_(None))
        .values(finished_at=now, new_report_id=report.id)
        .execution_options(synchronize_session=False))
    won = session.execute(
        update(Report).where(Report.id == report.supersedes_id,
                             Report.status == ReportStatus.ISSUED)
        .values(status=ReportStatus.SUPERSEDED)
        .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    old = session.scalar(select(Report).where(Report.id == report.supersedes_id)
                         .execution_options(populate_existing=True))
    assert old is not None  # noqa: S101 - checked by replacement_fields, never deleted
    record(session, actor=actor, action="report.supersede", entity_type="reports",
           entity_id=old.number, before={"status": ReportStatus.ISSUED if won else old.status},
           after={"number": old.number, "status": old.status, "superseded_by": report.number},
           reason=report.amendment_reason)


def withdraw_report(session: Session, *, actor: User, number: Any, reason: Any,
                    category: Any = None) -> Report:
    """Withdraw issued report ``number``: when, by whom, why (ISO/IEC 17025 7.8.8.1).

    ``category`` None is ``recall`` when a nonconforming-work case recalled the report, else
    ``other`` (the API's body may be just ``{"reason"}``).

    :raises PermissionDenied: not a signatory or quality manager.
    :raises InvalidInput: no reason; a category not in :data:`CATEGORIES`.
    :raises NotFound: :raises ReportStateError: the report is not issued (a superseded one is
        refused: it names its replacement, which is what to withdraw).
    """
    require(actor, "report.withdraw")
    why = _reason(reason)
    if category is not None:
        _category(category)
    report, sample = _locked_report(session, number)
    if category is None:
        from lims.calibration.nonconforming import review_case

        category = "recall" if review_case(session, report.id) else "other"
    _check_withdrawable(session, report)
    _check_scope(session, actor, sample)
    before = {"status": report.status}
    now = utcnow()
    won = session.execute(
        update(Report).where(Report.id == report.id, Report.status == ReportStatus.ISSUED)
        .values(status=ReportStatus.WITHDRAWN, withdrawn_at=now, withdrawn_by_id=actor.id,
                withdrawal_reason=why, withdrawal_category=category)
        .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    if won != 1:  # not reachable under the row lock; kept for a database without one
        raise ReportStateError(msg("report %(report)s changed meanwhile", report=report.number),
                               report=report.number)
    session.refresh(report)
    from lims.calibration.nonconforming import review_case

    case = review_case(session, report.id)
    record(session, actor=actor, action="report.withdraw", entity_type="reports",
           entity_id=report.number, before=before,
           after={"number": report.number, "status": report.status, "category": category,
                  "recall_case": case,
                  # The row's own columns, as ``lims audit verify --records`` compares them:
                  # they stay writable at the database (the status changes once), so the
                  # event is what shows who withdrew and why (ISO/IEC 17025 7.8.8.1).
                  **{f: _jsonable(getattr(report, f)) for f in WITHDRAWAL_FIELDS}},
           reason=why)
    return report


def _category(category: Any) -> None:
    if category not in CATEGORIES:
        raise InvalidInput(msg("must be one of %(choices)s", choices=Choices(CATEGORIES)),
                           field="category")


def _check_withdrawable(session: Session, report: Report) -> None:
    if report.status != ReportStatus.ISSUED:
        successor = None
        if report.status == ReportStatus.SUPERSEDED:
            successor = superseded_by(session, [report.id]).get(report.id)
        if successor:
            raise ReportStateError(msg("report %(report)s is %(status)s by %(successor)s; withdraw that "
                                       "one instead; only an issued report can be withdrawn",
                                       report=report.number, status=report.status,
                                       successor=successor), report=report.number,
                                   status=report.status)
        raise ReportStateError(msg("report %(report)s is %(status)s; only an issued report can be "
                                   "withdrawn", report=report.number, status=report.status),
                               report=report.number,
                               status=report.status)


def superseded_by(session: Session, report_ids: list[int]) -> dict[int, str]:
    """For each report id given, the number of the report that replaces it (if any)."""
    if not report_ids:
        return {}
    rows = session.execute(select(Report.supersedes_id, Report.number)
                           .where(Report.supersedes_id.in_(report_ids)))
    return {old: new for old, new in rows if old is not None}


def supersedes_numbers(session: Session, reports: list[Report]) -> dict[int, str]:
    """For each report given that replaces another, the number of the one it replaces."""
    ids = {r.supersedes_id for r in reports if r.supersedes_id is not None}
    if not ids:
        return {}
    numbers = {rid: number for rid, number in
               session.execute(select(Report.id, Report.number).where(Report.id.in_(ids)))}
    return {r.id: numbers[r.supersedes_id] for r in reports if r.supersedes_id in numbers}


def open_amendments(session: Session, report_ids: list[int]) -> dict[int, ReportAmendment]:
    if not report_ids:
        return {}
    return {a.report_id: a for a in session.scalars(select(ReportAmendment).where(
        ReportAmendment.report_id.in_(report_ids), ReportAmendment.finished_at.is_(None)))}
