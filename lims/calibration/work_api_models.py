"""Request and response models of the calibration-work API: procedures, calibration jobs of
customers' instruments and their readings (see :mod:`lims.calibration.work`)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from lims.web.api_models import Id, PageQuery, Paging, RequestModel, ResponseModel

# --- requests ---------------------------------------------------------------------------------


class NewPoint(RequestModel):
    nominal: str = Field(description="the nominal value as written, e.g. \"100\"")
    unit: str | None = Field(default=None, description="default the procedure's unit")
    mpe: str | None = Field(default=None, description="± maximum permissible error, in the "
                            "procedure's unit (required for a verification)")


class NewProcedureStandard(RequestModel):
    asset_number: str = Field(description="a working or reference standard of the register")
    slot: str | None = Field(default=None, description="its name in the budget template "
                             "(default standard)")


class NewProcedure(RequestModel):
    code: str = Field(description="e.g. JJG 1036-2022")
    title: str
    clause: str | None = None
    kind: Literal["calibration", "verification"]
    field: str = Field(description="the signatory scope the work falls under")
    quantity: str = Field(description="e.g. 示值误差 Error of indication")
    quantity_kind: str | None = Field(default=None, description="a quantity kind; inferred "
                                      "from the unit when it names one")
    unit: str
    method_note: str | None = None
    verification_months: int | None = Field(default=None, description="检定周期 in months")
    constants: dict[str, str] | None = None
    points: list[NewPoint]
    standards: list[NewProcedureStandard]
    budget: dict[str, Any] = Field(description="the uncertainty budget template "
                                   "(lims.calibration.procedures)")


class NewItem(RequestModel):
    name: str
    manufacturer: str | None = None
    model: str | None = None
    serial_number: str | None = None
    accuracy_class: str | None = None


class NewCondition(RequestModel):
    name: str = Field(description="e.g. 温度 Temperature")
    value: str = Field(description="e.g. 20.3")
    unit: str | None = None


class NewJob(RequestModel):
    procedure_id: Id
    item: NewItem
    sample: str | None = Field(default=None, description="an existing registered or received "
                               "sample; otherwise a request and sample are created")
    customer_id: Id | None = None
    description: str | None = None
    decision_rule: Literal["simple", "guarded", "non-binary"] | None = None
    r: str | None = Field(default=None, description="guard band factor: w = r·U")
    condition: str | None = Field(default=None, description="condition on receipt (required "
                                  "when a sample is created)")
    conformity_requested: bool = False
    recalibration_interval: str | None = Field(default=None, description="only when the "
                                               "customer asked for one")
    place: str | None = None
    conditions: list[NewCondition] | None = None
    resolution: str | None = Field(default=None, description="the item's resolution")


class NewReadings(RequestModel):
    point_id: Id
    values: list[str] = Field(description="the item's indications as written")
    standard_values: list[str] | None = Field(default=None,
                                              description="the standard's indications")
    unit: str | None = Field(default=None, description="default the procedure's unit")
    state: Literal["as found", "as left"] = "as left"
    measured_at: str | None = Field(default=None, description="ISO 8601; default now")


class ReadingsCorrection(RequestModel):
    values: list[str]
    standard_values: list[str] | None = None
    unit: str | None = None
    reason: str
    measured_at: str | None = None


class CaptureReadings(RequestModel):
    point_id: Id
    instrument_id: Id
    target: Literal["item", "standard"] = "item"
    count: int = Field(default=3, ge=1, le=20)
    state: Literal["as found", "as left"] = "as left"
    typed: list[str] | None = Field(default=None, description="the other side's readings, "
                                    "as typed")


# --- responses --------------------------------------------------------------------------------


class PointOut(ResponseModel):
    id: int
    seq: int
    nominal: str
    unit: str
    mpe: str | None


class StandardOut(ResponseModel):
    asset_number: str
    slot: str


class ProcedureOut(ResponseModel):
    id: int
    code: str
    title: str
    clause: str
    kind: str
    field: str
    quantity: str
    quantity_kind: str
    unit: str
    method_note: str
    verification_months: int | None
    constants: dict[str, str]
    budget: dict[str, Any]
    points: list[PointOut]
    standards: list[StandardOut]


class Procedures(Paging):
    procedures: list[ProcedureOut]


class ProceduresQuery(PageQuery):
    """Sort by id (the default) or code; ``q`` searches the code and title."""


class ReadingsOut(ResponseModel):
    id: int
    point_id: int
    state: str
    version: int
    is_current: bool
    values: list[str]
    standard_values: list[str]
    unit: str
    source: str
    instrument_id: int | None
    raw: str | None
    standard_records: dict[str, int]
    measured_at: dt.datetime
    recorded_at: dt.datetime
    recorded_by_id: int
    replaces_id: int | None
    reason: str | None


class PointResultOut(ResponseModel):
    point_id: int
    seq: int
    state: str
    nominal: str
    unit: str
    mpe: str | None
    reading_id: int
    version: int
    readings: list[str]
    standard_readings: list[str]
    indicated: str | None
    reference: str | None
    error: str | None = Field(description="indicated − reference, to the decimal place of U")
    expanded_uncertainty: str | None
    k: str | None
    coverage_probability: str | None
    cmc_applied: bool
    conformity: str | None
    statement: str
    problem: str | None = Field(description="why the point could not be computed")


class JobProcedure(ResponseModel):
    id: int
    code: str
    title: str
    clause: str
    unit: str


class JobItem(ResponseModel):
    name: str
    manufacturer: str
    model: str
    serial_number: str
    accuracy_class: str


class JobRule(ResponseModel):
    rule: str
    r: str | None


class JobCondition(ResponseModel):
    name: str
    value: str
    unit: str | None


class Job(ResponseModel):
    sample: str
    request: str
    status: str
    customer: str
    decision_rule: JobRule
    kind: str
    procedure: JobProcedure
    item: JobItem
    resolution: str | None
    conformity_requested: bool
    recalibration_interval: str | None
    place: str
    conditions: list[JobCondition]
    calibrated_on: dt.date | None
    calibrated_by_id: int | None
    points: list[PointOut]
    results: list[PointResultOut]
    missing: list[str]
    conforms: bool | None = Field(description="every point conforms (null: no statement)")
    readings: list[ReadingsOut]
