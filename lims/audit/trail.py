"""Search the audit trail for the quality manager and assessors (ISO/IEC 17025 8.4, 7.5.2).

The trail can hold millions of events (issue 14), so every filter runs on an index of
``audit_events`` (entity type + id, actor, time; migration 0017) and a page is a bounded
query. Free of Flask: the pages, the API and the CSV export share it.

A sample number finds the sample's own events and those of everything recorded under it
(tests, results and their decisions, report claims and reports, a calibration job and its
readings): those events name their own row's id, not the sample, so the ids are resolved
from the sample first (a few indexed look-ups) and matched as (entity type, id) pairs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, String, and_, cast, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from lims.audit.models import AuditEvent, AuditHead
from lims.errors import InvalidInput, msg
from lims.validate import text

MAX_LIMIT = 500
DEFAULT_LIMIT = 50
# Ids of one kind per IN list (SQLite caps the parameters of a statement).
_IN_LIMIT = 900


@dataclasses.dataclass(frozen=True)
class Filters:
    """What to look for; every field optional. Dates are the lab's calendar days."""

    entity: str | None = None     # an entity type: samples, results, reports, instruments …
    number: str | None = None     # a record's number or id; a sample's finds its dependants
    actor: str | None = None      # part of a username or a person's name
    action: str | None = None     # e.g. result.correct
    since: dt.date | None = None  # from this day (inclusive)
    until: dt.date | None = None  # to this day (inclusive)
    entity_id: str | None = None  # an exact entity id (the API's older parameter)

    def active(self) -> bool:
        return any(v is not None for v in dataclasses.astuple(self))


@dataclasses.dataclass(frozen=True)
class Page:
    events: list[AuditEvent]
    total: int
    page: int
    limit: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit))


@dataclasses.dataclass(frozen=True)
class Change:
    """One field of a record as it was and as it became (None: absent on that side)."""

    field: str
    old: str | None
    new: str | None


def _optional(value: Any, field: str, max_len: int = 60) -> str | None:
    if value is None or value == "":
        return None
    found = text(value, field, required=False, max_len=max_len)
    return found or None


def _day(value: Any, field: str) -> dt.date | None:
    found = _optional(value, field, 10)
    if found is None:
        return None
    try:
        return dt.date.fromisoformat(found)
    except ValueError:
        raise InvalidInput(msg("must be a date, YYYY-MM-DD"), field=field) from None


def parse_filters(args: Mapping[str, Any]) -> Filters:
    """Filters from a query string (the page's form and the API share the names).

    ``entity_type`` is the API's older name of ``entity``.

    :raises InvalidInput: naming the parameter (control characters, a bad date, a range that
        ends before it starts).
    """
    entity = _optional(args.get("entity"), "entity", 40) or _optional(
        args.get("entity_type"), "entity_type", 40)
    filters = Filters(entity=entity, number=_optional(args.get("number"), "number"),
                      actor=_optional(args.get("actor"), "actor"),
                      action=_optional(args.get("action"), "action"),
                      since=_day(args.get("since"), "since"),
                      until=_day(args.get("until"), "until"),
                      entity_id=_optional(args.get("entity_id"), "entity_id"))
    if filters.since and filters.until and filters.until < filters.since:
        raise InvalidInput(msg("ends before since"), field="until")
    return filters


def paging(args: Mapping[str, Any]) -> tuple[int, int]:
    """(page, limit) from ``page`` and ``limit``: page ≥ 1, 1 ≤ limit ≤ 500.

    :raises InvalidInput: naming the parameter.
    """
    values = []
    for name, default, top in (("page", 1, 10**7), ("limit", DEFAULT_LIMIT, MAX_LIMIT)):
        raw = args.get(name)
        if raw is None or raw == "":
            values.append(default)
            continue
        if not isinstance(raw, str | int) or not str(raw).strip().isdigit():
            raise InvalidInput(msg("must be a whole number"), field=name)
        number = int(str(raw).strip())
        if not 1 <= number <= top:
            raise InvalidInput(msg("must be between 1 and %(top)s", top=top), field=name)
        values.append(number)
    return values[0], values[1]


# --- which (entity type, id) pairs belong to a number ---------------------------------------

