"""Query and response models of the audit API; see :mod:`lims.web.api_models`."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from lims.web.api_models import DateText, QueryModel, ResponseModel


class EventsQuery(QueryModel):
    entity_type: str | None = Field(default=None, description="e.g. samples, instruments "
                                    "(the same as entity)")
    entity_id: str | None = Field(default=None, description="exactly this entity id")
    entity: str | None = Field(default=None, description="a kind of record: samples, results, "
                               "reports, instruments …")
    number: str | None = Field(default=None, description="a record's number, in any case; a "
                               "sample number also finds the events of its tests, results, "
                               "decisions and reports")
    action: str | None = Field(default=None, description="e.g. sample.approve")
    actor: str | None = Field(default=None, description="part of a username or a person's name")
    since: DateText | None = Field(default=None, description="from this day, in the lab's zone")
    until: DateText | None = Field(default=None, description="to this day (inclusive), in the "
                                   "lab's zone")
    limit: int = Field(default=500, ge=1, le=500, description="events per page")
    page: int = Field(default=1, ge=1, le=10**7, description="the page, 1 for the newest")


class Change(ResponseModel):
    field: str = Field(description="the field; \"\" when before/after are not objects")
    old: str | None = Field(description="as it was (JSON text for a structured value); null "
                            "when the field was absent")
    new: str | None


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
    changes: list[Change] = Field(description="the fields that differ between before and "
                                  "after")


class Events(ResponseModel):
    events: list[Event]
    total: int = Field(description="events matching the filters")
    page: int
    limit: int


class Verdict(ResponseModel):
    ok: bool = Field(description="the newest recorded check found the chain intact (false "
                     "until it has been checked)")
    count: int = Field(description="events verified by that check")
    first_bad_seq: int | None
    message: str
    checked_at: dt.datetime | None = Field(description="when that check was recorded")
    checked_by: str | None = Field(description="who asked for it (system: the nightly job)")
    since_seq: int = Field(description="the checkpoint it walked from (0: the first event)")
    last_seq: int | None = Field(description="the last event it verified")
    checkpoints: int | None = Field(description="checkpoints it matched")
    head_seq: int = Field(description="events recorded so far")
    pending: bool = Field(description="a check is queued and not yet run")
    requested_at: dt.datetime | None
    requested_seq: int | None = Field(description="the event recording that request")
