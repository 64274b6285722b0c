"""Request and response models of the readings API; see :mod:`lims.readings.views` for the
contract an agent is built against, and :mod:`lims.web.api_models` for the building blocks."""

from __future__ import annotations

import binascii
import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from lims.readings.services import MAX_BATCH, MAX_RAW, MAX_SEQ, STATUSES
from lims.web.api_models import PRINTABLE_PATTERN, QueryModel, RequestModel, ResponseModel


def _instant(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise PydanticCustomError(
            "instant", "must be an ISO 8601 time with its UTC offset, e.g. "
            "2026-11-27T01:02:03.123456+00:00") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError("instant", "must carry its UTC offset (+00:00 or Z): a "
                                             "local time without one is ambiguous")
    value = value.astimezone(dt.UTC)
    if not 1970 <= value.year <= 2999:
        raise PydanticCustomError("instant", "must be a time between 1970 and 2999")
    return value


def _raw(text: str) -> bytes:
    try:
        # binascii directly: base64.b64decode's own checks cost more than the decoding.
        data = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        raise PydanticCustomError("base64", "must be the raw bytes in base64") from None
    if len(data) > MAX_RAW:
        raise PydanticCustomError("raw_too_long", "must be at most {n} bytes", {"n": MAX_RAW})
    return data


Instant = Annotated[str, AfterValidator(_instant),
                    WithJsonSchema({"type": "string", "format": "date-time"})]
Raw = Annotated[str, Field(max_length=4 * (MAX_RAW // 3 + 1)), AfterValidator(_raw),
                WithJsonSchema({"type": "string", "contentEncoding": "base64"})]


def _text(min_length: int, max_length: int) -> Any:
    """Text of a bounded length without control characters (a NUL cannot be stored in
    PostgreSQL text; other control characters have no business in a value, a unit or a
    message: the raw bytes keep whatever the instrument sent), all checked by pydantic-core
    natively (make bench)."""
    return Annotated[str, Field(min_length=min_length, max_length=max_length,
                                pattern=PRINTABLE_PATTERN)]


class ReadingIn(RequestModel):
    """One spooled reading, as the driver produced it."""

    seq: int = Field(ge=1, le=MAX_SEQ, description="the agent's sequence number of the reading "
                                                   "(unique per agent, never reused)")
    asset: _text(1, 40) = Field(  # type: ignore[valid-type]
        description="asset number of one of the agent's instruments")
    read_at: Instant = Field(description="when the agent read it, with its UTC offset")
    value: _text(1, 64) | None = Field(  # type: ignore[valid-type]
        default=None, description="the digits as the instrument sent them; null unless ok")
    unit: _text(0, 20) | None = Field(  # type: ignore[valid-type]
        default=None, description="the unit as sent")
    stable: bool | None = Field(default=None, description="the instrument's stability flag; "
                                                          "null when it has none")
    status: Literal[STATUSES] = Field(description="ok, overload, underload, error, offline")  # type: ignore[valid-type]
    error: _text(0, 500) | None = Field(  # type: ignore[valid-type]
        default=None, description="the driver's or instrument's message of an error reading")
    raw: Raw = Field(description="the bytes as received, base64")


class ReadingsBatch(RequestModel):
    readings: list[ReadingIn] = Field(description=f"1 to {MAX_BATCH} readings, any order",
                                      json_schema_extra={"minItems": 1, "maxItems": MAX_BATCH})

    @field_validator("readings", mode="before")
    @classmethod
    def _counted_first(cls, value: object) -> object:
        # Before the readings are parsed one by one: a huge batch is refused cheaply.
        if isinstance(value, list) and not 1 <= len(value) <= MAX_BATCH:
            raise PydanticCustomError(
                "batch_size", "a batch holds 1 to {max} readings, not {n}: send them in "
                "several batches", {"max": MAX_BATCH, "n": len(value)})
        return value


class BatchAcknowledged(ResponseModel):
    acknowledged: int = Field(description="the highest seq of the batch: every seq of the "
                                          "batch is now stored (this time or before)")
    stored: int = Field(description="readings stored by this request")
    duplicates: int = Field(description="readings of the batch already stored before")


class ReadingsQuery(QueryModel):
    since: str | None = Field(default=None, description="readings read at or after this ISO "
                                                        "8601 time (with its offset)")
    limit: int = Field(default=100, ge=1, le=500, description="readings per page")
    # No maxLength in the schema: a longer value is refused as "not a cursor this list gave"
    # (422) by the decoder, and a declared bound only invites URLs past the server's line limit.
    cursor: str | None = Field(default=None, description="the `next` of the previous page")


class ReadingOut(ResponseModel):
    agent: str
    seq: int
    asset: str
    read_at: str
    received_at: str
    value: str | None
    unit: str | None
    stable: bool | None
    status: str
    error: str | None
    raw: str = Field(description="base64")


class Readings(ResponseModel):
    readings: list[ReadingOut]
    total: int = Field(description="readings of the instrument read at or after `since`")
    limit: int
    next: str | None = Field(description="cursor of the next page (pass as `cursor`), or "
                                         "null on the last page")
