"""Request and response models of the samples API (customers, methods, requests, samples,
results); see :mod:`lims.web.api_models` for what they check and what the services do."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from lims.samples.lifecycle import SampleStatus
from lims.web.api_models import Id, ListedId, RequestModel, ResponseModel

# --- requests ---------------------------------------------------------------------------------


class NewCustomer(RequestModel):
    name: str
    contact: str | None = None
    address: str | None = None


class NewCharacteristic(RequestModel):
    name: str
    unit: str = Field(description="the unit results must be given in (or one of its kind)")
    lower_limit: str | None = Field(default=None, description="a number, as text")
    upper_limit: str | None = Field(default=None, description="a number, as text")


class NewMethod(RequestModel):
    code: str = Field(description="e.g. GB/T 26497-2011")
    title: str
    field: str = Field(description="the field a signatory is authorised for, e.g. textiles")
    clause: str | None = None
    characteristics: list[NewCharacteristic]


class NewRequest(RequestModel):
    customer_id: Id
    description: str | None = None


class NewSample(RequestModel):
    request_id: Id
    description: str
    method_ids: list[ListedId]


class Receipt(RequestModel):
    condition: str = Field(description="the condition on receipt")


class NewResult(RequestModel):
    characteristic_id: Id
    value: str = Field(description="the number as recorded, e.g. \"100.00\"")
    unit: str = Field(description="as written, e.g. g, ℃, %RH")
    instrument_id: Id | None = None


class Capture(RequestModel):
    characteristic_id: Id
    instrument_id: Id


class ResultCorrection(RequestModel):
    value: str = Field(description="the number as recorded, e.g. \"100.00\"")
    unit: str
    reason: str
    instrument_id: Id | None = None


class Signature(RequestModel):
    """The signatory confirms an approval (or a report's issue) with their password."""

    password: str | None = Field(default=None, description="the signatory's password")


# --- responses --------------------------------------------------------------------------------


class Customer(ResponseModel):
    id: int
    name: str
    contact: str
    address: str


class Customers(ResponseModel):
    customers: list[Customer]


class Characteristic(ResponseModel):
    id: int
    name: str
    unit: str
    lower_limit: str | None
    upper_limit: str | None


class Method(ResponseModel):
    id: int
    code: str
    title: str
    clause: str
    field: str
    characteristics: list[Characteristic]


class Methods(ResponseModel):
    methods: list[Method]


class RequestCreated(ResponseModel):
    id: int
    number: str
    customer_id: int


class Result(ResponseModel):
    """One version of a result; a correction is a new version that ``replaces_id`` the old."""

    id: int
    characteristic_id: int
    version: int
    is_current: bool
    value: str = Field(description="the digits as recorded")
    unit: str = Field(description="the unit as recorded")
    unit_canonical: str
    conformity: str | None = Field(description="pass, fail, or null without limits")
    source: str = Field(description="manual or instrument")
    instrument_id: int | None
    instrument_due_on: dt.date | None
    calibration_record_id: int | None
    raw: str | None = Field(description="the bytes the instrument sent (latin-1)")
    measured_at: dt.datetime
    recorded_at: dt.datetime
    recorded_by_id: int
    replaces_id: int | None
    reason: str | None


class SampleSummary(ResponseModel):
    number: str
    request: str
    customer: Customer
    description: str
    status: SampleStatus
    registered_at: dt.datetime
    received_at: dt.datetime | None
    received_by_id: int | None
    condition_on_receipt: str | None
    reviewed_at: dt.datetime | None
    reviewed_by_id: int | None
    approved_at: dt.datetime | None
    approved_by_id: int | None


class SampleTest(ResponseModel):
    method: Method
    results: list[Result]


class Sample(SampleSummary):
    tests: list[SampleTest]


class Samples(ResponseModel):
    samples: list[SampleSummary]
