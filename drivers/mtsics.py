"""Mettler Toledo MT-SICS balances (protocols.md §1).

The codec (:func:`parse_weight`, :func:`parse_serial_number`) is pure; :class:`MTSICSBalance`
adds the request/reply exchange over a :class:`~drivers.transport.SerialTransport`.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator

from drivers.base import Driver, Option
from drivers.errors import DeviceError, DriverError, ProtocolError
from drivers.reading import ERROR, OK, OVERLOAD, UNDERLOAD, Reading, readings

NAME = "mt-sics"
TERMINATOR = b"\r\n"

_WEIGHT = re.compile(r"^(?P<id>S|T)\s+(?P<st>[SDA])\s+(?P<val>-?\d+(?:\.\d*)?)\s+(?P<unit>\S{1,4})$")
_SERIAL = re.compile(r'^I4\s+A\s+"?(?P<sn>[^"]*)"?$')

# MT-SICS unit text -> a unit string the LIMS unit registry accepts.
UNITS = {"g": "g", "mg": "mg", "kg": "kg", "ct": "ct", "lb": "lb", "oz": "oz", "ozt": "ozt",
         "GN": "grain", "dwt": "dwt"}

# A block of streamed weight lines, each ending with CRLF, in one pass of the regex engine
# (issue 14): only the plainest form (``S``, spaces, a known unit), so that a line it takes
# gives exactly what parse_weight gives; anything else sends the block to parse_weight.
_STREAM_LINE = re.compile(rb"(?m)^(S +([SDA]) +(-?\d+(?:\.\d*)?) +(%s) *)\r\n" % b"|".join(
    re.escape(u.encode()) for u in sorted(UNITS, key=len, reverse=True)))
_UNITS_B = {text.encode(): unit for text, unit in UNITS.items()}
_NOT_DYNAMIC = b"D".__ne__

GENERAL_ERRORS = {
    "ES": "syntax error: command not recognised (ES)",
    "ET": "transmission error: parity error or interface break (ET)",
    "EL": "logical error: command cannot be executed (EL)",
}

# Per-command deadlines in seconds (protocols.md §7.6 rule 3). S, Z and T wait for stability,
# which takes seconds on a real balance; SI and I4 answer at once.
DEADLINES = {"S": 12.0, "SI": 2.0, "Z": 12.0, "T": 12.0, "I4": 2.0, "@": 3.0}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_CLEAN_START = frozenset(bytes([c]) for c in b"@ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def strip_noise(frame: bytes) -> tuple[bytes, int]:
    """Drop leading bytes that cannot start a reply (line noise, a power-on glitch)."""
    start = 0
    while start < len(frame) and not (0x41 <= frame[start] <= 0x5A or frame[start] == 0x40):
        start += 1
    return frame[start:], start


def parse_weight(frame: bytes, *, at: dt.datetime | None = None) -> Reading:
    """Parse a reply to ``S``, ``SI`` or ``SIR`` (also ``T`` replies) into a Reading.

    Anything that does not fit the grammar becomes an error reading, never a value.
    """
    at = at or _now()
    # The usual line starts clean (one comparison instead of strip_noise's loop): streamed
    # lines are parsed 327,680 times a second at 512 ports (issue 14).
    clean = frame if frame[:1] in _CLEAN_START else strip_noise(frame)[0]
    text = clean.decode("latin-1").strip()
    if text in GENERAL_ERRORS:
        return Reading(NAME, None, None, None, ERROR, frame, at, GENERAL_ERRORS[text])
    m = _WEIGHT.match(text)
    if m:
        _, stability, value, unit_text = m.groups()
        unit = UNITS.get(unit_text)
        if unit is None:
            return Reading(NAME, None, None, None, ERROR, frame, at,
                           f"unknown weighing unit {unit_text!r}")
        return Reading(NAME, value, unit, stability != "D", OK, frame, at, quantity="mass")
    parts = text.split()
    if len(parts) == 2 and parts[0] in ("S", "T"):
        status = parts[1]
        if status == "+":
            return Reading(NAME, None, None, None, OVERLOAD, frame, at, "overload")
        if status == "-":
            return Reading(NAME, None, None, None, UNDERLOAD, frame, at, "underload")
        if status == "I":
            return Reading(NAME, None, None, None, ERROR, frame, at,
                           "balance busy or not stable in time (I)")
        if status == "L":
            return Reading(NAME, None, None, None, ERROR, frame, at, "logical error (L)")
    return Reading(NAME, None, None, None, ERROR, frame, at, f"unexpected reply {text!r}")


def parse_stream_lines(block: bytes, at: dt.datetime) -> list[Reading] | None:
    """Parse a block of complete ``S`` weight lines (each with its CRLF), all received ``at``.

    Returns None unless every line is a plain weight line: then the caller parses the block
    line by line (:func:`parse_weight`), which also handles noise, errors and odd spacing.
    """
    rows = _STREAM_LINE.findall(block)
    # Every CRLF ends a match and there is no other LF: so no byte was skipped between
    # matches (a match starts only at the start of the block or after a LF).
    if not rows or len(rows) != block.count(b"\r\n") or len(rows) != block.count(b"\n"):
        return None
    raws, stability, values, units = zip(*rows, strict=True)
    return readings(NAME, map(bytes.decode, values), map(_UNITS_B.__getitem__, units),
                    map(_NOT_DYNAMIC, stability), raws, at, "mass")


def parse_serial_number(frame: bytes) -> str:
    """Parse ``I4 A "B021002593"`` (older firmware sends it unquoted)."""
    text = strip_noise(frame)[0].decode("latin-1").strip()
    m = _SERIAL.match(text)
    if not m or not m["sn"].strip():
        if text in GENERAL_ERRORS:
            raise DeviceError(GENERAL_ERRORS[text])
        raise ProtocolError(f"unexpected reply to I4: {text!r}")
    return m["sn"].strip()


class MTSICSBalance(Driver):
    """An MT-SICS balance on a serial port."""

    name = NAME
    terminator = TERMINATOR
    passive_stream = True
    options = {"command": Option("SI", "SI reads at once (stable or dynamic); S waits for a "
                                       "stable weight", ("SI", "S"))}

    def _exchange(self, command: str, reply_ids: tuple[str, ...],
                  timeout: float | None = None) -> bytes:
        """Send a command and return the first frame that answers it.

        Frames for other commands (a late reply, SIR output) are skipped and counted; general
        errors answer any command.
        """
        def accept(frame: bytes) -> bool:
            clean, noise = strip_noise(frame)
            self.transport.noise_bytes += noise
            text = clean.decode("latin-1").strip()
            return text.split(" ", 1)[0] in reply_ids or text in GENERAL_ERRORS

        return self.exchange(command.encode("ascii") + TERMINATOR, accept,
                             timeout if timeout is not None else DEADLINES.get(command, 3.0))

    def read(self, *, timeout: float | None = None) -> list[Reading]:
        """Measure the weight with the configured command (``SI`` by default)."""
        return [self.read_weight(stable=self.settings["command"] == "S", timeout=timeout)]

    def read_weight(self, *, stable: bool = False, timeout: float | None = None) -> Reading:
        """Measure the weight: ``SI`` (immediate, may be dynamic) or ``S`` (waits for stability).

        :raises DriverTimeout: no reply before the deadline.
        """
        return parse_weight(self._exchange("S" if stable else "SI", ("S",), timeout))

    def capture(self) -> list[Reading]:
        """A stable weight for a result (``S``)."""
        return [self.read_weight(stable=True)]

    def start_stream(self) -> None:
        """Send ``SIR``: the balance sends a weight with every display update."""
        self.transport.write(b"SIR" + TERMINATOR)

    def parse_stream(self, frame: bytes) -> Reading | None:
        """A weight line of the stream; anything else (a late reply) is skipped."""
        if frame[:1] != b"S" and not strip_noise(frame)[0].startswith(b"S"):
            self.skipped_frames += 1
            return None
        return parse_weight(frame)

    def parse_stream_block(self, block: bytes, at: dt.datetime) -> list[Reading] | None:
        """A block of plain weight lines at once (:func:`parse_stream_lines`)."""
        return parse_stream_lines(block, at)

    def stop_stream(self) -> None:
        """Send ``@`` (cancels streaming); a port already gone is no error here."""
        try:
            self.transport.write(b"@" + TERMINATOR)
        except DriverError:
            pass

    def stream(self, *, timeout: float) -> Iterator[Reading]:
        """Stream weights with ``SIR`` until the caller stops iterating; then send ``@``."""
        self.start_stream()
        try:
            while True:
                deadline = time.monotonic() + timeout
                reading = self.parse_stream(self.transport.read_frame(TERMINATOR, deadline))
                if reading is not None:
                    yield reading
        finally:
            self.stop_stream()

    def identify(self) -> str:
        return self.serial_number()

    def resync(self) -> None:
        """Flush, then ``@``: cancels pending commands and streaming (protocols.md §1.1)."""
        self.reset()

    def serial_number(self) -> str:
        """Get the balance's serial number (``I4``), used to check its identity."""
        return parse_serial_number(self._exchange("I4", ("I4",)))

    def zero(self) -> None:
        """Zero the balance (``Z``); waits for stability."""
        text = strip_noise(self._exchange("Z", ("Z",)))[0].decode("latin-1").strip()
        if text != "Z A":
            raise DeviceError(GENERAL_ERRORS.get(text, f"zero failed: {text!r}"))

    def tare(self) -> Reading:
        """Tare the balance (``T``); returns the taring weight (``T S`` or ``T A``)."""
        reading = parse_weight(self._exchange("T", ("T",)))
        if reading.status != OK:
            raise DeviceError(f"tare failed: {reading.message}")
        return reading

    def reset(self) -> str:
        """Cancel everything, stop streaming (``@``) and return the serial number."""
        self.transport.flush_input()
        return parse_serial_number(self._exchange("@", ("I4",)))
