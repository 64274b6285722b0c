"""Bench capture agents and the readings they upload (issue 12 §2).

A reading is raw instrument data: it is stored once, as sent (the digits as text, the unit as
written, the bytes as received), and never updated or deleted by the application
(ARCHITECTURE.md "Records that must never be rewritten"; ISO/IEC 17025 7.5.1, 7.11.3). The
migration adds triggers that refuse UPDATE and DELETE on ``readings``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.db import Model, utcnow
from lims.instruments.models import Instrument

# SQLite makes only an INTEGER PRIMARY KEY an alias of its rowid (autoincrementing); on
# PostgreSQL a BIGINT: ~30 benches x 10 readings/s is ~10^10 rows a year, past INTEGER's 2^31.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Agent(Model):
    """A bench capture agent; it authenticates with a bearer token of which only the SHA-256
    is stored, and may ingest readings for its own instruments only."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[dt.datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    instruments: Mapped[list[Instrument]] = relationship(
        secondary="agent_instruments", order_by="Instrument.asset_number")


class AgentInstrument(Model):
    """An instrument an agent reads (and may upload readings for)."""

    __tablename__ = "agent_instruments"

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"), primary_key=True,
                                               index=True)


class Reading(Model):
    """One reading as the agent spooled it: its agent and per-agent sequence number make it
    unique, so a replayed upload cannot store it twice (the database enforces it)."""

    __tablename__ = "readings"
    __table_args__ = (
        UniqueConstraint("agent_id", "seq", name="uq_readings_agent_id_seq"),
        # The readings of one instrument over a time range, in read order (the paging API,
        # the live value): a btree on (instrument_id, read_at) answers it as one index range
        # scan, already sorted. A BRIN on received_at would be tiny, but readings of ~30
        # instruments interleave in the heap, so each of its block ranges holds every
        # instrument's rows and a per-instrument query would read ~30x the pages it needs;
        # and an agent that uploads a backlog after an outage breaks the correlation of
        # read_at with the heap order that BRIN relies on. Archiving by age (README) works
        # on PostgreSQL partitions by month, each with this index.
        Index("ix_readings_instrument_id_read_at", "instrument_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"))
    read_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime]
    value: Mapped[str | None] = mapped_column(String(64))   # the digits as sent ("12.3450")
    unit: Mapped[str | None] = mapped_column(String(20))    # as sent ("g", "degC", "%RH")
    stable: Mapped[bool | None]  # None: the instrument has no stability flag (a DMM)
    status: Mapped[str] = mapped_column(String(20))         # ok, error, overload, underload...
    error: Mapped[str | None] = mapped_column(String(500))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
