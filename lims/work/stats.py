"""The dashboard's figures, aggregated in the database (GROUP BY a lab day), then folded into
weeks here: at most 7 × 12 rows come back whatever the number of samples.

Weeks start on Monday in the lab's calendar (its time zone). Turnaround time runs from
registration to the first report of the sample (ISO/IEC 17025 7.1.1 c: the lab meets the
agreed time; RB/T 214 4.5.19 检验检测周期).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, case, cast, distinct, func, select
from sqlalchemy.orm import Session

from lims.instruments.models import Instrument, InstrumentStatus
from lims.reports.models import Report
from lims.samples import categories
from lims.samples.models import ConformityDecision, Result, Sample, SampleTest
from lims.work.queues import latest_calibrations

WEEKS = 12
CALIBRATION_DAYS = 30
FAILING = ("fail", "conditional fail")


@dataclasses.dataclass(frozen=True)
class Week:
    start: dt.date
    registered: int = 0
    reported: int = 0
    turnaround_days: float | None = None   # mean, registration → first report
    on_time: int | None = None             # reported by the due date (where samples have one)
    with_due: int = 0


@dataclasses.dataclass(frozen=True)
class CategoryRate:
    """The pass rate (合格率) of one product category, its subcategories included; ``code``
    None for the samples without a category."""

    code: str | None
    name_zh: str
    name_en: str
    depth: int                # 0: a top-level family
    target: Decimal | None    # the family's target pass rate, percent
    tested: int               # samples reported in the period with a result
    unqualified: int          # of them, with a failing result

    @property
    def qualified(self) -> int:
        return self.tested - self.unqualified

    @property
    def percent(self) -> float | None:
        return 100.0 * self.qualified / self.tested if self.tested else None

    def name(self, locale: str) -> str:
        return self.name_zh if locale.startswith("zh") else self.name_en


@dataclasses.dataclass(frozen=True)
class DueWeek:
    start: dt.date   # first day of the 7-day bucket from today
    count: int


@dataclasses.dataclass(frozen=True)
class Dashboard:
    weeks: list[Week]
    pass_rates: list[CategoryRate]
    overdue: int
    due: list[DueWeek]


def lab_day(session: Session, column: Any, timezone: str) -> Any:
    """SQL for the lab's calendar day of a stored UTC timestamp."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone(timezone, column), Date)
    # SQLite keeps naive UTC text; the zone's offset now (the lab's zones keep no summer time,
    # and one hour at a week's edge moves a sample by a day at most).
    offset = dt.datetime.now(ZoneInfo(timezone)).utcoffset() or dt.timedelta()
    return func.date(column, f"{int(offset.total_seconds() // 60):+d} minutes")


def _days_between(session: Session, start: Any, end: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start) / 86400.0
    return func.julianday(end) - func.julianday(start)


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def first_reports() -> Any:
    """Each reported sample with the time of its first report (an amendment is no second
    output of the same sample)."""
    return (select(Report.sample_id, func.min(Report.issued_at).label("first"))
            .group_by(Report.sample_id).subquery())


