"""Pages and API of sampling records, backups, result notices, objections and the working-day
calendar (issue 13 §2–3). Thin: parse, call one service in one unit of work, show."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lims.auth.models import User
from lims.auth.permissions import allowed
from lims.db import unit_of_work
from lims.errors import InvalidInput, NotFound, msg
from lims.samples.models import Sample
from lims.samples.services import get_sample
from lims.supervision import backups, notices, objections, sampling, workdays
from lims.supervision import sampling_api_models as m
from lims.supervision.models import (
    BackupSample,
    Objection,
    ResultNotice,
    SamplingAttachment,
    SamplingRecord,
    WorkingDayOverride,
)
from lims.validate import FIRST_YEAR, LAST_YEAR, as_id
from lims.web import listing
from lims.web.api_models import API_PER_PAGE
from lims.web.auth import current_user
from lims.web.context import get_session, settings
from lims.web.inputs import allow_upload, form, json_model, query_model
from lims.web.openapi import operation

bp = Blueprint("supervision_sampling", __name__)

CAN = ("sampling.record", "sample.receive", "sample.register", "notice.issue",
       "objection.decide", "calendar.manage")


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _number(session: Session, sample_id: int | None) -> str | None:
    if sample_id is None:
        return None
    return session.scalar(select(Sample.number).where(Sample.id == sample_id))


def notice_dict(session: Session, n: ResultNotice) -> dict[str, Any]:
    return notice_dicts(session, [n])[0]


def notice_dicts(session: Session, found: Sequence[ResultNotice]) -> list[dict[str, Any]]:
    """The notices as the API gives them, their samples' and reports' numbers read in one
    query each, not two a notice (a page of them: issue 14)."""
    from lims.reports.models import Report

    if not found:
        return []
    samples = {i: number for i, number in session.execute(select(Sample.id, Sample.number)
                                                        .where(Sample.id.in_(
                                                            {n.sample_id for n in found})))}
    reports = {i: number for i, number in session.execute(select(Report.id, Report.number)
                                                        .where(Report.id.in_(
                                                            {n.report_id for n in found})))}
    return [{"number": n.number, "sample": samples.get(n.sample_id) or "",
             "report": reports.get(n.report_id),
             "objection_rule": n.objection_rule, "issued_at": n.issued_at.isoformat(),
             "sha256": n.sha256, "size": n.size, "delivered_on": _iso(n.delivered_on),
             "objection_deadline": _iso(n.objection_deadline),
             "pdf_url": url_for("supervision_sampling.notice_pdf", number=n.number)}
            for n in found]


def objection_dict(session: Session, o: Objection) -> dict[str, Any]:
    return {"id": o.id, "notice": o.notice.number, "received_on": o.received_on.isoformat(),
            "applicant": o.applicant, "grounds": o.grounds, "status": o.status,
            "decision_reason": o.decision_reason, "decided_at": _iso(o.decided_at),
            "reinspection_sample": _number(session, o.reinspection_sample_id)}


def _supervision_of(session: Session, sample: Sample) -> dict[str, Any]:
    """Notices, objections and re-inspections of a sample."""
    found = notices.notices_of_sample(session, sample.id)
    return {"notices": notice_dicts(session, found),
            "objections": [objection_dict(session, o) for o in
                           objections.objections_of(session, [n.id for n in found])],
            "reinspections": [s.number for s in objections.reinspections_of(session, sample.id)]}


def record_dict(session: Session, rec: SamplingRecord) -> dict[str, Any]:
    task = rec.task
    inspectors = [session.get(User, i) for i in (task.inspector1_id, task.inspector2_id)]
    backup = backups.backup_of(session, rec.id)
    sample = session.get(Sample, rec.sample_id) if rec.sample_id else None
    atts = session.scalars(select(SamplingAttachment).where(
        SamplingAttachment.record_id == rec.id).order_by(SamplingAttachment.id))
    out = {
        "number": rec.number, "task": task.number, "plan": task.plan.number,
        "enterprise": task.enterprise.name, "site": rec.site,
        "sampled_on": rec.sampled_on.isoformat(),
        "inspectors": [u.full_name for u in inspectors if u is not None],
        **{k: getattr(rec, k) for k in ("product_name", "trademark", "model", "batch",
                                        "manufacturer", "base_quantity", "sample_quantity",
                                        "test_seal", "backup_seal", "representative")},
        "representative_confirmed_at": _iso(rec.representative_confirmed_at),
        "request": sample.request.number if sample else None,
        "sample": sample.number if sample else None,
        "seal_checked_at": _iso(rec.seal_checked_at), "seal_intact": rec.seal_intact,
        "seal_note": rec.seal_note, "seal_broken": rec.seal_intact is False,
        "backup": {**{k: v for k, v in backups.as_dict(backup).items()
                      if k != "used_for_sample_id"},
                   "used_for_sample": _number(session, backup.used_for_sample_id)},
        "attachments": [{"id": a.id, "filename": a.filename, "media_type": a.media_type,
                         "sha256": a.sha256, "size": a.size} for a in atts],
    }
    if sample is not None:
        out.update(_supervision_of(session, sample))
    else:
        out.update(notices=[], objections=[], reinspections=[])
    return out


def sample_dict(session: Session, sample: Sample) -> dict[str, Any]:
    rec = session.scalar(select(SamplingRecord).where(SamplingRecord.sample_id == sample.id))
    origin = sampling.record_of_sample(session, sample.id)
    return {"sample": sample.number, "record": origin.number if origin else None,
            "seal_broken": rec is not None and rec.seal_intact is False,
            "reinspection_of": _number(session, sample.reinspection_of_id),
            **_supervision_of(session, sample)}


@bp.app_context_processor
def _sample_links() -> dict[str, Any]:
    """``supervision_of(sample)`` for the sample page: its sampling record, the broken-seal
    flag and the re-inspection links both ways (None for a sample outside the supervision)."""

    def supervision_of(sample: Sample) -> dict[str, Any] | None:
        if sample.request.inspection_type != "supervision":
            return None
        db = get_session()
        origin = sampling.record_of_sample(db, sample.id)
        rec = db.scalar(select(SamplingRecord).where(SamplingRecord.sample_id == sample.id))
        return {"record": origin.number if origin else None,
                "seal_broken": rec is not None and rec.seal_intact is False,
                "reinspection_of": _number(db, sample.reinspection_of_id),
                "reinspections": [s.number for s in
                                  objections.reinspections_of(db, sample.id)]}
    return {"supervision_of": supervision_of}


def _req() -> dict[str, Any]:
    s = settings()
    return {"request_number_format": s.request_number_format, "timezone": s.timezone}


# --- API --------------------------------------------------------------------------------------

@bp.post("/api/v1/supervision/tasks/<number>/sampling")
@operation("Record the sampling of a drawn task: makes its supervision request, test sample "
           "and sealed backup sample", body=m.NewSamplingRecord, response=m.SamplingRecord,
           status=201, errors=[403, 404, 409],
           links=("/api/v1/supervision/sampling/{number}", {"number": "number"}))
def api_create_record(number: str) -> Any:
    data = json_model(m.NewSamplingRecord)
    with unit_of_work(get_session()) as db:
        rec = sampling.create_record(db, actor=current_user(), task_number=number,
                                     data=data.model_dump(), **_req())
        body = record_dict(db, rec)
    return jsonify(body), 201


@bp.get("/api/v1/supervision/sampling/<number>")
@operation("A sampling record with its seal check, backup, attachments, notices, objections "
           "and re-inspections", response=m.SamplingRecord, errors=[404])
def api_record(number: str) -> Any:
    current_user()
    db = get_session()
    return jsonify(record_dict(db, sampling.get_record(db, number)))


@bp.get("/api/v1/supervision/samples/<number>")
@operation("A sample's supervision: its sampling record, broken-seal flag, notices, "
           "objections and the re-inspection links both ways", response=m.SupervisionSample,
           errors=[404])
def api_sample(number: str) -> Any:
    current_user()
    db = get_session()
    return jsonify(sample_dict(db, get_sample(db, number)))


@bp.post("/api/v1/supervision/sampling/<number>/seal-check")
@operation("Record on receipt whether the test sample's seal is intact (once)",
           body=m.SealCheck, response=m.SamplingRecord, errors=[403, 404, 409])
def api_seal_check(number: str) -> Any:
    data = json_model(m.SealCheck)
    with unit_of_work(get_session()) as db:
        rec = sampling.check_seal(db, actor=current_user(), record_number=number,
                                  intact=data.intact, note=data.note)
        body = record_dict(db, rec)
    return jsonify(body)


@bp.post("/api/v1/supervision/sampling/<number>/backup/disposal")
@operation("Record the disposal of the backup sample", body=m.Disposal,
           response=m.SamplingRecord, errors=[403, 404, 409])
def api_dispose(number: str) -> Any:
    data = json_model(m.Disposal)
    with unit_of_work(get_session()) as db:
        backups.dispose_backup(db, actor=current_user(), record_number=number,
                               method=data.method, reason=data.reason,
                               timezone=settings().timezone)
        body = record_dict(db, sampling.get_record(db, number))
    return jsonify(body)


@bp.get("/api/v1/supervision/backups/due")
@operation("Backup samples past their retention, not yet disposed of, a page at a time",
           query=m.DueBackupsQuery, response=m.DueBackups)
def api_due() -> Any:
    current_user()
    query_model(m.DueBackupsQuery)
    page = _due_page(request.args, API_PER_PAGE)
    return jsonify(backups=[{"record": n, "seal_number": b.seal_number, "location": b.location,
                             "retain_until": b.retain_until.isoformat()}
                            for b, n in page.items], **page.api())


def _due_page(args: Mapping[str, str], per_page: int) -> listing.Page:
    """A page of the backups past their retention, the longest due first, ``q`` searching
    record and seal numbers: the page's list and the API's, one query (issue 14)."""
    query = backups.due_query(sampling.lab_today(settings().timezone))
    if term := listing.search_term(args):
        query = query.where(or_(listing.contains_text(SamplingRecord.number, term),
                                listing.contains_text(BackupSample.seal_number, term)))
    return listing.paginate(get_session(), query, args,
                            sorts={"retain_until": BackupSample.retain_until},
                            default="retain_until", tiebreak=BackupSample.id,
                            per_page=per_page, scalars=False)


@bp.post("/api/v1/supervision/sampling/<number>/notice")
@operation("Issue the signed result notice of the record's unqualified test sample",
           response=m.Notice, status=201, errors=[403, 404, 409],
           links=("/api/v1/supervision/notices/{number}", {"number": "number"}))
def api_issue_notice(number: str) -> Any:
    with unit_of_work(get_session()) as db:
        notice = notices.issue_notice(db, actor=current_user(), record_number=number,
                                      settings=settings())
        body = notice_dict(db, notice)
    return jsonify(body), 201


# No deadline yet (awaiting delivery) sorts as the latest, so that "-deadline" (the default)
# puts those first, then the ones within their deadline, on both databases.
NOTICE_SORTS = {"deadline": func.coalesce(ResultNotice.objection_deadline, dt.date(9999, 12, 31)),
                "number": ResultNotice.number, "issued": ResultNotice.issued_at}


@bp.get("/api/v1/supervision/notices")
@operation("Result notices with their delivery and objection deadline, a page at a time",
           query=m.NoticesQuery, response=m.Notices)
def api_notices() -> Any:
    current_user()
    query_model(m.NoticesQuery)
    page = _notices_page(request.args, API_PER_PAGE)
    return jsonify(notices=notice_dicts(get_session(), page.items), **page.api())


def _notices_page(args: Mapping[str, str], per_page: int) -> listing.Page:
    """A page of the notices, the ones awaiting delivery or within their deadline first,
    ``q`` searching numbers: the page's list and the API's, one query (issue 14)."""
    query = select(ResultNotice)
    if term := listing.search_term(args):
        query = query.where(listing.contains_text(ResultNotice.number, term))
    return listing.paginate(get_session(), query, args, sorts=NOTICE_SORTS,
                            default="-deadline", tiebreak=ResultNotice.id, per_page=per_page)


@bp.get("/api/v1/supervision/notices/<number>/pdf")
@operation("Download a result notice's signed PDF", files=("application/pdf",), errors=[404])
def api_notice_pdf(number: str) -> Any:
    return notice_pdf(number)


@bp.post("/api/v1/supervision/notices/<number>/delivery")
@operation("Record the notice's delivery (once): starts the objection clock",
           body=m.Delivery, response=m.Notice, errors=[403, 404, 409])
def api_delivery(number: str) -> Any:
    data = json_model(m.Delivery)
    with unit_of_work(get_session()) as db:
        notice = notices.record_delivery(db, actor=current_user(), notice_number=number,
                                         delivered_on=data.delivered_on,
                                         timezone=settings().timezone)
        body = notice_dict(db, notice)
    return jsonify(body)


@bp.post("/api/v1/supervision/notices/<number>/objections")
@operation("Record an objection (refused after the deadline)", body=m.NewObjection,
           response=m.Objection, status=201, errors=[403, 404, 409])
def api_objection(number: str) -> Any:
    data = json_model(m.NewObjection)
    with unit_of_work(get_session()) as db:
        o = objections.receive_objection(db, actor=current_user(), notice_number=number,
                                         received_on=data.received_on,
                                         applicant=data.applicant, grounds=data.grounds,
                                         timezone=settings().timezone)
        body = objection_dict(db, o)
    return jsonify(body), 201


@bp.post("/api/v1/supervision/objections/<int:objection_id>/decision")
@operation("Accept, reject or withdraw an objection (once)", body=m.Decision,
           response=m.Objection, errors=[403, 404, 409])
def api_decision(objection_id: int) -> Any:
    data = json_model(m.Decision)
    with unit_of_work(get_session()) as db:
        o = objections.decide_objection(db, actor=current_user(), objection_id=objection_id,
                                        decision=data.decision, reason=data.reason)
        body = objection_dict(db, o)
    return jsonify(body)


@bp.post("/api/v1/supervision/objections/<int:objection_id>/reinspection")
@operation("Unseal the backup sample of an accepted objection as the re-inspection sample",
           body=m.Reinspection, response=m.Objection, errors=[403, 404, 409])
def api_reinspection(objection_id: int) -> Any:
    data = json_model(m.Reinspection)
    with unit_of_work(get_session()) as db:
        objections.start_reinspection(db, actor=current_user(), objection_id=objection_id,
                                      backup_seal_intact=data.backup_seal_intact, **_req())
        body = objection_dict(db, objections.get_objection(db, objection_id))
    return jsonify(body)


@bp.get("/api/v1/supervision/calendar")
@operation("The working-day calendar's exceptions (holidays, 调休 working days), a page at a "
           "time", query=m.CalendarQuery, response=m.CalendarPage)
def api_calendar() -> Any:
    current_user()
    q = query_model(m.CalendarQuery)
    page = _calendar_page(request.args, API_PER_PAGE, q.year)
    return jsonify(days=[workdays.as_dict(r) for r in page.items], **page.api())


def _calendar_page(args: Mapping[str, str], per_page: int, year: int | None) -> listing.Page:
    """A page of the calendar's exceptions by day, of one year or all: the page's list and
    the API's, one query (issue 14)."""
    return listing.paginate(get_session(), workdays.overrides_query(year), args,
                            sorts={"day": WorkingDayOverride.day}, default="day",
                            per_page=per_page)


