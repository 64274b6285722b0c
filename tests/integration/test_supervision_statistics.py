"""Pass rates from final conclusions (issue 13 §4), on both databases: a re-inspection's
conclusion replaces the original's, a withdrawn report leaves its sample pending, the
catalogue and the region tree roll up, filters include what is below them."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from lims.db import unit_of_work, utcnow
from lims.errors import InvalidInput
from lims.reports.models import Report
from lims.samples import categories
from lims.samples.models import Sample
from lims.supervision import statistics
from lims.supervision.models import (
    Enterprise,
    Region,
    SamplingRecord,
    SamplingTask,
    SpotCheckPlan,
)
from tests.support.world import TZ

CODE = "91420100MA4K0A0A0A"  # not checked here: the register's validation is tested elsewhere


def _region(session, code, zh, en, level, parent=None):
    found = session.scalar(select(Region).where(Region.code == code))
    if found is None:
        found = Region(code=code, name_zh=zh, name_en=en, level=level,
                       parent_id=None if parent is None else parent.id)
        session.add(found)
        session.flush()
    return found


def _place(session, world, number, *, category, region, size, seq):
    """Test setup: put a sample in a category, and make it a supervision sample taken from an
    enterprise of ``size`` in ``region`` (rows written directly: the sampling services are
    tested on their own)."""
    user = world.user(session, "tech")
    with unit_of_work(session):
        sample = session.scalar(select(Sample).where(Sample.number == number))
        cat = categories.get_category(session, category)
        sample.category_id = cat.id
        sample.request.inspection_type = "supervision"
        plan = session.scalar(select(SpotCheckPlan)) or SpotCheckPlan(
            number="CJ-T", year=2026, title="t", authority="湖北省市场监督管理局",
            budget_samples=10, created_by_id=user.id)
        session.add(plan)
        ent = Enterprise(name=f"企业{seq}", credit_code=f"{CODE[:-3]}{seq:03d}",
                         region_id=region.id, category_id=cat.id, size=size)
        session.add(ent)
        session.flush()
        task = SamplingTask(number=f"RW-{seq}", plan_id=plan.id, enterprise_id=ent.id,
                            category_id=cat.id, region_id=region.id,
                            inspector1_id=user.id, inspector2_id=user.id, status="sampled")
        session.add(task)
        session.flush()
        session.add(SamplingRecord(number=f"CY-{seq}", task_id=task.id, site="仓库",
                                   sampled_on=dt.date(2026, 11, 2), product_name="童装",
                                   base_quantity="100件", sample_quantity="4件",
                                   test_seal=f"T{seq}", backup_seal=f"B{seq}",
                                   representative="张三", sample_id=sample.id,
                                   request_id=sample.request_id, created_by_id=user.id))


def test_pass_rates_count_final_conclusions(session, world, settings):
    with unit_of_work(session):
        hubei = _region(session, "420000", "湖北省", "Hubei", "province")
        wuhan = _region(session, "420100", "武汉市", "Wuhan", "prefecture", hubei)
        hongshan = _region(session, "420111", "洪山区", "Hongshan", "county", wuhan)
        yichang = _region(session, "420500", "宜昌市", "Yichang", "prefecture", hubei)
    # Children's clothing: two pass in Hongshan (Wuhan), one fails in Yichang but its
    # re-inspection passes (final: qualified), one fails in Wuhan and stays failed.
    cases = [("100.00", hongshan, "small"), ("100.00", hongshan, "micro"),
             ("101.00", yichang, "small"), ("101.00", wuhan, "large")]
    numbers = []
    for seq, (value, region, size) in enumerate(cases):
        number, _ = world.reported_sample(session, settings, value=value)
        _place(session, world, number, category="IND-CHILD-CLOTHING", region=region,
               size=size, seq=seq)
        numbers.append(number)
    again, _ = world.reported_sample(session, settings, value="100.00")
    pending = world.new_sample(session)  # food, not reported yet: sampled, pending
    _place(session, world, pending, category="FOOD-DAIRY", region=wuhan, size="medium", seq=9)
    with unit_of_work(session):
        original = session.scalar(select(Sample).where(Sample.number == numbers[2]))
        session.scalar(select(Sample).where(Sample.number == again)).reinspection_of_id = \
            original.id

    year = utcnow().astimezone(dt.timezone(dt.timedelta(hours=8))).year
    rates = statistics.pass_rates(session, year=year, timezone=TZ)
    assert rates.total.as_dict() | {"interval": None} == {
        "sampled": 5, "tested": 4, "qualified": 3, "unqualified": 1, "data_only": 0,
        "pending": 1, "pass_rate": 75.0, "interval": None}
    family = {r.key: r for r in rates.families}
    assert family["IND"].counts.rate == 75.0 and family["IND"].below_target
    assert family["FOOD"].counts.pending == 1 and family["FOOD"].counts.rate is None
    assert not family["FOOD"].below_target and family["DMC"].counts.sampled == 0
    assert [(r.key, r.depth) for r in rates.categories] == [
        ("FOOD", 0), ("FOOD-DAIRY", 1), ("IND", 0), ("IND-CHILD-CLOTHING", 1)]
    region = {r.key: r.counts for r in rates.regions}
    assert [r.key for r in rates.regions] == ["420000", "420100", "420111", "420500"]
    assert (region["420100"].sampled, region["420100"].qualified) == (4, 2)  # Hongshan too
    assert region["420500"].qualified == 1  # the re-inspection's conclusion is final
    assert {r.key: r.counts.sampled for r in rates.sizes} == {
        "large": 1, "medium": 1, "small": 2, "micro": 1}
    assert [(i.name, i.samples) for i in rates.unqualified_items] == [("Specimen mass", 1)]
    # "100 % of 2" is shown with its interval: Wilson (95 %) for 2 of 2 is 34.2 … 100 %.
    hongshan_rates = statistics.pass_rates(session, year=year, timezone=TZ, region="420111")
    assert hongshan_rates.total.rate == 100.0 and hongshan_rates.total.few
    low, high = hongshan_rates.total.interval
    assert round(low, 1) == 34.2 and high == 100.0
    only = statistics.pass_rates(session, year=year, timezone=TZ, category="ind",
                                 size="large")
    assert only.total.as_dict()["unqualified"] == 1 and only.total.sampled == 1
    assert [(i.name, i.samples) for i in only.unqualified_items] == [("Specimen mass", 1)]
    # The trend (one statement over the years) gives each year's family counts.
    trend = statistics.family_trend(session, years=[year - 1, year], timezone=TZ)
    assert trend["IND"] == [(year - 1, statistics.Counts()), (year, family["IND"].counts)]
    assert trend["FOOD"][1][1] == family["FOOD"].counts
    assert statistics.pass_rates(session, year=year - 1, timezone=TZ).total.sampled == 0

    # Withdrawing the final report leaves the sample pending.
    with unit_of_work(session):
        report = session.scalar(select(Report).join(Sample).where(Sample.number == again))
        report.status = "withdrawn"
    rates = statistics.pass_rates(session, year=year, timezone=TZ, region="420500")
    assert (rates.total.pending, rates.total.qualified) == (1, 0)


@pytest.mark.parametrize(("field", "value"), [
    ("year", "twenty"), ("year", "99999"), ("category", "NOPE"), ("region", "999999"),
    ("inspection_type", "bribe"), ("size", "huge")])
def test_a_bad_filter_names_its_field(session, field, value):
    args = {"year": 2026, field: value}
    with pytest.raises(InvalidInput) as caught:
        statistics.pass_rates(session, timezone=TZ, **args)
    assert caught.value.field == field


def test_the_wilson_interval():
    assert statistics.wilson(0, 0) is None
    low, high = statistics.wilson(95, 100)
    assert (round(low, 2), round(high, 2)) == (88.82, 97.85)  # Newcombe (1998) method 3
    assert statistics.wilson(0, 10)[0] == 0.0
