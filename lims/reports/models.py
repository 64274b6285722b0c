"""Issued test reports: immutable signed PDFs with their SHA-256."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from lims.db import Model


class ReportStatus(enum.StrEnum):
    ISSUED = "issued"
    SUPERSEDED = "superseded"
    WITHDRAWN = "withdrawn"


class Report(Model):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    issued_at: Mapped[dt.datetime]
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    content: Mapped[str] = mapped_column(Text)  # JSON snapshot of what the report says
    # The signed file itself, kept in the database so web workers stay stateless.
    pdf: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
