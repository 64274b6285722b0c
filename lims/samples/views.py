"""Pages: sample list and registration, sample detail with results, capture and workflow."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import func, select

from lims.auth.permissions import allowed
from lims.calibration.work import job_of
from lims.db import unit_of_work
from lims.instruments.models import Instrument
from lims.kinds import KINDS
from lims.reports.models import Report
from lims.samples import lists, particulars, services
from lims.samples.models import Customer, Sample, TestMethod, TestRequest
from lims.web import listing
from lims.web.auth import current_user, login_policy
from lims.web.context import get_session, local_time, settings
from lims.web.inputs import form
from lims.web.listing import record_id

bp = Blueprint("samples", __name__)


def _back(number: str) -> Any:
    return redirect(url_for("samples.detail", number=number), code=303)


@bp.get("/samples")
def index() -> Any:
    """The sample list: paged on the server, sorted, filtered and searched by the URL's query
    (issue 11 §3), or the whole filtered list as CSV/XLSX (``?format=``)."""
    db, args = get_session(), request.args
    query = lists.samples_query(args, timezone=settings().timezone)
    if fmt := listing.export_format(args):
        key = listing.sort_key(args, lists.SAMPLE_SORTS, lists.SAMPLE_DEFAULT_SORT)
        return listing.export(db, listing.sorted_query(query, key, lists.SAMPLE_SORTS,
                                                       Sample.id),
                              lists.SAMPLE_COLUMNS, fmt, "samples")
    page = listing.paginate(db, query, args, sorts=lists.SAMPLE_SORTS,
                            default=lists.SAMPLE_DEFAULT_SORT, tiebreak=Sample.id,
                            lean=lists.samples_query(args, timezone=settings().timezone,
                                                     lean=True),
                            rows=lists.samples_query({}, timezone=settings().timezone))
    customer = record_id(args, "customer")
    return render_template(
        "samples/index.html", page=page, filters=args, statuses=lists.STATUSES,
        customer=db.get(Customer, customer) if customer else None,
        customers=lists.recent_customers(db),
        methods=db.scalars(select(TestMethod).order_by(TestMethod.code)).all(),
        instruments=db.execute(select(Instrument.id, Instrument.asset_number, Instrument.name)
                               .order_by(Instrument.asset_number)).all(),
        inspection_types=particulars.INSPECTION_TYPES,
        can_register=allowed(current_user().roles, "sample.register"),
        can_add_customer=allowed(current_user().roles, "customer.create"))


# The landing page until the role work queues take "/" (issue 11 §3): the sample list.
bp.add_url_rule("/", "home", index)


@bp.get("/requests")
def requests() -> Any:
    """The request (委托单) list: customer, number, date, sample count; searchable, CSV/XLSX."""
    db, args = get_session(), request.args
    query = lists.requests_query(args, timezone=settings().timezone)
    if fmt := listing.export_format(args):
        key = listing.sort_key(args, lists.REQUEST_SORTS, lists.REQUEST_DEFAULT_SORT)
        return listing.export(db, listing.sorted_query(query, key, lists.REQUEST_SORTS,
                                                       TestRequest.id),
                              lists.REQUEST_COLUMNS, fmt, "requests", scalars=False)
    page = listing.paginate(db, query, args, sorts=lists.REQUEST_SORTS,
                            default=lists.REQUEST_DEFAULT_SORT, tiebreak=TestRequest.id,
                            scalars=False)
    customer = record_id(args, "customer")
    return render_template("samples/requests.html", page=page, filters=args,
                           customer=db.get(Customer, customer) if customer else None)


@bp.get("/customers")
def customers() -> Any:
    """The customer list, searched by name or pinyin initials, with each one's sample count."""
    db, args = get_session(), request.args
    query = lists.customers_query(args)
    if fmt := listing.export_format(args):
        key = listing.sort_key(args, lists.CUSTOMER_SORTS, lists.CUSTOMER_DEFAULT_SORT)
        return listing.export(db, listing.sorted_query(query, key, lists.CUSTOMER_SORTS,
                                                       Customer.id),
                              lists.CUSTOMER_COLUMNS, fmt, "customers", scalars=False)
    page = listing.paginate(db, query, args, sorts=lists.CUSTOMER_SORTS,
                            default=lists.CUSTOMER_DEFAULT_SORT, tiebreak=Customer.id,
                            scalars=False)
    return render_template("samples/customers.html", page=page, filters=args,
                           can_add_customer=allowed(current_user().roles, "customer.create"))


@bp.get("/customers/search")
def customer_search() -> Any:
    """Customers matching ``q`` (name or pinyin initials) for the register form's list: JSON
    for lims.js; without JavaScript the server resolves the typed text on registration."""
    found = lists.find_customers(get_session(), listing.search_term(request.args))
    return jsonify(customers=[{"id": c.id, "name": c.name, "initials": c.name_initials,
                               "value": c.name} for c in found])


@bp.get("/scan")
def scan() -> Any:
    """The scan field of every page: a sample, report, request or instrument number, in any
    case, with whatever a barcode scanner adds around it (spaces, a trailing Enter)."""
    from flask_babel import gettext

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
    data = form()
    with unit_of_work(get_session()) as db:
        c = services.create_customer(db, actor=current_user(), name=data.get("name"),
                                     contact=data.get("contact", ""),
                                     address=data.get("address", ""))
        flash(f"customer {c.name} added", "ok")
    return redirect(url_for("samples.index"), code=303)


@bp.post("/samples")
def register() -> Any:
    """Register a sample under a new request of the chosen customer."""
    data = form()
    s = settings()
    with unit_of_work(get_session()) as db:
        user = current_user()
        # The form's customer field takes a name or pinyin initials (no <select> of every
        # customer); customer_id is still accepted from older forms and scripts.
        customer_id = data.get("customer_id") or lists.resolve_customer(
            db, data.get("customer"))
        req = services.create_request(db, actor=user, customer_id=customer_id,
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
    instruments = db.scalars(select(Instrument).order_by(Instrument.asset_number)).all()
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
