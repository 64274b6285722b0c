"""The notification of inspection results (检验结果通知书) of an unqualified supervision sample,
and the objection clock its delivery starts.

A notice is issued for an issued test report whose outcome is ``nonconforming`` or
``conditionally nonconforming``, by a signatory or the quality manager: a bilingual PDF signed
with the lab's key as reports are sealed (PAdES, B-LT with the time-stamping authority), stored
with its SHA-256 and never rewritten. Its delivery date is recorded once; the deadline for an
objection follows from the rule of the product's family:

* products: 15 days from delivery (《中华人民共和国产品质量法》 art. 15 para. 3;
  《产品质量监督抽查管理暂行办法》 (SAMR Order 18, 2019) repeats the 15 days);
* food (the ``FOOD`` family): 7 working days from delivery (《中华人民共和国食品安全法》 art. 88;
  《食品安全抽样检验管理办法》 (SAMR Order 15, 2019) art. 30), in the lab's working-day calendar
  (:mod:`lims.supervision.workdays`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lims.audit.services import record, snapshot
from lims.auth.models import User
from lims.auth.services import require
from lims.config import Settings
from lims.errors import Conflict, InvalidInput, NotFound, msg
from lims.numbering import next_number
from lims.reports.models import Report
from lims.reports.sign import load_signer, load_stamping, seal_signer, sign_pdf
from lims.samples import categories
from lims.samples.models import Sample
from lims.supervision import workdays
from lims.supervision.models import ResultNotice, SamplingRecord
from lims.supervision.notice_render import render_notice
from lims.supervision.sampling import get_record, lab_today, lock_sample
from lims.validate import date

NUMBER_FORMAT = "TZ{year}-{seq:05d}"
UNQUALIFIED = ("nonconforming", "conditionally nonconforming")
PRODUCT_DAYS = 15      # calendar days (产品质量法 art. 15)
FOOD_WORKING_DAYS = 7  # working days (食品安全法 art. 88)
VERDICTS = {"fail": "不合格 Fail", "conditional fail": "有条件不合格 Conditional fail"}


def objection_rule(session: Session, sample: Sample) -> str:
    """``food`` for a sample of the FOOD family, else ``product``."""
    if sample.category is not None and categories.family(session, sample.category).code == "FOOD":
        return "food"
    return "product"


def objection_deadline(session: Session, rule: str, delivered_on: dt.date) -> dt.date:
    """The last day an objection may be received.

    The 15 days of a product run in calendar days, but a period whose last day is a rest
    day (a weekend or public holiday of the lab's calendar) ends on the next working day
    (《中华人民共和国民法典》 art. 203 para. 1): a notice delivered on 2026-09-16 may be
    objected to until 2026-10-08, after the National Day holiday, not only until 10-01.
    """
    if rule == "food":
        return workdays.add_working_days(session, delivered_on, FOOD_WORKING_DAYS)
    last = delivered_on + dt.timedelta(days=PRODUCT_DAYS)
    while not workdays.is_working_day(session, last):
        last += dt.timedelta(days=1)
    return last


def get_notice(session: Session, number: str) -> ResultNotice:
    notice = session.scalar(select(ResultNotice).where(ResultNotice.number == number))
    if notice is None:
        raise NotFound(msg("no result notice %(number)r", number=number), notice=number)
    return notice


def notices_of_sample(session: Session, sample_id: int) -> list[ResultNotice]:
    return list(session.scalars(select(ResultNotice).where(ResultNotice.sample_id == sample_id)
                                .order_by(ResultNotice.id)))


def unqualified_report(session: Session, sample: Sample) -> Report:
    """The sample's issued test report, if its outcome is unqualified.

    :raises Conflict: no issued report, or one whose outcome is not unqualified.
    """
    report = session.scalar(select(Report).where(
        Report.sample_id == sample.id, Report.status == "issued", Report.kind == "test_report")
        .order_by(Report.id.desc()).limit(1))
    if report is None:
        raise Conflict(msg("sample %(number)s has no issued report", number=sample.number),
                       sample=sample.number)
    if report.outcome not in UNQUALIFIED:
        raise Conflict(msg("report %(number)s is %(outcome)s, not unqualified",
                           number=report.number, outcome=report.outcome or "—"),
                       report=report.number)
    return report


def issue_notice(session: Session, *, actor: User, record_number: str,
                 settings: Settings) -> ResultNotice:
    """Issue the signed result notice of a sampling record's unqualified test sample, for its
    latest issued test report.

    :raises Conflict: no unqualified issued report, or a notice of that report exists.
    :raises ReportError: the lab's key cannot sign.
    """
    require(actor, "notice.issue")
    rec = get_record(session, record_number)
    assert rec.sample_id is not None  # noqa: S101 - set when the record is made
    # The sample's row lock first, as every state change of a sample takes it: of two
    # concurrent issues the second waits here and then finds the first one's notice (one
    # notice per report; the check below alone let both through on PostgreSQL).
    sample = lock_sample(session, rec.sample_id)
    report = unqualified_report(session, sample)
    if session.scalar(select(ResultNotice.id).where(ResultNotice.report_id == report.id)):
        raise Conflict(msg("report %(number)s has a notice already", number=report.number),
                       report=report.number)
    today = lab_today(settings.timezone)
    number = next_number(session, "result-notice", NUMBER_FORMAT, today=today)
    content = notice_content(session, rec, sample, report, number=number, settings=settings,
                             issued_on=today)
    pdf = _signed(render_notice(content, font_dir=settings.font_path), number, settings)
    notice = ResultNotice(number=number, sample_id=sample.id, report_id=report.id,
                          objection_rule=content["rule"], issued_by_id=actor.id,
                          sha256=hashlib.sha256(pdf).hexdigest(), size=len(pdf),
                          content=json.dumps(content, ensure_ascii=False, sort_keys=True),
                          pdf=pdf)
    session.add(notice)
    session.flush()
    record(session, actor=actor, action="notice.issue", entity_type="result_notices",
           entity_id=notice.number, after=snapshot(notice, exclude=("pdf",)))
    return notice


def notice_content(session: Session, rec: SamplingRecord, sample: Sample, report: Report, *,
                   number: str, settings: Settings, issued_on: dt.date) -> dict[str, Any]:
    """What the notice says: the enterprise, product, report and its unqualified items."""
    stated = json.loads(report.content)
    items = [{"characteristic": r["characteristic"], "requirement": r["requirement"],
              "value": r["value"], "unit": r["unit"],
              "verdict": VERDICTS.get(r["conformity"], r["conformity"])}
             for r in stated.get("results", []) if r.get("conformity") in VERDICTS]
    task = rec.task
    return {
        "number": number, "lab_name": settings.lab_name, "lab_name_en": settings.lab_name_en,
        "lab_address": settings.lab_address, "enterprise": task.enterprise.name,
        "credit_code": task.enterprise.credit_code, "authority": task.plan.authority,
        "plan": f"{task.plan.number} {task.plan.title}", "record": rec.number,
        "product": rec.product_name, "trademark": rec.trademark, "model": rec.model,
        "batch": rec.batch, "sample": sample.number, "report": report.number,
        "product_standard": stated.get("product_standard", ""),
        "conclusion": stated.get("conclusion", ""), "outcome": report.outcome,
        "items": items, "rule": objection_rule(session, sample),
        "issued_on": issued_on.isoformat(),
    }


def _signed(pdf: bytes, number: str, settings: Settings) -> bytes:
    signer = seal_signer(settings) or load_signer(settings.signing_pkcs12,
                                                  settings.signing_passphrase)
    stamping = load_stamping(settings.signing_pkcs12, tsa_url=settings.tsa_url,
                             tsa_ca_file=settings.tsa_ca_file)
    return sign_pdf(pdf, signer, reason=f"检验结果通知书 Notification of inspection results "
                                        f"{number}",
                    location=settings.lab_name_en, timestamper=stamping.timestamper,
                    crls=stamping.crls, trust=stamping.trust, fetch=stamping.fetch,
                    lta=settings.pades_lta)


def record_delivery(session: Session, *, actor: User, notice_number: str, delivered_on: Any,
                    timezone: str) -> ResultNotice:
    """Record the day the notice reached the enterprise (once), which fixes the objection
    deadline.

    :raises InvalidInput: not a date, before the notice was issued, or in the future.
    :raises Conflict: the delivery was recorded already.
    """
    require(actor, "notice.issue")
    notice = get_notice(session, notice_number)
    day = date(delivered_on, "delivered_on")
    assert day is not None  # noqa: S101 - required
    issued = notice.issued_at.astimezone(ZoneInfo(timezone)).date()
    if day < issued or day > lab_today(timezone):
        raise InvalidInput(msg("%(day)s is not between the notice's issue and today", day=day),
                           field="delivered_on")
    deadline = objection_deadline(session, notice.objection_rule, day)
    done = session.execute(update(ResultNotice).where(
        ResultNotice.id == notice.id, ResultNotice.delivered_on.is_(None)).values(
        delivered_on=day, objection_deadline=deadline, delivery_recorded_by_id=actor.id))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(msg("the delivery of notice %(number)s was recorded already",
                           number=notice.number), notice=notice.number)
    session.refresh(notice)
    record(session, actor=actor, action="notice.delivery", entity_type="result_notices",
           entity_id=notice.number,
           after={"delivered_on": day.isoformat(), "objection_deadline": deadline.isoformat()})
    return notice
