"""Pages: sample list and registration, sample detail with results, capture and workflow."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext, ngettext
from sqlalchemy import func, select

from lims.auth.permissions import allowed
from lims.calibration.work import job_of
from lims.db import unit_of_work, utcnow
from lims.errors import Conflict, InvalidInput, msg
from lims.instruments.models import Instrument
from lims.kinds import KINDS
from lims.readings.live import live_values
from lims.reports.models import Report
from lims.samples import (
    bench,
    categories,
    intake,
    lists,
    method_lookup,
    particulars,
    review,
    services,
)
from lims.samples.lifecycle import RESULTS_OPEN
from lims.samples.models import Customer, Sample, TestMethod, TestRequest
from lims.samples.turnaround import local_date, turnaround
from lims.web import listing
from lims.web.auth import current_user, login_policy
from lims.web.context import get_session, local_time, settings
from lims.web.errors import localized
from lims.web.i18n import field_label
from lims.web.i18n import label as shown
from lims.web.inputs import form
from lims.web.listing import record_id
from lims.work import assignment

bp = Blueprint("samples", __name__)


def _back(number: str) -> Any:
    return redirect(url_for("samples.detail", number=number), code=303)


@bp.get("/samples")
def index() -> Any:
    """The sample list: paged on the server, sorted, filtered and searched by the URL's query
    (issue 11 §3), or the whole filtered list as CSV/XLSX (``?format=``)."""
    return _index()


def _index(*, values: dict[str, Any] | None = None, error: InvalidInput | None = None,
           status: int = 200) -> Any:
    """The sample list; after a refused registration (``error``), with the register form as
    typed and the message beside the field it names."""
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
    customer, instrument = record_id(args, "customer"), record_id(args, "instrument")
    method = record_id(args, "method")
    ticked = method_lookup.by_ids(db, request.form.getlist("method_ids")) if values else {}
    errors = {(error.field or "form"): localized(error.message)} if error else {}
    return render_template(
        "samples/index.html", page=page, filters=args, statuses=lists.STATUSES,
        customer=db.get(Customer, customer) if customer else None,
        # Customers and instruments are typed with a server-side list (issue 14): the page
        # holds the few it shows, not the register (3,000 customers, 2,000 instruments).
        customers=lists.recent_customers(db),
        instrument=db.get(Instrument, instrument) if instrument else None,
        method=db.get(TestMethod, method) if method else None,
        # Methods too: the register form offers the latest ones and searches the rest.
        method_boxes=method_lookup.options(
            [(str(m.id), f"{m.code} {m.title}") for m in ticked.values()],
            method_lookup.recent(db)),
        values=values or {}, errors=errors,
        summary=_("%(field)s: %(message)s", field=field_label(error.field),
                  message=errors[error.field]) if error and error.field else
        (errors.get("form") if error else None),
        inspection_types=particulars.INSPECTION_TYPES,
        category_groups=categories.choices(db, include_retired=True),
        register_groups=categories.choices(db),
        can_register=allowed(current_user().roles, "sample.register"),
        can_add_customer=allowed(current_user().roles, "customer.create")), status



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


@bp.get("/methods/search")
def method_search() -> Any:
    """Active methods whose code or title contains ``q`` for the method fields' lists (JSON
    for lims.js); the latest used when ``q`` is empty."""
    found = method_lookup.find(get_session(), listing.search_term(request.args))
    return jsonify(methods=[{"id": m.id, "code": m.code, "title": m.title, "value": m.code,
                             "label": m.title} for m in found])


@bp.get("/scan")
def scan() -> Any:
    """The scan field of every page: a sample, report, request or instrument number, in any
    case, with whatever a barcode scanner adds around it (spaces, a trailing Enter)."""
    from flask_babel import gettext

    q = listing.text_arg(request.args, "q", max_len=200)
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
    req = db.scalar(select(TestRequest.number).where(func.upper(TestRequest.number) == key)
                    .limit(1))
    if req is not None:
        return redirect(url_for("requests.detail", number=req), code=303)
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
    try:
        number, req_number = _register(data)
    except InvalidInput as exc:
        # The page again with everything typed kept (nothing was written: one transaction).
        get_session().rollback()
        return _index(values=data, error=exc, status=422)
    flash(_("sample %(number)s registered under request %(request)s", number=number,
            request=req_number), "ok")
    return _back(number)


def _register(data: dict[str, Any]) -> tuple[str, str]:
    s = settings()
    with unit_of_work(get_session()) as db:
        user = current_user()
        # The form's customer field takes a name or pinyin initials (no <select> of every
        # customer); customer_id is still accepted from older forms and scripts.
        customer_id = data.get("customer_id") or lists.resolve_customer(
            db, data.get("customer"))
        try:
            req = _new_request(db, user, customer_id, data)
        except InvalidInput as exc:
            # The request's note is its "description"; the form's is the sample's.
            if exc.field == "description":
                raise InvalidInput(exc.message, field="request_description") from exc
            raise
        sample = services.register_sample(
            db, actor=user, request_id=req.id, description=data.get("description"),
            # Ticked boxes by id, and codes typed in the method field (resolved here, so that
            # an unknown code is named).
            method_ids=request.form.getlist("method_ids") + method_lookup.resolve_codes(
                db, request.form.getlist("method_codes"), field="method_codes"),
            number_format=s.sample_number_format, timezone=s.timezone,
            category=data.get("category") or None,
            **{key: data.get(key, "") for key in services.SAMPLE_PARTICULARS})
        return sample.number, req.number


def _new_request(db: Any, user: Any, customer_id: Any, data: dict[str, Any]) -> Any:
    s = settings()
    return services.create_request(db, actor=user, customer_id=customer_id,
                                   description=data.get("request_description", ""),
                                   decision_rule=data.get("decision_rule") or None,
                                   r=data.get("r") or None,
                                   inspection_type=data.get("inspection_type") or None,
                                   product_standard=data.get("product_standard", ""),
                                   customer_data=data.get("customer_data", ""),
                                   number_format=s.request_number_format, timezone=s.timezone)


@bp.get("/samples/<number>")
def detail(number: str) -> Any:
    """The sample page; ``?fragment=grid`` (what lims.js asks for) is its result grid alone."""
    return _page(get_session(), number)


def _fragment() -> bool:
    return request.args.get("fragment") == "grid"


def _page(db: Any, number: str, *, errors: dict[str, str] | None = None,
          entered: dict[str, str] | None = None, notice: str | None = None,
          status: int = 200) -> Any:
    """The sample page, or its result grid as a fragment, with the errors beside their fields
    and what was typed kept (a refused entry loses nothing)."""
    sample = services.get_sample(db, number)
    roles = current_user().roles
    open_rows = [ch for test in sample.tests for ch in test.method.characteristics
                 if ch.id not in test.current_results()]
    used = {r.instrument_id for test in sample.tests for r in test.results if r.instrument_id}
    assets = {iid: asset for iid, asset in db.execute(
        select(Instrument.id, Instrument.asset_number).where(Instrument.id.in_(used)))}
    reports = db.scalars(select(Report).where(Report.sample_id == sample.id)
                         .order_by(Report.id)).all()
    # Only the instruments the page shows (issue 14): those of the results, and a bounded
    # few capture sources per open row; the instrument of a typed row is chosen by type-ahead.
    sources = (bench.capture_sources(db, open_rows, timezone=settings().timezone)
               if sample.status in RESULTS_OPEN and allowed(roles, "result.capture") else {})
    context: dict[str, Any] = dict(
        sample=sample, reports=reports, assets=assets, sources=sources,
        # issue 12 §2: the live value of each instrument a capture agent reads, by id
        live=live_values(db, sorted({(i.id, i.asset_number) for found in sources.values()
                                     for i in found}), utcnow()),
        errors=errors or {}, entered=entered or {}, notice=notice, label_sizes=LABEL_SIZES,
        conditions_text=particulars.conditions_text, condition_kinds=particulars.CONDITION_KINDS,
        can={a: allowed(roles, a) for a in ("sample.receive", "result.record", "result.capture",
                                             "result.correct", "sample.complete",
                                             "sample.review", "sample.approve", "report.issue")},
        **review.page_context(db, current_user(), sample))
    if _fragment():
        return render_template("samples/_grid.html", **context), status, {"X-Fragment": "grid"}
    tz = settings().timezone
    return render_template(
        "samples/detail.html", job=job_of(db, sample),
        turnaround=turnaround(sample, local_date(utcnow(), tz), timezone=tz),
        assignee=intake.assignee_names(db, [sample]).get(sample.assignee_id or 0),
        # The work queue's take / give back, on the sample's own page (issue 11 §3): who
        # records results takes the work, while its testing is open.
        can_take=allowed(roles, "result.record") and sample.status in assignment.OPEN,
        mine=sample.assignee_id == current_user().id,
        conclusion=services.derived_conclusion(sample),
        inspection_label=particulars.inspection_label(sample.request.inspection_type),
        categories=categories.path(db, sample.category) if sample.category else [],
        **context), status


def _done(number: str, message: str) -> Any:
    """After a bench action: the grid with the message (lims.js), else the page (no JS)."""
    if _fragment():
        return _page(get_session(), number, notice=message)
    flash(message, "ok")
    return redirect(url_for("samples.detail", number=number, _anchor="result-grid"), code=303)


def _refused(number: str, errors: dict[str, str], entered: dict[str, str]) -> Any:
    """The page again, status 422, the typed input kept and each error beside its field."""
    db = get_session()
    db.rollback()
    return _page(db, number, errors=errors, entered=entered, status=422)


# Errors that a person can fix on the page; a permission or a missing record is answered as
# everywhere else (lims.web.errors).
_FIXABLE = (InvalidInput, Conflict)
# ``instrument``: the asset number typed or picked from the type-ahead; ``instrument_id`` (an
# id, as the grid's former <select> sent it) is still taken from scripts.
GRID_FIELDS = ("value", "unit", "measured_at", "instrument", "instrument_id")


def grid_rows(form_data: Any) -> dict[int, dict[str, str]]:
    """The grid's typed rows by characteristic id (``value-12``, ``unit-12`` …); a row without a
    value is not an entry."""
    rows: dict[int, dict[str, str]] = {}
    for key, value in form_data.items():
        field, _, cid = key.rpartition("-")
        # ASCII digits only, at most 9: "²" passes isdigit() but not int(), and an id past the
        # database's integer range would be a driver error, not the user's mistake.
        if field in GRID_FIELDS and cid.isascii() and cid.isdigit() and len(cid) <= 9:
            rows.setdefault(int(cid), {})[field] = value.strip()
    return {cid: row for cid, row in rows.items() if row.get("value")}


def _instrument(db: Any, number: str, cid: int, row: dict[str, str]) -> Any:
    """The row's instrument: the asset number typed (resolved here, an unknown one refused
    beside the field), else the id a script sent, else none."""
    if row.get("instrument"):
        _test, ch = services.find_characteristic(services.get_sample(db, number), cid)
        return bench.resolve(db, ch, row["instrument"])
    return row.get("instrument_id") or None


@bp.get("/samples/<number>/instruments")
def instrument_search(number: str) -> Any:
    """The grid's instrument type-ahead: at most :data:`bench.SHOWN` instruments fit for the
    characteristic (in service, calibrated now, measuring its quantity) whose asset number or
    name contains ``q``: JSON for lims.js; without JavaScript the asset number typed is
    resolved when the grid is saved."""
    db, args = get_session(), request.args
    cid = record_id(args, "characteristic")
    if cid is None:
        raise InvalidInput(msg("characteristic is required"), field="characteristic")
    try:
        _test, ch = services.find_characteristic(services.get_sample(db, number), cid)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field="characteristic") from None
    found = bench.search(db, ch, listing.search_term(args), timezone=settings().timezone)
    return jsonify(instruments=[{"id": i.id, "asset_number": i.asset_number, "name": i.name,
                                 "value": i.asset_number, "label": i.name} for i in found])


class _Rejected(Exception):
    """Some row of a grid submission was refused: nothing of it is written."""


@bp.post("/samples/<number>/grid")
def save_grid(number: str) -> Any:
    """Save the grid: one row (``save`` = its characteristic id) or every typed row (``save`` =
    ``all``, or Enter in a field). Each row is its own result, all in one transaction: if one
    row is refused none is written, and every refusal is shown beside its field."""
    which = request.form.get("save", "all")
    rows = grid_rows(request.form)
    if which != "all":
        rows = {cid: row for cid, row in rows.items() if str(cid) == which}
    entered = {k: v for k, v in request.form.items() if k != "csrf_token"}
    if not rows:
        key = f"value-{which}" if which != "all" else "grid"
        return _refused(number, {key: _("Type a value first.")}, entered)
    errors: dict[str, str] = {}
    db, user, tz = get_session(), current_user(), settings().timezone
    try:
        with unit_of_work(db):
            for cid, row in rows.items():
                try:
                    with db.begin_nested():
                        services.record_result(db, actor=user, number=number,
                                               characteristic_id=cid, value=row.get("value"),
                                               unit=row.get("unit"),
                                               instrument_id=_instrument(db, number, cid, row),
                                               measured_at=row.get("measured_at") or None,
                                               timezone=tz)
                except _FIXABLE as exc:
                    # The instrument's errors go beside the one instrument field of the row.
                    field = exc.field if exc.field in GRID_FIELDS else "row"
                    field = "instrument_id" if field == "instrument" else field
                    errors[f"{field}-{cid}"] = localized(exc.message)
            if errors:
                raise _Rejected
    except _Rejected:
        errors["grid"] = ngettext("Nothing was saved: %(num)d row needs correcting.",
                                  "Nothing was saved: %(num)d rows need correcting.",
                                  len({k.rpartition("-")[2] for k in errors}))
        return _refused(number, errors, entered)
    saved = {f"{f}-{cid}" for cid in rows for f in GRID_FIELDS}
    kept = {k: v for k, v in entered.items() if k not in saved and k != "save"}
    message = ngettext("%(num)d result recorded.", "%(num)d results recorded.", len(rows))
    if _fragment():
        return _page(get_session(), number, entered=kept, notice=message)
    return _done(number, message)


LABEL_SIZES = {"50x30": "50×30 mm", "40x30": "40×30 mm", "70x40": "70×40 mm",
               "a4": lazy_gettext("A4 sheet (3×8)")}


def _label_pdf(numbers: list[str], size: Any, filename: str) -> Any:
    from lims.samples.labels import MAX_LABELS, Label, render_labels, size_of

    # Bounds and size checked before any lookup: ?numbers= with thousands of entries must not
    # cost thousands of queries before being refused (issue 11 §4).
    if not numbers:
        raise InvalidInput(msg("no sample to label"), field="numbers")
    if len(numbers) > MAX_LABELS:
        raise InvalidInput(msg("at most %(count)s labels at once", count=MAX_LABELS),
                           field="numbers")
    chosen = size_of(size)
    db = get_session()
    found = [services.get_sample(db, n) for n in numbers]
    pdf = render_labels([Label(number=s.number, name=s.description,
                               registered=local_time(s.registered_at, "%Y-%m-%d"))
                         for s in found], chosen, font_dir=settings().font_path)
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{filename}"'})


@bp.get("/samples/<number>/label.pdf")
def label(number: str) -> Any:
    """The sample's label (Code 128 + QR of its number); ``?size=`` one of LABEL_SIZES."""
    sample = services.get_sample(get_session(), number)
    return _label_pdf([sample.number], request.args.get("size"), f"{sample.number}-label.pdf")


