"""Database plumbing: the model base, UTC timestamps, engines and the unit of work.

The edge (a request, a job run, a CLI command) owns the transaction through
:func:`unit_of_work`; services take a session, flush, and never commit.
"""

from __future__ import annotations

import datetime as dt
import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, inspect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.types import TypeDecorator

from lims.errors import ReadOnly, StorageFull, Unavailable, msg

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Store aware datetimes as UTC and give them back aware.

    SQLite drops the zone of ``DateTime(timezone=True)``; naive values are refused on the way in
    so that no local time is ever stored by mistake.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store UTC-aware datetimes only")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Model(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the per-dialect settings the LIMS relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks savepoints; take it over
    # (SQLAlchemy docs, "Serializable isolation / Savepoints / Transactional DDL").
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    # A write transaction takes the write lock up front (BEGIN IMMEDIATE). A deferred
    # transaction that reads and then writes fails with SQLITE_BUSY_SNAPSHOT when another
    # writer committed in between, which would make gapless numbering and the audit chain
    # fail under concurrent registration.
    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("lims_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine)


@contextmanager
def unit_of_work(session: Session) -> Iterator[Session]:
    """Run a block as one write transaction: commit on success, roll back on any error.

    Objects given to :func:`keep_loaded` (the request's user) keep what was loaded of them
    through the read-only transaction's end and the commit, instead of being expired and read
    again (issue 14: the user, roles and scopes were loaded twice per write request).
    """
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("unit_of_work entered with unflushed changes pending")
        # A read-only transaction (authentication, say) is open; end it so the write
        # transaction starts with the write lock and sees the latest committed state.
        kept = _loaded(session)
        session.rollback()
        _restore(kept)
    session.connection(execution_options={"lims_write": True})
    try:
        yield session
        session.flush()
    except BaseException:
        session.rollback()  # what the block changed is gone: the kept objects expire too
        raise
    kept = _loaded(session)  # flushed, so what is loaded is what the commit makes durable
    session.commit()
    _restore(kept)


_KEEP = "lims_keep_loaded"


def keep_loaded(session: Session, *objects: object) -> None:
    """Keep these objects (and the objects in their loaded relationships) loaded across the
    transactions :func:`unit_of_work` ends, for as long as ``session`` lives.

    For the principal of a request: who it authenticated as at its start is who it acts as
    (a web request always has), so reading the user, roles and scopes again in the write
    transaction and after its commit bought nothing but statements. Anything else read in the
    read-only transaction still expires, so the write transaction reads it afresh.
    """
    session.info[_KEEP] = objects


_Saved = list[tuple[Any, dict[str, Any]]]


def _loaded(session: Session) -> _Saved:
    saved: _Saved = []
    for obj in session.info.get(_KEEP, ()):
        for item in [obj, *_related(obj)]:
            state = inspect(item)
            if state.persistent:  # state.dict holds only what is loaded
                values = {key: state.dict[key] for key in state.mapper.attrs.keys()
                          if key in state.dict}
                saved.append((item, {k: list(v) if isinstance(v, list) else v
                                      for k, v in values.items()}))
    return saved


def _related(obj: object) -> list[object]:
    state = inspect(obj)
    found: list[object] = []
    for rel in state.mapper.relationships:
        value = state.dict.get(rel.key)
        if isinstance(value, list):
            found.extend(value)
        elif value is not None:
            found.append(value)
    return found


def _restore(saved: _Saved) -> None:
    for obj, values in saved:
        if inspect(obj).persistent:  # not deleted by the transaction
            for key, value in values.items():
                set_committed_value(obj, key, value)


# --- a database or disk that refuses writes -------------------------------------------------

# SQLite primary result codes (sqlite.org/rescode.html); an extended code keeps its primary
# code in the low byte (SQLITE_READONLY_DBMOVED = 8 | 4 << 8).
_SQLITE_READONLY, _SQLITE_FULL, _SQLITE_CANTOPEN = 8, 13, 14
# PostgreSQL SQLSTATEs: read_only_sql_transaction (default_transaction_read_only, a hot
# standby, SET TRANSACTION READ ONLY) and disk_full.
_PG_READ_ONLY, _PG_DISK_FULL = "25006", "53100"

READ_ONLY_MESSAGE = msg("the database is read-only: nothing can be saved until an administrator "
                        "makes it writable again (reading still works)")
FULL_MESSAGE = msg("the disk under the database is full: nothing can be saved until space is "
                   "freed (reading still works)")


def storage_error(exc: BaseException) -> Unavailable | None:
    """Say what is wrong when the database (or the instance folder) cannot take a write.

    Returns a :class:`lims.errors.ReadOnly`, :class:`~lims.errors.StorageFull` or
    :class:`~lims.errors.Unavailable` for the driver errors that mean so (SQLite's
    SQLITE_READONLY, SQLITE_FULL and SQLITE_CANTOPEN; PostgreSQL's read-only transaction and
    disk full; a read-only or full file system), looking through SQLAlchemy's wrapper and the
    exception's causes, and None for anything else.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _classify(current) or _classify(getattr(current, "orig", None))
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _classify(exc: object) -> Unavailable | None:
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        if code == _SQLITE_READONLY:
            return ReadOnly(READ_ONLY_MESSAGE)
        if code == _SQLITE_FULL:
            return StorageFull(FULL_MESSAGE)
        if code == _SQLITE_CANTOPEN:
            return Unavailable(msg("the database file cannot be opened: its folder may be "
                                   "read-only, missing or full"))
        return None
    sqlstate = getattr(exc, "sqlstate", None)  # psycopg's errors carry it
    if sqlstate == _PG_READ_ONLY:
        return ReadOnly(READ_ONLY_MESSAGE)
    if sqlstate == _PG_DISK_FULL:
        return StorageFull(FULL_MESSAGE)
    if isinstance(exc, OSError):
        if exc.errno == errno.EROFS:
            return ReadOnly(msg("the file system is read-only: cannot write %(file)s",
                                file=exc.filename) if exc.filename else
                            msg("the file system is read-only: cannot write a file"))
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return StorageFull(msg("the disk is full: cannot write %(file)s", file=exc.filename)
                               if exc.filename else msg("the disk is full: cannot write a file"))
    return None
