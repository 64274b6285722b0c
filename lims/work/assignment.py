"""Taking a sample on: the technician's queue holds the samples assigned to them.

A technician takes an unassigned sample from the shared queue, or gives back one of theirs.
The sample's row is locked first (:func:`lims.samples.services.get_sample`), so of two
technicians taking the same sample at once exactly one gets it and the other is told who has
it. Each change is an audit event (ISO/IEC 17025 7.5.1: who did what is on record).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from lims.audit.services import record
from lims.auth.models import User
from lims.auth.services import require
from lims.errors import Conflict, msg
from lims.samples.lifecycle import SampleStatus
from lims.samples.models import Sample
from lims.samples.services import get_sample

# Until the results are complete a sample is a technician's work: to receive, then to test.
OPEN = (SampleStatus.REGISTERED, SampleStatus.RECEIVED, SampleStatus.IN_TESTING)


def _assignee(session: Session, sample: Sample) -> str | None:
    if sample.assignee_id is None:
        return None
    user = session.get(User, sample.assignee_id)
    return user.username if user is not None else None


def take_sample(session: Session, *, actor: User, number: str) -> Sample:
    """Assign the sample to ``actor``; taking one's own sample again changes nothing.

    :raises PermissionDenied: not a technician (who records results takes the work).
    :raises Conflict: the sample is past testing, or another technician has it.
    :raises NotFound:
    """
    require(actor, "result.record")
    sample = get_sample(session, number, lock=True)
    if sample.status not in OPEN:
        raise Conflict(msg("sample %(number)s is %(status)s: its testing is over",
                           number=sample.number, status=sample.status),
                       sample=sample.number, status=sample.status)
    if sample.assignee_id == actor.id:
        return sample
    if sample.assignee_id is not None:
        raise Conflict(msg("sample %(number)s is already assigned to %(user)s",
                           number=sample.number, user=_assignee(session, sample)),
                       sample=sample.number,
                       assignee=_assignee(session, sample))
    sample.assignee_id = actor.id
    session.flush()
    record(session, actor=actor, action="sample.assign", entity_type="samples",
           entity_id=sample.number, before={"assignee": None},
           after={"assignee": actor.username})
    return sample


def give_back(session: Session, *, actor: User, number: str) -> Sample:
    """Return one's own sample to the shared queue.

    :raises Conflict: the sample is not assigned to ``actor``.
    """
    require(actor, "result.record")
    sample = get_sample(session, number, lock=True)
    if sample.assignee_id != actor.id:
        raise Conflict(msg("sample %(number)s is not assigned to %(user)s",
                           number=sample.number, user=actor.username),
                       sample=sample.number)
    sample.assignee_id = None
    session.flush()
    record(session, actor=actor, action="sample.unassign", entity_type="samples",
           entity_id=sample.number, before={"assignee": actor.username},
           after={"assignee": None})
    return sample
