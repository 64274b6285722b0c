"""SCPI digital multimeters over RS-232: HP/Keysight 34401A and Keithley 2000 style (§3).

Readings carry no unit: it follows the configured function, so the driver configures the
function itself (``CONF:…``) and reads with ``READ?``. A command error gets no reply; after a
time-out the driver reads the error queue (``SYST:ERR?``) to say what went wrong.

Temperature is measured in the unit the meter is set to (``UNIT:TEMP {C|F|K}``; protocols.md
§3.2: "TEMP → °C/°F/K per UNIT:TEMP"), so the driver asks ``UNIT:TEMP?`` (answer ``C``, ``F`` or
``K``, 34465A/34470A Operating and Service Guide, UNIT:TEMPerature) when it configures TEMP. The
34401A has no temperature function (34401A User's Guide, front-panel functions: DC/AC volts and
current, 2- and 4-wire ohms, frequency, period, continuity, diode): TEMP on one is refused by
name before anything is sent; another model that refuses ``CONF:TEMP`` (-113, "Undefined
header") is refused by name too.
"""

from __future__ import annotations

import re
import time

from drivers.base import Driver, Option
from drivers.errors import DriverError, DriverTimeout, ProtocolError, Unsupported
from drivers.identity import Identity
from drivers.reading import ERROR, OK, OVERLOAD, TEMPERATURE, Reading

NAME = "scpi-dmm"
# Configured function -> (quantity kind, unit string the LIMS registry accepts). TEMP has no
# fixed unit: it is the meter's UNIT:TEMP setting, read with UNIT:TEMP? (TEMP_UNITS).
FUNCTIONS: dict[str, tuple[str, str | None]] = {
    "VOLT:DC": ("voltage", "V"), "VOLT:AC": ("voltage", "V"), "CURR:DC": ("current", "A"),
    "CURR:AC": ("current", "A"), "RES": ("resistance", "ohm"), "FRES": ("resistance", "ohm"),
    "FREQ": ("frequency", "Hz"), "PER": ("time", "s"), "TEMP": (TEMPERATURE, None)}
# UNIT:TEMP? answers -> units; K is an absolute temperature here (the quantity says so).
TEMP_UNITS = {"C": "degC", "F": "degF", "K": "K"}
# *IDN? model fields of meters with no temperature function.
NO_TEMPERATURE = frozenset({"34401A"})
OVERLOAD_LIMIT = 9.9e37  # +9.90000000E+37 is the HP/Keysight overload reading
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_ERROR = re.compile(r'^(?P<code>[+-]?\d+),"(?P<text>[^"]*)"$')


def parse_reading(frame: bytes, unit: str | None, *, quantity: str | None = None,
                  at: object = None) -> Reading:
    """Parse a numeric reply such as ``+1.00000000E+01``; overload and junk are not values."""
    at = at or Driver.now()
    text = frame.decode("latin-1").strip()
    if not _NUMBER.match(text):
        return Reading(NAME, None, None, None, ERROR, frame, at,  # type: ignore[arg-type]
                       f"unexpected reply {text!r}")
    if abs(float(text)) >= OVERLOAD_LIMIT:
        return Reading(NAME, None, None, None, OVERLOAD, frame, at, "overload")  # type: ignore[arg-type]
    return Reading(NAME, text, unit, None, OK, frame, at, quantity=quantity)  # type: ignore[arg-type]


def parse_temperature_unit(frame: bytes) -> str:
    """Parse a ``UNIT:TEMP?`` reply (``C``, ``F`` or ``K``) into a unit.

    :raises ProtocolError: any other reply.
    """
    text = frame.decode("latin-1").strip().upper()
    if text not in TEMP_UNITS:
        raise ProtocolError(f"unexpected UNIT:TEMP? reply {text!r} (C, F or K expected)")
    return TEMP_UNITS[text]


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
        self.unit: str | None = None
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
        """Flush, remote mode (34401A), clear status, drain the error queue, configure.

        :raises Unsupported: TEMP on a meter without a temperature function (named).
        :raises DriverError: the meter refused the configuration (its error named).
        """
        self.transport.flush_input()
        self._send("SYST:REM")
        self._send("*CLS")
        self.errors()
        function, rng = self.settings["function"], self.settings["range"]
        unit = FUNCTIONS[function][1]
        if function == "TEMP":
            seen = self.identity()
            if seen.model and seen.model.split()[-1] in NO_TEMPERATURE:
                raise Unsupported(f"the {seen.model} has no temperature function: "
                                  "--set function=TEMP needs a meter that measures temperature "
                                  "(a 34465A or 34470A, for one)")
        self._send(f"CONF:{function}" + ("" if rng == "AUTO" else f" {rng}"))
        problems = self.errors()
        if problems:
            code, text = problems[0]
            if function == "TEMP" and code == -113:
                raise Unsupported(f"the {self.model or 'meter'} has no temperature function: it "
                                  f"refused CONF:TEMP with {code},{text}")
            raise DriverError(f"the meter refused CONF:{function} {rng}: {code},{text}")
        self.unit = unit if unit is not None else self.temperature_unit()
        self.configured = True

    def temperature_unit(self) -> str:
        """Ask the meter which unit its temperature readings are in (``UNIT:TEMP?``)."""
        try:
            return parse_temperature_unit(self.query("UNIT:TEMP?"))
        except DriverTimeout:
            problems = self.errors()
            if not problems:
                raise
            code, text = problems[0]
            raise Unsupported(f"the {self.model or 'meter'} refused UNIT:TEMP?: "
                              f"{code},{text}") from None

    def read(self, *, timeout: float | None = None) -> list[Reading]:
        """Measure once with ``READ?`` in the configured function."""
        if not self.configured:
            self.resync()
        quantity = FUNCTIONS[self.settings["function"]][0]
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
        return [parse_reading(frame, self.unit, quantity=quantity)]

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
