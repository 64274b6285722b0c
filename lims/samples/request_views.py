"""Pages of a request with several samples (委托单, issue 11 §2): one form registers the request
and all its samples; the request's page shows them against their due dates and receives many
at once.

The list of requests (``GET /requests``) is another page (``samples.requests``).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from lims import validate
from lims.auth.permissions import action_name, allowed
from lims.db import unit_of_work, utcnow
from lims.errors import InvalidInput, PermissionDenied, msg
from lims.samples import (
    categories,
    intake,
    lists,
    method_lookup,
    particulars,
    planning,
    services,
)
from lims.samples.models import Customer
from lims.samples.turnaround import local_date, turnaround
from lims.web.auth import current_user
from lims.web.context import get_session, settings
from lims.web.errors import localized
from lims.web.inputs import form

bp = Blueprint("requests", __name__)

START_ROWS = 3   # sample rows of a new form
MAX_ROWS = 50    # rows a form offers; a larger request goes through the API
TEXT_FIELDS = ("description", *services.SAMPLE_PARTICULARS, "due_date")
ROW_FIELDS = (*TEXT_FIELDS, "acquisition", "priority", "assignee_id", "category")
REQUEST_FIELDS = ("customer", "customer_id", "request_description", "decision_rule", "r",
                  "inspection_type", "product_standard", "customer_data")
# The words a page uses for a field an error names.
FIELD_LABELS: dict[str, Any] = {
    "description": lazy_gettext("Sample name"), "trademark": lazy_gettext("Trademark"),
    "model": lazy_gettext("Model / specification"),
    "batch": lazy_gettext("Batch / production date"), "quantity": lazy_gettext("Quantity"),
    "manufacturer": lazy_gettext("Manufacturer"), "acquisition": lazy_gettext("Obtained by"),
    "method_ids": lazy_gettext("Methods"), "method_codes": lazy_gettext("Methods"),
    "due_date": lazy_gettext("Due date"),
    "priority": lazy_gettext("Priority"), "assignee_id": lazy_gettext("Assignee"),
    "customer": lazy_gettext("Customer"), "description_request": lazy_gettext("Request note"),
    "decision_rule": lazy_gettext("Decision rule"), "r": lazy_gettext("Guard band factor r"),
    "inspection_type": lazy_gettext("Inspection type"),
    "product_standard": lazy_gettext("Product standard"),
    "customer_data": lazy_gettext("Data supplied by the customer"),
    "samples": lazy_gettext("Samples"), "condition": lazy_gettext("Condition on receipt"),
    "category": lazy_gettext("Product category"),
}
_ROW_KEY = re.compile(r"^s-(\d{1,3})-(\w+)$")
_SAMPLE_FIELD = re.compile(r"^samples\[(\d+)\]\.(\w+)$")


def _form_rows() -> list[dict[str, Any]]:
    """The sample rows as typed, in form order (``s-<i>-<field>``; rows added by the page's
    script may skip indexes)."""
    found: dict[int, dict[str, Any]] = {}
    for key in request.form:
        match = _ROW_KEY.match(key)
        if match and match.group(2) in (*ROW_FIELDS, "method_ids", "method_codes"):
            found.setdefault(int(match.group(1)), {})
    rows = []
    for i in sorted(found)[:MAX_ROWS]:
        row: dict[str, Any] = {f: request.form.get(f"s-{i}-{f}", "").strip() for f in ROW_FIELDS}
        row["method_ids"] = request.form.getlist(f"s-{i}-method_ids")
        row["method_codes"] = request.form.get(f"s-{i}-method_codes", "")
        rows.append(row)
    return rows


def _blank(row: dict[str, Any]) -> bool:
    """A row nobody typed in (the selects keep their defaults) is not a sample."""
    return not any(row[f] for f in (*TEXT_FIELDS, "assignee_id", "category")) \
        and not row["method_ids"] and not row["method_codes"].strip()


def _empty_row() -> dict[str, Any]:
    return {**{f: "" for f in ROW_FIELDS}, "method_ids": [], "method_codes": ""}


def _page(values: dict[str, Any], rows: list[dict[str, Any]], *, status: int = 200,
          errors: dict[str, str] | None = None,
          row_errors: dict[int, dict[str, str]] | None = None, summary: str | None = None) -> Any:
    db = get_session()
    if values.get("customer_id") and not values.get("customer"):
        # An older form sent the id: show the customer's name in the field.
        known = db.get(Customer, int(values["customer_id"])) \
            if str(values["customer_id"]).isdigit() else None
        values = {**values, "customer": known.name if known else ""}
    return render_template(
        "requests/new.html", values=values, rows=rows, errors=errors or {},
        row_errors=row_errors or {}, summary=summary, max_rows=MAX_ROWS,
        # A searchable field, not a <select> of every customer: a lab has thousands.
        customers=lists.recent_customers(db),
        # Each row's methods: the ticked ones and the latest used as boxes, the rest searched
        # (issue 14: not a box for every method in the lab's scope on every row).
        method_boxes=_method_boxes(db, rows),
        technicians=planning.technicians(db), inspection_types=particulars.INSPECTION_TYPES,
        category_groups=categories.choices(db),
        priorities=planning.PRIORITIES, acquisitions=planning.ACQUISITIONS,
        today=local_date(utcnow(), settings().timezone).isoformat()), status


def _method_boxes(db: Any, rows: list[dict[str, Any]]) -> list[list[tuple[str, str, bool]]]:
    """Each row's method boxes, and the blank row template's last."""
    recent = method_lookup.recent(db)
    known = method_lookup.by_ids(db, [i for row in rows for i in row["method_ids"]])
    boxes = []
    for row in [*rows, _empty_row()]:
        ticked = [known[i] for i in dict.fromkeys(map(validate.id_or_none, row["method_ids"]))
                  if i in known]
        boxes.append(method_lookup.options([(str(m.id), f"{m.code} {m.title}") for m in ticked],
                                           recent))
    return boxes


def _require_register() -> None:
    if not allowed(current_user().roles, "sample.register"):
        raise PermissionDenied(msg("your roles do not allow '%(action)s'",
                                   action=action_name("sample.register")),
                               action="sample.register")


def _row_count(value: Any, at_least: int) -> int:
    try:
        wanted = int(value)
    except (TypeError, ValueError):
        wanted = START_ROWS
    return max(1, at_least, min(wanted, MAX_ROWS))


@bp.get("/requests/new")
def new() -> Any:
    """An empty form with ``?rows=N`` sample rows (3 by default)."""
    _require_register()
    rows = [_empty_row() for _ in range(_row_count(request.args.get("rows"), 1))]
    return _page({}, rows)


@bp.post("/requests/new")
def more_rows() -> Any:
    """The form again with what was typed and ``?rows=N`` rows: "add a row" without the
    page's script. Nothing is saved."""
    _require_register()
    rows = _form_rows()
    count = _row_count(request.args.get("rows"), len(rows))
    rows += [_empty_row() for _ in range(count - len(rows))]
    return _page(form(), rows)


