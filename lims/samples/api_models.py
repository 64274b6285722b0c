"""Request and response models of the samples API (customers, methods, requests, samples,
results); see :mod:`lims.web.api_models` for what they check and what the services do."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from lims.samples.lifecycle import SampleStatus
from lims.web.api_models import (
    DateText,
    Id,
    ListedId,
    PageQuery,
    Paging,
    RequestModel,
    ResponseModel,
)

# --- requests ---------------------------------------------------------------------------------


class NewCustomer(RequestModel):
    name: str
    contact: str | None = None
    address: str | None = None
    credit_code: str | None = Field(default=None, description="统一社会信用代码 (18 characters)")
    phone: str | None = None


class CustomerEdit(RequestModel):
    name: str | None = None
    contact: str | None = None
    address: str | None = None
    credit_code: str | None = None
    phone: str | None = None
    reason: str = Field(description="why the record changes (audited), at most 500 characters")
    version: int | None = Field(default=None, description="the version the edit was made from; "
                                "a stale one is refused with 409")


class Retirement(RequestModel):
    reason: str = Field(description="why it is retired (audited), at most 500 characters")
    version: int | None = Field(default=None, description="the version seen; stale: 409")


class UncertaintySource(RequestModel):
    """How a characteristic's uncertainty is obtained, from method validation (ISO/IEC 17025
    7.6): a fixed expanded uncertainty in its unit, or a relative one in %."""

    expanded: str | None = Field(default=None, description="U in the characteristic's unit")
    relative: str | None = Field(default=None, description="U in % of the value")
    k: str | None = Field(default=None, description="coverage factor (default 2)")


class NewCharacteristic(RequestModel):
    name: str
    unit: str | None = Field(default=None, description="the unit results must be given in (or "
                             "one of its kind); none for grades and qualitative kinds")
    kind: str | None = Field(default=None, description="the quantity kind (README: Quantity "
                             "kinds); inferred from the unit, required for a bare K or ℃")
    lower_limit: str | None = Field(default=None, description="a number, as text")
    upper_limit: str | None = Field(default=None, description="a number, as text")
    lod: str | None = Field(default=None, description="limit of detection, in the unit")
    loq: str | None = Field(default=None, description="limit of quantification, in the unit")
    expected: str | None = Field(default=None,
                                 description="the required value of a qualitative kind")
    uncertainty: UncertaintySource | None = None


class NewMethod(RequestModel):
    code: str = Field(description="e.g. GB/T 26497-2011")
    title: str
    field: str = Field(description="the field a signatory is authorised for, e.g. textiles")
    clause: str | None = None
    characteristics: list[NewCharacteristic]
    requires_conditions: bool = Field(default=False, description="each test by the method "
                                      "records its environmental conditions")


class CharacteristicEdit(RequestModel):
    id: Id | None = Field(default=None, description="the characteristic changed; none: a new "
                          "one. With results, its unit and kind cannot change")
    name: str | None = None
    unit: str | None = None
    kind: str | None = None
    lower_limit: str | None = None
    upper_limit: str | None = None
    lod: str | None = None
    loq: str | None = None
    expected: str | None = None
    uncertainty: UncertaintySource | None = None


class MethodEdit(RequestModel):
    title: str | None = None
    clause: str | None = None
    field: str | None = None
    requires_conditions: bool | None = None
    characteristics: list[CharacteristicEdit] | None = None
    reason: str = Field(description="why the method changes (audited), at most 500 characters")
    version: int | None = Field(default=None, description="the version the edit was made from; "
                                "a stale one is refused with 409")
class SamplePlan(RequestModel):
    """How a sample came, when it is due, how urgent, and who does it (issue 11 §2)."""

    acquisition: Literal["delivered", "sampled"] | None = Field(
        default=None, description="送样 delivered by the customer (default) or 抽样 sampled")
    due_date: DateText | None = Field(
        default=None, description="promised date, in the lab's zone; not before today")
    priority: Literal["normal", "urgent"] | None = Field(default=None,
                                                         description="default normal")
    assignee_id: Id | None = Field(default=None,
                                   description="the technician responsible (an active one)")
    assignee: str | None = Field(default=None,
                                 description="the same by username, instead of assignee_id")
    category: str | None = Field(
        default=None, description="the product category's code (GET /api/v1/product-categories),"
                                  " e.g. IND-CHILD-CLOTHING; optional")


class RequestSample(SamplePlan):
    """One sample of a new request: what POST /api/v1/samples takes, without request_id."""

    description: str
    method_ids: list[ListedId]
    trademark: str | None = Field(default=None, description="商标")
    model: str | None = Field(default=None, description="规格型号 model / specification")
    batch: str | None = Field(default=None, description="生产日期/批号 batch or production date")
    quantity: str | None = Field(default=None, description="样品数量, e.g. \"3 件\"")
    manufacturer: str | None = Field(default=None, description="生产单位")


class NewRequest(RequestModel):
    customer_id: Id
    description: str | None = None
    decision_rule: Literal["simple", "guarded", "non-binary"] | None = Field(
        default=None, description="agreed with the customer (ISO/IEC 17025 7.1.3); default simple")
    r: str | None = Field(default=None, description="guard band factor: w = r·U (default 1)")
    inspection_type: Literal["commissioned", "supervision", "sampling", "type", "acceptance",
                             "arbitration", "certification"] | None = Field(
        default=None, description="检验类别 (default commissioned 委托检验)")
    product_standard: str | None = Field(
        default=None, description="判定依据: the product standard verdicts are judged against")
    customer_data: str | None = Field(
        default=None, description="data supplied by the customer, which the report names and "
                                  "disclaims (ISO/IEC 17025 7.8.2.2)")
    samples: list[RequestSample] | None = Field(
        default=None, description="the request's samples, registered with it in one "
                                  "transaction (all or none); errors name samples[i].field")


class BulkReceipt(RequestModel):
    """Receive several samples of a request at once."""

    samples: list[str] = Field(description="the sample numbers to receive")
    condition: str | None = Field(default=None,
                                  description="the condition on receipt of every sample")
    conditions: dict[str, str] | None = Field(
        default=None, description="a sample's own condition, by its number")


class NewSample(SamplePlan):
    request_id: Id
    description: str
    method_ids: list[ListedId]
    trademark: str | None = Field(default=None, description="商标")
    model: str | None = Field(default=None, description="规格型号 model / specification")
    batch: str | None = Field(default=None, description="生产日期/批号 batch or production date")
    quantity: str | None = Field(default=None, description="样品数量, e.g. \"3 件\"")
    manufacturer: str | None = Field(default=None, description="生产单位")


class Condition(RequestModel):
    kind: Literal["temperature", "relative_humidity", "pressure"]
    value: str = Field(description="a number, as read")
    unit: str = Field(description="a unit of the kind, e.g. ℃, %RH, kPa")


class ConditionsRecord(RequestModel):
    """A test's environmental conditions and/or its deviation from the method."""

    conditions: list[Condition] | None = None
    deviation: str | None = Field(default=None, description="deviation from the method")


