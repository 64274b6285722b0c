"""Pages and API of the register of enterprises, sampling inspectors, spot-check plans and
their random draws (issue 13 §1). Everyone logged in reads; the quality manager (or an
administrator) edits, qualifies and draws (permission ``plan.manage``, checked by the services).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import Select, or_

from lims.auth.models import User
from lims.db import unit_of_work, utcnow
from lims.errors import InvalidInput
from lims.samples import categories, method_lookup
from lims.samples.models import ProductCategory
from lims.samples.turnaround import local_date
from lims.supervision import draws, enterprises, plans, regions, sampling, statistics
from lims.supervision import plan_api_models as m
from lims.supervision.models import (
    Enterprise,
    RandomDraw,
    Region,
    SamplingInspector,
    SpotCheckPlan,
)
from lims.web import listing
from lims.web.api_models import API_PER_PAGE
from lims.web.auth import current_user
from lims.web.context import get_session, settings
from lims.web.errors import localized
from lims.web.inputs import form, json_model, query_model
from lims.web.openapi import operation

bp = Blueprint("plans", __name__)

ENTERPRISE_INPUTS = ("name", "credit_code", "region", "category", "size", "address")
# Stored states and sizes in the reader's language (shown as stored when unknown).
STATES = {"open": lazy_gettext("open"), "closed": lazy_gettext("closed"),
          "drawn": lazy_gettext("drawn"), "sampled": lazy_gettext("sampled"),
          "refused": lazy_gettext("refused"), "cancelled": lazy_gettext("cancelled"),
          "large": lazy_gettext("large"), "medium": lazy_gettext("medium"),
          "small": lazy_gettext("small"), "micro": lazy_gettext("micro")}


@bp.app_template_filter("plan_state")
def plan_state(value: object) -> str:
    return str(STATES.get(str(value), value))


def _draw_dict(found: RandomDraw) -> dict[str, Any]:
    db = get_session()
    tasks = draws.draw_tasks(db, found.id)
    users = draws.usernames(db, {found.drawn_by_id} | {
        i for t in tasks for i in (t.inspector1_id, t.inspector2_id)})
    plan, kind = db.get(SpotCheckPlan, found.plan_id), db.get(ProductCategory, found.category_id)
    place = db.get(Region, found.region_id)
    return {"id": found.id, "plan": plan.number if plan else "",
            "category": kind.code if kind else "", "region": place.code if place else "",
            "seed": found.seed,
            "count": found.count, "exclusion_months": found.exclusion_months,
            "enterprise_pool": json.loads(found.enterprise_pool),
            "inspector_pool": json.loads(found.inspector_pool),
            "drawn_at": found.drawn_at.isoformat(), "drawn_by": users.get(found.drawn_by_id, ""),
            "tasks": [draws.task_as_dict(t, users) for t in tasks]}


# --- pages: enterprises --------------------------------------------------------------------

@bp.get("/enterprises")
def enterprise_list() -> Any:
    db = get_session()
    args = request.args
    page = listing.paginate(db, enterprises.enterprises_query(db, args), args,
                            sorts=enterprises.SORTS, default="name",
                            tiebreak=Enterprise.id)
    return render_template("supervision/enterprises.html", page=page, filters=args,
                           regions=regions.list_regions(db))


@bp.get("/enterprises/new")
def new_enterprise() -> Any:
    from lims.auth.services import require

    require(current_user(), "plan.manage")
    db = get_session()
    return render_template("supervision/enterprises_new.html", sizes=enterprises.SIZES,
                           regions=regions.list_regions(db), choices=categories.choices(db))


@bp.post("/enterprises/new")
def create_enterprise() -> Any:
    data = form()
    with unit_of_work(get_session()) as db:
        e = enterprises.create_enterprise(db, actor=current_user(),
                                          **{k: data.get(k, "") for k in ENTERPRISE_INPUTS})
        name = e.name
    flash(_("Enterprise %(name)s added to the register.", name=name), "ok")
    return redirect(url_for("plans.enterprise_list"), code=303)


# --- pages: plans and draws ----------------------------------------------------------------

@bp.get("/supervision/plans")
def plan_list(*, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
              status: int = 200) -> Any:
    """The plans, newest first, and the sampling inspectors, each a page at a time
    (``page``/``limit``, ``inspectors_page``/``inspectors_limit``: issue 14); for the quality
    manager, the form qualifying an inspector (shown again as typed, with ``errors``, after a
    refusal), its user typed with the server's suggestions rather than chosen from every
    user."""
    page = _plans_page(request.args, listing.PER_PAGE)
    inspectors = _inspectors_page(request.args, listing.PER_PAGE, prefix="inspectors_")
    return render_template("supervision/plans.html", page=page, plans=page.items,
                           inspectors_page=inspectors, inspectors=inspectors.items,
                           values=values or {"active": "1"}, errors=errors or {}), status


@bp.get("/supervision/inspectors/users")
def user_search() -> Any:
    """Active users whose username or full name contains ``q``, at most 20, for the qualify
    form's user field: JSON for lims.js (issue 14)."""
    from lims.auth.services import require

    require(current_user(), "plan.manage")
    found = draws.find_users(get_session(), listing.search_term(request.args))
    return jsonify(users=[{"value": u.username, "label": u.full_name} for u in found])