@bp.post("/requests")
def create() -> Any:
    """Register the request and every sample typed in its rows, all or none. An error shows
    the form again with everything typed and the message beside its field."""
    _require_register()
    data = form()
    rows = _form_rows()
    kept = [i for i, row in enumerate(rows) if not _blank(row)]
    s = settings()
    db = get_session()
    try:
        with unit_of_work(db):
            # Ticked boxes by id, and codes typed in a row's method field, named by row.
            samples = [{**{f: rows[i][f] or None for f in ROW_FIELDS},
                        "method_ids": rows[i]["method_ids"] + method_lookup.resolve_codes(
                            db, [rows[i]["method_codes"]], field=f"samples[{k}].method_codes"),
                        "description": rows[i]["description"]} for k, i in enumerate(kept)]
            # The customer field takes a name or pinyin initials, as on the sample list's
            # register form; customer_id is still accepted from older forms and scripts.
            customer_id = data.get("customer_id") or lists.resolve_customer(
                db, data.get("customer"))
            req = intake.create_request_with_samples(
                db, actor=current_user(), customer_id=customer_id, samples=samples,
                description=data.get("request_description", ""),
                decision_rule=data.get("decision_rule") or None, r=data.get("r") or None,
                inspection_type=data.get("inspection_type") or None,
                product_standard=data.get("product_standard", ""),
                customer_data=data.get("customer_data", ""),
                request_format=s.request_number_format, sample_format=s.sample_number_format,
                timezone=s.timezone)
            number, count = req.number, len(req.samples)
    except InvalidInput as exc:
        return _invalid(exc, data, rows or [_empty_row()], kept)
    flash(_("Request %(number)s registered with %(count)s samples.", number=number,
            count=count), "ok")
    return redirect(url_for("requests.detail", number=number), code=303)


def _invalid(exc: InvalidInput, data: dict[str, Any], rows: list[dict[str, Any]],
             kept: list[int]) -> Any:
    """The form again, 422, with the error beside the field it names."""
    field = exc.field or ""
    message = localized(exc.message)  # the reader's language (issue 11 §1)
    match = _SAMPLE_FIELD.match(field)
    if match and int(match.group(1)) < len(kept):
        row, name = kept[int(match.group(1))], match.group(2)
        summary = _("Sample %(row)s, %(field)s: %(message)s", row=row + 1,
                    field=FIELD_LABELS.get(name, name), message=message)
        return _page(data, rows, status=422, row_errors={row: {name: message}},
                     summary=summary)
    # The page has one customer field, whichever way the customer was named.
    field = "customer" if field == "customer_id" else field
    name = "request_description" if field == "description" else field
    shown = FIELD_LABELS.get("description_request" if field == "description" else field, field)
    summary = _("%(field)s: %(message)s", field=shown, message=message) if field \
        else message
    return _page(data, rows, status=422, errors={name: message}, summary=summary)


@bp.get("/requests/<number>")
def detail(number: str) -> Any:
    """The request, its samples against their due dates, and the bulk receipt form."""
    db = get_session()
    req = intake.get_request(db, number)
    tz = settings().timezone
    today = local_date(utcnow(), tz)
    return render_template(
        "requests/detail.html", req=req, today=today,
        turnaround={s.id: turnaround(s, today, timezone=tz) for s in req.samples},
        assignees=intake.assignee_names(db, req.samples),
        inspection=particulars.INSPECTION_TYPES.get(req.inspection_type,
                                                    (req.inspection_type,) * 2),
        can_receive=allowed(current_user().roles, "sample.receive"))


@bp.post("/requests/<number>/receive")
def receive(number: str) -> Any:
    """Receive the ticked samples: each with its own condition if typed, else the common one."""
    data = form()
    ticked = request.form.getlist("samples")
    conditions = {n: request.form.get(f"condition-{n}", "").strip() for n in ticked}
    with unit_of_work(get_session()) as db:
        received = intake.receive_samples(
            db, actor=current_user(), request_number=number, numbers=ticked,
            condition=data.get("condition", "").strip() or None,
            conditions={n: c for n, c in conditions.items() if c})
        req_number = received[0].request.number
    flash(_("Received %(count)s samples: %(numbers)s.", count=len(received),
            numbers=", ".join(s.number for s in received)), "ok")
    return redirect(url_for("requests.detail", number=req_number), code=303)
