"""The equipment register (ISO/IEC 17025 6.4): registration, edits, service status.

Calibration records, the fitness-for-use interlock and due-date flags are in
:mod:`lims.calibration.services`.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.audit.services import record, snapshot
from lims.auth.models import User
from lims.auth.services import require
from lims.db import utcnow
from lims.edits import check_version, reason_of
from lims.errors import Choices, Conflict, InvalidInput, NotFound, msg
from lims.instruments.models import (
    EquipmentRole,
    Instrument,
    InstrumentQuantity,
    InstrumentStatus,
)
from lims.units import parse_value
from lims.validate import as_id, date, text


def get_instrument(session: Session, instrument_id: int) -> Instrument:
    instrument = session.get(Instrument, as_id(instrument_id, "instrument_id"))
    if instrument is None:
        raise InvalidInput(msg("no instrument with id %(id)s", id=instrument_id),
                           field="instrument_id")
    return instrument


def find_instrument(session: Session, asset_number: str, *, lock: bool = False) -> Instrument:
    """Find equipment by asset number; with ``lock``, take its row lock and read it afresh,
    so that of concurrent changes to one instrument (status, flag, calibrations) one waits
    for the other."""
    query = select(Instrument).where(Instrument.asset_number == asset_number)
    if lock:
        query = query.with_for_update(of=Instrument).execution_options(populate_existing=True)
    instrument = session.scalar(query)
    if instrument is None:
        raise NotFound(msg("no instrument %(asset)r", asset=asset_number))
    return instrument


def register_instrument(session: Session, *, actor: User, data: dict[str, Any], timezone: str,
                        warning_days: int = 30, port_hosts: tuple[str, ...] = ()) -> Instrument:
    """Add equipment to the register, with the quantities it measures and, when given, the
    calibration it arrives with (which becomes its first calibration record).

    :raises InvalidInput: a missing field, a bad date or unit, an unknown driver or role, a due
        date before the calibration date.
    :raises Conflict: the asset number is taken.
    """
    require(actor, "instrument.manage")
    from drivers import DRIVERS

    def field(key: str, required: bool = False, max_len: int = 120) -> str:
        return text(data.get(key), key, required=required, max_len=max_len)

    asset = field("asset_number", required=True, max_len=40)
    if session.scalar(select(Instrument).where(Instrument.asset_number == asset)):
        raise Conflict(msg("asset number %(asset)r exists", asset=asset), field="asset_number")
    driver = field("driver", max_len=40) or None
    if driver is not None and driver not in DRIVERS:
        raise InvalidInput(msg("unknown driver %(driver)r; known: %(known)s", driver=driver,
                               known=", ".join(sorted(DRIVERS))), field="driver")
    role = field("role", max_len=20) or EquipmentRole.TEST_EQUIPMENT
    if role not in {r.value for r in EquipmentRole}:
        raise InvalidInput(msg("must be one of %(allowed)s",
                               allowed=Choices(r.value for r in EquipmentRole)), field="role")
    settings = port_settings(data.get("port_settings"), baudrate=data.get("baudrate"))
    calibrated_on = date(data.get("calibrated_on"), "calibrated_on", required=False)
    due_on = date(data.get("calibration_due_on"), "calibration_due_on", required=False)
    if calibrated_on and due_on and due_on < calibrated_on:
        raise InvalidInput(msg("the due date %(due)s is before the calibration date %(calibrated)s",
                               due=due_on, calibrated=calibrated_on), field="calibration_due_on")
    if calibrated_on and not due_on:
        raise InvalidInput(msg("give the date the calibration is due as well"),
                           field="calibration_due_on")
    instrument = Instrument(
        asset_number=asset, name=field("name", required=True), manufacturer=field("manufacturer"),
        model=field("model"), serial_number=field("serial_number", max_len=80),
        location=field("location"), role=role,
        accuracy_class=field("accuracy_class", max_len=40), driver=driver,
        port=check_port(field("port", max_len=255), allowed_hosts=port_hosts),
        port_settings=settings)
    instrument.quantities = parse_quantities(data.get("quantities"))
    session.add(instrument)
    session.flush()
    record(session, actor=actor, action="instrument.register", entity_type="instruments",
           entity_id=instrument.asset_number,
           after={**snapshot(instrument),
                  "quantities": [snapshot(q) for q in instrument.quantities]})
    if due_on is not None:
        _initial_calibration(session, actor, instrument, data, calibrated_on, due_on, timezone)
    from lims.calibration.services import refresh_flag

    refresh_flag(session, instrument, today=utcnow().astimezone(ZoneInfo(timezone)).date(),
                 warning_days=warning_days, timezone=timezone)
    return instrument


def _initial_calibration(session: Session, actor: User, instrument: Instrument,
                         data: dict[str, Any], calibrated_on: dt.date | None, due_on: dt.date,
                         timezone: str) -> None:
    """The calibration the register form carries becomes the first calibration record."""
    from lims.calibration.certificates import CertificateItem, ParsedCertificate
    from lims.calibration.services import get_provider, record_certificate

    provider = text(data.get("calibration_provider"), "calibration_provider", required=False)
    kind = text(data.get("calibration_provider_kind"), "calibration_provider_kind",
                required=False, max_len=20) or "other"
    number = text(data.get("calibration_certificate"), "calibration_certificate",
                  required=False, max_len=80) or f"{instrument.asset_number}-initial"
    provider_name = provider or "未注明的校准机构 Calibration provider not recorded"
    get_provider(session, name=provider_name, kind=kind, field="calibration_provider")
    cert = ParsedCertificate(
        format="typed", schema_version=None, number=number, provider_name=provider_name,
        provider_kind=kind, provider_accreditation="", provider_country="",
        # Only a due date given (as before calibration records existed): the record says the
        # calibration date is not known rather than inventing one.
        calibrated_on=calibrated_on, valid_until=due_on,  # type: ignore[arg-type]
        item=CertificateItem(instrument.name, instrument.manufacturer, instrument.model,
                             instrument.serial_number),
        instrument=instrument.asset_number, standards_used=(), conditions=(), conformity="",
        results=())
    record_certificate(session, actor=actor, instrument=instrument, cert=cert,
                       source="register", timezone=timezone)


def parse_quantities(value: Any) -> list[InstrumentQuantity]:
    """Validate the quantities equipment measures: quantity, unit, range, resolution, MPE."""
    from lims.calibration.services import dimension_of

    if value in (None, ""):
        return []
    if not isinstance(value, list) or len(value) > 20:
        raise InvalidInput(msg("must be a list of up to 20 quantities"), field="quantities")
    out = []
    for i, q in enumerate(value):
        f = f"quantities[{i}]"
        if not isinstance(q, dict):
            raise InvalidInput(msg("must be an object"), field=f)
        unit = text(q.get("unit"), f"{f}.unit", max_len=40)
        dim = dimension_of(unit, field=f"{f}.unit")
        numbers: dict[str, str | None] = {}
        for key in ("range_min", "range_max", "resolution", "mpe"):
            raw = q.get(key)
            if raw in (None, ""):
                numbers[key] = None
            else:
                parse_value(raw, field=f"{f}.{key}")  # a number, kept with its digits
                numbers[key] = str(raw).strip()
        if numbers["range_min"] and numbers["range_max"] and \
                Decimal(numbers["range_min"]) > Decimal(numbers["range_max"]):
            raise InvalidInput(msg("the range's lower end is above its upper end"),
                               field=f"{f}.range_min")
        out.append(InstrumentQuantity(quantity=text(q.get("quantity"), f"{f}.quantity",
                                                    max_len=60),
                                      unit=unit, dimension=dim, **numbers))
    return out


def _quantities(instrument: Instrument) -> list[dict[str, object]]:
    return [{k: v for k, v in snapshot(q).items() if k not in ("id", "instrument_id")}
            for q in instrument.quantities]


def duplicate_serials(session: Session, instrument: Instrument) -> list[str]:
    """Other equipment with the same manufacturer's serial number (a warning, not an error)."""
    if not instrument.serial_number:
        return []
    return list(session.scalars(select(Instrument.asset_number).where(
        Instrument.serial_number == instrument.serial_number, Instrument.id != instrument.id)))


