"""A Mettler Toledo MT-SICS balance as a state machine, with fault injection.

Its output format is written from the manual's example lines (protocols.md §1.2); the driver's
tests check the driver against those same manual lines, not against this simulator alone.
"""

from __future__ import annotations

import threading
from decimal import Decimal

CRLF = b"\r\n"


class MTSICSBalanceModel:
    """Weight on the pan, tare, stability, capacity, streaming (``SIR``) and faults.

    Faults (attributes a test or ``lims simulate --faults`` sets):

    - ``garbage``: bytes sent before the next reply (line noise);
    - ``drop``: number of next replies to swallow (the host times out);
    - ``error``: a general error (``ES``/``ET``/``EL``) sent instead of the next reply;
    - ``overload``/``underload``: the pan is over capacity or missing;
    - ``settle``: seconds the next placed load takes to become stable.
    """

    def __init__(self, *, serial_number: str = "B021002593", load: str = "100.00",
                 unit: str = "g", capacity: str = "220.00", stability_timeout: float = 5.0,
                 stream_interval: float = 0.1, decimals: int = 2) -> None:
        self.serial_number = serial_number
        self.gross = Decimal(load)
        self.tare_weight = Decimal(0)
        self.unit = unit
        self.capacity = Decimal(capacity)
        self.decimals = decimals
        self.stability_timeout = stability_timeout
        self.stream_interval = stream_interval
        self.stable_at = 0.0
        self.streaming = False
        self.next_stream = 0.0
        self.garbage = b""
        self.drop = 0
        self.error: str | None = None
        self.overload = False
        self.underload = False
        self.received: list[str] = []
        self._inbuf = bytearray()
        self._out: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()

    # -- test and CLI controls -------------------------------------------------------------
    def place(self, load: str, *, settle: float = 0.0, now: float) -> None:
        """Put a load on the pan; it reads dynamic until ``settle`` seconds have passed."""
        with self._lock:
            self.gross = Decimal(load)
            self.stable_at = now + settle

    def power_on(self, now: float) -> None:
        """Emit the power-on banner, as the balance does by itself."""
        with self._lock:
            self._out.append((now, self._i4()))

    # -- protocol ----------------------------------------------------------------------------
    def _fmt(self, ident: str, status: str, weight: Decimal) -> bytes:
        q = Decimal(1).scaleb(-self.decimals)
        return f"{ident} {status} {str(weight.quantize(q)):>10} {self.unit}".encode() + CRLF

    def _i4(self) -> bytes:
        return f'I4 A "{self.serial_number}"'.encode() + CRLF

    def _net(self) -> Decimal:
        return self.gross - self.tare_weight

    def _weight_reply(self, now: float, *, wait_stable: bool) -> tuple[float, bytes]:
        if self.overload or self.gross > self.capacity:
            return now, b"S +" + CRLF
        if self.underload:
            return now, b"S -" + CRLF
        stable = now >= self.stable_at
        if stable:
            return now, self._fmt("S", "S", self._net())
        if not wait_stable:
            jitter = Decimal(1).scaleb(-self.decimals) * 3
            return now, self._fmt("S", "D", self._net() + jitter)
        if self.stable_at - now <= self.stability_timeout:
            return self.stable_at, self._fmt("S", "S", self._net())
        return now + self.stability_timeout, b"S I" + CRLF

    def _handle(self, cmd: str, now: float) -> list[tuple[float, bytes]]:
        self.received.append(cmd)
        if cmd == "@":
            self.streaming = False
            return [(now, self._i4())]
        if cmd in ("S", "SI"):
            self.streaming = False
            return [self._weight_reply(now, wait_stable=cmd == "S")]
        if cmd == "SIR":
            self.streaming, self.next_stream = True, now
            return []
        if cmd == "I4":
            return [(now, self._i4())]
        if cmd == "Z":
            if self.overload or self.underload:
                return [(now, b"Z +" + CRLF if self.overload else b"Z -" + CRLF)]
            self.tare_weight = self.gross
            return [(max(now, self.stable_at), b"Z A" + CRLF)]
        if cmd == "T":
            self.tare_weight = self.gross
            return [(max(now, self.stable_at), self._fmt("T", "S", self.tare_weight))]
        return [(now, b"ES" + CRLF)]

    def feed(self, data: bytes, now: float) -> None:
        with self._lock:
            self._inbuf.extend(data)
            while (idx := self._inbuf.find(CRLF)) >= 0:
                line = bytes(self._inbuf[:idx]).decode("latin-1").strip()
                del self._inbuf[: idx + 2]
                if not line:
                    continue
                replies = self._handle(line, now)
                for due, reply in replies:
                    if self.drop:
                        self.drop -= 1
                        continue
                    if self.error:
                        reply, self.error = self.error.encode() + CRLF, None
                    if self.garbage:
                        reply, self.garbage = self.garbage + reply, b""
                    self._out.append((due, reply))

    def due(self, now: float) -> list[bytes]:
        with self._lock:
            if self.streaming and now >= self.next_stream:
                self._out.append((now, self._weight_reply(now, wait_stable=False)[1]))
                self.next_stream = now + self.stream_interval
            ready = [b for t, b in self._out if t <= now]
            self._out = [(t, b) for t, b in self._out if t > now]
            return ready
