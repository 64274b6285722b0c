"""Readings from bench capture agents: the ingestion API, reading them back, the agents page.

The wire contract (issue 12 §2), for the agent (``lims agent``) to be built against
=================================================================================

Authentication: ``Authorization: Bearer lims_agent_…``, the token printed once by
``lims agent register NAME --instrument ASSET…`` (or the Agents page). An agent token may call
``POST /api/v1/readings/batch`` and nothing else: any other endpoint answers 403
``forbidden``; an unknown or revoked token answers 401 ``unauthenticated``.

``POST /api/v1/readings/batch`` with ``Content-Type: application/json``::

    {"readings": [
        {"seq": 17,                        # the agent's sequence number: integer 1 … 2^63-1,
                                           # unique per agent, never reused (it is the
                                           # idempotency key with the agent)
         "asset": "EQ-BAL-001",            # one of the agent's instruments
         "read_at": "2026-11-27T01:02:03.123456+00:00",   # ISO 8601 with offset (or Z)
         "value": "12.3456",               # the digits as sent (text, ≤ 64); null unless ok
         "unit": "g",                      # as sent (≤ 20), or null
         "stable": true,                   # true / false / null (no stability flag)
         "status": "ok",                   # ok | overload | underload | error | offline
         "error": null,                    # the message of an error reading (≤ 500)
         "raw": "UyBTICAgICAxMi4zNDU2IGc="},  # the bytes as received, base64 (≤ 4096 bytes)
        …]}

1 to 1000 readings per batch (the body up to 4 MiB), in any order of ``seq``. Replies:

- **200** ``{"acknowledged": <highest seq of the batch>, "stored": <new>, "duplicates": <n>}``:
  every reading of the batch is now stored exactly once (this time, or by an earlier post of
  it: a replay after a lost reply stores nothing twice). The agent may delete the batch from
  its spool.
- **422** ``{"error": {"code": "invalid", "message": …, "field": "readings[3].read_at"}}``:
  the batch is refused whole and nothing is stored; ``field`` names the first bad reading and
  field (also ``readings`` for an empty batch or one over 1000). Retrying the same batch will
  fail again: the agent must log it loudly and set it aside, not loop.
- **403** ``forbidden`` with ``field`` ``readings[i].asset``: a reading of an instrument the
  agent was not registered for (nothing stored); also a revoked agent.
- **401**: unknown or revoked token. **400**: not a JSON object. **413**: body over 4 MiB.
- **5xx** or no reply: nothing is known; retry the same batch later (back off). Safe, since
  a reading stored by a lost attempt is acknowledged as a duplicate.

``GET /api/v1/instruments/<asset>/readings?since=<ISO time>&limit=<1…500>&cursor=<next>``
(a user's session or API token, any role): the instrument's readings in read order (then
storage order), ``{"readings": [{agent, seq, asset, read_at, received_at, value, unit,
stable, status, error, raw}], "total": <readings since since>, "limit": n, "next": <cursor or
null>}``; pass ``next`` back as ``cursor`` for the following page.

``GET /api/v1/instruments/<asset>/readings/stream`` (a user's session or API token):
Server-Sent Events. Each reading stored for the instrument after the stream opened is sent
once as ``event: reading``, ``id: <reading id>``, ``data: <the reading as the list above gives
it, plus "id" and "age" (seconds since read_at)>``; a comment every ~15 s keeps proxies from
closing it; the server ends the stream after a few minutes and the client reconnects
(``retry``) sending ``Last-Event-ID``, from which the stream resumes (also ``?after=<id>``).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, cast

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from lims.db import unit_of_work
from lims.errors import PermissionDenied, msg
from lims.readings import api_models as m
from lims.readings.models import Agent
from lims.readings.services import (
    IncomingReading,
    ingest,
    last_reading,
    list_agents,
    parse_instant,
    readings_page,
    register_agent,
    revoke_agent,
)
from lims.readings.stream import event_stream
from lims.web.auth import current_user
from lims.web.context import get_session
from lims.web.inputs import allow_upload, json_model, query_model
from lims.web.openapi import operation

bp = Blueprint("agents", __name__, url_prefix="/agents")
api = Blueprint("readings_api", __name__, url_prefix="/api/v1/readings")
instrument_api = Blueprint("instrument_readings_api", __name__,
                           url_prefix="/api/v1/instruments")
MAX_BODY = 4 * 1024 * 1024  # 1000 readings with raw frames of up to 4 KiB each in base64


def current_agent() -> Agent:
    agent = g.get("agent")
    if agent is None:
        raise PermissionDenied(msg("only a capture agent's token may post readings "
                                   "(lims agent register)"))
    return agent  # type: ignore[no-any-return]


@api.post("/batch", endpoint="ingest")  # the name AGENT_ENDPOINTS lets agents through to
@allow_upload(MAX_BODY)
@operation("Store a batch of readings once each (a capture agent's token)",
           body=m.ReadingsBatch, response=m.BatchAcknowledged, errors=[403])
def ingest_batch() -> Any:
    agent = current_agent()
    batch = json_model(m.ReadingsBatch)
    with unit_of_work(get_session()) as db:
        # The validators turned read_at into a UTC datetime and raw into bytes (the model's
        # annotations say str, the wire's type).
        ack = ingest(db, agent=agent, readings=cast("Sequence[IncomingReading]", batch.readings))
    return jsonify(acknowledged=ack.acknowledged, stored=ack.stored, duplicates=ack.duplicates)


@instrument_api.get("/<asset>/readings")
@operation("An instrument's stored readings in read order, a page at a time (cursor)",
           query=m.ReadingsQuery, response=m.Readings)
def readings_json(asset: str) -> Any:
    query = query_model(m.ReadingsQuery)
    page = readings_page(get_session(), asset=asset, since=parse_instant(query.since, "since"),
                         limit=query.limit, cursor=query.cursor)
    return jsonify(readings=[{
        "agent": name, "seq": r.seq, "asset": asset, "read_at": r.read_at.isoformat(),
        "received_at": r.received_at.isoformat(), "value": r.value, "unit": r.unit,
        "stable": r.stable, "status": r.status, "error": r.error,
        "raw": base64.b64encode(r.raw).decode("ascii")} for r, name in page.items],
        total=page.total, limit=page.limit, next=page.next)


@instrument_api.get("/<asset>/readings/stream")
@operation("An instrument's new readings as they arrive (Server-Sent Events)",
           files=("text/event-stream",))
def readings_stream(asset: str) -> Any:
    return event_stream(asset)


# --- the agents page (administrators) ----------------------------------------------------------

def _page(new_token: str | None = None, new_agent: str | None = None) -> Any:
    db = get_session()
    agents = list_agents(db, actor=current_user())
    return render_template("readings/agents.html", agents=agents,
                           last={a.id: last_reading(db, a) for a in agents},
                           new_token=new_token, new_agent=new_agent)


@bp.get("/")
def index() -> Any:
    return _page()


@bp.post("/")
def register() -> Any:
    assets = [a for part in request.form.getlist("instruments")
              for a in part.replace(",", " ").split()]
    with unit_of_work(get_session()) as db:
        agent, token = register_agent(db, actor=current_user(),
                                      name=request.form.get("name", ""), assets=assets)
        name = agent.name
    # The token is shown on this response only (never stored in clear, never in a redirect).
    return _page(new_token=token, new_agent=name)


@bp.post("/<name>/revoke")
def revoke(name: str) -> Any:
    with unit_of_work(get_session()) as db:
        revoke_agent(db, actor=current_user(), name=name)
    flash(_("Agent %(name)s revoked", name=name), "ok")
    return redirect(url_for("agents.index"), code=303)
