"""A request with several samples (委托单, issue 11 §2): registered together, received together.

Services: a session and keyword data, flush but never commit. Registration is all or nothing
in the caller's transaction; an error names the sample by its place in the list
(``samples[2].due_date``), so a form can show it beside the field it concerns.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.auth.models import User
from lims.auth.services import require
from lims.errors import InvalidInput, NotFound, msg
from lims.samples import services
from lims.samples.models import Sample, TestRequest
from lims.validate import text

MAX_SAMPLES = 200  # one request's samples registered in one go
# What each sample of a request may carry besides its description and methods.
SAMPLE_FIELDS = (*services.SAMPLE_PARTICULARS, "acquisition", "due_date", "priority",
                 "assignee_id", "assignee", "category")
REQUEST_FIELDS = ("description", "decision_rule", "r", "inspection_type", "product_standard",
                  "customer_data")


def create_request_with_samples(session: Session, *, actor: User, customer_id: Any,
                                samples: Any, request_format: str, sample_format: str,
                                timezone: str, **request_data: Any) -> TestRequest:
    """Open a request (:func:`services.create_request`, whose keywords ``request_data`` takes)
    and register each of ``samples`` under it (:func:`services.register_sample`): a list of
    objects with ``description``, ``method_ids`` and any of :data:`SAMPLE_FIELDS`.

    Numbers come from the gapless series in the caller's transaction, the request's first and
    then the samples' in list order; a failure rolls all of them back with everything else.

    :raises InvalidInput: no samples, too many, or the first field that is wrong, named with
        the sample's index (``samples[2].due_date``).
    """
    require(actor, "sample.register")
    if not isinstance(samples, list | tuple) or not samples:
        raise InvalidInput(msg("a request needs at least one sample"), field="samples")
    if len(samples) > MAX_SAMPLES:
        raise InvalidInput(msg("at most %(count)s samples per request",
                               count=MAX_SAMPLES), field="samples")
    unknown = set(request_data) - set(REQUEST_FIELDS)
    if unknown:  # a programming error at the edge, not the user's
        raise TypeError(f"unexpected request fields: {', '.join(sorted(unknown))}")
    req = services.create_request(session, actor=actor, customer_id=customer_id,
                                  number_format=request_format, timezone=timezone,
                                  **request_data)
    for i, item in enumerate(samples):
        prefix = f"samples[{i}]."
        if not isinstance(item, dict):
            raise InvalidInput(msg("must be an object"), field=f"samples[{i}]")
        extra = {key: item[key] for key in SAMPLE_FIELDS if item.get(key) is not None}
        services.register_sample(session, actor=actor, request_id=req.id,
                                 description=item.get("description"),
                                 method_ids=item.get("method_ids"),
                                 number_format=sample_format, timezone=timezone,
                                 prefix=prefix, **extra)
    session.refresh(req, ["samples"])
    return req


def get_request(session: Session, number: str) -> TestRequest:
    """Find a request by its number, in any case (typed or scanned).

    :raises NotFound:
    """
    req = session.scalar(select(TestRequest).where(TestRequest.number == number))
    if req is None:  # the exact match first keeps the usual lookup on the unique index
        req = session.scalar(select(TestRequest).where(
            func.upper(TestRequest.number) == number.strip().upper()))
    if req is None:
        raise NotFound(msg("no request %(number)r", number=number), request=number)
    return req


def receive_samples(session: Session, *, actor: User, request_number: str, numbers: Any,
                    condition: Any = None, conditions: Any = None) -> list[Sample]:
    """Receive several samples of a request at once (ISO/IEC 17025 7.4.3), each as
    :func:`services.receive_sample` does: its row locked, its transition checked, one audit
    event each. ``conditions`` maps a sample number to its own condition on receipt; the others
    take ``condition``. All or nothing: one sample that cannot be received stops them all.

    :raises InvalidInput: no samples, a number not of this request, a sample without a
        condition (named ``conditions[<number>]``).
    :raises SampleStateError: a sample already received (naming it).
    """
    require(actor, "sample.receive")
    req = get_request(session, request_number)
    if not isinstance(numbers, list | tuple) or not numbers:
        raise InvalidInput(msg("tick at least one sample to receive"), field="samples")
    if conditions is None:
        conditions = {}
    if not isinstance(conditions, dict):
        raise InvalidInput(msg("must map sample numbers to conditions"), field="conditions")
    own = {s.number.upper(): s.number for s in req.samples}
    wanted: list[str] = []
    for raw in numbers:
        if not isinstance(raw, str) or raw.strip().upper() not in own:
            raise InvalidInput(msg("%(given)r is not a sample of request %(number)s",
                                   given=str(raw)[:40], number=req.number),
                               field="samples")
        number = own[raw.strip().upper()]
        if number not in wanted:
            wanted.append(number)
    given = {own.get(str(k).strip().upper(), str(k)): v for k, v in conditions.items()
             if v not in (None, "")}
    stray = set(given) - set(wanted)
    if stray:
        raise InvalidInput(msg("a condition is given for %(numbers)s, which is not "
                               "being received", numbers=', '.join(sorted(stray))),
                           field="conditions")
    common = None if condition in (None, "") else text(condition, "condition",
                                                       max_len=services.MAX_TEXT)
    received = []
    # Locks taken in one order (by number), so two bulk receipts of overlapping samples
    # cannot deadlock on PostgreSQL; of the two, one wins and the other is refused.
    for number in sorted(wanted):
        own_condition = given.get(number, common)
        if own_condition is None:
            raise InvalidInput(msg("give the condition on receipt of %(number)s", number=number),
                               field=f"conditions[{number}]")
        received.append(services.receive_sample(session, actor=actor, number=number,
                                                condition=own_condition))
    return sorted(received, key=lambda s: s.id)


def assignee_names(session: Session, samples: list[Sample]) -> dict[int, str]:
    """The full names of the samples' assignees, by user id."""
    ids = {s.assignee_id for s in samples if s.assignee_id is not None}
    if not ids:
        return {}
    return {u.id: u.full_name for u in session.scalars(select(User).where(User.id.in_(ids)))}
