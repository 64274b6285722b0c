"""Append to and verify the hash-chained audit trail.

Each event's SHA-256 covers its canonical content and the previous event's hash, so editing,
deleting or reordering any stored event breaks the chain at that event. Events are written in
the same transaction as the change they record.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lims.audit.models import AuditEvent, AuditHead
from lims.db import utcnow

GENESIS = "0" * 64


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | enum.Enum):
        return str(value)
    if isinstance(value, bytes):
        return {"sha256": hashlib.sha256(value).hexdigest(), "length": len(value)}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    return json.dumps(_jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def snapshot(obj: Any, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Return the column values of a model instance (bytes become their SHA-256)."""
    skip = set(exclude)
    state = inspect(obj)
    return {
        attr.key: _jsonable(getattr(obj, attr.key))
        for attr in state.mapper.column_attrs
        if attr.key not in skip and attr.key not in state.unloaded
    }


def event_hash(event: AuditEvent) -> str:
    body = {
        "seq": event.seq,
        "at": event.at.astimezone(dt.UTC).isoformat(),
        "actor_id": event.actor_id,
        "actor": event.actor,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def record(
    session: Session,
    *,
    actor: Any | None,
    action: str,
    entity_type: str,
    entity_id: object,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction.

    :param actor: the acting user, or None for the system (scheduler, migrations).
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(AuditHead).values(id=1, seq=0, hash=GENESIS).on_conflict_do_nothing())
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    event = AuditEvent(
        seq=head.seq + 1,
        at=utcnow(),
        actor_id=getattr(actor, "id", None),
        actor=getattr(actor, "username", None) or "system",
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=None if before is None else canonical_json(before),
        after=None if after is None else canonical_json(after),
        reason=reason,
        prev_hash=head.hash,
    )
    event.hash = event_hash(event)
    head.seq, head.hash = event.seq, event.hash
    session.add(event)
    session.flush()
    return event


@dataclasses.dataclass(frozen=True)
class ChainVerdict:
    ok: bool
    count: int
    first_bad_seq: int | None = None
    message: str = "audit chain intact"


def verify_chain(session: Session, *, batch: int = 5000) -> ChainVerdict:
    """Walk the chain in sequence order and report the first event that does not fit."""
    prev_hash, expected_seq, count = GENESIS, 1, 0
    last_id = 0
    while True:
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.seq >= expected_seq)
            .order_by(AuditEvent.seq).limit(batch)
        ).scalars().all()
        if not rows:
            break
        for event in rows:
            if event.seq != expected_seq:
                return ChainVerdict(False, count, expected_seq,
                                    f"event {expected_seq} is missing (next found: {event.seq})")
            if event.id <= last_id:
                return ChainVerdict(False, count, event.seq,
                                    f"event {event.seq} is out of order (id {event.id})")
            if event.prev_hash != prev_hash:
                return ChainVerdict(False, count, event.seq,
                                    f"event {event.seq} does not link to event {event.seq - 1}")
            if event_hash(event) != event.hash:
                return ChainVerdict(False, count, event.seq,
                                    f"event {event.seq} was altered: its hash does not match")
            prev_hash, last_id = event.hash, event.id
            expected_seq += 1
            count += 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or head.hash != prev_hash):
        return ChainVerdict(False, count, count + 1,
                            f"events after {count} are missing (head says {head.seq})")
    return ChainVerdict(True, count)
