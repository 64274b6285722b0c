"""Validation of input fields shared by the services; every error names its field."""

from __future__ import annotations

import datetime as dt
from typing import Any

from lims.errors import InvalidInput

MAX_ID = 2**31 - 1  # PostgreSQL's INTEGER: a larger id cannot exist


def as_id(value: Any, field: str) -> int:
    """Parse a record id from JSON, a form or a URL.

    :raises InvalidInput: not a whole number between 1 and 2**31 - 1.
    """
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 12:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("must be a whole number (an id)", field=field)
    if not 0 < value <= MAX_ID:
        raise InvalidInput(f"no record has id {value}", field=field)
    return value


def text(value: Any, field: str, *, required: bool = True, max_len: int = 200) -> str:
    """Return stripped text, refusing non-text, missing required text and over-long text."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput("must be text", field=field)
    value = value.strip()
    if required and not value:
        raise InvalidInput("is required", field=field)
    if len(value) > max_len:
        raise InvalidInput(f"is longer than {max_len} characters", field=field)
    return value


def date(value: Any, field: str, *, required: bool = True) -> dt.date | None:
    """Parse an ISO date (YYYY-MM-DD)."""
    if value in (None, ""):
        if required:
            raise InvalidInput("is required (YYYY-MM-DD)", field=field)
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInput(f"{value!r} is not a date (YYYY-MM-DD)", field=field) from exc
