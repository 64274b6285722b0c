"""A Modbus RTU slave (an XY-MD02 sensor by default) on a pseudo-terminal."""

from __future__ import annotations

import struct

from drivers.modbus import with_crc
from drivers.simulators.base import SimModel


def _float_cdab(value: float) -> tuple[int, int]:
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    return lo, hi


class ModbusSensorModel(SimModel):
    """Answers FC03/FC04 reads of its register map; a bad CRC or another address gets silence.

    ``profile`` is the register map served: ``xy-md02`` (int16 × 0.1, T at 1, RH at 2) or
    ``hmt330`` (float32, CDAB word order, RH at 0-1, T at 2-3; protocols.md §4.2).
    The ``error`` fault answers the next request with exception 04 (slave device failure).
    """

    def __init__(self, *, serial_number: str = "", address: int = 1, profile: str = "xy-md02",
                 temperature: float = 23.5, humidity: float = 45.6) -> None:
        super().__init__(serial_number=serial_number)
        if profile not in ("xy-md02", "hmt330"):
            raise ValueError("profile: xy-md02 or hmt330")
        self.address, self.profile = int(address), profile
        self.temperature, self.humidity = float(temperature), float(humidity)
        self.holding = {0x0101: self.address, 0x0102: 1}  # address, baud code (9600)

    def input_registers(self) -> dict[int, int]:
        if self.profile == "hmt330":
            return dict(enumerate((*_float_cdab(self.humidity), *_float_cdab(self.temperature))))
        return {1: round(self.temperature * 10) & 0xFFFF, 2: round(self.humidity * 10) & 0xFFFF}

    def split_commands(self) -> list[bytes]:
        out = []
        while len(self._inbuf) >= 8:
            frame = bytes(self._inbuf[:8])
            if with_crc(frame[:6]) == frame:
                out.append(frame)
                del self._inbuf[:8]
            else:
                del self._inbuf[:1]  # resynchronise on the next byte
        return out

    def handle(self, command: bytes, now: float) -> list[tuple[float, bytes]]:
        device, function, address, count = struct.unpack(">BBHH", command[:6])
        if device != self.address:
            return []
        if self.error:
            self.error = False
            return [(now, with_crc(bytes([device, function | 0x80, 0x04])))]
        if function not in (3, 4):
            return [(now, with_crc(bytes([device, function | 0x80, 0x01])))]
        table = self.input_registers() if function == 4 else self.holding
        try:
            values = [table[address + i] for i in range(count)]
        except KeyError:
            return [(now, with_crc(bytes([device, function | 0x80, 0x02])))]
        body = bytes([device, function, 2 * count]) + struct.pack(f">{count}H", *values)
        return [(now + 0.005, with_crc(body))]
