"""Sending work back, and who may take each workflow step on a sample (issue 11 §2).

The reviewer approves (:func:`lims.samples.services.review_sample`) or returns the sample to
the technician with a comment per result (:func:`return_to_testing`); the signatory approves,
or returns the sample to review with the reason (:func:`return_to_review`). The comments stay
as a record: who, when, on which version of which result (ISO/IEC 17025 7.5.1, 7.7.1).

The checks of who may review, approve and issue live here once (:func:`check_reviewer`,
:func:`check_signatory`, :func:`check_issuer`): the services enforce them and the sample page
asks :func:`permitted` which buttons to show, so the two cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.accreditation.services import check_authority, sample_items
from lims.audit.services import record, snapshot
from lims.auth.models import User
from lims.auth.permissions import allowed
from lims.auth.services import require
from lims.errors import InvalidInput, NotTheApprover, PermissionDenied, SeparationOfDuties, msg
from lims.samples.lifecycle import SampleStatus, check_transition
from lims.samples.models import ReviewComment, Sample
from lims.validate import as_id, text

MAX_COMMENT = 2000
MAX_COMMENTS = 200  # no sample has more results than this in one return

# Where a sample was sent back from (ReviewComment.stage).
FROM_REVIEW = "review"
FROM_APPROVAL = "approval"


# --- who may -------------------------------------------------------------------------------

def _authors(sample: Sample) -> set[int]:
    from lims.samples.services import result_authors  # services builds on this module

    return result_authors(sample)


def check_reviewer(actor: User, sample: Sample, *,
                   doing: Literal["review them", "return them"] = "review them") -> None:
    """The reviewer's rules: the role, and not having entered any result of the sample
    (ISO/IEC 17025 7.5.1: the review is by someone other than who measured).

    :raises PermissionDenied: :raises SeparationOfDuties:
    """
    require(actor, "sample.review")
    if actor.id in _authors(sample):
        # Whole sentences per action, so that the catalog translates the verb too.
        message = (msg("%(user)s entered results of %(number)s and may not return them",
                       user=actor.username, number=sample.number) if doing == "return them"
                   else msg("%(user)s entered results of %(number)s and may not review them",
                            user=actor.username, number=sample.number))
        raise SeparationOfDuties(message, sample=sample.number)


def check_signatory(session: Session, actor: User, sample: Sample, *,
                    doing: Literal["approve them", "return them"] = "approve them") -> None:
    """The approving signatory's rules: the role, authorised for every item of the sample
    (RB/T 214 4.2.4: scope items, or fields outside the accredited scope), and neither measured
    nor reviewed it (ISO/IEC 17025 7.5.1, RB/T 214 4.5.20).

    :raises PermissionDenied: :raises OutsideScope: :raises SeparationOfDuties:
    """
    require(actor, "sample.approve")
    check_authority(session, actor=actor, items=sample_items(sample), sample=sample.number)
    if actor.id in _authors(sample) or actor.id == sample.reviewed_by_id:
        message = (msg("%(user)s entered or reviewed results of %(number)s and may not "
                       "return them", user=actor.username, number=sample.number)
                   if doing == "return them"
                   else msg("%(user)s entered or reviewed results of %(number)s and may not "
                            "approve them", user=actor.username, number=sample.number))
        raise SeparationOfDuties(message, sample=sample.number)


def check_issuer(session: Session, actor: User, sample: Sample) -> None:
    """The issuing signatory's rules: those of approval, and the very signatory who approved
    (the report names its approver and carries their signature, RP-07).

    :raises PermissionDenied: :raises SeparationOfDuties: :raises OutsideScope:
    :raises NotTheApprover:
    """
    require(actor, "report.issue")
    if actor.id in _authors(sample) or actor.id == sample.reviewed_by_id:
        raise SeparationOfDuties(msg("%(user)s entered or reviewed results of "
                                     "%(number)s and may not issue its report",
                                     user=actor.username, number=sample.number),
                                 sample=sample.number)
    check_authority(session, actor=actor, items=sample_items(sample), sample=sample.number)
    if sample.approved_by_id != actor.id:
        raise NotTheApprover(msg("%(number)s was approved by another signatory; only they "
                                 "can sign its report",
                                 number=sample.number), sample=sample.number)


def permitted(session: Session, actor: User, sample: Sample) -> dict[str, bool]:
    """Which workflow steps ``actor`` may take on ``sample`` now: the state, the role and the
    same checks the services enforce (they still enforce them on every POST)."""
    status = sample.status

    def may(check: Any, *args: Any) -> bool:
        try:
            check(*args)
        except PermissionDenied:
            return False
        return True

    reviewer = status == SampleStatus.RESULTS_COMPLETE and may(check_reviewer, actor, sample)
    signatory = (status in (SampleStatus.REVIEWED, SampleStatus.APPROVED)
                 and may(check_signatory, session, actor, sample))
    issuer = status == SampleStatus.APPROVED and may(check_issuer, session, actor, sample)
    return {
        "complete": status == SampleStatus.IN_TESTING and allowed(actor.roles,
                                                                  "sample.complete"),
        "review": reviewer, "return": reviewer,
        "approve": signatory and status == SampleStatus.REVIEWED,
        "return_to_review": signatory, "preview": issuer, "issue": issuer,
    }


# --- sending back --------------------------------------------------------------------------

def _parse_comments(comments: Any) -> list[tuple[int, str]]:
    if comments in (None, ""):
        return []
    if not isinstance(comments, list | tuple):
        raise InvalidInput(msg("must be a list of {result_id, comment}"), field="comments")
    if len(comments) > MAX_COMMENTS:
        raise InvalidInput(msg("at most %(count)s comments", count=MAX_COMMENTS), field="comments")
    parsed = []
    for i, item in enumerate(comments):
        if not isinstance(item, dict):
            raise InvalidInput(msg("must be an object"), field=f"comments[{i}]")
        parsed.append((as_id(item.get("result_id"), f"comments[{i}].result_id"),
                       text(item.get("comment"), f"comments[{i}].comment",
                            max_len=MAX_COMMENT, multiline=True)))
    return parsed


def return_to_testing(session: Session, *, actor: User, number: str, comments: Any = None,
                      reason: Any = None) -> Sample:
    """The reviewer sends a sample whose results are complete back to the technician, with a
    comment on each result to look at (``[{"result_id", "comment"}]``, current results of the
    sample) and/or a reason for the whole; the sample is in testing again, its results open
    for correction (a correction keeps the original, 7.5.2).

    :raises InvalidInput: neither a comment nor a reason; a result that is not a current one
        of the sample; a comment empty or too long (each names its field).
    :raises SampleStateError: the sample's results are not complete (an approval or another
        return came first). :raises SeparationOfDuties: the reviewer entered results.
    """
    require(actor, "sample.review")
    parsed = _parse_comments(comments)
    why = text(reason, "reason", required=False, max_len=MAX_COMMENT, multiline=True)
    if not parsed and not why:
        raise InvalidInput(msg("say what to correct: a comment on a result, or a reason"),
                           field="comments")
    sample = _locked(session, number)
    check_transition(sample.status, SampleStatus.IN_TESTING, sample=sample.number,
                     returning=True)
    check_reviewer(actor, sample, doing="return them")
    current = {r.id: r for t in sample.tests for r in t.current_results().values()}
    for i, (rid, _comment) in enumerate(parsed):
        if rid not in current:
            raise InvalidInput(msg("result %(result)s is not a current result of sample "
                                   "%(number)s", result=rid, number=sample.number),
                               field=f"comments[{i}].result_id")
    rows = [ReviewComment(sample_id=sample.id, result_id=rid, result_version=current[rid].version,
                          stage=FROM_REVIEW, comment=comment, author_id=actor.id)
            for rid, comment in parsed]
    if why:
        rows.append(ReviewComment(sample_id=sample.id, stage=FROM_REVIEW, comment=why,
                                  author_id=actor.id))
    _send_back(session, sample, SampleStatus.IN_TESTING, actor=actor, rows=rows,
               action="sample.return", reason=why or None)
    return sample


def return_to_review(session: Session, *, actor: User, number: str, reason: Any) -> Sample:
    """The signatory sends a reviewed (or approved, not yet reported) sample back to review,
    with the reason: the review and any approval are undone (the audit event keeps them) and
    the sample is "results complete" again, for the reviewer to review or return it.

    :raises InvalidInput: no reason. :raises SampleStateError: not reviewed or approved now
        (a report was issued, or another step came first).
    :raises OutsideScope: :raises SeparationOfDuties: as for approval.
    """
    require(actor, "sample.approve")
    why = text(reason, "reason", max_len=MAX_COMMENT, multiline=True)
    sample = _locked(session, number)
    check_transition(sample.status, SampleStatus.RESULTS_COMPLETE, sample=sample.number,
                     returning=True)
    check_signatory(session, actor, sample, doing="return them")
    rows = [ReviewComment(sample_id=sample.id, stage=FROM_APPROVAL, comment=why,
                          author_id=actor.id)]
    _send_back(session, sample, SampleStatus.RESULTS_COMPLETE, actor=actor, rows=rows,
               action="sample.return_to_review", reason=why, reviewed_at=None,
               reviewed_by_id=None, approved_at=None, approved_by_id=None, conclusion=None,
               conclusion_reason=None)
    return sample


def _locked(session: Session, number: str) -> Sample:
    from lims.samples.services import get_sample

    # The row lock: of a return racing an approval (or a review, or another return) exactly
    # one wins and the other sees the state it left.
    return get_sample(session, number, lock=True)


def _send_back(session: Session, sample: Sample, target: SampleStatus, *, actor: User,
               rows: list[ReviewComment], action: str, reason: str | None,
               **changes: Any) -> None:
    before = snapshot(sample)
    sample.status = target
    for key, value in changes.items():
        setattr(sample, key, value)
    session.add_all(rows)
    session.flush()
    record(session, actor=actor, action=action, entity_type="samples", entity_id=sample.number,
           before=before, reason=reason,
           after={**snapshot(sample), "comments": [
               {"id": c.id, "result_id": c.result_id, "result_version": c.result_version,
                "comment": c.comment} for c in rows]})


# --- reading -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Comment:
    """A comment as pages and the API show it."""

    id: int
    result_id: int | None
    result_version: int | None
    characteristic_id: int | None
    stage: str
    comment: str
    author: str
    author_id: int
    at: dt.datetime

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "result_id": self.result_id,
                "result_version": self.result_version,
                "characteristic_id": self.characteristic_id, "stage": self.stage,
                "comment": self.comment, "author": self.author, "author_id": self.author_id,
                "created_at": self.at.isoformat()}


def comments_of(session: Session, sample: Sample) -> list[Comment]:
    """Every comment given when the sample was sent back, oldest first."""
    rows = session.execute(
        select(ReviewComment, User.full_name).join(User, User.id == ReviewComment.author_id)
        .where(ReviewComment.sample_id == sample.id).order_by(ReviewComment.id))
    return [Comment(c.id, c.result_id, c.result_version,
                    c.result.characteristic_id if c.result is not None else None, c.stage,
                    c.comment, name, c.author_id, c.created_at) for c, name in rows]


def by_characteristic(comments: list[Comment]) -> dict[int | None, list[Comment]]:
    """The comments beside each characteristic's row (whatever version they were on; a
    correction is a new version), newest first; ``None``: those on the whole sample."""
    grouped: dict[int | None, list[Comment]] = {}
    for c in reversed(comments):
        grouped.setdefault(c.characteristic_id, []).append(c)
    return grouped


def page_context(session: Session, actor: User, sample: Sample) -> dict[str, Any]:
    """What the sample page's workflow block and comments need: which steps ``actor`` may
    take (``workflow``), the comments by characteristic (``review_notes``) and the current
    results a return can comment on (``returnable``)."""
    notes = by_characteristic(comments_of(session, sample))
    current = [(t, r) for t in sample.tests for ch in t.method.characteristics
               for r in [t.current_results().get(ch.id)] if r is not None]
    from lims.samples.services import APPROVAL_MEANING

    return {"workflow": permitted(session, actor, sample), "review_notes": notes,
            "returnable": current, "approval_meaning": APPROVAL_MEANING}