def update_instrument(session: Session, *, actor: User, asset: str, data: dict[str, Any],
                      reason: Any, port_hosts: tuple[str, ...] = (),
                      version: Any = None) -> Instrument:
    """Edit the register entry (name, location, port, …) with an audited reason; ``version``
    (when given) is the one the edit was made from, refused when stale (409). A retired
    instrument's entry is kept as it was."""
    require(actor, "instrument.manage")
    reason = text(reason, "reason", max_len=2000)
    instrument = find_instrument(session, asset, lock=True)
    check_version(instrument.version, version, f"instrument {asset}")
    if instrument.retired_at is not None:
        raise Conflict(msg("%(asset)s is retired; its register entry is kept as it was", asset=asset))
    before = {**snapshot(instrument), "quantities": _quantities(instrument)}
    if "quantities" in data:
        # What it measures, as declared; a correction of what the first certificate declared.
        instrument.quantities = parse_quantities(data["quantities"])
    for key, max_len in (("name", 120), ("manufacturer", 120), ("model", 120),
                         ("serial_number", 80), ("location", 120), ("accuracy_class", 40)):
        if key in data:
            setattr(instrument, key, text(data[key], key, required=key == "name",
                                          max_len=max_len))
    if "port" in data:
        instrument.port = check_port(text(data["port"], "port", required=False, max_len=255),
                                     allowed_hosts=port_hosts)
    if "port_settings" in data or "baudrate" in data:
        instrument.port_settings = port_settings(data.get("port_settings", instrument.port_settings),
                                                 baudrate=data.get("baudrate"))
    instrument.version += 1
    session.flush()
    record(session, actor=actor, action="instrument.update", entity_type="instruments",
           entity_id=instrument.asset_number, before=before,
           after={**snapshot(instrument), "quantities": _quantities(instrument)}, reason=reason)
    return instrument


