"""Sending work back (issue 11 §2): the reviewer returns results to the technician with a
comment per result; the signatory returns a sample to review; the preview of the document;
who may take each step. On SQLite and PostgreSQL; the race with real threads."""

from __future__ import annotations

from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import func, select

from lims.audit.models import AuditEvent
from lims.auth.services import create_user
from lims.db import unit_of_work
from lims.errors import (
    InvalidInput,
    OutsideScope,
    PermissionDenied,
    SampleStateError,
    SeparationOfDuties,
)
from lims.reports.models import Report, ReportClaim
from lims.reports.preview import preview_pdf
from lims.samples import review
from lims.samples import services as samples
from lims.samples.models import Sample
from tests.integration.test_races import race
from tests.support.world import PASSWORD, TZ


def _complete(session: Any, world: Any) -> str:
    number = world.new_sample(session)
    tech = world.user(session, "tech")
    with unit_of_work(session):
        for ch, value, unit in ((world.mass_id, "100.00", "g"), (world.length_id, "12.0", "mm")):
            samples.record_result(session, actor=tech, number=number, characteristic_id=ch,
                                  value=value, unit=unit, timezone=TZ)
        samples.complete_testing(session, actor=tech, number=number)
    return number


def _current(session: Any, number: str, characteristic_id: int) -> Any:
    sample = samples.get_sample(session, number)
    return next(r for t in sample.tests for r in t.current_results().values()
                if r.characteristic_id == characteristic_id)


def _status(session: Any, number: str) -> str:
    session.rollback()  # a fresh snapshot: other sessions (the race's threads) wrote
    return session.scalar(select(Sample.status).where(Sample.number == number))


def test_a_reviewer_returns_with_a_comment_per_result_and_the_record_stays(session, world):
    number = _complete(session, world)
    mass = _current(session, number, world.mass_id)
    reviewer, tech = world.user(session, "reviewer"), world.user(session, "tech")
    with unit_of_work(session):
        review.return_to_testing(session, actor=reviewer, number=number, comments=[
            {"result_id": mass.id, "comment": "天平读数与原始记录不符 check the balance print"}])
    assert _status(session, number) == "in testing"
    (comment,) = review.comments_of(session, samples.get_sample(session, number))
    assert (comment.result_id, comment.result_version, comment.stage) == (mass.id, 1, "review")
    assert comment.author == "Reviewer Tester" and comment.characteristic_id == world.mass_id
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "sample.return")).one()
    assert event.entity_id == number and "天平读数" in event.after

    # The technician corrects (a new version; the comment stays on the version it was about)
    # and completes again; the reviewer can now review.
    with unit_of_work(session):
        samples.correct_result(session, actor=tech, result_id=mass.id, value="100.02",
                               unit="g", reason="re-read the balance print", timezone=TZ)
        samples.complete_testing(session, actor=tech, number=number)
        samples.review_sample(session, actor=reviewer, number=number)
    assert _status(session, number) == "reviewed"
    grouped = review.by_characteristic(review.comments_of(session,
                                                          samples.get_sample(session, number)))
    assert [c.result_version for c in grouped[world.mass_id]] == [1]


def test_a_return_needs_a_comment_on_a_current_result_of_the_sample(session, world):
    number = _complete(session, world)
    other = _complete(session, world)
    foreign = _current(session, other, world.mass_id)
    reviewer = world.user(session, "reviewer")
    with pytest.raises(InvalidInput) as empty:
        with unit_of_work(session):
            review.return_to_testing(session, actor=reviewer, number=number, comments=[])
    assert empty.value.field == "comments"
    with pytest.raises(InvalidInput) as wrong:
        with unit_of_work(session):
            review.return_to_testing(session, actor=reviewer, number=number, comments=[
                {"result_id": foreign.id, "comment": "look"}])
    assert wrong.value.field == "comments[0].result_id"
    with pytest.raises(InvalidInput) as blank:
        with unit_of_work(session):
            review.return_to_testing(session, actor=reviewer, number=number, comments=[
                {"result_id": _current(session, number, world.mass_id).id, "comment": " "}])
    assert blank.value.field == "comments[0].comment"
    assert _status(session, number) == "results complete"
    assert session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == "sample.return")) == 0


