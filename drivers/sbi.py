"""Sartorius SBI balances: 16- and 22-character records (protocols.md §2).

SBI has no stability flag: the unit is left blank while the reading is unstable (some firmware
prefixes ``?``). Control commands get no acknowledgement; only data records come back.
"""

from __future__ import annotations

import re
import time

from drivers.base import Driver, Option
from drivers.errors import DriverTimeout
from drivers.reading import ERROR, OK, OVERLOAD, UNDERLOAD, Reading

NAME = "sartorius-sbi"
ESC = b"\x1b"
UNITS = {"g": "g", "mg": "mg", "kg": "kg", "ct": "ct", "lb": "lb", "oz": "oz", "ozt": "ozt",
         "pcs": "count", "%": "percent"}
# Counting gives pieces and percent weighing a ratio to a reference weight; the rest is mass.
QUANTITIES = {"count": "count", "percent": "mass_ratio"}
_WEIGHT = re.compile(r"^(?P<sign>[+-]?)\s*(?P<q>\?)?\s*(?P<val>\d+(?:\.\d*)?|\.\d+)"
                     r"(?:\s+(?P<unit>\S{1,3}))?$")
# Records that are states, not weights: 16-character forms and the 22-character "Stat" words.
SPECIAL = {
    "H": (OVERLOAD, "overload (H)"), "HH": (OVERLOAD, "overload (HH)"),
    "High": (OVERLOAD, "overload (High)"), "L": (UNDERLOAD, "underload (L)"),
    "LL": (UNDERLOAD, "underload (LL)"), "Low": (UNDERLOAD, "underload (Low)"),
    "C": (ERROR, "calibration/adjustment in progress (C)"), "--": (ERROR, "final readout (--)"),
}
_ERR = re.compile(r"^(?:Err|ERR)\s*(?P<code>\d{2,3})$")


def parse_record(frame: bytes, *, at: object = None) -> Reading:
    """Parse one SBI data record (without CR LF); anything else is an error reading."""
    at = at or Driver.now()
    text = frame.decode("latin-1")
    ident = ""
    if len(text) == 20 and text[:6].strip() and text[:6].strip()[0] not in "+-":
        ident, text = text[:6].strip(), text[6:]
    tokens = text.split()
    joined = " ".join(tokens)

    def state(status: str, message: str) -> Reading:
        return Reading(NAME, None, None, None, status, frame, at, message)  # type: ignore[arg-type]

    status_line = ident == "Stat" or joined.startswith("Stat ")
    if status_line:
        joined = joined.removeprefix("Stat").strip()
    if joined in SPECIAL:
        return state(*SPECIAL[joined])
    m = _ERR.match(joined)
    if m:
        return state(ERROR, f"balance error {int(m['code'])}")
    if status_line:
        return state(ERROR, f"balance status {joined!r}")
    m = _WEIGHT.match(joined.replace("+ ", "+").replace("- ", "-"))
    if not m:
        return state(ERROR, f"unexpected record {text!r}")
    value = ("-" if m["sign"] == "-" else "") + m["val"]
    if m["unit"] is None:
        # No unit: the reading is not stable yet; the unit of the last stable one is unknown.
        return Reading(NAME, value, None, False, OK, frame, at,  # type: ignore[arg-type]
                       "unstable (no unit in the record)")
    unit = UNITS.get(m["unit"])
    if unit is None:
        return state(ERROR, f"unknown weighing unit {m['unit']!r}")
    return Reading(NAME, value, unit, m["q"] is None, OK, frame, at,  # type: ignore[arg-type]
                   quantity=QUANTITIES.get(unit, "mass"))


def parse_serial_number(frame: bytes) -> str | None:
    tokens = frame.decode("latin-1").split()
    return tokens[-1] if tokens and tokens[0].lower().startswith("ser") else None


class SartoriusSBI(Driver):
    """A Sartorius balance speaking SBI (CP, BP, Combics, Entris …)."""

    name = NAME
    default_settings = {"baudrate": 1200, "bytesize": 7, "parity": "O", "stopbits": 1,
                        "xonxoff": False}
    options = {"mode": Option("request", "request: send ESC P for each reading; auto: read the "
                              "balance's auto-print stream", ("request", "auto"))}

    def read(self, *, timeout: float | None = None) -> list[Reading]:
        """Measure the weight: ``ESC P`` (or the next auto-printed record)."""
        if self.settings["mode"] == "request":
            self.transport.flush_input()  # stale auto-print records are not this reading
            self.transport.write(ESC + b"P\r\n")
        deadline = time.monotonic() + (timeout if timeout is not None else 3.0)
        frame = self.transport.read_frame(self.terminator, deadline)
        return [parse_record(frame)]

    def capture(self) -> list[Reading]:
        """A stable reading: ask again (up to 10 s) while the unit is blank."""
        end = time.monotonic() + 10
        while True:
            reading = self.read()[0]
            if reading.status != OK or reading.stable or time.monotonic() > end:
                return [reading]
            time.sleep(0.2)

    def identify(self) -> str | None:
        """Get the serial number (``ESC x2_``); older models do not answer it."""
        self.transport.flush_input()
        self.transport.write(ESC + b"x2_\r\n")
        try:
            frame = self.transport.read_frame(self.terminator, time.monotonic() + 1.0)
        except DriverTimeout:
            return None
        return parse_serial_number(frame)
