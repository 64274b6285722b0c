"""The random draw (双随机): enterprises drawn from the register, inspectors from the qualified
staff, with a recorded seed so that an auditor can repeat the draw and get the same tasks.

《产品质量监督抽查管理暂行办法》 (SAMR Order 18, 2019) art. 11 and the 双随机、一公开 rules:
the enterprises to sample and the inspectors who sample them are both drawn at random; an
enterprise sampled in the previous ``plan.exclusion_months`` months (any plan) is left out, so
that the same enterprise is not sampled twice in a short time (art. 12). Two inspectors go to
each enterprise (art. 14: at least two).

The rule, exactly, so that :func:`replay` can repeat it: ``random.Random(seed)``; the
enterprises are ``rng.sample(enterprise_pool, count)`` from the pool sorted by id; then, task by
task, two distinct inspectors are taken from the front of a deck — the inspector pool (sorted
by user id) shuffled with the same ``rng`` — and the deck is refilled with a new shuffle of the
whole pool when it cannot give one, so the work spreads over everyone before anyone goes twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import secrets
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from lims.audit.services import record, snapshot
from lims.auth.models import User
from lims.auth.services import get_user, require
from lims.db import utcnow
from lims.errors import Conflict, InvalidInput, NotFound, msg
from lims.numbering import next_number
from lims.supervision import regions
from lims.supervision.models import (
    Enterprise,
    PlanQuota,
    RandomDraw,
    SamplingInspector,
    SamplingTask,
    SpotCheckPlan,
)
from lims.supervision.plans import category as plan_category
from lims.supervision.plans import category_ids, drawn_counts, get_plan, months_before
from lims.validate import as_id, date, text
from lims.web.listing import contains_text

TASK_FORMAT = "RW{year}-{seq:05d}"
INSPECTORS_PER_TASK = 2
MAX_SEED = 64


# --- sampling inspectors (抽样人员) ---------------------------------------------------------

def qualify_inspector(session: Session, *, actor: User, username: Any, qualification: Any,
                      valid_until: Any, active: bool = True) -> SamplingInspector:
    """Record (or renew) a user's qualification to take samples; ``active`` False withdraws it.

    :raises InvalidInput: an unknown or disabled user, a missing qualification number or date.
    """
    require(actor, "plan.manage")
    name = text(username, "username", max_len=60)
    user = get_user(session, name)
    if user is None or not user.active:
        raise InvalidInput(msg("no active user %(name)s", name=name), field="username")
    number = text(qualification, "qualification", max_len=80)
    until = date(valid_until, "valid_until")
    found = session.scalar(select(SamplingInspector).where(SamplingInspector.user_id == user.id))
    before = snapshot(found) if found else None
    if found is None:
        found = SamplingInspector(user_id=user.id)
        session.add(found)
    found.qualification, found.valid_until, found.active = number, until, bool(active)
    session.flush()
    record(session, actor=actor, action="inspector.qualify", entity_type="sampling_inspectors",
           entity_id=user.username, before=before, after=snapshot(found))
    return found


def inspectors_query() -> Select[SamplingInspector, User]:
    """The sampling inspectors with their users (unsorted: the page and the API page it, by
    username)."""
    return select(SamplingInspector, User).join(User, User.id == SamplingInspector.user_id)


SUGGESTED_USERS = 20  # the qualify form's type-ahead: at most this many users (issue 14)


def find_users(session: Session, term: str) -> list[User]:
    """Active users whose username or full name contains ``term``, by username, at most
    :data:`SUGGESTED_USERS`: the qualify form's type-ahead, so that the form does not list
    every user (issue 14)."""
    query = select(User).where(User.active.is_(True))
    if term:
        query = query.where(user_matches(term))
    return list(session.scalars(query.order_by(User.username).limit(SUGGESTED_USERS)))


def user_matches(term: str) -> ColumnElement[bool]:
    """A user whose username or full name contains ``term`` (any case)."""
    return or_(contains_text(User.username, term), contains_text(User.full_name, term))


def inspector_pool(session: Session, on: dt.date) -> list[int]:
    """User ids of the inspectors who may be drawn on ``on``: active, qualified until then,
    and with an active account; sorted."""
    return sorted(session.scalars(
        select(SamplingInspector.user_id).join(User, User.id == SamplingInspector.user_id)
        .where(SamplingInspector.active.is_(True), User.active.is_(True),
               or_(SamplingInspector.valid_until.is_(None),
                   SamplingInspector.valid_until >= on))))


# --- the draw ------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Pick:
    enterprise_id: int
    inspector1_id: int
    inspector2_id: int


def select_tasks(seed: str, count: int, enterprises: list[int], inspectors: list[int]
                 ) -> list[Pick]:
    """The rule of the draw (module docstring): pure, so that a replay applies the same code."""
    # Reproducible by design: an auditor repeats the draw from the seed; the seed itself
    # comes from ``secrets`` and is recorded only with the draw.
    rng = random.Random(seed)  # noqa: S311
    chosen = rng.sample(sorted(enterprises), count)
    pool = sorted(inspectors)
    deck: list[int] = []

    def take(exclude: int | None) -> int:
        if not any(i != exclude for i in deck):
            fresh = list(pool)
            rng.shuffle(fresh)
            deck.extend(fresh)
        pick = next(i for i in deck if i != exclude)
        deck.remove(pick)
        return pick

    picks = []
    for enterprise_id in chosen:
        first = take(None)
        picks.append(Pick(enterprise_id, first, take(first)))
    return picks


def _lock_plan(session: Session, plan_id: int) -> SpotCheckPlan:
    # One draw per plan at a time: PostgreSQL makes a second draw wait here until the first
    # commits, then it counts the first's tasks (READ COMMITTED: a new snapshot per statement);
    # SQLite serialises writers from the start of the unit of work.
    return session.scalars(select(SpotCheckPlan).where(SpotCheckPlan.id == plan_id)
                           .with_for_update().execution_options(populate_existing=True)).one()


def draw(session: Session, actor: User, plan: SpotCheckPlan | str, category: Any, region: Any,
         seed: Any = None, *, timezone: str = "Asia/Shanghai") -> RandomDraw:
    """Draw the rest of a quota: ``quota - already drawn`` enterprises of ``category`` (a code;
    subcategories included) in ``region`` (a code; the regions below it included), two
    inspectors for each; each becomes a sampling task (status "drawn").

    :raises Conflict: the plan is closed, or the quota is met already (field ``quota``).
    :raises InvalidInput: no quota for that category and region, a bad seed, fewer enterprises
        left to draw than needed (field ``region``), fewer than two qualified inspectors (field
        ``inspectors``).
    """
    require(actor, "plan.manage")
    number = plan.number if isinstance(plan, SpotCheckPlan) else plan
    locked = _lock_plan(session, get_plan(session, number).id)
    if locked.status != "open":
        raise Conflict(msg("plan %(number)s is closed", number=locked.number), field="plan")
    kind = plan_category(session, category, "category")
    place = regions.resolve(session, region, "region")
    quota = session.scalar(select(PlanQuota).where(
        PlanQuota.plan_id == locked.id, PlanQuota.category_id == kind.id,
        PlanQuota.region_id == place.id))
    if quota is None:
        raise InvalidInput(msg("plan %(number)s has no quota for %(category)s in %(region)s",
                               number=locked.number, category=kind.code, region=place.code),
                           field="region")
    if seed is None or seed == "":
        seed = secrets.token_hex(16)
    seed = text(seed, "seed", max_len=MAX_SEED)
    already = drawn_counts(session, locked).get((kind.id, place.id), 0)
    count = quota.quota - already
    if count <= 0:
        raise Conflict(msg("the quota of %(n)s for %(category)s in %(region)s is met already",
                           n=quota.quota, category=kind.code, region=place.code), field="quota")
    now = utcnow()
    today = now.astimezone(ZoneInfo(timezone)).date()
    cutoff = months_before(now, locked.exclusion_months)
    recent = select(SamplingTask.enterprise_id).where(or_(
        SamplingTask.created_at >= cutoff,
        # Never twice in one plan and category, whatever the window.
        (SamplingTask.plan_id == locked.id) & (SamplingTask.category_id == kind.id)))
    pool = sorted(session.scalars(select(Enterprise.id).where(
        Enterprise.category_id.in_(category_ids(session, kind.id)),
        Enterprise.region_id.in_(regions.below(session, place.id)),
        Enterprise.retired_at.is_(None), Enterprise.id.not_in(recent))))
    if len(pool) < count:
        raise InvalidInput(msg("%(n)s enterprises of %(category)s in %(region)s can be drawn "
                               "(not retired, not sampled in the last %(months)s months); the "
                               "quota needs %(count)s", n=len(pool), category=kind.code,
                               region=place.code, months=locked.exclusion_months, count=count),
                           field="region", available=len(pool), needed=count)
    people = inspector_pool(session, today)
    if len(people) < INSPECTORS_PER_TASK:
        raise InvalidInput(msg("%(n)s sampling inspectors are qualified on %(day)s; a task needs "
                               "two", n=len(people), day=today.isoformat()), field="inspectors")
    the_draw = RandomDraw(plan_id=locked.id, category_id=kind.id, region_id=place.id, seed=seed,
                          count=count, exclusion_months=locked.exclusion_months,
                          enterprise_pool=json.dumps(pool), inspector_pool=json.dumps(people),
                          drawn_at=now, drawn_by_id=actor.id)
    session.add(the_draw)
    session.flush()
    record(session, actor=actor, action="draw.create", entity_type="random_draws",
           entity_id=the_draw.id, after=snapshot(the_draw))
    for pick in select_tasks(seed, count, pool, people):
        task = SamplingTask(
            number=next_number(session, "sampling_task", TASK_FORMAT, today=today),
            plan_id=locked.id, draw_id=the_draw.id, enterprise_id=pick.enterprise_id,
            category_id=kind.id, region_id=place.id, inspector1_id=pick.inspector1_id,
            inspector2_id=pick.inspector2_id, status="drawn", created_at=now)
        session.add(task)
        session.flush()
        record(session, actor=actor, action="task.draw", entity_type="sampling_tasks",
               entity_id=task.number, after=snapshot(task))
    return the_draw


def get_draw(session: Session, draw_id: Any) -> RandomDraw:
    """:raises NotFound:"""
    found = session.get(RandomDraw, as_id(draw_id, "draw"))
    if found is None:
        raise NotFound(msg("no random draw %(id)s", id=draw_id), draw=draw_id)
    return found


def draw_tasks(session: Session, draw_id: int) -> list[SamplingTask]:
    """The tasks of a draw, in the order they were drawn."""
    return list(session.scalars(select(SamplingTask).where(SamplingTask.draw_id == draw_id)
                                .order_by(SamplingTask.id)))


@dataclasses.dataclass(frozen=True)
class Replay:
    """An auditor's check of a draw: the selection recomputed from the stored seed and pools
    against the tasks on record."""

    draw_id: int
    seed: str
    expected: list[Pick]
    recorded: list[Pick]

    @property
    def matches(self) -> bool:
        return self.expected == self.recorded


def replay(session: Session, draw_id: Any) -> Replay:
    """Repeat a draw from its stored seed and pools; ``matches`` says whether the tasks on
    record are the ones the rule gives (a task added, removed or changed behind the draw's
    back shows as a mismatch).

    :raises NotFound:
    """
    found = get_draw(session, draw_id)
    expected = select_tasks(found.seed, found.count, json.loads(found.enterprise_pool),
                            json.loads(found.inspector_pool))
    recorded = [Pick(t.enterprise_id, t.inspector1_id, t.inspector2_id)
                for t in draw_tasks(session, found.id)]
    return Replay(found.id, found.seed, expected, recorded)


def tasks_of_plan(session: Session, plan: SpotCheckPlan) -> list[SamplingTask]:
    return list(session.scalars(select(SamplingTask).where(SamplingTask.plan_id == plan.id)
                                .order_by(SamplingTask.id)))


def draws_of_plan(session: Session, plan: SpotCheckPlan) -> list[RandomDraw]:
    return list(session.scalars(select(RandomDraw).where(RandomDraw.plan_id == plan.id)
                                .order_by(RandomDraw.id)))


def task_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(SamplingTask)) or 0


def task_as_dict(task: SamplingTask, users: dict[int, str]) -> dict[str, Any]:
    return {"number": task.number, "enterprise": task.enterprise.name,
            "credit_code": task.enterprise.credit_code, "category": task.category.code,
            "region": task.region.code, "draw_id": task.draw_id,
            "inspectors": [users.get(task.inspector1_id, ""), users.get(task.inspector2_id, "")],
            "status": task.status, "created_at": task.created_at.isoformat()}


def usernames(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {i: name for i, name in session.execute(select(User.id, User.username)
                                                   .where(User.id.in_(ids)))}
