"""Vaisala HMT330 humidity and temperature transmitters (protocols.md §4.1, §4.2).

In STOP mode with echo on, a command is echoed, answered and followed by a ``>`` prompt with
no line end; the driver reads lines and keeps only those that carry ``label= value unit``
pairs. Each quantity on a line is its own reading, in the order of the line; ``%RH`` is
relative humidity, never a pint parse of "%RH".
"""

from __future__ import annotations

import re
import time

from drivers.base import Driver, Option
from drivers.errors import DriverTimeout
from drivers.reading import ERROR, OK, Reading

NAME = "vaisala-hmt330"
UNITS = {"%RH": "%RH", "'C": "degC", "'F": "degF", "g/m3": "g/m^3", "g/kg": "g/kg",
         "hPa": "hPa", "ppm": "ppm", "kJ/kg": "kJ/kg"}
_PAIR = re.compile(r"(?P<q>[A-Za-z][A-Za-z0-9]*)=\s*(?P<v>[-+]?\d+(?:\.\d+)?|\*+)\s*"
                   r"(?P<u>%RH|'C|'F|g/m3|g/kg|hPa|ppm|kJ/kg)")


def parse_line(frame: bytes, *, at: object = None) -> list[Reading]:
    """Parse a measurement line into one reading per quantity; ``***`` marks a failed one."""
    at = at or Driver.now()
    text = frame.decode("latin-1").lstrip(">").strip()
    pairs = list(_PAIR.finditer(text))
    if not pairs:
        return [Reading(NAME, None, None, None, ERROR, frame, at,  # type: ignore[arg-type]
                        f"unexpected line {text!r}")]
    readings = []
    for m in pairs:
        if m["v"].startswith("*"):
            readings.append(Reading(NAME, None, None, None, ERROR, frame, at,  # type: ignore[arg-type]
                                    f"{m['q']} unavailable (***)"))
        else:
            readings.append(Reading(NAME, m["v"], UNITS[m["u"]], None, OK, frame, at,  # type: ignore[arg-type]
                                    m["q"]))
    return readings


def is_measurement(frame: bytes) -> bool:
    return b"=" in frame and bool(_PAIR.search(frame.decode("latin-1")))


class VaisalaHMT330(Driver):
    """A Vaisala HMT330 on its user port."""

    name = NAME
    default_settings = {"baudrate": 4800, "bytesize": 7, "parity": "E", "stopbits": 1,
                        "xonxoff": False}
    options = {"mode": Option("send", "send: poll with SEND; run: read the R-mode stream",
                              ("send", "run"))}

    def read(self, *, timeout: float | None = None) -> list[Reading]:
        """Measure once: ``SEND`` in STOP mode (or the next line of the RUN-mode stream)."""
        if self.settings["mode"] == "send":
            self.transport.flush_input()  # a stale prompt or listing is not this reading
            self.transport.write(b"SEND\r")
        deadline = time.monotonic() + (timeout if timeout is not None else 3.0)
        while True:
            frame = self.transport.read_frame(self.terminator, deadline)
            if is_measurement(frame):
                return parse_line(frame)
            clean = frame.lstrip(b">").strip()
            if clean and clean.upper() not in (b"SEND", b"R") and self.settings["mode"] == "send":
                return parse_line(frame)  # an answer, but not a measurement: an error reading
            self.skipped_frames += 1

    def resync(self) -> None:
        """Stop RUN mode (``S``), clear the command buffer and wait for the ``>`` prompt."""
        self.transport.write(b"S\r")
        self.transport.write(b"\r")
        try:
            self.transport.read_frame(b">", time.monotonic() + 2.0)
        except DriverTimeout:
            pass  # echo off and no prompt: the line is clean anyway after the flush
        time.sleep(0.05)
        self.transport.flush_input()
        if self.settings["mode"] == "run":
            self.transport.write(b"R\r")

    def identify(self) -> str | None:
        """Get the serial number from the ``?`` information listing."""
        self.transport.flush_input()
        self.transport.write(b"?\r")
        try:  # the listing ends with the prompt
            listing = self.transport.read_frame(b">", time.monotonic() + 2.0).decode("latin-1")
        except DriverTimeout:
            return None
        for line in listing.splitlines():
            if "serial" in line.lower() and ":" in line:
                return line.split(":", 1)[1].strip()
        return None
