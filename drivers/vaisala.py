"""Vaisala HMT330 humidity and temperature transmitters (protocols.md §4.1, §4.2).

In STOP mode with echo on, a command is echoed, answered and followed by a ``>`` prompt with
no line end; the driver reads lines and keeps only those that carry ``label= value unit``
pairs. Each quantity on a line is its own reading, in the order of the line; ``%RH`` is
relative humidity, never a pint parse of "%RH".

The label says what the number is, the unit text only how it is expressed. ``'C`` follows a
temperature (``T``, dewpoint ``Td``, dew/frost point ``Tdf``, wet bulb ``Tw``) and also ``dT``,
the difference of T and the dewpoint (the dewpoint depression; FORM quantity ``DT``,
protocols.md §4.1; the HMP240 manual M210300en calls it "dewpoint difference"). A ``dT`` reading
is therefore a ``temperature_difference`` in ``delta_degC`` (``delta_degF``), never ``degC``:
pint converts degC to K with the 273.15 K offset, which is wrong for a difference. The labels
are FORM text (``"Tfrost="`` is as valid as ``"Tdf="``, M210566EN FORM examples): a label that
is not a quantity abbreviation gets no quantity kind, and its ``'C`` stays ``degC``.
"""

from __future__ import annotations

import re
import time

from drivers.base import Driver, Option
from drivers.errors import DriverTimeout
from drivers.reading import ERROR, OK, TEMPERATURE, TEMPERATURE_DIFFERENCE, Reading

NAME = "vaisala-hmt330"
UNITS = {"%RH": "%RH", "'C": "degC", "'F": "degF", "g/m3": "g/m^3", "g/kg": "g/kg",
         "hPa": "hPa", "ppm": "ppm", "kJ/kg": "kJ/kg"}
# The unit of a temperature difference, for the unit texts a difference can carry.
DIFFERENCE_UNITS = {"'C": "delta_degC", "'F": "delta_degF"}
# FORM quantity abbreviations used as labels (protocols.md §4.1; TDA/TDFA, converted to
# atmospheric pressure, as in the DMT143 FORM table), upper-cased -> quantity kind.
QUANTITIES = {
    "RH": "relative_humidity", "T": TEMPERATURE, "TD": TEMPERATURE, "TDF": TEMPERATURE,
    "TDA": TEMPERATURE, "TDFA": TEMPERATURE, "TW": TEMPERATURE, "DT": TEMPERATURE_DIFFERENCE,
    "A": "absolute_humidity", "X": "mixing_ratio", "H": "enthalpy", "PW": "pressure",
    "PWS": "pressure", "H2O": "volume_fraction",
}
# The unit texts each kind is sent in; a label whose unit does not fit gets no kind.
_KIND_UNITS = {TEMPERATURE: ("'C", "'F"), TEMPERATURE_DIFFERENCE: ("'C", "'F"),
               "relative_humidity": ("%RH",), "absolute_humidity": ("g/m3",),
               "mixing_ratio": ("g/kg",), "enthalpy": ("kJ/kg",), "pressure": ("hPa",),
               "volume_fraction": ("ppm",)}
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
            quantity = QUANTITIES.get(m["q"].upper())
            if quantity is not None and m["u"] not in _KIND_UNITS[quantity]:
                if quantity == TEMPERATURE_DIFFERENCE:  # never let it pass as something else
                    readings.append(Reading(NAME, None, None, None, ERROR, frame, at,  # type: ignore[arg-type]
                                            f"{m['q']} in {m['u']!r} is not a temperature "
                                            "difference"))
                    continue
                quantity = None
            unit = (DIFFERENCE_UNITS if quantity == TEMPERATURE_DIFFERENCE else UNITS)[m["u"]]
            readings.append(Reading(NAME, m["v"], unit, None, OK, frame, at,  # type: ignore[arg-type]
                                    m["q"], quantity))
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
