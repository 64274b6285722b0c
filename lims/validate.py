"""Validation of input fields shared by the services; every error names its field."""

from __future__ import annotations

import datetime as dt
from typing import Any

from lims.errors import InvalidInput, msg

MAX_ID = 2**31 - 1  # PostgreSQL's INTEGER: a larger id cannot exist


def as_id(value: Any, field: str) -> int:
    """Parse a record id from JSON, a form or a URL.

    :raises InvalidInput: not a whole number between 1 and 2**31 - 1.
    """
    # isdecimal() and isascii(): "²" and "①" are digits to str.isdigit(), not to int().
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdecimal() \
            and len(value.strip()) < 12:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(msg("must be a whole number (an id)"), field=field)
    if not 0 < value <= MAX_ID:
        raise InvalidInput(msg("no record has id %(id)s", id=value), field=field)
    return value


# Control characters (NUL above all: PostgreSQL text refuses it) have no place in a record;
# a line break is allowed only where the caller says so.
_CONTROL = {chr(c) for c in range(32)} | {"\x7f"}
FIRST_YEAR, LAST_YEAR = 1900, 2199  # a date outside is a typing error, and overflows arithmetic


def is_utf8(value: str) -> bool:
    """False for text with lone surrogates (from JSON "\\ud800"), which no database stores."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def id_or_none(value: Any) -> int | None:
    """A posted id as :func:`as_id` reads it, or None when it is not one: a form's ticked box,
    looked up to show the form again (the service refuses a bad one by name)."""
    try:
        return as_id(value, "id")
    except InvalidInput:
        return None


def text(value: Any, field: str, *, required: bool = True, max_len: int = 200,
         multiline: bool = False) -> str:
    """Return stripped text, refusing non-text, missing required text, over-long text and
    control characters."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(msg("must be text"), field=field)
    stripped = value.strip()
    bad = _CONTROL - ({"\n", "\r", "\t"} if multiline else set())
    if any(ch in bad for ch in stripped):
        raise InvalidInput(msg("contains a control character"), field=field)
    if not is_utf8(stripped):
        raise InvalidInput(msg("contains a lone surrogate (not valid Unicode text)"),
                           field=field)
    if required and not stripped:
        raise InvalidInput(msg("is required"), field=field)
    if len(stripped) > max_len:
        raise InvalidInput(msg("is longer than %(n)s characters", n=max_len), field=field)
    return stripped


def date(value: Any, field: str, *, required: bool = True) -> dt.date | None:
    """Parse an ISO date (YYYY-MM-DD)."""
    if value in (None, ""):
        if required:
            raise InvalidInput(msg("is required (YYYY-MM-DD)"), field=field)
        return None
    day: dt.date
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value)[:40])
        except ValueError as exc:
            raise InvalidInput(msg("%(text)r is not a date (YYYY-MM-DD)", text=str(value)[:40]),
                               field=field) from exc
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidInput(msg("%(day)s is outside %(first)s–%(last)s", day=day, first=FIRST_YEAR,
                               last=LAST_YEAR), field=field)
    return day


def moment(value: Any, field: str, *, timezone: str) -> dt.datetime:
    """Parse an ISO date and time; without a zone it is the lab's local time.

    :raises InvalidInput: not text, not a date and time, or outside the years we accept.
    """
    from zoneinfo import ZoneInfo

    if isinstance(value, dt.datetime):
        at = value
    elif isinstance(value, str):
        try:
            at = dt.datetime.fromisoformat(value.strip()[:40])
        except ValueError:
            raise InvalidInput(msg("%(text)r is not a date and time (ISO 8601)", text=value[:40]),
                               field=field) from None
    else:
        raise InvalidInput(msg("must be a date and time written as text (ISO 8601)"),
                           field=field)
    if not FIRST_YEAR <= at.year <= LAST_YEAR:
        raise InvalidInput(msg("%(day)s is outside %(first)s–%(last)s", day=at.date(),
                               first=FIRST_YEAR, last=LAST_YEAR), field=field)
    return at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo(timezone))
