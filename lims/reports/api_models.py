"""Response models of the reports API (and the body of issuing a report); see
:mod:`lims.web.api_models`."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from lims.reports.models import ReportStatus
from lims.web.api_models import ResponseModel


class Report(ResponseModel):
    number: str
    sample: str | None
    status: ReportStatus
    issued_at: dt.datetime
    sha256: str = Field(description="of the signed PDF as issued")
    size: int
    verify_url: str = Field(description="the public verification page (the QR code's link)")


class Reports(ResponseModel):
    reports: list[Report]
