"""Pass rates (合格率) from final conclusions: by year, category, region, enterprise size and
inspection type, with the unqualified characteristics ranked.

What is counted. A sample counts in the year it was taken (``samples.sampled_on``: its
sampling record's date, 抽样日期; for a delivered sample the day the lab registered it, in the
lab's zone), so a spot check sampled in December and received in January counts in December's
year. Its conclusion is the outcome its current test report stated when it was issued
(``reports.outcome``; an amended report replaces it, a withdrawn one leaves the sample
pending). A re-inspection (复检, ``samples.reinspection_of_id``) is not a sample of its own in
the statistics: its conclusion is final and replaces the original's, and while it is in
progress the original is pending (《产品质量监督抽查管理暂行办法》: the re-inspection conclusion is
final). Qualified: conforming or conditionally conforming; unqualified: nonconforming or
conditionally nonconforming; a report of data only is tested but not judged; everything else
is pending. The rate is qualified / (qualified + unqualified).

A rate that rests on few samples is shown with its 95 % Wilson score interval (Wilson 1927;
Newcombe 1998 recommends it over the Wald interval for small n and rates near 100 %), so that
"100 % of 3" reads as 44 % … 100 %.

How. One GROUP BY in the database returns the counts per (category, region, size, inspection
type, class): a few hundred rows whatever the number of samples; the breakdowns, the roll-ups
up the catalogue and the region tree, and the targets are folded here. The ranked items are a
second statement over the unqualified samples only, and the trend over any span of years one
statement grouped by (year, category, class). The original samples of a year are found
through ix_samples_original_sampled (migration 0027). Over 1,000,000 results in ten years
a year's rates take about 0.2-0.4 s and the ten-year trend 0.2-0.5 s (make bench,
bench/passrates.py). Pure of Flask.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session, aliased

from lims.errors import InvalidInput, NotFound, msg
from lims.reports.models import Report, ReportStatus
from lims.samples import categories
from lims.samples.models import (
    Characteristic,
    ConformityDecision,
    Result,
    Sample,
    SampleTest,
    TestRequest,
)
from lims.supervision import plans, regions
from lims.supervision.models import Enterprise, Region, SamplingRecord, SamplingTask

Z95 = 1.959963984540054  # the standard normal quantile of 0.975
QUALIFIED = ("conforming", "conditionally conforming")
UNQUALIFIED = ("nonconforming", "conditionally nonconforming")
DATA_ONLY = "data only"
FAILING = ("fail", "conditional fail")
SIZES = ("large", "medium", "small", "micro")
# Below this many judged samples a rate is shown with its interval on pages and papers.
FEW = 30
FIRST_YEAR = 1990


def wilson(qualified: int, judged: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion, in percent; None without a judged sample."""
    if judged <= 0:
        return None
    p = qualified / judged
    denominator = 1 + z * z / judged
    centre = (p + z * z / (2 * judged)) / denominator
    half = z * math.sqrt(p * (1 - p) / judged + z * z / (4 * judged * judged)) / denominator
    return max(0.0, 100 * (centre - half)), min(100.0, 100 * (centre + half))


