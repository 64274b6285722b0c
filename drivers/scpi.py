"""SCPI digital multimeters over RS-232: HP/Keysight 34401A and Keithley 2000 style (§3).

Readings carry no unit: it follows the configured function, so the driver configures the
function itself (``CONF:…``) and reads with ``READ?``. A command error gets no reply; after a
time-out the driver reads the error queue (``SYST:ERR?``) to say what went wrong.
"""

from __future__ import annotations

import re
import time

from drivers.base import Driver, Option
from drivers.errors import DriverError, DriverTimeout, ProtocolError
from drivers.identity import Identity
from drivers.reading import ERROR, OK, OVERLOAD, Reading

NAME = "scpi-dmm"
# Configured function -> a unit string the LIMS registry accepts.
FUNCTIONS = {"VOLT:DC": "V", "VOLT:AC": "V", "CURR:DC": "A", "CURR:AC": "A", "RES": "ohm",
             "FRES": "ohm", "FREQ": "Hz", "PER": "s", "TEMP": "degC"}
OVERLOAD_LIMIT = 9.9e37  # +9.90000000E+37 is the HP/Keysight overload reading
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_ERROR = re.compile(r'^(?P<code>[+-]?\d+),"(?P<text>[^"]*)"$')


def parse_reading(frame: bytes, unit: str | None, *, at: object = None) -> Reading:
    """Parse a numeric reply such as ``+1.00000000E+01``; overload and junk are not values."""
    at = at or Driver.now()
    text = frame.decode("latin-1").strip()
    if not _NUMBER.match(text):
        return Reading(NAME, None, None, None, ERROR, frame, at,  # type: ignore[arg-type]
                       f"unexpected reply {text!r}")
    if abs(float(text)) >= OVERLOAD_LIMIT:
        return Reading(NAME, None, None, None, OVERLOAD, frame, at, "overload")  # type: ignore[arg-type]
    return Reading(NAME, text, unit, None, OK, frame, at)  # type: ignore[arg-type]


def parse_idn(frame: bytes) -> tuple[str, str, str, str]:
    """Split an ``*IDN?`` reply into manufacturer, model, serial field and firmware.

    ``HEWLETT-PACKARD,34401A,0,11-5-2`` -> ("HEWLETT-PACKARD", "34401A", "0", "11-5-2").

    :raises ProtocolError: fewer than three fields.
    """
    fields = [f.strip() for f in frame.decode("latin-1").strip().split(",")]
    if len(fields) < 3:
        raise ProtocolError(f"unexpected *IDN? reply {','.join(fields)!r}")
    manufacturer, model, serial = fields[:3]
    return manufacturer, model, serial, ",".join(fields[3:])


def parse_error(frame: bytes) -> tuple[int, str]:
    """Parse a ``SYST:ERR?`` reply: ``-113,"Undefined header"`` -> (-113, "Undefined header")."""
    m = _ERROR.match(frame.decode("latin-1").strip())
    if not m:
        raise DriverError(f"unexpected error-queue reply {frame!r}")
    return int(m["code"]), m["text"]


class ScpiDmm(Driver):
    """A SCPI multimeter on RS-232."""

    name = NAME
    default_settings = {"baudrate": 9600, "bytesize": 8, "parity": "N", "stopbits": 2,
                        "xonxoff": False}
    terminator = b"\n"  # replies end in CR LF (34401A) or LF; the CR is stripped
    options = {
        "function": Option("VOLT:DC", "measurement function", tuple(FUNCTIONS)),
        "range": Option("AUTO", "range in the function's unit, or AUTO"),
        "timeout": Option("5", "seconds a READ? may take (integration time, autorange)"),
    }

    def __init__(self, transport: object, **options: str) -> None:
        super().__init__(transport, **options)  # type: ignore[arg-type]
        rng = self.settings["range"]
        if rng != "AUTO" and not _NUMBER.match(rng):
            raise DriverError(f"--set range={rng}: a number or AUTO")
        try:
            self.read_timeout = float(self.settings["timeout"])
        except ValueError:
            raise DriverError("--set timeout: seconds, e.g. 5") from None
        self.configured = False
        self.model: str | None = None   # "HEWLETT-PACKARD 34401A", once *IDN? was asked

    def _send(self, command: str) -> None:
        self.transport.write(command.encode("ascii") + b"\n")

    def query(self, command: str, timeout: float = 2.0) -> bytes:
        self._send(command)
        return self.transport.read_frame(self.terminator, time.monotonic() + timeout).rstrip(b"\r")

    def errors(self) -> list[tuple[int, str]]:
        """Drain the error queue (it holds at most a few dozen entries)."""
        found = []
        for _ in range(40):
            code, text = parse_error(self.query("SYST:ERR?"))
            if code == 0:
                break
            found.append((code, text))
        return found

    def resync(self) -> None:
        """Flush, remote mode (34401A), clear status, drain the error queue, configure."""
        self.transport.flush_input()
        self._send("SYST:REM")
        self._send("*CLS")
        self.errors()
        rng = self.settings["range"]
        self._send(f"CONF:{self.settings['function']}" + ("" if rng == "AUTO" else f" {rng}"))
        problems = self.errors()
        if problems:
            code, text = problems[0]
            raise DriverError(f"the meter refused CONF:{self.settings['function']} {rng}: "
                              f"{code},{text}")
        self.configured = True

    def read(self, *, timeout: float | None = None) -> list[Reading]:
        """Measure once with ``READ?`` in the configured function."""
        if not self.configured:
            self.resync()
        unit = FUNCTIONS[self.settings["function"]]
        try:
            frame = self.query("READ?", self.read_timeout if timeout is None
                               else min(timeout, self.read_timeout))
        except DriverTimeout:
            problems = self.errors()
            if not problems:
                raise
            code, text = problems[0]
            return [Reading(NAME, None, None, None, ERROR, b"", self.now(),
                            f"meter error {code},{text}")]
        return [parse_reading(frame, unit)]

    def identity(self) -> Identity:
        """Ask ``*IDN?``; its serial field identifies the unit unless it is ``0`` (a 34401A)."""
        manufacturer, model, serial, _firmware = parse_idn(self.query("*IDN?"))
        self.model = " ".join(p for p in (manufacturer, model) if p) or None
        return Identity.from_serial(serial, model=self.model,
                                    source=f"the {self.model or 'meter'} (*IDN? serial field)")

    def identify(self) -> str | None:
        """Get the serial number from ``*IDN?``; None where the model reports none (34401A)."""
        return self.identity().serial

    def close(self) -> None:
        try:
            self._send("SYST:LOC")
        except DriverError:
            pass
        super().close()
