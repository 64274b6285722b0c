"""Response models of the reports API and the bodies of issuing, amending and withdrawing a
report; see :mod:`lims.web.api_models`."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from lims.reports.models import ReportStatus
from lims.web.api_models import DateText, Id, PageQuery, Paging, RequestModel, ResponseModel

Kind = Literal["test_report", "calibration_certificate", "verification_certificate",
               "verification_notice"]
Category = Literal["recall", "error", "customer request", "other"]


class Report(ResponseModel):
    number: str
    sample: str | None
    kind: Kind = Field(description="the kind of document")
    status: ReportStatus = Field(description="issued; superseded by an amended report; or "
                                             "withdrawn (ISO/IEC 17025 7.8.8)")
    issued_at: dt.datetime
    sha256: str = Field(description="of the signed PDF as issued")
    size: int
    verify_url: str = Field(description="the public verification page (the QR code's link)")
    dcc_url: str | None = Field(description="a certificate's Digital Calibration Certificate "
                                            "(PTB DCC XML), embedded in its signed PDF")
    supersedes: str | None = Field(description="the number of the report this one replaces")
    amendment: str | None = Field(description="on a replacement: what changed and why")
    superseded_by: str | None = Field(description="the number of the report replacing this one")
    amending: bool = Field(description="an amendment of this report is in progress")
    withdrawn_at: dt.datetime | None
    withdrawal_reason: str | None
    withdrawal_category: Category | None


class Reports(Paging):
    reports: list[Report]


class ReportsQuery(PageQuery):
    """Filters of the report list; sort by number, kind, sample, customer, status or issued
    (default -issued); ``q`` searches report and sample numbers, customer name and initials."""

    status: ReportStatus | None = None
    kind: Kind | None = None
    from_: DateText | None = Field(default=None, alias="from",
                                   description="issued on or after (lab's zone)")
    to: DateText | None = Field(default=None, description="issued on or before")
    customer: Id | None = Field(default=None, description="a customer id")


class Amend(RequestModel):
    """Amend an issued report: its sample goes back to correction, review and approval, and
    the report issued next replaces it."""

    reason: str = Field(description="what is to change and why (printed on the replacement)")


class Withdraw(RequestModel):
    """Withdraw an issued report (it must no longer be relied upon)."""

    reason: str = Field(description="why (kept internal: the public page shows the category)")
    category: Category | None = Field(None, description="recall (nonconforming work), error, "
                                     "customer request or other; default: recall when a "
                                     "nonconforming-work case recalled the report, else other")
