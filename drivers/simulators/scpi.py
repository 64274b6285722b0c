"""A 34401A-style SCPI multimeter: functions, ranges, remote mode and an error queue."""

from __future__ import annotations

from drivers.simulators.base import SimModel

CRLF = b"\r\n"
LONG = {"VOLTAGE": "VOLT", "CURRENT": "CURR", "FRESISTANCE": "FRES", "RESISTANCE": "RES",
        "FREQUENCY": "FREQ", "PERIOD": "PER", "CONFIGURE": "CONF", "MEASURE": "MEAS",
        "SYSTEM": "SYST", "ERROR": "ERR", "REMOTE": "REM", "LOCAL": "LOC", "FETCH": "FETC",
        "TRIGGER": "TRIG", "TEMPERATURE": "TEMP"}
MAX_RANGE = {"VOLT:DC": 1000, "VOLT:AC": 750, "CURR:DC": 3, "CURR:AC": 3, "RES": 100e6,
             "FRES": 100e6, "FREQ": 300e3, "PER": 1, "TEMP": 1000}


def _normal(header: str) -> str:
    header = header.upper().lstrip(":")
    for long, short in LONG.items():
        header = header.replace(long, short)
    if header in ("VOLT", "CURR"):
        header += ":DC"
    return header


class ScpiDmmModel(SimModel):
    command_terminators = (b"\n",)

    def __init__(self, *, serial_number: str = "MY45012345", idn: str = "HEWLETT-PACKARD,34401A",
                 values: dict[str, float] | None = None) -> None:
        super().__init__(serial_number=serial_number)
        self.idn = idn
        self.values = {"VOLT:DC": 10.0, "VOLT:AC": 0.2301, "CURR:DC": 0.012, "CURR:AC": 0.001,
                       "RES": 999.873, "FRES": 100.0021, "FREQ": 1000.012, "PER": 0.001,
                       "TEMP": 23.45, **(values or {})}
        self.function = "VOLT:DC"
        self.remote = False
        self.overload = False
        self.queue: list[str] = []

    def _push(self, code: int, text: str) -> None:
        if len(self.queue) >= 20:
            self.queue[-1] = '-350,"Queue overflow"'
        else:
            self.queue.append(f'{code:+d},"{text}"')

    def _value(self) -> bytes:
        if self.overload:
            return b"+9.90000000E+37" + CRLF
        return f"{self.values[self.function]:+.8E}".encode() + CRLF

    def handle(self, command: bytes, now: float) -> list[tuple[float, bytes]]:
        out: list[tuple[float, bytes]] = []
        for unit in command.decode("latin-1").strip().split(";"):
            unit = unit.strip()
            if not unit:
                continue
            header, _, arg = unit.partition(" ")
            h = _normal(header)
            if self.error:  # injected fault: an undefined header, no reply (as a real meter)
                self.error = False
                self._push(-113, "Undefined header")
                continue
            if h == "*IDN?":
                out.append((now, f"{self.idn},{self.serial_number},11-5-2".encode() + CRLF))
            elif h in ("*RST", "*CLS"):
                if h == "*CLS":
                    self.queue.clear()
                else:
                    self.function = "VOLT:DC"
            elif h == "SYST:REM":
                self.remote = True
            elif h == "SYST:LOC":
                self.remote = False
            elif h == "SYST:ERR?":
                out.append((now, (self.queue.pop(0) if self.queue else '+0,"No error"').encode()
                            + CRLF))
            elif h.startswith("CONF:") or (h.startswith("MEAS:") and h.endswith("?")):
                function = h.split(":", 1)[1].rstrip("?")
                function = _normal(function)
                if function not in MAX_RANGE:
                    self._push(-113, "Undefined header")
                    continue
                rng = arg.split(",")[0].strip().upper()
                if rng and rng not in ("AUTO", "DEF", "MIN", "MAX"):
                    try:
                        bad = float(rng) > MAX_RANGE[function] * 1.2
                    except ValueError:
                        bad = True
                    if bad:
                        self._push(-222, "Data out of range")
                        continue
                self.function = function
                if h.startswith("MEAS:"):
                    out.append((now + 0.01, self._value()))
            elif h in ("READ?", "FETC?"):
                if not self.remote:
                    self._push(550, "Command not allowed in local")
                    continue
                out.append((now + 0.01, self._value()))
            elif h == "CONF?":
                out.append((now, f'"{self.function}"'.encode() + CRLF))
            else:
                self._push(-113, "Undefined header")
        return out
