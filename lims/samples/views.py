"""Pages: sample list and registration, sample detail with results, capture and workflow."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from lims.auth.permissions import allowed
from lims.calibration.work import job_of
from lims.db import unit_of_work
from lims.instruments.models import Instrument
from lims.kinds import KINDS
from lims.reports.models import Report
from lims.samples import particulars, services
from lims.samples.models import Customer, Sample, TestMethod
from lims.web.auth import current_user, login_policy
from lims.web.context import get_session, local_time, settings
from lims.web.inputs import form

bp = Blueprint("samples", __name__)


def _back(number: str) -> Any:
    return redirect(url_for("samples.detail", number=number), code=303)


@bp.get("/")
def index() -> Any:
    db = get_session()
    status = request.args.get("status") or None
    query = select(Sample).order_by(Sample.id.desc()).limit(200)
    if status:
        query = query.where(Sample.status == status)
    return render_template(
        "samples/index.html", samples=db.scalars(query).all(), status=status,
        customers=db.scalars(select(Customer).where(Customer.retired_at.is_(None))
                             .order_by(Customer.name)).all(),
        methods=db.scalars(select(TestMethod).where(TestMethod.retired_at.is_(None))
                           .order_by(TestMethod.code)).all(),
        inspection_types=particulars.INSPECTION_TYPES,
        can_register=allowed(current_user().roles, "sample.register"),
        can_add_customer=allowed(current_user().roles, "customer.create"))


@bp.get("/scan")
def scan() -> Any:
    """The scan field of every page: a sample, report, request or instrument number, in any
    case, with whatever a barcode scanner adds around it (spaces, a trailing Enter)."""
    from flask_babel import gettext

    from lims.samples.models import TestRequest

    q = (request.args.get("q") or "").strip()
    if not q:
        return redirect(url_for("samples.index"), code=303)
    db, key = get_session(), q.upper()
    targets: tuple[tuple[Any, str, str], ...] = (
        (Sample.number, "samples.detail", "number"),
        (Report.number, "reports.detail", "number"),
        (Instrument.asset_number, "instruments.detail", "asset"),
    )
    for column, endpoint, arg in targets:
        found = db.scalar(select(column).where(func.upper(column) == key).limit(1))
        if found is not None:
            return redirect(url_for(endpoint, **{arg: found}), code=303)
    req = db.scalar(select(TestRequest).where(func.upper(TestRequest.number) == key).limit(1))
    if req is not None and req.samples:
        return redirect(url_for("samples.detail", number=req.samples[0].number), code=303)
    flash(gettext("Nothing is numbered %(number)s.", number=q[:60]), "error")
    return redirect(url_for("samples.index"), code=303)


@bp.post("/customers")
def add_customer() -> Any:
    """The sample page's quick form; a likely duplicate asks to confirm first."""
    from lims.samples.refdata_views import create_customer_from_form

    return create_customer_from_form(back=url_for("samples.index"))


@bp.post("/samples")
def register() -> Any:
    """Register a sample under a new request of the chosen customer."""
    data = form()
    s = settings()
    with unit_of_work(get_session()) as db:
        user = current_user()
        req = services.create_request(db, actor=user, customer_id=data.get("customer_id"),
                                      description=data.get("request_description", ""),
                                      decision_rule=data.get("decision_rule") or None,
                                      r=data.get("r") or None,
                                      inspection_type=data.get("inspection_type") or None,
                                      product_standard=data.get("product_standard", ""),
                                      customer_data=data.get("customer_data", ""),
                                      number_format=s.request_number_format, timezone=s.timezone)
        sample = services.register_sample(
            db, actor=user, request_id=req.id, description=data.get("description"),
            method_ids=request.form.getlist("method_ids"),
            number_format=s.sample_number_format, timezone=s.timezone,
            **{key: data.get(key, "") for key in services.SAMPLE_PARTICULARS})
        number = sample.number
    flash(f"sample {number} registered under request {req.number}", "ok")
    return _back(number)


@bp.get("/samples/<number>")
def detail(number: str) -> Any:
    db = get_session()
    sample = services.get_sample(db, number)
    instruments = db.scalars(select(Instrument).where(Instrument.retired_at.is_(None))
                             .order_by(Instrument.asset_number)).all()
    reports = db.scalars(select(Report).where(Report.sample_id == sample.id)
                         .order_by(Report.id)).all()
    roles = current_user().roles
    return render_template(
        "samples/detail.html", sample=sample, instruments=instruments, reports=reports,
        job=job_of(db, sample),
        conclusion=services.derived_conclusion(sample),
        inspection_label=particulars.inspection_label(sample.request.inspection_type),
        conditions_text=particulars.conditions_text, condition_kinds=particulars.CONDITION_KINDS,
        can={a: allowed(roles, a) for a in ("sample.receive", "result.record", "result.capture",
                                             "result.correct", "sample.complete",
                                             "sample.review", "sample.approve", "report.issue")})


@bp.post("/samples/<number>/receive")
def receive(number: str) -> Any:
    with unit_of_work(get_session()) as db:
        services.receive_sample(db, actor=current_user(), number=number,
                                condition=form().get("condition"))
    flash("receipt recorded", "ok")
    return _back(number)


@bp.post("/samples/<number>/results")
def record_result(number: str) -> Any:
    data = form()
    with unit_of_work(get_session()) as db:
        r = services.record_result(db, actor=current_user(), number=number,
                                   characteristic_id=data.get("characteristic_id"),
                                   value=data.get("value"), unit=data.get("unit"),
                                   instrument_id=data.get("instrument_id") or None,
                                   measured_at=data.get("measured_at") or None,
                                   timezone=settings().timezone)
        at = local_time(r.measured_at)
        given = bool(data.get("measured_at"))
    flash(f"result recorded, measured at {at}" + ("" if given else " (now: no time was given)"),
          "ok")
    return _back(number)


