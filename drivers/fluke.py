"""Fluke/Hart 1521 and 1522 thermometer readouts (protocols.md §4.3)."""

from __future__ import annotations

import re
import time

from drivers.base import Driver, Option
from drivers.reading import ERROR, OK, TEMPERATURE, Reading

NAME = "fluke-152x"
# Unit letters of the readout -> LIMS units. "R" is left out on purpose: the manuals read here
# do not settle whether it means a resistance ratio or Rankine, so it is refused, not guessed.
UNITS = {"C": "degC", "F": "degF", "K": "K", "O": "ohm"}
# The readout measures temperature, or the probe's resistance in ohms ("O").
_READING = re.compile(r"^(?:(?P<label>[A-Za-z]+):)?\s*(?P<val>[-+]?(\d+(\.\d*)?|\.\d+))"
                      r"(?:\s+(?P<unit>[A-Za-z]))?$")
_TIMESTAMP = re.compile(r"^\d{2}-\d{2}-\d{4}\s+\d{2}:\d{2}:\d{2}$")


def parse_reading(frame: bytes, *, default_unit: str | None = None, at: object = None) -> Reading:
    """Parse ``t: 25.587 C`` (also ``min:``/``max:`` and the 1504's padded ``t:   25.587 C``)."""
    at = at or Driver.now()
    text = frame.decode("latin-1").strip()
    m = _READING.match(text)
    if not m:
        return Reading(NAME, None, None, None, ERROR, frame, at,  # type: ignore[arg-type]
                       f"unexpected reply {text!r}")
    letter = m["unit"]
    unit = UNITS.get(letter) if letter else default_unit
    if unit is None:
        return Reading(NAME, None, None, None, ERROR, frame, at,  # type: ignore[arg-type]
                       f"unknown unit letter {letter!r}" if letter else "the reply has no unit")
    return Reading(NAME, m["val"], unit, None, OK, frame, at,  # type: ignore[arg-type]
                   quantity="resistance" if unit == "ohm" else TEMPERATURE)


def is_timestamp(frame: bytes) -> bool:
    return bool(_TIMESTAMP.match(frame.decode("latin-1").strip()))


class Fluke152x(Driver):
    """A Fluke/Hart 1521 or 1522 thermometer readout."""

    name = NAME
    default_settings = {"baudrate": 2400, "bytesize": 8, "parity": "N", "stopbits": 1,
                        "xonxoff": False}
    options = {"command": Option("read?", "the query sent for a reading",
                                 ("read?", "fetch?", "meas?", "t")),
               "unit": Option("C", "unit of bare numbers (FETC? on a 1504)", tuple(UNITS))}

    def read(self, *, timeout: float | None = None) -> list[Reading]:
        """Measure the temperature (``read?``); a timestamp line after ``t`` is skipped."""
        self.transport.write(self.settings["command"].encode() + b"\r")
        deadline = time.monotonic() + (timeout if timeout is not None else 3.0)
        while True:
            frame = self.transport.read_frame(self.terminator, deadline)
            if is_timestamp(frame) or not frame.strip():
                self.skipped_frames += 1
                continue
            return [parse_reading(frame, default_unit=UNITS[self.settings["unit"]])]

    def identify(self) -> str:
        """Get the serial number from ``*IDN?`` (``HART,1522,A12345,1.10``)."""
        self.transport.flush_input()
        frame = self.exchange(b"*IDN?\r", lambda f: f.count(b",") >= 2, 2.0)
        return frame.decode("latin-1").split(",")[2].strip()
