"""No request walks the audit chain (issue 14): ``GET /api/v1/audit/verify`` reads the newest
recorded check and the head, ``POST`` queues a check that the scheduler runs, on SQLite and
PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select, text

from lims.audit.models import AuditEvent
from lims.scheduler import run_job
from tests.support.sql import statements


def _headers(session: Any, world: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.token(session, 'auditor')}"}


def _bounded(sql: list[str]) -> None:
    """Every read of audit_events is a bounded, indexed look-up: a LIMIT, or the head row."""
    reads = [s for s in sql if re.search(r"\bFROM audit_events\b", s)]
    assert reads, sql
    for s in reads:
        assert re.search(r"\bLIMIT\b", s), s


def test_get_reads_the_newest_check_without_walking(app: Any, client: Any, session: Any,
                                                    world: Any) -> None:
    headers = _headers(session, world)
    head = session.scalar(select(func.max(AuditEvent.seq)))
    with statements(app) as sql:
        resp = client.get("/api/v1/audit/verify", headers=headers)
    assert resp.status_code == 200
    body = resp.json
    assert body["ok"] is False and body["count"] == 0 and body["first_bad_seq"] is None
    assert "not been checked" in body["message"] and body["checked_at"] is None
    assert body["head_seq"] == head and body["pending"] is False
    _bounded(sql)
    assert len(sql) <= 12, sql  # the token check, the head and three look-ups


def test_post_queues_a_check_that_the_scheduler_runs(app: Any, client: Any, session: Any,
                                                     world: Any) -> None:
    headers = _headers(session, world)
    with statements(app) as sql:
        resp = client.post("/api/v1/audit/verify", headers=headers)
    assert resp.status_code == 202, resp.get_data(as_text=True)
    assert resp.headers["Location"].endswith("/api/v1/audit/verify")
    _bounded(sql)
    queued = resp.json
    assert queued["pending"] is True and queued["checked_at"] is None
    asked = queued["requested_seq"]
    assert asked == queued["head_seq"]  # the request is the newest event
    again = client.post("/api/v1/audit/verify", headers=headers).json
    assert again["requested_seq"] == asked and again["head_seq"] == asked  # one request
    assert run_job("audit-verify-queued", app) | {"message": ""} == {
        "ok": True, "ran": True, "message": "", "count": asked, "since_seq": 0,
        "requested_seq": asked}
    done = client.get("/api/v1/audit/verify", headers=headers).json
    assert done["ok"] is True and done["count"] == asked and done["last_seq"] == asked
    assert done["checked_by"] == "auditor" and done["pending"] is False
    assert done["head_seq"] == asked + 1 and done["message"] == "audit chain intact"
    assert run_job("audit-verify-queued", app) == {"ok": True, "ran": False}  # nothing waits


def test_a_queued_check_of_a_broken_chain_names_the_first_bad_event(
        app: Any, client: Any, session: Any, world: Any) -> None:
    headers = _headers(session, world)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))
    else:
        session.execute(text("DROP TRIGGER audit_events_no_update"))
    session.execute(text("UPDATE audit_events SET reason = 'edited' WHERE seq = 4"))
    session.commit()
    assert client.post("/api/v1/audit/verify", headers=headers).status_code == 202
    assert run_job("audit-verify-queued", app)["ok"] is False
    found = client.get("/api/v1/audit/verify", headers=headers).json
    assert found["ok"] is False and found["first_bad_seq"] == 4
    assert found["message"] == "event 4 was altered: its hash does not match"


def test_the_walk_leaves_the_write_lock_free(app: Any, session: Any, world: Any,
                                             monkeypatch: Any) -> None:
    """A check walks in a read transaction and writes its outcome after: on SQLite another
    writer can take the database's one write lock in the middle of the walk (with no wait)."""
    import sqlite3

    from lims.audit import checkpoints

    walk, took = checkpoints.verify, []
    engine = app.extensions["lims"].engine

    def verify_while_another_writes(db: Any, *args: Any, **kwargs: Any) -> Any:
        found = walk(db, *args, **kwargs)
        if engine.dialect.name == "sqlite":
            other = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")  # "database is locked" if the job held it
                other.execute("ROLLBACK")
                took.append(True)
            finally:
                other.close()
        else:
            took.append(not db.connection().get_execution_options().get("lims_write"))
        return found

    monkeypatch.setattr(checkpoints, "verify", verify_while_another_writes)
    outcome = run_job("verify-audit-chain", app)
    assert outcome["ok"] is True and took == [True]
    newest = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
    assert newest.action == "audit.verify"  # the outcome is still recorded
