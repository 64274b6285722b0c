"""Nonconforming-work cases (ISO/IEC 17025 7.10): pages and API."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from lims.auth.models import User
from lims.auth.permissions import allowed
from lims.auth.services import require
from lims.calibration import api_models as m
from lims.calibration import nonconforming as nc
from lims.calibration.letters import letter_pdf
from lims.calibration.models import CaseStatus, Evaluation, NonconformingCase
from lims.db import unit_of_work
from lims.instruments.models import Instrument
from lims.web import listing
from lims.web.api_models import API_PER_PAGE
from lims.web.auth import current_user
from lims.web.context import get_session, settings
from lims.web.i18n import label
from lims.web.inputs import form, json_model, query_model
from lims.web.openapi import operation

bp = Blueprint("nonconforming", __name__)
api = Blueprint("nonconforming_api", __name__, url_prefix="/api/v1")


def case_json(case: NonconformingCase) -> dict[str, Any]:
    db = get_session()
    items = nc.affected(db, case)
    instrument = db.get(Instrument, case.instrument_id)
    names = _user_names({case.opened_by_id, *(a.row.evaluated_by_id for a in items)})
    return {
        "number": case.number, "status": case.status,
        "asset": instrument.asset_number if instrument else None,
        "from": case.from_date.isoformat(), "to": case.to_date.isoformat(),
        "description": case.description, "opened_by": names.get(case.opened_by_id),
        "opened_at": case.opened_at.isoformat(),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "reports": [{"report": a.report.number, "customer_id": a.customer_id,
                     "customer": a.customer, "evaluation": a.row.evaluation,
                     "reason": a.row.reason, "evaluated_by": names.get(a.row.evaluated_by_id),
                     "evaluated_at": a.row.evaluated_at.isoformat()
                     if a.row.evaluated_at else None} for a in items],
        "customers": [{"id": cid, "name": name,
                       "letter": url_for("nonconforming_api.letter_json", number=case.number,
                                         customer_id=cid)}
                      for cid, name in nc.customers(items)],
    }


def _user_names(ids: set[int | None]) -> dict[int | None, str]:
    """Full names by user id; keyed to take an unset id, which finds no name."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(get_session().execute(select(User.id, User.full_name)
                                      .where(User.id.in_(wanted))).all())


def _open(data: dict[str, Any]) -> str:
    with unit_of_work(get_session()) as db:
        case = nc.open_case(db, actor=current_user(), asset=data.get("asset"),
                            start=data.get("from"), end=data.get("to"),
                            description=data.get("description"), timezone=settings().timezone)
        number = case.number
    return number


def _evaluate(number: str, data: dict[str, Any]) -> None:
    with unit_of_work(get_session()) as db:
        nc.evaluate(db, actor=current_user(), case_number=number,
                    report_number=data.get("report"), evaluation=data.get("evaluation"),
                    reason=data.get("reason"))


def _close(number: str) -> None:
    with unit_of_work(get_session()) as db:
        nc.close_case(db, actor=current_user(), case_number=number)


def _letter(number: str, customer_id: int) -> Response:
    require(current_user(), "nonconformity.manage")
    db = get_session()
    case = nc.get_case(db, number)
    pdf = letter_pdf(db, case, "", settings(), customer_id=customer_id)
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{case.number}-{customer_id}.pdf"'})


# --- API -------------------------------------------------------------------------------------

@api.get("/nonconformities")
@operation("Nonconforming-work cases, newest first, a page at a time", query=m.CasesQuery,
           response=m.Cases)
def list_json() -> Any:
    query_model(m.CasesQuery)
    page = listing.paginate(get_session(), select(NonconformingCase), request.args,
                            sorts={"id": NonconformingCase.id}, default="-id",
                            per_page=API_PER_PAGE)
    return jsonify(cases=[case_json(c) for c in page.items], **page.api())


@api.post("/nonconformities")
@operation("Open a nonconforming-work case from an impact analysis", body=m.NewCase,
           response=m.Case, status=201, errors=[403],
           links=("/api/v1/nonconformities/{number}", {"number": "number"}))