def set_in_service(session: Session, *, actor: User, asset: str, in_service: bool,
                   reason: Any) -> Instrument:
    """Take equipment out of service, or back into it, with a reason (ISO/IEC 17025 6.4.9)."""
    require(actor, "instrument.manage")
    reason = text(reason, "reason", max_len=500)
    instrument = find_instrument(session, asset, lock=True)
    if instrument.retired_at is not None:
        raise Conflict(msg("%(asset)s is retired: out of service for good", asset=asset))
    target = InstrumentStatus.IN_SERVICE if in_service else InstrumentStatus.OUT_OF_SERVICE
    if instrument.status == target:
        # Whole sentences per status, so a translation can say each its own way.
        raise Conflict(msg("%(asset)s is already in service", asset=asset)
                       if target == InstrumentStatus.IN_SERVICE else
                       msg("%(asset)s is already out of service", asset=asset))
    before = {"status": instrument.status, "status_reason": instrument.status_reason}
    instrument.status, instrument.status_reason = target, reason
    session.flush()
    record(session, actor=actor, action="instrument.status", entity_type="instruments",
           entity_id=asset, before=before, after={"status": target, "status_reason": reason},
           reason=reason)
    return instrument


def retire_instrument(session: Session, *, actor: User, asset: str, reason: Any,
                      version: Any = None) -> Instrument:
    """Retire equipment for good (scrapped, sold, lost): out of service with the reason, kept
    in the register with its calibration history and the results measured with it, never
    offered for capture again (ISO/IEC 17025 6.4.13: records of equipment kept; 6.4.9)."""
    require(actor, "instrument.manage")
    why = reason_of(reason)
    instrument = find_instrument(session, asset, lock=True)
    check_version(instrument.version, version, f"instrument {asset}")
    if instrument.retired_at is not None:
        raise Conflict(msg("%(asset)s is already retired", asset=asset))
    before = snapshot(instrument)
    instrument.status, instrument.status_reason = InstrumentStatus.OUT_OF_SERVICE, why
    instrument.retired_at, instrument.retired_by_id, instrument.retired_reason = \
        utcnow(), actor.id, why
    instrument.version += 1
    session.flush()
    record(session, actor=actor, action="instrument.retire", entity_type="instruments",
           entity_id=asset, before=before, after=snapshot(instrument), reason=why)
    return instrument