INSPECTOR_INPUTS = ("username", "qualification", "valid_until")


@bp.post("/supervision/inspectors")
def qualify() -> Any:
    """Qualify a user as a sampling inspector, renew the qualification or (``active`` left
    unticked) withdraw it; a refusal shows the plans page again, 422, the message beside the
    field it names."""
    data = form()
    try:
        with unit_of_work(get_session()) as db:
            found = draws.qualify_inspector(
                db, actor=current_user(), **{k: data.get(k, "") for k in INSPECTOR_INPUTS},
                active=bool(data.get("active")))
            name = draws.usernames(db, {found.user_id}).get(found.user_id, "")
    except InvalidInput as exc:
        return plan_list(values=data, errors={exc.field or "username": localized(exc.message)},
                         status=422)
    flash(_("Sampling inspector %(name)s recorded.", name=name), "ok")
    return redirect(url_for("plans.plan_list") + "#inspectors", code=303)


# --- the plan form: fixed rows, so it works without the page's script ----------------------

CATEGORY_ROWS, QUOTA_ROWS, MAX_ROWS = 5, 10, 50
PLAN_INPUTS = ("year", "title", "authority", "budget_samples", "sampling_method")
CATEGORY_INPUTS, QUOTA_INPUTS = ("code", "product_standard"), ("category", "region", "quota")
# A row's inputs are named "c-<i>-code", "q-<i>-region" …; the service names fields
# "categories[0].method_codes[1]", "quotas[2].region" (indexes among the rows kept).
_ROW_KEY = re.compile(r"^([cq])-(\d{1,3})-\w+$")
_ROW_FIELD = re.compile(r"^(categories|quotas)\[(\d+)\](?:\.(\w+))?")
# The words the form uses for a field an error names.
FIELD_LABELS: dict[str, Any] = {
    "year": lazy_gettext("Year"), "title": lazy_gettext("Title"),
    "authority": lazy_gettext("Authority"), "budget_samples": lazy_gettext("Budget of samples"),
    "exclusion_months": lazy_gettext("Excluded if sampled within (months)"),
    "sampling_method": lazy_gettext("Sampling method"), "categories": lazy_gettext("Categories"),
    "quotas": lazy_gettext("Quotas"), "code": lazy_gettext("Category"),
    "category": lazy_gettext("Category"), "product_standard": lazy_gettext("Product standard"),
    "method_codes": lazy_gettext("Test methods"),
    "methods_typed": lazy_gettext("Test methods"), "region": lazy_gettext("Region"),
    "quota": lazy_gettext("Quota"),
}


