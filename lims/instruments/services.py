"""The instrument register and its fitness-for-use check (ISO/IEC 17025 6.4)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.audit.services import record, snapshot
from lims.auth.models import User
from lims.auth.services import require
from lims.db import utcnow
from lims.errors import CalibrationExpired, Conflict, InstrumentUnavailable, InvalidInput, NotFound
from lims.instruments.models import CalibrationFlag, Instrument, InstrumentStatus
from lims.validate import as_id, date, text


def get_instrument(session: Session, instrument_id: int) -> Instrument:
    instrument = session.get(Instrument, as_id(instrument_id, "instrument_id"))
    if instrument is None:
        raise InvalidInput(f"no instrument with id {instrument_id}", field="instrument_id")
    return instrument


def find_instrument(session: Session, asset_number: str) -> Instrument:
    instrument = session.scalar(select(Instrument).where(Instrument.asset_number == asset_number))
    if instrument is None:
        raise NotFound(f"no instrument {asset_number!r}")
    return instrument


def check_fit_for_use(instrument: Instrument, at: dt.datetime, *, timezone: str) -> None:
    """Refuse an instrument out of service or whose calibration had expired at ``at``.

    The due date itself is still valid; the day after it is not (EQ-04). The lab's calendar
    (``timezone``) decides which day a measurement belongs to.

    :raises CalibrationExpired:
    :raises InstrumentUnavailable:
    """
    if instrument.status != InstrumentStatus.IN_SERVICE:
        raise InstrumentUnavailable(f"instrument {instrument.asset_number} is {instrument.status}",
                                    field="instrument_id", instrument=instrument.asset_number)
    day = at.astimezone(ZoneInfo(timezone)).date()
    if day > instrument.calibration_due_on:
        raise CalibrationExpired(
            f"instrument {instrument.asset_number} was overdue for calibration on {day} "
            f"(due {instrument.calibration_due_on}); it cannot be used for results "
            "(ISO/IEC 17025 6.4)",
            field="instrument_id", instrument=instrument.asset_number,
            due_on=instrument.calibration_due_on.isoformat(), measured_on=day.isoformat())


def register_instrument(session: Session, *, actor: User, data: dict[str, Any], timezone: str,
                        warning_days: int = 30) -> Instrument:
    """Add an instrument to the register.

    :raises InvalidInput: a missing field, a bad date or an unknown driver.
    :raises Conflict: the asset number is taken.
    """
    require(actor, "instrument.manage")
    from drivers import DRIVERS

    def field(key: str, required: bool = False, max_len: int = 120) -> str:
        return text(data.get(key), key, required=required, max_len=max_len)

    asset = field("asset_number", required=True, max_len=40)
    if session.scalar(select(Instrument).where(Instrument.asset_number == asset)):
        raise Conflict(f"asset number {asset!r} exists", field="asset_number")
    driver = field("driver", max_len=40) or None
    if driver is not None and driver not in DRIVERS:
        raise InvalidInput(f"unknown driver {driver!r}; known: {', '.join(sorted(DRIVERS))}",
                           field="driver")
    settings = port_settings(data.get("port_settings"), baudrate=data.get("baudrate"))
    instrument = Instrument(
        asset_number=asset, name=field("name", required=True), manufacturer=field("manufacturer"),
        model=field("model"), serial_number=field("serial_number", max_len=80),
        location=field("location"), driver=driver, port=field("port", max_len=255) or None,
        port_settings=settings, calibrated_on=date(data.get("calibrated_on"), "calibrated_on",
                                                    required=False),
        calibration_due_on=date(data.get("calibration_due_on"), "calibration_due_on"),
        calibration_certificate=field("calibration_certificate", max_len=80))
    instrument.calibration_flag = calibration_flag(instrument, utcnow().astimezone(ZoneInfo(timezone)).date(),
                                                   warning_days=warning_days)
    session.add(instrument)
    session.flush()
    record(session, actor=actor, action="instrument.register", entity_type="instruments",
           entity_id=instrument.asset_number, after=snapshot(instrument))
    return instrument


SERIAL_KEYS = {"baudrate", "bytesize", "parity", "stopbits", "xonxoff"}
SETTING_KEYS = SERIAL_KEYS | {"options"}  # options: the driver's --set KEY=VALUE settings
BAUDRATES = {300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200}


def port_settings(value: Any, *, baudrate: Any = None) -> dict[str, Any]:
    """Validate serial line settings (a baud rate may also come as its own form field).

    :raises InvalidInput: unknown key or a baud rate no serial line uses.
    """
    settings = {} if value in (None, "") else value
    if not isinstance(settings, dict):
        raise InvalidInput("must be an object", field="port_settings")
    unknown = set(settings) - SETTING_KEYS
    if unknown:
        raise InvalidInput(f"unknown setting(s) {', '.join(sorted(unknown))}; allowed: "
                           f"{', '.join(sorted(SETTING_KEYS))}", field="port_settings")
    if not isinstance(settings.get("options", {}), dict):
        raise InvalidInput("options must be an object of driver settings", field="port_settings")
    settings = dict(settings)
    if baudrate not in (None, ""):
        settings["baudrate"] = baudrate
    if "baudrate" in settings:
        rate = settings["baudrate"]
        if isinstance(rate, str) and rate.strip().isdigit():
            rate = int(rate)
        if isinstance(rate, bool) or rate not in BAUDRATES:
            raise InvalidInput(f"baud rate {settings['baudrate']!r} is not one of "
                               f"{', '.join(map(str, sorted(BAUDRATES)))}", field="baudrate")
        settings["baudrate"] = rate
    return settings


def calibration_flag(instrument: Instrument, today: dt.date, *, warning_days: int) -> str:
    if today > instrument.calibration_due_on:
        return CalibrationFlag.OVERDUE
    if (instrument.calibration_due_on - today).days <= warning_days:
        return CalibrationFlag.DUE_SOON
    return CalibrationFlag.OK


def flag_calibration_due(session: Session, *, today: dt.date, warning_days: int) -> list[str]:
    """Flag instruments due within the warning period or overdue; audit each change.

    :returns: the asset numbers whose flag changed.
    """
    changed = []
    for instrument in session.scalars(select(Instrument).order_by(Instrument.id)):
        flag = calibration_flag(instrument, today, warning_days=warning_days)
        if flag != instrument.calibration_flag:
            before = {"calibration_flag": instrument.calibration_flag}
            instrument.calibration_flag, instrument.flagged_at = flag, utcnow()
            record(session, actor=None, action="instrument.calibration_flag",
                   entity_type="instruments", entity_id=instrument.asset_number,
                   before=before, after={"calibration_flag": flag,
                                         "calibration_due_on": instrument.calibration_due_on})
            changed.append(instrument.asset_number)
    session.flush()
    return changed