@dataclasses.dataclass(frozen=True)
class Counts:
    sampled: int = 0
    qualified: int = 0
    unqualified: int = 0
    data_only: int = 0

    @property
    def tested(self) -> int:
        """With a final conclusion (judged or data only)."""
        return self.qualified + self.unqualified + self.data_only

    @property
    def pending(self) -> int:
        return self.sampled - self.tested

    @property
    def judged(self) -> int:
        return self.qualified + self.unqualified

    @property
    def rate(self) -> float | None:
        """The pass rate in percent, None without a judged sample."""
        return 100.0 * self.qualified / self.judged if self.judged else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.qualified, self.judged)

    @property
    def few(self) -> bool:
        """Whether the rate rests on few samples (its interval is printed beside it)."""
        return 0 < self.judged < FEW

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.sampled + other.sampled, self.qualified + other.qualified,
                      self.unqualified + other.unqualified, self.data_only + other.data_only)

    def as_dict(self) -> dict[str, Any]:
        interval = self.interval
        return {"sampled": self.sampled, "tested": self.tested, "qualified": self.qualified,
                "unqualified": self.unqualified, "data_only": self.data_only,
                "pending": self.pending,
                "pass_rate": None if self.rate is None else round(self.rate, 2),
                "interval": None if interval is None else [round(interval[0], 2),
                                                           round(interval[1], 2)]}


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of a breakdown: ``key`` is a category or region code, a size or an inspection
    type ("" for samples without one)."""

    key: str
    name_zh: str
    name_en: str
    counts: Counts
    depth: int = 0
    target: Decimal | None = None   # the family's target pass rate, percent

    @property
    def below_target(self) -> bool:
        rate = self.counts.rate
        return self.target is not None and rate is not None and rate < float(self.target)

    def name(self, locale: str) -> str:
        return self.name_zh if locale.startswith("zh") else self.name_en

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name_zh": self.name_zh, "name_en": self.name_en,
                "depth": self.depth,
                "target": None if self.target is None else str(self.target),
                "below_target": self.below_target, **self.counts.as_dict()}


@dataclasses.dataclass(frozen=True)
class Item:
    """An unqualified characteristic: in how many unqualified samples it failed."""

    name: str
    samples: int


@dataclasses.dataclass(frozen=True)
class PassRates:
    year: int
    filters: dict[str, str]
    total: Counts
    families: list[Row]          # the target families, each with its target
    categories: list[Row]        # the catalogue, depth first, every level that has samples
    regions: list[Row]           # prefectures, each followed by its counties with samples
    sizes: list[Row]
    inspection_types: list[Row]
    unqualified_items: list[Item]

    def as_dict(self) -> dict[str, Any]:
        return {"year": self.year, "filters": self.filters, "total": self.total.as_dict(),
                "families": [r.as_dict() for r in self.families],
                "categories": [r.as_dict() for r in self.categories],
                "regions": [r.as_dict() for r in self.regions],
                "sizes": [r.as_dict() for r in self.sizes],
                "inspection_types": [r.as_dict() for r in self.inspection_types],
                "unqualified_items": [{"name": i.name, "samples": i.samples}
                                      for i in self.unqualified_items]}


@dataclasses.dataclass(frozen=True)
class Filters:
    year: int
    category_ids: frozenset[int] | None = None
    region_ids: frozenset[int] | None = None
    inspection_type: str | None = None
    size: str | None = None


def year_bounds(year: int, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The lab's calendar year as a half-open UTC range."""
    zone = ZoneInfo(timezone)
    return (dt.datetime(year, 1, 1, tzinfo=zone).astimezone(dt.UTC),
            dt.datetime(year + 1, 1, 1, tzinfo=zone).astimezone(dt.UTC))


