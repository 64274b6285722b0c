"""Request and response models of the accredited-scope API; see :mod:`lims.web.api_models`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lims.web.api_models import DateText, PageQuery, Paging, RequestModel, ResponseModel

SchemeName = Literal["CMA", "CNAS"]


class NewAccreditation(RequestModel):
    scheme: SchemeName
    certificate_number: str = Field(description="e.g. 231234567890 (CMA), CNAS L1234")
    valid_from: DateText
    valid_until: DateText = Field(description="the last day the certificate is valid")


class NewScopeItem(RequestModel):
    method_code: str = Field(description="the method with its year (GB/T 26497-2011) or the "
                                         "JJF/JJG procedure")
    schemes: list[SchemeName] = Field(description="which scopes list the item")
    parameter: str | None = Field(default=None, description="characteristic or calibrated "
                                  "quantity; empty: every parameter of the method (全部参数)")
    category: Literal["test", "calibration"] | None = None
    object: str | None = Field(default=None, description="检测对象 / 校准对象")
    minimum: str | None = Field(default=None, description="lower bound of the range, digits "
                                "as written")
    maximum: str | None = None
    unit: str | None = Field(default=None, description="the range's unit, as written")
    kind: str | None = Field(default=None, description="the quantity kind (lims.kinds); "
                             "default: the kind the unit names")
    limitation: str | None = Field(default=None, description="限制范围 / 说明, CMC")


class CheckItem(RequestModel):
    method: str
    parameter: str
    value: str = ""
    unit: str = ""
    kind: str | None = None


class ScopeCheck(RequestModel):
    items: list[CheckItem]
    on: DateText | None = Field(default=None, description="the document's date (default today)")


class Accreditation(ResponseModel):
    scheme: str
    certificate_number: str
    valid_from: str
    valid_until: str


class ScopeItem(ResponseModel):
    id: int
    category: str
    object: str
    parameter: str
    method_code: str
    kind: str | None
    minimum: str | None
    maximum: str | None
    unit: str
    range: str
    limitation: str
    schemes: list[str]


class Scope(Paging):
    """The certificates, and a page of the scope items."""

    accreditations: list[Accreditation]
    items: list[ScopeItem]


class ScopeQuery(PageQuery):
    """Sort by method (the default) or id; ``q`` searches the method, parameter and object."""


class Verdict(ResponseModel):
    method: str
    parameter: str
    in_scope: bool
    schemes: list[str]
    scope_items: list[int]
    reason: str


class ScopeDecision(ResponseModel):
    items: list[Verdict]
    marks: list[str]
    numbers: dict[str, str]
    footnote: str
