"""Stand-alone instrument drivers and their simulators.

Imports nothing from the LIMS, Flask or SQLAlchemy, so it can be used from a notebook::

    from drivers import get_driver
    with get_driver("mt-sics").open("/dev/serial/by-id/usb-…") as balance:
        print(balance.read())
"""

from __future__ import annotations

from typing import Any

from drivers.base import Driver
from drivers.errors import DriverError
from drivers.fluke import Fluke152x
from drivers.mitutoyo import MitutoyoDigimatic
from drivers.modbus import ModbusRTUSensor
from drivers.mtsics import MTSICSBalance
from drivers.reading import Reading
from drivers.sbi import SartoriusSBI
from drivers.scpi import ScpiDmm
from drivers.simulators.fluke import Fluke152xModel
from drivers.simulators.mitutoyo import MitutoyoModel
from drivers.simulators.modbus import ModbusSensorModel
from drivers.simulators.mtsics import MTSICSBalanceModel
from drivers.simulators.sbi import SBIBalanceModel
from drivers.simulators.scpi import ScpiDmmModel
from drivers.simulators.vaisala import VaisalaHMT330Model
from drivers.vaisala import VaisalaHMT330

DRIVERS: dict[str, type[Driver]] = {
    "mt-sics": MTSICSBalance,
    "sartorius-sbi": SartoriusSBI,
    "scpi-dmm": ScpiDmm,
    "vaisala-hmt330": VaisalaHMT330,
    "fluke-152x": Fluke152x,
    "modbus-rtu": ModbusRTUSensor,
    "mitutoyo-digimatic": MitutoyoDigimatic,
}
SIMULATORS: dict[str, Any] = {
    "mt-sics": MTSICSBalanceModel,
    "sartorius-sbi": SBIBalanceModel,
    "scpi-dmm": ScpiDmmModel,
    "vaisala-hmt330": VaisalaHMT330Model,
    "fluke-152x": Fluke152xModel,
    "modbus-rtu": ModbusSensorModel,
    "mitutoyo-digimatic": MitutoyoModel,
}


def get_driver(name: str) -> type[Driver]:
    """Return the driver class registered under ``name``.

    :raises DriverError: no such driver.
    """
    try:
        return DRIVERS[name]
    except KeyError:
        raise DriverError(f"unknown driver {name!r}; known: {', '.join(sorted(DRIVERS))}") from None


__all__ = ["DRIVERS", "SIMULATORS", "Driver", "DriverError", "Reading", "get_driver"]
