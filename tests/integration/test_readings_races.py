"""Concurrent uploads of one batch (an agent retrying while its first attempt is still in
flight, or two agent processes started by mistake on one spool): every reading is stored
exactly once. The unique constraint on (agent_id, seq) does it, not a look-up before the
insert; PostgreSQL is where a check-then-insert would fail (SQLite serialises writers).
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from lims.readings.models import Reading
from tests.functional.test_readings import agent, post, reading


def test_concurrent_posts_of_one_batch_store_each_reading_once(app, session, world):
    token = agent(session, "bench-1", "EQ-1")
    # Four overlapping batches of 400, each posted twice at once: seqs 1..1000.
    batches = [[reading(s) for s in range(start, start + 400)] for start in (1, 201, 401, 601)]
    # One batch in reverse order: its inserts meet the others' from the other end.
    batches[1] = batches[1][::-1]
    work = [b for b in batches for _ in range(2)]
    barrier = threading.Barrier(len(work))
    replies: list[Any] = [None] * len(work)

    def run(i: int) -> None:
        client = app.test_client()
        barrier.wait()
        try:
            resp = post(client, token, work[i])
            replies[i] = (resp.status_code, resp.json)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            replies[i] = (0, repr(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(r is not None and r[0] == 200 for r in replies), replies
    assert sum(r[1]["stored"] for r in replies) == 1000
    assert all(r[1]["stored"] + r[1]["duplicates"] == 400 for r in replies)
    session.rollback()
    seqs = list(session.scalars(select(Reading.seq).order_by(Reading.seq)))
    assert seqs == list(range(1, 1001))
    assert session.scalar(select(func.count(func.distinct(Reading.seq)))) == 1000