@bp.put("/api/v1/supervision/calendar")
@operation("Set or remove exceptions of the working-day calendar (admin)",
           body=m.CalendarChange, response=m.Calendar, errors=[403])
def api_set_calendar() -> Any:
    data = json_model(m.CalendarChange)
    with unit_of_work(get_session()) as db:
        rows = workdays.set_overrides(db, actor=current_user(),
                                      days=[d.model_dump() for d in data.days])
        body = [workdays.as_dict(r) for r in rows]
    return jsonify(days=body)


# --- pages ------------------------------------------------------------------------------------

def _can() -> dict[str, bool]:
    roles = current_user().roles
    return {a: allowed(roles, a) for a in CAN}


@bp.get("/supervision/tasks/<number>/sampling")
def sampling_form(number: str) -> Any:
    from lims.auth.services import require

    require(current_user(), "sampling.record")
    task = sampling.get_task(get_session(), number)
    return render_template("supervision/sampling_form.html", task=task, values={},
                           today=sampling.lab_today(settings().timezone).isoformat())


@bp.post("/supervision/tasks/<number>/sampling")
def create_record(number: str) -> Any:
    data: dict[str, Any] = form()
    data["representative_confirmed"] = bool(data.get("representative_confirmed"))
    with unit_of_work(get_session()) as db:
        rec = sampling.create_record(db, actor=current_user(), task_number=number, data=data,
                                     **_req())
        record_number = rec.number
    flash(_("Sampling record %(number)s recorded.", number=record_number), "ok")
    return redirect(url_for(".record_page", number=record_number), code=303)