@bp.post("/samples/<number>/capture")
def capture(number: str) -> Any:
    data = form()
    db = get_session()
    user = current_user()
    instrument, reading = services.read_for_result(
        db, actor=user, number=number, characteristic_id=data.get("characteristic_id"),
        instrument_id=data.get("instrument_id"), timezone=settings().timezone,
        port_hosts=settings().port_hosts)
    with unit_of_work(db):
        services.record_reading(db, actor=user, number=number,
                                characteristic_id=data.get("characteristic_id"),
                                instrument=instrument, reading=reading,
                                    timezone=settings().timezone)
    flash(f"captured {reading.value} {reading.unit} from {instrument.asset_number}", "ok")
    return _back(number)


@bp.post("/results/<int:result_id>/correct")
def correct(result_id: int) -> Any:
    data = form()
    with unit_of_work(get_session()) as db:
        new = services.correct_result(db, actor=current_user(), result_id=result_id,
                                      value=data.get("value"), unit=data.get("unit"),
                                      reason=data.get("reason"),
                                      measured_at=data.get("measured_at") or None,
                                      timezone=settings().timezone)
        number = new.test.sample.number
    flash(f"result corrected (version {new.version}); version {new.version - 1} is kept", "ok")
    return _back(number)


@bp.post("/samples/<number>/approve")
def approve(number: str) -> Any:
    """Approve with the signatory's password re-entered (an electronic signature)."""
    with unit_of_work(get_session()) as db:
        sample = services.approve_sample(db, actor=current_user(), number=number,
                                         password=request.form.get("password"),
                                         policy=login_policy(),
                                         conclusion=request.form.get("conclusion") or None,
                                         conclusion_reason=request.form.get(
                                             "conclusion_reason") or None)
        flash(f"sample {number} is now {sample.status}: approved and signed by "
              f"{current_user().full_name}", "ok")
    return _back(number)


@bp.post("/samples/<number>/tests/<int:method_id>/conditions")
def conditions(number: str, method_id: int) -> Any:
    """Record a test's environmental conditions (one row per kind; empty rows skipped) and/or
    its deviation from the method."""
    data = form()
    rows = [{"kind": kind, "value": value.strip(), "unit": unit.strip()}
            for kind, value, unit in zip(request.form.getlist("kind"),
                                         request.form.getlist("value"),
                                         request.form.getlist("unit"), strict=False)
            if value.strip()]
    with unit_of_work(get_session()) as db:
        services.record_conditions(db, actor=current_user(), number=number,
                                   method_id=method_id, conditions=rows or None,
                                   deviation=data.get("deviation") or None)
    flash("conditions recorded", "ok")
    return _back(number)


@bp.post("/results/<int:result_id>/decision")
def decide(result_id: int) -> Any:
    """A reviewer decides the conformity of an undecided result, with the reason."""
    data = form()
    with unit_of_work(get_session()) as db:
        d = services.decide_conformity(db, actor=current_user(), result_id=result_id,
                                       conformity=data.get("conformity"),
                                       reason=data.get("reason"))
        number = d.result.test.sample.number
    flash(f"conformity decided: {d.conformity}", "ok")
    return _back(number)


CHARACTERISTIC_ROWS = 6  # rows of the method form; empty ones are ignored


def _characteristic(row: dict[str, Any]) -> dict[str, Any]:
    """A form row as the API's characteristic: an uncertainty written "1.5 %" is relative."""
    u, k = row.pop("uncertainty"), row.pop("k")
    if u is not None:
        relative = u.endswith("%")
        row["uncertainty"] = {"relative" if relative else "expanded": u.rstrip("%").strip(),
                              "k": k}
    return row


@bp.get("/methods")
def methods() -> Any:
    db = get_session()
    return render_template(
        "samples/methods.html", kinds=KINDS.values(), rows=CHARACTERISTIC_ROWS,
        methods=db.scalars(select(TestMethod).order_by(TestMethod.code)).all(),
        can_manage=allowed(current_user().roles, "method.manage"))


@bp.post("/methods")
def create_method() -> Any:
    """Create a method from the form: one row per characteristic (empty rows skipped)."""
    data = form()
    columns = ("name", "kind", "unit", "lower_limit", "upper_limit", "lod", "loq", "expected",
               "uncertainty", "k")
    cells = [request.form.getlist(c) for c in columns]
    count = max(len(c) for c in cells)
    rows = zip(*(c + [""] * (count - len(c)) for c in cells), strict=True)
    characteristics = [_characteristic({c: v.strip() or None for c, v in
                                        zip(columns, row, strict=True)})
                       for row in rows if any(v.strip() for v in row)]
    with unit_of_work(get_session()) as db:
        m = services.create_method(db, actor=current_user(), code=data.get("code"),
                                   title=data.get("title"), field=data.get("field"),
                                   clause=data.get("clause", ""), characteristics=characteristics,
                                   requires_conditions=bool(data.get("requires_conditions")))
        flash(f"method {m.code} created with {len(m.characteristics)} characteristics", "ok")
    return redirect(url_for("samples.methods"), code=303)


@bp.post("/samples/<number>/<action>")
def workflow(number: str, action: str) -> Any:
    service = {"complete": services.complete_testing,
               "review": services.review_sample}.get(action)
    if service is None:
        from lims.errors import NotFound

        raise NotFound(f"no action {action!r}")
    with unit_of_work(get_session()) as db:
        sample = service(db, actor=current_user(), number=number)
        flash(f"sample {number} is now {sample.status}", "ok")
    return _back(number)
