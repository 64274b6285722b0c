"""Objections (异议, 复检申请) to a notified unqualified result, and the re-inspection (复检).

An objection must arrive by the notice's deadline (:mod:`lims.supervision.notices`); a late one
is refused, naming the deadline. Accepting it makes the re-inspection sample from the sealed
backup sample: a new supervision request with a sample naming the original
(``reinspection_of_id``), tested by the same methods, which then takes the normal path (test,
review, approve, issue). Its report's outcome is final (产品质量法 art. 15; 食品安全法 art. 88:
"复检机构出具的复检结论为最终检验结论"). Rejecting or withdrawing needs a reason. Every decision is
a conditional update of the ``received`` objection: of two concurrent decisions one wins.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lims.audit.services import record, snapshot
from lims.auth.models import User
from lims.auth.services import require
from lims.db import utcnow
from lims.errors import Conflict, InvalidInput, NotFound, SeparationOfDuties, msg
from lims.reports.models import Report
from lims.samples import services as samples
from lims.samples.models import Sample, TestRequest
from lims.supervision.backups import backup_of
from lims.supervision.models import BackupSample, Objection, SamplingRecord
from lims.supervision.notices import get_notice
from lims.supervision.sampling import (
    SAMPLE_FORMAT,
    SAMPLE_SERIES,
    lab_today,
    lock_sample,
    record_of_sample,
)
from lims.validate import as_id, date, text

DECISIONS = {"accept": "accepted", "reject": "rejected", "withdraw": "withdrawn"}


def get_objection(session: Session, objection_id: Any) -> Objection:
    found = session.get(Objection, as_id(objection_id, "objection_id"))
    if found is None:
        raise NotFound(msg("no objection %(id)s", id=objection_id), objection=objection_id)
    return found


def receive_objection(session: Session, *, actor: User, notice_number: str, received_on: Any,
                      applicant: Any, grounds: Any, timezone: str) -> Objection:
    """Record an objection received on ``received_on``.

    :raises InvalidInput: a field missing; received before the delivery or after the deadline
        (the deadline named).
    :raises Conflict: the notice's delivery is not recorded (no deadline yet), or another
        objection to it is open or was accepted.
    """
    require(actor, "objection.decide")
    notice = get_notice(session, notice_number)
    day = date(received_on, "received_on")
    assert day is not None  # noqa: S101 - required
    who = text(applicant, "applicant", max_len=200)
    why = text(grounds, "grounds", max_len=4000, multiline=True)
    if notice.delivered_on is None or notice.objection_deadline is None:
        raise Conflict(msg("the delivery of notice %(number)s is not recorded, so no objection "
                           "period has started", number=notice.number), notice=notice.number)
    if day > lab_today(timezone):
        raise InvalidInput(msg("%(day)s is in the future", day=day), field="received_on")
    if day < notice.delivered_on:
        raise InvalidInput(msg("%(day)s is before the notice was delivered (%(delivered)s)",
                               day=day, delivered=notice.delivered_on), field="received_on")
    if day > notice.objection_deadline:
        raise InvalidInput(msg("received too late: the deadline for objections to notice "
                               "%(number)s was %(deadline)s", number=notice.number,
                               deadline=notice.objection_deadline), field="received_on",
                           deadline=notice.objection_deadline.isoformat())
    # The sample's row lock before the check: of two concurrent objections to one notice the
    # second waits and then sees the first (the check alone let both in on PostgreSQL); a
    # backup's disposal takes the same lock, so it cannot slip past a new objection.
    lock_sample(session, notice.sample_id)
    if session.scalar(select(Objection.id).where(Objection.notice_id == notice.id,
                                                 Objection.status.in_(("received", "accepted")))):
        raise Conflict(msg("notice %(number)s has an open or accepted objection",
                           number=notice.number), notice=notice.number)
    objection = Objection(notice_id=notice.id, received_on=day, applicant=who, grounds=why,
                          created_by_id=actor.id)
    session.add(objection)
    session.flush()
    record(session, actor=actor, action="objection.receive", entity_type="objections",
           entity_id=objection.id, after=snapshot(objection))
    return objection


def decide_objection(session: Session, *, actor: User, objection_id: Any, decision: Any,
                     reason: Any = "") -> Objection:
    """``accept`` (the backup sample is to be re-inspected: :func:`start_reinspection`),
    ``reject`` or ``withdraw`` (both with a reason). Decided once.

    :raises InvalidInput: an unknown decision, no reason for a rejection or withdrawal.
    :raises Conflict: decided already; for an acceptance, the backup disposed of or used.
    """
    require(actor, "objection.decide")
    objection = get_objection(session, objection_id)
    _not_involved(session, actor, objection)
    if decision not in DECISIONS:
        raise InvalidInput(msg("must be one of %(choices)s", choices=", ".join(DECISIONS)),
                           field="decision")
    why = text(reason, "reason", required=decision != "accept", max_len=2000, multiline=True)
    status = DECISIONS[decision]
    if status == "accepted":
        _kept_backup(session, objection)
    done = session.execute(update(Objection).where(
        Objection.id == objection.id, Objection.status == "received").values(
        status=status, decision_reason=why or None, decided_at=utcnow(),
        decided_by_id=actor.id))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(objection)
        raise Conflict(msg("objection %(id)s was %(status)s already", id=objection.id,
                           status=objection.status), objection=objection.id)
    session.refresh(objection)
    record(session, actor=actor, action=f"objection.{decision}", entity_type="objections",
           entity_id=objection.id, after=snapshot(objection), reason=why or None)
    return objection


def _not_involved(session: Session, actor: User, objection: Objection) -> None:
    """An objection is a complaint about the result: it is decided by someone not involved in
    the result objected to (ISO/IEC 17025:2017 7.9.6) — not its reviewer, its approving
    signatory or the signatory who issued its report.

    :raises SeparationOfDuties:
    """
    notice = objection.notice
    sample = session.get(Sample, notice.sample_id)
    report = session.get(Report, notice.report_id)
    involved = {sample.reviewed_by_id if sample else None,
                sample.approved_by_id if sample else None,
                report.issued_by_id if report else None}
    if actor.id in involved:
        raise SeparationOfDuties(msg("you reviewed, approved or issued the result objected to: "
                                     "someone not involved decides the objection"),
                                 objection=objection.id)


def _kept_backup(session: Session, objection: Objection) -> tuple[Sample, SamplingRecord,
                                                                   BackupSample]:
    original = session.get(Sample, objection.notice.sample_id)
    assert original is not None  # noqa: S101 - a foreign key
    rec = record_of_sample(session, original.id)
    if rec is None:
        raise Conflict(msg("sample %(number)s has no sampling record", number=original.number),
                       sample=original.number)
    backup = backup_of(session, rec.id)
    if backup.disposed_at is not None or backup.used_for_sample_id is not None:
        raise Conflict(msg("the backup sample of %(number)s is no longer kept",
                           number=rec.number), record=rec.number)
    return original, rec, backup


def start_reinspection(session: Session, *, actor: User, objection_id: Any,
                       backup_seal_intact: Any, request_number_format: str,
                       timezone: str) -> Sample:
    """Unseal the backup sample of an accepted objection and register it as the
    re-inspection sample (by a technician, who checks the backup's seal): a new supervision
    request, the same methods, ``reinspection_of_id`` naming the original. Done once.

    :raises InvalidInput: ``backup_seal_intact`` not true/false, or false (a broken seal
        cannot be re-inspected; the audit trail and the objection's page say why).
    :raises Conflict: the objection is not accepted, or the backup is no longer kept.
    """
    require(actor, "sample.register")
    objection = get_objection(session, objection_id)
    if not isinstance(backup_seal_intact, bool):
        raise InvalidInput(msg("must be true or false"), field="backup_seal_intact")
    if objection.status != "accepted" or objection.reinspection_sample_id is not None:
        raise Conflict(msg("objection %(id)s is not awaiting a re-inspection", id=objection.id),
                       objection=objection.id)
    original, rec, backup = _kept_backup(session, objection)
    if not backup_seal_intact:
        raise InvalidInput(msg("the backup sample's seal is broken: it cannot be re-inspected"),
                           field="backup_seal_intact")
    old_request = session.get(TestRequest, original.request_id)
    assert old_request is not None  # noqa: S101 - a foreign key
    req = samples.create_request(
        session, actor=actor, customer_id=old_request.customer_id,
        inspection_type="supervision", product_standard=old_request.product_standard,
        decision_rule=old_request.decision_rule, r=old_request.guard_factor,
        description=f"复检 Re-inspection of {original.number} ({rec.number})",
        number_format=request_number_format, timezone=timezone)
    sample = samples.register_sample(
        session, actor=actor, request_id=req.id, description=original.description,
        method_ids=[t.method_id for t in original.tests], number_format=SAMPLE_FORMAT,
        series=SAMPLE_SERIES, timezone=timezone, trademark=original.trademark,
        model=original.model, batch=original.batch, quantity=original.quantity,
        manufacturer=original.manufacturer, acquisition="sampled",
        category=original.category.code if original.category else None,
        sampled_on=original.sampled_on)  # the backup was taken with the original
    sample.reinspection_of_id = original.id
    session.flush()
    used = session.execute(update(BackupSample).where(
        BackupSample.id == backup.id, BackupSample.used_for_sample_id.is_(None),
        BackupSample.disposed_at.is_(None)).values(used_for_sample_id=sample.id))
    linked = session.execute(update(Objection).where(
        Objection.id == objection.id, Objection.reinspection_sample_id.is_(None)).values(
        reinspection_sample_id=sample.id))
    if used.rowcount != 1 or linked.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(msg("objection %(id)s is not awaiting a re-inspection", id=objection.id),
                       objection=objection.id)
    session.refresh(objection)
    record(session, actor=actor, action="objection.reinspect", entity_type="objections",
           entity_id=objection.id, after={"reinspection": sample.number,
                                          "reinspection_of": original.number,
                                          "backup_seal": backup.seal_number,
                                          "record": rec.number})
    return sample


def objections_of(session: Session, notice_ids: list[int]) -> list[Objection]:
    if not notice_ids:
        return []
    return list(session.scalars(select(Objection).where(Objection.notice_id.in_(notice_ids))
                                .order_by(Objection.id)))


def reinspections_of(session: Session, sample_id: int) -> list[Sample]:
    return list(session.scalars(select(Sample).where(Sample.reinspection_of_id == sample_id)
                                .order_by(Sample.id)))

