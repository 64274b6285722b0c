"""Query and response models of the audit API; see :mod:`lims.web.api_models`."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from lims.web.api_models import QueryModel, ResponseModel


class EventsQuery(QueryModel):
    entity_type: str | None = Field(default=None, description="e.g. samples, instruments")
    entity_id: str | None = Field(default=None, description="e.g. a sample number")
    action: str | None = Field(default=None, description="e.g. sample.approve")
    actor: str | None = Field(default=None, description="a username")


class Event(ResponseModel):
    seq: int
    at: dt.datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: str | None = Field(description="the record before, as canonical JSON text")
    after: str | None
    reason: str | None
    hash: str
    prev_hash: str


class Events(ResponseModel):
    events: list[Event]


class Verdict(ResponseModel):
    ok: bool
    count: int = Field(description="events verified")
    first_bad_seq: int | None
    message: str
