"""Instrument register pages and API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, url_for
from sqlalchemy import select

from drivers import DRIVERS
from lims.auth.permissions import allowed
from lims.db import unit_of_work
from lims.instruments.models import Instrument
from lims.instruments.services import register_instrument
from lims.web.auth import current_user
from lims.web.context import get_session, settings
from lims.web.inputs import form, json_body

bp = Blueprint("instruments", __name__, url_prefix="/instruments")
api = Blueprint("instruments_api", __name__, url_prefix="/api/v1/instruments")


def to_json(i: Instrument) -> dict[str, Any]:
    return {"id": i.id, "asset_number": i.asset_number, "name": i.name,
            "manufacturer": i.manufacturer, "model": i.model, "serial_number": i.serial_number,
            "location": i.location, "driver": i.driver, "port": i.port,
            "port_settings": i.port_settings, "status": i.status,
            "calibrated_on": i.calibrated_on.isoformat() if i.calibrated_on else None,
            "calibration_due_on": i.calibration_due_on.isoformat(),
            "calibration_certificate": i.calibration_certificate,
            "calibration_flag": i.calibration_flag}


def _all() -> list[Instrument]:
    return list(get_session().scalars(select(Instrument).order_by(Instrument.asset_number)))


@bp.get("/")
def index() -> object:
    return render_template("instruments/index.html", instruments=_all(), drivers=sorted(DRIVERS),
                           can_manage=allowed(current_user().roles, "instrument.manage"))


@bp.post("/")
def create() -> object:
    data = form()
    with unit_of_work(get_session()) as db:
        instrument = register_instrument(db, actor=current_user(), data=data,
                                         timezone=settings().timezone,
                                         warning_days=settings().calibration_warning_days)
        flash(f"instrument {instrument.asset_number} registered", "ok")
    return redirect(url_for("instruments.index"), code=303)


@api.get("")
def list_json() -> object:
    return jsonify(instruments=[to_json(i) for i in _all()])


@api.post("")
def create_json() -> object:
    data = json_body()
    with unit_of_work(get_session()) as db:
        body = to_json(register_instrument(db, actor=current_user(), data=data,
                                         timezone=settings().timezone,
                                         warning_days=settings().calibration_warning_days))
    return jsonify(body), 201