def open_json() -> Any:
    """Open a case from the impact analysis: {asset, from, to?, description}."""
    number = _open(json_model(m.NewCase).model_dump(by_alias=True))
    return jsonify(case_json(nc.get_case(get_session(), number))), 201


@api.get("/nonconformities/<number>")
@operation("A nonconforming-work case with its affected reports", response=m.Case)
def show_json(number: str) -> Any:
    return jsonify(case_json(nc.get_case(get_session(), number)))


@api.post("/nonconformities/<number>/evaluations")
@operation("Evaluate an affected report: no impact, re-test or recall", body=m.CaseEvaluation,
           response=m.Case, errors=[403, 409])
def evaluate_json(number: str) -> Any:
    """Evaluate one affected report: {report, evaluation, reason}."""
    _evaluate(number, json_model(m.CaseEvaluation).model_dump())
    return jsonify(case_json(nc.get_case(get_session(), number)))


@api.post("/nonconformities/<number>/close")
@operation("Close a case once every report is evaluated", response=m.Case, errors=[403, 409])
def close_json(number: str) -> Any:
    _close(number)
    return jsonify(case_json(nc.get_case(get_session(), number)))


@api.get("/nonconformities/<number>/letters/<int:customer_id>.pdf")
@operation("The signed letter to one customer of the case", files=("application/pdf",),
           errors=[403, 409])
def letter_json(number: str, customer_id: int) -> Any:
    """The signed letter to one customer of the case (see the case's ``customers``)."""
    return _letter(number, customer_id)


# --- pages -----------------------------------------------------------------------------------

# The page's sort keys; a page at a time, never cut off (issue 14).
PAGE_SORTS = {"number": NonconformingCase.number, "status": NonconformingCase.status,
              "opened": NonconformingCase.opened_at}


@bp.get("/nonconformities")
def index() -> Any:
    db = get_session()
    page = listing.paginate(db, select(NonconformingCase), request.args, sorts=PAGE_SORTS,
                            default="-opened", tiebreak=NonconformingCase.id)
    cases = page.items
    assets = dict(db.execute(select(Instrument.id, Instrument.asset_number).where(
        Instrument.id.in_({c.instrument_id for c in cases}))).all()) if cases else {}
    return render_template("calibration/cases.html", page=page, cases=cases, assets=assets,
                           can_manage=allowed(current_user().roles, "nonconformity.manage"))


@bp.post("/nonconformities")
def open_page() -> Any:
    """Open a case from form fields asset, from, to, description (the impact page's form)."""
    number = _open(form())
    flash(_("Nonconforming-work case %(number)s opened", number=number), "ok")
    return redirect(url_for("nonconforming.case_page", number=number), code=303)


@bp.get("/nonconformities/<number>")
def case_page(number: str) -> Any:
    db = get_session()
    case = nc.get_case(db, number)
    items = nc.affected(db, case)
    instrument = db.get(Instrument, case.instrument_id)
    return render_template(
        "calibration/case.html", case=case, items=items, instrument=instrument,
        customers=nc.customers(items),
        names=_user_names({case.opened_by_id, *(a.row.evaluated_by_id for a in items)}),
        evaluations=nc.EVALUATIONS, is_open=case.status == CaseStatus.OPEN,
        pending=sum(a.row.evaluation == Evaluation.PENDING for a in items),
        can_manage=allowed(current_user().roles, "nonconformity.manage"))


@bp.post("/nonconformities/<number>/evaluations")
def evaluate_page(number: str) -> Any:
    data = form()
    _evaluate(number, data)
    flash(_("Report %(report)s evaluated: %(evaluation)s", report=data.get("report"),
            evaluation=label(data.get("evaluation"))), "ok")
    return redirect(url_for("nonconforming.case_page", number=number), code=303)


@bp.post("/nonconformities/<number>/close")
def close_page(number: str) -> Any:
    _close(number)
    flash(_("Case %(number)s closed", number=number), "ok")
    return redirect(url_for("nonconforming.case_page", number=number), code=303)


@bp.get("/nonconformities/<number>/letters/<int:customer_id>.pdf")
def letter_page(number: str, customer_id: int) -> Any:
    return _letter(number, customer_id)
