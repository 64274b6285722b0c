"""Pages and API to manage customers and test methods: create, edit with a reason, retire.

The customer list (``GET /customers``) is another page; this module has the new-customer
form, a customer's page and a method's page, and the ``PATCH``/``retire`` API. Duplicates
of a customer are a warning that the person confirms ("create anyway"), not a refusal.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from lims.auth.permissions import allowed
from lims.db import unit_of_work
from lims.errors import InvalidInput
from lims.kinds import KINDS
from lims.samples import api_models as m
from lims.samples import refdata, serialize, services
from lims.samples.duplicates import Match
from lims.samples.models import Characteristic, Customer
from lims.web.auth import current_user
from lims.web.context import get_session
from lims.web.inputs import form, json_model
from lims.web.openapi import operation

bp = Blueprint("refdata", __name__)
api = Blueprint("refdata_api", __name__, url_prefix="/api/v1")

CUSTOMER_INPUTS = ("name", "contact", "address", "phone", "credit_code")
SPEC_COLUMNS = ("ch_id", "name", "kind", "unit", "lower_limit", "upper_limit", "lod", "loq",
                "expected", "uncertainty", "k")
NEW_ROWS = 2  # empty rows for new characteristics on the method page


def duplicate_warnings(found: list[Match]) -> list[str]:
    """The API's warnings: one per likely duplicate, in English."""
    return [f"customer {d.party.id} {d.party.name!r} may be the same: {', '.join(d.reasons)}"
            for d in found]


# --- customers -----------------------------------------------------------------------------

def _customer_inputs() -> dict[str, str]:
    data = form()
    return {k: str(data.get(k, "")) for k in CUSTOMER_INPUTS}


def create_customer_from_form(*, back: str) -> Any:
    """Create a customer from a posted form, unless it looks like one on record and the person
    has not confirmed: then the form again, filled in, with the likely duplicates and a
    "create anyway" button. ``back``: where to go after creating (``"detail"`` or a URL)."""
    from lims.auth.services import require

    # Refused before the duplicate check: a reader must not get the "create anyway" form.
    require(current_user(), "customer.create")
    values = _customer_inputs()
    db = get_session()
    if not form().get("confirm"):
        try:
            code = refdata.credit_code(values["credit_code"])
        except InvalidInput:  # a bad code: the service below refuses it, naming the field
            code = ""
        found = refdata.customer_duplicates(db, name=values["name"].strip(), credit_code=code)
        if found and values["name"].strip():
            return render_template("customers/new.html", values=values, duplicates=found,
                                   action=request.path), 200
    with unit_of_work(db):
        c = services.create_customer(db, actor=current_user(), **values)
        customer_id, name = c.id, c.name
    flash(_("Customer %(name)s added.", name=name), "ok")
    if back == "detail":
        return redirect(url_for("refdata.customer", customer_id=customer_id), code=303)
    return redirect(back, code=303)


@bp.get("/customers/new")
def new_customer() -> Any:
    from lims.auth.services import require

    require(current_user(), "customer.create")
    return render_template("customers/new.html", values=dict.fromkeys(CUSTOMER_INPUTS, ""),
                           duplicates=[], action=url_for("refdata.create_customer"))


@bp.post("/customers/new")
def create_customer() -> Any:
    return create_customer_from_form(back="detail")


def _customer_page(customer: Customer, *, values: dict[str, str] | None = None,
                   warning: list[Match] | None = None, status: int = 200) -> Any:
    db = get_session()
    roles = current_user().roles
    return render_template(
        "customers/detail.html", customer=customer, use=refdata.customer_use(db, customer.id),
        duplicates=refdata.customer_duplicates(db, name=customer.name,
                                               credit_code=customer.credit_code,
                                               exclude_id=customer.id),
        values=values or {k: getattr(customer, k) for k in CUSTOMER_INPUTS},
        warning=warning or [], can_manage=allowed(roles, "customer.manage")), status


@bp.get("/customers/<int:customer_id>")
def customer(customer_id: int) -> Any:
    return _customer_page(refdata.get_customer(get_session(), customer_id))


@bp.post("/customers/<int:customer_id>")
def edit_customer(customer_id: int) -> Any:
    """Edit with a reason; a new name or credit code like another customer's asks to confirm."""
    from lims.auth.services import require

    require(current_user(), "customer.manage")  # before the duplicate check, as on creation
    db = get_session()
    data, values = form(), _customer_inputs()
    current = refdata.get_customer(db, customer_id)
    renamed = values["name"].strip() != current.name or \
        values["credit_code"].strip().upper() != current.credit_code
    if renamed and not data.get("confirm"):
        found = refdata.customer_duplicates(db, name=values["name"].strip(),
                                            credit_code=values["credit_code"].strip().upper(),
                                            exclude_id=customer_id)
        if found:
            return _customer_page(current, values=values, warning=found)
    with unit_of_work(db):
        refdata.update_customer(db, actor=current_user(), customer_id=customer_id, data=values,
                                reason=data.get("reason"), version=data.get("version"))
    flash(_("Customer updated."), "ok")
    return redirect(url_for("refdata.customer", customer_id=customer_id), code=303)