def test_whoever_measured_may_not_return_or_review(session, world):
    number = _complete(session, world)
    tech = world.user(session, "tech")
    sample = samples.get_sample(session, number)
    assert review.permitted(session, tech, sample)["return"] is False
    assert review.permitted(session, world.user(session, "reviewer"), sample)["return"] is True
    with pytest.raises(PermissionDenied):  # a technician lacks the role altogether
        with unit_of_work(session):
            review.return_to_testing(session, actor=tech, number=number, reason="again")
    # Someone with both roles who entered a result may not review or return it (7.5.1).
    with unit_of_work(session):
        both = create_user(session, username="both", full_name="Both Roles",
                           password=PASSWORD, roles=["technician", "reviewer"])
        mass = _current(session, number, world.mass_id)
        samples.correct_result(session, actor=both, result_id=mass.id,
                               value="100.01", unit="g", reason="typo", timezone=TZ)
    both = world.user(session, "both")
    assert review.permitted(session, both, samples.get_sample(session, number))["return"] is False
    with pytest.raises(SeparationOfDuties):
        with unit_of_work(session):
            review.return_to_testing(session, actor=both, number=number, reason="again")


def test_a_signatory_returns_a_reviewed_or_approved_sample_to_review(session, world):
    number = world.approved_sample(session)
    signatory = world.user(session, "signatory")
    with unit_of_work(session):
        review.return_to_review(session, actor=signatory, number=number,
                                reason="结论措辞需复核 the conclusion needs another look")
    sample = samples.get_sample(session, number)
    assert _status(session, number) == "results complete"
    assert sample.approved_by_id is None and sample.reviewed_by_id is None
    (comment,) = review.comments_of(session, sample)
    assert comment.stage == "approval" and comment.result_id is None
    event = session.scalars(select(AuditEvent)
                            .where(AuditEvent.action == "sample.return_to_review")).one()
    assert '"approved"' in event.before and "结论措辞" in (event.reason or "")
    with pytest.raises(InvalidInput):
        with unit_of_work(session):
            review.return_to_review(session, actor=signatory, number=number, reason="")
    # Reviewed again, then approved again: the ordinary path resumes.
    with unit_of_work(session):
        samples.review_sample(session, actor=world.user(session, "reviewer"), number=number)
        samples.approve_sample(session, actor=signatory, number=number, password=PASSWORD)
    assert _status(session, number) == "approved"


def test_no_return_once_reported(session, world, settings):
    number, _report = world.reported_sample(session, settings)
    with pytest.raises(SampleStateError):
        with unit_of_work(session):
            review.return_to_review(session, actor=world.user(session, "signatory"),
                                    number=number, reason="too late")


def test_the_page_and_the_services_ask_the_same_questions(session, world):
    number = _complete(session, world)
    with unit_of_work(session):
        samples.review_sample(session, actor=world.user(session, "reviewer"), number=number)
    sample = samples.get_sample(session, number)
    inside, outside = world.user(session, "signatory"), world.user(session, "signatory2")
    assert review.permitted(session, inside, sample)["approve"] is True
    assert review.permitted(session, outside, sample) == {
        "complete": False, "review": False, "return": False, "approve": False,
        "return_to_review": False, "preview": False, "issue": False}
    with pytest.raises(OutsideScope):
        with unit_of_work(session):
            samples.approve_sample(session, actor=outside, number=number, password=PASSWORD)
    with pytest.raises(OutsideScope):
        with unit_of_work(session):
            review.return_to_review(session, actor=outside, number=number, reason="no")
    with unit_of_work(session):
        samples.approve_sample(session, actor=inside, number=number, password=PASSWORD)
    sample = samples.get_sample(session, number)
    assert review.permitted(session, inside, sample)["issue"] is True
    assert review.permitted(session, world.user(session, "reviewer"), sample)["issue"] is False
    with pytest.raises(OutsideScope):
        review.check_issuer(session, outside, sample)


