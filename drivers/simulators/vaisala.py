"""A Vaisala HMT330: STOP mode with echo and prompt, RUN mode streaming, INTV, ERRS."""

from __future__ import annotations

from drivers.simulators.base import SimModel

CRLF = b"\r\n"


class VaisalaHMT330Model(SimModel):
    command_terminators = (b"\r", b"\x1b")
    error_reply = b"RH= *** %RH T= 31.1 'C" + CRLF  # a failed humidity probe

    def __init__(self, *, serial_number: str = "G1234567", rh: str = "43.0", t: str = "21.0",
                 echo: bool = True, interval: float = 0.2) -> None:
        super().__init__(serial_number=serial_number)
        self.rh, self.t, self.echo, self.interval = rh, t, echo, interval
        self.running = False
        self.next_line = 0.0
        self.fault = False

    def line(self) -> bytes:
        return f"RH= {self.rh} %RH T= {self.t} 'C".encode() + CRLF

    def feed(self, data: bytes, now: float) -> None:
        if b"\x1b" in data:
            self.running = False
        super().feed(data, now)

    def handle(self, command: bytes, now: float) -> list[tuple[float, bytes]]:
        cmd = command.decode("latin-1").strip()
        if self.running:
            if cmd.upper() == "S":
                self.running = False
            return []  # RUN mode accepts only S and ESC, without echo
        echo = (command.strip() + CRLF) if self.echo and cmd else b""
        upper = cmd.upper()
        if not cmd:
            return [(now, CRLF + b">")]
        if upper == "SEND":
            return [(now, echo + self.line() + b">")]
        if upper == "R":
            self.running, self.next_line = True, now
            return [(now, echo)] if echo else []
        if upper == "S":
            return [(now, echo + b">")]
        if upper.startswith("INTV"):
            parts = cmd.split()
            if len(parts) >= 2 and parts[1].isdigit():
                self.interval = float(parts[1])
                return [(now, echo + f"Output intrv. : {parts[1]} s".encode() + CRLF + b">")]
        if upper == "ECHO OFF":
            self.echo = False
            return [(now, b">")]
        if upper == "ECHO ON":
            self.echo = True
            return [(now, echo + b">")]
        if upper == "?":
            return [(now, echo + b"HMT330 / 5.16" + CRLF
                     + f"Serial number  : {self.serial_number}".encode() + CRLF
                     + b"Batch number   : F1330017" + CRLF + b">")]
        if upper == "ERRS":
            errors = b"E40 f ( all ) out of range" + CRLF if self.fault else b""
            return [(now, echo + errors + b">")]
        return [(now, echo + b"Unknown command" + CRLF + b">")]

    def tick(self, now: float) -> list[bytes]:
        if self.running and now >= self.next_line:
            self.next_line = now + self.interval
            return [self.line()]
        return []
