"""A Sartorius SBI balance: ESC commands, 16/22-character records, auto-print."""

from __future__ import annotations

from decimal import Decimal

from drivers.simulators.base import SimModel

CRLF = b"\r\n"
FORMAT2 = b"xksf"  # ESC x1_ style commands are four bytes


class SBIBalanceModel(SimModel):
    error_reply = b"   Err  54    " + CRLF

    def __init__(self, *, serial_number: str = "0031801165", load: str = "1255.7",
                 unit: str = "g", decimals: int = 1, ident: bool = False,
                 auto_interval: float = 0.0) -> None:
        super().__init__(serial_number=serial_number)
        self.gross, self.tare_weight = Decimal(load), Decimal(0)
        self.unit, self.decimals, self.ident = unit, decimals, ident
        self.stable = True
        self.overload = self.underload = False
        self.auto_interval = auto_interval
        self.next_auto = 0.0

    def split_commands(self) -> list[bytes]:
        out: list[bytes] = []
        while True:
            idx = self._inbuf.find(b"\x1b")
            if idx < 0:
                self._inbuf.clear()
                return out
            del self._inbuf[:idx]
            if len(self._inbuf) < 2:
                return out
            size = 4 if self._inbuf[1] in FORMAT2 else 2
            if len(self._inbuf) < size:
                return out
            out.append(bytes(self._inbuf[1:size]))
            del self._inbuf[:size]

    def record(self) -> bytes:
        if self.overload:
            body = "      H       "
            status = "Stat     High       "
        elif self.underload:
            body = "      L       "
            status = "Stat     Low        "
        else:
            net = (self.gross - self.tare_weight).quantize(Decimal(1).scaleb(-self.decimals))
            sign = "-" if net < 0 else "+"
            unit = self.unit if self.stable else ""
            body = f"{sign} {str(abs(net)):>8} {unit:<3}"
            status = None
        if self.ident:
            return (status or "N     " + body).encode("latin-1") + CRLF
        return body.encode("latin-1") + CRLF

    def handle(self, command: bytes, now: float) -> list[tuple[float, bytes]]:
        if command == b"P":
            return [(now, self.record())]
        if command in (b"T", b"U"):
            self.tare_weight = self.gross
        elif command == b"V":
            self.tare_weight = self.gross
        elif command == b"x2_":
            return [(now, f"SerNo.    {self.serial_number}".encode() + CRLF)]
        elif command == b"x1_":
            return [(now, b"Model     CP224S" + CRLF)]
        return []  # control commands are not acknowledged; unknown ones are ignored

    def tick(self, now: float) -> list[bytes]:
        if self.auto_interval and now >= self.next_auto:
            self.next_auto = now + self.auto_interval
            return [self.record()]
        return []
