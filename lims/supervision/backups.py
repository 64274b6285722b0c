"""The sealed backup samples (备份样品): kept until ``retain_until``, then disposed of with a
record of when, by whom and how; or unsealed once for a re-inspection
(:mod:`lims.supervision.objections`).

A backup is the enterprise's guarantee of a re-inspection, so it may not be disposed of while
an objection to its sample's result is open, nor before its retention ends without a reason
(《食品安全抽样检验管理办法》 (SAMR Order 15, 2019) art. 25: 3 months after a qualified, 6 months
after an unqualified conclusion).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from lims.audit.services import record
from lims.auth.models import User
from lims.auth.services import require
from lims.db import utcnow
from lims.errors import Conflict, InvalidInput, NotFound, msg
from lims.supervision.models import BackupSample, Objection, ResultNotice, SamplingRecord
from lims.supervision.sampling import get_record, lab_today, lock_sample
from lims.validate import text


def backup_of(session: Session, record_id: int) -> BackupSample:
    backup = session.scalar(select(BackupSample).where(BackupSample.record_id == record_id))
    if backup is None:
        raise NotFound(msg("the sampling record has no backup sample"), record=record_id)
    return backup


def open_objection(session: Session, sample_id: int) -> Objection | None:
    """An objection to a notice of the sample still awaiting its decision, or accepted and
    awaiting its re-inspection (which is made of the backup: disposing of it then would
    deny the enterprise the re-inspection it was granted)."""
    return session.scalar(select(Objection).join(ResultNotice).where(
        ResultNotice.sample_id == sample_id,
        (Objection.status == "received") | ((Objection.status == "accepted")
                                            & Objection.reinspection_sample_id.is_(None)))
        .limit(1))


def dispose_backup(session: Session, *, actor: User, record_number: str, method: Any,
                   reason: Any = "", timezone: str) -> BackupSample:
    """Record the disposal of a record's backup sample (once).

    :raises Conflict: disposed of already, used for a re-inspection, or an objection is open.
    :raises InvalidInput: no method; before ``retain_until`` without a reason.
    """
    require(actor, "sampling.record")
    rec = get_record(session, record_number)
    backup = backup_of(session, rec.id)
    how = text(method, "method", max_len=200)
    why = text(reason, "reason", required=False, max_len=500)
    if rec.sample_id is not None:  # the lock an objection takes: see receive_objection
        lock_sample(session, rec.sample_id)
    if rec.sample_id is not None and open_objection(session, rec.sample_id) is not None:
        raise Conflict(msg("an objection to %(number)s is open: its backup sample must be "
                           "kept", number=rec.number), record=rec.number)
    if lab_today(timezone) < backup.retain_until and not why:
        raise InvalidInput(msg("the backup sample is to be kept until %(day)s; give a reason "
                               "to dispose of it earlier", day=backup.retain_until),
                           field="reason")
    done = session.execute(update(BackupSample).where(
        BackupSample.id == backup.id, BackupSample.disposed_at.is_(None),
        BackupSample.used_for_sample_id.is_(None)).values(
        disposed_at=utcnow(), disposed_by_id=actor.id, disposal_method=how))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(msg("the backup sample of %(number)s is no longer kept",
                           number=rec.number), record=rec.number)
    session.refresh(backup)
    record(session, actor=actor, action="backup.dispose", entity_type="sampling_records",
           entity_id=rec.number, after={"disposal_method": how,
                                        "retain_until": backup.retain_until.isoformat()},
           reason=why or None)
    return backup


def due_query(on: dt.date) -> Select[*tuple[Any, ...]]:
    """Backups kept past their retention on ``on``, with their record's number (unsorted: the
    page and the API page it)."""
    return (select(BackupSample, SamplingRecord.number).join(SamplingRecord)
            .where(BackupSample.retain_until <= on, BackupSample.disposed_at.is_(None),
                   BackupSample.used_for_sample_id.is_(None)))


def as_dict(backup: BackupSample) -> dict[str, Any]:
    return {"seal_number": backup.seal_number, "location": backup.location,
            "retain_until": backup.retain_until.isoformat(),
            "disposed_at": backup.disposed_at.isoformat() if backup.disposed_at else None,
            "disposal_method": backup.disposal_method,
            "used_for_sample_id": backup.used_for_sample_id}