class Receipt(RequestModel):
    condition: str = Field(description="the condition on receipt")


class NewResult(RequestModel):
    characteristic_id: Id
    value: str = Field(description="as recorded: \"100.00\", \"<0.01\", \"未检出\", \"1.5×10³\", "
                                   "a grade or a qualitative value")
    unit: str | None = Field(default=None, description="as written, e.g. g, ℃, %RH")
    instrument_id: Id | None = None
    measured_at: str | None = Field(default=None,
                                    description="ISO 8601 date and time; default now")


class Capture(RequestModel):
    characteristic_id: Id
    instrument_id: Id


class ResultCorrection(RequestModel):
    value: str = Field(description="as recorded, e.g. \"100.00\"")
    unit: str | None = None
    reason: str
    instrument_id: Id | None = None
    measured_at: str | None = Field(default=None,
                                    description="ISO 8601; default the corrected version's")


class Decision(RequestModel):
    """A reviewer decides the conformity of an undecided (censored) result, with the reason."""

    conformity: Literal["pass", "fail"]
    reason: str


class Signature(RequestModel):
    """The signatory confirms an approval (or a report's issue) with their password."""

    password: str = Field(description="the signatory's password (re-authentication, "
                                      "21 CFR 11.200)")


class Approval(Signature):
    """The approval signature, optionally with the overall conclusion worded otherwise."""

    conclusion: str | None = Field(default=None, description="检验结论 worded by the "
                                   "signatory instead of the derived one; needs the reason")
    conclusion_reason: str | None = Field(default=None, description="why (audited)")


