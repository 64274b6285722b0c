"""Stand-alone instrument drivers and their simulators.

Imports nothing from the LIMS, Flask or SQLAlchemy, so it can be used from a notebook::

    from drivers import get_driver
    with get_driver("mt-sics").open("/dev/serial/by-id/usb-…") as balance:
        print(balance.read(stable=True))
"""

from __future__ import annotations

from typing import Any

from drivers.errors import DriverError
from drivers.mtsics import MTSICSBalance
from drivers.reading import Reading
from drivers.simulators.mtsics import MTSICSBalanceModel

DRIVERS: dict[str, Any] = {"mt-sics": MTSICSBalance}
SIMULATORS: dict[str, Any] = {"mt-sics": MTSICSBalanceModel}


def get_driver(name: str) -> Any:
    """Return the driver class registered under ``name``.

    :raises DriverError: no such driver.
    """
    try:
        return DRIVERS[name]
    except KeyError:
        raise DriverError(f"unknown driver {name!r}; known: {', '.join(sorted(DRIVERS))}") from None


__all__ = ["DRIVERS", "SIMULATORS", "DriverError", "Reading", "get_driver"]