@bp.get("/supervision/sampling/<number>")
def record_page(number: str) -> Any:
    current_user()
    db = get_session()
    rec = sampling.get_record(db, number)
    return render_template("supervision/sampling_detail.html", r=record_dict(db, rec),
                           can=_can(), today=sampling.lab_today(settings().timezone).isoformat())


@bp.post("/supervision/sampling/<number>/seal-check")
def seal_check_page(number: str) -> Any:
    data = form()
    with unit_of_work(get_session()) as db:
        sampling.check_seal(db, actor=current_user(), record_number=number,
                            intact=data.get("intact") == "yes", note=data.get("note", ""))
    return redirect(url_for(".record_page", number=number), code=303)


@bp.post("/supervision/sampling/<number>/attachments")
@allow_upload(sampling.ATTACHMENT_MAX_BYTES + 65536)
def attach_page(number: str) -> Any:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput(msg("choose a file"), field="file")
    with unit_of_work(get_session()) as db:
        sampling.add_attachment(db, actor=current_user(), record_number=number,
                                filename=upload.filename, media_type=upload.mimetype,
                                data=upload.read(sampling.ATTACHMENT_MAX_BYTES + 1))
    return redirect(url_for(".record_page", number=number), code=303)


@bp.get("/supervision/attachments/<int:attachment_id>")
def attachment(attachment_id: int) -> Any:
    current_user()
    att = get_session().get(SamplingAttachment, as_id(attachment_id, "attachment"))
    if att is None:
        raise NotFound(msg("no attachment %(id)s", id=attachment_id))
    return Response(att.data, mimetype=att.media_type, headers={
        "Content-Disposition": f'attachment; filename="attachment-{att.id}"',
        "X-Content-SHA256": att.sha256, "X-Content-Type-Options": "nosniff"})


