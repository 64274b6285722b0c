"""Spot-check plans, the register of enterprises and the random draw (issue 13 §1), on both
databases: validation names the field, a draw is reproducible from its seed, the exclusion
window is honoured, and concurrent draws never exceed a quota (PostgreSQL, real threads)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import func, select, update

from lims.audit.models import AuditEvent
from lims.db import unit_of_work, utcnow
from lims.errors import Conflict, InvalidInput, PermissionDenied
from lims.samples.duplicates import CREDIT_ALPHABET
from lims.supervision import draws, enterprises, plans, regions
from lims.supervision.models import Enterprise, RandomDraw, SamplingTask
from tests.integration.test_races import race


def credit_code(n: int) -> str:
    """A valid unified social credit code (GB 32100-2015 check character) numbered ``n``."""
    body = f"91420100MA{n:07d}"
    total = sum(CREDIT_ALPHABET.index(ch) * pow(3, i, 31) for i, ch in enumerate(body))
    return body + CREDIT_ALPHABET[(31 - total % 31) % 31]


def register(session: Any, world: Any, *, count: int = 6, region: str = "420111",
             category: str = "IND-CHILD-CLOTHING", start: int = 1) -> list[int]:
    """``count`` enterprises in the register; three inspectors qualified (tech, tech2, reviewer)."""
    qm = world.user(session, "qm")
    with unit_of_work(session):
        ids = [enterprises.create_enterprise(
            session, actor=qm, name=f"Enterprise {n}", credit_code=credit_code(n), region=region,
            category=category, size="small").id for n in range(start, start + count)]
        until = (utcnow().date() + dt.timedelta(days=365)).isoformat()
        for name in ("tech", "tech2", "reviewer"):
            draws.qualify_inspector(session, actor=qm, username=name, qualification=f"CY-{name}",
                                    valid_until=until)
    return ids


def new_plan(session: Any, world: Any, *, quota: int = 3, exclusion_months: int = 12) -> str:
    with unit_of_work(session):
        return plans.create_plan(
            session, actor=world.user(session, "qm"), year=2026, title="儿童服装监督抽查",
            authority="湖北省市场监督管理局", budget_samples=10, exclusion_months=exclusion_months,
            categories=[{"code": "IND", "product_standard": "GB 31701-2015",
                         "method_codes": ["GB/T 4669-2008"]}],
            quotas=[{"category": "IND", "region": "420100", "quota": quota}]).number


def refused(call: Any, kind: type[Exception] = InvalidInput) -> Any:
    with pytest.raises(kind) as caught:
        call()
    return caught.value


def test_register_and_plan_validate_each_field(session, world):
    qm, tech = world.user(session, "qm"), world.user(session, "tech")
    assert {r.code for r in regions.list_regions(session)} >= {"420000", "420100", "429021"}
    assert len([r for r in regions.list_regions(session) if r.level == "prefecture"]) == 17
    wuhan = regions.descendant_ids(session, "420100")
    assert regions.get_region(session, "420111").id in wuhan
    assert regions.get_region(session, "420502").id not in wuhan  # 西陵区 is Yichang's
    good = {"name": "A", "credit_code": credit_code(1), "region": "420111",
            "category": "IND-TOY", "size": "small"}
    for field, bad in [("credit_code", credit_code(1)[:-1] + "0"), ("region", "429999"),
                       ("category", "NOPE"), ("size", "huge"), ("name", " ")]:
        assert refused(lambda f=field, b=bad: enterprises.create_enterprise(
            session, actor=qm, **{**good, f: b})).field == field
    refused(lambda: enterprises.create_enterprise(session, actor=tech, **good), PermissionDenied)
    with unit_of_work(session):
        e = enterprises.create_enterprise(session, actor=qm, **good)
    assert refused(lambda: enterprises.create_enterprise(
        session, actor=qm, **good)).field == "credit_code"
    found = session.scalars(enterprises.enterprises_query(
        session, {"q": "a", "region": "420100", "category": "IND"})).all()
    assert [x.id for x in found] == [e.id]
    assert not session.scalars(enterprises.enterprises_query(session, {"region": "420500"})).all()
    with unit_of_work(session):
        enterprises.retire_enterprise(session, actor=qm, enterprise_id=e.id, reason="closed")
    refused(lambda: enterprises.retire_enterprise(session, actor=qm, enterprise_id=e.id,
                                                  reason="again"), Conflict)

    plan = {"year": 2026, "title": "T", "authority": "SAMR Hubei", "budget_samples": 5,
            "categories": [{"code": "IND", "product_standard": "GB 31701-2015",
                            "method_codes": ["GB/T 4669-2008"]}],
            "quotas": [{"category": "IND", "region": "420100", "quota": 3}]}
    cases = [("year", {"year": "MMXXVI"}),
             ("categories[0].method_codes[0]", {"categories": [{
                 "code": "IND", "product_standard": "x", "method_codes": ["GB 0-0"]}]}),
             ("categories[0].code", {"categories": [{"code": "NOPE", "product_standard": "x",
                                                     "method_codes": ["GB/T 4669-2008"]}]}),
             ("quotas[0].category", {"quotas": [{"category": "FOOD", "region": "420100",
                                                 "quota": 1}]}),
             ("quotas[0].region", {"quotas": [{"category": "IND", "region": "1",
                                               "quota": 1}]}),
             ("quotas", {"quotas": [{"category": "IND", "region": "420100", "quota": 3},
                                    {"category": "IND", "region": "420500", "quota": 3}]})]
    for field, change in cases:
        assert refused(lambda c=change: plans.create_plan(
            session, actor=qm, **{**plan, **c})).field == field
    with unit_of_work(session):
        first = plans.create_plan(session, actor=qm, **plan)
        second = plans.create_plan(session, actor=qm, **plan)
    assert (first.number, second.number) == ("CJ2026-001", "CJ2026-002")
    assert first.exclusion_months == 12
    with unit_of_work(session):
        plans.close_plan(session, actor=qm, number=second.number, reason="withdrawn")
    refused(lambda: plans.close_plan(session, actor=qm, number=second.number), Conflict)
    assert refused(lambda: draws.draw(session, qm, second.number, "IND", "420100"),
                   Conflict).field == "plan"


def test_a_draw_is_reproducible_and_honours_the_exclusion_window(session, world):
    qm = world.user(session, "qm")
    pool = register(session, world, count=5)
    # Yichang's enterprise and a food one are outside the quota (region, category).
    register(session, world, count=1, region="420502", start=50)
    register(session, world, count=1, category="FOOD-DAIRY", start=60)
    number = new_plan(session, world, quota=3)
    with unit_of_work(session):
        made = draws.draw(session, qm, number, "IND", "420100", seed="audit-2026")
        draw_id = made.id
    tasks = draws.draw_tasks(session, draw_id)
    assert len(tasks) == 3 and {t.enterprise_id for t in tasks} <= set(pool)
    assert all(t.inspector1_id != t.inspector2_id and t.status == "drawn" for t in tasks)
    # Three inspectors, six places: each goes twice (the deck spreads the work).
    people = [p for t in tasks for p in (t.inspector1_id, t.inspector2_id)]
    assert sorted(people.count(p) for p in set(people)) == [2, 2, 2]
    assert json.loads(made.enterprise_pool) == sorted(pool)
    assert [t.number[-6:] for t in tasks] == ["-00001", "-00002", "-00003"]
    actions = session.scalars(select(AuditEvent.action).where(
        AuditEvent.action.in_(["draw.create", "task.draw"]))).all()
    assert sorted(actions) == ["draw.create"] + ["task.draw"] * 3
    check = draws.replay(session, draw_id)
    assert check.matches and check.seed == "audit-2026"
    # The same seed over the same pools gives the same tasks; another seed another draw.
    assert draws.select_tasks("audit-2026", 3, pool, json.loads(made.inspector_pool)) == \
        check.recorded
    assert refused(lambda: draws.draw(session, qm, number, "IND", "420100"),
                   Conflict).field == "quota"
    # A task changed behind the draw's back shows in the replay.
    with unit_of_work(session):
        session.execute(update(SamplingTask).where(SamplingTask.id == tasks[0].id)
                        .values(inspector1_id=tasks[0].inspector2_id,
                                inspector2_id=tasks[0].inspector1_id))
    assert not draws.replay(session, draw_id).matches

    # Another plan: the three sampled enterprises are excluded for 12 months (any plan), so
    # two remain for a quota of three; a task older than the window frees its enterprise.
    other = new_plan(session, world, quota=3)
    error = refused(lambda: draws.draw(session, qm, other, "IND", "420100"))
    assert error.field == "region" and error.data["available"] == 2
    with unit_of_work(session):
        session.execute(update(SamplingTask).where(SamplingTask.id == tasks[0].id)
                        .values(created_at=plans.months_before(utcnow(), 13)))
    with unit_of_work(session):
        again = draws.draw(session, qm, other, "IND", "420100")
    chosen = {t.enterprise_id for t in draws.draw_tasks(session, again.id)}
    assert chosen == set(pool) - {t.enterprise_id for t in tasks[1:]}
    assert len(again.seed) == 32 and draws.replay(session, again.id).matches

    # Fewer than two inspectors qualified on the day: refused, naming them.
    third = new_plan(session, world, quota=1, exclusion_months=0)
    with unit_of_work(session):
        for name in ("tech", "tech2"):
            draws.qualify_inspector(session, actor=qm, username=name, qualification="x",
                                    valid_until="2020-01-01")
    assert refused(lambda: draws.draw(session, qm, third, "IND", "420100")).field == "inspectors"


@pytest.mark.postgres
def test_concurrent_draws_never_exceed_the_quota(app, session, world, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers; the race shows on PostgreSQL")
    register(session, world, count=8)
    number = new_plan(session, world, quota=4)

    def attempt(s: Any) -> int:
        return draws.draw(s, world.user(s, "qm"), number, "IND", "420100").count

    outcomes = race(app, [attempt] * 4)
    assert sorted(o if isinstance(o, int) else 0 for o in outcomes) == [0, 0, 0, 4]
    assert all(isinstance(o, Conflict) for o in outcomes if not isinstance(o, int))
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(SamplingTask)) == 4
    assert session.scalar(select(func.count()).select_from(RandomDraw)) == 1
    assert session.scalar(select(func.count()).select_from(Enterprise)) == 8


def test_concurrent_registrations_of_one_credit_code_make_one_enterprise(app, session, world):
    """The loser of two concurrent registrations is told the code is taken (422 naming
    ``credit_code``), not a database error."""
    def attempt(s: Any) -> int:
        return enterprises.create_enterprise(
            s, actor=world.user(s, "qm"), name="Twin", credit_code=credit_code(99),
            region="420111", category="IND", size="small").id

    outcomes = race(app, [attempt] * 2)
    losers = [o for o in outcomes if not isinstance(o, int)]
    assert len(losers) == 1 and isinstance(losers[0], InvalidInput), outcomes
    assert losers[0].field == "credit_code"
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Enterprise)) == 1