@bp.post("/customers/<int:customer_id>/retire")
def retire_customer(customer_id: int) -> Any:
    data = form()
    with unit_of_work(get_session()) as db:
        refdata.retire_customer(db, actor=current_user(), customer_id=customer_id,
                                reason=data.get("reason"), version=data.get("version"))
    flash(_("Customer retired: kept with its requests, offered for no new request."), "ok")
    return redirect(url_for("refdata.customer", customer_id=customer_id), code=303)


# --- methods -------------------------------------------------------------------------------

def uncertainty_input(ch: Characteristic) -> str:
    """The uncertainty as the form writes it: "0.02" (expanded) or "1.5 %" (relative)."""
    if ch.uncertainty_kind is None or ch.uncertainty is None:
        return ""
    return f"{ch.uncertainty} %" if ch.uncertainty_kind == "relative" else ch.uncertainty


def _spec_rows() -> list[dict[str, Any]]:
    """The characteristic rows of the method form as the service's specs (empty new rows
    skipped; empty cells of a row are "no value")."""
    from lims.samples.views import _characteristic

    cells = [request.form.getlist(c) for c in SPEC_COLUMNS]
    count = max(len(c) for c in cells)
    rows = []
    for row in zip(*(c + [""] * (count - len(c)) for c in cells), strict=True):
        spec = {c: v.strip() or None for c, v in zip(SPEC_COLUMNS, row, strict=True)}
        ch_id = spec.pop("ch_id")
        if ch_id is None and not any(spec.values()):
            continue
        spec = _characteristic(spec)
        spec.setdefault("uncertainty", None)
        if ch_id is not None:
            spec["id"] = ch_id
        rows.append(spec)
    return rows


@bp.get("/methods/<int:method_id>")
def method(method_id: int) -> Any:
    db = get_session()
    found = refdata.get_method(db, method_id)
    return render_template(
        "samples/method.html", method=found, kinds=KINDS.values(), new_rows=NEW_ROWS,
        used=refdata.results_by_characteristic(db, found), uncertainty_input=uncertainty_input,
        can_manage=allowed(current_user().roles, "method.manage"))


@bp.post("/methods/<int:method_id>")
def edit_method(method_id: int) -> Any:
    data = form()
    changes: dict[str, Any] = {
        "title": data.get("title", ""), "clause": data.get("clause", ""),
        "field": data.get("field", ""),
        "requires_conditions": bool(data.get("requires_conditions")),
        "characteristics": _spec_rows()}
    with unit_of_work(get_session()) as db:
        refdata.update_method(db, actor=current_user(), method_id=method_id, data=changes,
                              reason=data.get("reason"), version=data.get("version"))
    flash(_("Method updated; results recorded from now on are judged by it."), "ok")
    return redirect(url_for("refdata.method", method_id=method_id), code=303)


@bp.post("/methods/<int:method_id>/retire")
def retire_method(method_id: int) -> Any:
    data = form()
    with unit_of_work(get_session()) as db:
        refdata.retire_method(db, actor=current_user(), method_id=method_id,
                              reason=data.get("reason"), version=data.get("version"))
    flash(_("Method retired: no new sample is given it; samples tested by it keep it."), "ok")
    return redirect(url_for("refdata.method", method_id=method_id), code=303)


# --- API -----------------------------------------------------------------------------------

@api.patch("/customers/<int:customer_id>")
@operation("Edit a customer with a reason", body=m.CustomerEdit, response=m.Customer,
           errors=[403, 404, 409])
def patch_customer(customer_id: int) -> Any:
    data = json_model(m.CustomerEdit).model_dump(exclude_unset=True)
    reason, version = data.pop("reason"), data.pop("version", None)
    with unit_of_work(get_session()) as db:
        body = serialize.customer(refdata.update_customer(
            db, actor=current_user(), customer_id=customer_id, data=data, reason=reason,
            version=version))
    return jsonify(body)


@api.post("/customers/<int:customer_id>/retire")
@operation("Retire a customer with a reason", body=m.Retirement, response=m.Customer,
           errors=[403, 404, 409])
def retire_customer_json(customer_id: int) -> Any:
    data = json_model(m.Retirement)
    with unit_of_work(get_session()) as db:
        body = serialize.customer(refdata.retire_customer(
            db, actor=current_user(), customer_id=customer_id, reason=data.reason,
            version=data.version))
    return jsonify(body)


@api.patch("/methods/<int:method_id>")
@operation("Edit a test method with a reason (quality manager, admin)", body=m.MethodEdit,
           response=m.Method, errors=[403, 404, 409])
def patch_method(method_id: int) -> Any:
    data = json_model(m.MethodEdit).model_dump(exclude_unset=True)
    reason, version = data.pop("reason"), data.pop("version", None)
    if data.get("requires_conditions", False) is None:
        data.pop("requires_conditions")
    with unit_of_work(get_session()) as db:
        body = serialize.method(refdata.update_method(
            db, actor=current_user(), method_id=method_id, data=data, reason=reason,
            version=version))
    return jsonify(body)


@api.post("/methods/<int:method_id>/retire")
@operation("Retire a test method with a reason (quality manager, admin)", body=m.Retirement,
           response=m.Method, errors=[403, 404, 409])
def retire_method_json(method_id: int) -> Any:
    data = json_model(m.Retirement)
    with unit_of_work(get_session()) as db:
        body = serialize.method(refdata.retire_method(
            db, actor=current_user(), method_id=method_id, reason=data.reason,
            version=data.version))
    return jsonify(body)