class ResultComment(RequestModel):
    """What the reviewer asks the technician to check on one result."""

    result_id: Id = Field(description="a current result of the sample (the version seen)")
    comment: str


class SampleReturn(RequestModel):
    """Send a sample back (issue 11 §2). ``to`` ``testing`` (the default; reviewer, results
    complete): ``comments`` per result and/or a ``reason``. ``to`` ``review`` (signatory,
    reviewed or approved): the ``reason``; the review and any approval are undone."""

    to: Literal["testing", "review"] = "testing"
    comments: list[ResultComment] = Field(default_factory=list, max_length=200)
    reason: str | None = None


# --- responses --------------------------------------------------------------------------------


class Customer(ResponseModel):
    id: int
    name: str
    contact: str
    address: str
    credit_code: str
    phone: str
    version: int
    retired_at: dt.datetime | None


class CustomerRegistered(Customer):
    warnings: list[str] = Field(description="likely duplicates of customers on record")


class Customers(Paging):
    customers: list[Customer]


class CustomersQuery(PageQuery):
    """Sort by name, created or samples; ``q`` searches the name and its pinyin initials."""


class Characteristic(ResponseModel):
    id: int
    name: str
    kind: str
    unit: str = Field(description="as written")
    unit_canonical: str
    lower_limit: str | None
    upper_limit: str | None
    lod: str | None
    loq: str | None
    expected: str | None
    requirement: str
    uncertainty: dict[str, str | None] | None


class DecisionRule(ResponseModel):
    rule: str
    r: str | None


class ConformityDecision(ResponseModel):
    id: int
    conformity: str
    reason: str
    decided_by_id: int
    decided_at: dt.datetime


class Method(ResponseModel):
    id: int
    code: str
    title: str
    clause: str
    field: str
    requires_conditions: bool
    version: int
    retired_at: dt.datetime | None
    characteristics: list[Characteristic]


class Methods(Paging):
    methods: list[Method]


class MethodsQuery(PageQuery):
    """Sort by id (the default) or code; ``q`` searches the code and title."""


class Turnaround(ResponseModel):
    """Where the sample stands against its due date, in the lab's zone."""

    due_date: dt.date | None
    days_left: int | None = Field(description="until reported: days to the due date, "
                                              "negative when overdue")
    overdue: bool = Field(description="past the due date unreported, or reported late")
    reported_on: dt.date | None
    turnaround_days: int | None = Field(description="from receipt to the first report")
    on_time: bool | None


class RequestSampleSummary(ResponseModel):
    number: str
    description: str
    status: SampleStatus
    acquisition: str
    due_date: dt.date | None
    priority: str
    assignee_id: int | None
    assignee: str | None = Field(description="the assignee's full name")
    category: str | None = Field(default=None, description="the product category's code")
    received_at: dt.datetime | None
    condition_on_receipt: str | None
    methods: list[str] = Field(description="method codes")
    turnaround: Turnaround


class RequestCreated(ResponseModel):
    id: int
    number: str
    customer_id: int
    decision_rule: DecisionRule
    inspection_type: str
    product_standard: str
    customer_data: str
    samples: list[RequestSampleSummary]


class RequestDetail(RequestCreated):
    customer: Customer
    description: str
    created_at: dt.datetime


