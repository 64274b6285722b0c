"""The annual quality white paper (质量状况白皮书) of the centre's share of the province's
programme: the figures it prints, and its issue (rendered, signed with the lab key, stored
with its SHA-256 and an audit event).

Every pass-rate figure is the statistics service's payload as the API returns it
(:func:`lims.supervision.statistics.pass_rates` ``.as_dict()``, the payload of
``GET /api/v1/statistics/pass-rates?year=…&inspection_type=supervision``), kept verbatim in
the figures JSON of the :class:`~lims.supervision.models.WhitePaper` row, so that anyone can
recompute them (issue 13 §4). The paper counts the supervision spot checks (监督抽查,
《产品质量监督抽查管理暂行办法》 (SAMR Order 18, 2019)): the centre's share of the
programme, not customers' own requests.

The other figures are counted here from the supervision, report and calibration tables, each
with the rule it follows written beside it (so an auditor can repeat the count in SQL).
Pure of Flask.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, distinct, func, or_, select
from sqlalchemy.orm import Session, aliased

from lims.audit.services import record
from lims.auth.services import require
from lims.calibration.models import CalibrationJob, CalibrationRecord, IntermediateCheck
from lims.config import Settings
from lims.db import utcnow
from lims.errors import InvalidInput, NotFound, msg
from lims.instruments.models import EquipmentRole, Instrument
from lims.reports.models import Report, ReportStatus
from lims.samples.models import Sample
from lims.supervision import statistics
from lims.supervision.models import (
    Objection,
    ResultNotice,
    SamplingRecord,
    SamplingTask,
    SpotCheckPlan,
    WhitePaper,
)
from lims.validate import as_id

# The inspection type the paper counts: the province's supervision spot checks.
PROGRAMME = "supervision"
# How many unqualified characteristics the paper ranks.
ITEMS = 10
TASK_STATUSES = ("drawn", "sampled", "refused", "cancelled")
OBJECTION_STATUSES = ("received", "accepted", "rejected", "withdrawn")


@dataclasses.dataclass(frozen=True)
class Figures:
    """What a white paper prints, as JSON-ready values (the figures JSON of its row).

    ``rates`` is the statistics API's payload for the year; ``trend`` maps each target family
    to one payload line (``Counts.as_dict()`` plus ``year``) per year held in the database.
    """

    year: int
    issued_on: str          # the lab's date of issue (ISO)
    lab_name: str
    lab_name_en: str
    programme: str          # the inspection type counted
    rates: dict[str, Any]
    trend: dict[str, list[dict[str, Any]]]
    activity: dict[str, Any]
    capacity: dict[str, Any]

    @property
    def empty(self) -> bool:
        """No supervision sample taken in the year."""
        return not self.rates["total"]["sampled"]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Figures:
        return cls(**json.loads(text))


def check_year(value: Any, *, timezone: str) -> int:
    """A calendar year that has begun (the lab's zone).

    :raises InvalidInput: naming the field ``year``.
    """
    year = statistics.check_year(value)
    if year > dt.datetime.now(ZoneInfo(timezone)).year:
        raise InvalidInput(msg("must not be after the current year"), field="year")
    return year


def _day_bounds(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year + 1, 1, 1)


def activity(session: Session, *, year: int, timezone: str) -> dict[str, Any]:
    """The supervision work of the year, counted from the supervision tables.

    Plans: those of the year (``spot_check_plans.year``). Tasks: those drawn for the year's
    plans, by status. Sampling records: of those tasks. Notices: issued in the year (the lab's
    calendar). Objections: received in the year, by status. Re-inspections (复检): samples
    with ``reinspection_of_id`` registered in the year; one *overturns* the verdict when its
    issued report is qualified while the original's issued report is unqualified, and
    *upholds* it when it is unqualified too (its conclusion is final, SAMR Order 18).
    """
    start, end = statistics.year_bounds(year, timezone)
    first, after = _day_bounds(year)
    plans = [{"number": p.number, "title": p.title, "authority": p.authority,
              "budget_samples": p.budget_samples, "status": p.status}
             for p in session.scalars(select(SpotCheckPlan).where(SpotCheckPlan.year == year)
                                      .order_by(SpotCheckPlan.number))]
    of_year = select(SpotCheckPlan.id).where(SpotCheckPlan.year == year).scalar_subquery()
    tasks = dict.fromkeys(TASK_STATUSES, 0)
    for status, n in session.execute(select(SamplingTask.status, func.count())
                                     .where(SamplingTask.plan_id.in_(of_year))
                                     .group_by(SamplingTask.status)):
        tasks[status] = int(n)
    records = session.scalar(select(func.count()).select_from(SamplingRecord)
                             .join(SamplingTask, SamplingTask.id == SamplingRecord.task_id)
                             .where(SamplingTask.plan_id.in_(of_year))) or 0
    notices = session.execute(
        select(func.count(), func.count(ResultNotice.delivered_on))
        .where(ResultNotice.issued_at >= start, ResultNotice.issued_at < end)).one()
    objections = dict.fromkeys(OBJECTION_STATUSES, 0)
    for status, n in session.execute(select(Objection.status, func.count())
                                     .where(Objection.received_on >= first,
                                            Objection.received_on < after)
                                     .group_by(Objection.status)):
        objections[status] = int(n)

    original = aliased(Sample)
    again_report = aliased(Report)
    first_report = aliased(Report)
    issued = and_(again_report.sample_id == Sample.id,
                  again_report.status == ReportStatus.ISSUED,
                  again_report.kind == "test_report")
    rows = session.execute(
        select(Sample.id, again_report.outcome, first_report.outcome)
        .join(original, original.id == Sample.reinspection_of_id)
        .outerjoin(again_report, issued)
        .outerjoin(first_report, and_(first_report.sample_id == original.id,
                                      first_report.status == ReportStatus.ISSUED,
                                      first_report.kind == "test_report"))
        .where(Sample.reinspection_of_id.is_not(None),
               Sample.registered_at >= start, Sample.registered_at < end)).all()
    overturned = sum(1 for _, again, before in rows
                     if again in statistics.QUALIFIED and before in statistics.UNQUALIFIED)
    upheld = sum(1 for _, again, _b in rows if again in statistics.UNQUALIFIED)
    return {"plans": plans, "budget_samples": sum(p["budget_samples"] for p in plans),
            "tasks": tasks, "tasks_drawn": sum(tasks.values()), "sampling_records": int(records),
            "notices_issued": int(notices[0]), "notices_delivered": int(notices[1]),
            "objections": objections, "objections_received": sum(objections.values()),
            "reinspections": len(rows), "reinspections_overturned": overturned,
            "reinspections_upheld": upheld,
            "reinspections_pending": len(rows) - overturned - upheld}


def capacity(session: Session, *, year: int, timezone: str) -> dict[str, Any]:
    """The centre's metrological capacity in the year, counted from the equipment register and
    the calibration tables (ISO/IEC 17025 6.4, 6.5; JJF 1033 计量标准考核).

    Standards maintained: reference and working standards in the register during the year
    (added before its end, not retired before its start). Of those, calibrated in the year:
    with a calibration record (any certificate, first version) dated in the year. Calibrations
    and verifications performed: customers' instruments (calibration jobs) whose certificate
    was issued in the year and stands (issued or since amended, not withdrawn). The lab's own
    equipment: calibration certificates recorded (first versions, dated in the year) and
    intermediate checks performed (6.4.10).
    """
    start, end = statistics.year_bounds(year, timezone)
    first, after = _day_bounds(year)
    in_year = and_(Instrument.created_at < end,
                   or_(Instrument.retired_at.is_(None), Instrument.retired_at >= start))
    standards: dict[str, int] = {role: 0 for role in (EquipmentRole.REFERENCE_STANDARD,
                                                      EquipmentRole.WORKING_STANDARD)}
    for role, n in session.execute(select(Instrument.role, func.count())
                                   .where(in_year, Instrument.role.in_(list(standards)))
                                   .group_by(Instrument.role)):
        standards[role] = int(n)
    dated = and_(CalibrationRecord.version == 1, CalibrationRecord.calibrated_on >= first,
                 CalibrationRecord.calibrated_on < after)
    calibrated = session.scalar(
        select(func.count(distinct(Instrument.id)))
        .join(CalibrationRecord, CalibrationRecord.instrument_id == Instrument.id)
        .where(in_year, Instrument.role.in_(list(standards)), dated)) or 0
    jobs = {"calibration": 0, "verification": 0}
    for kind, n in session.execute(
            select(CalibrationJob.kind, func.count(distinct(CalibrationJob.id)))
            .join(Report, Report.sample_id == CalibrationJob.sample_id)
            .where(Report.issued_at >= start, Report.issued_at < end,
                   Report.status.in_([ReportStatus.ISSUED, ReportStatus.SUPERSEDED]))
            .group_by(CalibrationJob.kind)):
        jobs[kind] = int(n)
    own = session.scalar(select(func.count()).select_from(CalibrationRecord).where(dated)) or 0
    checks = session.scalar(select(func.count()).select_from(IntermediateCheck)
                            .where(IntermediateCheck.checked_at >= start,
                                   IntermediateCheck.checked_at < end)) or 0
    return {"reference_standards": standards[EquipmentRole.REFERENCE_STANDARD],
            "working_standards": standards[EquipmentRole.WORKING_STANDARD],
            "standards_calibrated": int(calibrated),
            "calibrations_performed": jobs["calibration"],
            "verifications_performed": jobs["verification"],
            "own_calibrations_recorded": int(own), "intermediate_checks": int(checks)}


def figures(session: Session, *, year: Any, settings: Settings) -> Figures:
    """The figures of the white paper of ``year``.

    :raises InvalidInput: a bad year (field ``year``).
    """
    tz = settings.timezone
    y = check_year(year, timezone=tz)
    rates = statistics.pass_rates(session, year=y, timezone=tz, inspection_type=PROGRAMME,
                                  items=ITEMS).as_dict()
    # The trend: the years held before this one, then this year's own figures (not counted
    # twice: the same payload lines as ``rates["families"]``).
    earlier = [h for h in statistics.years_held(session, tz) if h < y]
    trend: dict[str, list[dict[str, Any]]] = {
        code: [{"year": when, **counts.as_dict()} for when, counts in series]
        for code, series in statistics.family_trend(session, years=earlier, timezone=tz,
                                                    inspection_type=PROGRAMME).items()}
    keys = statistics.Counts().as_dict().keys()
    for row in rates["families"]:
        trend.setdefault(row["key"], []).append({"year": y, **{k: row[k] for k in keys}})
    today = utcnow().astimezone(ZoneInfo(tz)).date()
    return Figures(y, today.isoformat(), settings.lab_name, settings.lab_name_en, PROGRAMME,
                   rates, trend, activity(session, year=y, timezone=tz),
                   capacity(session, year=y, timezone=tz))


def signed_pdf(fig: Figures, settings: Settings) -> bytes:
    """Render the paper and sign it with the lab key (PAdES B-LT, as reports are sealed)."""
    from lims.reports.sign import load_signer, load_stamping, sign_pdf
    from lims.supervision.whitepaper_render import render

    signer = load_signer(settings.signing_pkcs12, settings.signing_passphrase)
    stamping = load_stamping(settings.signing_pkcs12, tsa_url=settings.tsa_url,
                             tsa_ca_file=settings.tsa_ca_file)
    pdf = render(fig, font_dir=settings.font_path)
    return sign_pdf(pdf, signer, reason=f"检验检测专用章 Seal of the laboratory: "
                                        f"{fig.year} 年度质量状况白皮书 Quality white paper",
                    location=settings.lab_name_en, timestamper=stamping.timestamper,
                    crls=stamping.crls, trust=stamping.trust, fetch=stamping.fetch,
                    lta=settings.pades_lta)


def issue(session: Session, *, actor: Any | None, year: Any, settings: Settings) -> WhitePaper:
    """Issue the white paper of ``year``: figures, signed PDF, a stored row and its audit
    event. ``actor`` None is the command line (the system).

    :raises PermissionDenied: the actor is not a quality manager or administrator.
    :raises InvalidInput: a bad year (field ``year``).
    """
    if actor is not None:
        require(actor, "whitepaper.issue")
    fig = figures(session, year=year, settings=settings)
    pdf = signed_pdf(fig, settings)
    digest = hashlib.sha256(pdf).hexdigest()
    paper = WhitePaper(year=fig.year, issued_at=utcnow(),
                       issued_by_id=None if actor is None else actor.id, sha256=digest,
                       size=len(pdf), figures=fig.to_json(), pdf=pdf)
    session.add(paper)
    session.flush()
    record(session, actor=actor, action="whitepaper.issue", entity_type="white_papers",
           entity_id=paper.id, after={"year": fig.year, "sha256": digest, "size": len(pdf),
                                      "samples": fig.rates["total"]["sampled"]})
    return paper


def list_papers(session: Session) -> list[WhitePaper]:
    return list(session.scalars(select(WhitePaper)
                                .order_by(WhitePaper.year.desc(), WhitePaper.issued_at.desc())))


def get_paper(session: Session, paper_id: Any) -> WhitePaper:
    """:raises NotFound:
    :raises InvalidInput: not an id (one beyond PostgreSQL's INTEGER is refused here, not by
        the database)."""
    paper = session.get(WhitePaper, as_id(paper_id, "paper"))
    if paper is None:
        raise NotFound(msg("no white paper %(id)s", id=paper_id))
    return paper
