"""The live stream's follower on PostgreSQL (issue 12 §2): readings whose ids commit out of
order are each sent once.

A reading's id is taken at INSERT and becomes visible at COMMIT, so on PostgreSQL a batch that
commits later can hold lower ids than one already sent; the follower keeps looking below its
highest id sent for IN_FLIGHT. SQLite serialises writers (an id is visible in the order it was
taken), so the race only exists, and is only tested, on PostgreSQL, with real transactions.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from lims.auth.services import get_user
from lims.db import unit_of_work
from lims.readings.live import IN_FLIGHT, Follower, highest_id
from lims.readings.models import Agent
from lims.readings.services import NewReading, ingest, register_agent

T0 = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)


def _reading(seq: int) -> NewReading:
    return NewReading(seq=seq, asset="EQ-1", read_at=T0 + dt.timedelta(seconds=seq),
                      value=f"{seq}.00", unit="g", stable=True, status="ok", error=None,
                      raw=b"S S %d.00 g" % seq)


def test_a_reading_committed_after_a_later_one_is_still_sent_once(session, world):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: ids become visible in the order taken")
    with unit_of_work(session):
        agent, _ = register_agent(session, actor=get_user(session, "admin"), name="bench-1",
                                  assets=["EQ-1"])
        agent_id, instrument_id = agent.id, agent.instruments[0].id
    engine = session.get_bind()
    follower = Follower(instrument_id=instrument_id, floor=highest_id(session))
    session.rollback()
    slow, fast = Session(engine), Session(engine)
    try:
        ingest(slow, agent=slow.get(Agent, agent_id), readings=[_reading(1), _reading(2)])
        slow.flush()  # ids taken, not committed
        ingest(fast, agent=fast.get(Agent, agent_id), readings=[_reading(3)])
        fast.commit()
        t0 = dt.datetime.now(dt.UTC)
        with Session(engine) as db:
            assert [r.seq for r, _ in follower.poll(db, t0)] == [3]
        slow.commit()  # the lower ids become visible after the higher one was sent
        with Session(engine) as db:
            assert [r.seq for r, name in follower.poll(db, t0 + dt.timedelta(seconds=1))] \
                == [1, 2]
        with Session(engine) as db:  # nothing twice, and the floor moves past them
            assert follower.poll(db, t0 + IN_FLIGHT * 2) == []
            assert follower.floor == highest_id(db) and not follower.sent
    finally:
        slow.close()
        fast.close()
