"""Mitutoyo Digimatic data lines from a serial interface box (protocols.md §6.1).

The line carries no unit: it comes from configuration (``--set unit=mm``, the default).
"""

from __future__ import annotations

import re
import time
from decimal import Decimal

from drivers.base import Driver, Option
from drivers.reading import ERROR, OK, Reading

NAME = "mitutoyo-digimatic"
UNITS = {"mm": "mm", "in": "in"}
_LINE = re.compile(r"^0(?P<ch>\d)A(?P<sign>[+-])(?P<data>[0-9.]{8})$")


def parse_line(frame: bytes, unit: str, *, at: object = None) -> Reading:
    """Parse ``01A+0000.123``; the value keeps every digit after the point as sent."""
    at = at or Driver.now()
    text = frame.decode("latin-1").strip()
    m = _LINE.match(text)
    if not m or m["data"].count(".") > 1:
        return Reading(NAME, None, None, None, ERROR, frame, at,  # type: ignore[arg-type]
                       f"unexpected line {text!r}")
    whole, _, frac = m["data"].partition(".")
    value = (whole.lstrip("0") or "0") + (f".{frac}" if frac else "")
    if m["sign"] == "-" and Decimal(value) != 0:
        value = "-" + value
    return Reading(NAME, value, UNITS[unit], None, OK, frame, at)  # type: ignore[arg-type]


class MitutoyoDigimatic(Driver):
    """A Digimatic gauge (caliper, micrometer, indicator) behind a serial interface box."""

    name = NAME
    terminator = b"\r"
    options = {"unit": Option("mm", "unit set on the gauge", tuple(UNITS)),
               "trigger": Option("1", "request sent for a reading (with CR); empty: wait for "
                                      "the gauge's DATA button")}

    def read(self, *, timeout: float | None = None) -> list[Reading]:
        trigger = self.settings["trigger"]
        if trigger:
            self.transport.write(trigger.encode("latin-1") + b"\r")
        deadline = time.monotonic() + (timeout if timeout is not None else 3.0)
        frame = self.transport.read_frame(self.terminator, deadline)
        return [parse_line(frame.lstrip(b"\n"), self.settings["unit"])]
