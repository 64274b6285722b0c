"""The one reading shape every driver returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from itertools import repeat
from typing import Any, NamedTuple, Self, cast

OK, OVERLOAD, UNDERLOAD, ERROR = "ok", "overload", "underload", "error"

# Quantity kinds a reading may carry. The unit alone cannot tell a temperature from a
# temperature difference (pint gives degC and delta_degC, K and K, one dimension), so a
# reading says which it is: a Vaisala ``dT`` (dewpoint depression, HMT330 User's Guide
# quantity table) is a ``temperature_difference`` in ``delta_degC``; a ``T`` is a
# ``temperature`` in ``degC``.
TEMPERATURE, TEMPERATURE_DIFFERENCE = "temperature", "temperature_difference"
QUANTITIES = frozenset({
    "mass", "count", "mass_ratio", "length", "voltage", "current", "resistance", "frequency",
    "time", TEMPERATURE, TEMPERATURE_DIFFERENCE, "relative_humidity", "absolute_humidity",
    "mixing_ratio", "pressure", "enthalpy", "volume_fraction",
})


class _Fields(NamedTuple):
    driver: str
    value: str | None
    unit: str | None
    stable: bool | None
    status: str
    raw: bytes
    at: dt.datetime
    message: str | None = None
    quantity: str | None = None


class Reading(_Fields):
    """A reading as received: the digits as sent, the unit text, and the raw frame.

    ``value`` is None unless ``status`` is ``ok``; ``raw`` is the frame exactly as received
    (without the terminator), kept as the original observation (ISO/IEC 17025 7.5.1).
    ``quantity`` is the kind of quantity (one of :data:`QUANTITIES`), set on every ``ok``
    reading whose driver knows it; the unit says how it is expressed, the quantity what it is.

    Immutable. A tuple underneath: a streamed line is made into a reading 327,680 times a
    second at 512 ports (issue 14), and a tuple is built in C (:func:`readings`) where a frozen
    dataclass cost half a microsecond of Python per line.
    """

    __slots__ = ()

    def __new__(cls, driver: str, value: str | None, unit: str | None, stable: bool | None,
                status: str, raw: bytes, at: dt.datetime, message: str | None = None,
                quantity: str | None = None) -> Self:
        if quantity is not None and quantity not in QUANTITIES:
            raise ValueError(f"unknown quantity kind {quantity!r}")
        return tuple.__new__(cls, (driver, value, unit, stable, status, raw, at, message,
                                   quantity))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "driver": self.driver,
            "value": self.value,
            "unit": self.unit,
            "quantity": self.quantity,
            "stable": self.stable,
            "status": self.status,
            "raw": self.raw.decode("latin-1"),
            "at": self.at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        }
        if self.message:
            data["message"] = self.message
        return data


_new = tuple.__new__


def readings(driver: str, values: Iterable[str], units: Iterable[str],
             stable: Iterable[bool], raws: Iterable[bytes], at: dt.datetime,
             quantity: str) -> list[Reading]:
    """``ok`` readings of one driver and quantity, all received ``at``, from parallel columns.

    Built without a line of Python per reading (``map`` and ``zip`` run in C): a block of
    streamed lines costs a few hundred nanoseconds a line (issue 14).
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"unknown quantity kind {quantity!r}")
    rows = zip(repeat(driver), values, units, stable, repeat(OK), raws, repeat(at),
               repeat(None), repeat(quantity))
    return cast(list[Reading], list(map(_new, repeat(Reading), rows)))
