"""Request and response models of the equipment register API; see :mod:`lims.web.api_models`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, PlainValidator, ValidationError, WithJsonSchema
from pydantic_core import PydanticCustomError

from lims.instruments.models import CalibrationFlag, EquipmentRole, InstrumentStatus
from lims.web.api_models import (
    DateText,
    PageQuery,
    Paging,
    RequestModel,
    ResponseModel,
    error_field,
    error_message,
    whole,
)


def _stop_bits(value: object) -> object:
    if isinstance(value, bool) or value not in (1, 1.5, 2):
        raise PydanticCustomError("stop_bits", "must be 1, 1.5 or 2")
    return whole(value)


def _baud_rate(value: object) -> object:
    value = whole(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PydanticCustomError("baud_rate", "must be a whole number, e.g. 9600")
    return value


# A baud rate comes as a number or, as the register form sends it, as text ("9600").
BaudRate = Annotated[int | str, PlainValidator(_baud_rate),
                     WithJsonSchema({"type": ["integer", "string"], "examples": [9600]})]


Setting = str | int | float | bool


class PortOptions(RequestModel):
    """Serial line settings; a baud rate may also come as the field ``baudrate``."""

    baudrate: BaudRate | None = None
    bytesize: Annotated[Literal[5, 6, 7, 8], BeforeValidator(whole)] | None = None
    parity: Literal["N", "E", "O", "M", "S"] | None = None
    stopbits: Annotated[float, PlainValidator(_stop_bits),
                        WithJsonSchema({"enum": [1, 1.5, 2]})] | None = None
    xonxoff: bool | None = None
    options: dict[str, Setting] | None = Field(
        default=None, description="the driver's own settings (`lims simulate --set KEY=VALUE`)")


def _port_settings(value: object) -> object:
    """Check the settings' shape. An unknown setting is left to the service, which refuses it
    naming ``port_settings`` as the register form has always been told."""
    try:
        checked = PortOptions.model_validate(value)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_context=True, include_input=False)[0]
        if first["type"] != "extra_forbidden":
            where = error_field(first["loc"][:2])
            raise PydanticCustomError("port_settings", "{where}{message}", {
                "where": f"{where} " if where else "",
                "message": error_message(first)}) from None
        return value
    return checked.model_dump(exclude_unset=True)


PortSettingsIn = Annotated[dict[str, object], PlainValidator(_port_settings),
                           WithJsonSchema(PortOptions.model_json_schema())]


class QuantityIn(RequestModel):
    quantity: str = Field(description="e.g. mass, DC voltage")
    unit: str
    range_min: str | None = Field(default=None, description="a number, as text, in unit")
    range_max: str | None = None
    resolution: str | None = None
    mpe: str | None = Field(default=None, description="maximum permissible error, ± in unit")


class _Editable(RequestModel):
    manufacturer: str | None = None
    model: str | None = None
    serial_number: str | None = None
    location: str | None = None
    accuracy_class: str | None = Field(default=None, description="e.g. OIML E2")
    port: str | None = Field(default=None, description="a serial device path, e.g. /dev/ttyUSB0")
    port_settings: PortSettingsIn | None = None
    baudrate: BaudRate | None = None
    quantities: list[QuantityIn] | None = None


class NewInstrument(_Editable):
    asset_number: str
    name: str
    role: str | None = Field(default=None, description=", ".join(r.value for r in EquipmentRole))
    driver: str | None = Field(default=None, description="a driver name, e.g. mt-sics")
    calibrated_on: DateText | None = None
    calibration_due_on: DateText | None = Field(
        default=None, description="with it, the calibration the equipment arrives with "
                                  "becomes its first calibration record")
    calibration_provider: str | None = None
    calibration_provider_kind: str | None = None
    calibration_certificate: str | None = None


class InstrumentEdit(_Editable):
    name: str | None = None
    reason: str = Field(description="why the register entry changes (audited)")
    version: int | None = Field(default=None, description="the version the edit was made from; "
                                "a stale one is refused with 409")


class InstrumentRetirement(RequestModel):
    reason: str = Field(description="why it is retired for good (audited), ≤ 500 characters")
    version: int | None = Field(default=None, description="the version seen; stale: 409")


class InstrumentStatusChange(RequestModel):
    in_service: bool
    reason: str


# --- responses --------------------------------------------------------------------------------


class Quantity(ResponseModel):
    quantity: str
    unit: str
    dimension: str
    range_min: str | None
    range_max: str | None
    resolution: str | None
    mpe: str | None


class PortSettings(ResponseModel):
    baudrate: int | None = None
    bytesize: int | None = None
    parity: str | None = None
    stopbits: int | float | None = None
    xonxoff: bool | None = None
    options: dict[str, str | int | float | bool] | None = None


class Instrument(ResponseModel):
    id: int
    asset_number: str
    name: str
    manufacturer: str
    model: str
    serial_number: str
    location: str
    role: EquipmentRole
    accuracy_class: str
    driver: str | None
    port: str | None
    port_settings: PortSettings
    status: InstrumentStatus
    status_reason: str
    quantities: list[Quantity]
    calibrated_on: dt.date | None
    calibration_due_on: dt.date | None
    calibration_certificate: str
    calibration_flag: CalibrationFlag
    version: int
    retired_at: dt.datetime | None


class InstrumentRegistered(Instrument):
    warnings: list[str] = Field(description="e.g. a serial number another instrument has")


class Instruments(Paging):
    instruments: list[Instrument]


class InstrumentsQuery(PageQuery):
    """Filters of the register; sort by asset, name, role, location, flag or status; ``q``
    searches asset number, name, serial number and model."""

    status: InstrumentStatus | None = None
    flag: CalibrationFlag | None = Field(default=None, description="calibration flag")
    role: EquipmentRole | None = None
    quantity: str | None = Field(default=None, max_length=100,
                                 description="a quantity it measures, e.g. mass")
