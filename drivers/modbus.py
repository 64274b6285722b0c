"""Modbus RTU sensors through pymodbus, behind our own small transport (protocols.md §5).

pymodbus is not semver (3.10 renamed ``slave=`` to ``device_id=``), so it is pinned to a minor
range and touched only here. Registers are read by a declarative map per model (address,
function, type, scale, word order, unit, resolution); the XY-MD02 temperature/humidity sensor
ships as a profile. The codec functions (CRC, request and response frames) are ours and pure, so
the frames can be checked byte for byte against the specification's examples.

An integer register times its scale is exact (235 × 0.1 = 23.5). An IEEE-754 float32 is not:
43.2 arrives as 0x422CCCCD, which is 43.200000762939453125, and printing it gives
"43.20000076293945", digits the sensor never measured. A float register therefore needs the
profile's resolution, and its value is the received binary value rounded (half even, in
:class:`~decimal.Decimal`) to that resolution: "43.20" at 0.01.
"""

from __future__ import annotations

import dataclasses
import decimal
import math
import struct
import time
from decimal import Decimal
from typing import Any

from drivers.base import Driver, Option
from drivers.errors import (
    DeviceError,
    DriverError,
    DriverTimeout,
    PortNotFound,
    ProtocolError,
    TransportError,
)
from drivers.reading import ERROR, OK, TEMPERATURE, Reading

NAME = "modbus-rtu"
EXCEPTIONS = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
              4: "slave device failure", 5: "acknowledge", 6: "slave device busy",
              10: "gateway path unavailable", 11: "gateway target failed to respond"}


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS: init 0xFFFF, reflected polynomial 0xA001."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(body: bytes) -> bytes:
    return body + struct.pack("<H", crc16(body))


def read_request(device: int, function: int, address: int, count: int) -> bytes:
    """An FC03/FC04 request frame."""
    return with_crc(struct.pack(">BBHH", device, function, address, count))


def parse_response(frame: bytes, *, device: int, function: int) -> list[int]:
    """Check a read response's CRC, address and function and return its registers.

    :raises DeviceError: an exception response (its code named).
    :raises DriverError: a bad CRC, a reply from another device or function, a wrong length.
    """
    if len(frame) < 5 or crc16(frame[:-2]) != struct.unpack("<H", frame[-2:])[0]:
        raise DriverError(f"bad CRC or short frame {frame.hex(' ')}")
    if frame[0] != device:
        raise DriverError(f"reply from device {frame[0]}, not {device}")
    if frame[1] == function | 0x80:
        code = frame[2]
        raise DeviceError(f"Modbus exception {code:02X}: {EXCEPTIONS.get(code, 'unknown')}")
    if frame[1] != function or frame[2] != len(frame) - 5 or frame[2] % 2:
        raise DriverError(f"malformed response {frame.hex(' ')}")
    return list(struct.unpack(f">{frame[2] // 2}H", frame[3:-2]))


# Enough digits for any float32 (up to 3.4e38) at a fine resolution: quantize never overflows.
_EXACT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN)


@dataclasses.dataclass(frozen=True)
class Register:
    quantity: str          # the label, e.g. "T"
    function: int          # 3 holding, 4 input
    address: int
    type: str              # int16, uint16, float32
    scale: str             # the value is raw × scale; "1" for floats
    unit: str
    word_order: str = "ABCD"  # for 32-bit types: ABCD (big-endian words) or CDAB
    resolution: str | None = None  # a power of ten; required for float32
    kind: str | None = None        # the quantity kind of the readings (drivers.reading)

    def __post_init__(self) -> None:
        if self.type not in ("int16", "uint16", "float32"):
            raise ValueError(f"register {self.quantity}: unknown type {self.type!r}")
        if self.type == "float32" and self.resolution is None:
            raise ValueError(f"register {self.quantity}: a float32 register needs the "
                             "profile's resolution (e.g. \"0.01\")")
        if self.resolution is not None:
            step = Decimal(self.resolution)
            if step <= 0 or step.normalize().as_tuple().digits != (1,):
                raise ValueError(f"register {self.quantity}: resolution {self.resolution!r} "
                                 "is not a power of ten (1, 0.1, 0.01, …)")

    @property
    def words(self) -> int:
        return 2 if self.type == "float32" else 1

    def decode(self, regs: list[int]) -> str:
        """Decode the register words into the value as a decimal string at the resolution.

        :raises ProtocolError: a float that is not a number (NaN, infinity): no value.
        """
        if self.type == "uint16":
            raw = Decimal(regs[0])
        elif self.type == "int16":
            raw = Decimal(regs[0] - 0x10000 if regs[0] & 0x8000 else regs[0])
        else:
            hi, lo = (regs[0], regs[1]) if self.word_order == "ABCD" else (regs[1], regs[0])
            number = struct.unpack(">f", struct.pack(">HH", hi, lo))[0]
            if not math.isfinite(number):
                raise ProtocolError(f"{self.quantity}: the sensor sent {number} "
                                    f"({hi:04X} {lo:04X}), not a number")
            raw = Decimal(number)  # exact: every float is a finite binary fraction
        value = _EXACT.multiply(raw, Decimal(self.scale))
        if self.resolution is not None:
            value = value.quantize(Decimal(self.resolution), context=_EXACT)
        if value.is_zero():
            value = value.copy_abs()  # -0.0004 at 0.001 is "0.000", not "-0.000"
        return format(value, "f")


