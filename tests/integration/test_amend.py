"""Amend, supersede and withdraw issued reports (ISO/IEC 17025 7.8.8) on both databases: every
transition allowed and refused, the replacement names the original, both files stay valid,
the audit chain verifies, and of concurrent amendments exactly one wins."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select, text

from lims.audit.models import AuditEvent
from lims.audit.records import verify_records
from lims.audit.services import verify_chain
from lims.db import unit_of_work
from lims.errors import (
    InvalidInput,
    NotFound,
    OutsideScope,
    PermissionDenied,
    SampleStateError,
)
from lims.reports import amend
from lims.reports.amend import ReportStateError, amend_report, withdraw_report
from lims.reports.models import Report, ReportAmendment
from lims.reports.services import issue_report, stored_pdf
from lims.reports.sign import validate_pdf
from lims.samples import services as samples
from lims.samples.lifecycle import TRANSITIONS, SampleStatus, check_transition
from lims.samples.models import Result, Sample
from tests.integration.test_races import race
from tests.support.pdf import nss_db, pdfsig, pdftotext
from tests.support.world import PASSWORD, TZ


def _records_match(session: Any) -> None:
    """Every report and sample row is what its audit events say (``lims audit verify
    --records``): each status change was audited."""
    records = verify_records(session)
    assert records.ok, [str(p) for p in records.problems]


def _report(session: Any, number: str) -> Report:
    session.expire_all()
    report = session.scalar(select(Report).where(Report.number == number))
    assert report is not None
    return report


def _sample(session: Any, number: str) -> Sample:
    session.expire_all()
    sample = session.scalar(select(Sample).where(Sample.number == number))
    assert sample is not None
    return sample


def _actions(session: Any, seq: int) -> list[str]:
    session.rollback()
    return list(session.scalars(select(AuditEvent.action).where(AuditEvent.seq > seq)
                                .order_by(AuditEvent.seq)))


def _seq(session: Any) -> int:
    session.rollback()
    return session.scalar(select(func.max(AuditEvent.seq))) or 0


def _amend(session: Any, world: Any, number: str, who: str = "signatory",
           reason: str = "mass misread: 100.00 g corrected to 100.40 g") -> ReportAmendment:
    with unit_of_work(session):
        return amend_report(session, actor=world.user(session, who), number=number,
                            reason=reason)


def _reissue(session: Any, world: Any, settings: Any, sample_number: str,
             value: str = "100.40") -> Report:
    """Correct the mass, complete, review, approve and issue again."""
    tech = world.user(session, "tech")
    sample = _sample(session, sample_number)
    mass = next(r for t in sample.tests for r in t.current_results().values()
                if r.characteristic_id == world.mass_id)
    with unit_of_work(session):
        samples.correct_result(session, actor=tech, result_id=mass.id, value=value, unit="g",
                               reason="misread at the balance", timezone=TZ)
        samples.complete_testing(session, actor=tech, number=sample_number)
        samples.review_sample(session, actor=world.user(session, "reviewer"),
                              number=sample_number)
        samples.approve_sample(session, actor=world.user(session, "signatory"),
                               number=sample_number, password=PASSWORD)
        return issue_report(session, actor=world.user(session, "signatory"),
                            sample_number=sample_number, settings=settings, password=PASSWORD)


def test_amend_correct_review_approve_issue_supersedes_the_original(session, world, settings,
                                                                   pki_dir, tmp_path):
    sample_number, old_number = world.reported_sample(session, settings)
    old_sha = _report(session, old_number).sha256
    seq = _seq(session)
    amendment = _amend(session, world, old_number)
    assert _actions(session, seq) == ["report.amend", "sample.reopen"]
    sample = _sample(session, sample_number)
    # Back to correction, review and approval cleared (they must be done again).
    assert sample.status == SampleStatus.IN_TESTING
    assert (sample.reviewed_by_id, sample.approved_by_id, sample.reviewed_at,
            sample.approved_at) == (None, None, None, None)
    assert _report(session, old_number).status == "issued"  # valid until replaced
    assert amend.open_amendment(session, _report(session, old_number).id) is not None

    new = _reissue(session, world, settings, sample_number)
    new_number = new.number
    assert new_number != old_number
    old, new = _report(session, old_number), _report(session, new_number)
    assert (old.status, new.status) == ("superseded", "issued")
    assert new.supersedes_id == old.id and new.kind == "test_report"
    assert new.amendment_reason == "mass misread: 100.00 g corrected to 100.40 g"
    content = json.loads(new.content)
    assert content["supersedes"] == old_number
    assert content["amendment"] == new.amendment_reason
    # Results keep their versions: the original value is still there, the new one is v2.
    versions = sorted((r.version, r.value, r.is_current) for r in session.scalars(
        select(Result).where(Result.characteristic_id == world.mass_id,
                             Result.test.has(sample_id=old.sample_id))))
    assert versions == [(1, "100.00", False), (2, "100.40", True)]
    assert [r["value"] for r in json.loads(old.content)["results"]
            if r["characteristic"] == "Specimen mass"] == ["100.00"]
    assert old.sha256 == old_sha  # the original's file and hash are untouched
    session.expire_all()
    closed = session.get(ReportAmendment, amendment.id)
    assert closed.finished_at is not None and closed.new_report_id == new.id
    assert amend.superseded_by(session, [old.id]) == {old.id: new_number}

    # Both PDFs stay retrievable, valid, and say what they are.
    ca = (pki_dir / "ca.pem").read_bytes()
    nss = nss_db(tmp_path, ca)
    for report in (old, new):
        pdf = stored_pdf(report)
        check = validate_pdf(pdf, ca)
        assert check is not None and check.ok
        path = tmp_path / f"{report.number}.pdf"
        path.write_bytes(pdf)
        out = pdfsig(path, nss)  # poppler, independently of pyHanko
        assert out.count("Signature is Valid.") == 2 and "Total document signed" in out, out
    path = tmp_path / "new.pdf"
    path.write_bytes(stored_pdf(new))
    printed = " ".join(pdftotext(path).split())
    assert f"本报告代替 {old_number}" in printed and f"This report replaces {old_number}" in printed
    assert "mass misread" in printed
    assert "report.supersede" in _actions(session, seq)
    assert verify_chain(session).ok
    _records_match(session)

    # Superseded is final: neither amended nor withdrawn; the replacement can be, in turn.
    with pytest.raises(ReportStateError, match="superseded"), unit_of_work(session):
        amend_report(session, actor=world.user(session, "signatory"), number=old_number,
                     reason="again")
    with pytest.raises(ReportStateError, match=f"by {new_number}"), unit_of_work(session):
        withdraw_report(session, actor=world.user(session, "qm"), number=old_number,
                        reason="x", category="error")
    _amend(session, world, new_number, who="qm", reason="second amendment")
    assert _sample(session, sample_number).status == SampleStatus.IN_TESTING


def test_withdraw_and_what_is_refused(session, world, settings):
    _sample_number, number = world.reported_sample(session, settings)
    # Bad input: the field named, nothing written.
    seq = _seq(session)
    for kwargs, field in (({"reason": " "}, "reason"), ({"reason": None}, "reason"),
                          ({"category": "oops"}, "category"), ({"category": ""}, "category")):
        with pytest.raises(InvalidInput) as exc, unit_of_work(session):
            withdraw_report(session, actor=world.user(session, "qm"), number=number,
                            **{"reason": "why", "category": "error", **kwargs})
        assert exc.value.field == field
    with pytest.raises(InvalidInput) as exc, unit_of_work(session):
        amend_report(session, actor=world.user(session, "qm"), number=number, reason="")
    assert exc.value.field == "reason"
    for who in ("tech", "reviewer", "auditor", "admin"):
        with pytest.raises(PermissionDenied), unit_of_work(session):
            withdraw_report(session, actor=world.user(session, who), number=number,
                            reason="x", category="error")
        with pytest.raises(PermissionDenied), unit_of_work(session):
            amend_report(session, actor=world.user(session, who), number=number, reason="x")
    # A signatory outside the report's scope (electrical, the report is textiles).
    with pytest.raises(OutsideScope), unit_of_work(session):
        amend_report(session, actor=world.user(session, "signatory2"), number=number,
                     reason="x")
    with pytest.raises(NotFound), unit_of_work(session):
        withdraw_report(session, actor=world.user(session, "qm"), number="NOPE-1",
                        reason="x", category="error")
    assert _actions(session, seq) == []
    assert _report(session, number).status == "issued"

    with unit_of_work(session):
        withdraw_report(session, actor=world.user(session, "qm"), number=number,
                        reason="wrong item tested", category="customer request")
    report = _report(session, number)
    assert report.status == "withdrawn" and report.withdrawn_at is not None
    assert report.withdrawn_by_id == world.user(session, "qm").id
    assert (report.withdrawal_reason, report.withdrawal_category) == (
        "wrong item tested", "customer request")
    assert _actions(session, seq) == ["report.withdraw"]
    event = session.scalars(select(AuditEvent).where(AuditEvent.seq > seq)).one()
    assert event.reason == "wrong item tested" and event.entity_id == number

    # Withdrawn is final.
    seq = _seq(session)
    with pytest.raises(ReportStateError, match="withdrawn"), unit_of_work(session):
        withdraw_report(session, actor=world.user(session, "qm"), number=number, reason="x",
                        category="error")
    with pytest.raises(ReportStateError, match="withdrawn"), unit_of_work(session):
        amend_report(session, actor=world.user(session, "qm"), number=number, reason="x")
    assert _actions(session, seq) == []
    assert verify_chain(session).ok
    _records_match(session)


def test_one_amendment_at_a_time_and_a_report_under_amendment_can_be_withdrawn(
        session, world, settings):
    sample_number, number = world.reported_sample(session, settings)
    _amend(session, world, number)
    seq = _seq(session)
    with pytest.raises(ReportStateError, match="already being amended"):
        _amend(session, world, number, who="qm")
    assert _actions(session, seq) == []
    # A recall does not wait for the correction: the original is withdrawn now …
    with unit_of_work(session):
        withdraw_report(session, actor=world.user(session, "qm"), number=number,
                        reason="balance EQ-1 out of tolerance", category="recall")
    # … and its replacement still names it, while it stays withdrawn.
    new = _reissue(session, world, settings, sample_number)
    assert (_report(session, number).status, _report(session, new.number).status) == (
        "withdrawn", "issued")
    assert json.loads(_report(session, new.number).content)["supersedes"] == number
    assert verify_chain(session).ok
    _records_match(session)


def test_the_sample_cannot_be_reopened_but_by_an_amendment(session, world, settings):
    sample_number, number = world.reported_sample(session, settings)
    # The ordinary lifecycle keeps reported final; only an amendment reopens it.
    assert TRANSITIONS[SampleStatus.REPORTED] == frozenset()
    with pytest.raises(SampleStateError):
        check_transition("reported", SampleStatus.IN_TESTING, sample="S1")
    check_transition("reported", SampleStatus.IN_TESTING, sample="S1", amendment=True)
    for state in set(SampleStatus) - {SampleStatus.REPORTED}:
        with pytest.raises(SampleStateError):
            check_transition(state, SampleStatus.IN_TESTING, sample="S1", amendment=True)
    # Results cannot be corrected on a reported sample …
    mass = next(r for t in _sample(session, sample_number).tests
                for r in t.current_results().values())
    with pytest.raises(SampleStateError), unit_of_work(session):
        samples.correct_result(session, actor=world.user(session, "tech"), result_id=mass.id,
                               value="100.10", unit="g", reason="x", timezone=TZ)
    # … nor a sample whose state was moved behind the amendment's back be reopened.
    with unit_of_work(session):
        session.execute(text("UPDATE samples SET status = 'approved' WHERE number = :n"),
                        {"n": sample_number})
    with pytest.raises(SampleStateError):
        _amend(session, world, number)
    assert session.scalar(select(func.count()).select_from(ReportAmendment)) == 0


def test_issued_report_columns_stay_frozen(session, world, settings):
    """The append-only guard covers the new columns written at issue (migration 0008)."""
    _sample_number, number = world.reported_sample(session, settings)
    for column, value in (("kind", "'calibration_certificate'"), ("amendment_reason", "'x'"),
                          ("sha256", "'0'")):
        with pytest.raises(Exception, match="append-only"), unit_of_work(session):
            session.execute(text(f"UPDATE reports SET {column} = {value} "  # noqa: S608
                                 "WHERE number = :n"), {"n": number})
    assert _report(session, number).kind == "test_report"


@pytest.mark.postgres
def test_concurrent_amendments_one_wins(app, session, world, settings, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers; the race shows on PostgreSQL")
    sample_number, number = world.reported_sample(session, settings)

    def attempt(who: str) -> Any:
        def run(s: Any) -> int:
            return amend_report(s, actor=world.user(s, who), number=number,
                                reason=f"by {who}").id
        return run

    outcomes = race(app, [attempt("signatory"), attempt("qm")] * 3)
    won = [o for o in outcomes if isinstance(o, int)]
    assert len(won) == 1, outcomes
    assert all(isinstance(o, ReportStateError | SampleStateError)
               for o in outcomes if not isinstance(o, int)), outcomes
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ReportAmendment)) == 1
    assert _sample(session, sample_number).status == SampleStatus.IN_TESTING
    assert verify_chain(session).ok
    _records_match(session)


@pytest.mark.postgres
def test_concurrent_withdraw_and_amend_one_wins(app, session, world, settings, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers; the race shows on PostgreSQL")
    for _ in range(3):
        _sample_number, number = world.reported_sample(session, settings)

        def withdraw(s: Any, number: str = number) -> str:
            return withdraw_report(s, actor=world.user(s, "qm"), number=number, reason="x",
                                   category="error").status

        def amending(s: Any, number: str = number) -> str:
            amend_report(s, actor=world.user(s, "signatory"), number=number, reason="y")
            return "amending"

        outcomes = race(app, [withdraw, withdraw, amending, amending])
        assert sum(o == "withdrawn" for o in outcomes) <= 1, outcomes
        assert sum(o == "amending" for o in outcomes) <= 1, outcomes
        assert all(isinstance(o, str | ReportStateError) for o in outcomes), outcomes
        assert any(isinstance(o, str) for o in outcomes), outcomes
    assert verify_chain(session).ok
    _records_match(session)


def test_a_withdrawal_rewritten_behind_the_applications_back_is_flagged(session, world,
                                                                        settings):
    """A database owner who drops the guard (``reports_final``) and rewrites who withdrew,
    why or the category is caught: ``lims audit verify --records`` compares them with the
    ``report.withdraw`` event (ISO/IEC 17025 7.5, 7.8.8.1)."""
    _sample_number, number = world.reported_sample(session, settings)
    with unit_of_work(session):
        withdraw_report(session, actor=world.user(session, "qm"), number=number,
                        reason="wrong item tested", category="customer request")
    _records_match(session)
    with unit_of_work(session):
        on = " ON reports" if session.get_bind().dialect.name == "postgresql" else ""
        session.execute(text(f"DROP TRIGGER reports_final{on}"))
    signatory = world.user(session, "signatory").id
    for column, value in (("withdrawal_reason", "'routine'"), ("withdrawal_category", "'other'"),
                          ("withdrawn_by_id", str(signatory))):
        with unit_of_work(session):
            before = session.scalar(text(f"SELECT {column} FROM reports "  # noqa: S608
                                         "WHERE number = :n"), {"n": number})
            session.execute(text(f"UPDATE reports SET {column} = {value} "  # noqa: S608
                                 "WHERE number = :n"), {"n": number})
        problems = [str(p) for p in verify_records(session).problems]
        assert len(problems) == 1 and number in problems[0], (column, problems)
        with unit_of_work(session):
            session.execute(text(f"UPDATE reports SET {column} = :v "  # noqa: S608
                                 "WHERE number = :n"), {"v": before, "n": number})
        _records_match(session)


def test_superseded_and_withdrawn_are_final_at_the_database(session, world, settings):
    """Who withdrew, when, why, and a final status cannot be rewritten even with SQL
    (migration 0011, ``reports_final``); an issued report's status still changes once."""
    _sample_number, number = world.reported_sample(session, settings)
    with unit_of_work(session):
        withdraw_report(session, actor=world.user(session, "qm"), number=number,
                        reason="wrong item tested", category="customer request")
    for column, value in (("status", "'issued'"), ("withdrawal_reason", "'routine'"),
                          ("withdrawal_category", "'other'"), ("withdrawn_at", "NULL"),
                          ("withdrawn_by_id", "NULL")):
        with pytest.raises(Exception, match="append-only"), unit_of_work(session):
            session.execute(text(f"UPDATE reports SET {column} = {value} "  # noqa: S608
                                 "WHERE number = :n"), {"n": number})
    report = _report(session, number)
    assert (report.status, report.withdrawal_reason) == ("withdrawn", "wrong item tested")
    _records_match(session)
