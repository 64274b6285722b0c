"""Pages and API of calibration work: procedures, jobs of customers' instruments, readings."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _

from lims import units
from lims.auth.permissions import allowed
from lims.calibration import procedures, work
from lims.calibration import work_api_models as m
from lims.calibration.models import CalibrationJob, CalibrationProcedure
from lims.db import unit_of_work
from lims.errors import LimsError
from lims.samples.models import Sample
from lims.web.auth import current_user
from lims.web.context import get_session, settings
from lims.web.errors import localized, status_of
from lims.web.i18n import field_label, label
from lims.web.inputs import form, json_model, query_model
from lims.web.openapi import operation

bp = Blueprint("calibration_work", __name__)
api = Blueprint("calibration_work_api", __name__, url_prefix="/api/v1")


# --- API -------------------------------------------------------------------------------------

@api.get("/procedures")
@operation("List calibration procedures (JJF/JJG), a page at a time", query=m.ProceduresQuery,
           response=m.Procedures)
def procedures_json() -> Any:
    from flask import request
    from sqlalchemy import or_, select

    from lims.calibration.models import CalibrationProcedure as Procedure
    from lims.web import listing
    from lims.web.api_models import API_PER_PAGE

    query_model(m.ProceduresQuery)
    db = get_session()
    query = select(Procedure)
    if term := listing.search_term(request.args):
        query = query.where(or_(listing.contains_text(Procedure.code, term),
                                listing.contains_text(Procedure.title, term)))
    page = listing.paginate(db, query, request.args,
                            sorts={"id": Procedure.id, "code": Procedure.code}, default="id",
                            tiebreak=Procedure.id, per_page=API_PER_PAGE)
    return jsonify(procedures=[procedures.procedure_json(p, db) for p in page.items],
                   **page.api())


@api.post("/procedures")
@operation("Register a calibration procedure with its points, standards and budget template "
           "(quality manager)", body=m.NewProcedure, response=m.ProcedureOut, status=201,
           errors=[403, 409])
def create_procedure_json() -> Any:
    data = json_model(m.NewProcedure).model_dump()
    with unit_of_work(get_session()) as db:
        proc = procedures.create_procedure(db, actor=current_user(), **data)
        body = procedures.procedure_json(proc, db)
    return jsonify(body), 201


@api.get("/procedures/<int:procedure_id>")
@operation("Show a calibration procedure", response=m.ProcedureOut)
def procedure_json(procedure_id: int) -> Any:
    db = get_session()
    return jsonify(procedures.procedure_json(procedures.get_procedure(db, procedure_id), db))


@api.post("/calibration-jobs")
@operation("Receive a customer's instrument for calibration or verification", body=m.NewJob,
           response=m.Job, status=201, errors=[403, 404, 409],
           links=("/api/v1/calibration-jobs/{number}", {"number": "sample"}))
def create_job_json() -> Any:
    data = json_model(m.NewJob).model_dump()
    s = settings()
    with unit_of_work(get_session()) as db:
        job = work.create_job(db, actor=current_user(), **data,
                              request_number_format=s.request_number_format,
                              sample_number_format=s.sample_number_format, timezone=s.timezone)
        sample, job = work.get_job(db, _number_of(db, job))
        body = work.job_json(db, sample, job)
    return jsonify(body), 201


def _number_of(db: Any, job: Any) -> str:
    from lims.samples.models import Sample

    sample = db.get(Sample, job.sample_id)
    return str(sample.number)


@api.get("/calibration-jobs/<number>")
@operation("Show a calibration job with its points computed", response=m.Job)
def job_json(number: str) -> Any:
    db = get_session()
    sample, job = work.get_job(db, number)
    return jsonify(work.job_json(db, sample, job))


@api.post("/calibration-jobs/<number>/readings")
@operation("Record the readings at a point (as found or as left)", body=m.NewReadings,
           response=m.Job, status=201, errors=[403, 409])
def record_readings_json(number: str) -> Any:
    data = json_model(m.NewReadings)
    s = settings()
    with unit_of_work(get_session()) as db:
        work.record_readings(db, actor=current_user(), number=number, point_id=data.point_id,
                             values=data.values, standard_values=data.standard_values,
                             unit=data.unit, state=data.state, measured_at=data.measured_at,
                             timezone=s.timezone)
        sample, job = work.get_job(db, number)
        body = work.job_json(db, sample, job)
    return jsonify(body), 201


@api.post("/calibration-readings/<int:reading_id>/corrections")
@operation("Correct a point's readings: a new version with a reason",
           body=m.ReadingsCorrection, response=m.ReadingsOut, status=201, errors=[403, 409])
def correct_readings_json(reading_id: int) -> Any:
    data = json_model(m.ReadingsCorrection)
    with unit_of_work(get_session()) as db:
        new = work.correct_readings(db, actor=current_user(), reading_id=reading_id,
                                    values=data.values, standard_values=data.standard_values,
                                    unit=data.unit, reason=data.reason,
                                    measured_at=data.measured_at, timezone=settings().timezone)
        body = work.reading_json(new)
    return jsonify(body), 201


@api.post("/calibration-jobs/<number>/capture")
@operation("Read an instrument (the item on a bench port, or a standard) and record the "
           "readings with their raw bytes", body=m.CaptureReadings, response=m.Job,
           status=201, errors=[403, 409])
def capture_json(number: str) -> Any:
    data = json_model(m.CaptureReadings)
    s = settings()
    db = get_session()
    user = current_user()
    instrument, readings = work.read_for_point(
        db, actor=user, number=number, point_id=data.point_id,
        instrument_id=data.instrument_id, target=data.target, count=data.count,
        timezone=s.timezone, port_hosts=s.port_hosts)
    with unit_of_work(db):
        work.record_captured(db, actor=user, number=number, point_id=data.point_id,
                             instrument=instrument, readings=readings, target=data.target,
                             state=data.state, typed=data.typed, timezone=s.timezone)
        sample, job = work.get_job(db, number)
        body = work.job_json(db, sample, job)
    return jsonify(body), 201


# --- pages -----------------------------------------------------------------------------------

JOB_SORTS: dict[str, Any] = {"received": CalibrationJob.id, "number": Sample.number}


@bp.get("/calibration-jobs")
def jobs_page(typed: dict[str, str] | None = None) -> Any:
    """The jobs, a page at a time (newest first), and the reception form; ``typed`` refills
    the form after a refused post. Nothing on it grows with the jobs or the procedures
    (issue 14)."""
    from typing import cast

    from flask import request
    from sqlalchemy import Select, select
    from sqlalchemy.orm import joinedload, lazyload

    from lims.samples.lists import recent_customers
    from lims.web import listing

    db = get_session()
    query = cast("Select[Any]", select(CalibrationJob, Sample)
                 .join(Sample, Sample.id == CalibrationJob.sample_id)
                 # The list shows a job's procedure code, not its readings nor the
                 # procedure's points and standards.
                 .options(lazyload(CalibrationJob.readings),
                          joinedload(CalibrationJob.procedure)
                          .lazyload(CalibrationProcedure.points),
                          joinedload(CalibrationJob.procedure)
                          .lazyload(CalibrationProcedure.standards)))
    page = listing.paginate(db, query, request.args, sorts=JOB_SORTS, default="-received",
                            tiebreak=CalibrationJob.id, scalars=False)
    return render_template(
        "calibration/jobs.html", page=page, jobs=page.items,
        # The procedure typed with suggestions, not a <select> of every procedure (issue 14).
        procedures=procedures.find_procedures(db, ""), choice=procedures.choice_text,
        # A typed customer with suggestions, not a <select> of every customer (issue 14).
        customers=recent_customers(db),
        can_register=allowed(current_user().roles, "sample.register"), typed=typed or {})


@bp.get("/procedures/search")
def procedure_search() -> Any:
    """The reception form's procedure type-ahead: at most 20 procedures whose code, clause,
    title or quantity contains ``q``: JSON for lims.js; without JavaScript the code typed is
    resolved on receipt."""
    from flask import request

    from lims.web import listing

    found = procedures.find_procedures(get_session(), listing.search_term(request.args))
    return jsonify(procedures=[{"id": p.id, "code": p.code, "value": procedures.choice_text(p),
                                "label": f"{p.clause} {p.quantity} ({label(p.kind)})".strip()}
                               for p in found])


def _refused(exc: LimsError, page: Any, **kw: Any) -> Any:
    """Show the form again with what was typed and why it was refused (the generic handler
    redirects back, which would empty a long form). The unit of work has rolled back. A
    database that refuses writes, or a lost session, goes to the generic handler."""
    status = status_of(exc)
    if status not in (403, 404, 409, 422):
        raise exc
    flash(localized(exc.message) + (f" ({field_label(exc.field)})" if exc.field else ""), "error")
    return page(**kw), status


@bp.post("/calibration-jobs")
def receive() -> Any:
    """Receive a customer's instrument from the form (a request, a sample and its job)."""
    data = form()
    conditions = [{"name": name, "value": data[key], "unit": unit}
                  for key, name, unit in (("temperature", "温度 Temperature", "℃"),
                                          ("humidity", "相对湿度 Relative humidity", "%RH"))
                  if data.get(key)]
    try:
        number = _receive(data, conditions)
    except LimsError as exc:
        return _refused(exc, jobs_page, typed=data)
    flash(_("Instrument received as %(number)s", number=number), "ok")
    return redirect(url_for("calibration_work.job_page", number=number), code=303)


