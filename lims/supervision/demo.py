"""Demo data for the supervision side (``lims demo --supervision``): four years of the
province's spot checks in five categories and five prefectures, run through the same services
as real work — the register, the plans, the seeded random draws, sampling records, tests,
reviews, approvals and signed reports — with unqualified results, their notices, one objection
whose re-inspection overturns the verdict and one that is rejected; then the white paper of
the last full year.

The sampling dates of the earlier years are in those years (a sampling record states the day
the sample was taken; everything after it happens now, as when paper records are entered
late), so the statistics and the white paper show a trend. Seeded once; the random choices are
seeded too, so every instance gets the same story.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.auth.models import User
from lims.auth.services import get_user, set_roles
from lims.catalogs import tr
from lims.db import unit_of_work
from lims.reports.services import issue_report
from lims.runtime import Runtime
from lims.samples import services as samples
from lims.samples.duplicates import CREDIT_ALPHABET, credit_check_character
from lims.samples.models import Sample, TestMethod
from lims.supervision import draws, enterprises, notices, objections, plans, sampling
from lims.supervision.models import SamplingRecord, SamplingTask, SpotCheckPlan
from lims.supervision.sampling import lab_today

AUTHORITY = "湖北省市场监督管理局 Hubei Administration for Market Regulation"
REGIONS = {"420100": "武汉", "420500": "宜昌", "420600": "襄阳", "421000": "荆州",
           "421100": "黄冈"}
TRADE_NAMES = ("楚天", "江汉", "荆楚", "长江", "汉江", "东湖", "三峡", "隆中", "鄂东", "云梦",
               "清江", "龟山", "磁湖", "赤壁", "大别山")
SIZES = ("large", "medium", "small", "small", "micro", "micro")
YEARS = 4

# (category, product standard, field, method code, title, characteristics as
# (name, kind, unit, lower, upper, the value a sample passes with, one it fails with), the
# chance that a sample fails, the product name on the sampling record, the trade in the names
# of the enterprises)
Characteristic = tuple[str, str, str, str | None, str | None, str, str]
CATEGORIES: list[tuple[str, str, str, str, str, list[Characteristic], float, str, str]] = [
    ("IND-CHILD-CLOTHING", "GB 31701-2015 婴幼儿及儿童纺织产品安全技术规范", "textiles",
     "GB/T 2912.1-2009", "纺织品 甲醛的测定 第1部分：游离和水解的甲醛（水萃取法）",
     [("甲醛含量 Formaldehyde", "mass_fraction", "mg/kg", None, "75", "28", "96"),
      ("pH 值 pH", "ph", "pH", "4.0", "8.5", "6.6", "9.1")], 0.09, "儿童连衣裙 Children's dress",
     "童装"),
    ("IND-WIRE-CABLE", "GB/T 5023.3-2008 额定电压450/750V及以下聚氯乙烯绝缘电缆", "electrical",
     "GB/T 2951.11-2008", "电缆和光缆绝缘和护套材料通用试验方法 厚度和外形尺寸测量",
     [("绝缘最薄处厚度 Thinnest insulation", "length", "mm", "0.61", None, "0.72", "0.55"),
      ("导体直流电阻 (1 m, 20 ℃) Conductor resistance", "resistance", "mΩ", None, "7.41",
       "7.12", "7.90")], 0.12, "BV 2.5 mm² 电线 Building wire", "电线电缆"),
    ("IND-E-BIKE", "GB 17761-2018 电动自行车安全技术规范", "vehicles",
     "GB 17761-2018 6.1", "电动自行车 最高设计车速和整车质量",
     [("最高设计车速 Maximum speed", "velocity", "km/h", None, "25", "24.1", "27.3"),
      ("整车质量 Vehicle mass", "mass", "kg", None, "55", "49.6", "57.2")], 0.05,
     "电动自行车 Electric bicycle", "电动车"),
    ("FOOD-DAIRY", "GB 19301-2010 食品安全国家标准 生乳", "food",
     "GB 5009.5-2016", "食品安全国家标准 食品中蛋白质的测定",
     [("蛋白质 Protein", "mass_fraction", "g/100g", "2.8", None, "3.12", "2.61")], 0.015,
     "生牛乳 Raw milk", "乳业"),
    ("DMC-COSMETIC", "《化妆品安全技术规范》（2015年版）", "cosmetics",
     "《化妆品安全技术规范》4.1", "化妆品 汞的测定 氢化物原子荧光光度法",
     [("汞 Mercury", "mass_fraction", "mg/kg", None, "1", "0.05", "1.8")], 0.02,
     "保湿面霜 Moisturising cream", "日化"),
]


def credit_code(rng: random.Random, region: str) -> str:
    """A unified social credit code with a valid check character (GB 32100-2015): 9 (market
    regulation) 1 (enterprise), the region, nine characters of the organisation code."""
    body = "91" + region + "".join(rng.choice(CREDIT_ALPHABET[:10] + "ABCDEFGHJK")
                                   for _ in range(9))
    return body + credit_check_character(body)


def seeded(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(SpotCheckPlan)))


def seed_supervision(rt: Runtime, passwords: dict[str, str], *, tasks_per_year: int = 50,
                     progress: Callable[[str], None] = lambda _line: None) -> Path | None:
    """Seed the supervision demo unless a plan exists; return the white paper's path (None
    when already seeded). ``passwords`` are the demo users' (approval and issue re-ask them).
    ``tasks_per_year``: about how many tasks each year's plan draws (rounded to the 5
    categories × up to 5 regions)."""
    settings = rt.settings
    tz = settings.timezone
    session = rt.sessionmaker()
    try:
        if seeded(session):
            return None
        users = {u: get_user(session, u) for u in ("admin", "tech", "reviewer", "signatory",
                                                    "qm")}
        if any(u is None for u in users.values()):
            raise RuntimeError("seed the demo first (lims demo)")
        actors: dict[str, User] = {k: v for k, v in users.items() if v is not None}
        today = lab_today(tz)
        regions = tuple(REGIONS)[:max(1, min(len(REGIONS), tasks_per_year // len(CATEGORIES)))]
        quota = max(1, tasks_per_year // (len(CATEGORIES) * len(regions)))
        rng = random.Random(20261127)  # noqa: S311 - demo data, the same on every instance
        with unit_of_work(session):
            methods = _methods(session, actors)
            _register(session, actors, rng, regions, per=quota * 2 + 1)
        # The current year's plan draws first: its 12-month exclusion window then sees no
        # earlier task (the earlier years' plans are entered afterwards, with no window).
        years = [today.year - i for i in range(YEARS)]
        for year in years:
            with unit_of_work(session):
                plan = _plan(session, actors, year, regions, quota, methods,
                             exclusion=12 if year == today.year else 0)
                for code, *_rest in CATEGORIES:
                    for region in regions:
                        draws.draw(session, actors["qm"], plan, code, region,
                                   seed=f"demo-{year}-{code}-{region}", timezone=tz)
                number = plan.number
            progress(tr("plan %(plan)s: tasks drawn", plan=number))
            _sample_plan(session, rt, actors, passwords, number, year, today, rng, progress)
        _objections(session, rt, actors, passwords, today, progress)
        return _white_paper(session, rt, actors, today.year - 1)
    finally:
        session.close()


def _methods(session: Session, actors: dict[str, User]) -> dict[str, TestMethod]:
    out = {}
    for code, _std, field, method, title, chars, _p, _name, _trade in CATEGORIES:
        out[code] = session.scalar(select(TestMethod).where(TestMethod.code == method)) or \
            samples.create_method(
                session, actor=actors["qm"], code=method, title=title, field=field,
                characteristics=[{"name": n, "kind": k, "unit": u, "lower_limit": lo,
                                  "upper_limit": hi} for n, k, u, lo, hi, _ok, _bad in chars])
    # The demo signatory signs for these fields too (RB/T 214 4.2.4: authorised per field).
    signatory = actors["signatory"]
    fields = sorted({*signatory.scopes, *(c[2] for c in CATEGORIES)})
    set_roles(session, actor=actors["admin"], username="signatory", roles=["signatory"],
              scopes=fields)
    for username in ("tech", "reviewer", "qm"):
        draws.qualify_inspector(session, actor=actors["qm"], username=username,
                                qualification=f"HBCY-{username.upper()}-2023",
                                valid_until=dt.date(2030, 12, 31).isoformat())
    return out


def _register(session: Session, actors: dict[str, User], rng: random.Random,
              regions: tuple[str, ...], per: int) -> None:
    """``per`` enterprises of each category in each region."""
    names = iter(rng.sample(TRADE_NAMES, len(TRADE_NAMES)) * 50)
    for code, *_rest, trade in CATEGORIES:
        for region in regions:
            city = REGIONS[region]
            for i in range(per):
                enterprises.create_enterprise(
                    session, actor=actors["qm"], name=f"{city}{next(names)}{trade}有限公司",
                    credit_code=credit_code(rng, region), region=region, category=code,
                    size=rng.choice(SIZES), address=f"湖北省{city}市经济开发区{i + 1}号")


def _plan(session: Session, actors: dict[str, User], year: int, regions: tuple[str, ...],
          quota: int, methods: dict[str, TestMethod], *, exclusion: int) -> SpotCheckPlan:
    return plans.create_plan(
        session, actor=actors["qm"], year=year,
        title=f"{year} 年湖北省产品质量监督抽查 Provincial product quality spot checks {year}",
        authority=AUTHORITY, budget_samples=quota * len(regions) * len(CATEGORIES),
        sampling_method="双随机、一公开：随机抽取企业与抽样人员，在企业成品库抽取同一批次样品，"
                        "检验样品与备份样品分别封存 / double random draw; one batch sampled in "
                        "the finished-goods store, test and backup samples sealed separately",
        exclusion_months=exclusion,
        categories=[{"code": code, "product_standard": std,
                     "method_codes": [methods[code].code]}
                    for code, std, *_rest in CATEGORIES],
        quotas=[{"category": code, "region": region, "quota": quota}
                for code, *_rest in CATEGORIES for region in regions])


def _sample_plan(session: Session, rt: Runtime, actors: dict[str, User],
                 passwords: dict[str, str], number: str, year: int, today: dt.date,
                 rng: random.Random, progress: Callable[[str], None]) -> None:
    """Sample, test and report the plan's tasks: all of an earlier year's; about four in five
    of this year's sampled and most of those reported, the rest still in progress."""
    settings = rt.settings
    tz = settings.timezone
    tasks = list(session.scalars(select(SamplingTask).join(SpotCheckPlan)
                                 .where(SpotCheckPlan.number == number)
                                 .order_by(SamplingTask.id)))
    current = year == today.year
    by_code = {c[0]: c for c in CATEGORIES}
    last = today - dt.timedelta(days=3) if current else dt.date(year, 11, 30)
    first = dt.date(year, 1, 15) if current else dt.date(year, 3, 1)
    reported = 0
    for i, task in enumerate(tasks):
        if current and i % 5 == 4:
            continue  # drawn, not sampled yet
        _code, _std, _field, _method, _title, chars, p_fail, product, _trade = \
            by_code[task.category.code]
        sampled_on = first + dt.timedelta(days=rng.randrange(max(1, (last - first).days)))
        seq = task.number.rsplit("-", 1)[-1]
        with unit_of_work(session):
            rec = sampling.create_record(
                session, actor=actors["tech"], task_number=task.number,
                request_number_format=settings.request_number_format, timezone=tz,
                data={"site": "成品仓库 Finished-goods store", "sampled_on": sampled_on.isoformat(),
                      "product_name": product, "trademark": "楚天 Chutian",
                      "model": "—", "batch": sampled_on.strftime("%Y%m%d"),
                      "base_quantity": "200", "sample_quantity": "4",
                      "test_seal": f"FT{year}{seq}", "backup_seal": f"FB{year}{seq}",
                      "backup_location": "备样室 Backup store B-2",
                      "representative": "企业质量负责人 QA manager",
                      "representative_confirmed": True})
            broken = current and i == 2
            sampling.check_seal(session, actor=actors["tech"], record_number=rec.number,
                                intact=not broken,
                                note="封条一角撕裂 corner of the seal torn" if broken else "")
            sample = session.get(Sample, rec.sample_id)
            assert sample is not None  # noqa: S101 - create_record makes the sample
            sample_number = sample.number
        if current and i % 5 == 3:
            continue  # sampled, in the lab
        # This year's first two reported samples fail, so that the notices and the two
        # objections below have something to act on at any scale.
        fails = rng.random() < p_fail or (current and reported < 2)
        values = [bad if fails and j == 0 else ok
                  for j, (_n, _k, _u, _lo, _hi, ok, bad) in enumerate(chars)]
        _report(session, rt, actors, passwords, sample_number, values)
        reported += 1
        if reported % 10 == 0:
            progress(tr("plan %(plan)s: %(count)d reports issued", plan=number, count=reported))
    progress(tr("plan %(plan)s: %(count)d reports issued", plan=number, count=reported))


