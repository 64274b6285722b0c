"""A serial transport that frames from its own bounded buffer.

pyserial opens and configures the port (line settings, exclusive lock); reading and writing a
local port then go straight to its file descriptor, which pyserial leaves non-blocking: one
``os.read`` takes everything the OS holds, and waits use ``poll()``. pyserial's own ``read`` and
``write`` wait in ``select()``, which refuses any descriptor numbered 1024 or more: with five
descriptors per port (the port and two pipe pairs) a process crashed at about 204 ports (issue
14). Per-command deadlines are implemented in our own loop, since changing ``Serial.timeout``
after opening costs a tcsetattr and fails on ptys (protocols.md §8.2). Network ports
(``socket://``, ``rfc2217://``) have no descriptor to poll and keep pyserial's calls.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import select
import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import serial

from drivers.errors import DriverTimeout, PortNotFound, TransportError

log = logging.getLogger(__name__)

READ_SIZE = 65536    # one os.read takes all a port holds (a tty buffers at most 64 KiB)
WRITE_TIMEOUT = 2.0  # seconds a write may wait for room before the port counts as gone


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
        self._fd: int | None = None          # the local port's descriptor (None: network)
        self._poller: select.poll | None = None

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
        if "://" not in self.port:
            self._fd = int(self._serial.fileno())
            os.set_blocking(self._fd, False)  # pyserial opens O_NONBLOCK; make sure of it
            self._poller = select.poll()
            self._poller.register(self._fd, select.POLLIN)
        return self

    @property
    def is_open(self) -> bool:
        return self._serial is not None and self._serial.is_open

    def close(self) -> None:
        self._fd, self._poller = None, None
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
        port = self._port()
        if self._fd is None:
            with map_serial_errors(self.port):
                port.write(data)
            return
        fd, view = self._fd, memoryview(data)
        deadline = time.monotonic() + WRITE_TIMEOUT
        waiter: select.poll | None = None
        with map_serial_errors(self.port):
            while view:
                try:
                    view = view[os.write(fd, view):]
                    continue
                except BlockingIOError:
                    pass
                if waiter is None:
                    waiter = select.poll()
                    waiter.register(fd, select.POLLOUT)
                left = deadline - time.monotonic()
                if left <= 0 or not waiter.poll(math.ceil(left * 1000)):
                    raise TransportError(f"connection lost on {self.port}: write timeout")

    def flush_input(self) -> None:
        """Drop everything received so far (stale replies, power-on banners)."""
        with map_serial_errors(self.port):
            self._port().reset_input_buffer()
        self._buf.clear()

    def drop_noise(self, frame: bytes) -> bytes:
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

    @property
    def selectable(self) -> bool:
        """Is this a local port whose descriptor a multi-port reader can wait on?"""
        return self._fd is not None

    def take_buffer(self) -> bytes:
        """Hand over the bytes received but not yet framed (to a multi-port reader)."""
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def _read_some(self, wait: float) -> bytes:
        """Wait up to ``wait`` seconds for input and take all of it (b"" if none came)."""
        port = self._port()
        with map_serial_errors(self.port):
            if self._fd is None or self._poller is None:
                return bytes(port.read(port.in_waiting or 1))
            if not self._poller.poll(math.ceil(max(wait, 0.0) * 1000)):
                return b""
            try:
                chunk = os.read(self._fd, READ_SIZE)
            except BlockingIOError:
                return b""
            if not chunk:
                # Readable with nothing to read: the device is gone (pyserial's own test).
                raise TransportError(f"connection lost on {self.port}: device reports readiness "
                                     "to read but returned no data (device disconnected?)")
            return chunk

    def read_available(self, terminator: bytes) -> list[bytes]:
        """Without blocking, take what the OS holds and return every complete frame in it.

        :raises TransportError: nothing to read on a port that said it was readable (gone).
        """
        chunk = self._read_some(0.0)
        if not chunk:
            raise TransportError(f"connection lost on {self.port}: device reports readiness "
                                 "to read but returned no data (device disconnected?)")
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
            return self.drop_noise(frame)
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
        while True:
            frame = self._pop_frame(terminator)
            if frame is not None:
                return frame
            left = deadline - time.monotonic()
            if left <= 0:
                raise DriverTimeout(f"no reply on {self.port} before the deadline",
                                    partial=bytes(self._buf))
            self._buf.extend(self._read_some(min(left, self.poll)))
