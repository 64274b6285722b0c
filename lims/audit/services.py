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
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import DateTime, String, Table, bindparam, insert, inspect, select, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lims.audit.models import AuditEvent, AuditHead
from lims.db import utcnow
from lims.errors import msg

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
    state = inspect(obj)
    skip = set(exclude) | state.unloaded  # a computed set: taken once, not once per column
    return {
        attr.key: _jsonable(getattr(obj, attr.key))
        for attr in state.mapper.column_attrs
        if attr.key not in skip
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

    The head is locked and read once per transaction (:func:`locked_head`); each event then moves it
    with a conditional ``UPDATE`` and is inserted: two statements an event and one a
    transaction (issue 14; it was four an event).
    """
    for _attempt in range(2):
        seq, prev = locked_head(session)
        event = AuditEvent(
            seq=seq + 1,
            at=utcnow(),
            actor_id=getattr(actor, "id", None),
            actor=getattr(actor, "username", None) or "system",
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            before=None if before is None else canonical_json(before),
            after=None if after is None else canonical_json(after),
            reason=reason,
            prev_hash=prev,
        )
        event.hash = event_hash(event)
        if move_head(session, event.seq, event.hash):
            # Inserted as a row, not flushed as an object: the event is never changed after
            # (the trail is append-only), so the unit of work has nothing to track (issue 14).
            session.execute(_INSERT_EVENT, {c: getattr(event, c) for c in _EVENT_COLUMNS})
            return event
    raise RuntimeError("the audit head keeps moving under this transaction")


# session.info key: (the transaction the head was locked in, its seq, its hash).
_HEAD = "lims_audit_head"
# The head's statements, built once: a statement memoises its cache key, so each write then
# skips building it and its key (issue 14).
_HEAD_LOCKED = select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
_INSERT_EVENT = insert(cast(Table, AuditEvent.__table__))
_EVENT_COLUMNS = ("seq", "at", "actor_id", "actor", "action", "entity_type", "entity_id",
                  "before", "after", "reason", "prev_hash", "hash")
_MOVE_HEAD = (update(AuditHead)
              .where(AuditHead.id == 1, AuditHead.seq == bindparam("from_seq"))
              .values(seq=bindparam("to_seq"), hash=bindparam("digest"))
              .execution_options(synchronize_session=False))


def _transaction(session: Session) -> object:
    return session.get_nested_transaction() or session.get_transaction()


def locked_head(session: Session) -> tuple[int, str]:
    """The head as this transaction left it, locked (``SELECT … FOR UPDATE``).

    Read from the database once per transaction: the lock is held to its end (PostgreSQL;
    SQLite's writer holds the whole database), so no other writer can move the head meanwhile.
    A savepoint counts as a transaction of its own, since rolling it back undoes its head
    updates and releases the row lock it took: the head is then read and locked again.
    """
    cached = session.info.get(_HEAD)
    if cached is not None and cached[0] is _transaction(session):
        return cached[1], cached[2]
    row = session.execute(_HEAD_LOCKED).first()
    if row is None:  # the first event of a new database
        dialect = session.get_bind().dialect.name
        upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(upsert(AuditHead).values(id=1, seq=0, hash=GENESIS)
                        .on_conflict_do_nothing())
        row = session.execute(_HEAD_LOCKED).one()
    session.info[_HEAD] = (_transaction(session), row.seq, row.hash)
    return row.seq, row.hash


def move_head(session: Session, seq: int, digest: str, *, from_seq: int | None = None) -> bool:
    """Move the head to the event ``seq``, from ``from_seq`` (default ``seq - 1``) where this
    transaction saw it (:func:`locked_head`).

    False when the head is not there: code that moved it by other means in the same
    transaction (its own bulk of events, say) left the remembered head stale; it is then read
    again rather than an event written on a stale hash.
    """
    moved = session.execute(_MOVE_HEAD, {"from_seq": seq - 1 if from_seq is None else from_seq,
                                         "to_seq": seq, "digest": digest})
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        session.info.pop(_HEAD, None)
        return False
    session.info[_HEAD] = (_transaction(session), seq, digest)
    return True


@dataclasses.dataclass(frozen=True)
class Anchor:
    """A (seq, hash) pair the chain must still have, held outside the database.

    :mod:`lims.audit.checkpoints` makes them from signed checkpoint files; ``name`` says which.
    """

    seq: int
    hash: str
    name: str


@dataclasses.dataclass(frozen=True)
class ChainVerdict:
    ok: bool
    count: int  # events walked (from ``start`` when verifying incrementally)
    first_bad_seq: int | None = None
    message: str = msg("audit chain intact")
    checkpoint: str | None = None  # the anchor a failure concerns
    last_seq: int = 0              # the last event verified, and its hash
    last_hash: str = GENESIS


# The verification walk reads plain Core rows in keyset batches on ``seq`` and hashes them with
# one preconfigured encoder: the same canonical JSON as :func:`canonical_json` (whose
# ``_jsonable`` is the identity for the str, int and None values of an event, its time aside),
# at the cost of the driver and hashlib alone (issue 14: building ORM objects made the walk 3×
# slower than that floor).
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_T = AuditEvent.__table__.c
_UTC = dt.UTC


def _walk_columns(dialect: str) -> tuple[Any, ...]:
    """The columns the walk reads, ``at`` as the driver gives it (SQLite: the stored text,
    parsed by :func:`_at_text`; PostgreSQL: an aware datetime), skipping the type decorator."""
    at = type_coerce(_T.at, String() if dialect == "sqlite" else DateTime(timezone=True))
    return (_T.seq, _T.id, at, _T.actor_id, _T.actor, _T.action, _T.entity_type, _T.entity_id,
            _T.before, _T.after, _T.reason, _T.prev_hash, _T.hash)


def _at_text(value: Any) -> str:
    """The event time as :func:`event_hash` writes it: UTC, ISO 8601 with its offset."""
    if isinstance(value, str):  # SQLite keeps UTC without its zone (lims.db.UTCDateTime)
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=_UTC).isoformat()  # type: ignore[no-any-return]
    return value.astimezone(_UTC).isoformat()  # type: ignore[no-any-return]


def row_hash(row: Sequence[Any]) -> str:
    """:func:`event_hash` of a row of :func:`_walk_columns` (same canonical JSON, same hash)."""
    seq, _id, at, actor_id, actor, action, etype, eid, before, after, reason, prev, _h = row
    body = {"seq": seq, "at": _at_text(at), "actor_id": actor_id, "actor": actor,
            "action": action, "entity_type": etype, "entity_id": eid, "before": before,
            "after": after, "reason": reason, "prev_hash": prev}
    return hashlib.sha256(_ENCODE(body).encode("utf-8")).hexdigest()


def verify_chain(session: Session, *, batch: int = 10000, anchors: Sequence[Anchor] = (),
                 start: Anchor | None = None) -> ChainVerdict:
    """Walk the chain in sequence order and report the first event that does not fit.

    :param anchors: (seq, hash) pairs from checkpoints: the event at each seq must still have
        that hash, and the chain must reach it. A chain cut after an anchor, or re-hashed from
        any event before it, fails there, whatever ``audit_head`` says.
    :param start: walk from this anchor (its event must match it) instead of from the first
        event, so that the cost is the events since; anchors before it are only looked up.

    The head is read first and the walk stops there: events appended meanwhile by concurrent
    writers (which commit the event and the head together) are left for the next run.
    """
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    columns = _walk_columns(session.get_bind().dialect.name)
    by_seq = {a.seq: a for a in anchors}
    prev_hash, expected_seq, last_id, count = GENESIS, 1, 0, 0
    if start is not None:
        first = session.execute(select(*columns).where(_T.seq == start.seq)).first()
        if first is None:
            return ChainVerdict(False, 0, start.seq,
                                msg("event %(seq)s recorded by checkpoint %(checkpoint)s is missing: "
                                    "the chain was cut", seq=start.seq, checkpoint=start.name),
                                start.name)
        if first.hash != start.hash:
            return ChainVerdict(False, 0, start.seq,
                                msg("event %(seq)s does not match checkpoint %(checkpoint)s: the "
                                    "chain was rewritten", seq=start.seq, checkpoint=start.name),
                                start.name)
        if row_hash(first) != first.hash:
            return ChainVerdict(False, 0, start.seq,
                                msg("event %(seq)s was altered: its hash does not match", seq=start.seq))
        prev_hash, expected_seq, last_id = first.hash, start.seq + 1, first.id
        earlier = sorted(seq for seq in by_seq if seq < start.seq)
        for i in range(0, len(earlier), 500):
            found = dict(session.execute(select(_T.seq, _T.hash)
                                         .where(_T.seq.in_(earlier[i:i + 500]))).all())
            for seq in earlier[i:i + 500]:
                if found.get(seq) != by_seq[seq].hash:
                    return _anchor_broken(by_seq[seq], 0, found.get(seq) is None)
    end = None if head is None else head.seq
    sha256, encode, at_text = hashlib.sha256, _ENCODE, _at_text
    while True:
        query = select(*columns).where(_T.seq >= expected_seq)
        if end is not None:
            query = query.where(_T.seq <= end)
        rows = session.execute(query.order_by(_T.seq).limit(batch)).all()
        if not rows:
            break
        for (seq, id_, at, actor_id, actor, action, etype, eid, before, after, reason, prev,
             digest) in rows:
            if seq != expected_seq:
                return ChainVerdict(False, count, expected_seq,
                                    msg("event %(seq)s is missing (next found: %(found)s)", seq=expected_seq,
                                        found=seq))
            if id_ <= last_id:
                return ChainVerdict(False, count, seq,
                                    msg("event %(seq)s is out of order (id %(id)s)", seq=seq,
                                        id=id_))
            if prev != prev_hash:
                return ChainVerdict(False, count, seq,
                                    msg("event %(seq)s does not link to event %(previous)s", seq=seq,
                                        previous=seq - 1))
            body = {"seq": seq, "at": at_text(at), "actor_id": actor_id, "actor": actor,
                    "action": action, "entity_type": etype, "entity_id": eid, "before": before,
                    "after": after, "reason": reason, "prev_hash": prev}
            if sha256(encode(body).encode("utf-8")).hexdigest() != digest:
                return ChainVerdict(False, count, seq,
                                    msg("event %(seq)s was altered: its hash does not match", seq=seq))
            if by_seq:
                anchor = by_seq.get(seq)
                if anchor is not None and anchor.hash != digest:
                    return _anchor_broken(anchor, count, False)
            prev_hash, last_id = digest, id_
            expected_seq += 1
            count += 1
        if len(rows) < batch:
            break
    last = expected_seq - 1
    beyond = [a for a in anchors if a.seq > last]
    if beyond:
        anchor = min(beyond, key=lambda a: a.seq)
        return ChainVerdict(False, count, last + 1,
                            msg("the chain ends at event %(last)s but checkpoint %(checkpoint)s records "
                                "event %(seq)s: events were cut", last=last, checkpoint=anchor.name,
                                seq=anchor.seq), anchor.name, last, prev_hash)
    if head is not None and (head.seq != last or head.hash != prev_hash):
        return ChainVerdict(False, count, last + 1,
                            msg("events after %(last)s are missing (head says %(head)s)", last=last,
                                head=head.seq))
    if head is not None and session.scalar(select(_T.seq).where(_T.seq > last)
                                           .order_by(_T.seq).limit(1)) is not None:
        now = session.execute(select(AuditHead.seq).where(AuditHead.id == 1)).scalar()
        if now == head.seq:  # not a concurrent append: events beyond a head set back
            return ChainVerdict(False, count, last + 1,
                                msg("events after %(last)s lie beyond the head (head says %(head)s)",
                                    last=last, head=head.seq))
    return ChainVerdict(True, count, last_seq=last, last_hash=prev_hash)


def _anchor_broken(anchor: Anchor, count: int, missing: bool) -> ChainVerdict:
    if missing:
        message = msg("event %(seq)s recorded by checkpoint %(checkpoint)s is missing: the chain was "
                      "cut", seq=anchor.seq, checkpoint=anchor.name)
    else:
        message = msg("event %(seq)s recorded by checkpoint %(checkpoint)s does not match: the chain "
                      "was rewritten", seq=anchor.seq, checkpoint=anchor.name)
    return ChainVerdict(False, count, anchor.seq, message,
                        anchor.name)