def check_year(value: Any, field: str = "year") -> int:
    try:
        year = int(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidInput(msg("must be a year such as 2026"), field=field) from None
    if not FIRST_YEAR <= year <= 9998:
        raise InvalidInput(msg("must be a year such as 2026"), field=field)
    return year


def region_choices(session: Session) -> list[tuple[Region, int]]:
    """Every region with its depth in the tree, depth first (a filter's choices)."""
    rows = regions.list_regions(session)
    below: dict[int | None, list[Region]] = defaultdict(list)
    ids = {r.id for r in rows}
    for r in rows:
        below[r.parent_id if r.parent_id in ids else None].append(r)
    out: list[tuple[Region, int]] = []
    todo = [(r, 0) for r in reversed(below[None])]
    while todo:
        r, depth = todo.pop()
        if len(out) > len(rows):  # a cycle in the table: stop rather than loop
            break
        out.append((r, depth))
        todo += [(k, depth + 1) for k in reversed(below[r.id])]
    return out


def filters(session: Session, *, year: Any, category: Any = None, region: Any = None,
            inspection_type: Any = None, size: Any = None) -> Filters:
    """Validate the filters of a query; each names its field when it is refused.

    :raises InvalidInput:
    """
    from lims.samples.particulars import INSPECTION_TYPES

    for field, value in (("category", category), ("region", region),
                         ("inspection_type", inspection_type), ("size", size)):
        # A query string is anyone's text: a control character (NUL) would reach the
        # database driver, which refuses it (PostgreSQL) instead of finding nothing.
        if value is not None and (not isinstance(value, str) or len(value) > 60
                                  or not value.isprintable()):
            raise InvalidInput(msg("must be a code or a name of one"), field=field)
    category_ids = None
    if category not in (None, ""):
        try:
            found = categories.get_category(session, str(category))
        except NotFound:
            raise InvalidInput(msg("no product category %(code)s", code=category),
                               field="category") from None
        category_ids = frozenset(plans.category_ids(session, found.id))
    region_ids = None
    if region not in (None, ""):
        try:
            region_ids = frozenset(regions.descendant_ids(session, str(region)))
        except NotFound:
            raise InvalidInput(msg("no region %(code)s", code=region), field="region") from None
    if inspection_type not in (None, "") and inspection_type not in INSPECTION_TYPES:
        raise InvalidInput(msg("no inspection type %(value)s", value=inspection_type),
                           field="inspection_type")
    if size not in (None, "") and size not in SIZES:
        raise InvalidInput(msg("must be one of large, medium, small, micro"), field="size")
    return Filters(check_year(year), category_ids, region_ids, inspection_type or None,
                   size or None)


def _final(session: Session, f: Filters, timezone: str,
           years: list[int] | None = None, *, dimensions: bool = True) -> Any:
    """Per original sample of the year (filtered): its ids, dimensions, the sample whose
    conclusion is final, and that conclusion's class. With ``years`` (ascending), the samples
    of those years instead, each with its ``year`` (the lab's calendar). Without
    ``dimensions`` only the category is selected, and the sampling record, task, enterprise
    and request are joined only when a filter needs them (the trend: half the work)."""
    spans = [(dt.date(y, 1, 1), dt.date(y + 1, 1, 1)) for y in (years or [f.year])]
    start, end = spans[0][0], spans[-1][1]
    original = aliased(Sample)
    year = (case(*[((original.sampled_on >= lo) & (original.sampled_on < hi), literal(y))
                   for y, (lo, hi) in zip(years, spans, strict=True)])
            if years else literal(f.year)).label("year")
    # The newest re-inspection of each re-inspected sample: a few rows, joined by hash (a
    # correlated subquery per sample cost PostgreSQL a probe per sample; bench/passrates.py).
    again = aliased(Sample)
    reinspected = (select(again.reinspection_of_id.label("of"), func.max(again.id).label("id"))
                   .where(again.reinspection_of_id.is_not(None))
                   .group_by(again.reinspection_of_id).subquery("reinspected"))
    final_id = func.coalesce(reinspected.c.id, original.id).label("final_id")
    columns: list[Any] = [original.id.label("sample_id"), final_id, year,
                          original.category_id]
    sampling = dimensions or f.region_ids is not None or f.size is not None
    if dimensions:
        columns += [SamplingTask.region_id, Enterprise.size, TestRequest.inspection_type]
    base = (select(*columns).select_from(original)
            .outerjoin(reinspected, reinspected.c.of == original.id)
            .where(original.reinspection_of_id.is_(None),
                   original.sampled_on >= start, original.sampled_on < end))
    if dimensions or f.inspection_type is not None:
        base = base.join(TestRequest, TestRequest.id == original.request_id)
    if sampling:
        base = (base.outerjoin(SamplingRecord, SamplingRecord.sample_id == original.id)
                .outerjoin(SamplingTask, SamplingTask.id == SamplingRecord.task_id)
                .outerjoin(Enterprise, Enterprise.id == SamplingTask.enterprise_id))
    if f.category_ids is not None:
        base = base.where(original.category_id.in_(sorted(f.category_ids)))
    if f.region_ids is not None:
        base = base.where(SamplingTask.region_id.in_(sorted(f.region_ids)))
    if f.inspection_type is not None:
        base = base.where(TestRequest.inspection_type == f.inspection_type)
    if f.size is not None:
        base = base.where(Enterprise.size == f.size)
    samples = base.subquery("population")
    outcome = Report.outcome
    klass = case((outcome.in_(QUALIFIED), literal("q")),
                 (outcome.in_(UNQUALIFIED), literal("u")),
                 (outcome == DATA_ONLY, literal("d")), else_=literal("p")).label("class")
    return (select(samples, klass)
            .outerjoin(Report, and_(Report.sample_id == samples.c.final_id,
                                    Report.status == ReportStatus.ISSUED,
                                    Report.kind == "test_report"))).subquery("final")


def _grouped(session: Session, final: Any) -> dict[tuple[Any, ...], Counts]:
    out: dict[tuple[Any, ...], Counts] = {}
    keys = (final.c.category_id, final.c.region_id, final.c.size, final.c.inspection_type)
    for category, region, size, kind, klass, n in session.execute(
            select(*keys, final.c["class"], func.count()).group_by(*keys, final.c["class"])):
        key = (category, region, size, kind)
        out[key] = out.get(key, Counts()) + _counts(klass, int(n))
    return out


def _counts(klass: str, n: int) -> Counts:
    """``n`` samples of one class ("q", "u", "d" or "p")."""
    return Counts(n, n if klass == "q" else 0, n if klass == "u" else 0,
                  n if klass == "d" else 0)


def _items(session: Session, final: Any, limit: int) -> list[Item]:
    """The characteristics that failed in the unqualified samples, the most frequent first."""
    verdict = func.coalesce(ConformityDecision.conformity, Result.conformity)
    rows = session.execute(
        select(Characteristic.name, func.count(func.distinct(final.c.final_id)).label("n"))
        .select_from(final)
        .join(SampleTest, SampleTest.sample_id == final.c.final_id)
        .join(Result, Result.test_id == SampleTest.id)
        .join(Characteristic, Characteristic.id == Result.characteristic_id)
        .outerjoin(ConformityDecision, ConformityDecision.result_id == Result.id)
        .where(final.c["class"] == "u", Result.is_current, verdict.in_(FAILING))
        .group_by(Characteristic.name)
        .order_by(func.count(func.distinct(final.c.final_id)).desc(), Characteristic.name)
        .limit(limit))
    return [Item(name, int(n)) for name, n in rows]


def _sum(values: Iterable[Counts]) -> Counts:
    total = Counts()
    for c in values:
        total = total + c
    return total


def pass_rates(session: Session, *, year: Any, timezone: str, category: Any = None,
               region: Any = None, inspection_type: Any = None, size: Any = None,
               items: int = 10) -> PassRates:
    """The pass rates of ``year`` under the filters (category and region include everything
    below them).

    :raises InvalidInput: a filter names no category, region, type or size.
    """
    from lims.samples.particulars import INSPECTION_TYPES

    f = filters(session, year=year, category=category, region=region,
                inspection_type=inspection_type, size=size)
    final = _final(session, f, timezone)
    grouped = _grouped(session, final)
    total = _sum(grouped.values())

    per_category: dict[int | None, Counts] = defaultdict(Counts)
    per_region: dict[int | None, Counts] = defaultdict(Counts)
    per_size: dict[str | None, Counts] = defaultdict(Counts)
    per_type: dict[str, Counts] = defaultdict(Counts)
    for (cat, reg, siz, kind), c in grouped.items():
        per_category[cat] += c
        per_region[reg] += c
        per_size[siz] += c
        per_type[kind] += c

    families: list[Row] = []
    category_rows: list[Row] = []
    for family in categories.tree(session):
        target = family.category.target_pass_rate
        for node in family.walk():
            counts = _sum(per_category.get(n.category.id, Counts()) for n in node.walk())
            cat = node.category
            if node.depth == 0:
                families.append(Row(cat.code, cat.name_zh, cat.name_en, counts, 0, target))
            if counts.sampled:
                category_rows.append(Row(cat.code, cat.name_zh, cat.name_en, counts,
                                         node.depth, target))
    if per_category.get(None, Counts()).sampled:
        category_rows.append(Row("", "未分类", "Uncategorised", per_category[None]))

    below: dict[int | None, list[Region]] = defaultdict(list)
    for r in regions.list_regions(session):
        below[r.parent_id].append(r)

    def region_total(r: Region) -> Counts:
        return per_region.get(r.id, Counts()) + _sum(region_total(k) for k in below[r.id])

    region_rows: list[Row] = []

    def walk(r: Region, depth: int) -> None:
        counts = region_total(r)
        if counts.sampled:
            region_rows.append(Row(r.code, r.name_zh, r.name_en, counts, depth))
            for k in below[r.id]:
                walk(k, depth + 1)

    for top in below[None]:
        walk(top, 0)
    if per_region.get(None, Counts()).sampled:
        region_rows.append(Row("", "未记录地区", "No region recorded", per_region[None]))

    size_names = {"large": ("大型", "Large"), "medium": ("中型", "Medium"),
                  "small": ("小型", "Small"), "micro": ("微型", "Micro"),
                  None: ("未记录规模", "No size recorded")}
    size_rows = [Row(s or "", *size_names[s], per_size[s]) for s in (*SIZES, None)
                 if per_size.get(s, Counts()).sampled]
    type_rows = [Row(k, *INSPECTION_TYPES.get(k, (k, k)), per_type[k])
                 for k in INSPECTION_TYPES if per_type.get(k, Counts()).sampled]
    type_rows += [Row(k, k, k, c) for k, c in per_type.items()
                  if k not in INSPECTION_TYPES and c.sampled]

    shown = {"year": str(f.year)}
    for name, value in (("category", category), ("region", region),
                        ("inspection_type", inspection_type), ("size", size)):
        if value not in (None, ""):
            shown[name] = str(value).strip().upper() if name == "category" else str(value)
    return PassRates(f.year, shown, total, families, category_rows, region_rows, size_rows,
                     type_rows,
                     _items(session, _final(session, f, timezone, dimensions=False), items)
                     if items else [])


def years_held(session: Session, timezone: str) -> list[int]:
    """The years in which samples were taken, oldest first (``timezone`` is kept for the
    callers: the days are the lab's already)."""
    row: Any = session.execute(select(func.min(Sample.sampled_on),
                                      func.max(Sample.sampled_on))).one()
    first, last = row
    if first is None:
        return []
    return list(range(first.year, last.year + 1))


def family_trend(session: Session, *, years: Iterable[int], timezone: str,
                 inspection_type: Any = None) -> dict[str, list[tuple[int, Counts]]]:
    """Per target family code, its counts in each of ``years`` (for the white paper's trend),
    the same as :func:`pass_rates` gives for each year, in one statement.

    :raises InvalidInput: a year out of range or an unknown inspection type.
    """
    wanted = sorted({check_year(y) for y in years})
    if not wanted:
        return {}
    f = filters(session, year=wanted[0], inspection_type=inspection_type)
    final = _final(session, f, timezone, wanted, dimensions=False)
    keys = (final.c.year, final.c.category_id, final.c["class"])
    per: dict[tuple[int, int | None], Counts] = defaultdict(Counts)
    for year, category, klass, n in session.execute(
            select(*keys, func.count()).group_by(*keys)):
        if year is None:  # between two years asked for
            continue
        per[int(year), category] += _counts(klass, int(n))
    out: dict[str, list[tuple[int, Counts]]] = {}
    for family in categories.tree(session):
        ids = [n.category.id for n in family.walk()]
        out[family.category.code] = [(y, _sum(per.get((y, i), Counts()) for i in ids))
                                     for y in wanted]
    return out
