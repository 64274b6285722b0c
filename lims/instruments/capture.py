"""Take a reading from a registered instrument: the LIMS's only bridge to ``drivers``.

The reading is taken outside any write transaction (a stable weight can take seconds and the
database must not stay locked meanwhile); the caller records it afterwards.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from drivers import DriverError, Reading, get_driver
from drivers.identity import check_identity
from drivers.reading import OK
from lims.calibration.services import check_fit_for_use
from lims.db import utcnow
from lims.errors import InstrumentUnavailable, InvalidInput, msg
from lims.instruments.models import Instrument
from lims.instruments.services import SERIAL_KEYS, check_port
from lims.units import parse_unit

log = logging.getLogger(__name__)


def take_readings(instrument: Instrument, unit: str, count: int, *,
                  port_hosts: tuple[str, ...] = ()) -> list[Reading]:
    """Open the port once, check the identity and take ``count`` stable readings in ``unit``'s
    dimension: an intermediate check through the driver (ISO/IEC 17025 6.4.10).

    The instrument must be in service; its calibration flag is not checked, since a check is
    what clears a failed one.

    :raises InstrumentUnavailable: as :func:`take_reading`.
    """
    from lims.errors import InstrumentUnavailable as Unavailable
    from lims.instruments.models import InstrumentStatus

    if instrument.status != InstrumentStatus.IN_SERVICE:
        # The only other status (a whole sentence, so a translation need not splice it in).
        raise Unavailable(msg("instrument %(asset)s is out of service",
                              asset=instrument.asset_number),
                          field="instrument", instrument=instrument.asset_number)
    return _read(instrument, unit, count, port_hosts)


def take_reading(session: Session, instrument: Instrument, unit: str | None = None, *,
                 timezone: str, port_hosts: tuple[str, ...] = (),
                 accepts: Callable[[Reading], bool] | None = None) -> Reading:
    """Open the instrument's port, check its identity and return one stable reading.

    :param unit: the unit the result needs; of an instrument that sends several quantities
        (RH and T) the first reading in a compatible unit is taken.
    :param accepts: which readings' units qualify (a characteristic's kind: %RH and ℃ are
        told apart by kind, not by pint's dimension); default: the dimension of ``unit``.

    :raises CalibrationExpired: the instrument is overdue now (nothing is read).
    :raises InstrumentUnavailable: no driver or port, a different instrument on the port, the
        driver failed or the instrument reported an error, overload or underload.
    """
    check_fit_for_use(session, instrument, utcnow(), timezone=timezone)
    return _read(instrument, unit, 1, port_hosts, accepts)[0]


def _read(instrument: Instrument, unit: str | None, count: int,
          port_hosts: tuple[str, ...],
          accepts: Callable[[Reading], bool] | None = None) -> list[Reading]:
    if not instrument.driver or not instrument.port:
        raise InvalidInput(msg("instrument %(asset)s has no driver and port configured for capture",
                               asset=instrument.asset_number), field="instrument_id")
    # Checked again here: a port stored before the rule, or by hand, must not open either.
    check_port(instrument.port, allowed_hosts=port_hosts, field="instrument_id")
    settings = {k: v for k, v in (instrument.port_settings or {}).items() if k in SERIAL_KEYS}
    stored = (instrument.port_settings or {}).get("options")
    options = {k: str(v) for k, v in stored.items()} if isinstance(stored, dict) else {}
    taken = []
    try:
        with get_driver(instrument.driver).open(instrument.port, options=options,
                                                **settings) as device:
            device.resync()
            if instrument.serial_number:
                # A different serial number raises IdentityMismatch (refused below); a model
                # that reports none (a 34401A answers 0) is checked against nothing: say so.
                checked = check_identity(device.identity(), instrument.serial_number,
                                         port=instrument.port)
                if checked.warning:
                    log.warning("%s: %s", instrument.asset_number, checked.warning)
            for _ in range(count):
                taken.append(_pick(device.capture(), unit, instrument, accepts))
    except DriverError as exc:
        raise InstrumentUnavailable(msg("%(asset)s: %(error)s", asset=instrument.asset_number,
                                        error=str(exc)), field="instrument_id",
                                    instrument=instrument.asset_number) from exc
    for reading in taken:
        if reading.status != OK:
            raise InstrumentUnavailable(
                msg("%(asset)s reported %(status)s: %(message)s", asset=instrument.asset_number,
                    status=reading.status, message=reading.message),
                field="instrument_id", instrument=instrument.asset_number)
    return taken


def _pick(readings: list[Reading], unit: str | None, instrument: Instrument,
          accepts: Callable[[Reading], bool] | None = None) -> Reading:
    if unit is None or len(readings) == 1:
        return readings[0]
    if accepts is None:
        want = parse_unit(unit).dimensionality

        def accepts(reading: Reading) -> bool:
            return reading.unit is not None and parse_unit(reading.unit).dimensionality == want

    for reading in readings:
        if reading.unit is not None and accepts(reading):
            return reading
    sent = ", ".join(r.unit or r.status for r in readings)
    raise InvalidInput(msg("%(asset)s sends %(sent)s; none is a unit of what %(unit)r measures",
                           asset=instrument.asset_number, sent=sent, unit=unit),
                       field="instrument_id")


# --- from a capture agent's stream (issue 12 §2) ------------------------------------------------

class StreamedReading(Reading):
    """A reading a capture agent uploaded, as the driver gave it, with the stored row's id."""

    reading_id: int

    def __new__(cls, *, reading_id: int = 0, **fields: Any) -> StreamedReading:
        reading = super().__new__(cls, **fields)
        reading.reading_id = reading_id
        return reading