@bp.post("/supervision/sampling/<number>/backup/disposal")
def dispose_page(number: str) -> Any:
    data = form()
    with unit_of_work(get_session()) as db:
        backups.dispose_backup(db, actor=current_user(), record_number=number,
                               method=data.get("method", ""), reason=data.get("reason", ""),
                               timezone=settings().timezone)
    return redirect(url_for(".record_page", number=number), code=303)


@bp.get("/supervision/backups")
def backups_page() -> Any:
    """The backups due for disposal, a page at a time (issue 14)."""
    current_user()
    page = _due_page(request.args, listing.PER_PAGE)
    return render_template("supervision/backup_list.html", page=page, due=page.items)


@bp.post("/supervision/sampling/<number>/notice")
def notice_page(number: str) -> Any:
    with unit_of_work(get_session()) as db:
        notice = notices.issue_notice(db, actor=current_user(), record_number=number,
                                      settings=settings())
        flash(_("Result notice %(number)s issued.", number=notice.number), "ok")
    return redirect(url_for(".record_page", number=number), code=303)


@bp.get("/supervision/notices")
def notices_page() -> Any:
    """The notices, the ones awaiting delivery or within their deadline first, a page at a
    time (issue 14)."""
    current_user()
    page = _notices_page(request.args, listing.PER_PAGE)
    return render_template("supervision/notice_list.html", page=page,
                           notices=notice_dicts(get_session(), page.items),
                           today=sampling.lab_today(settings().timezone).isoformat())


