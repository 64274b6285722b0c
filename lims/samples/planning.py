"""The planning of a sample's work: how it came to the lab, its due date, priority and the
technician responsible (issue 11 §2). Each check names its field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.auth.models import Role, User
from lims.errors import Choices, InvalidInput, msg
from lims.validate import as_id, date, text

# 样品来源: brought or sent by the customer (送样), or drawn by the lab's own sampler (抽样);
# a report states which (RB/T 214 4.5.20).
ACQUISITIONS = ("delivered", "sampled")
# Kept small on purpose: urgent work is done first, everything else in due-date order.
PRIORITIES = ("normal", "urgent")


def acquisition(value: Any, field: str = "acquisition") -> str:
    """``delivered`` (the default) or ``sampled``.

    :raises InvalidInput: anything else.
    """
    if value in (None, ""):
        return "delivered"
    if value not in ACQUISITIONS:
        raise InvalidInput(msg("must be one of %(choices)s",
                               choices=Choices(ACQUISITIONS)), field=field)
    return str(value)


def priority(value: Any, field: str = "priority") -> str:
    """``normal`` (the default) or ``urgent``.

    :raises InvalidInput: anything else.
    """
    if value in (None, ""):
        return "normal"
    if value not in PRIORITIES:
        raise InvalidInput(msg("must be one of %(choices)s", choices=Choices(PRIORITIES)),
                           field=field)
    return str(value)


def due_date(value: Any, *, registered_on: dt.date, field: str = "due_date") -> dt.date | None:
    """The date promised to the customer (YYYY-MM-DD, in the lab's zone), or None.

    :raises InvalidInput: not a date, or before ``registered_on`` (the local date of
        registration): work cannot be promised for a day already past.
    """
    day = date(value, field, required=False)
    if day is not None and day < registered_on:
        raise InvalidInput(msg("due date %(due)s is before the registration date %(registered)s",
                               due=day, registered=registered_on),
                           field=field)
    return day


def assignee(session: Session, value: Any, *, field: str = "assignee_id",
             username: Any = None) -> User | None:
    """The technician responsible, by id (``value``) or by ``username``; None when neither.

    :raises InvalidInput: no such user, a user not active, or not a technician (only a
        technician can receive and test a sample: lims.auth.permissions).
    """
    user: User | None
    if value not in (None, ""):
        user = session.get(User, as_id(value, field))
        shown = str(value)
    elif username not in (None, ""):
        # Checked as text first: PostgreSQL cannot compare text holding a NUL.
        shown = text(username, field, max_len=60)
        user = session.scalar(select(User).where(User.username == shown))
    else:
        return None
    if user is None:
        raise InvalidInput(msg("no user %(user)r", user=shown), field=field)
    if not user.active:
        raise InvalidInput(msg("%(user)s is not active", user=user.username), field=field)
    if Role.TECHNICIAN not in user.roles:
        raise InvalidInput(msg("%(user)s is not a technician", user=user.username), field=field)
    return user


def technicians(session: Session) -> list[User]:
    """The active technicians a sample can be assigned to, by name."""
    from lims.auth.models import UserRole

    return list(session.scalars(
        select(User).join(UserRole).where(UserRole.role == Role.TECHNICIAN.value,
                                          User.active.is_(True))
        .order_by(User.full_name, User.username)).all())
