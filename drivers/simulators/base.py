"""The shared machinery of protocol models: command framing, timed replies and faults."""

from __future__ import annotations

import threading
from typing import ClassVar


class SimModel:
    """A protocol model fed with the bytes the host writes; ``due`` returns what to send now.

    Faults a test or ``lims simulate --faults`` sets:

    - ``garbage``: bytes sent before the next reply (line noise);
    - ``drop``: number of next replies to swallow (the host times out);
    - ``error``: a protocol error reply sent instead of the next reply
      (``error_reply`` gives each protocol's form);
    - ``identity``: the serial number the instrument reports.
    """

    command_terminators: ClassVar[tuple[bytes, ...]] = (b"\r\n",)
    error_reply: ClassVar[bytes] = b""

    def __init__(self, *, serial_number: str = "SIM0001") -> None:
        self.serial_number = serial_number
        self.garbage = b""
        self.drop = 0
        self.error = False
        self.received: list[str] = []
        self._inbuf = bytearray()
        self._out: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()

    def error_reply_for(self, error: object) -> bytes:
        return self.error_reply

    # -- to be provided ------------------------------------------------------------------------
    def handle(self, command: bytes, now: float) -> list[tuple[float, bytes]]:
        raise NotImplementedError

    def tick(self, now: float) -> list[bytes]:
        """Unsolicited output (streaming); called often."""
        return []

    def split_commands(self) -> list[bytes]:
        out: list[bytes] = []
        while True:
            positions = [(self._inbuf.find(t), t) for t in self.command_terminators]
            positions = [(i, t) for i, t in positions if i >= 0]
            if not positions:
                return out
            idx, term = min(positions)
            out.append(bytes(self._inbuf[:idx]))
            del self._inbuf[: idx + len(term)]

    # -- the harness side ------------------------------------------------------------------
    def feed(self, data: bytes, now: float) -> None:
        with self._lock:
            self._inbuf.extend(data)
            for command in self.split_commands():
                self.received.append(command.decode("latin-1").strip())
                for due, reply in self.handle(command, now):
                    self._emit(due, reply)

    def _emit(self, due: float, reply: bytes) -> None:
        if self.drop:
            self.drop -= 1
            return
        if self.error and self.error_reply:
            reply, self.error = self.error_reply_for(self.error), False
        if self.garbage:
            reply, self.garbage = self.garbage + reply, b""
        self._out.append((due, reply))

    def due(self, now: float) -> list[bytes]:
        with self._lock:
            for chunk in self.tick(now):
                self._out.append((now, chunk))
            ready = [b for t, b in self._out if t <= now]
            self._out = [(t, b) for t, b in self._out if t > now]
            return ready
