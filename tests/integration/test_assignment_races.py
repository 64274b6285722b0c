"""Two technicians taking the same sample at once: one gets it, the other is told who has it."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from lims.audit.models import AuditEvent
from lims.db import unit_of_work
from lims.errors import Conflict, LimsError
from lims.samples.models import Sample
from lims.work.assignment import take_sample


def _take(app: Any, world: Any, name: str, number: str) -> Any:
    session = app.extensions["lims"].sessionmaker()
    try:
        with unit_of_work(session):
            take_sample(session, actor=world.user(session, name), number=number)
        return name
    except LimsError as exc:
        return exc
    finally:
        session.close()


def _race(app: Any, world: Any, number: str) -> list[Any]:
    """tech and tech2 take the sample at the same instant."""
    outcomes: list[Any] = [None, None]
    barrier = threading.Barrier(2)

    def run(i: int, name: str) -> None:
        barrier.wait()
        outcomes[i] = _take(app, world, name, number)

    threads = [threading.Thread(target=run, args=(i, name))
               for i, name in enumerate(("tech", "tech2"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def test_concurrent_takes_give_the_sample_to_one_technician(app, session, world):
    for _ in range(4):
        number = world.new_sample(session, receive=False)
        outcomes = _race(app, world, number)
        winners = [o for o in outcomes if isinstance(o, str)]
        assert len(winners) == 1, outcomes
        loser = next(o for o in outcomes if not isinstance(o, str))
        assert isinstance(loser, Conflict) and f"assigned to {winners[0]}" in str(loser)
        session.expire_all()
        sample = session.scalar(select(Sample).where(Sample.number == number))
        assert sample.assignee_id == world.user(session, winners[0]).id
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "sample.assign", AuditEvent.entity_id == number)) == 1
