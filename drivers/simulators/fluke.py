"""A Fluke/Hart 1521/1522 thermometer readout."""

from __future__ import annotations

from drivers.simulators.base import SimModel

CRLF = b"\r\n"


class Fluke152xModel(SimModel):
    command_terminators = (b"\r", b"\n")
    error_reply = b"Error: invalid command" + CRLF

    def __init__(self, *, serial_number: str = "A1B234", model: str = "1522",
                 temperature: str = "25.587", unit: str = "C") -> None:
        super().__init__(serial_number=serial_number)
        self.model, self.temperature, self.unit = model, temperature, unit

    def handle(self, command: bytes, now: float) -> list[tuple[float, bytes]]:
        cmd = command.decode("latin-1").strip().lower()
        if not cmd:
            return []
        if cmd == "*idn?":
            return [(now, f"HART,{self.model},{self.serial_number},1.10".encode() + CRLF)]
        if cmd in ("read?", "fetch?", "meas?"):
            return [(now + 0.02, f"t: {self.temperature} {self.unit}".encode() + CRLF)]
        if cmd == "t":
            return [(now, f"t: {self.temperature} {self.unit}".encode() + CRLF
                     + b"03-01-1999 15:49:15" + CRLF)]
        return [(now, b"Error: invalid command" + CRLF)]
