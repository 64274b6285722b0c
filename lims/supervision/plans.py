"""Spot-check plans (抽查计划): what to sample in a year, judged against what, how many where.

A plan names its categories, each with the product standard judged against (判定依据) and the
test methods applied, and a quota per (category, region) whose sum stays within the budget of
samples (《产品质量监督抽查管理暂行办法》, SAMR Order 18 (2019), art. 9: the plan states the
products, the basis of inspection, the number of samples and the regions). Plans are numbered in
their own series; a closed plan takes no more draws.

Services: a session and keyword data, flush but never commit, an audit event for every change;
errors name the field.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from lims.audit.services import record, snapshot
from lims.auth.models import User
from lims.auth.services import require
from lims.errors import Conflict, InvalidInput, NotFound, msg
from lims.numbering import next_number
from lims.samples import categories
from lims.samples.models import ProductCategory, TestMethod
from lims.supervision import regions
from lims.supervision.models import PlanCategory, PlanQuota, SamplingTask, SpotCheckPlan
from lims.validate import is_utf8, text

PLAN_FORMAT = "CJ{year}-{seq:03d}"
MAX_EXCLUSION_MONTHS = 120
MAX_BUDGET = 100_000


def category(session: Session, value: Any, field: str = "category") -> ProductCategory:
    """The (not retired) category named by its code, required.

    :raises InvalidInput: missing, not text, control characters, unknown or retired (named
        ``field``).
    """
    found = categories.resolve(session, text(value, field, max_len=40), field)
    if found is None:
        raise InvalidInput(msg("is required"), field=field)
    return found


def category_ids(session: Session, category_id: int) -> set[int]:
    """The ids of the category and of every category below it (subcategories included)."""
    found, level = {category_id}, {category_id}
    for _ in range(categories.MAX_DEPTH):
        level = set(session.scalars(select(ProductCategory.id)
                                    .where(ProductCategory.parent_id.in_(level)))) - found
        if not level:
            break
        found |= level
    return found


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day and time ``months`` calendar months earlier (the 31st becomes the month's
    last day)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last))


def _whole(value: Any, field: str, *, low: int, high: int) -> int:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdecimal() \
            and len(value.strip()) < 10:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(msg("must be a whole number"), field=field)
    if not low <= value <= high:
        raise InvalidInput(msg("must be between %(low)s and %(high)s", low=low, high=high),
                           field=field)
    return value


def _categories(session: Session, items: Any) -> list[tuple[ProductCategory, str, list[str]]]:
    if not isinstance(items, list) or not items:
        raise InvalidInput(msg("name at least one category"), field="categories")
    out: list[tuple[ProductCategory, str, list[str]]] = []
    for i, item in enumerate(items):
        where = f"categories[{i}]"
        if not isinstance(item, dict):
            raise InvalidInput(msg("must be an object"), field=where)
        kind = category(session, item.get("code"), f"{where}.code")
        if any(c.id == kind.id for c, _s, _m in out):
            raise InvalidInput(msg("category %(code)s is named twice", code=kind.code),
                               field=f"{where}.code")
        standard = text(item.get("product_standard"), f"{where}.product_standard", max_len=300)
        codes = item.get("method_codes", [])
        if not isinstance(codes, list) or not codes:
            raise InvalidInput(msg("name at least one test method"),
                               field=f"{where}.method_codes")
        methods = []
        for j, code in enumerate(codes):
            field = f"{where}.method_codes[{j}]"
            code = text(code, field, max_len=80)
            if not session.scalar(select(TestMethod.id).where(TestMethod.code == code,
                                                              TestMethod.retired_at.is_(None))):
                raise InvalidInput(msg("no test method %(code)s", code=code), field=field)
            methods.append(code)
        out.append((kind, standard, methods))
    return out


def create_plan(session: Session, *, actor: User, year: Any, title: Any, authority: Any,
                budget_samples: Any, categories: Any, quotas: Any, sampling_method: Any = "",
                exclusion_months: Any = 12) -> SpotCheckPlan:
    """Register a plan: its categories (``[{"code", "product_standard", "method_codes"}]``)
    and quotas (``[{"category", "region", "quota"}]``, each category one of the plan's).

    :raises InvalidInput: a missing or bad field, an unknown category, method or region, a
        quota named twice, or quotas summing above ``budget_samples`` (each named).
    """
    require(actor, "plan.manage")
    year = _whole(year, "year", low=2000, high=2199)
    title = text(title, "title", max_len=300)
    authority = text(authority, "authority", max_len=200)
    method = text(sampling_method, "sampling_method", required=False, max_len=4000,
                  multiline=True)
    budget = _whole(budget_samples, "budget_samples", low=1, high=MAX_BUDGET)
    exclusion = _whole(12 if exclusion_months is None else exclusion_months,
                       "exclusion_months", low=0, high=MAX_EXCLUSION_MONTHS)
    kinds = _categories(session, categories)
    if not isinstance(quotas, list) or not quotas:
        raise InvalidInput(msg("name at least one quota"), field="quotas")
    by_code = {k.code: k for k, _s, _m in kinds}
    seen: set[tuple[int, int]] = set()
    rows: list[tuple[int, int, int]] = []
    for i, item in enumerate(quotas):
        where = f"quotas[{i}]"
        if not isinstance(item, dict):
            raise InvalidInput(msg("must be an object"), field=where)
        code = item.get("category")
        kind = by_code.get(code.strip().upper()) if isinstance(code, str) else None
        if kind is None:
            raise InvalidInput(msg("must be one of the plan's categories"),
                               field=f"{where}.category")
        place = regions.resolve(session, item.get("region"), f"{where}.region")
        if (kind.id, place.id) in seen:
            raise InvalidInput(msg("a quota for %(category)s in %(region)s is named twice",
                                   category=kind.code, region=place.code), field=where)
        seen.add((kind.id, place.id))
        rows.append((kind.id, place.id,
                     _whole(item.get("quota"), f"{where}.quota", low=1, high=MAX_BUDGET)))
    total = sum(n for _c, _r, n in rows)
    if total > budget:
        raise InvalidInput(msg("the quotas add up to %(total)s samples, above the budget of "
                               "%(budget)s", total=total, budget=budget), field="quotas")
    plan = SpotCheckPlan(
        number=next_number(session, "spot_check_plan", PLAN_FORMAT, today=dt.date(year, 1, 1)),
        year=year, title=title, authority=authority, sampling_method=method,
        budget_samples=budget, exclusion_months=exclusion, status="open",
        created_by_id=actor.id)
    session.add(plan)
    session.flush()
    for kind, standard, methods in kinds:
        session.add(PlanCategory(plan_id=plan.id, category_id=kind.id, product_standard=standard,
                                 method_codes=json.dumps(methods, ensure_ascii=False)))
    for category_id, region_id, n in rows:
        session.add(PlanQuota(plan_id=plan.id, category_id=category_id, region_id=region_id,
                              quota=n))
    session.flush()
    session.refresh(plan)
    record(session, actor=actor, action="plan.create", entity_type="spot_check_plans",
           entity_id=plan.number, after=as_dict(session, plan))
    return plan


def get_plan(session: Session, number: str) -> SpotCheckPlan:
    """:raises NotFound:"""
    number = str(number).strip()[:40]
    found = session.scalar(select(SpotCheckPlan).where(SpotCheckPlan.number == number)) \
        if number.isprintable() and is_utf8(number) else None
    if found is None:
        raise NotFound(msg("no spot-check plan %(number)s", number=str(number)[:40]),
                       plan=str(number)[:40])
    return found


def plans_query(*, year: int | None = None) -> Select[SpotCheckPlan]:
    """The plans, of one year or all (unsorted: the page and the API page it, newest
    first)."""
    query = select(SpotCheckPlan)
    if year is not None:
        query = query.where(SpotCheckPlan.year == year)
    return query


def close_plan(session: Session, *, actor: User, number: str, reason: Any = "") -> SpotCheckPlan:
    """Close a plan: it takes no more draws; its tasks go on.

    :raises Conflict: closed already (a conditional update: one of two closings wins).
    """
    require(actor, "plan.manage")
    why = text(reason, "reason", required=False, max_len=500)
    plan = get_plan(session, number)
    before = snapshot(plan)
    done = session.execute(update(SpotCheckPlan).where(SpotCheckPlan.id == plan.id,
                                                       SpotCheckPlan.status == "open")
                           .values(status="closed"))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(msg("plan %(number)s is closed already", number=plan.number))
    session.refresh(plan)
    record(session, actor=actor, action="plan.close", entity_type="spot_check_plans",
           entity_id=plan.number, before=before, after=snapshot(plan), reason=why or None)
    return plan


def drawn_counts(session: Session, plan: SpotCheckPlan) -> dict[tuple[int, int], int]:
    """Tasks that count against each (category id, region id) quota: all but cancelled ones
    (a cancelled task — the enterprise closed, say — frees its place for another draw)."""
    rows = session.execute(
        select(SamplingTask.category_id, SamplingTask.region_id, func.count())
        .where(SamplingTask.plan_id == plan.id, SamplingTask.status != "cancelled")
        .group_by(SamplingTask.category_id, SamplingTask.region_id))
    return {(c, r): n for c, r, n in rows}


def as_dict(session: Session, plan: SpotCheckPlan) -> dict[str, Any]:
    """A plan as the API gives it, with each quota's drawn count."""
    drawn = drawn_counts(session, plan)
    return {
        "number": plan.number, "year": plan.year, "title": plan.title,
        "authority": plan.authority, "sampling_method": plan.sampling_method,
        "budget_samples": plan.budget_samples, "exclusion_months": plan.exclusion_months,
        "status": plan.status, "created_at": plan.created_at.isoformat(),
        "categories": [{"code": c.category.code, "product_standard": c.product_standard,
                        "method_codes": json.loads(c.method_codes)} for c in plan.categories],
        "quotas": [{"category": q.category.code, "region": q.region.code, "quota": q.quota,
                    "drawn": drawn.get((q.category_id, q.region_id), 0)} for q in plan.quotas],
    }
