"""The lab's working-day calendar: Monday to Friday, except the days a
:class:`~lims.supervision.models.WorkingDayOverride` says otherwise (a public holiday on a
weekday, or a weekend day made a working day, 调休).

Food re-inspection applications run in working days (《中华人民共和国食品安全法》 art. 88:
"自收到检验结论之日起七个工作日内"), so the objection clock needs the State Council's holiday
arrangements. Those of 2026 are seeded by migration 0026 from 《国务院办公厅关于2026年部分节假日
安排的通知》 (issued 2025-11-04); later years are loaded with :func:`set_overrides` (API
``PUT /api/v1/supervision/calendar``, page ``/supervision/calendar``) once published.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from lims.audit.services import record
from lims.auth.models import User
from lims.auth.services import require
from lims.errors import InvalidInput, msg
from lims.supervision.models import WorkingDayOverride
from lims.validate import date, text

MAX_DAYS = 400  # overrides set at once: a year and a bit

def _overrides(session: Session, start: dt.date, end: dt.date) -> dict[dt.date, bool]:
    rows = session.execute(select(WorkingDayOverride.day, WorkingDayOverride.working).where(
        WorkingDayOverride.day >= start, WorkingDayOverride.day <= end)).all()
    return {day: working for day, working in rows}


def is_working_day(session: Session, day: dt.date) -> bool:
    return _overrides(session, day, day).get(day, day.weekday() < 5)


def add_working_days(session: Session, start: dt.date, n: int) -> dt.date:
    """The ``n``-th working day after ``start`` (``start`` itself is not counted: a period
    "within 7 working days of receipt" begins the next day)."""
    if n < 0:
        raise ValueError("n must not be negative")
    # n working days fit in 3n + 30 calendar days even around the Spring Festival.
    known = _overrides(session, start, start + dt.timedelta(days=3 * n + 30))
    day, left = start, n
    while left:
        day += dt.timedelta(days=1)
        if known.get(day, day.weekday() < 5):
            left -= 1
    return day


def overrides_query(year: int | None = None) -> Select[WorkingDayOverride]:
    """The exceptions, of one year or all (unsorted: the API pages it)."""
    query = select(WorkingDayOverride)
    if year is not None:
        query = query.where(WorkingDayOverride.day >= dt.date(year, 1, 1),
                            WorkingDayOverride.day <= dt.date(year, 12, 31))
    return query


def as_dict(row: WorkingDayOverride) -> dict[str, Any]:
    return {"day": row.day.isoformat(), "working": row.working, "note": row.note}


def set_overrides(session: Session, *, actor: User, days: Any) -> list[WorkingDayOverride]:
    """Set (or, with ``working`` null, remove) the calendar's exceptions: a list of
    ``{"day": "YYYY-MM-DD", "working": true|false|null, "note": "…"}``.

    :raises InvalidInput: not a list, a bad day or note, a day given twice, an override that
        says what the weekday already is (a Saturday "not working").
    """
    require(actor, "calendar.manage")
    if not isinstance(days, list | tuple) or not days:
        raise InvalidInput(msg("at least one day is required"), field="days")
    if len(days) > MAX_DAYS:
        raise InvalidInput(msg("at most %(n)s days at once", n=MAX_DAYS), field="days")
    seen: set[dt.date] = set()
    changed = []
    for i, item in enumerate(days):
        field = f"days[{i}]"
        if not isinstance(item, dict):
            raise InvalidInput(msg("must be an object"), field=field)
        day = date(item.get("day"), f"{field}.day")
        assert day is not None  # noqa: S101 - required
        if day in seen:
            raise InvalidInput(msg("%(day)s is given twice", day=day), field=f"{field}.day")
        seen.add(day)
        working = item.get("working")
        if working is not None and not isinstance(working, bool):
            raise InvalidInput(msg("must be true or false"), field=f"{field}.working")
        if working is not None and working == (day.weekday() < 5):
            raise InvalidInput(msg("%(day)s is that already by its weekday", day=day),
                               field=f"{field}.working")
        note = text(item.get("note"), f"{field}.note", required=False, max_len=120)
        row = session.get(WorkingDayOverride, day)
        before = as_dict(row) if row is not None else None
        if working is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            row = WorkingDayOverride(day=day, working=working, note=note)
            session.add(row)
        else:
            row.working, row.note = working, note
        session.flush()
        after = as_dict(row) if working is not None and row is not None else None
        if before != after:
            record(session, actor=actor, action="calendar.set", entity_type="working_day_overrides",
                   entity_id=day.isoformat(), before=before, after=after)
        if row is not None and working is not None:
            changed.append(row)
    return changed
