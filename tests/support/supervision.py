"""A drawn sampling task, built directly with the ORM models: a region, an enterprise, a plan
naming the world's method for the category, and a task with two inspectors. (The plan and draw
services are another part's; these tests do not depend on them.)"""

from __future__ import annotations

import itertools
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.auth.services import get_user
from lims.db import unit_of_work
from lims.reports.services import issue_report
from lims.samples import services as samples
from lims.samples.models import ProductCategory, TestMethod
from lims.supervision.models import (
    Enterprise,
    PlanCategory,
    Region,
    SamplingTask,
    SpotCheckPlan,
)
from tests.support.world import PASSWORD

_n = itertools.count(1)
TZ = "Asia/Shanghai"
AUTHORITY = "湖北省市场监督管理局"
SAMPLING = {"site": "成品仓库", "product_name": "儿童连衣裙", "trademark": "小熊",
            "model": "110 cm", "batch": "20261001", "base_quantity": "200 件",
            "sample_quantity": "4 件", "test_seal": "FT-0001", "backup_seal": "FB-0001",
            "backup_location": "备样室 B-2", "representative": "王五",
            "representative_confirmed": True}


def drawn_task(session: Session, *, category: str = "IND-CHILD-CLOTHING",
               method_code: str = "GB/T 4669-2008") -> str:
    """A plan with one category and a drawn task for a new enterprise; the task's number."""
    i = next(_n)
    with unit_of_work(session):
        cat = session.scalar(select(ProductCategory).where(ProductCategory.code == category))
        assert cat is not None
        assert session.scalar(select(TestMethod).where(TestMethod.code == method_code))
        region = session.scalar(select(Region).where(Region.code == "420100"))
        if region is None:
            region = Region(code="420100", name_zh="武汉市", name_en="Wuhan", level="prefecture")
            session.add(region)
        qm, t1, t2 = (get_user(session, u) for u in ("qm", "tech", "tech2"))
        assert qm and t1 and t2
        ent = Enterprise(name=f"武汉童装有限公司 {i}", credit_code=f"91420100MA4K{i:05d}X"[:18],
                         region=region, category_id=cat.id, size="small")
        plan = SpotCheckPlan(number=f"P2026-{i:03d}", year=2026, title="儿童服装监督抽查",
                             authority=AUTHORITY, budget_samples=10, created_by_id=qm.id)
        session.add_all([ent, plan])
        session.flush()
        session.add(PlanCategory(plan_id=plan.id, category_id=cat.id,
                                 product_standard="GB 31701-2015",
                                 method_codes=json.dumps([method_code])))
        task = SamplingTask(number=f"RW2026-{i:05d}", plan_id=plan.id, enterprise_id=ent.id,
                            category_id=cat.id, region_id=region.id, inspector1_id=t1.id,
                            inspector2_id=t2.id)
        session.add(task)
        session.flush()
        return task.number


def report_sample(session: Any, world: Any, settings: Any, number: str, *, mass: str) -> None:
    """Receive, test (mass ``mass`` g: 99.50 … 100.50 passes), review, approve and report a
    sample."""
    tech = world.user(session, "tech")
    with unit_of_work(session):
        samples.receive_sample(session, actor=tech, number=number, condition="封样完好")
        samples.record_result(session, actor=tech, number=number,
                              characteristic_id=world.mass_id, value=mass, unit="g", timezone=TZ)
        samples.record_result(session, actor=tech, number=number,
                              characteristic_id=world.length_id, value="12.0", unit="mm",
                              timezone=TZ)
        samples.complete_testing(session, actor=tech, number=number)
        samples.review_sample(session, actor=world.user(session, "reviewer"), number=number)
        samples.approve_sample(session, actor=world.user(session, "signatory"), number=number,
                               password=PASSWORD)
        issue_report(session, actor=world.user(session, "signatory"), sample_number=number,
                     settings=settings, password=PASSWORD)
