"""The instrument register's list (issue 11 §3): filters, search, sort keys and export columns,
shared by the page and the JSON API; see :mod:`lims.web.listing`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import Select, case, exists, func, or_, select
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.sql.elements import ColumnElement

from lims.errors import InvalidInput, msg
from lims.instruments.models import (
    CalibrationFlag,
    EquipmentRole,
    Instrument,
    InstrumentQuantity,
    InstrumentStatus,
)
from lims.web.listing import Column, choice, like, search_term

STATUSES = [s.value for s in InstrumentStatus]
FLAGS = [f.value for f in CalibrationFlag]
ROLES = [r.value for r in EquipmentRole]
SORTS: dict[str, Any] = {
    "asset": Instrument.asset_number, "name": Instrument.name, "role": Instrument.role,
    "location": Instrument.location, "flag": Instrument.calibration_flag,
    "status": Instrument.status,
}
DEFAULT_SORT = "asset"


def quantities(session: Session) -> list[str]:
    """The quantities some instrument measures, for the filter's choices."""
    return list(session.scalars(select(InstrumentQuantity.quantity).distinct()
                                .order_by(InstrumentQuantity.quantity)))


def instruments_query(args: Mapping[str, str]) -> Select[Any]:
    """``status``, ``flag`` (calibration: due soon, overdue, check failed), ``role``,
    ``quantity`` (one it measures) and ``q`` (asset number, name, serial number, model)."""
    query = select(Instrument)
    if (status := choice(args, "status", STATUSES)) is not None:
        query = query.where(Instrument.status == status)
    if (flag := choice(args, "flag", FLAGS)) is not None:
        query = query.where(Instrument.calibration_flag == flag)
    if (role := choice(args, "role", ROLES)) is not None:
        query = query.where(Instrument.role == role)
    if quantity := search_term(args, "quantity"):
        query = query.where(exists().where(
            InstrumentQuantity.instrument_id == Instrument.id,
            func.lower(InstrumentQuantity.quantity) == quantity.lower()))
    if term := search_term(args):
        pattern = like(term)
        query = query.where(or_(*(c.ilike(pattern, escape="\\") for c in (
            Instrument.asset_number, Instrument.name, Instrument.serial_number,
            Instrument.model))))
    return query


def find_instruments(session: Session, term: str, limit: int = 20, *,
                     where: Sequence[ColumnElement[bool]] = (),
                     first: ColumnElement[bool] | None = None) -> list[Instrument]:
    """Instruments whose asset number or name contains ``term`` (any case), those whose asset
    number starts with it first, then by asset number; retired ones too (a list's filter
    finds the samples measured with them). ``where``: further conditions; ``first``: those
    it holds for come before the others (a calibration job's standards and item)."""
    query = select(Instrument).options(lazyload(Instrument.quantities)).where(*where)
    if first is not None:
        query = query.order_by(case((first, 0), else_=1))
    if term := term.strip()[:100]:
        query = query.where(or_(*(c.ilike(like(term), escape="\\")
                                  for c in (Instrument.asset_number, Instrument.name))))
        query = query.order_by(func.upper(Instrument.asset_number)
                               .startswith(term.upper(), autoescape=True).desc())
    return list(session.scalars(query.order_by(Instrument.asset_number).limit(limit)))


def resolve_asset(session: Session, text: str) -> Instrument:
    """The instrument a typed field names by its asset number (any case), as typed without
    JavaScript or picked from a type-ahead's list ("EQ-1 Balance").

    :raises InvalidInput: an unknown asset number, naming ``instrument_id``.
    """
    text = text.strip()[:200]
    asset = text.split()[0] if text else ""
    found = session.scalars(select(Instrument).options(lazyload(Instrument.quantities))
                            .where(func.upper(Instrument.asset_number) == asset.upper())
                            .limit(1)).first()
    if found is None:
        raise InvalidInput(msg("instrument: no instrument has the asset number %(asset)r",
                               asset=text[:60]), field="instrument_id")
    return found


def _label(value: str) -> str:
    from lims.web.i18n import label

    return label(value)


COLUMNS = [
    Column("asset", lazy_gettext("Asset number"), lambda i: i.asset_number),
    Column("name", lazy_gettext("Name"), lambda i: i.name),
    Column("role", lazy_gettext("Role"), lambda i: _label(i.role)),
    Column("manufacturer", lazy_gettext("Manufacturer"), lambda i: i.manufacturer),
    Column("model", lazy_gettext("Model"), lambda i: i.model),
    Column("serial", lazy_gettext("Serial number"), lambda i: i.serial_number),
    Column("location", lazy_gettext("Location"), lambda i: i.location),
    Column("quantities", lazy_gettext("Quantities"),
           lambda i: "; ".join(f"{_label(q.quantity)} ({q.unit})" for q in i.quantities)),
    Column("status", lazy_gettext("Status"), lambda i: _label(i.status)),
    Column("flag", lazy_gettext("Calibration"), lambda i: _label(i.calibration_flag)),
]
