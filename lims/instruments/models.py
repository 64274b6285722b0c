"""The equipment register (ISO/IEC 17025 6.4.13): test equipment and measurement standards.

An instrument's calibration is not a column here: it is the history of calibration records in
:mod:`lims.calibration.models`, and :func:`lims.calibration.services.record_in_force` says which
one was valid at a given moment.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.db import Model, utcnow


class InstrumentStatus(enum.StrEnum):
    IN_SERVICE = "in service"
    OUT_OF_SERVICE = "out of service"


class EquipmentRole(enum.StrEnum):
    """What the equipment is for (ISO/IEC 17025 6.4.1; 计量标准器 for standards)."""

    TEST_EQUIPMENT = "test equipment"
    WORKING_STANDARD = "working standard"
    REFERENCE_STANDARD = "reference standard"


class CalibrationFlag(enum.StrEnum):
    OK = "ok"
    DUE_SOON = "due soon"
    OVERDUE = "overdue"
    CHECK_FAILED = "check failed"  # the last intermediate check failed (6.4.10)


class Instrument(Model):
    __tablename__ = "instruments"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_number: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    manufacturer: Mapped[str] = mapped_column(String(120), default="")
    model: Mapped[str] = mapped_column(String(120), default="")
    serial_number: Mapped[str] = mapped_column(String(80), default="", index=True)
    location: Mapped[str] = mapped_column(String(120), default="")
    role: Mapped[str] = mapped_column(String(20), default=EquipmentRole.TEST_EQUIPMENT)
    accuracy_class: Mapped[str] = mapped_column(String(40), default="")  # e.g. OIML E2, 0.02 级
    driver: Mapped[str | None] = mapped_column(String(40))
    port: Mapped[str | None] = mapped_column(String(255))
    port_settings: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=InstrumentStatus.IN_SERVICE)
    status_reason: Mapped[str] = mapped_column(String(500), default="")
    # Set by the scheduler's calibration-due job and by intermediate checks; the interlock
    # itself asks for the calibration record in force at the time of measurement.
    calibration_flag: Mapped[str] = mapped_column(String(20), default=CalibrationFlag.OK)
    flagged_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Optimistic check of register edits; retired: out of service for good (disposed of),
    # kept with its history, never offered for capture again (ISO/IEC 17025 6.4.13).
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    retired_at: Mapped[dt.datetime | None]
    retired_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    retired_reason: Mapped[str | None] = mapped_column(String(500))

    quantities: Mapped[list[InstrumentQuantity]] = relationship(
        back_populates="instrument", order_by="InstrumentQuantity.id", lazy="selectin",
        cascade="all, delete-orphan")


class InstrumentQuantity(Model):
    """A quantity the equipment measures or realises, with its range, resolution and MPE.

    ``unit`` is the lab's display unit as written (``g``, ``V``, ``℃``); ``dimension`` is pint's
    dimensionality of it, stored so that chains can be checked without parsing again.
    """

    __tablename__ = "instrument_quantities"

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"), index=True)
    quantity: Mapped[str] = mapped_column(String(60))       # e.g. "mass", "DC voltage"
    unit: Mapped[str] = mapped_column(String(40))           # as written
    dimension: Mapped[str] = mapped_column(String(120))     # e.g. "[mass]"
    range_min: Mapped[str | None] = mapped_column(String(40))  # digits as written, in ``unit``
    range_max: Mapped[str | None] = mapped_column(String(40))
    resolution: Mapped[str | None] = mapped_column(String(40))
    mpe: Mapped[str | None] = mapped_column(String(40))     # 最大允许误差, ± in ``unit``

    instrument: Mapped[Instrument] = relationship(back_populates="quantities")
