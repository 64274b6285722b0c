"""Live readings (issue 12 §2): following an instrument's new readings, its latest one, offline.

The source of truth is the database, not the web process, so any gunicorn worker can serve a
stream and readings posted to another worker reach it. A stream polls for rows stored after
the last one it sent rather than using PostgreSQL LISTEN/NOTIFY: polling works the same on
SQLite and PostgreSQL, holds no connection between polls (a LISTEN needs one connection per
open stream, for hours), and the query is a range scan on the primary key, which costs only
the rows stored since the previous poll, ~150 ms ago.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from lims.readings.models import Agent, AgentInstrument, Reading
from lims.units import display

# A reading older than this (by the server's clock), or none at all, shows the instrument as
# offline: a polled instrument reports every second or so, even when its value does not change.
OFFLINE_AFTER = dt.timedelta(seconds=60)
# An id is reserved at INSERT and becomes visible at COMMIT; on PostgreSQL two concurrent
# batches can commit out of id order, so a stream keeps looking below its highest id sent for
# as long as an ingestion transaction may take (a batch of 1000 stores in well under a second).
IN_FLIGHT = dt.timedelta(seconds=3)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def reading_json(reading: Reading, agent: str, asset: str, at: dt.datetime) -> dict[str, Any]:
    """A reading as ``GET …/readings`` lists it, plus its age in seconds at ``at``."""
    return {"id": reading.id, "agent": agent, "seq": reading.seq, "asset": asset,
            "read_at": reading.read_at.isoformat(),
            "received_at": reading.received_at.isoformat(), "value": reading.value,
            "unit": reading.unit, "stable": reading.stable, "status": reading.status,
            "error": reading.error, "raw": base64.b64encode(reading.raw).decode("ascii"),
            "age": round(max((at - reading.read_at).total_seconds(), 0.0), 3),
            # the unit as the pages show it (|unit: ℃, not degC), for the live value
            "unit_shown": display(reading.unit) if reading.unit else ""}


def highest_id(session: Session) -> int:
    """The highest reading id stored (the end of the primary key index)."""
    return session.scalar(select(func.max(Reading.id))) or 0


def agent_fed(session: Session, instrument_ids: list[int]) -> set[int]:
    """Which of these instruments an active (not revoked) agent reads."""
    if not instrument_ids:
        return set()
    return set(session.scalars(
        select(AgentInstrument.instrument_id).join(Agent, Agent.id == AgentInstrument.agent_id)
        .where(AgentInstrument.instrument_id.in_(instrument_ids), Agent.revoked_at.is_(None))))


def has_agent(session: Session, instrument_id: int) -> bool:
    """Whether an active (not revoked) agent reads this instrument."""
    return session.scalar(
        select(func.count()).select_from(AgentInstrument)
        .join(Agent, Agent.id == AgentInstrument.agent_id)
        .where(AgentInstrument.instrument_id == instrument_id,
               Agent.revoked_at.is_(None))) != 0


def settled() -> ColumnElement[bool]:
    """A reading Capture may take: flagged stable, or from an instrument without a stability
    flag (a multimeter, a hygrometer: ``stable`` is NULL), whose direct read is taken as is."""
    return or_(Reading.stable.is_(True), Reading.stable.is_(None))


def latest(session: Session, instrument_id: int, *,
           stable: bool = False) -> tuple[Reading, str] | None:
    """The instrument's latest reading by read time (and its agent's name); with ``stable``,
    the latest ok reading Capture may take (:func:`settled`). The (instrument_id, read_at)
    index answers it."""
    query = select(Reading, Agent.name).join(Agent, Agent.id == Reading.agent_id) \
        .where(Reading.instrument_id == instrument_id)
    if stable:
        query = query.where(settled(), Reading.status == "ok")
    row = session.execute(query.order_by(Reading.read_at.desc(), Reading.id.desc())
                          .limit(1)).first()
    return (row[0], row[1]) if row else None


def is_offline(reading: Reading | None, at: dt.datetime) -> bool:
    """No reading, a latest reading that says the instrument failed or went away, or none
    received for a while (the agent or the port is gone)."""
    return (reading is None or reading.status in ("error", "offline")
            or at - reading.received_at > OFFLINE_AFTER)


@dataclasses.dataclass(frozen=True)
class LiveValue:
    """What a page shows of an agent-fed instrument when it is rendered (without JS, this is
    all there is); ``after`` is where its stream starts, so nothing stored since is missed."""

    instrument_id: int
    asset: str
    reading: Reading | None
    age: float | None       # seconds since it was read
    seen_age: float | None  # seconds since the server received it
    offline: bool
    after: int
    offline_after: int = int(OFFLINE_AFTER.total_seconds())


def live_values(session: Session, instruments: list[tuple[int, str]],
                at: dt.datetime) -> dict[int, LiveValue]:
    """The live values of those of ``instruments`` (id, asset) that an agent reads."""
    fed = agent_fed(session, [i for i, _ in instruments])
    if not fed:
        return {}
    after = highest_id(session)
    out = {}
    for ident, asset in instruments:
        if ident not in fed:
            continue
        found = latest(session, ident)
        reading = found[0] if found else None
        out[ident] = LiveValue(
            instrument_id=ident, asset=asset, reading=reading,
            age=max((at - reading.read_at).total_seconds(), 0.0) if reading else None,
            seen_age=max((at - reading.received_at).total_seconds(), 0.0) if reading else None,
            offline=is_offline(reading, at), after=after)
    return out


@dataclasses.dataclass
class Follower:
    """Which of an instrument's readings a stream has sent: everything with an id above
    ``floor`` that is not in ``sent``. The floor moves up to the highest id that existed
    IN_FLIGHT ago, so a reading whose id is below one already sent but which committed later
    is still found, and each poll scans only the last few seconds of the primary key."""

    instrument_id: int
    floor: int
    sent: set[int] = dataclasses.field(default_factory=set)
    marks: collections.deque[tuple[dt.datetime, int]] = dataclasses.field(
        default_factory=collections.deque)

    def poll(self, session: Session, at: dt.datetime, limit: int = 500) -> list[tuple[Reading, str]]:
        top = highest_id(session)
        rows = session.execute(
            select(Reading, Agent.name).join(Agent, Agent.id == Reading.agent_id)
            .where(Reading.instrument_id == self.instrument_id, Reading.id > self.floor)
            .order_by(Reading.id).limit(limit)).all()
        new = [(r[0], r[1]) for r in rows if r[0].id not in self.sent]
        self.sent.update(r.id for r, _ in new)
        self.marks.append((at, top))
        while self.marks and self.marks[0][0] <= at - IN_FLIGHT:
            _, mark = self.marks.popleft()
            self.floor = max(self.floor, mark)
        if len(rows) == limit:  # a backlog: page on from the last row rather than re-reading
            self.floor = max(self.floor, rows[-1][0].id)
        self.sent = {i for i in self.sent if i > self.floor}
        return new
