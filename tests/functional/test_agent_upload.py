"""The agent's uploader against a real server: acknowledged, refused, unauthorised."""

from __future__ import annotations

import datetime as dt
import sqlite3

from drivers.reading import Reading
from lims.agent.spool import Spool, status
from lims.agent.uploader import Uploader
from lims.auth.services import get_user
from lims.db import unit_of_work
from lims.readings.services import register_agent
from tests.functional.test_agent_process import server  # noqa: F401 - the fixture

AT = dt.datetime(2026, 11, 27, 1, 2, 3, tzinfo=dt.UTC)


def reading(value: str | None, status_: str = "ok") -> Reading:
    return Reading(driver="mt-sics", value=value, unit="g", stable=True, status=status_,
                   raw=b"S S 1 g", at=AT)


def test_acknowledged_refused_and_unauthorised_batches(tmp_path, session, world, server):  # noqa: F811
    with unit_of_work(session):
        _, token = register_agent(session, actor=get_user(session, "admin"), name="bench-1",
                                  assets=["EQ-1"])
    spool = Spool(tmp_path / "s.sqlite")
    up = Uploader(spool, server=server.url, token=token, batch_size=2)
    assert up.send_once() == "idle"
    for value in ("1.00", "2.00"):
        spool.append("EQ-1", reading(value))
    spool.append("EQ-1", reading(None))  # an "ok" reading without its value: malformed
    spool.append("EQ-1", reading("4.00"))
    spool.flush()
    assert up.send_once() == "sent"
    assert spool.acked == 2 and [r.seq for r in spool.batch(10)] == [3, 4]
    assert up.send_once() == "set aside"  # 422: kept aside, not retried forever
    assert spool.batch(10) == []
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        (seq, reason), = db.execute("SELECT seq, reason FROM quarantine WHERE seq = 3")
    assert seq == 3 and "readings[0]" in reason
    spool.append("EQ-2", reading("5.00"))  # not this agent's instrument: 403
    spool.flush()
    assert up.send_once() == "retry"
    assert [r.seq for r in spool.batch(10)] == [5]  # kept in the spool
    assert status(tmp_path / "s.sqlite")["meta"]["upload_error"].startswith("HTTP 403")
    wrong = Uploader(spool, server=server.url, token="lims_agent_wrong")
    assert wrong.send_once() == "retry"
    assert wrong.error is not None and wrong.error.startswith("HTTP 401")
    unreachable = Uploader(spool, server="http://127.0.0.1:9", token=token)
    assert unreachable.send_once() == "retry"
    assert unreachable.error is not None and unreachable.error.startswith("unreachable")
    assert [r.seq for r in spool.batch(10)] == [5]
    spool.close()


def test_a_replayed_batch_is_acknowledged_once(tmp_path, session, world, server):  # noqa: F811
    # The reply to a stored batch was lost (agent killed before deleting): resending it
    # stores nothing twice, and the agent deletes it on the acknowledgement.
    with unit_of_work(session):
        _, token = register_agent(session, actor=get_user(session, "admin"), name="bench-1",
                                  assets=["EQ-1"])
    spool = Spool(tmp_path / "s.sqlite")
    up = Uploader(spool, server=server.url, token=token)
    spool.append("EQ-1", reading("1.00"))
    spool.flush()
    code, data = up.post(spool.batch(10))
    assert (code, data["stored"]) == (200, 1)
    code, data = up.post(spool.batch(10))
    assert (code, data["stored"], data["duplicates"], data["acknowledged"]) == (200, 0, 1, 1)
    assert up.send_once() == "sent" and spool.batch(10) == []
    spool.close()


