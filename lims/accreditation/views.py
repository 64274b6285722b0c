"""The accredited scope: a page to list and add scope items, and the API."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from lims.accreditation import api_models as m
from lims.accreditation import scope_lookup, services
from lims.accreditation.marks import Item
from lims.accreditation.models import ScopeItem
from lims.auth.permissions import allowed
from lims.auth.services import require
from lims.db import unit_of_work, utcnow
from lims.kinds import KINDS
from lims.validate import date
from lims.web import listing
from lims.web.api_models import API_PER_PAGE
from lims.web.auth import current_user
from lims.web.context import get_session, settings
from lims.web.inputs import form, json_model, query_model
from lims.web.openapi import operation

bp = Blueprint("scope", __name__, url_prefix="/scope")
api = Blueprint("scope_api", __name__, url_prefix="/api/v1/scope")


def _add(db: Session, data: dict[str, Any], schemes: list[Any]) -> ScopeItem:
    return services.add_scope_item(
        db, actor=current_user(), method_code=data.get("method_code"), schemes=schemes,
        parameter=data.get("parameter") or "", category=data.get("category") or "test",
        object_=data.get("object") or "", minimum=data.get("minimum"),
        maximum=data.get("maximum"), unit=data.get("unit") or "", kind=data.get("kind"),
        limitation=data.get("limitation") or "")


def _page(db: Session, per_page: int = listing.PER_PAGE) -> listing.Page:
    return listing.paginate(db, services.scope_query(request.args), request.args,
                            sorts=services.SCOPE_SORTS, default="method",
                            tiebreak=ScopeItem.id, per_page=per_page)


@bp.get("/")
def index() -> Any:
    """The certificates and the scope, a page at a time, searched by ``q``."""
    db = get_session()
    page = _page(db)
    return render_template("accreditation/index.html", page=page, filters=request.args,
                           accreditations=[services.snapshot(a)
                                           for a in services.list_accreditations(db)],
                           items=[services.item_json(i) for i in page.items],
                           kinds=KINDS.values(),
                           can_manage=allowed(current_user().roles, "scope.manage"))


@bp.get("/search")
def search() -> Any:
    """Scope items whose label, object or limitation contains ``q``, for the scope field of
    the user administration forms (JSON for lims.js; at most 20); the latest granted when
    ``q`` is empty. Only for those who grant them (``user.manage``)."""
    require(current_user(), "user.manage")
    found = scope_lookup.find(get_session(), listing.search_term(request.args))
    return jsonify(scope_items=[{"id": i.id, "value": i.label(), "label": scope_lookup.detail(i),
                                 "method_code": i.method_code, "parameter": i.parameter}
                                for i in found])


@bp.post("/items")
def add_item() -> Any:
    with unit_of_work(get_session()) as db:
        item = _add(db, form(), request.form.getlist("schemes"))
        flash(_("Scope item #%(id)s %(method)s %(parameter)s added", id=item.id,
                method=item.method_code, parameter=item.parameter), "ok")
        waiting = services.signatories_to_grant(db, item)
        if waiting:
            flash(_("%(users)s signed %(method)s under their field and now need scope item "
                    "#%(id)s granted (Users)", users=", ".join(waiting),
                    method=item.method_code, id=item.id), "error")
    return redirect(url_for("scope.index"), code=303)


@bp.post("/accreditations")
def set_accreditation() -> Any:
    data = form()
    with unit_of_work(get_session()) as db:
        a = services.set_accreditation(db, actor=current_user(), scheme=data.get("scheme"),
                                       certificate_number=data.get("certificate_number"),
                                       valid_from=data.get("valid_from"),
                                       valid_until=data.get("valid_until"))
        flash(_("%(scheme)s %(number)s recorded", scheme=a.scheme, number=a.certificate_number),
              "ok")
    return redirect(url_for("scope.index"), code=303)


@api.get("")
@operation("The accredited scope: CMA and CNAS certificates and a page of the scope items",
           query=m.ScopeQuery, response=m.Scope)
def scope_json() -> Any:
    query_model(m.ScopeQuery)
    db = get_session()
    page = _page(db, API_PER_PAGE)
    return jsonify(accreditations=[services.snapshot(a) for a in services.list_accreditations(db)],
                   items=[services.item_json(i) for i in page.items], **page.api())


@api.post("/items")
@operation("Add a scope item (quality manager, admin)", body=m.NewScopeItem,
           response=m.ScopeItem, status=201, errors=[403])
def add_item_json() -> Any:
    data = json_model(m.NewScopeItem).model_dump(exclude_unset=True)
    with unit_of_work(get_session()) as db:
        body = services.item_json(_add(db, data, data["schemes"]))
    return jsonify(body), 201


@api.post("/accreditations")
@operation("Record a CMA or CNAS certificate, or its renewal (quality manager, admin)",
           body=m.NewAccreditation, response=m.Accreditation, errors=[403])
def set_accreditation_json() -> Any:
    data = json_model(m.NewAccreditation)
    with unit_of_work(get_session()) as db:
        body = services.snapshot(services.set_accreditation(
            db, actor=current_user(), scheme=data.scheme,
            certificate_number=data.certificate_number, valid_from=data.valid_from,
            valid_until=data.valid_until))
    return jsonify(body)


@api.post("/check")
@operation("Which items are inside the accredited scope, and the marks a document with them "
           "carries", body=m.ScopeCheck, response=m.ScopeDecision)
def check_json() -> Any:
    data = json_model(m.ScopeCheck)
    on = date(data.on, "on", required=False) or utcnow().astimezone(
        ZoneInfo(settings().timezone)).date()
    decision = services.decide(get_session(), [
        Item(i.method, i.parameter, i.value, i.unit, i.kind) for i in data.items], on=on)
    return jsonify(
        items=[{"method": v.item.method, "parameter": v.item.parameter, "in_scope": v.in_scope,
                "schemes": sorted(v.schemes), "scope_items": list(v.entries),
                "reason": v.reason} for v in decision.verdicts],
        marks=list(decision.marks), numbers=decision.numbers, footnote=decision.footnote)