class Result(ResponseModel):
    """One version of a result; a correction is a new version that ``replaces_id`` the old."""

    id: int
    characteristic_id: int
    version: int
    is_current: bool
    value: str = Field(description="the digits as recorded")
    unit: str = Field(description="the unit as recorded")
    unit_canonical: str
    kind: str
    shown: str = Field(description="value and unit as the report prints them")
    conformity: str | None = Field(description="pass, fail, undecided, or null without limits")
    decision: ConformityDecision | None
    verdict: str | None = Field(description="what the rule alone said")
    expanded_uncertainty: str | None
    k: str | None
    uncertainty_unit: str | None
    source: str = Field(description="manual or instrument")
    instrument_id: int | None
    instrument_due_on: dt.date | None
    calibration_record_id: int | None
    raw: str | None = Field(description="the bytes the instrument sent (latin-1)")
    reading_id: int | None = Field(
        default=None, description="the capture agent's stored reading it was captured from")
    measured_at: dt.datetime
    recorded_at: dt.datetime
    recorded_by_id: int
    replaces_id: int | None
    reason: str | None


class Particulars(ResponseModel):
    trademark: str
    model: str
    batch: str
    quantity: str
    manufacturer: str


class Conclusion(ResponseModel):
    derived: str = Field(description="what the verdicts give")
    outcome: str
    worded: str | None = Field(description="the signatory's wording, if any")
    reason: str | None


class SampleSummary(ResponseModel):
    number: str
    request: str
    customer: Customer
    decision_rule: DecisionRule
    inspection_type: str
    product_standard: str
    customer_data: str
    particulars: Particulars
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
    acquisition: str
    due_date: dt.date | None
    priority: str
    assignee_id: int | None
    category: str | None = Field(default=None, description="the product category's code")
    reported_at: dt.datetime | None
    turnaround: Turnaround


class RecordedCondition(ResponseModel):
    kind: str
    value: str
    unit: str


class SampleTest(ResponseModel):
    method: Method
    conditions: list[RecordedCondition] | None
    deviation: str | None
    results: list[Result]


class ReviewComment(ResponseModel):
    """A comment given when the sample was sent back: on one version of a result, or (no
    ``result_id``) on the whole sample; ``stage`` ``review`` (back to testing) or
    ``approval`` (back to review)."""

    id: int
    result_id: int | None
    result_version: int | None
    characteristic_id: int | None
    stage: Literal["review", "approval"]
    comment: str
    author: str
    author_id: int
    created_at: dt.datetime


class Sample(SampleSummary):
    conclusion: Conclusion
    tests: list[SampleTest]
    review_comments: list[ReviewComment]


class Samples(Paging):
    samples: list[SampleSummary]


class SamplesQuery(PageQuery):
    """Filters of the sample list; sort by number, request, customer, description, status or
    registered (default -registered); ``q`` searches sample and request numbers, customer name
    and its pinyin initials, description."""

    status: SampleStatus | None = None
    from_: DateText | None = Field(default=None, alias="from",
                                   description="registered on or after (lab's zone)")
    to: DateText | None = Field(default=None, description="registered on or before")
    customer: Id | None = Field(default=None, description="a customer id")
    method: Id | None = Field(default=None, description="a test method id")
    instrument: Id | None = Field(default=None,
                                  description="an instrument id: samples measured with it")
    asset: str | None = Field(default=None, max_length=40,
                              description="an instrument's asset number: samples measured with it")
    category: str | None = Field(
        default=None, description="a product category code: the samples in it or in any of "
                                  "its subcategories; \"none\": the samples without one")


class ProductCategoryNode(ResponseModel):
    """A category of the product catalogue with its subcategories (target: percent, on a
    top-level family only)."""

    code: str
    name_zh: str
    name_en: str
    target_pass_rate: str | None = Field(description="percent, as a decimal string")
    retired: bool
    children: list[ProductCategoryNode]


class ProductCategories(Paging):
    """A page of the families, each with its whole tree below it."""

    categories: list[ProductCategoryNode]


class ProductCategoriesQuery(PageQuery):
    """The families in the order they were added (sort ``id``, the default, or ``code``);
    ``q`` searches a family's code and names."""
