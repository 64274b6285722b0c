"""Mitutoyo Digimatic data lines from a serial interface box (protocols.md §6.1).

The line carries no unit: it comes from configuration (``--set unit=mm``, the default). It does
carry the channel: ``0 CH A SIGN DATA CR``, where ``CH`` is ``1`` for a single gauge and 1..n
on a multiplexer (§6.1 grammar; MIG-USB guide). A line from another channel than the configured
one is another gauge's measurement: it is refused as an error reading naming both channels,
never taken as this gauge's value.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal

from drivers.base import Driver, Option
from drivers.reading import ERROR, OK, Reading

NAME = "mitutoyo-digimatic"
UNITS = {"mm": "mm", "in": "in"}
CHANNELS = tuple("123456789")
_LINE = re.compile(r"^0(?P<ch>\d)A(?P<sign>[+-])(?P<data>[0-9.]{8})$")


def parse_line(frame: bytes, unit: str, *, channel: str | None = None,
               at: object = None) -> Reading:
    """Parse ``01A+0000.123``; the value keeps every digit after the point as sent.

    :param channel: the configured channel digit; a line from another channel is an error
        reading. None accepts any channel.
    """
    at = at or Driver.now()
    text = frame.decode("latin-1").strip()
    m = _LINE.match(text)
    if not m or m["data"].count(".") > 1:
        return Reading(NAME, None, None, None, ERROR, frame, at,  # type: ignore[arg-type]
                       f"unexpected line {text!r}")
    if channel is not None and m["ch"] != channel:
        return Reading(NAME, None, None, None, ERROR, frame, at,  # type: ignore[arg-type]
                       f"line {text!r} is from channel {m['ch']}, not the configured channel "
                       f"{channel}: refused")
    whole, _, frac = m["data"].partition(".")
    value = (whole.lstrip("0") or "0") + (f".{frac}" if frac else "")
    if m["sign"] == "-" and Decimal(value) != 0:
        value = "-" + value
    return Reading(NAME, value, UNITS[unit], None, OK, frame, at,  # type: ignore[arg-type]
                   quantity="length")


class MitutoyoDigimatic(Driver):
    """A Digimatic gauge (caliper, micrometer, indicator) behind a serial interface box."""

    name = NAME
    terminator = b"\r"
    options = {"unit": Option("mm", "unit set on the gauge", tuple(UNITS)),
               "channel": Option("1", "the gauge's channel digit in the line (1 for a single "
                                      "gauge; 1-9 on a multiplexer)", CHANNELS),
               "trigger": Option("1", "request sent for a reading (with CR); empty: wait for "
                                      "the gauge's DATA button")}

    def read(self, *, timeout: float | None = None) -> list[Reading]:
        trigger = self.settings["trigger"]
        if trigger:
            self.transport.write(trigger.encode("latin-1") + b"\r")
        deadline = time.monotonic() + (timeout if timeout is not None else 3.0)
        frame = self.transport.read_frame(self.terminator, deadline)
        return [parse_line(frame.lstrip(b"\n"), self.settings["unit"],
                           channel=self.settings["channel"])]
