"""SCPI multimeters: functions, ranges, remote mode and an error queue.

Two kinds, as on the bench (``--set model=…``):

- ``34401A`` (the default): ``*IDN?`` answers ``HEWLETT-PACKARD,34401A,0,11-5-2`` with a serial
  field of ``0`` whatever the unit's serial number (protocols.md §3.2), and there is no
  temperature function: ``CONF:TEMP`` and ``UNIT:TEMP`` are undefined headers (-113).
- ``34465A`` / ``34470A``: ``*IDN?`` reports the serial number, and ``TEMP`` reads in the unit
  set with ``UNIT:TEMP {C|F|K}`` (``UNIT:TEMP?`` answers ``C``, ``F`` or ``K``).
"""

from __future__ import annotations

from drivers.simulators.base import SimModel

CRLF = b"\r\n"
LONG = {"VOLTAGE": "VOLT", "CURRENT": "CURR", "FRESISTANCE": "FRES", "RESISTANCE": "RES",
        "FREQUENCY": "FREQ", "PERIOD": "PER", "CONFIGURE": "CONF", "MEASURE": "MEAS",
        "SYSTEM": "SYST", "ERROR": "ERR", "REMOTE": "REM", "LOCAL": "LOC", "FETCH": "FETC",
        "TRIGGER": "TRIG", "TEMPERATURE": "TEMP"}
# model -> (*IDN? manufacturer, firmware, reports its serial number, has TEMP)
MODELS = {
    "34401A": ("HEWLETT-PACKARD", "11-5-2", False, False),
    "34465A": ("Keysight Technologies", "A.02.17-02.40-02.17-00.52-04-01", True, True),
    "34470A": ("Keysight Technologies", "A.02.17-02.40-02.17-00.52-04-01", True, True),
}
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

    def __init__(self, *, serial_number: str = "MY45012345", model: str = "34401A",
                 values: dict[str, float] | None = None, temperature_unit: str = "C") -> None:
        super().__init__(serial_number=serial_number)
        if model not in MODELS:
            raise ValueError(f"model {model!r}: one of {', '.join(MODELS)}")
        if temperature_unit not in ("C", "F", "K"):
            raise ValueError("temperature_unit: C, F or K")
        self.model = model
        self.manufacturer, self.firmware, self.reports_serial, self.has_temperature = MODELS[model]
        self.temperature_unit = temperature_unit
        self.values = {"VOLT:DC": 10.0, "VOLT:AC": 0.2301, "CURR:DC": 0.012, "CURR:AC": 0.001,
                       "RES": 999.873, "FRES": 100.0021, "FREQ": 1000.012, "PER": 0.001,
                       "TEMP": 23.45, **(values or {})}  # TEMP in degC, sent in UNIT:TEMP
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
        value = self.values[self.function]
        if self.function == "TEMP":
            value = {"C": value, "F": value * 9 / 5 + 32, "K": value + 273.15}[self.temperature_unit]
        return f"{value:+.8E}".encode() + CRLF

    @property
    def idn(self) -> str:
        serial = self.serial_number if self.reports_serial else "0"
        return f"{self.manufacturer},{self.model},{serial},{self.firmware}"

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
            if h.startswith("UNIT:TEMP") and not self.has_temperature:
                self._push(-113, "Undefined header")
            elif h == "*IDN?":
                out.append((now, self.idn.encode() + CRLF))
            elif h == "UNIT:TEMP?":
                out.append((now, self.temperature_unit.encode() + CRLF))
            elif h == "UNIT:TEMP":
                unit = arg.strip().upper()
                if unit in ("C", "F", "K"):
                    self.temperature_unit = unit
                else:
                    self._push(-224, "Illegal parameter value")
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
                if function not in MAX_RANGE or (function == "TEMP" and not self.has_temperature):
                    self._push(-113, "Undefined header")
                    continue
                rng = arg.split(",")[0].strip().upper()
                if function == "TEMP":  # the first argument is the probe type, not a range
                    if rng not in ("", "DEF", "RTD", "FRTD", "THER", "FTH", "TC"):
                        self._push(-224, "Illegal parameter value")
                        continue
                elif rng and rng not in ("AUTO", "DEF", "MIN", "MAX"):
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
