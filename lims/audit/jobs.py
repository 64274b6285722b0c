"""Scheduled audit jobs: the hourly signed checkpoint, the nightly chain check, and the checks
asked for on the audit page or the API (queued, run by the scheduler within a minute).

No web request walks the chain (issue 14: 72 s at 943k events inside one request): the page
and ``GET /api/v1/audit/verify`` show the newest recorded check, and asking for a new one
records an ``audit.verify_request`` event that the ``audit-verify-queued`` job answers.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.audit import checkpoints, trail
from lims.audit.models import AuditEvent, AuditHead
from lims.audit.services import ChainVerdict, record
from lims.config import Settings
from lims.db import unit_of_work
from lims.errors import LimsError

log = logging.getLogger(__name__)


def _verify_and_record(session: Session, settings: Settings, *, actor_id: int | None,
                       requested_seq: int | None = None, incremental: bool = False,
                       accepted: str | None = None) -> tuple[ChainVerdict, int]:
    """Verify the chain from the newest checkpoint on (all of it when there is none) against
    every checkpoint, and record the outcome as an ``audit.verify`` event (21 CFR 11.10(e)).

    The walk reads in its own read transaction and only the outcome is written in a write
    transaction afterwards: on SQLite a write transaction holds the database's one write lock,
    and a walk of a million events inside it (a lab without checkpoints) would stall every
    registration for tens of seconds. Events recorded between the two are checked next time
    (the outcome names the last event it covered).

    Every check fails while a checkpoint file that the last successful one held is gone
    (:class:`lims.audit.checkpoints.Held`); ``incremental`` (the nightly check) reads only the
    files since that check's newest, a check asked for reads them all. ``accepted``: the
    reason the quality manager gave for taking the files that are left as the new baseline
    (:func:`accept_checkpoints`); the check then holds the chain to those alone.
    """
    from lims.auth.models import User

    try:
        held = _held(session) if accepted is None else None
        verdict, start, anchors = checkpoints.verify(session, settings, since_checkpoint=True,
                                                     held=held, read_all=not incremental)
    except LimsError as exc:  # the lab's certificate cannot be loaded
        verdict, start, anchors = ChainVerdict(False, 0, None, exc.message), None, 0
    session.rollback()  # end the read transaction before taking the write lock
    since = start.seq if start else 0
    after: dict[str, Any] = {"ok": verdict.ok, "count": verdict.count,
                             "first_bad_seq": verdict.first_bad_seq, "message": verdict.message,
                             "since_seq": since, "checkpoints": anchors,
                             "last_seq": verdict.last_seq if verdict.ok else None}
    if requested_seq is not None:
        after["requested_seq"] = requested_seq
    if accepted is not None:
        after["accepted"] = accepted
    with unit_of_work(session):
        actor = session.get(User, actor_id) if actor_id is not None else None
        record(session, actor=actor, action=trail.CHECK, entity_type="audit_events",
               entity_id="chain", after=after)
    if not verdict.ok:
        log.error("audit chain broken: %s", verdict.message)
    return verdict, since


def _held(session: Session) -> checkpoints.Held | None:
    """What the last successful check held the chain to, when it walked from a checkpoint.

    The last successful one, not the last: a check that found files gone must not make the
    next one forget them.
    """
    last = trail.latest_check(session, passed=True)
    outcome = json.loads(last.after or "{}") if last is not None else {}
    since, count = outcome.get("since_seq"), outcome.get("checkpoints")
    if outcome.get("ok") is True and isinstance(since, int) and since > 0 \
            and isinstance(count, int) and count > 0:
        return checkpoints.Held(since, count)
    return None


def accept_checkpoints(session: Session, settings: Settings, *, actor: Any, reason: Any
                       ) -> ChainVerdict:
    """Check the chain against the checkpoint files that are left and, when it passes, make
    them the baseline of the checks that follow, which otherwise fail for as long as a file
    they held is gone; recorded with the reason (21 CFR 11.10(e)). For when lost files cannot
    be restored from an exported copy (``lims audit checkpoint --out``).

    :raises PermissionDenied: not the quality manager (``audit.accept``).
    :raises InvalidInput: no reason given.
    """
    from lims.auth.services import require
    from lims.validate import text

    require(actor, "audit.accept")
    why = text(reason, "reason", max_len=500)
    verdict, _since = _verify_and_record(session, settings, actor_id=actor.id, accepted=why)
    return verdict


def verify_audit_chain(session: Session, settings: Settings) -> dict[str, Any]:
    """Verify the chain since the newest checkpoint, against every checkpoint, and record the
    outcome as an audit event (``lims audit verify`` walks the whole chain on demand).

    Incremental: the hourly ``audit-checkpoint`` job anchors the verified head, so a nightly
    run walks the events since the last hour's checkpoint; only a lab without checkpoints (no
    signing key) walks everything, in the scheduler, never in a request.
    """
    verdict, since = _verify_and_record(session, settings, actor_id=None, incremental=True)
    return {"ok": verdict.ok, "message": verdict.message, "count": verdict.count,
            "since_seq": since}


def queue_verification(session: Session, actor: Any) -> tuple[AuditEvent, bool]:
    """Ask the scheduler for a chain check: (the request event, whether it is new).

    A request still waiting is answered by the same run, so asking again records nothing.
    """
    waiting = trail.pending_check(session)
    if waiting is not None:
        return waiting, False
    head = session.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0
    event = record(session, actor=actor, action=trail.REQUEST, entity_type="audit_events",
                   entity_id="chain", after={"head_seq": head})
    return event, True


def run_queued_verification(session: Session, settings: Settings) -> dict[str, Any]:
    """Job ``audit-verify-queued`` (every minute): answer a waiting request for a chain check,
    recording the outcome in the name of whoever asked; nothing when none waits."""

    waiting = trail.pending_check(session)
    if waiting is None:
        return {"ok": True, "ran": False}
    # Only one scheduler process runs the job, so the request still waits when the outcome is
    # recorded; were a second one to answer it too, the later outcome would merely repeat.
    verdict, since = _verify_and_record(session, settings, actor_id=waiting.actor_id,
                                        requested_seq=waiting.seq)
    return {"ok": verdict.ok, "ran": True, "message": verdict.message, "count": verdict.count,
            "since_seq": since, "requested_seq": waiting.seq}


def checkpoint_audit_head(session: Session, settings: Settings) -> dict[str, Any]:
    """Write a signed checkpoint of the verified audit head (nothing when it has not moved)."""
    try:
        made, new = checkpoints.take(session, settings)
    except LimsError as exc:
        log.error("audit checkpoint not taken: %s", exc)
        return {"ok": False, "message": str(exc)}
    if made is None:
        return {"ok": True, "seq": 0, "written": False}
    return {"ok": True, "seq": made.seq, "file": made.name, "written": new}