@bp.get("/labels.pdf")
def labels() -> Any:
    """Labels of several samples, ``?numbers=A,B`` (any case, in that order)."""
    raw = listing.text_arg(request.args, "numbers", max_len=200_000)
    numbers = [n.strip() for n in raw.split(",") if n.strip()]
    return _label_pdf(numbers, request.args.get("size"), "labels.pdf")


@bp.post("/samples/<number>/receive")
def receive(number: str) -> Any:
    with unit_of_work(get_session()) as db:
        services.receive_sample(db, actor=current_user(), number=number,
                                condition=form().get("condition"))
    flash(_("receipt recorded"), "ok")
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
    flash(_("result recorded, measured at %(at)s", at=at)
          + ("" if given else " " + _("(now: no time was given)")), "ok")
    return _back(number)


@bp.post("/samples/<number>/capture")
def capture(number: str) -> Any:
    data = form()
    db = get_session()
    user = current_user()
    cid = str(data.get("characteristic_id") or "")
    try:
        instrument, reading = services.read_for_result(
            db, actor=user, number=number, characteristic_id=data.get("characteristic_id"),
            instrument_id=data.get("instrument_id"), timezone=settings().timezone,
            port_hosts=settings().port_hosts)
        with unit_of_work(db):
            services.record_reading(db, actor=user, number=number,
                                    characteristic_id=data.get("characteristic_id"),
                                    instrument=instrument, reading=reading,
                                    timezone=settings().timezone)
    except _FIXABLE as exc:
        return _refused(number, {f"capture-{cid}": localized(exc.message)}, {})
    return _done(number, _("Captured %(value)s %(unit)s from %(asset)s.", value=reading.value,
                           unit=reading.unit, asset=instrument.asset_number))


