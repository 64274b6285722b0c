"""Equipment register pages and API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from drivers import DRIVERS
from lims.auth.permissions import allowed
from lims.calibration.models import CalibrationRecord, RecordStatus
from lims.calibration.services import latest_record
from lims.db import unit_of_work
from lims.instruments import api_models as m
from lims.instruments import lists
from lims.instruments.models import Instrument
from lims.instruments.services import (
    duplicate_serials,
    find_instrument,
    register_instrument,
    retire_instrument,
    set_in_service,
    update_instrument,
)
from lims.web import listing
from lims.web.api_models import API_PER_PAGE
from lims.web.auth import current_user
from lims.web.context import get_session, settings
from lims.web.i18n import label
from lims.web.inputs import form, json_model, query_model
from lims.web.openapi import operation

bp = Blueprint("instruments", __name__, url_prefix="/instruments")
api = Blueprint("instruments_api", __name__, url_prefix="/api/v1/instruments")


_UNREAD: Any = object()


def latest_records(db: Session, ids: list[int]) -> dict[int, CalibrationRecord]:
    """:func:`latest_record` of each of ``ids`` in one query (a list page's, not N)."""
    rows = db.scalars(select(CalibrationRecord).where(
        CalibrationRecord.instrument_id.in_(ids), CalibrationRecord.is_current,
        CalibrationRecord.status != RecordStatus.REVOKED)
        .order_by(CalibrationRecord.calibrated_on.desc().nulls_last(),
                  CalibrationRecord.id.desc()))
    latest: dict[int, CalibrationRecord] = {}
    for rec in rows:
        latest.setdefault(rec.instrument_id, rec)
    return latest


def to_json(i: Instrument, db: Session, last: Any = _UNREAD) -> dict[str, Any]:
    if last is _UNREAD:
        last = latest_record(db, i.id)
    return {"id": i.id, "asset_number": i.asset_number, "name": i.name,
            "manufacturer": i.manufacturer, "model": i.model, "serial_number": i.serial_number,
            "location": i.location, "role": i.role, "accuracy_class": i.accuracy_class,
            "driver": i.driver, "port": i.port, "port_settings": i.port_settings,
            "status": i.status, "status_reason": i.status_reason,
            "quantities": [{"quantity": q.quantity, "unit": q.unit, "dimension": q.dimension,
                            "range_min": q.range_min, "range_max": q.range_max,
                            "resolution": q.resolution, "mpe": q.mpe} for q in i.quantities],
            # The latest calibration, as the register shows it (compatible with the old fields).
            "calibrated_on": last.calibrated_on.isoformat() if last and last.calibrated_on
            else None,
            "calibration_due_on": last.valid_until.isoformat() if last else None,
            "calibration_certificate": last.certificate_number if last else "",
            "calibration_flag": i.calibration_flag, "version": i.version,
            "retired_at": i.retired_at.isoformat() if i.retired_at else None}


def _data() -> dict[str, Any]:
    """The register form: one quantity row (quantity, unit, range, resolution, MPE)."""
    data = form()
    quantity = {k: data.pop(f"q_{k}", "") for k in ("quantity", "unit", "range_min",
                                                      "range_max", "resolution", "mpe")}
    if quantity["quantity"] or quantity["unit"]:
        data["quantities"] = [quantity]
    return data


@bp.get("/")
def index() -> Any:
    """The register: paged, sorted, filtered (status, calibration flag, role, quantity) and
    searched by the URL's query, or exported (issue 11 §3)."""
    db, args = get_session(), request.args
    query = lists.instruments_query(args)
    if fmt := listing.export_format(args):
        key = listing.sort_key(args, lists.SORTS, lists.DEFAULT_SORT)
        return listing.export(db, listing.sorted_query(query, key, lists.SORTS, Instrument.id),
                              lists.COLUMNS, fmt, "instruments")
    page = listing.paginate(db, query, args, sorts=lists.SORTS, default=lists.DEFAULT_SORT,
                            tiebreak=Instrument.id)
    due = latest_records(db, [i.id for i in page.items])
    return render_template("instruments/index.html", page=page, due=due, filters=args,
                           statuses=lists.STATUSES, flags=lists.FLAGS, roles=lists.ROLES,
                           quantities=lists.quantities(db), drivers=sorted(DRIVERS),
                           can_manage=allowed(current_user().roles, "instrument.manage"))


@bp.get("/search")
def search() -> Any:
    """Instruments whose asset number or name contains ``q``, at most 20, for the fields that
    name an instrument (the sample list's filter): JSON for lims.js (issue 14). ``active=1``:
    those in use only (a check standard), not the retired ones a list's filter still finds."""
    active = [Instrument.retired_at.is_(None)] if request.args.get("active") == "1" else []
    found = lists.find_instruments(get_session(), listing.search_term(request.args),
                                   where=active)
    return jsonify(instruments=[{"id": i.id, "asset_number": i.asset_number, "name": i.name,
                                 "value": i.asset_number, "label": i.name} for i in found])


@bp.post("/")
def create() -> Any:
    data = _data()
    with unit_of_work(get_session()) as db:
        instrument = register_instrument(db, actor=current_user(), data=data,
                                         timezone=settings().timezone,
                                         warning_days=settings().calibration_warning_days,
                                         port_hosts=settings().port_hosts)
        asset, twins = instrument.asset_number, duplicate_serials(db, instrument)
    flash(_("Instrument %(asset)s registered", asset=asset), "ok")
    if twins:
        flash(_("Serial number also used by %(assets)s: check it is not the same item "
                "registered twice", assets=", ".join(twins)), "error")
    return redirect(url_for("instruments.detail", asset=asset), code=303)


def _quantity_rows() -> list[dict[str, str]]:
    """The quantity rows of the manage form (``q_*`` lists); rows left empty are dropped."""
    keys = ("quantity", "unit", "range_min", "range_max", "resolution", "mpe")
    cells = [request.form.getlist(f"q_{k}") for k in keys]
    count = max(len(c) for c in cells)
    rows = [dict(zip(keys, (c[i] if i < len(c) else "" for c in cells), strict=True))
            for i in range(count)]
    return [r for r in rows if any(v.strip() for v in r.values())]


@bp.post("/<asset>/edit")
def edit(asset: str) -> Any:
    data = form()
    if data.pop("quantity_rows", None):  # the manage form: what it measures, every row
        for key in list(data):
            if key.startswith("q_"):
                del data[key]
        data["quantities"] = _quantity_rows()
    with unit_of_work(get_session()) as db:
        update_instrument(db, actor=current_user(), asset=asset, data=data,
                          reason=data.pop("reason", None), port_hosts=settings().port_hosts,
                          version=data.pop("version", None))
    flash(_("%(asset)s updated", asset=asset), "ok")
    return redirect(url_for("instruments.detail", asset=asset), code=303)


@bp.post("/<asset>/status")
def status(asset: str) -> Any:
    data = form()
    with unit_of_work(get_session()) as db:
        i = set_in_service(db, actor=current_user(), asset=asset,
                           in_service=data.get("in_service") == "1", reason=data.get("reason"))
        flash(_("Instrument %(asset)s is now %(status)s", asset=asset, status=label(i.status)),
              "ok")
    return redirect(url_for("instruments.detail", asset=asset), code=303)


@bp.post("/<asset>/retire")
def retire(asset: str) -> Any:
    from flask_babel import gettext

    data = form()
    with unit_of_work(get_session()) as db:
        retire_instrument(db, actor=current_user(), asset=asset, reason=data.get("reason"),
                          version=data.get("version"))
    flash(gettext("%(asset)s retired: out of service for good, kept with its history.",
                  asset=asset), "ok")
    return redirect(url_for("instruments.detail", asset=asset), code=303)


@bp.get("/<int:instrument_id>")
def by_id(instrument_id: int) -> Any:
    """``/instruments/1``: the instrument's page by its id, unless an asset is numbered so."""
    from lims.errors import NotFound, msg

    db = get_session()
    asset = db.scalar(select(Instrument.asset_number)
                      .where(Instrument.asset_number == str(instrument_id)))
    if asset is None:
        from lims.validate import MAX_ID

        found = db.get(Instrument, instrument_id) if instrument_id <= MAX_ID else None
        if found is None:
            raise NotFound(msg("no instrument with id %(id)s", id=instrument_id))
        return redirect(url_for("instruments.detail", asset=found.asset_number), code=302)
    return detail(asset)


@bp.get("/<asset>")
def detail(asset: str) -> Any:
    from lims.calibration.views import instrument_page

    return instrument_page(asset)


@api.get("")
@operation("List instruments by asset number, a page at a time", query=m.InstrumentsQuery,
           response=m.Instruments)
def list_json() -> Any:
    query_model(m.InstrumentsQuery)
    db, args = get_session(), request.args
    page = listing.paginate(db, lists.instruments_query(args), args, sorts=lists.SORTS,
                            default=lists.DEFAULT_SORT, tiebreak=Instrument.id,
                            per_page=API_PER_PAGE)
    last = latest_records(db, [i.id for i in page.items])
    return jsonify(instruments=[to_json(i, db, last.get(i.id)) for i in page.items],
                   **page.api())


@api.post("")
@operation("Register an instrument (quality manager, admin)", body=m.NewInstrument,
           response=m.InstrumentRegistered, status=201, errors=[403, 409],
           links=("/api/v1/instruments/{asset}", {"asset": "asset_number"}))
def create_json() -> Any:
    data = json_model(m.NewInstrument).model_dump(exclude_unset=True)
    with unit_of_work(get_session()) as db:
        instrument = register_instrument(db, actor=current_user(), data=data,
                                         timezone=settings().timezone,
                                         warning_days=settings().calibration_warning_days,
                                         port_hosts=settings().port_hosts)
        body = to_json(instrument, db)
        body["warnings"] = [f"serial number also used by {a}"
                            for a in duplicate_serials(db, instrument)]
    return jsonify(body), 201


@api.get("/<asset>")
@operation("Show an instrument", response=m.Instrument)
def show_json(asset: str) -> Any:
    db = get_session()
    return jsonify(to_json(find_instrument(db, asset), db))


@api.post("/<asset>")
@operation("Edit an instrument with a reason", body=m.InstrumentEdit, response=m.Instrument,
           errors=[403, 409])
def update_json(asset: str) -> Any:
    return _update(json_model(m.InstrumentEdit).model_dump(exclude_unset=True), asset)


def _update(data: dict[str, Any], asset: str) -> Any:
    with unit_of_work(get_session()) as db:
        body = to_json(update_instrument(db, actor=current_user(), asset=asset, data=data,
                                         reason=data.pop("reason", None),
                                         port_hosts=settings().port_hosts,
                                         version=data.pop("version", None)), db)
    return jsonify(body)


@api.patch("/<asset>")
@operation("Edit an instrument with a reason (as POST; a stale version: 409)",
           body=m.InstrumentEdit, response=m.Instrument, errors=[403, 404, 409])
def patch_json(asset: str) -> Any:
    return _update(json_model(m.InstrumentEdit).model_dump(exclude_unset=True), asset)


@api.post("/<asset>/retire")
@operation("Retire an instrument for good, with a reason", body=m.InstrumentRetirement,
           response=m.Instrument, errors=[403, 404, 409])
def retire_json(asset: str) -> Any:
    data = json_model(m.InstrumentRetirement)
    with unit_of_work(get_session()) as db:
        body = to_json(retire_instrument(db, actor=current_user(), asset=asset,
                                         reason=data.reason, version=data.version), db)
    return jsonify(body)


@api.post("/<asset>/status")
@operation("Take out of service or back into service", body=m.InstrumentStatusChange,
           response=m.Instrument, errors=[403, 409])
def status_json(asset: str) -> Any:
    data = json_model(m.InstrumentStatusChange)
    with unit_of_work(get_session()) as db:
        body = to_json(set_in_service(db, actor=current_user(), asset=asset,
                                      in_service=data.in_service, reason=data.reason), db)
    return jsonify(body)