@bp.get("/supervision/notices/<number>.pdf")
def notice_pdf(number: str) -> Any:
    current_user()
    notice = notices.get_notice(get_session(), number)
    return Response(notice.pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{notice.number}.pdf"',
        "X-Content-SHA256": notice.sha256})


@bp.post("/supervision/notices/<number>/delivery")
def delivery_page(number: str) -> Any:
    with unit_of_work(get_session()) as db:
        notices.record_delivery(db, actor=current_user(), notice_number=number,
                                delivered_on=form().get("delivered_on"),
                                timezone=settings().timezone)
    return redirect(request.referrer or url_for(".notices_page"), code=303)


@bp.get("/supervision/notices/<number>/objections/new")
def objection_form(number: str) -> Any:
    from lims.auth.services import require

    require(current_user(), "objection.decide")
    db = get_session()
    notice = notices.get_notice(db, number)
    return render_template("supervision/objection_form.html", n=notice_dict(db, notice),
                           today=sampling.lab_today(settings().timezone).isoformat())


@bp.post("/supervision/notices/<number>/objections/new")
def create_objection(number: str) -> Any:
    data = form()
    with unit_of_work(get_session()) as db:
        o = objections.receive_objection(db, actor=current_user(), notice_number=number,
                                         received_on=data.get("received_on"),
                                         applicant=data.get("applicant"),
                                         grounds=data.get("grounds"),
                                         timezone=settings().timezone)
        sample = _number(db, o.notice.sample_id)
        origin = sampling.record_of_sample(db, o.notice.sample_id)
        target = url_for(".record_page", number=origin.number) if origin else \
            url_for(".notices_page")
    flash(_("Objection to %(sample)s recorded.", sample=sample), "ok")
    return redirect(target, code=303)