def weekly(session: Session, *, today: dt.date, timezone: str, weeks: int = WEEKS) -> list[Week]:
    starts = [week_start(today) - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    since = dt.datetime.combine(starts[0], dt.time(), ZoneInfo(timezone)).astimezone(dt.UTC)
    registered: dict[dt.date, int] = {}
    day = lab_day(session, Sample.registered_at, timezone)
    for d, n in session.execute(select(day, func.count()).where(Sample.registered_at >= since)
                                .group_by(day)):
        key = week_start(_as_date(d))
        registered[key] = registered.get(key, 0) + n
    first = first_reports()
    day = lab_day(session, first.c.first, timezone)
    due = Sample.due_date
    on_time = func.sum(case((day <= due, 1), else_=0))
    with_due = func.count(due)
    out: dict[dt.date, list[float]] = {}
    for d, n, total_days, timely, dated in session.execute(
            select(day, func.count(), func.sum(_days_between(session, Sample.registered_at,
                                                             first.c.first)),
                   on_time, with_due)
            .join(Sample, Sample.id == first.c.sample_id)
            .where(first.c.first >= since).group_by(day)):
        acc = out.setdefault(week_start(_as_date(d)), [0, 0.0, 0, 0])
        acc[0] += n
        acc[1] += float(total_days or 0)
        acc[2] += int(timely or 0)
        acc[3] += int(dated or 0)
    result = []
    for start in starts:
        n, total, timely, dated = out.get(start, [0, 0.0, 0, 0])
        result.append(Week(start, registered.get(start, 0), int(n),
                           round(total / n, 1) if n else None,
                           int(timely) if dated else None, int(dated)))
    return result


def verdict_counts(session: Session, *, since: dt.datetime) -> dict[int | None, tuple[int, int]]:
    """Per product category id (None: none), of the samples first reported since ``since``:
    how many have a current result, and how many a failing one (a person's decision on an
    undecided result counts over the rule's verdict, as on the sample's page)."""
    first = first_reports()
    verdict = func.coalesce(ConformityDecision.conformity, Result.conformity)
    rows = session.execute(
        select(Sample.category_id, func.count(distinct(SampleTest.sample_id)),
               func.count(distinct(case((verdict.in_(FAILING), SampleTest.sample_id)))))
        .select_from(Result)
        .join(SampleTest, SampleTest.id == Result.test_id)
        .join(Sample, Sample.id == SampleTest.sample_id)
        .join(first, first.c.sample_id == SampleTest.sample_id)
        .outerjoin(ConformityDecision, ConformityDecision.result_id == Result.id)
        .where(Result.is_current, first.c.first >= since)
        .group_by(Sample.category_id))
    return {category: (int(n), int(failed)) for category, n, failed in rows}


def pass_rates(session: Session, *, today: dt.date, timezone: str,
               weeks: int = WEEKS) -> list[CategoryRate]:
    """Per product category, of the samples first reported in the period: each target family
    (always, with its target) followed by those of its subcategories that have samples, each
    counting its own subcategories too; then the samples without a category, if any."""
    since = dt.datetime.combine(week_start(today) - dt.timedelta(weeks=weeks - 1), dt.time(),
                                ZoneInfo(timezone)).astimezone(dt.UTC)
    counts = verdict_counts(session, since=since)
    out: list[CategoryRate] = []
    for family in categories.tree(session):
        for node in family.walk():
            tested = unqualified = 0
            for below in node.walk():
                n, failed = counts.get(below.category.id, (0, 0))
                tested, unqualified = tested + n, unqualified + failed
            if node.depth and not tested:
                continue
            c = node.category
            out.append(CategoryRate(c.code, c.name_zh, c.name_en, node.depth,
                                    family.category.target_pass_rate, tested, unqualified))
    tested, unqualified = counts.get(None, (0, 0))
    if tested:
        out.append(CategoryRate(None, "未分类", "Uncategorised", 0, None, tested, unqualified))
    return out


def calibration_outlook(session: Session, *, today: dt.date,
                        days: int = CALIBRATION_DAYS) -> tuple[int, list[DueWeek]]:
    """Equipment in service overdue (or never calibrated) now, and due in each 7-day period of
    the next ``days`` days."""
    latest = latest_calibrations()
    base = (select(Instrument.id).outerjoin(latest, latest.c.instrument_id == Instrument.id)
            .where(Instrument.status == InstrumentStatus.IN_SERVICE))
    overdue = session.scalar(select(func.count()).select_from(
        base.where((latest.c.valid_until.is_(None)) | (latest.c.valid_until < today))
        .subquery())) or 0
    counts: dict[int, int] = {}
    for until, n in session.execute(
            select(latest.c.valid_until, func.count()).join(
                Instrument, Instrument.id == latest.c.instrument_id)
            .where(Instrument.status == InstrumentStatus.IN_SERVICE,
                   latest.c.valid_until >= today,
                   latest.c.valid_until <= today + dt.timedelta(days=days))
            .group_by(latest.c.valid_until)):
        bucket = (_as_date(until) - today).days // 7
        counts[bucket] = counts.get(bucket, 0) + n
    return overdue, [DueWeek(today + dt.timedelta(weeks=b), counts.get(b, 0))
                     for b in range(days // 7 + 1)]


def dashboard(session: Session, *, today: dt.date, timezone: str) -> Dashboard:
    overdue, due = calibration_outlook(session, today=today)
    return Dashboard(weekly(session, today=today, timezone=timezone),
                     pass_rates(session, today=today, timezone=timezone), overdue, due)