def _receive(data: dict[str, str], conditions: list[dict[str, str]]) -> str:
    from lims.samples.lists import resolve_customer

    s = settings()
    with unit_of_work(get_session()) as db:
        job = work.create_job(
            db, actor=current_user(),
            # The code typed in the form; a script may still send the id.
            procedure_id=data.get("procedure_id") or procedures.resolve_procedure(
                db, data.get("procedure")),
            customer_id=data.get("customer_id") or resolve_customer(db, data.get("customer")),
            condition=data.get("condition"),
            item={"name": data.get("item_name"), "manufacturer": data.get("manufacturer"),
                  "model": data.get("model"), "serial_number": data.get("serial_number"),
                  "accuracy_class": data.get("accuracy_class")},
            resolution=data.get("resolution") or None,
            conformity_requested=data.get("conformity_requested") == "1",
            recalibration_interval=data.get("recalibration_interval") or None,
            decision_rule=data.get("decision_rule") or None, r=data.get("r") or None,
            place=data.get("place") or "", conditions=conditions,
            request_number_format=s.request_number_format,
            sample_number_format=s.sample_number_format, timezone=s.timezone)
        return _number_of(db, job)


SOURCES = 10  # capture sources the job page lists; others are typed (issue 14)


def _capture_instruments(db: Any, job: Any, term: str, limit: int) -> list[Any]:
    """Instruments with a driver whose asset number or name contains ``term``: the procedure's
    standards and the item (its serial number is the job's) first, then by asset number: the
    ones :func:`lims.calibration.work.read_for_point` takes come first."""
    from lims.instruments import lists
    from lims.instruments.models import Instrument

    standards = [s.instrument_id for s in job.procedure.standards]
    first = Instrument.id.in_(standards)
    if job.serial_number:
        first = first | (Instrument.serial_number == job.serial_number)
    return lists.find_instruments(db, term, limit, where=[Instrument.driver.is_not(None)],
                                  first=first)