def _report(session: Session, rt: Runtime, actors: dict[str, User], passwords: dict[str, str],
            number: str, values: list[str]) -> None:
    settings = rt.settings
    tz = settings.timezone
    with unit_of_work(session):
        sample = samples.receive_sample(session, actor=actors["tech"], number=number,
                                        condition="封样完好 seal intact")
        chars = [ch for t in sample.tests for ch in t.method.characteristics]
        for ch, value in zip(chars, values, strict=True):
            samples.record_result(session, actor=actors["tech"], number=number,
                                  characteristic_id=ch.id, value=value, unit=ch.unit_text,
                                  timezone=tz)
        samples.complete_testing(session, actor=actors["tech"], number=number)
        samples.review_sample(session, actor=actors["reviewer"], number=number)
        samples.approve_sample(session, actor=actors["signatory"], number=number,
                               password=passwords["signatory"])
        issue_report(session, actor=actors["signatory"], sample_number=number,
                     settings=settings, password=passwords["signatory"])


def _objections(session: Session, rt: Runtime, actors: dict[str, User],
                passwords: dict[str, str], today: dt.date,
                progress: Callable[[str], None]) -> None:
    """This year's unqualified samples: a notice for each, delivered today; the first
    enterprise objects and the re-inspection of its backup sample passes (the verdict is
    overturned), the second objects without grounds and is refused."""
    from lims.reports.models import Report

    settings = rt.settings
    tz = settings.timezone
    start = dt.date(today.year, 1, 1)
    records = list(session.scalars(
        select(SamplingRecord).join(Report, Report.sample_id == SamplingRecord.sample_id)
        .where(SamplingRecord.sampled_on >= start,
               Report.outcome.in_(("nonconforming", "conditionally nonconforming")))
        .order_by(SamplingRecord.id)))
    for i, rec in enumerate(records):
        with unit_of_work(session):
            notice = notices.issue_notice(session, actor=actors["qm"], record_number=rec.number,
                                          settings=settings)
            notices.record_delivery(session, actor=actors["qm"], notice_number=notice.number,
                                    delivered_on=today.isoformat(), timezone=tz)
            if i > 1:
                continue
            objection = objections.receive_objection(
                session, actor=actors["qm"], notice_number=notice.number,
                received_on=today.isoformat(), applicant=rec.task.enterprise.name,
                grounds="企业认为检验样品在运输中受潮，申请对备份样品复检 / the enterprise holds that "
                        "the test sample took up moisture in transit and asks for the backup "
                        "sample to be re-inspected" if i == 0 else
                        "企业对结果有异议，未提供理由 / disputes the result without grounds",
                timezone=tz)
            objection_id = objection.id
            objections.decide_objection(
                session, actor=actors["qm"], objection_id=objection_id,
                decision="accept" if i == 0 else "reject",
                reason="" if i == 0 else "未提出具体理由，且检验过程符合标准 / no grounds given; the "
                                         "test followed the method")
            if i == 0:
                again = objections.start_reinspection(
                    session, actor=actors["tech"], objection_id=objection_id,
                    backup_seal_intact=True,
                    request_number_format=settings.request_number_format, timezone=tz)
                again_number = again.number
        if i == 0:
            by_code = {c[0]: c for c in CATEGORIES}
            chars = by_code[rec.task.category.code][5]
            _report(session, rt, actors, passwords, again_number, [c[5] for c in chars])
            progress(tr("objection to %(record)s: re-inspection %(sample)s reported",
                        record=rec.number, sample=again_number))


def _white_paper(session: Session, rt: Runtime, actors: dict[str, User], year: int) -> Path:
    from lims.supervision import whitepaper

    path = rt.settings.instance_path / f"whitepaper-{year}.pdf"
    with unit_of_work(session):
        paper = whitepaper.issue(session, actor=actors["qm"], year=year,
                                  settings=rt.settings)
        path.write_bytes(paper.pdf)
    return path