@bp.post("/results/<int:result_id>/correct")
def correct(result_id: int) -> Any:
    data = form()
    db = get_session()
    number = services.sample_of_result(db, result_id)
    try:
        with unit_of_work(db):
            new = services.correct_result(db, actor=current_user(), result_id=result_id,
                                          value=data.get("value"), unit=data.get("unit"),
                                          reason=data.get("reason"),
                                          measured_at=data.get("measured_at") or None,
                                          timezone=settings().timezone)
            number, version = new.test.sample.number, new.version
    except _FIXABLE as exc:
        fields = ("value", "unit", "measured_at", "reason")
        key = f"correct-{exc.field}-{result_id}" if exc.field in fields else f"correct-{result_id}"
        entered = {f"correct-{f}-{result_id}": request.form.get(f, "") for f in fields}
        return _refused(number, {key: localized(exc.message)}, entered)
    return _done(number, _("Result corrected (version %(new)s); version %(old)s is kept.",
                           new=version, old=version - 1))


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
        flash(_("sample %(number)s is now %(status)s: approved and signed by %(name)s",
                number=number, status=shown(sample.status), name=current_user().full_name),
              "ok")
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
    flash(_("conditions recorded"), "ok")
    return _back(number)


@bp.post("/results/<int:result_id>/decision")
def decide(result_id: int) -> Any:
    """A reviewer decides the conformity of an undecided result, with the reason."""
    data = form()
    db = get_session()
    number = services.sample_of_result(db, result_id)
    try:
        with unit_of_work(db):
            d = services.decide_conformity(db, actor=current_user(), result_id=result_id,
                                           conformity=data.get("conformity"),
                                           reason=data.get("reason"))
            conformity = d.conformity
    except _FIXABLE as exc:
        return _refused(number, {f"decide-{result_id}": localized(exc.message)},
                        {f"decide-reason-{result_id}": request.form.get("reason", "")})
    return _done(number, _("Conformity decided: %(conformity)s.", conformity=shown(conformity)))