def take_streamed_reading(session: Session, instrument: Instrument, *, timezone: str,
                          max_age: dt.timedelta,
                          accepts: Callable[[Reading], bool] | None = None) -> StreamedReading:
    """The latest stable reading the instrument's capture agent uploaded, read at most
    ``max_age`` ago, instead of opening the port from the web process (which the agent holds).

    Fitness for use is checked at the time it was read, the measurement time of the result.

    :raises InstrumentUnavailable: no stable reading, or the latest one is too old (its age
        named). :raises InvalidInput: none of the recent stable readings is of the kind.
    :raises CalibrationExpired: the instrument was overdue when the reading was taken.
    """
    from lims.readings.live import latest, settled
    from lims.readings.models import Agent
    from lims.readings.models import Reading as Stored

    now = utcnow()
    rows = session.execute(
        select(Stored, Agent.name).join(Agent, Agent.id == Stored.agent_id)
        .where(Stored.instrument_id == instrument.id, settled(),
               Stored.status == OK, Stored.read_at >= now - max_age)
        .order_by(Stored.read_at.desc(), Stored.id.desc()).limit(50)).all()
    if not rows:
        last = latest(session, instrument.id, stable=True)
        if last is None:
            raise InstrumentUnavailable(
                msg("%(asset)s: its capture agent has sent no stable reading",
                    asset=instrument.asset_number),
                field="instrument_id", instrument=instrument.asset_number)
        raise InstrumentUnavailable(
            msg("%(asset)s: the latest stable reading is %(age)s s old (at most %(max)s s); "
                "wait for a stable reading and capture again",
                asset=instrument.asset_number, age=int((now - last[0].read_at).total_seconds()),
                max=int(max_age.total_seconds())),
            field="instrument_id", instrument=instrument.asset_number)
    candidates = [StreamedReading(driver=f"agent:{name}", value=r.value, unit=r.unit,
                                  stable=r.stable, status=r.status, raw=r.raw, at=r.read_at,
                                  reading_id=r.id) for r, name in rows]
    unit = candidates[0].unit
    picked = candidates[0] if accepts is None else next(
        (c for c in candidates if c.unit is not None and accepts(c)), None)
    if picked is None:
        raise InvalidInput(msg("%(asset)s sends %(sent)s; none is a unit of what is measured",
                               asset=instrument.asset_number, sent=unit or "?"),
                           field="instrument_id")
    check_fit_for_use(session, instrument, picked.at, timezone=timezone)
    return picked
