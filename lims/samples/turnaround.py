"""Turnaround time against the due date (issue 11 §2): days left or overdue while the work is
open, and once reported, how many days it took and whether it was on time.

Days are counted in the lab's zone: a sample due on the 5th is on time when reported at 23:30
local time on the 5th, whatever the UTC date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Protocol
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"  # lims.config.Settings.timezone's default


class Planned(Protocol):
    """What the turnaround needs of a sample (lims.samples.models.Sample)."""

    due_date: dt.date | None
    registered_at: dt.datetime
    received_at: dt.datetime | None
    reported_at: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class Turnaround:
    due_date: dt.date | None
    # Until reported: days from today to the due date (negative when overdue); None without
    # a due date or once reported.
    days_left: int | None
    overdue: bool
    # Once reported: the local date, days from receipt (or registration, if never received)
    # to the report, and whether the report came on or before the due date.
    reported_on: dt.date | None
    turnaround_days: int | None
    on_time: bool | None

    def as_dict(self) -> dict[str, Any]:
        return {"due_date": self.due_date.isoformat() if self.due_date else None,
                "days_left": self.days_left, "overdue": self.overdue,
                "reported_on": self.reported_on.isoformat() if self.reported_on else None,
                "turnaround_days": self.turnaround_days, "on_time": self.on_time}


def local_date(at: dt.datetime, timezone: str) -> dt.date:
    return at.astimezone(ZoneInfo(timezone)).date()


def turnaround(sample: Planned, today: dt.date, *, timezone: str = DEFAULT_TIMEZONE
               ) -> Turnaround:
    """Where a sample stands against its due date on ``today`` (a date in the lab's zone)."""
    due = sample.due_date
    if sample.reported_at is not None:
        reported = local_date(sample.reported_at, timezone)
        start = local_date(sample.received_at or sample.registered_at, timezone)
        on_time = None if due is None else reported <= due
        return Turnaround(due_date=due, days_left=None, overdue=bool(on_time is False),
                          reported_on=reported, turnaround_days=(reported - start).days,
                          on_time=on_time)
    if due is None:
        return Turnaround(due_date=None, days_left=None, overdue=False, reported_on=None,
                          turnaround_days=None, on_time=None)
    left = (due - today).days
    return Turnaround(due_date=due, days_left=left, overdue=left < 0, reported_on=None,
                      turnaround_days=None, on_time=None)
