"""The one reading shape every driver returns."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

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


@dataclasses.dataclass(frozen=True, init=False)
class Reading:
    """A reading as received: the digits as sent, the unit text, and the raw frame.

    ``value`` is None unless ``status`` is ``ok``; ``raw`` is the frame exactly as received
    (without the terminator), kept as the original observation (ISO/IEC 17025 7.5.1).
    ``quantity`` is the kind of quantity (one of :data:`QUANTITIES`), set on every ``ok``
    reading whose driver knows it; the unit says how it is expressed, the quantity what it is.
    """

    driver: str
    value: str | None
    unit: str | None
    stable: bool | None
    status: str
    raw: bytes
    at: dt.datetime
    message: str | None = None
    quantity: str | None = None

    def __init__(self, driver: str, value: str | None, unit: str | None, stable: bool | None,
                 status: str, raw: bytes, at: dt.datetime, message: str | None = None,
                 quantity: str | None = None) -> None:
        if quantity is not None and quantity not in QUANTITIES:
            raise ValueError(f"unknown quantity kind {quantity!r}")
        # One dict instead of the frozen dataclass's object.__setattr__ per field: a
        # third of the cost of a streamed line at 640 lines/s × 512 ports (issue 14).
        object.__setattr__(self, "__dict__", {
            "driver": driver, "value": value, "unit": unit, "stable": stable, "status": status,
            "raw": raw, "at": at, "message": message, "quantity": quantity})

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
