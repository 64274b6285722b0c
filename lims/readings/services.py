"""Bench capture agents and the readings they upload: registration, tokens, ingestion, paging.

An agent authenticates with its own bearer token (``lims_agent_…``, only the SHA-256 is
stored, as for users' API tokens) and may do one thing: post readings of the instruments it
was registered for (:data:`AGENT_ENDPOINTS`); everything else answers 403.

Ingestion is idempotent: a reading is identified by its agent and the agent's sequence number,
and the database's unique constraint on (agent_id, seq) - not a look-up before the insert -
keeps it stored once however often, and however concurrently, a batch is replayed. The batch
is validated whole before anything is written, and stored in the caller's one transaction.

No audit event is written per reading or per batch: readings are themselves append-only
records (triggers refuse UPDATE and DELETE) that carry who sent them (agent, seq) and when they
arrived (``received_at``); the audit trail records who registered and revoked the agents
(ISO/IEC 17025 7.5.1, 7.11.3). An audit event per reading would double the hot path's writes
and serialise every bench on the audit chain's head.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import Select, func, inspect, or_, select, text
from sqlalchemy.orm import Session

from lims.audit.services import record
from lims.auth.models import User
from lims.auth.services import require
from lims.db import utcnow
from lims.errors import Conflict, InvalidInput, NotFound, PermissionDenied, msg
from lims.instruments.models import Instrument
from lims.instruments.services import find_instrument
from lims.readings.models import Agent, AgentInstrument, Reading

AGENT_TOKEN_PREFIX = "lims_agent_"  # noqa: S105 - the prefix that tells agent tokens apart
# The only endpoints an agent token may call (lims.web.auth answers 403 to any other).
AGENT_ENDPOINTS = frozenset({"readings_api.ingest"})
MAX_BATCH = 1000       # readings per POST; the agent sends more in several batches
MAX_RAW = 4096         # bytes of one reading's raw frame (a SICS or SCPI line is < 100)
MAX_SEQ = 2**63 - 1    # PostgreSQL's BIGINT
STATUSES = ("ok", "overload", "underload", "error", "offline")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_agent_token(token: str) -> bool:
    return token.startswith(AGENT_TOKEN_PREFIX)


def agent_for_token(session: Session, token: str) -> Agent | None:
    """The agent of a token, or None if the token is unknown or revoked."""
    agent = session.scalar(select(Agent).where(Agent.token_hash == _token_hash(token)))
    if agent is None or agent.revoked_at is not None:
        return None
    return agent


# --- administration ---------------------------------------------------------------------------

def _owned_instruments(session: Session, assets: Sequence[str]) -> list[Instrument]:
    wanted = [a.strip() for a in assets if a and a.strip()]
    if not wanted:
        raise InvalidInput(msg("name at least one instrument the agent reads"),
                           field="instruments")
    found = {i.asset_number: i for i in session.scalars(
        select(Instrument).where(Instrument.asset_number.in_(wanted)))}
    for asset in wanted:
        instrument = found.get(asset)
        if instrument is None:
            raise InvalidInput(msg("no instrument %(asset)s", asset=asset), field="instruments")
        if instrument.retired_at is not None:
            raise InvalidInput(msg("instrument %(asset)s is retired", asset=asset),
                               field="instruments")
    return [found[a] for a in dict.fromkeys(wanted)]


def register_agent(session: Session, *, actor: User | None, name: str,
                   assets: Sequence[str]) -> tuple[Agent, str]:
    """Register an agent for its instruments; return it and its token (clear text, once).

    :raises PermissionDenied: not an administrator. :raises InvalidInput: a bad name, an
        unknown or retired instrument. :raises Conflict: the name is taken, or an instrument
        is already read by another agent that is not revoked (two agents reading one
        instrument would store two streams for it).
    """
    admin = require(actor, "agent.manage")
    name = (name or "").strip()
    if not NAME.match(name):
        raise InvalidInput(msg("an agent's name is 1 to 60 letters, digits, '.', '_' or '-', "
                               "starting with a letter or digit"), field="name")
    if session.scalar(select(Agent.id).where(Agent.name == name)) is not None:
        raise Conflict(msg("there is already an agent %(name)s", name=name), field="name")
    instruments = _owned_instruments(session, assets)
    taken = session.execute(
        select(Instrument.asset_number, Agent.name).join(
            AgentInstrument, AgentInstrument.instrument_id == Instrument.id).join(
            Agent, Agent.id == AgentInstrument.agent_id).where(
            Agent.revoked_at.is_(None), Instrument.id.in_([i.id for i in instruments]))).first()
    if taken is not None:
        raise Conflict(msg("instrument %(asset)s is already read by agent %(agent)s; revoke "
                           "it first", asset=taken[0], agent=taken[1]), field="instruments")
    token = AGENT_TOKEN_PREFIX + secrets.token_urlsafe(32)
    agent = Agent(name=name, token_hash=_token_hash(token), created_by_id=admin.id)
    agent.instruments = instruments
    session.add(agent)
    session.flush()
    record(session, actor=admin, action="agent.register", entity_type="agents",
           entity_id=agent.id, after={"name": name,
                                      "instruments": [i.asset_number for i in instruments]})
    return agent, token


def list_agents(session: Session, *, actor: User | None) -> list[Agent]:
    require(actor, "agent.manage")
    return list(session.scalars(select(Agent).order_by(Agent.name)))


def revoke_agent(session: Session, *, actor: User | None, name: str) -> Agent:
    """Revoke an agent's token at once; its stored readings stay.

    :raises NotFound:
    """
    admin = require(actor, "agent.manage")
    agent = session.scalar(select(Agent).where(Agent.name == (name or "").strip()))
    if agent is None:
        raise NotFound(msg("no agent %(name)s", name=name), field="name")
    if agent.revoked_at is None:
        agent.revoked_at, agent.revoked_by_id = utcnow(), admin.id
        record(session, actor=admin, action="agent.revoke", entity_type="agents",
               entity_id=agent.id, after={"name": agent.name})
    return agent


@dataclasses.dataclass(frozen=True)
class LastReading:
    seq: int
    received_at: dt.datetime


def last_reading(session: Session, agent: Agent) -> LastReading | None:
    """The agent's highest sequence number stored and when it arrived (the unique index on
    (agent_id, seq) answers it without touching other rows)."""
    row = session.execute(select(Reading.seq, Reading.received_at)
                          .where(Reading.agent_id == agent.id)
                          .order_by(Reading.seq.desc()).limit(1)).first()
    return LastReading(seq=row[0], received_at=row[1]) if row else None


# --- ingestion ----------------------------------------------------------------------------------

class IncomingReading(Protocol):
    """A reading of a batch, its shape already checked: the API's validated model
    (:class:`lims.readings.api_models.ReadingIn`, passed as it is: copying 500 readings into
    other objects cost a tenth of the request, make bench) or a :class:`NewReading`."""

    @property
    def seq(self) -> int: ...
    @property
    def asset(self) -> str: ...
    @property
    def read_at(self) -> dt.datetime: ...
    @property
    def value(self) -> str | None: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def stable(self) -> bool | None: ...
    @property
    def status(self) -> str: ...
    @property
    def error(self) -> str | None: ...
    @property
    def raw(self) -> bytes: ...


@dataclasses.dataclass(frozen=True)
class NewReading:
    """A reading of a batch built in code (tests, tools), as :class:`IncomingReading`."""

    seq: int
    asset: str
    read_at: dt.datetime
    value: str | None
    unit: str | None
    stable: bool | None
    status: str
    error: str | None
    raw: bytes


@dataclasses.dataclass(frozen=True)
class Acknowledgement:
    acknowledged: int  # the highest seq of the batch
    stored: int        # new this time
    duplicates: int    # stored before (a replay, an overlap)


def check_batch_size(count: int) -> None:
    """:raises InvalidInput: (``readings``) an empty batch or one over :data:`MAX_BATCH`."""
    if count == 0:
        raise InvalidInput(msg("a batch holds at least one reading"), field="readings")
    if count > MAX_BATCH:
        raise InvalidInput(msg("a batch holds at most %(max)s readings, not %(n)s: send them "
                               "in several batches", max=MAX_BATCH, n=count), field="readings")


def ingest(session: Session, *, agent: Agent, readings: Sequence[IncomingReading],
           received_at: dt.datetime | None = None) -> Acknowledgement:
    """Store a batch of readings once each; flush, never commit (the caller's one transaction).

    Everything is checked before anything is written: a bad reading refuses the whole batch
    with its index named. Readings already stored under (agent, seq) are skipped by the
    database (``ON CONFLICT DO NOTHING``), so a replayed or overlapping batch is acknowledged
    and stores nothing twice.

    :raises InvalidInput: empty or too large a batch, a seq twice in it, an ``ok`` reading
        without a value. :raises PermissionDenied: a reading of an instrument that is not the
        agent's (``readings[i].asset``).
    """
    check_batch_size(len(readings))
    # The agent as it stands in this transaction (revoked since the request was
    # authenticated?) and its instruments, in one statement of columns: the agent object,
    # expired by the caller's fresh write transaction, is not reloaded (make bench).
    identity = inspect(agent).identity
    agent_id = identity[0] if identity else agent.id
    found = session.execute(
        select(Agent.name, Agent.revoked_at, Instrument.asset_number, Instrument.id)
        .select_from(Agent)
        .outerjoin(AgentInstrument, AgentInstrument.agent_id == Agent.id)
        .outerjoin(Instrument, Instrument.id == AgentInstrument.instrument_id)
        .where(Agent.id == agent_id)).all()
    if not found or found[0].revoked_at is not None:
        raise PermissionDenied(msg("agent %(name)s is revoked",
                                   name=found[0].name if found else agent_id))
    name = found[0].name
    owned: dict[str, int] = {r.asset_number: r.id for r in found if r.asset_number is not None}
    seen: dict[int, int] = {}
    for index, r in enumerate(readings):
        if r.asset not in owned:
            raise PermissionDenied(msg("agent %(agent)s does not read instrument %(asset)s",
                                       agent=name, asset=r.asset),
                                   field=f"readings[{index}].asset")
        if r.seq in seen:
            raise InvalidInput(msg("seq %(seq)s is also readings[%(other)s]'s", seq=r.seq,
                                   other=seen[r.seq]), field=f"readings[{index}].seq")
        seen[r.seq] = index
        if r.status == "ok" and r.value is None:
            raise InvalidInput(msg("an ok reading needs its value"),
                               field=f"readings[{index}].value")
    dialect = session.get_bind().dialect.name
    at = received_at or utcnow()
    # Inserted in seq order, so that two transactions posting overlapping batches take the
    # unique index's row locks in the same order and wait for each other instead of
    # deadlocking (PostgreSQL).
    ordered = sorted(readings, key=lambda r: r.seq)
    if dialect == "postgresql":
        stored = _insert_postgresql(session, agent_id, ordered, owned, at)
    else:
        received = _sqlite_time(at)
        rows = [(agent_id, r.seq, owned[r.asset], _sqlite_time(r.read_at), received, r.value,
                 r.unit, r.stable, r.status, r.error, r.raw) for r in ordered]
        # The driver's executemany sums the rows each insert changed: a conflict changes none.
        stored = session.connection().exec_driver_sql(_INSERT_SQLITE, rows).rowcount
    return Acknowledgement(acknowledged=max(seen), stored=stored,
                           duplicates=len(ordered) - stored)


def _sqlite_time(value: dt.datetime) -> str:
    """A UTC time as SQLAlchemy's SQLite DATETIME stores it (always with microseconds, so
    that the text sorts and compares as the time does)."""
    if value.tzinfo is not dt.UTC:  # the API's validator already gives UTC: spare a copy
        value = value.astimezone(dt.UTC)
    # "YYYY-MM-DD HH:MM:SS.ffffff" and the offset "+00:00" cut off (the year has 4 digits).
    return value.isoformat(" ", "microseconds")[:26]


# SQLite: the driver's executemany of a prepared INSERT … ON CONFLICT DO NOTHING, the rows
# already in the form the driver takes (UTC times as text, as lims.db.UTCDateTime stores
# them): SQLAlchemy's per-value bind processing and multi-row VALUES cost as much as SQLite's
# own work (make bench).
_INSERT_SQLITE = (
    "INSERT INTO readings (agent_id, seq, instrument_id, read_at, received_at, value, unit, "
    "stable, status, error, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (agent_id, seq) DO NOTHING")

# PostgreSQL: the batch as one array per column, unnested into rows by the server: one short
# statement with 11 parameters instead of a VALUES list of 5,500, which psycopg would parse
# anew for each batch (make bench: a third of the request's time).
_INSERT_POSTGRESQL = text("""
    INSERT INTO readings (agent_id, seq, instrument_id, read_at, received_at, value, unit,
                          stable, status, error, raw)
    SELECT CAST(:agent_id AS integer), r.seq, r.instrument_id, r.read_at,
           CAST(:received_at AS timestamptz), r.value, r.unit, r.stable, r.status, r.error,
           r.raw
    FROM unnest(
        CAST(:seq AS bigint[]), CAST(:instrument_id AS integer[]),
        CAST(:read_at AS timestamptz[]), CAST(:value AS text[]), CAST(:unit AS text[]),
        CAST(:stable AS boolean[]), CAST(:status AS text[]), CAST(:error AS text[]), CAST(:raw AS bytea[]))
        AS r(seq, instrument_id, read_at, value, unit, stable, status, error, raw)
    ON CONFLICT (agent_id, seq) DO NOTHING
    RETURNING seq""")


def _insert_postgresql(session: Session, agent_id: int, readings: Sequence[IncomingReading],
                       owned: dict[str, int], at: dt.datetime) -> int:
    params = {"agent_id": agent_id, "seq": [r.seq for r in readings],
              "instrument_id": [owned[r.asset] for r in readings],
              "read_at": [r.read_at for r in readings], "received_at": at,
              "value": [r.value for r in readings], "unit": [r.unit for r in readings],
              "stable": [r.stable for r in readings], "status": [r.status for r in readings],
              "error": [r.error for r in readings], "raw": [r.raw for r in readings]}
    return len(session.execute(_INSERT_POSTGRESQL, params).all())


# --- reading them back -----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ReadingsPage:
    items: list[tuple[Reading, str]]  # the reading and its agent's name
    total: int
    limit: int
    next: str | None


def parse_instant(text: str | None, field: str) -> dt.datetime | None:
    """An ISO 8601 time with its offset, as UTC; None for nothing.

    :raises InvalidInput: naming ``field``.
    """
    if text is None or not text.strip():
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(msg("must be an ISO 8601 time with its UTC offset, e.g. "
                               "2026-11-27T01:02:03+00:00"), field=field) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(msg("must carry its UTC offset (+00:00 or Z)"), field=field)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise InvalidInput(msg("must be a time between 1970 and 2999"), field=field) from None


def _cursor(reading: Reading) -> str:
    text = f"{reading.read_at.isoformat()}|{reading.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _after(cursor: str) -> tuple[dt.datetime, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, ident = text.partition("|")
        value = dt.datetime.fromisoformat(at)
        if value.tzinfo is None:
            raise ValueError(at)
        number = int(ident)
        if not 0 < number <= MAX_SEQ:
            raise ValueError(ident)
        return value.astimezone(dt.UTC), number
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        raise InvalidInput(msg("not a cursor this list gave"), field="cursor") from None


def readings_page(session: Session, *, asset: str, since: dt.datetime | None, limit: int,
                  cursor: str | None = None) -> ReadingsPage:
    """One page of an instrument's readings in read order (then storage order), from
    ``since``; ``cursor`` continues after the page that gave it (keyset paging: page 10,000
    of ten years of readings costs what page 1 does, unlike an offset).

    :raises NotFound: no such instrument. :raises InvalidInput: a cursor not from this list.
    """
    instrument = find_instrument(session, asset)
    query: Select[Reading, str] = select(Reading, Agent.name).join(Agent, Agent.id == Reading.agent_id) \
        .where(Reading.instrument_id == instrument.id)
    counted = select(func.count()).select_from(Reading).where(
        Reading.instrument_id == instrument.id)
    if since is not None:
        query = query.where(Reading.read_at >= since)
        counted = counted.where(Reading.read_at >= since)
    if cursor:
        at, ident = _after(cursor)
        query = query.where(Reading.read_at >= at,
                            or_(Reading.read_at > at, Reading.id > ident))
    rows = session.execute(query.order_by(Reading.read_at, Reading.id).limit(limit + 1)).all()
    items = [(r[0], r[1]) for r in rows[:limit]]
    more = len(rows) > limit
    return ReadingsPage(items=items, total=session.scalar(counted) or 0, limit=limit,
                        next=_cursor(items[-1][0]) if more and items else None)

