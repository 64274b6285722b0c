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


class ReportClaim(Model):
    """A report number taken and what the report says frozen, before the PDF is signed.

    Issuing runs in three steps so that no lock is held while rendering and signing: claim (the
    sample becomes reported, the number is taken, the content is frozen) in one short
    transaction, render and sign outside any transaction, store the report in a second one. A
    claim left unfinished by a crash is finished under the same number by the
    ``report-recovery`` job, so report numbers stay gapless and are never reused.
    """

    __tablename__ = "report_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"), index=True)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[dt.datetime]
    content: Mapped[str] = mapped_column(Text)
    # Set once, by the one step that stores the report (a conditional update: exactly one of a
    # worker and the recovery job wins).
    finished_at: Mapped[dt.datetime | None] = mapped_column(index=True)