@bp.post("/samples/<number>/return")
def return_to_testing(number: str) -> Any:
    """The reviewer returns the sample to the technician: one comment field per current
    result (``comment-<result id>``; empty ones skipped) and a reason for the whole."""
    from flask_babel import gettext

    comments = [{"result_id": key.removeprefix("comment-"), "comment": value}
                for key, value in request.form.items()
                if key.startswith("comment-") and value.strip()]
    with unit_of_work(get_session()) as db:
        review.return_to_testing(db, actor=current_user(), number=number, comments=comments,
                                 reason=request.form.get("reason") or None)
    flash(gettext("Sample %(number)s returned to the technician with %(n)s comments.",
                  number=number, n=len(comments)), "ok")
    return _back(number)


@bp.post("/samples/<number>/return-to-review")
def return_to_review(number: str) -> Any:
    """The signatory returns a reviewed or approved sample to review, with the reason."""
    from flask_babel import gettext

    with unit_of_work(get_session()) as db:
        review.return_to_review(db, actor=current_user(), number=number,
                                reason=request.form.get("reason"))
    flash(gettext("Sample %(number)s returned to review.", number=number), "ok")
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
    # A page at a time, by code (issue 14: a centre's standards library runs to thousands).
    page = listing.paginate(get_session(), lists.methods_query(request.args), request.args,
                            sorts=lists.METHOD_SORTS, default="code", tiebreak=TestMethod.id)
    return render_template(
        "samples/methods.html", kinds=KINDS.values(), rows=CHARACTERISTIC_ROWS, page=page,
        filters=request.args, can_manage=allowed(current_user().roles, "method.manage"))


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
        flash(_("method %(code)s created with %(count)s characteristics", code=m.code,
                count=len(m.characteristics)), "ok")
    return redirect(url_for("samples.methods"), code=303)


@bp.post("/samples/<number>/<action>")
def workflow(number: str, action: str) -> Any:
    service = {"complete": services.complete_testing,
               "review": services.review_sample}.get(action)
    if service is None:
        from lims.errors import NotFound

        raise NotFound(msg("no action %(action)r", action=action))
    with unit_of_work(get_session()) as db:
        sample = service(db, actor=current_user(), number=number)
        flash(_("sample %(number)s is now %(status)s", number=number,
                status=shown(sample.status)), "ok")
    return _back(number)
