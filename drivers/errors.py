"""Errors raised by instrument drivers; independent of the LIMS.

::

    DriverError
    ├── TransportError          the port is missing, closed or was unplugged
    │   ├── PortNotFound        the configured path does not exist
    │   └── DriverTimeout       no complete reply before the command's deadline
    ├── ProtocolError           a reply that does not fit the protocol's grammar
    ├── DeviceError             the instrument reported an error state
    ├── Unsupported             the instrument cannot do what is configured (TEMP on a 34401A)
    └── IdentityMismatch        a different instrument answers on the configured path
"""

from __future__ import annotations


class DriverError(Exception):
    """Base of driver errors."""


class TransportError(DriverError):
    """The serial line failed: connection lost, port closed."""


class PortNotFound(TransportError):
    """The configured port path does not exist."""


class DriverTimeout(TransportError):
    """No complete frame arrived before the deadline; ``partial`` holds what did."""

    def __init__(self, message: str, partial: bytes = b"") -> None:
        super().__init__(message)
        self.partial = partial


class ProtocolError(DriverError):
    """A frame that does not fit the grammar."""


class DeviceError(DriverError):
    """The instrument answered with an error."""


class Unsupported(DriverError):
    """The instrument has no such function: the configuration cannot work on this model."""


class IdentityMismatch(DriverError):
    """A different instrument answers on the configured port."""
