"""Request and response models of the plans API (enterprises, sampling inspectors, spot-check
plans, random draws); see :mod:`lims.web.api_models` for what they check and what the services
do (:mod:`lims.supervision.plans`, :mod:`lims.supervision.draws`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lims.web.api_models import (
    DateText,
    PageQuery,
    Paging,
    RequestModel,
    ResponseModel,
    Whole,
)

# --- enterprises ----------------------------------------------------------------------------


class NewEnterprise(RequestModel):
    name: str
    credit_code: str = Field(description="统一社会信用代码: 18 characters, check character "
                                         "validated (GB 32100-2015)")
    region: str = Field(description="GB/T 2260 region code, e.g. 420111")
    category: str = Field(description="product category code, e.g. IND-CHILD-CLOTHING")
    size: Literal["large", "medium", "small", "micro"]
    address: str | None = None


class EnterpriseRetirement(RequestModel):
    reason: str = Field(description="why it is drawn no more (closed, moved away), audited")


class Enterprise(ResponseModel):
    id: int
    name: str
    credit_code: str
    address: str
    region: str
    category: str
    size: str
    created_at: str
    retired_at: str | None


class Enterprises(Paging):
    enterprises: list[Enterprise]


class EnterprisesQuery(PageQuery):
    """``q`` searches the name, credit code and address; ``region`` and ``category`` (codes)
    include the regions and categories below them. Sort by name, created or id."""

    region: str | None = Field(default=None, max_length=12)
    category: str | None = Field(default=None, max_length=40)


# --- inspectors -----------------------------------------------------------------------------


class NewInspector(RequestModel):
    username: str
    qualification: str = Field(description="the qualification's number")
    valid_until: DateText
    active: bool = True


class Inspector(ResponseModel):
    username: str
    full_name: str
    qualification: str
    valid_until: str | None
    active: bool


class Inspectors(Paging):
    inspectors: list[Inspector]


class InspectorsQuery(PageQuery):
    """Sort by username (the default); ``q`` searches the username and full name."""


# --- plans ----------------------------------------------------------------------------------


class PlanCategoryIn(RequestModel):
    code: str = Field(description="product category code; its subcategories are included")
    product_standard: str = Field(description="the standard judged against (判定依据)")
    method_codes: list[str] = Field(description="codes of the test methods applied")


class QuotaIn(RequestModel):
    category: str = Field(description="one of the plan's category codes")
    region: str = Field(description="GB/T 2260 region code; the regions below it are included")
    quota: Whole = Field(ge=1, le=100_000)


class NewPlan(RequestModel):
    year: Whole = Field(ge=2000, le=2199)
    title: str
    authority: str = Field(description="the issuing authority")
    sampling_method: str | None = None
    budget_samples: Whole = Field(ge=1, le=100_000)
    exclusion_months: Whole = Field(default=12, ge=0, le=120, description=(
        "enterprises sampled within this many months (any plan) are not drawn"))
    categories: list[PlanCategoryIn]
    quotas: list[QuotaIn] = Field(description="their sum may not exceed budget_samples")


class PlanCategory(ResponseModel):
    code: str
    product_standard: str
    method_codes: list[str]


class Quota(ResponseModel):
    category: str
    region: str
    quota: int
    drawn: int = Field(description="tasks drawn that count against it (all but cancelled)")


class Plan(ResponseModel):
    number: str
    year: int
    title: str
    authority: str
    sampling_method: str
    budget_samples: int
    exclusion_months: int
    status: str
    created_at: str
    categories: list[PlanCategory]
    quotas: list[Quota]


class Plans(Paging):
    plans: list[Plan]


class PlansQuery(PageQuery):
    """Newest first (sort ``-id``, the default; also ``id``, ``number``, ``year``); ``q``
    searches the number and title."""

    year: int | None = Field(default=None, ge=2000, le=2199)


class PlanClosing(RequestModel):
    reason: str | None = None


# --- draws ----------------------------------------------------------------------------------


class NewDraw(RequestModel):
    category: str = Field(description="category code of one of the plan's quotas")
    region: str = Field(description="region code of that quota")
    seed: str | None = Field(default=None, max_length=64, description=(
        "the random seed; none: a fresh one (recorded either way)"))


class Task(ResponseModel):
    number: str
    enterprise: str
    credit_code: str
    category: str
    region: str
    draw_id: int | None
    inspectors: list[str]
    status: str
    created_at: str


class Draw(ResponseModel):
    id: int
    plan: str
    category: str
    region: str
    seed: str
    count: int
    exclusion_months: int
    enterprise_pool: list[int] = Field(description="enterprise ids drawn from, sorted")
    inspector_pool: list[int] = Field(description="user ids of the inspectors, sorted")
    drawn_at: str
    drawn_by: str
    tasks: list[Task]


class Pick(ResponseModel):
    enterprise_id: int
    inspector_ids: list[int]


class Replay(ResponseModel):
    draw_id: int
    seed: str
    matches: bool = Field(description="the tasks on record are those the seed and pools give")
    expected: list[Pick]
    recorded: list[Pick]
