"""The instrument register (ISO/IEC 17025 6.4.13)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from lims.db import Model, utcnow


class InstrumentStatus(enum.StrEnum):
    IN_SERVICE = "in service"
    OUT_OF_SERVICE = "out of service"


class CalibrationFlag(enum.StrEnum):
    OK = "ok"
    DUE_SOON = "due soon"
    OVERDUE = "overdue"


class Instrument(Model):
    __tablename__ = "instruments"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_number: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    manufacturer: Mapped[str] = mapped_column(String(120), default="")
    model: Mapped[str] = mapped_column(String(120), default="")
    serial_number: Mapped[str] = mapped_column(String(80), default="")
    location: Mapped[str] = mapped_column(String(120), default="")
    driver: Mapped[str | None] = mapped_column(String(40))
    port: Mapped[str | None] = mapped_column(String(255))
    port_settings: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=InstrumentStatus.IN_SERVICE)
    calibrated_on: Mapped[dt.date | None]
    calibration_due_on: Mapped[dt.date]
    calibration_certificate: Mapped[str] = mapped_column(String(80), default="")
    # Set by the scheduler's calibration-due job; the interlock itself checks the due date.
    calibration_flag: Mapped[str] = mapped_column(String(20), default=CalibrationFlag.OK)
    flagged_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
