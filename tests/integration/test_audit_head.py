"""The audit head is locked and read once per transaction (issue 14), and the chain stays
gapless: under concurrent writers, across a savepoint rolled back, and when other code moved
the head in the same transaction."""

from __future__ import annotations

import threading

from sqlalchemy import func, select, update

from lims.audit.models import AuditEvent, AuditHead
from lims.audit.services import event_hash, record, verify_chain
from lims.db import unit_of_work, utcnow


def _event(session, n):
    return record(session, actor=None, action="test.event", entity_type="tests", entity_id=n)


def test_concurrent_writers_append_one_gapless_chain(app, session):
    sm = app.extensions["lims"].sessionmaker
    threads_n, per_thread, per_transaction = 5, 4, 3
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads_n)
    before = session.scalar(select(func.count(AuditEvent.id)))
    session.rollback()

    def worker(k: int) -> None:
        s = sm()
        try:
            barrier.wait()
            for i in range(per_thread):
                with unit_of_work(s):
                    for j in range(per_transaction):
                        _event(s, f"{k}-{i}-{j}")
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            s.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    verdict = verify_chain(session)
    assert verdict.ok, verdict.message
    assert verdict.count == before + threads_n * per_thread * per_transaction
    # Each transaction's events are consecutive: the head was held from its first event on.
    rows = session.execute(select(AuditEvent.seq, AuditEvent.entity_id)
                           .where(AuditEvent.action == "test.event")
                           .order_by(AuditEvent.seq)).all()
    for start in range(0, len(rows), per_transaction):
        group = rows[start:start + per_transaction]
        assert len({r.entity_id.rsplit("-", 1)[0] for r in group}) == 1, group


def test_a_savepoint_rolled_back_leaves_no_gap(session):
    with unit_of_work(session):
        first = _event(session, "a")
        nested = session.begin_nested()
        _event(session, "rolled back")
        nested.rollback()
        after = _event(session, "b")
    assert after.seq == first.seq + 1 and after.prev_hash == first.hash
    assert verify_chain(session).ok


def test_an_event_follows_a_head_moved_by_other_code_in_the_transaction(session):
    with unit_of_work(session):
        first = _event(session, "a")
        # Another writer in the same transaction (a bulk import, say) appends and moves the
        # head itself: the next recorded event must follow its event, not the remembered head.
        other = AuditEvent(seq=first.seq + 1, at=utcnow(), actor_id=None, actor="system",
                           action="bulk", entity_type="tests", entity_id="bulk", before=None,
                           after=None, reason=None, prev_hash=first.hash)
        other.hash = event_hash(other)
        session.add(other)
        session.flush()
        session.execute(update(AuditHead).where(AuditHead.id == 1)
                        .values(seq=other.seq, hash=other.hash))
        last = _event(session, "b")
    assert (last.seq, last.prev_hash) == (other.seq + 1, other.hash)
    assert verify_chain(session).ok


def test_a_bulk_append_between_single_events_keeps_one_chain(session):
    from lims.audit.bulk import PendingEvent, record_many

    with unit_of_work(session):
        first = _event(session, "a")
        last_bulk = record_many(session, actor=None, events=[
            PendingEvent("bulk", "tests", i) for i in range(3)])
        last = _event(session, "b")
    assert last_bulk == first.seq + 3 and last.seq == first.seq + 4
    assert verify_chain(session).ok
