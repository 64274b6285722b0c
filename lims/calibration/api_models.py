"""Request and response models of the calibration API: records, imports, intermediate checks,
traceability, impact analysis and nonconforming work; see :mod:`lims.web.api_models`."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from lims.calibration.models import (
    CaseStatus,
    Evaluation,
    PointState,
    ProviderKind,
    RecordStatus,
)
from lims.web.api_models import (
    DateText,
    NumberOrText,
    PageQuery,
    Paging,
    QueryModel,
    RequestModel,
    ResponseModel,
    Whole,
)

# --- the LIMS JSON certificate form (lims.calibration.certificates.parse_json) ----------------


class Provider(RequestModel):
    name: str
    kind: Literal["nmi", "accredited", "in-house", "other"]
    accreditation: str | None = Field(default=None,
                                      description="required when kind is accredited")
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2, e.g. CN")


class Item(RequestModel):
    name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    serial_number: str | None = None


class Condition(RequestModel):
    name: str = Field(description="e.g. Temperature")
    value: NumberOrText
    unit: str | None = Field(default=None, description="without a unit, value is free text")


class CertificateResult(RequestModel):
    quantity: str
    nominal: NumberOrText | None = None
    nominal_unit: str | None = Field(default=None, description="defaults to unit")
    value: NumberOrText
    unit: str
    expanded_uncertainty: NumberOrText | None = Field(default=None, description="in unit")
    k: NumberOrText | None = None
    coverage_probability: NumberOrText | None = Field(default=None,
                                                      description="a fraction, e.g. 0.95")
    standards_used: list[str] | None = Field(default=None, description="asset numbers")
    state: Literal["as found", "as left"] | None = None


class Certificate(RequestModel):
    """A calibration certificate typed in the LIMS JSON form. Numbers may be JSON numbers or
    text; text keeps its digits as written."""

    number: str
    provider: Provider
    instrument: str | None = Field(default=None, description="the asset number calibrated")
    item: Item | None = None
    calibrated_on: DateText
    valid_until: DateText | None = None
    standards_used: list[str] | None = Field(default=None, description="asset numbers")
    conditions: list[Condition] | None = None
    conformity: str | None = None
    results: list[CertificateResult]


class CertificateCorrection(Certificate):
    reason: str = Field(description="why the record is corrected (audited)")


class RecordStatusChange(RequestModel):
    status: Literal["revoked", "out of tolerance"]
    reason: str


class NewCheck(RequestModel):
    nominal: str = Field(description="the check standard's value, as text")
    unit: str
    readings: list[str] = Field(description="1 to 100 readings, as text")
    limit: str = Field(description="acceptance: |mean − nominal| ≤ limit")
    check_standard: str | None = Field(default=None, description="its asset number")
    checked_at: str | None = Field(default=None, description="ISO 8601; without a zone the "
                                                             "lab's local time; default now")
    notes: str | None = None


class CaptureCheck(RequestModel):
    nominal: str
    limit: str
    count: Whole = Field(default=3, ge=1, le=20, description="how many readings to take")
    unit: str | None = Field(default=None, description="default: the instrument's first "
                                                       "quantity's unit")
    check_standard: str | None = None
    checked_at: str | None = None
    notes: str | None = None


class ImportQuery(QueryModel):
    instrument: str | None = Field(default=None, description="the asset number the file is for")
    provider_kind: Literal["nmi", "accredited", "in-house", "other"] | None = Field(
        default=None, description="overrides the kind found in the file")
    valid_until: DateText | None = None


class ImpactQuery(QueryModel):
    from_: DateText = Field(alias="from", description="the first day (lab calendar)")
    to: DateText | None = Field(default=None, description="the last day; default today")


class NewCase(RequestModel):
    asset: str
    from_: DateText = Field(alias="from")
    to: DateText | None = None
    description: str


class CaseEvaluation(RequestModel):
    report: str = Field(description="an affected report's number")
    evaluation: Literal["no impact", "re-test", "recall"]
    reason: str


# --- responses --------------------------------------------------------------------------------


class Point(ResponseModel):
    seq: int
    state: PointState
    quantity: str
    nominal: str | None
    nominal_unit: str | None
    value: str
    unit: str
    expanded_uncertainty: str | None
    k: str | None
    coverage_probability: str | None


class StoredFile(ResponseModel):
    name: str | None
    type: str | None
    sha256: str


class CalibrationRecord(ResponseModel):
    id: int
    instrument_id: int
    certificate: str
    version: int
    is_current: bool
    replaces_id: int | None
    reason: str | None
    provider: str
    provider_kind: ProviderKind
    accreditation: str
    calibrated_on: dt.date | None
    valid_until: dt.date
    status: RecordStatus
    conditions: list[dict[str, str | None]]
    conformity: str
    source: str
    file: StoredFile | None
    points: list[Point]
    standards: list[int] = Field(description="ids of the instruments used as standards")


class CalibrationRecords(Paging):
    calibrations: list[CalibrationRecord]


class CalibrationRecordsQuery(PageQuery):
    """Newest first (sort ``-calibrated``, the default, or ``calibrated``), corrected versions
    included; ``q`` searches the certificate number."""


class ImportedCertificateHead(ResponseModel):
    number: str
    provider: str
    provider_kind: ProviderKind
    calibrated_on: dt.date | None
    valid_until: dt.date


class ImportedResult(ResponseModel):
    quantity: str
    nominal: str | None
    value: str
    unit: str
    expanded_uncertainty: str | None
    k: str | None
    coverage_probability: str | None


class ImportedCertificate(ResponseModel):
    """What ``lims calibration import --json`` prints."""

    certificate: ImportedCertificateHead
    instrument: str
    results: list[ImportedResult]


class Check(ResponseModel):
    id: int
    checked_at: dt.datetime
    nominal: str
    unit: str
    readings: list[str]
    mean: str
    deviation: str
    limit: str
    result: Literal["pass", "fail"]
    notes: str
    source: str


class Checks(Paging):
    checks: list[Check]


class ChecksQuery(PageQuery):
    """Oldest first (sort ``checked``, the default, or ``-checked``)."""


class Branch(ResponseModel):
    asset: str
    complete: bool
    reason: str | None
    root: str | None


class ChainNode(ResponseModel):
    asset: str
    role: str
    certificate: str | None
    provider: str | None
    provider_kind: str | None
    calibrated_on: dt.date | None
    valid_until: dt.date | None
    valid_at_use: bool
    quantity: str | None
    unit: str | None
    expanded_uncertainty: str | None
    k: str | None
    warnings: list[str]
    record_id: int | None
    status: str | None
    needed_on: dt.date
    other_standards: list[str]
    branches: list[Branch]


class TracedResult(ResponseModel):
    result_id: int
    characteristic: str
    value: str
    unit: str
    measured_at: dt.datetime
    instrument: str | None
    complete: bool
    reason: str | None
    chain: list[ChainNode] = Field(description="from the instrument up to the root")


class Trace(ResponseModel):
    report: str
    sample: str
    results: list[TracedResult]


class ImpactCalibration(ResponseModel):
    certificate: str
    instrument: str
    standard: str
    calibrated_on: dt.date
    valid_until: dt.date


class Impact(ResponseModel):
    asset: str
    from_: dt.date = Field(alias="from")
    to: dt.date
    calibrations: list[ImpactCalibration]
    instruments: list[str]
    results: int = Field(description="how many current results relied on it")
    reports: list[str]
    customers: list[str]


class AffectedReport(ResponseModel):
    report: str
    customer_id: int
    customer: str
    evaluation: Evaluation
    reason: str
    evaluated_by: str | None
    evaluated_at: dt.datetime | None


class CaseCustomer(ResponseModel):
    id: int
    name: str
    letter: str = Field(description="the path of the signed letter to this customer")


class Case(ResponseModel):
    number: str
    status: CaseStatus
    asset: str | None
    from_: dt.date = Field(alias="from")
    to: dt.date
    description: str
    opened_by: str | None
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    reports: list[AffectedReport]
    customers: list[CaseCustomer]


class Cases(Paging):
    cases: list[Case]


class CasesQuery(PageQuery):
    """Newest first (sort ``-id``, the default, or ``id``)."""
