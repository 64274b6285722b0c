"""A serial transport that frames from its own bounded buffer.

It reads with ``read(in_waiting or 1)`` rather than ``readline()`` (one syscall per byte, and
partial lines returned silently on timeout), opens the port once with a short fixed timeout
and implements per-command deadlines in its own loop, since changing ``Serial.timeout`` after
opening costs a tcsetattr and fails on ptys (protocols.md §8.2).
"""

from __future__ import annotations

import errno
import logging
import os
import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import serial

from drivers.errors import DriverTimeout, PortNotFound, TransportError

log = logging.getLogger(__name__)


@contextmanager
def map_serial_errors(port: str) -> Iterator[None]:
    """Translate pyserial, OS and termios errors into :class:`TransportError`."""
    try:
        yield
    except serial.SerialException as exc:
        if isinstance(exc.__context__, FileNotFoundError) or getattr(exc, "errno", None) == errno.ENOENT:
            raise PortNotFound(f"port {port} does not exist") from exc
        raise TransportError(f"connection lost on {port}: {exc}") from exc
    except (OSError, termios.error) as exc:
        raise TransportError(f"connection lost on {port}: {exc}") from exc


class SerialTransport:
    """One serial port with framing and deadlines."""

    def __init__(self, port: str, *, baudrate: int = 9600, bytesize: int = 8, parity: str = "N",
                 stopbits: float = 1, xonxoff: bool = False, poll: float = 0.05,
                 max_buffer: int = 8192) -> None:
        self.port = port
        self.settings: dict[str, Any] = dict(baudrate=baudrate, bytesize=bytesize,
                                             parity=parity, stopbits=stopbits, xonxoff=xonxoff)
        self.poll = poll
        self.max_buffer = max_buffer
        self.noise_bytes = 0       # bytes dropped as undecodable or overflow
        self.fell_back_to_8n1 = False
        self._buf = bytearray()
        self._serial: serial.Serial | None = None

    def open(self) -> SerialTransport:
        if "://" not in self.port and not os.path.exists(self.port):
            raise PortNotFound(f"port {self.port} does not exist")
        kwargs = dict(self.settings, timeout=self.poll, write_timeout=2)
        if "://" not in self.port:
            kwargs["exclusive"] = True  # one process per port: others would steal bytes
        try:
            self._serial = serial.serial_for_url(self.port, **kwargs)
        except (serial.SerialException, termios.error, OSError) as exc:
            einval = isinstance(exc, termios.error) or getattr(exc, "errno", None) == errno.EINVAL
            if not (einval and (kwargs["bytesize"] != 8 or kwargs["parity"] != "N")):
                with map_serial_errors(self.port):
                    raise
            # A pseudo-terminal (a simulator) refuses 7-bit and parity settings; the ASCII
            # payload is the same at 8N1, so fall back and say so (protocols.md §8.2).
            log.warning("%s refuses %s%s%s; opened 8N1", self.port, kwargs["bytesize"],
                        kwargs["parity"], kwargs["stopbits"])
            self.fell_back_to_8n1 = True
            with map_serial_errors(self.port):
                self._serial = serial.serial_for_url(
                    self.port, **{**kwargs, "bytesize": 8, "parity": "N"})
        self._buf.clear()
        return self

    @property
    def is_open(self) -> bool:
        return self._serial is not None and self._serial.is_open

    def close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except Exception:  # noqa: BLE001,S110 - closing a vanished port may fail; it is gone
                pass
            self._serial = None

    def __enter__(self) -> SerialTransport:
        return self if self.is_open else self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _port(self) -> serial.Serial:
        if self._serial is None:
            raise TransportError(f"port {self.port} is not open")
        return self._serial

    def write(self, data: bytes) -> None:
        with map_serial_errors(self.port):
            self._port().write(data)

    def flush_input(self) -> None:
        """Drop everything received so far (stale replies, power-on banners)."""
        with map_serial_errors(self.port):
            self._port().reset_input_buffer()
        self._buf.clear()

    def _drop_noise(self, frame: bytes) -> bytes:
        """Drop leading bytes no text protocol sends (line noise, a power-on glitch); count them.

        Only control and 8-bit bytes before the first printable character go: what follows is
        left for the protocol's grammar to accept or reject as an error reading.
        """
        start = 0
        while start < len(frame) and not 0x20 <= frame[start] <= 0x7E:
            start += 1
        self.noise_bytes += start
        return frame[start:]

    def fileno(self) -> int:
        return int(self._port().fileno())

    def read_available(self, terminator: bytes) -> list[bytes]:
        """Without blocking, take what the OS holds and return every complete frame in it."""
        port = self._port()
        with map_serial_errors(self.port):
            waiting = port.in_waiting
            chunk = port.read(waiting) if waiting else b""
            if not chunk:
                # Readable with nothing to read: the device is gone (pyserial's own test).
                raise serial.SerialException("device reports readiness to read but returned "
                                             "no data (device disconnected?)")
        self._buf.extend(chunk)
        frames = []
        while (frame := self._pop_frame(terminator)) is not None:
            frames.append(frame)
        return frames

    def _pop_frame(self, terminator: bytes) -> bytes | None:
        """Take one complete frame off the buffer; keep the buffer bounded."""
        idx = self._buf.find(terminator)
        if idx >= 0:
            frame = bytes(self._buf[:idx])
            del self._buf[: idx + len(terminator)]
            return self._drop_noise(frame)
        if len(self._buf) > self.max_buffer:
            # A frame longer than any protocol sends is noise.
            self.noise_bytes += len(self._buf)
            self._buf.clear()
        return None

    def read_frame(self, terminator: bytes, deadline: float) -> bytes:
        """Return the next frame (without its terminator) before ``deadline`` (monotonic).

        :raises DriverTimeout: no complete frame in time; ``partial`` holds any half frame.
        :raises TransportError: the port went away.
        """
        port = self._port()
        while True:
            frame = self._pop_frame(terminator)
            if frame is not None:
                return frame
            if time.monotonic() >= deadline:
                raise DriverTimeout(f"no reply on {self.port} before the deadline",
                                    partial=bytes(self._buf))
            with map_serial_errors(self.port):
                chunk = port.read(port.in_waiting or 1)
            if chunk:
                self._buf.extend(chunk)
