"""What every driver shares: options, the request/reply exchange, identity and resync.

A driver is a small class per protocol family. It declares its line settings, its frame
terminator, the options a technician may set (``lims read … --set KEY=VALUE``), how to read
one measurement (one request, possibly several quantities), how to resynchronise after a
(re)connect and how to ask the instrument who it is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from drivers.errors import DriverError
from drivers.identity import Identity
from drivers.reading import Reading
from drivers.transport import SerialTransport


@dataclasses.dataclass(frozen=True)
class Option:
    """A driver setting a technician may change with ``--set KEY=VALUE``."""

    default: str
    help: str
    choices: tuple[str, ...] = ()

    def parse(self, key: str, value: str) -> str:
        if self.choices and value not in self.choices:
            raise DriverError(f"--set {key}={value}: choose one of {', '.join(self.choices)}")
        return value


class Driver:
    """Base of the request/reply drivers on a :class:`SerialTransport`."""

    name: ClassVar[str]
    default_settings: ClassVar[dict[str, Any]] = {"baudrate": 9600, "bytesize": 8, "parity": "N",
                                                  "stopbits": 1, "xonxoff": False}
    terminator: ClassVar[bytes] = b"\r\n"
    options: ClassVar[dict[str, Option]] = {}
    # Does the instrument stream on its own once told (start_stream)? Such a port can be read
    # by a drivers.stream.MultiPortReader with every other one, from one thread.
    passive_stream: ClassVar[bool] = False

    def __init__(self, transport: SerialTransport, **options: str) -> None:
        self.transport = transport
        self.skipped_frames = 0
        self.settings = self.check_options(options)

    @classmethod
    def check_options(cls, options: Mapping[str, str]) -> dict[str, str]:
        """Validate ``--set`` settings (before any port is opened) and fill the defaults."""
        unknown = set(options) - set(cls.options)
        if unknown:
            known = ", ".join(sorted(cls.options)) or "none"
            raise DriverError(f"{cls.name} has no setting {', '.join(sorted(unknown))} "
                              f"(settings: {known})")
        return {key: opt.parse(key, options.get(key, opt.default))
                for key, opt in cls.options.items()}

    @classmethod
    def open(cls, port: str, *, options: Mapping[str, str] | None = None,
             **line: Any) -> Driver:
        """Open ``port`` with the driver's line settings (overridden by ``line``)."""
        cls.check_options(options or {})
        transport = SerialTransport(port, **{**cls.default_settings, **line})
        transport.open()
        try:
            return cls(transport, **dict(options or {}))
        except BaseException:
            transport.close()
            raise

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what each protocol provides ---------------------------------------------------------
    def read(self, *, timeout: float | None = None) -> list[Reading]:
        """Measure once; one reading per quantity on the line, in the order of the line."""
        raise NotImplementedError

    def capture(self) -> list[Reading]:
        """Measure for a result: like :meth:`read`, but stable where the protocol can wait."""
        return self.read()

    def start_stream(self) -> None:
        """Put the instrument in its streaming mode (only where ``passive_stream``)."""
        raise NotImplementedError

    def parse_stream(self, frame: bytes) -> Reading | list[Reading] | None:
        """Parse one streamed frame; None for a frame that is not a reading (counted)."""
        raise NotImplementedError

    def parse_stream_block(self, block: bytes, at: dt.datetime) -> list[Reading] | None:
        """Parse a block of complete streamed frames (each with its terminator) at once, all
        received ``at``; None: parse it frame by frame with :meth:`parse_stream` instead."""
        return None

    def stop_stream(self) -> None:
        """Leave the streaming mode; the port may already be gone."""

    def identify(self) -> str | None:
        """Get the instrument's serial number as reported, or None when it cannot tell."""
        return None

    def identity(self) -> Identity:
        """Get what the instrument says about itself, for :func:`drivers.identity.check_identity`.

        A serial field that identifies no unit (empty, ``0``) is set aside with a note.
        """
        return Identity.from_serial(self.identify(), source=f"this {self.name} instrument")

    def resync(self) -> None:
        """Bring the line to a known state after (re)connecting: drop stale bytes."""
        self.transport.flush_input()

    # -- helpers -----------------------------------------------------------------------------
    def exchange(self, request: bytes, accept: Callable[[bytes], bool], timeout: float) -> bytes:
        """Send ``request`` and return the first frame ``accept`` takes; skip and count others."""
        if request:
            self.transport.write(request)
        deadline = time.monotonic() + timeout
        while True:
            frame = self.transport.read_frame(self.terminator, deadline)
            if accept(frame):
                return frame
            self.skipped_frames += 1

    @staticmethod
    def now() -> dt.datetime:
        return dt.datetime.now(dt.UTC)
