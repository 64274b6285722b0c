"""Request and response models of the sampling, notice and objection API
(``/api/v1/supervision/…``); see :mod:`lims.web.api_models` for what they check."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lims.web.api_models import DateText, PageQuery, Paging, RequestModel, ResponseModel

# --- requests ---------------------------------------------------------------------------------


class NewSamplingRecord(RequestModel):
    site: str
    sampled_on: DateText
    product_name: str
    trademark: str | None = None
    model: str | None = Field(default=None, description="model / specification (规格型号)")
    batch: str | None = Field(default=None, description="batch or production date")
    manufacturer: str | None = Field(default=None, description="if not the enterprise sampled")
    base_quantity: str = Field(description="抽样基数, as written")
    sample_quantity: str = Field(description="抽样数量, as written")
    test_seal: str = Field(description="the test sample's seal number")
    backup_seal: str = Field(description="the backup sample's seal number (another one)")
    backup_location: str = Field(description="where the backup sample is kept")
    representative: str = Field(description="the enterprise's representative")
    representative_confirmed: bool = Field(default=False, description="signed the record")


class SealCheck(RequestModel):
    intact: bool
    note: str | None = Field(default=None, description="required when the seal is broken")


class Disposal(RequestModel):
    method: str = Field(description="how the backup sample was disposed of")
    reason: str | None = Field(default=None, description="required before its retention ends")


class Delivery(RequestModel):
    delivered_on: DateText


class NewObjection(RequestModel):
    received_on: DateText
    applicant: str
    grounds: str


class Decision(RequestModel):
    decision: Literal["accept", "reject", "withdraw"]
    reason: str | None = Field(default=None, description="required to reject or withdraw")


class Reinspection(RequestModel):
    backup_seal_intact: bool = Field(description="the backup sample's seal as found")


class CalendarDay(RequestModel):
    day: DateText
    working: bool | None = Field(description="true: a weekend day worked (调休); false: a "
                                 "holiday on a weekday; null: remove the exception")
    note: str | None = None


class CalendarChange(RequestModel):
    days: list[CalendarDay]


class CalendarQuery(PageQuery):
    """In date order (sort ``day``, the default, or ``-day``)."""

    year: int | None = Field(default=None, ge=1900, le=2200)


class NoticesQuery(PageQuery):
    """The ones awaiting delivery or within their deadline first (sort ``-deadline``, the
    default; also ``number``, ``issued``); ``q`` searches the number."""


class DueBackupsQuery(PageQuery):
    """The longest overdue first (sort ``retain_until``, the default, or ``-retain_until``);
    ``q`` searches the record and seal numbers."""


# --- responses --------------------------------------------------------------------------------


class Backup(ResponseModel):
    seal_number: str
    location: str
    retain_until: str
    disposed_at: str | None
    disposal_method: str | None
    used_for_sample: str | None = Field(description="the re-inspection sample made of it")


class Attachment(ResponseModel):
    id: int
    filename: str
    media_type: str
    sha256: str
    size: int


class Objection(ResponseModel):
    id: int
    notice: str
    received_on: str
    applicant: str
    grounds: str
    status: str = Field(description="received, accepted, rejected or withdrawn")
    decision_reason: str | None
    decided_at: str | None
    reinspection_sample: str | None


class Notice(ResponseModel):
    number: str
    sample: str
    report: str
    objection_rule: str = Field(description="product: 15 days; food: 7 working days")
    issued_at: str
    sha256: str
    size: int
    delivered_on: str | None
    objection_deadline: str | None
    pdf_url: str


class Notices(Paging):
    notices: list[Notice]


class SamplingRecord(ResponseModel):
    number: str
    task: str
    plan: str
    enterprise: str
    site: str
    sampled_on: str
    inspectors: list[str]
    product_name: str
    trademark: str
    model: str
    batch: str
    manufacturer: str
    base_quantity: str
    sample_quantity: str
    test_seal: str
    backup_seal: str
    representative: str
    representative_confirmed_at: str | None
    request: str | None
    sample: str | None
    seal_checked_at: str | None
    seal_intact: bool | None
    seal_note: str | None
    seal_broken: bool = Field(description="the test sample's seal was found broken on receipt")
    backup: Backup
    attachments: list[Attachment]
    notices: list[Notice]
    objections: list[Objection]
    reinspections: list[str] = Field(description="re-inspection samples of the test sample")


class SupervisionSample(ResponseModel):
    """A sample's place in the supervision: its sampling record, the seal flag, and the
    re-inspection links both ways."""

    sample: str
    record: str | None
    seal_broken: bool
    reinspection_of: str | None
    reinspections: list[str]
    notices: list[Notice]
    objections: list[Objection]


class DueBackup(ResponseModel):
    record: str
    seal_number: str
    location: str
    retain_until: str


class DueBackups(Paging):
    backups: list[DueBackup]


class CalendarOverride(ResponseModel):
    day: str
    working: bool
    note: str


class Calendar(ResponseModel):
    days: list[CalendarOverride]


class CalendarPage(Paging):
    days: list[CalendarOverride]
