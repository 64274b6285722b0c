"""The durable spool: every reading is numbered and committed here before it goes anywhere.

SQLite in WAL mode with ``synchronous=FULL``: a committed reading survives ``kill -9`` of the
agent and a power cut of the bench PC. Readings are appended inside an open transaction that
a committer thread commits every few milliseconds (or every ``commit_rows`` readings), so one
fsync carries many readings and throughput stays at line rate. The uploader only ever sees
committed rows (its own connection), so nothing leaves the PC that the spool could forget.

Sequence numbers (the idempotency key with the server, issue 12 §2) never repeat: ``last_seq``
is written in the same transaction as the readings it numbers, so after a restart the agent
continues from the highest number it ever committed, even once the uploaded rows are deleted.
A number handed out but lost with an uncommitted transaction was never seen by anyone, so it
is reused without a gap. Deleting requires the server's acknowledgement (``acknowledge``).

The spool is bounded (``max_rows``): at 80 % it warns, when full ``append`` blocks the
instrument's reader (the port is not read: the instrument's own buffer or the technician
sees it) and says so; it never drops a reading.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers.reading import Reading

log = logging.getLogger(__name__)

WARN_AT = 0.8
SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    seq INTEGER PRIMARY KEY, asset TEXT NOT NULL, read_at TEXT NOT NULL, value TEXT,
    unit TEXT, stable INTEGER, status TEXT NOT NULL, error TEXT, raw BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS quarantine (
    seq INTEGER PRIMARY KEY, asset TEXT NOT NULL, read_at TEXT NOT NULL, value TEXT,
    unit TEXT, stable INTEGER, status TEXT NOT NULL, error TEXT, raw BLOB NOT NULL,
    reason TEXT NOT NULL, set_aside_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS ports (
    asset TEXT PRIMARY KEY, connected INTEGER NOT NULL DEFAULT 0, state TEXT, message TEXT,
    last_read_at TEXT, acked INTEGER);
"""
INSERT = ("INSERT INTO readings (seq, asset, read_at, value, unit, stable, status, error, raw) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
OLDEST = ("SELECT seq, asset, read_at, value, unit, stable, status, error, raw FROM readings "
          "ORDER BY seq LIMIT ?")
SET_ASIDE = ("INSERT OR REPLACE INTO quarantine (seq, asset, read_at, value, unit, stable, "
             "status, error, raw, reason, set_aside_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


@dataclass(frozen=True)
class Spooled:
    seq: int
    asset: str
    read_at: str
    value: str | None
    unit: str | None
    stable: bool | None
    status: str
    error: str | None
    raw: bytes


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # a commit is on the disk when it returns
    return conn


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class SpoolFull(Exception):
    """Raised by :meth:`Spool.append` when it was stopped while waiting for room."""


class Spool:
    def __init__(self, path: str | os.PathLike[str], *, max_rows: int = 1_000_000,
                 commit_every: float = 0.02, commit_rows: int = 500) -> None:
        self.path = Path(path)
        self.max_rows = max_rows
        self.commit_every, self.commit_rows = commit_every, commit_rows
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = connect(self.path)
        self._db.executescript(SCHEMA)
        self._read = connect(self.path)
        self._lock = threading.Condition()
        self._pending = 0
        self._in_tx = False
        self._stopped = False
        self._warned = False
        self.count = self._db.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
        self.last_seq = max(
            self._meta_int("last_seq"),
            self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM readings").fetchone()[0],
            self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM quarantine").fetchone()[0])
        self.acked = self._meta_int("acked")
        self._committer: threading.Thread | None = None

    # -- meta ------------------------------------------------------------------------------------
    def _meta_int(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row and row[0] else 0

    def _set_meta(self, key: str, value: object) -> None:
        self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                         "DO UPDATE SET value = excluded.value", (key, str(value)))

    def _begin(self) -> None:
        if not self._in_tx:
            self._db.execute("BEGIN IMMEDIATE")
            self._in_tx = True

    def _commit(self) -> None:
        if self._in_tx:
            self._set_meta("last_seq", self.last_seq)
            self._db.execute("COMMIT")
            self._in_tx = False
            self._pending = 0
            self._lock.notify_all()

    # -- the readers' side ----------------------------------------------------------------------
    def append(self, asset: str, reading: Reading) -> int:
        """Number ``reading`` and add it to the spool's open transaction; return its seq.

        Blocks while the spool is full (never drops).

        :raises SpoolFull: the spool was closed while waiting for room.
        """
        return self.append_many(asset, [reading])

    def append_many(self, asset: str, readings: Sequence[Reading]) -> int:
        """Number ``readings`` in order and add them to the open transaction; return the last
        seq. One statement for the lot: a streaming port hands over a read's lines at once.

        Blocks while the spool is full (never drops): what fits goes in, the rest waits.

        :raises SpoolFull: the spool was closed while waiting for room.
        """
        done = 0
        seq: int = self.last_seq
        while done < len(readings):
            with self._lock:
                if self.count >= self.max_rows:
                    log.error("spool %s is FULL (%s readings): not reading %s until the server "
                              "takes readings", self.path, self.count, asset)
                    self._state(asset, "spool full")
                    self._commit()
                    while self.count >= self.max_rows and not self._stopped:
                        self._lock.wait(0.5)
                    if self._stopped:
                        raise SpoolFull(asset)
                    self._state(asset, None)
                part = readings[done:done + self.max_rows - self.count]
                self._begin()
                first = self.last_seq + 1
                rows = [(first + i, asset, r.at.astimezone(dt.UTC).isoformat(), r.value, r.unit,
                         r.stable, r.status, r.message[:500] if r.message else None, r.raw)
                        for i, r in enumerate(part)]
                self._db.executemany(INSERT, rows)
                self.last_seq = seq = first + len(part) - 1
                self._db.execute("INSERT INTO ports (asset, connected, last_read_at) VALUES "
                                 "(?, 1, ?) ON CONFLICT (asset) DO UPDATE SET connected = 1, "
                                 "last_read_at = excluded.last_read_at", (asset, rows[-1][2]))
                self.count += len(part)
                self._pending += len(part)
                done += len(part)
                if self.count >= WARN_AT * self.max_rows and not self._warned:
                    self._warned = True
                    log.warning("spool %s is %d%% full (%s of %s readings): is the server "
                                "reachable?", self.path, 100 * self.count // self.max_rows,
                                self.count, self.max_rows)
                if self._pending >= self.commit_rows:
                    self._commit()
        return seq

    def _state(self, asset: str, state: str | None, message: str | None = None) -> None:
        self._begin()
        self._db.execute("INSERT INTO ports (asset, state, message) VALUES (?, ?, ?) "
                         "ON CONFLICT (asset) DO UPDATE SET state = excluded.state, "
                         "message = excluded.message", (asset, state, message))

    def port_state(self, asset: str, *, connected: bool, state: str | None = None,
                   message: str | None = None) -> None:
        """Record what ``lims agent status`` shows for an instrument (committed at once)."""
        with self._lock:
            self._begin()
            self._db.execute(
                "INSERT INTO ports (asset, connected, state, message) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (asset) DO UPDATE SET connected = excluded.connected, "
                "state = excluded.state, message = excluded.message",
                (asset, int(connected), state, message))
            self._commit()

    def set_meta(self, **values: object) -> None:
        with self._lock:
            self._begin()
            for key, value in values.items():
                self._set_meta(key, value)
            self._commit()

    def flush(self) -> None:
        """Commit what was appended: from here on it survives any crash."""
        with self._lock:
            self._commit()

    def start(self) -> Spool:
        self._committer = threading.Thread(target=self._commit_loop, name="spool-commit",
                                           daemon=True)
        self._committer.start()
        return self

    def _commit_loop(self) -> None:
        while True:
            with self._lock:
                if self._stopped:
                    return
                self._lock.wait(self.commit_every)
                self._commit()

    # -- the uploader's side ----------------------------------------------------------------------
    def batch(self, limit: int) -> list[Spooled]:
        """The oldest committed readings, at most ``limit`` (read on the uploader's connection)."""
        rows = self._read.execute(OLDEST, (limit,)).fetchall()
        return [Spooled(seq, asset, read_at, value, unit, None if stable is None else
                        bool(stable), status, error, bytes(raw))
                for seq, asset, read_at, value, unit, stable, status, error, raw in rows]

    def acknowledge(self, batch: list[Spooled], acked: int) -> None:
        """The server stored ``batch``: delete it and remember the acknowledged seq."""
        with self._lock:
            self._begin()
            self._delete(batch)
            self.acked = max(self.acked, acked)
            self._set_meta("acked", self.acked)
            for asset in {r.asset for r in batch}:
                top = max(r.seq for r in batch if r.asset == asset)
                self._db.execute("INSERT INTO ports (asset, acked) VALUES (?, ?) ON CONFLICT "
                                 "(asset) DO UPDATE SET acked = MAX(COALESCE(acked, 0), ?)",
                                 (asset, top, top))
            self._commit()

    def set_aside(self, batch: list[Spooled], reason: str) -> None:
        """Move a batch the server refused as malformed to ``quarantine`` (kept, not retried)."""
        with self._lock:
            self._begin()
            at = now_iso()
            self._db.executemany(
                SET_ASIDE,
                [(r.seq, r.asset, r.read_at, r.value, r.unit, r.stable, r.status, r.error,
                  r.raw, reason, at) for r in batch])
            self._delete(batch)
            self._commit()

    def _delete(self, batch: list[Spooled]) -> None:
        self._db.executemany("DELETE FROM readings WHERE seq = ?", [(r.seq,) for r in batch])
        self.count -= len(batch)
        if self.count < WARN_AT * self.max_rows:
            self._warned = False

    def stopping(self) -> None:
        """The agent is stopping: a reader waiting for room in a full spool gives up."""
        with self._lock:
            self._stopped = True
            self._lock.notify_all()

    def close(self) -> None:
        with self._lock:
            self._stopped = True
            self._commit()
            self._lock.notify_all()
        if self._committer is not None:
            self._committer.join(timeout=5)
        self._read.close()
        self._db.close()


@contextmanager
def opened(path: Path) -> Iterator[sqlite3.Connection]:
    conn = connect(path)
    try:
        yield conn
    finally:
        conn.close()


def status(path: Path) -> dict[str, Any]:
    """What a running (or stopped) agent left in its spool, read from another process."""
    with opened(path) as db:
        db.executescript(SCHEMA)
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        counts = dict(db.execute("SELECT asset, COUNT(*) FROM readings GROUP BY asset"))
        set_aside = db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0]
        ports = {asset: {"connected": bool(connected), "state": state, "message": message,
                         "last_read_at": last, "acked": acked, "spooled": counts.get(asset, 0)}
                 for asset, connected, state, message, last, acked in db.execute(
                     "SELECT asset, connected, state, message, last_read_at, acked FROM ports")}
    return {"meta": meta, "ports": ports, "quarantined": set_aside,
            "spooled": sum(counts.values())}