def test_the_preview_is_the_document_unsigned_marked_and_not_stored(session, world, settings,
                                                                     tmp_path):
    number = world.approved_sample(session)
    pdf = preview_pdf(session, actor=world.user(session, "signatory"), sample_number=number,
                      settings=settings)
    session.rollback()
    assert pdf.startswith(b"%PDF")
    import io

    reader = PdfFileReader(io.BytesIO(pdf))
    assert reader.embedded_signatures == []
    from tests.support.pdf import pdftotext

    path = tmp_path / "preview.pdf"
    path.write_bytes(pdf)
    shown = pdftotext(path)
    assert "PREVIEW" in shown and "预览" in shown and "Specimen mass" in shown
    assert session.scalar(select(func.count()).select_from(Report)) == 0
    assert session.scalar(select(func.count()).select_from(ReportClaim)) == 0
    assert _status(session, number) == "approved"
    with pytest.raises(OutsideScope):
        preview_pdf(session, actor=world.user(session, "signatory2"), sample_number=number,
                    settings=settings)


def test_a_return_racing_a_review_one_wins(app, session, world):
    """The reviewer's two choices on one sample, taken at once (two tabs, two reviewers):
    returned or reviewed, never both."""
    number = _complete(session, world)
    mass = _current(session, number, world.mass_id).id

    def approve(s: Any) -> str:
        return samples.review_sample(s, actor=world.user(s, "reviewer"), number=number).status

    def send_back(s: Any) -> str:
        return review.return_to_testing(s, actor=world.user(s, "reviewer"), number=number,
                                        comments=[{"result_id": mass, "comment": "recheck"}]
                                        ).status

    outcomes = race(app, [send_back, approve] * 3)
    won = [o for o in outcomes if isinstance(o, str)]
    assert len(won) == 1, outcomes
    assert all(isinstance(o, SampleStateError) for o in outcomes if not isinstance(o, str))
    assert _status(session, number) == won[0]
    returned = session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "sample.return"))
    assert returned == (1 if won[0] == "in testing" else 0)


def test_a_return_to_review_racing_an_approval_leaves_one_consistent_state(app, session, world):
    """Approve and return-to-review at once: an approval that comes first may still be sent
    back (approved → results complete), but an approval never lands on a returned sample."""
    number = _complete(session, world)
    with unit_of_work(session):
        samples.review_sample(session, actor=world.user(session, "reviewer"), number=number)

    def approve(s: Any) -> str:
        return samples.approve_sample(s, actor=world.user(s, "signatory"), number=number,
                                      password=PASSWORD).status

    def send_back(s: Any) -> str:
        return review.return_to_review(s, actor=world.user(s, "signatory"), number=number,
                                       reason="recheck").status

    outcomes = race(app, [send_back, approve] * 3)
    won = [o for o in outcomes if isinstance(o, str)]
    assert won.count("results complete") == 1 and won.count("approved") <= 1, outcomes
    assert all(isinstance(o, SampleStateError) for o in outcomes if not isinstance(o, str))
    session.rollback()
    sample = samples.get_sample(session, number)
    assert sample.status == "results complete" and sample.approved_by_id is None


def test_a_certificate_is_previewed_too(session, world, settings, tmp_path):
    """A customer's instrument: the preview is the notice (or certificate) the issue gives,
    with its DCC built and attached as at issue."""
    from tests.support import calibration as cal
    from tests.support.pdf import pdftotext

    cal.standard(session, world)
    proc = cal.procedure(session, world, kind="verification", code="JJG 1036-2022")
    number = cal.approved_job(session, world, proc, offset="0.0009")
    pdf = preview_pdf(session, actor=world.user(session, "signatory"), sample_number=number,
                      settings=settings)
    session.rollback()
    path = tmp_path / "preview.pdf"
    path.write_bytes(pdf)
    text = pdftotext(path)
    assert "PREVIEW" in text and "检定结果通知书" in text
    assert session.scalar(select(func.count()).select_from(ReportClaim)) == 0
