"""Streaming use of a driver that survives unplugging and replugging the cable.

When the port disappears (a USB-serial adapter pulled) the session closes it, waits with
exponential backoff, reopens the same configured path (a ``/dev/serial/by-id/…`` link),
resynchronises, and asks the instrument who it is: a different instrument on the same path is
refused (protocols.md §7.6 rules 2 and 4). One-shot callers use the driver directly and get the
"connection lost" error instead.

An instrument that reports no identifying serial number (a 34401A answers ``0``) is said so
once, in a warning: after a reconnect only its model can be compared, so another unit of the
same model on the same path cannot be told apart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

from drivers.base import Driver
from drivers.errors import DriverTimeout, IdentityMismatch, PortNotFound, TransportError
from drivers.identity import Identity
from drivers.reading import Reading

log = logging.getLogger(__name__)


class Session:
    def __init__(self, driver_cls: type[Driver], port: str, *,
                 options: Mapping[str, str] | None = None, line: Mapping[str, Any] | None = None,
                 backoff: float = 0.05, backoff_max: float = 2.0) -> None:
        self.driver_cls, self.port = driver_cls, port
        self.options, self.line = dict(options or {}), dict(line or {})
        self.backoff, self.backoff_max = backoff, backoff_max
        self.identity: str | None = None      # the serial number seen first, if it identifies
        self.seen: Identity | None = None     # everything the instrument said at first connect
        self.device: Driver | None = None
        self.reconnects = 0
        self.connected_once = False

    def _connect(self, deadline: float) -> Driver:
        delay = self.backoff
        while True:
            device = None
            try:
                device = self.driver_cls.open(self.port, options=self.options, **self.line)
                device.resync()
                seen = device.identity()
                if self.seen is None:
                    self.seen, self.identity = seen, seen.serial
                    if seen.serial is None:
                        log.warning("%s: %s; after a reconnect %s", self.port, seen.note,
                                    "only the model can be compared" if seen.model else
                                    "another instrument on this path cannot be told apart")
                elif not _same_instrument(self.seen, seen):
                    raise IdentityMismatch(
                        f"the instrument on {self.port} identifies as {_describe(seen)}, not "
                        f"{_describe(self.seen)} as before; its readings are refused")
                self.connected_once = True
                return device
            except IdentityMismatch:
                if device is not None:
                    device.close()
                raise
            except TransportError as exc:
                if device is not None:
                    device.close()
                # A path that never worked is a configuration error, not an unplugged cable.
                if not self.connected_once and isinstance(exc, PortNotFound):
                    raise
                if time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, self.backoff_max)

    def connect(self, *, timeout: float) -> Driver:
        """Return the connected driver, (re)connecting within ``timeout`` seconds if needed.

        :raises IdentityMismatch: a different instrument answered after a reconnect.
        :raises TransportError: the port did not come back in time.
        """
        if self.device is None:
            self.device = self._connect(time.monotonic() + timeout)
        return self.device

    def drop(self, reason: str) -> None:
        """The port was lost while someone else read it: close it; the next use reconnects."""
        log.warning("%s: %s; reconnecting", self.port, reason)
        if self.device is not None:
            self.device.close()
            self.device = None
        self.reconnects += 1

    def readings(self, *, count: int, timeout: float) -> Iterator[Reading]:
        """Yield up to ``count`` readings before ``timeout`` seconds, reconnecting as needed.

        :raises IdentityMismatch: a different instrument answered after a reconnect.
        :raises TransportError: the port never came back in time.
        """
        deadline = time.monotonic() + timeout
        got = 0
        while got < count:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self.device is None:
                self.device = self._connect(deadline)
            try:
                for reading in self.device.read(timeout=left):
                    yield reading
                    got += 1
            except DriverTimeout:
                return
            except TransportError as exc:
                log.warning("%s: %s; reconnecting", self.port, exc)
                self.device.close()
                self.device = None
                self.reconnects += 1

    def stream(self, *, frame_timeout: float = 1.0) -> Iterator[Reading]:
        """Yield what the instrument streams, reconnecting as needed, until the caller stops.

        A driver with a streaming mode (``stream``: MT-SICS ``SIR``) is put in it; any other
        is read back to back. Used by the capture agent's ``mode = "stream"``.

        :raises DriverTimeout: nothing came for ``frame_timeout`` seconds (still connected).
        :raises IdentityMismatch: a different instrument answered after a reconnect.
        :raises TransportError: the port did not come back within ``frame_timeout``.
        """
        while True:
            if self.device is None:
                self.device = self._connect(time.monotonic() + frame_timeout)
            device = self.device
            try:
                if hasattr(device, "stream"):
                    yield from device.stream(timeout=frame_timeout)
                while True:
                    yield from device.read(timeout=frame_timeout)
            except DriverTimeout:
                raise
            except TransportError as exc:
                log.warning("%s: %s; reconnecting", self.port, exc)
                device.close()
                self.device = None
                self.reconnects += 1

    def close(self) -> None:
        if self.device is not None:
            self.device.close()
            self.device = None


def _same_instrument(before: Identity, now: Identity) -> bool:
    if before.model and now.model and before.model != now.model:
        return False
    return before.serial == now.serial


def _describe(identity: Identity) -> str:
    parts = [p for p in (identity.model, repr(identity.serial) if identity.serial else None) if p]
    return " ".join(parts) or "no identity"
