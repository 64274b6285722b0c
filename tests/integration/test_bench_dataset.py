"""The shared benchmark dataset (bench/dataset.py) built small, on SQLite and PostgreSQL, so that
it cannot rot: its hash chain verifies and the trail finds a sample's events through it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench import dataset
from lims.audit import trail
from lims.audit.models import AuditEvent, AuditHead
from lims.audit.services import verify_chain
from lims.db import make_engine
from lims.samples.models import Sample


def test_a_small_dataset_holds_a_valid_chain(database_url: str) -> None:
    size = dataset.Size(samples=300, instruments=20, customers=30, events=4000)
    engine = make_engine(database_url)
    try:
        counts = dataset.load(engine, size)
        assert counts["samples"] == 300 and counts["instruments"] == 20
        assert counts["customers"] == 30 and counts["results"] >= 600
        assert counts["audit_events"] >= 4000
        with Session(engine) as session:
            verdict = verify_chain(session, batch=700)  # several batches
            assert verdict.ok, verdict.message
            assert verdict.count == counts["audit_events"]
            head: Any = session.get(AuditHead, 1)
            assert (head.seq, head.hash) == (verdict.last_seq, verdict.last_hash)
            number = session.scalar(select(Sample.number).where(Sample.id == 7))
            found = trail.search(session, trail.Filters(number=number), timezone="Asia/Shanghai")
            actions = {e.action for e in found.events}
            assert {"sample.register", "sample.receive", "result.record"} <= actions
            assert found.total == len(found.events) >= 5
            assert session.scalar(select(func.count()).select_from(AuditEvent)) \
                == counts["audit_events"]
    finally:
        engine.dispose()
