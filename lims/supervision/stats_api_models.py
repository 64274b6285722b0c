"""Query and response models of the statistics API (issue 13 §4); see
:mod:`lims.web.api_models`. The response is exactly
:meth:`lims.supervision.statistics.PassRates.as_dict`, so that the white paper's numbers can be
checked against it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from lims.supervision.statistics import FIRST_YEAR
from lims.web.api_models import PRINTABLE_PATTERN, QueryModel, ResponseModel

InspectionType = Literal["commissioned", "supervision", "sampling", "type", "acceptance",
                         "arbitration", "certification"]
Size = Literal["large", "medium", "small", "micro"]


class PassRatesQuery(QueryModel):
    year: int | None = Field(default=None, ge=FIRST_YEAR, le=9998,
                             description="the calendar year the samples were taken in (the "
                                         "sampling record's date; a delivered sample's "
                                         "registration day); this year when not given")
    category: str | None = Field(default=None, max_length=40, pattern=PRINTABLE_PATTERN,
                                 description="a product category's code (GET "
                                             "/api/v1/product-categories); what is below it "
                                             "is included")
    region: str | None = Field(default=None, max_length=12, pattern=PRINTABLE_PATTERN,
                               description="a region's code (GB/T 2260, e.g. 420100); what is "
                                           "below it is included")
    inspection_type: InspectionType | None = None
    size: Size | None = Field(default=None, description="the enterprise's size")


class TrendQuery(QueryModel):
    from_: int | None = Field(default=None, alias="from", ge=FIRST_YEAR, le=9998,
                              description="the first year; the first year held when not given")
    to: int | None = Field(default=None, ge=FIRST_YEAR, le=9998,
                           description="the last year (at most 50 after the first); the "
                                       "last year held when not given")
    inspection_type: InspectionType | None = None


class Counts(ResponseModel):
    sampled: int = Field(description="original samples registered in the year (a "
                                     "re-inspection is not counted on its own)")
    tested: int = Field(description="with a final conclusion: qualified + unqualified + "
                                    "data only")
    qualified: int
    unqualified: int
    data_only: int = Field(description="tested, reported as data only (not judged)")
    pending: int = Field(description="sampled, without a final conclusion yet")
    pass_rate: float | None = Field(description="qualified / (qualified + unqualified), "
                                                "percent, 2 decimals; null when none judged")
    interval: list[float] | None = Field(description="the 95 % Wilson score interval of the "
                                                     "rate [low, high], percent")


class Row(Counts):
    key: str = Field(description="a category or region code, a size or an inspection type; "
                                 "\"\" for samples without one")
    name_zh: str
    name_en: str
    depth: int = Field(description="the level below the top of its tree (0: a family or a "
                                   "region at the top)")
    target: str | None = Field(description="the family's provincial target pass rate, "
                                           "percent (e.g. \"95.00\")")
    below_target: bool


class Item(ResponseModel):
    name: str = Field(description="a characteristic")
    samples: int = Field(description="unqualified samples in which it failed")


class PassRates(ResponseModel):
    year: int
    filters: dict[str, str] = Field(description="the filters applied, as given")
    total: Counts
    families: list[Row] = Field(description="the three target families, each with its target")
    categories: list[Row] = Field(description="the catalogue depth first, every level that "
                                              "has samples")
    regions: list[Row] = Field(description="the region tree depth first, every region that "
                                           "has samples")
    sizes: list[Row]
    inspection_types: list[Row]
    unqualified_items: list[Item] = Field(description="the characteristics that failed in "
                                                      "unqualified samples, most frequent "
                                                      "first")


class TrendYear(Counts):
    year: int


class TrendFamily(ResponseModel):
    key: str
    name_zh: str
    name_en: str
    target: str | None
    years: list[TrendYear]


class Trend(ResponseModel):
    from_: int = Field(alias="from")
    to: int
    families: list[TrendFamily]


class ActivityQuery(QueryModel):
    year: int | None = Field(default=None, ge=FIRST_YEAR, le=9998,
                             description="the calendar year; this year when not given")


class Activity(ResponseModel):
    """The white paper's other figures, counted afresh (lims.supervision.whitepaper.activity
    and capacity): the year's plans, tasks, sampling records, notices, objections and
    re-inspections, and the centre's metrological capacity."""

    year: int
    activity: dict[str, Any]
    capacity: dict[str, Any]