PROFILES: dict[str, tuple[Register, ...]] = {
    # XY-MD02 (SHT20) temperature and humidity sensor: input registers, int16 × 0.1, 9600 8N1.
    "xy-md02": (Register("T", 4, 1, "int16", "0.1", "degC", kind=TEMPERATURE),
                Register("RH", 4, 2, "int16", "0.1", "%RH", kind="relative_humidity")),
    # Vaisala HMT330 with the Modbus module: IEEE floats, RH then T (protocols.md §4.2). The
    # resolution is that of the same values' integer registers (RH 0257, T 0258, × 100): 0.01.
    "hmt330": (Register("RH", 4, 0, "float32", "1", "%RH", "CDAB", "0.01", "relative_humidity"),
               Register("T", 4, 2, "float32", "1", "degC", "CDAB", "0.01", TEMPERATURE)),
}


class ModbusTransport:
    """pymodbus's serial client, with its errors mapped to ours and raw frames recorded."""

    def __init__(self, port: str, *, baudrate: int = 9600, bytesize: int = 8, parity: str = "N",
                 stopbits: int = 1, timeout: float = 1.0, **_: Any) -> None:
        from pymodbus.client import ModbusSerialClient

        self.port = port
        self.last_rx = b""
        self.noise_bytes = 0
        self.client = ModbusSerialClient(port, baudrate=baudrate, bytesize=bytesize,
                                         parity=parity, stopbits=stopbits, timeout=timeout,
                                         retries=0, reconnect_delay=0,
                                         trace_packet=self._trace)

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            self.last_rx = bytes(data)
        return data

    def open(self) -> ModbusTransport:
        import os

        if not os.path.exists(self.port):
            raise PortNotFound(f"port {self.port} does not exist")
        if not self.client.connect():
            raise TransportError(f"cannot open {self.port}")
        return self

    def read(self, function: int, address: int, count: int, device: int) -> tuple[list[int], bytes]:
        from pymodbus.exceptions import ConnectionException, ModbusIOException

        call = (self.client.read_input_registers if function == 4
                else self.client.read_holding_registers)
        self.last_rx = b""
        try:
            response = call(address, count=count, device_id=device)
        except ConnectionException as exc:
            raise TransportError(f"connection lost on {self.port}: {exc}") from exc
        except ModbusIOException as exc:
            if not self.client.connected:
                raise TransportError(f"connection lost on {self.port}: {exc}") from exc
            raise DriverTimeout(f"no Modbus reply from device {device} on {self.port}") from exc
        except OSError as exc:
            raise TransportError(f"connection lost on {self.port}: {exc}") from exc
        if response.isError():
            code = getattr(response, "exception_code", 0)
            raise DeviceError(f"Modbus exception {code:02X}: {EXCEPTIONS.get(code, 'unknown')}")
        return list(response.registers), self.last_rx

    def flush_input(self) -> None:
        pass  # pymodbus discards stale bytes before each request

    def close(self) -> None:
        self.client.close()


class ModbusRTUSensor(Driver):
    """A Modbus RTU sensor read through a register-map profile."""

    name = NAME
    options = {"profile": Option("xy-md02", "register map", tuple(PROFILES)),
               "address": Option("1", "device address (1-247)")}

    def __init__(self, transport: Any, **options: str) -> None:
        super().__init__(transport, **options)
        # The base class types its transport for the request/reply drivers (a SerialTransport);
        # this one reads registers through pymodbus, so it keeps its own typed reference.
        self.modbus: ModbusTransport = transport
        try:
            self.device = int(self.settings["address"])
        except ValueError:
            raise DriverError("--set address: a number from 1 to 247") from None
        if not 1 <= self.device <= 247:
            raise DriverError("--set address: a number from 1 to 247")
        self.registers = PROFILES[self.settings["profile"]]

    @classmethod
    def open(cls, port: str, *, options: Any = None, **line: Any) -> ModbusRTUSensor:
        cls.check_options(options or {})
        transport = ModbusTransport(port, **{**cls.default_settings, **line}).open()
        try:
            return cls(transport, **dict(options or {}))
        except BaseException:
            transport.close()
            raise

    def read(self, *, timeout: float | None = None) -> list[Reading]:
        """Read every register of the profile; one reading per quantity, in map order.

        Registers with the same function and adjacent addresses are read in one request.
        """
        readings: list[Reading] = []
        groups: list[list[Register]] = []
        for reg in self.registers:
            last = groups[-1][-1] if groups else None
            if last and last.function == reg.function and \
                    last.address + last.words == reg.address:
                groups[-1].append(reg)
            else:
                groups.append([reg])
        for group in groups:
            count = sum(r.words for r in group)
            at = self.now()
            try:
                regs, raw = self.modbus.read(group[0].function, group[0].address, count,
                                                self.device)
            except DeviceError as exc:
                readings.extend(Reading(NAME, None, None, None, ERROR, b"", at, str(exc))
                                for _ in group)
                continue
            offset = 0
            for reg in group:
                words = regs[offset:offset + reg.words]
                offset += reg.words
                try:
                    value = reg.decode(words)
                except ProtocolError as exc:
                    readings.append(Reading(NAME, None, None, None, ERROR, raw, at, str(exc)))
                    continue
                readings.append(Reading(NAME, value, reg.unit, None, OK, raw, at, reg.quantity,
                                        reg.kind))
        return readings

    def resync(self) -> None:
        time.sleep(0.005)  # one frame gap of silence (t3.5) before the first request
