"""The building blocks of the API's request and response models (pydantic), shared by domains.

Each domain declares its own models in ``lims/<domain>/api_models.py`` from these. The models
check the *shape* of a request (which fields, of which JSON type) and the OpenAPI document is
generated from them (:mod:`lims.web.openapi`); what a value means (a known unit, a date in
range, a record that exists) stays the services' job, since the CLI and the pages call them too.

Request models are strict: an id is a JSON integer, not ``"12"`` or ``true``, and an unknown
field is refused by name, so that a misspelt optional field is not silently dropped. Values
are strings so that their digits are kept as recorded ("100.00" stays "100.00").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import ErrorDetails, PydanticCustomError

from lims.validate import is_utf8

MAX_ID = 2**31 - 1  # PostgreSQL's INTEGER: a larger id cannot exist (as lims.validate.MAX_ID)


class RequestModel(BaseModel):
    """A JSON request body: strict types, no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid")


class QueryModel(BaseModel):
    """Query-string parameters: text by nature, so not strict; unknown ones are ignored."""

    model_config = ConfigDict(extra="ignore")


class ResponseModel(BaseModel):
    """The shape of a success response, for the document only: the views build plain dicts.

    Every field is required (a null where there is nothing) and no other field may appear,
    so that schemathesis' response check catches a view that drifts from its document.
    """

    model_config = ConfigDict(extra="forbid")


API_PER_PAGE = 100  # an API list's page when no limit is given
API_MAX_PER_PAGE = 500  # as lims.web.listing.MAX_PER_PAGE


class PageQuery(QueryModel):
    """The paging and sort of an API list (issue 11 §3): ``page`` (1-based) of ``limit``
    items; the reply carries ``total``, ``page``, ``limit`` and ``pages``."""

    page: int = Field(default=1, ge=1, le=10_000_000, description="1-based page number")
    limit: int = Field(default=API_PER_PAGE, ge=1, le=API_MAX_PER_PAGE,
                       description="items per page")
    sort: str | None = Field(default=None, max_length=40,
                             description="a sort key, prefixed with - for descending")
    q: str | None = Field(default=None, max_length=100, description="search text")


class Paging(ResponseModel):
    """The paging fields of an API list reply."""

    total: int = Field(description="items in the whole filtered list")
    page: int
    limit: int
    pages: int = Field(description="pages in the whole filtered list (at least 1)")


def whole(value: object) -> object:
    """A float with no fraction as the int it is: JSON Schema's integer includes 699.0."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Whole = Annotated[int, BeforeValidator(whole)]
Id = Annotated[Whole, Field(ge=1, le=MAX_ID, description="a record id")]
# In a list, the service checks the range and names the list (method_ids), as it always has.
ListedId = Annotated[Whole, Field(json_schema_extra={"minimum": 1, "maximum": MAX_ID})]

# Dates are ISO 8601 calendar dates, YYYY-MM-DD; the services check the date is real and in
# the years a lab record can have. [0-9], not \d: pydantic's \d also matches "٣".
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DateText = Annotated[str, Field(pattern=DATE_PATTERN, json_schema_extra={"format": "date"})]
# Text without control characters, checked by pydantic-core itself (Rust: no Python call per
# field, which cost a sixth of validating a batch of readings, make bench).
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f]*$"


def _number_or_text(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PydanticCustomError("number_or_text", "must be a number, e.g. \"100.00\"")
    return value


# A certificate's numbers may be JSON numbers or text (lims.calibration.certificates).
NumberOrText = Annotated[str | int | float, PlainValidator(_number_or_text),
                         WithJsonSchema({"type": ["string", "number"]})]


class ErrorDetail(ResponseModel):
    code: str = Field(description="machine-readable, e.g. invalid, not_found, unit_mismatch")
    message: str
    field: str = Field(default="", description="the request field at fault, e.g. "
                                               "results[2].unit (only when there is one)")


class ErrorBody(ResponseModel):
    """Every 4xx (and the 500 that must never happen) answers this."""

    error: ErrorDetail



# --- pydantic's errors in the words of the services' own ------------------------------------


def error_field(loc: Sequence[int | str]) -> str:
    """``("results", 2, "unit")`` as ``results[2].unit``; a client's own key (an unknown field)
    is escaped and cut short, since it is echoed back in the error."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        if not part.isprintable() or not is_utf8(part):
            part = repr(part)[1:-1]
        part = part if len(part) <= 60 else part[:60] + "…"
        out += f".{part}" if out else part
    return out


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this request",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
}


def error_message(error: ErrorDetails) -> str:
    """What was wrong, without pydantic's vocabulary."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == DATE_PATTERN:
        return "must be a date written YYYY-MM-DD"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == PRINTABLE_PATTERN:
        return "must not contain control characters"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    return error["msg"]
