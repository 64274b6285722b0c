"""A Digimatic gauge behind a serial interface box: a line per request or DATA press."""

from __future__ import annotations

from decimal import Decimal

from drivers.simulators.base import SimModel


class MitutoyoModel(SimModel):
    command_terminators = (b"\r",)
    error_reply = b"01A+00?0.12\r"  # a garbled line from a loose connector

    def __init__(self, *, serial_number: str = "", value: str = "12.345", decimals: int = 3,
                 channel: int = 1) -> None:
        super().__init__(serial_number=serial_number)
        self.value, self.decimals = Decimal(value), int(decimals)
        self.channel = int(channel)
        if not 1 <= self.channel <= 9:
            raise ValueError("channel: 1 to 9")

    def line(self) -> bytes:
        v = self.value.quantize(Decimal(1).scaleb(-self.decimals))
        data = f"{abs(v):0{8}.{self.decimals}f}"
        return f"0{self.channel}A{'-' if v < 0 else '+'}{data}\r".encode()

    def press(self, now: float) -> None:
        """The DATA button: an unsolicited line."""
        with self._lock:
            self._out.append((now, self.line()))

    def handle(self, command: bytes, now: float) -> list[tuple[float, bytes]]:
        return [(now, self.line())]