def _plan_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The category and quota rows as typed, each at its place on the form (``c-3-code`` is
    the fourth category row), up to the last row posted."""
    last = {"c": -1, "q": -1}
    for key in request.form:
        match = _ROW_KEY.match(key)
        if match and int(match.group(2)) < MAX_ROWS:
            last[match.group(1)] = max(last[match.group(1)], int(match.group(2)))
    kinds = [{**{f: request.form.get(f"c-{i}-{f}", "").strip() for f in CATEGORY_INPUTS},
              "method_codes": [c.strip() for c in request.form.getlist(f"c-{i}-method_codes")
                               if c.strip()],
              # Codes typed in the row's method field, resolved with the plan (issue 14).
              "methods_typed": request.form.get(f"c-{i}-methods_typed", "")}
             for i in range(last["c"] + 1)]
    quotas = [{f: request.form.get(f"q-{i}-{f}", "").strip() for f in QUOTA_INPUTS}
              for i in range(last["q"] + 1)]
    return kinds, quotas


def _padded(rows: list[dict[str, Any]], count: int, blank: dict[str, Any]) -> list[dict[str, Any]]:
    return rows + [dict(blank) for _ in range(count - len(rows))]


def _plan_form(values: dict[str, Any], kinds: list[dict[str, Any]], quotas: list[dict[str, Any]],
               *, status: int = 200, errors: dict[str, str] | None = None,
               row_errors: dict[tuple[str, int], dict[str, str]] | None = None,
               summary: str | None = None, more: bool = False) -> Any:
    db = get_session()
    # "More rows" (a submit button, so it works without a script) adds a set of blank rows.
    extra = (CATEGORY_ROWS, QUOTA_ROWS) if more else (0, 0)
    kinds = _padded(kinds, min(MAX_ROWS, max(CATEGORY_ROWS, len(kinds) + extra[0])),
                    {"code": "", "product_standard": "", "method_codes": [],
                     "methods_typed": ""})
    return render_template(
        "supervision/plans_new.html", values=values, errors=errors or {},
        row_errors=row_errors or {}, summary=summary, max_rows=MAX_ROWS, kinds=kinds,
        quotas=_padded(quotas, min(MAX_ROWS, max(QUOTA_ROWS, len(quotas) + extra[1])),
                       {"category": "", "region": "", "quota": ""}),
        category_groups=categories.choices(db), region_choices=statistics.region_choices(db),
        method_boxes=_method_boxes(db, kinds)), status


def _method_boxes(db: Any, kinds: list[dict[str, Any]]) -> list[list[tuple[str, str, bool]]]:
    """Each category row's method boxes by code: its chosen methods ticked, then the latest
    used (issue 14: not an option for every method in the lab's scope on every row)."""
    recent = method_lookup.recent(db)
    known = method_lookup.by_codes(db, [c for k in kinds for c in k["method_codes"]])
    return [method_lookup.options(
        [(c, f"{c} {known[c].title}" if c in known else c) for c in k["method_codes"]],
        recent, by="code") for k in kinds]


@bp.get("/supervision/plans/new")
def new_plan() -> Any:
    from lims.auth.services import require

    require(current_user(), "plan.manage")
    year = local_date(utcnow(), settings().timezone).year
    return _plan_form({"year": str(year), "exclusion_months": "12"}, [], [])


@bp.post("/supervision/plans/new")
def create_plan() -> Any:
    """Create the plan from the rows filled in (blank rows ignored), all or nothing; a refusal
    shows the form again, everything kept, the message beside the field it names. With
    ``?more=1`` nothing is saved: the form comes back as typed with more blank rows."""
    data = form()
    kinds, quotas = _plan_rows()
    if request.args.get("more"):
        from lims.auth.services import require

        require(current_user(), "plan.manage")
        return _plan_form(data, kinds, quotas, more=True)
    kept_kinds = [i for i, r in enumerate(kinds) if r["code"] or r["product_standard"]
                  or r["method_codes"] or r["methods_typed"].strip()]
    kept_quotas = [i for i, r in enumerate(quotas) if any(r.values())]
    try:
        with unit_of_work(get_session()) as db:
            made = plans.create_plan(
                db, actor=current_user(), **{k: data.get(k, "") for k in PLAN_INPUTS},
                # Left empty, the service's default (12 months) applies.
                exclusion_months=data.get("exclusion_months") or None,
                categories=[{**kinds[i], "method_codes": list(dict.fromkeys(
                    kinds[i]["method_codes"] + [code for _id, code in method_lookup.resolve(
                        db, [kinds[i]["methods_typed"]],
                        field=f"categories[{k}].methods_typed")]))}
                    for k, i in enumerate(kept_kinds)],
                quotas=[quotas[i] for i in kept_quotas])
            number = made.number
    except InvalidInput as exc:
        return _plan_invalid(exc, data, kinds, quotas, {"categories": kept_kinds,
                                                        "quotas": kept_quotas})
    flash(_("Plan %(number)s created.", number=number), "ok")
    return redirect(url_for("plans.plan", number=number), code=303)


def _plan_invalid(exc: InvalidInput, data: dict[str, Any], kinds: list[dict[str, Any]],
                  quotas: list[dict[str, Any]], kept: dict[str, list[int]]) -> Any:
    """The form again, 422, with the error beside the input it names: a row's field maps
    back from its index among the rows kept to the row on the form."""
    field, message = exc.field or "", localized(exc.message)
    match = _ROW_FIELD.match(field)
    if match and int(match.group(2)) < len(kept[match.group(1)]):
        which, row = match.group(1), kept[match.group(1)][int(match.group(2))]
        # A whole row (a quota named twice) is shown at its region; a whole category row at
        # its category.
        name = match.group(3) or ("region" if which == "quotas" else "code")
        label = _("Category row %(row)s", row=row + 1) if which == "categories" \
            else _("Quota row %(row)s", row=row + 1)
        summary = _("%(row)s, %(field)s: %(message)s", row=label,
                    field=FIELD_LABELS.get(name, name), message=message)
        return _plan_form(data, kinds, quotas, status=422,
                          row_errors={(which[0], row): {name: message}}, summary=summary)
    summary = _("%(field)s: %(message)s", field=FIELD_LABELS.get(field, field),
                message=message) if field else message
    return _plan_form(data, kinds, quotas, status=422, errors={field: message},
                      summary=summary)


@bp.get("/supervision/plans/<number>")
def plan(number: str) -> Any:
    db = get_session()
    found = plans.get_plan(db, number)
    tasks = draws.tasks_of_plan(db, found)
    users = draws.usernames(db, {i for t in tasks for i in (t.inspector1_id, t.inspector2_id)})
    by_quota: dict[tuple[int, int], list[Any]] = {}
    for t in tasks:
        by_quota.setdefault((t.category_id, t.region_id), []).append(t)
    records = sampling.record_numbers(db, [t.id for t in tasks])
    return render_template("supervision/plans_detail.html", plan=found, records=records,
                           drawn=plans.drawn_counts(db, found), by_quota=by_quota, users=users,
                           draws=draws.draws_of_plan(db, found),
                           method_codes=lambda c: json.loads(c.method_codes))


@bp.post("/supervision/plans/<number>/draws")
def draw_quota(number: str) -> Any:
    data = form()
    with unit_of_work(get_session()) as db:
        made = draws.draw(db, current_user(), number, data.get("category"), data.get("region"),
                          seed=data.get("seed") or None, timezone=settings().timezone)
        draw_id, count = made.id, made.count
    flash(_("%(n)s enterprises drawn.", n=count), "ok")
    return redirect(url_for("plans.draw_page", draw_id=draw_id), code=303)


@bp.post("/supervision/plans/<number>/close")
def close(number: str) -> Any:
    data = form()
    with unit_of_work(get_session()) as db:
        plans.close_plan(db, actor=current_user(), number=number, reason=data.get("reason", ""))
    flash(_("Plan closed: it takes no more draws."), "ok")
    return redirect(url_for("plans.plan", number=number), code=303)


@bp.get("/supervision/draws/<int:draw_id>")
def draw_page(draw_id: int) -> Any:
    db = get_session()
    found = draws.get_draw(db, draw_id)
    return render_template("supervision/draw.html", draw=_draw_dict(found),
                           replay=draws.replay(db, draw_id))


# --- API -----------------------------------------------------------------------------------

@bp.get("/api/v1/enterprises")
@operation("List the register of enterprises, a page at a time", query=m.EnterprisesQuery,
           response=m.Enterprises)
def api_enterprises() -> Any:
    query_model(m.EnterprisesQuery)
    db = get_session()
    page = listing.paginate(db, enterprises.enterprises_query(db, request.args), request.args,
                            sorts=enterprises.SORTS, default="id",
                            tiebreak=Enterprise.id, per_page=API_PER_PAGE)
    return jsonify(enterprises=[enterprises.as_dict(e) for e in page.items], **page.api())


@bp.post("/api/v1/enterprises")
@operation("Add an enterprise to the register (quality manager, admin)", body=m.NewEnterprise,
           response=m.Enterprise, status=201, errors=[403],
           links=("/api/v1/enterprises/{enterprise_id}", {"enterprise_id": "id"}))
def api_create_enterprise() -> Any:
    data = json_model(m.NewEnterprise)
    with unit_of_work(get_session()) as db:
        body = enterprises.as_dict(enterprises.create_enterprise(
            db, actor=current_user(), **data.model_dump()))
    return jsonify(body), 201


@bp.post("/api/v1/enterprises/<int:enterprise_id>/retire")
@operation("Retire an enterprise: it is drawn no more and keeps its tasks (quality manager, "
           "admin)", body=m.EnterpriseRetirement, response=m.Enterprise, errors=[403, 409])
def api_retire_enterprise(enterprise_id: int) -> Any:
    data = json_model(m.EnterpriseRetirement)
    with unit_of_work(get_session()) as db:
        body = enterprises.as_dict(enterprises.retire_enterprise(
            db, actor=current_user(), enterprise_id=enterprise_id, reason=data.reason))
    return jsonify(body)


def _inspector(i: Any, u: Any) -> dict[str, Any]:
    return {"username": u.username, "full_name": u.full_name, "qualification": i.qualification,
            "valid_until": i.valid_until.isoformat() if i.valid_until else None,
            "active": i.active}


INSPECTOR_SORTS = {"username": User.username}


def _inspectors_page(args: Mapping[str, str], per_page: int, *,
                     prefix: str = "") -> listing.Page:
    """A page of the sampling inspectors by username, ``q`` (the API's) searching usernames
    and full names: the page's list and the API's, one query."""
    query: Select[*tuple[Any, ...]] = draws.inspectors_query()
    if not prefix and (term := listing.search_term(args)):
        query = query.where(draws.user_matches(term))
    return listing.paginate(get_session(), query, args, sorts=INSPECTOR_SORTS,
                            default="username", tiebreak=SamplingInspector.id,
                            per_page=per_page, scalars=False, prefix=prefix)


@bp.get("/api/v1/supervision/inspectors")
@operation("List the sampling inspectors and their qualifications, a page at a time",
           query=m.InspectorsQuery, response=m.Inspectors)
def api_inspectors() -> Any:
    query_model(m.InspectorsQuery)
    page = _inspectors_page(request.args, API_PER_PAGE)
    return jsonify(inspectors=[_inspector(i, u) for i, u in page.items], **page.api())


@bp.post("/api/v1/supervision/inspectors")
@operation("Qualify a user as a sampling inspector, or renew or withdraw the qualification "
           "(quality manager, admin)", body=m.NewInspector, response=m.Inspector, errors=[403])
def api_qualify() -> Any:
    data = json_model(m.NewInspector)
    with unit_of_work(get_session()) as db:
        found = draws.qualify_inspector(db, actor=current_user(), **data.model_dump())
        body = _inspector(found, db.get(User, found.user_id))
    return jsonify(body)


PLAN_SORTS = {"id": SpotCheckPlan.id, "number": SpotCheckPlan.number,
              "year": SpotCheckPlan.year}


@bp.get("/api/v1/supervision/plans")
@operation("List the spot-check plans, newest first, a page at a time", query=m.PlansQuery,
           response=m.Plans)
def api_plans() -> Any:
    args = query_model(m.PlansQuery)
    page = _plans_page(request.args, API_PER_PAGE, year=args.year)
    db = get_session()
    return jsonify(plans=[plans.as_dict(db, p) for p in page.items], **page.api())


def _plans_page(args: Mapping[str, str], per_page: int, *,
                year: int | None = None) -> listing.Page:
    """A page of the plans, newest first unless sorted otherwise, ``q`` searching numbers and
    titles: the page's list and the API's, one query."""
    query = plans.plans_query(year=year)
    if term := listing.search_term(args):
        query = query.where(or_(listing.contains_text(SpotCheckPlan.number, term),
                                listing.contains_text(SpotCheckPlan.title, term)))
    return listing.paginate(get_session(), query, args, sorts=PLAN_SORTS, default="-id",
                            tiebreak=SpotCheckPlan.id, per_page=per_page)


@bp.post("/api/v1/supervision/plans")
@operation("Create a spot-check plan with its categories and quotas (quality manager, admin)",
           body=m.NewPlan, response=m.Plan, status=201, errors=[403],
           links=("/api/v1/supervision/plans/{number}", {"number": "number"}))
def api_create_plan() -> Any:
    data = json_model(m.NewPlan).model_dump()
    with unit_of_work(get_session()) as db:
        body = plans.as_dict(db, plans.create_plan(db, actor=current_user(), **data))
    return jsonify(body), 201


@bp.get("/api/v1/supervision/plans/<number>")
@operation("A spot-check plan with its categories and quotas (and how many drawn)",
           response=m.Plan)
def api_plan(number: str) -> Any:
    db = get_session()
    return jsonify(plans.as_dict(db, plans.get_plan(db, number)))


@bp.post("/api/v1/supervision/plans/<number>/close")
@operation("Close a plan: no more draws (quality manager, admin)", body=m.PlanClosing,
           body_required=False, response=m.Plan, errors=[403, 409])
def api_close_plan(number: str) -> Any:
    data = json_model(m.PlanClosing)
    with unit_of_work(get_session()) as db:
        body = plans.as_dict(db, plans.close_plan(db, actor=current_user(), number=number,
                                                  reason=data.reason or ""))
    return jsonify(body)


@bp.post("/api/v1/supervision/plans/<number>/draws")
@operation("Draw the rest of a quota: enterprises and two inspectors each, with a recorded "
           "seed (quality manager, admin)", body=m.NewDraw, response=m.Draw, status=201,
           errors=[403, 409], links=("/api/v1/supervision/draws/{draw_id}", {"draw_id": "id"}))
def api_draw(number: str) -> Any:
    data = json_model(m.NewDraw)
    with unit_of_work(get_session()) as db:
        made = draws.draw(db, current_user(), number, data.category, data.region,
                          seed=data.seed, timezone=settings().timezone)
        body = _draw_dict(made)
    return jsonify(body), 201


@bp.get("/api/v1/supervision/draws/<int:draw_id>")
@operation("A random draw: its seed, pools and tasks", response=m.Draw)
def api_draw_record(draw_id: int) -> Any:
    return jsonify(_draw_dict(draws.get_draw(get_session(), draw_id)))


def _picks(picks: list[draws.Pick]) -> list[dict[str, Any]]:
    return [{"enterprise_id": p.enterprise_id, "inspector_ids": [p.inspector1_id,
                                                                 p.inspector2_id]}
            for p in picks]


@bp.get("/api/v1/supervision/draws/<int:draw_id>/replay")
@operation("Repeat a draw from its stored seed and pools and compare with the tasks on record "
           "(an auditor's check)", response=m.Replay)
def api_replay(draw_id: int) -> Any:
    check = draws.replay(get_session(), draw_id)
    return jsonify(draw_id=check.draw_id, seed=check.seed, matches=check.matches,
                   expected=_picks(check.expected), recorded=_picks(check.recorded))
