"""The agent's durable spool: sequence numbers never repeat, commits are batched, bounded."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time

import pytest

from drivers.reading import Reading
from lims.agent.spool import Spool, SpoolFull, status


def reading(i: int, status_: str = "ok") -> Reading:
    return Reading(driver="mt-sics", value=f"{i}.00" if status_ == "ok" else None,
                   unit="g", stable=True, status=status_, raw=f"S S {i}.00 g".encode(),
                   at=dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC) + dt.timedelta(seconds=i),
                   message=None if status_ == "ok" else "ES")


def committed_seqs(path) -> list[int]:
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT seq FROM readings ORDER BY seq")]


def test_wal_full_sync_and_everything_kept(tmp_path):
    spool = Spool(tmp_path / "s.sqlite")
    assert spool._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert spool._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert spool.append("EQ-1", reading(1)) == 1
    assert spool.append("EQ-1", reading(2, "error")) == 2
    spool.flush()
    first, second = spool.batch(10)
    assert (first.seq, first.value, first.raw, first.stable) == (1, "1.00", b"S S 1.00 g", True)
    assert first.read_at == "2026-11-27T01:00:01+00:00"
    assert (second.status, second.value, second.error) == ("error", None, "ES")
    spool.close()


def test_commits_are_batched_and_only_committed_rows_upload(tmp_path):
    spool = Spool(tmp_path / "s.sqlite", commit_rows=100, commit_every=3600)
    for i in range(1, 100):
        spool.append("EQ-1", reading(i))
    # not yet committed: another process (or the uploader's connection) sees nothing
    assert committed_seqs(tmp_path / "s.sqlite") == [] and spool.batch(500) == []
    spool.append("EQ-1", reading(100))  # the 100th commits the lot in one transaction
    assert committed_seqs(tmp_path / "s.sqlite") == list(range(1, 101))
    spool.close()


def test_the_committer_thread_commits_within_milliseconds(tmp_path):
    spool = Spool(tmp_path / "s.sqlite", commit_every=0.01).start()
    spool.append("EQ-1", reading(1))
    deadline = time.monotonic() + 2
    while not committed_seqs(tmp_path / "s.sqlite") and time.monotonic() < deadline:
        time.sleep(0.005)
    assert committed_seqs(tmp_path / "s.sqlite") == [1]
    spool.close()


def test_seq_continues_across_reopen_even_when_emptied(tmp_path):
    path = tmp_path / "s.sqlite"
    spool = Spool(path)
    for i in range(1, 6):
        spool.append("EQ-1", reading(i))
    spool.flush()
    spool.acknowledge(spool.batch(3), 3)
    spool.close()
    spool = Spool(path)
    assert (spool.count, spool.last_seq, spool.acked) == (2, 5, 3)
    spool.acknowledge(spool.batch(10), 5)
    spool.set_aside([], "nothing")
    spool.close()
    spool = Spool(path)  # empty now: the number still continues from 5
    assert spool.count == 0
    assert spool.append("EQ-1", reading(6)) == 6
    spool.close()
    state = status(path)
    assert state["meta"]["last_seq"] == "6" and state["meta"]["acked"] == "5"
    assert state["ports"]["EQ-1"]["acked"] == 5 and state["ports"]["EQ-1"]["spooled"] == 1


def test_an_uncommitted_number_is_reused_without_a_gap(tmp_path):
    path = tmp_path / "s.sqlite"
    spool = Spool(path, commit_every=3600)
    spool.append("EQ-1", reading(1))
    spool.flush()
    spool.append("EQ-1", reading(2))  # never committed: as if killed here
    spool._db.execute("ROLLBACK")
    spool._in_tx = False
    spool._read.close()
    spool._db.close()
    again = Spool(path)
    assert again.append("EQ-1", reading(2)) == 2
    again.close()


def test_quarantine_keeps_the_refused_batch_and_its_numbers(tmp_path):
    path = tmp_path / "s.sqlite"
    spool = Spool(path)
    for i in range(1, 4):
        spool.append("EQ-1", reading(i))
    spool.flush()
    spool.set_aside(spool.batch(2), "readings[0].read_at: bad")
    assert [r.seq for r in spool.batch(10)] == [3]
    spool.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT seq, reason FROM quarantine ORDER BY seq").fetchall() == [
            (1, "readings[0].read_at: bad"), (2, "readings[0].read_at: bad")]
        db.execute("DELETE FROM readings")
        db.execute("DELETE FROM meta")
    assert Spool(path).last_seq == 2  # quarantined numbers are never handed out again


def test_a_full_spool_blocks_the_reader_and_never_drops(tmp_path, caplog):
    spool = Spool(tmp_path / "s.sqlite", max_rows=5).start()
    for i in range(1, 5):
        spool.append("EQ-1", reading(i))
    assert "80% full" in caplog.text
    spool.append("EQ-1", reading(5))
    done: list[int] = []
    blocked = threading.Thread(target=lambda: done.append(spool.append("EQ-1", reading(6))))
    blocked.start()
    time.sleep(0.3)
    assert done == [] and blocked.is_alive()  # waiting for room, not dropping
    assert "FULL" in caplog.text
    assert status(tmp_path / "s.sqlite")["ports"]["EQ-1"]["state"] == "spool full"
    spool.acknowledge(spool.batch(2), 2)
    blocked.join(timeout=3)
    assert done == [6]
    spool.flush()
    assert [r.seq for r in spool.batch(10)] == [3, 4, 5, 6]
    # a reader still waiting when the agent stops is told so
    spool.append("EQ-1", reading(7))
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            spool.append("EQ-1", reading(8))
        except SpoolFull as exc:
            errors.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.2)
    spool.stopping()
    waiter.join(timeout=3)
    assert len(errors) == 1
    spool.close()
    with pytest.raises(sqlite3.ProgrammingError):
        spool.batch(1)


def test_a_batch_is_numbered_in_order_and_waits_for_room_without_dropping(tmp_path):
    spool = Spool(tmp_path / "s.sqlite", max_rows=5).start()
    assert spool.append_many("EQ-1", [reading(i) for i in range(1, 4)]) == 3
    done: list[int] = []
    blocked = threading.Thread(
        target=lambda: done.append(spool.append_many("EQ-1", [reading(i) for i in range(4, 8)])))
    blocked.start()
    time.sleep(0.3)
    assert done == [] and blocked.is_alive()  # two fitted, two wait for room
    spool.flush()
    assert [r.value for r in spool.batch(10)] == ["1.00", "2.00", "3.00", "4.00", "5.00"]
    spool.acknowledge(spool.batch(2), 2)
    blocked.join(timeout=3)
    assert done == [7]
    spool.flush()
    assert [(r.seq, r.value) for r in spool.batch(10)] == [
        (3, "3.00"), (4, "4.00"), (5, "5.00"), (6, "6.00"), (7, "7.00")]
    assert status(tmp_path / "s.sqlite")["ports"]["EQ-1"]["last_read_at"].startswith(
        "2026-11-27T01:00:07")
    spool.close()
