"""Append many events to the hash-chained audit trail at once (bulk import of legacy data).

:func:`lims.audit.services.record` inserts its events one by one. Here the head is locked as
record() locks it (:func:`~lims.audit.services.locked_head`), every event's hash is computed
with the same :func:`~lims.audit.services.event_hash` over the same canonical JSON (so ``lims audit verify``
checks them like any other), the events go in with ``executemany`` in chunks, and the head moves
once, all inside the caller's transaction: a rolled-back import leaves neither events nor a
moved head (21 CFR 11.10(e), ISO/IEC 17025 7.5.2).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from lims.audit.models import AuditEvent, AuditHead
from lims.audit.services import canonical_json, event_hash, locked_head, move_head
from lims.db import utcnow

CHUNK = 1000


@dataclasses.dataclass(frozen=True)
class PendingEvent:
    """One event to append: what happened to which record, with its state after."""

    action: str
    entity_type: str
    entity_id: object
    after: Mapping[str, Any] | None = None
    before: Mapping[str, Any] | None = None
    reason: str | None = None


def record_many(session: Session, *, actor: Any | None, events: Sequence[PendingEvent],
                chunk: int = CHUNK, progress: Callable[[int], None] | None = None) -> int:
    """Append ``events`` in order to the chain inside the caller's transaction.

    :param actor: the acting user, or None for the system.
    :param progress: called with the number of events written after each chunk.
    :returns: the sequence number of the last event (the head's).
    """
    if not events:
        return int(session.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0)
    # The same lock as record(), held until commit, so that concurrent writers append after
    # the whole import, never in the middle of it.
    start, prev = locked_head(session)
    at = utcnow()
    actor_id = getattr(actor, "id", None)
    actor_name = getattr(actor, "username", None) or "system"
    seq = start
    table = cast(Table, AuditEvent.__table__)
    rows: list[dict[str, Any]] = []
    for pending in events:
        seq += 1
        # A transient event (never added to the session) so that the hash is the one
        # verify_chain recomputes from the stored row, through the one function.
        event = AuditEvent(
            seq=seq, at=at, actor_id=actor_id, actor=actor_name, action=pending.action,
            entity_type=pending.entity_type, entity_id=str(pending.entity_id),
            before=None if pending.before is None else canonical_json(pending.before),
            after=None if pending.after is None else canonical_json(pending.after),
            reason=pending.reason, prev_hash=prev)
        prev = event_hash(event)
        rows.append({"seq": seq, "at": at, "actor_id": actor_id, "actor": actor_name,
                     "action": event.action, "entity_type": event.entity_type,
                     "entity_id": event.entity_id, "before": event.before, "after": event.after,
                     "reason": event.reason, "prev_hash": event.prev_hash, "hash": prev})
        if len(rows) == chunk:
            session.execute(insert(table), rows)
            if progress:
                progress(len(rows))
            rows = []
    if rows:
        session.execute(insert(table), rows)
        if progress:
            progress(len(rows))
    if not move_head(session, seq, prev, from_seq=start):
        raise RuntimeError("the audit head moved under a locked bulk append")
    return seq