@bp.post("/supervision/objections/<int:objection_id>/decision")
def decision_page(objection_id: int) -> Any:
    data = form()
    with unit_of_work(get_session()) as db:
        objections.decide_objection(db, actor=current_user(), objection_id=objection_id,
                                    decision=data.get("decision"), reason=data.get("reason", ""))
    return redirect(request.referrer or url_for(".notices_page"), code=303)


@bp.post("/supervision/objections/<int:objection_id>/reinspection")
def reinspection_page(objection_id: int) -> Any:
    data = form()
    with unit_of_work(get_session()) as db:
        sample = objections.start_reinspection(
            db, actor=current_user(), objection_id=objection_id,
            backup_seal_intact=data.get("backup_seal_intact") == "yes", **_req())
        flash(_("Re-inspection sample %(number)s registered.", number=sample.number), "ok")
    return redirect(request.referrer or url_for(".notices_page"), code=303)


def _calendar_year(value: str) -> int:
    """The year the calendar page shows: this year when not given.

    :raises InvalidInput: not a whole number within the years a date may have (a year such as
        99999 or -1 would overflow the date arithmetic).
    """
    if not value.strip():
        return sampling.lab_today(settings().timezone).year
    text_ = value.strip()
    if not (text_.isascii() and text_.isdecimal() and len(text_) <= 4) \
            or not FIRST_YEAR <= int(text_) <= LAST_YEAR:
        raise InvalidInput(msg("must be a year such as 2026"), field="year")
    return int(text_)


@bp.get("/supervision/calendar")
def calendar_page() -> Any:
    current_user()
    year = _calendar_year(request.args.get("year", ""))
    page = _calendar_page(request.args, listing.PER_PAGE, year)  # issue 14
    return render_template("supervision/sampling_calendar.html", year=year, page=page,
                           days=page.items, can=_can())


@bp.post("/supervision/calendar")
def set_calendar_page() -> Any:
    data = form()
    working = {"working": True, "off": False, "remove": None}.get(data.get("working", ""), "")
    with unit_of_work(get_session()) as db:
        workdays.set_overrides(db, actor=current_user(), days=[
            {"day": data.get("day"), "working": working, "note": data.get("note", "")}])
    return redirect(url_for(".calendar_page", year=str(data.get("day", ""))[:4] or None),
                    code=303)