def related(session: Session, number: str) -> dict[str, list[str]]:
    """The entity ids recorded under ``number``, by entity type.

    The number is matched as typed, then upper-cased (numbers are issued in upper case and
    scanners or people may type them in lower case). A sample's number brings its tests,
    results, decisions, report claims, reports, calibration job and readings; any other
    number matches events whose entity id is that number.
    """
    from lims.calibration.models import CalibrationJob, CalibrationReading
    from lims.reports.models import Report, ReportClaim
    from lims.samples.models import ConformityDecision, Result, Sample, SampleTest

    sample = None
    for candidate in dict.fromkeys((number, number.upper())):
        sample = session.execute(select(Sample.id, Sample.number)
                                 .where(Sample.number == candidate)).first()
        if sample is not None:
            break
    if sample is None:
        upper = number.upper()
        if upper != number and session.scalar(
                select(AuditEvent.id).where(AuditEvent.entity_id == upper).limit(1)) is not None:
            return {"": [upper]}
        return {"": [number]}
    sid, sample_number = sample
    # One statement for every kind of dependant (a round trip each made "events of sample X"
    # cost a dozen round trips; issue 14's target is 20 ms).
    as_text = String(60)
    kinds = union_all(
        select(literal("sample_tests", as_text), cast(SampleTest.id, as_text))
        .where(SampleTest.sample_id == sid),
        select(literal("results", as_text), cast(Result.id, as_text))
        .join(SampleTest, Result.test_id == SampleTest.id).where(SampleTest.sample_id == sid),
        select(literal("conformity_decisions", as_text), cast(ConformityDecision.id, as_text))
        .join(Result, ConformityDecision.result_id == Result.id)
        .join(SampleTest, Result.test_id == SampleTest.id).where(SampleTest.sample_id == sid),
        select(literal("reports", as_text), Report.number).where(Report.sample_id == sid),
        select(literal("report_claims", as_text), ReportClaim.number)
        .where(ReportClaim.sample_id == sid),
        select(literal("calibration_readings", as_text), cast(CalibrationReading.id, as_text))
        .join(CalibrationJob, CalibrationReading.job_id == CalibrationJob.id)
        .where(CalibrationJob.sample_id == sid))
    ids: dict[str, list[str]] = {}
    for kind, value in session.execute(kinds):
        ids.setdefault(kind, []).append(value)
    found = {"samples": [sample_number], "calibration_jobs": [sample_number],
             **{kind: ids.get(kind, []) for kind in ("sample_tests", "results",
                                                     "conformity_decisions", "reports",
                                                     "report_claims", "calibration_readings")}}
    return {kind: values for kind, values in found.items() if values}


def _pairs(kinds: Mapping[str, Sequence[str]]) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = []
    for kind, ids in kinds.items():
        chunks = [ids[i:i + _IN_LIMIT] for i in range(0, len(ids), _IN_LIMIT)]
        match = or_(*(AuditEvent.entity_id.in_(c) for c in chunks))
        clauses.append(match if kind == "" else and_(AuditEvent.entity_type == kind, match))
    return or_(*clauses)


def _actors(session: Session, part: str) -> list[str]:
    """Usernames whose username or full name contains ``part`` (the users table is small;
    the events are then matched on the indexed ``actor`` column)."""
    from lims.auth.models import User

    pattern = f"%{_escape(part.lower())}%"
    names = set(session.scalars(select(User.username).where(or_(
        func.lower(User.username).like(pattern, escape="\\"),
        func.lower(User.full_name).like(pattern, escape="\\")))))
    if part.lower() in "system":
        names.add("system")  # the scheduler and migrations
    names.add(part)  # an account since renamed: its events keep the name they were made by
    return sorted(names)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _window(day: dt.date, timezone: str) -> dt.datetime:
    """Midnight of ``day`` in the lab's zone, in UTC (the column stores UTC)."""
    return dt.datetime.combine(day, dt.time(), ZoneInfo(timezone)).astimezone(dt.UTC)


def conditions(session: Session, filters: Filters, timezone: str) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.number:
        kinds = related(session, filters.number)
        if filters.entity:
            ids = kinds.get(filters.entity) or kinds.get("") or [filters.number]
            kinds = {filters.entity: ids}
        where.append(_pairs(kinds))
    elif filters.entity:
        where.append(AuditEvent.entity_type == filters.entity)
    if filters.entity_id:
        where.append(AuditEvent.entity_id == filters.entity_id)
    if filters.actor:
        where.append(AuditEvent.actor.in_(_actors(session, filters.actor)))
    if filters.action:
        where.append(AuditEvent.action == filters.action)
    if filters.since:
        where.append(AuditEvent.at >= _window(filters.since, timezone))
    if filters.until:
        where.append(AuditEvent.at < _window(filters.until + dt.timedelta(days=1), timezone))
    return where


def search(session: Session, filters: Filters, *, timezone: str, page: int = 1,
           limit: int = DEFAULT_LIMIT) -> Page:
    """One page of the events matching ``filters``, newest first, with their total."""
    head = session.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0
    if not filters.active():
        # The chain is gapless (1 … head), so the unfiltered total is the head's sequence
        # number and a page is a range of it: no count or offset over a million rows.
        top = head - (page - 1) * limit
        # A page past the end is empty without a query: its bound could lie below the
        # column's integer range (PostgreSQL: "integer out of range", a 500).
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.seq <= top)
                                      .order_by(AuditEvent.seq.desc()).limit(limit))) \
            if top >= 1 else []
        return Page(events, head, page, limit)
    where = conditions(session, filters, timezone)
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
    # The page's ids first, from the filter's index alone (ids ascend with seq: the chain
    # check refuses an event out of order), then only those rows: a deep page or a broad
    # filter sorts small keys, not a million rows of JSON.
    ids = list(session.scalars(select(AuditEvent.id).where(*where)
                               .order_by(AuditEvent.id.desc())
                               .offset((page - 1) * limit).limit(limit)))
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.id.in_(ids))
                                  .order_by(AuditEvent.seq.desc()))) if ids else []
    return Page(events, total, page, limit)