@bp.get("/calibration-jobs/<number>")
def job_page(number: str, typed: dict[str, str] | None = None) -> Any:
    """A job's points and readings, what issuing will give, and the forms; ``typed`` refills
    the readings form after a refused post."""
    db = get_session()
    sample, job = work.get_job(db, number)
    roles = current_user().roles
    from sqlalchemy import select

    from lims.reports.models import Report

    reports = db.scalars(select(Report).where(Report.sample_id == sample.id)
                         .order_by(Report.id)).all()
    return render_template(
        "calibration/job.html", sample=sample, job=job, data=work.job_json(db, sample, job),
        # A bounded few capture sources, the others typed with suggestions: never every
        # instrument with a driver (issue 14).
        instruments=_capture_instruments(db, job, "", SOURCES) if allowed(
            roles, "result.capture") else [],
        typed=typed or {}, reports=reports,
        can={a: allowed(roles, a) for a in ("result.record", "result.capture",
                                             "result.correct", "sample.complete")})


@bp.get("/calibration-jobs/<number>/instruments")
def instrument_search(number: str) -> Any:
    """The capture form's instrument type-ahead: at most 20 instruments with a driver whose
    asset number or name contains ``q``, the job's standards and item first: JSON for
    lims.js; without JavaScript the asset number typed is resolved on capture."""
    from flask import request

    from lims.web import listing

    db = get_session()
    _sample, job = work.get_job(db, number)
    found = _capture_instruments(db, job, listing.search_term(request.args), 20)
    return jsonify(instruments=[{"id": i.id, "asset_number": i.asset_number, "name": i.name,
                                 "value": i.asset_number,
                                 "label": f"{i.name} {i.serial_number or ''}".strip()}
                                for i in found])


