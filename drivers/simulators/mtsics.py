"""A Mettler Toledo MT-SICS balance as a state machine, with fault injection.

Its output format is written from the manual's example lines (protocols.md §1.2); the driver's
tests check the driver against those same manual lines, not against this simulator alone.
"""

from __future__ import annotations

from decimal import Decimal

from drivers.simulators.base import SimModel

CRLF = b"\r\n"


class MTSICSBalanceModel(SimModel):
    """Weight on the pan, tare, stability, capacity, streaming (``SIR``), busy and faults.

    Besides the shared faults (``garbage``, ``drop``, ``error`` → ``ES``): ``overload`` /
    ``underload`` (the pan over capacity or missing), ``busy`` (``I`` replies), and a load
    placed with ``settle`` seconds of instability.
    """

    error_reply = b"ES" + CRLF

    def __init__(self, *, serial_number: str = "B021002593", load: str = "100.00",
                 unit: str = "g", capacity: str = "220.00", stability_timeout: float = 5.0,
                 stream_interval: float = 0.1, decimals: int = 2) -> None:
        super().__init__(serial_number=serial_number)
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
        self.overload = False
        self.underload = False
        self.busy = False

    def error_reply_for(self, error: object) -> bytes:
        """``error = "ET"`` (or ``"EL"``) picks the general error; ``True`` sends ``ES``."""
        return (error.encode() + CRLF) if isinstance(error, str) else self.error_reply

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
        if self.busy:
            return now, b"S I" + CRLF
        if self.overload or self.gross > self.capacity:
            return now, b"S +" + CRLF
        if self.underload:
            return now, b"S -" + CRLF
        if now >= self.stable_at:
            return now, self._fmt("S", "S", self._net())
        if not wait_stable:
            jitter = Decimal(1).scaleb(-self.decimals) * 3
            return now, self._fmt("S", "D", self._net() + jitter)
        if self.stable_at - now <= self.stability_timeout:
            return self.stable_at, self._fmt("S", "S", self._net())
        return now + self.stability_timeout, b"S I" + CRLF

    def handle(self, command: bytes, now: float) -> list[tuple[float, bytes]]:
        cmd = command.decode("latin-1").strip()
        if not cmd:
            return []
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
            if self.busy:
                return [(now, b"T I" + CRLF)]
            self.tare_weight = self.gross
            return [(max(now, self.stable_at), self._fmt("T", "S", self.tare_weight))]
        return [(now, b"ES" + CRLF)]

    def tick(self, now: float) -> list[bytes]:
        if self.streaming and now >= self.next_stream:
            self.next_stream = now + self.stream_interval
            return [self._weight_reply(now, wait_stable=False)[1]]
        return []
