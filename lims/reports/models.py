"""Issued test reports: immutable signed PDFs with their SHA-256."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from lims.db import Model


class ReportStatus(enum.StrEnum):
    """Issued → superseded (an amended report replaced it) or withdrawn (ISO/IEC 17025 7.8.8).
    Superseded and withdrawn are final."""

    ISSUED = "issued"
    SUPERSEDED = "superseded"
    WITHDRAWN = "withdrawn"


class WithdrawalCategory(enum.StrEnum):
    """Why a document was withdrawn, the closed set the public verification page shows (the
    free-text reason stays internal: it may name the customer or the fault).

    - ``recall``: a nonconforming-work case (ISO/IEC 17025 7.10) recalled it, e.g. an
      instrument or standard found out of tolerance over the period it was used;
    - ``error``: the lab found the document wrong and will not (or cannot) replace it;
    - ``customer request``: the customer asked for it to be withdrawn (e.g. the request was
      cancelled, or the wrong item was submitted);
    - ``other``: anything else, the reason says what.
    """

    RECALL = "recall"
    ERROR = "error"
    CUSTOMER_REQUEST = "customer request"
    OTHER = "other"


class Report(Model):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    issued_at: Mapped[dt.datetime] = mapped_column(index=True)  # the report list's date filter
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    content: Mapped[str] = mapped_column(Text)  # JSON snapshot of what the report says
    # The signed file itself, kept in the database so web workers stay stateless.
    pdf: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), index=True)
    # test_report, calibration_certificate, verification_certificate, verification_notice
    # (lims.reports.certificate_content.KINDS).
    kind: Mapped[str] = mapped_column(String(40), server_default=text("'test_report'"))
    # The PTB DCC XML of a calibration certificate (also embedded in the signed PDF).
    dcc: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    # On a report that replaces another: what changed and why (ISO/IEC 17025 7.8.8.2).
    amendment_reason: Mapped[str | None] = mapped_column(Text)
    # Withdrawal (7.8.8.1): when, by whom, the reason (internal) and its category (public).
    withdrawn_at: Mapped[dt.datetime | None]
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
    withdrawal_category: Mapped[str | None] = mapped_column(String(20))
    # A test report's overall conclusion as issued (lims.reports.conclusion outcomes:
    # "conforming", "nonconforming", … "data only"): what the pass-rate statistics count
    # (lims.supervision.statistics). None on certificates.
    outcome: Mapped[str | None] = mapped_column(String(30))


class ReportAmendment(Model):
    """An amendment of an issued report, from the request to the issue of its replacement.

    While ``finished_at`` is null the amendment is open: the sample is back in correction and
    the next report issued for it replaces ``report_id``. At most one open amendment per report
    (a partial unique index, so that exactly one of N concurrent requests can open it).
    """

    __tablename__ = "report_amendments"
    __table_args__ = (Index("uq_report_amendments_open", "report_id", unique=True,
                            sqlite_where=text("finished_at IS NULL"),
                            postgresql_where=text("finished_at IS NULL")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    new_report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), index=True)


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