def _capture_instrument(db: Any, data: dict[str, str]) -> Any:
    """The capture form's instrument: the asset number typed, else the id a script sent."""
    from lims.instruments.lists import resolve_asset

    if data.get("instrument"):
        return resolve_asset(db, data["instrument"]).id
    return data.get("instrument_id")


@bp.post("/calibration-jobs/<number>/capture")
def capture_page(number: str) -> Any:
    """Read the item (or a standard) through its driver and record the readings."""
    data = form()
    s = settings()
    db = get_session()
    user = current_user()
    target = data.get("target") or "item"
    typed = [v for v in (data.get("typed") or "").replace(",", " ").split() if v]
    count = data.get("count") or "3"
    instrument, readings = work.read_for_point(
        db, actor=user, number=number, point_id=data.get("point_id"),
        instrument_id=_capture_instrument(db, data), target=target,
        count=int(count) if count.isdecimal() and len(count) < 3 else 0,
        timezone=s.timezone, port_hosts=s.port_hosts)
    with unit_of_work(db):
        work.record_captured(db, actor=user, number=number, point_id=data.get("point_id"),
                             instrument=instrument, readings=readings, target=target,
                             state=data.get("state") or "as left", typed=typed or None,
                             timezone=s.timezone)
    flash(_("Captured %(values)s from %(asset)s",
            values=", ".join(str(r.value) for r in readings), asset=instrument.asset_number),
          "ok")
    return redirect(url_for("calibration_work.job_page", number=number), code=303)


@bp.post("/calibration-jobs/<number>/readings")
def record_readings_page(number: str) -> Any:
    data = form()
    values = [v for v in (data.get("values") or "").replace(",", " ").split() if v]
    std = [v for v in (data.get("standard_values") or "").replace(",", " ").split() if v]
    try:
        with unit_of_work(get_session()) as db:
            reading = work.record_readings(
                db, actor=current_user(), number=number, point_id=data.get("point_id"),
                values=values, standard_values=std or None, unit=data.get("unit") or None,
                state=data.get("state") or "as left",
                measured_at=data.get("measured_at") or None, timezone=settings().timezone)
            at = next(p for p in reading.job.procedure.points if p.id == reading.point_id)
            point = f"{at.seq} ({at.nominal} {units.display(at.unit)})"
            state = label(reading.state)
    except LimsError as exc:
        return _refused(exc, job_page, number=number, typed=data)
    flash(_("Readings recorded at point %(point)s, %(state)s", point=point, state=state), "ok")
    return redirect(url_for("calibration_work.job_page", number=number), code=303)


@bp.post("/calibration-readings/<int:reading_id>/correct")
def correct_readings_page(reading_id: int) -> Any:
    data = form()
    values = [v for v in (data.get("values") or "").replace(",", " ").split() if v]
    std = [v for v in (data.get("standard_values") or "").replace(",", " ").split() if v]
    with unit_of_work(get_session()) as db:
        new = work.correct_readings(db, actor=current_user(), reading_id=reading_id,
                                    values=values, standard_values=std or None,
                                    reason=data.get("reason"), timezone=settings().timezone)
        number = _number_of(db, new.job)
        flash(_("Readings corrected (version %(new)s); version %(old)s is kept",
                new=new.version, old=new.version - 1), "ok")
    return redirect(url_for("calibration_work.job_page", number=number), code=303)


@bp.app_template_global()
def document_to_issue(sample: Any, job: Any) -> dict[str, Any]:
    """What issuing the job's sample will give, shown before issue: a 校准证书, a 检定证书, or
    a 检定结果通知书 listing the failing points, so that the signatory knows before signing.
    The same rule as :func:`lims.calibration.work.certificate_content` (a verified item with a
    failing point gets a notice, not a certificate), on the current readings; the browser test
    checks that what the page announces is what is issued."""
    final = work.final_results(work.compute(get_session(), sample, job))
    failing = [r for r in final if r.conformity not in (None, "pass")]
    if job.kind == "verification":
        kind = "verification_notice" if failing else "verification_certificate"
    else:
        kind = "calibration_certificate"
    return {"kind": kind, "failing": failing,
            "judged": job.conformity_requested or job.kind == "verification"}