def each(session: Session, filters: Filters, *, timezone: str,
         batch: int = 1000) -> Iterator[AuditEvent]:
    """Every matching event, newest first, fetched in batches by sequence number (the CSV
    export: memory stays flat however many events match)."""
    where = conditions(session, filters, timezone)
    below: int | None = None
    while True:
        query = select(AuditEvent).where(*where)
        if below is not None:
            query = query.where(AuditEvent.seq < below)
        rows = list(session.scalars(query.order_by(AuditEvent.seq.desc()).limit(batch)))
        yield from rows
        if len(rows) < batch:
            return
        below = rows[-1].seq
        session.expunge_all()


# The chain checks recorded in the trail, and the requests for one (lims.audit.jobs).
CHECK = "audit.verify"
REQUEST = "audit.verify_request"


def _newest(session: Session, action: str, *, passed: bool = False) -> AuditEvent | None:
    query = select(AuditEvent).where(AuditEvent.entity_type == "audit_events",
                                     AuditEvent.entity_id == "chain", AuditEvent.action == action)
    if passed:  # the outcome is canonical JSON (sorted keys, no spaces)
        query = query.where(AuditEvent.after.contains('"ok":true'))
    return session.scalar(query.order_by(AuditEvent.seq.desc()).limit(1))


def latest_check(session: Session, *, passed: bool = False) -> AuditEvent | None:
    """The newest recorded chain verification (the nightly job's or one asked for on the
    page or the API), found through the entity index; with ``passed``, the newest that
    passed."""
    return _newest(session, CHECK, passed=passed)


def pending_check(session: Session) -> AuditEvent | None:
    """The request for a chain check that no check has answered yet, if any."""
    asked = _newest(session, REQUEST)
    if asked is None:
        return None
    done = session.scalar(select(AuditEvent.seq).where(
        AuditEvent.entity_type == "audit_events", AuditEvent.entity_id == "chain",
        AuditEvent.action == CHECK, AuditEvent.seq > asked.seq).limit(1))
    return asked if done is None else None


@dataclasses.dataclass(frozen=True)
class ChainStatus:
    """What is known of the chain without walking it: the newest recorded check, a request
    waiting for the scheduler, and the head (events recorded so far)."""

    check: AuditEvent | None
    pending: AuditEvent | None
    head_seq: int

    @property
    def outcome(self) -> dict[str, Any]:
        return json.loads(self.check.after or "{}") if self.check is not None else {}


def chain_status(session: Session) -> ChainStatus:
    """A handful of indexed look-ups, whatever the length of the chain."""
    head = session.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0
    return ChainStatus(latest_check(session), pending_check(session), head)


# --- what changed ---------------------------------------------------------------------------

def _loads(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


class _Absent:
    """A field missing on one side of a change (not the same as a recorded null)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


def raw_changes(event: AuditEvent) -> list[tuple[str, Any, Any]]:
    """The event's before/after as (field, old, new) with the values as recorded (JSON
    decoded; :data:`ABSENT` where the field is missing on that side), changed fields only."""
    before, after = _loads(event.before), _loads(event.after)
    if not isinstance(before, dict) or not isinstance(after, dict):
        if before is None and after is None:
            return []
        if not isinstance(before, dict | None) or not isinstance(after, dict | None):
            return [("", ABSENT if before is None else before,
                     ABSENT if after is None else after)]
    old: dict[str, Any] = before or {}
    new: dict[str, Any] = after or {}
    return [(key, old.get(key, ABSENT), new.get(key, ABSENT))
            for key in sorted(set(old) | set(new))
            if not (key in old and key in new and old[key] == new[key])]


def changes(event: AuditEvent) -> list[Change]:
    """The event's before/after as field: old → new, changed fields only (a record created
    shows every field as new, one deleted or replaced every field as old). The values stay
    machine-faithful (JSON, ``null``): the API and the CSV are evidence."""
    return [Change(key, None if old is ABSENT else _show(old),
                   None if new is ABSENT else _show(new))
            for key, old, new in raw_changes(event)]


def changes_text(event: AuditEvent) -> str:
    """The changes on one line, for the CSV: ``status: received → reviewed; …``."""
    return "; ".join(f"{c.field + ': ' if c.field else ''}{'—' if c.old is None else c.old} → "
                     f"{'—' if c.new is None else c.new}" for c in changes(event))