NETWORK_SCHEMES = ("rfc2217", "socket")  # pyserial's serial-over-network transports


def check_port(value: str | None, *, allowed_hosts: tuple[str, ...] = (), field: str = "port"
               ) -> str | None:
    """A port is a serial device path (``/dev/ttyUSB0``, ``/dev/serial/by-id/…``, ``COM3``); a
    network transport only to a host:port the administrator allowed (``LIMS_SERIAL_HOSTS``),
    so that no one can point an instrument at an internal service (SSRF). The message never
    says which hosts exist or are allowed.

    :raises InvalidInput:
    """
    if not value:
        return None
    if "://" in value:
        scheme, _, rest = value.partition("://")
        hostport = rest.split("?", 1)[0].split("/", 1)[0].lower()
        if scheme.lower() not in NETWORK_SCHEMES or hostport not in allowed_hosts:
            raise InvalidInput(msg("a network port must be one the administrator has allowed "
                                   "(LIMS_SERIAL_HOSTS); give a serial device path"), field=field)
        return value
    if value.startswith("/") or re.fullmatch(r"COM\d{1,3}", value, re.IGNORECASE):
        if ".." in value.split("/"):
            raise InvalidInput(msg("a device path cannot contain '..'"), field=field)
        return value
    raise InvalidInput(msg("give the serial device path, e.g. /dev/ttyUSB0 or "
                           "/dev/serial/by-id/…"), field=field)


SERIAL_KEYS = {"baudrate", "bytesize", "parity", "stopbits", "xonxoff"}
SETTING_KEYS = SERIAL_KEYS | {"options"}  # options: the driver's --set KEY=VALUE settings
BAUDRATES = {300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200}


def port_settings(value: Any, *, baudrate: Any = None) -> dict[str, Any]:
    """Validate serial line settings (a baud rate may also come as its own form field).

    :raises InvalidInput: unknown key or a baud rate no serial line uses.
    """
    settings = {} if value in (None, "") else value
    if not isinstance(settings, dict):
        raise InvalidInput(msg("must be an object"), field="port_settings")
    unknown = set(settings) - SETTING_KEYS
    if unknown:
        raise InvalidInput(msg("unknown setting(s) %(unknown)s; allowed: %(allowed)s",
                               unknown=", ".join(sorted(unknown)),
                               allowed=", ".join(sorted(SETTING_KEYS))), field="port_settings")
    if not isinstance(settings.get("options", {}), dict):
        raise InvalidInput(msg("options must be an object of driver settings"),
                           field="port_settings")
    settings = dict(settings)
    if baudrate not in (None, ""):
        settings["baudrate"] = baudrate
    if "baudrate" in settings:
        rate = settings["baudrate"]
        if isinstance(rate, str) and rate.strip().isdigit():
            rate = int(rate)
        if isinstance(rate, bool) or not isinstance(rate, int) or rate not in BAUDRATES:
            raise InvalidInput(msg("baud rate %(rate)r is not one of %(allowed)s",
                                   rate=settings["baudrate"],
                                   allowed=", ".join(map(str, sorted(BAUDRATES)))),
                               field="baudrate")
        settings["baudrate"] = rate
    return settings
