"""Issuing in three steps: no lock is held while a report is rendered and signed, and a claim a
crashed worker left behind is finished under the same number (issue 8, finding 9)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from lims.audit.services import verify_chain
from lims.db import unit_of_work
from lims.errors import LimsError, ReportError, SampleStateError
from lims.reports import issuing, services
from lims.reports.models import Report, ReportClaim
from lims.reports.sign import validate_pdf
from lims.samples.models import Sample
from lims.scheduler import run_job
from tests.support.world import PASSWORD


def _issue(app: Any, world: Any, settings: Any, number: str) -> Any:
    session = app.extensions["lims"].sessionmaker()
    try:
        return issuing.issue_in_steps(session, actor=world.user(session, "signatory"),
                                      sample_number=number, settings=settings,
                                      password=PASSWORD).number
    except LimsError as exc:
        return exc
    finally:
        session.close()


def test_eight_concurrent_issues_in_steps_give_one_report(app, session, world, settings):
    number = world.approved_sample(session)
    outcomes: list[Any] = [None] * 8
    barrier = threading.Barrier(8)

    def run(i: int) -> None:
        barrier.wait()
        outcomes[i] = _issue(app, world, settings, number)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    issued = [o for o in outcomes if isinstance(o, str)]
    assert len(issued) == 1, outcomes
    assert all(isinstance(o, SampleStateError) for o in outcomes if not isinstance(o, str))
    sample = session.scalar(select(Sample).where(Sample.number == number))
    assert session.scalar(select(func.count()).select_from(Report)
                          .where(Report.sample_id == sample.id)) == 1


def test_no_lock_is_held_while_a_report_is_signed(app, session, world, settings, monkeypatch):
    """While one issue is inside its signing step, another sample's report is issued start to
    finish: neither the sample's row lock nor the number series' is held through signing."""
    first, second = world.approved_sample(session), world.approved_sample(session)
    signing, release, signed = threading.Event(), threading.Event(), threading.Event()
    real_sign = issuing.sign_claim

    def slow_sign(claimed: Any, s: Any) -> Any:
        if claimed.content.sample_number != first:
            return real_sign(claimed, s)
        signing.set()
        release.wait(30)  # bounded, so a regression fails below instead of hanging
        try:
            return real_sign(claimed, s)
        finally:
            signed.set()

    monkeypatch.setattr(issuing, "sign_claim", slow_sign)
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(_issue(app, world, settings, first)))
    worker.start()
    try:
        assert signing.wait(60)
        # The first report is claimed (its sample is reported, its number taken) but unsigned.
        second_number = _issue(app, world, settings, second)
        assert isinstance(second_number, str), second_number
        assert not signed.is_set(), "the second issue waited for the first one's signing"
        assert session.scalar(select(Report.id).where(Report.number == second_number))
        with pytest.raises(ReportError, match="being signed"):
            services.get_report(session, session.scalar(
                select(ReportClaim.number).where(ReportClaim.finished_at.is_(None))))
    finally:
        release.set()
        worker.join(timeout=120)
    assert isinstance(outcome[0], str)
    session.rollback()  # end the read snapshot: see what the other sessions committed
    numbers = sorted(session.scalars(select(Report.number)))
    assert len(numbers) == len(set(numbers)) == 2


def _claim_and_crash(session: Any, world: Any, settings: Any) -> services.Claimed:
    """What a worker killed between claiming and storing leaves behind: a committed claim."""
    number = world.approved_sample(session)
    with unit_of_work(session):
        return services.claim_report(session, actor=world.user(session, "signatory"),
                                     sample_number=number, settings=settings,
                                     password=PASSWORD)


def test_the_recovery_job_finishes_an_abandoned_claim_under_its_number(
        app, session, world, settings, pki_dir, monkeypatch):
    claimed = _claim_and_crash(session, world, settings)
    # A fresh claim is left to the worker that took it.
    assert run_job("report-recovery", app) == {"finished": [], "failed": []}
    monkeypatch.setattr(issuing, "RECOVER_AFTER", dt.timedelta(0))
    assert run_job("report-recovery", app) == {"finished": [claimed.number], "failed": []}
    session.rollback()  # end the read snapshot: see what the other sessions committed
    report = services.get_report(session, claimed.number)
    assert report.issued_by_id == claimed.signatory.id
    assert report.issued_at == claimed.content.issued_at
    verdict = validate_pdf(services.stored_pdf(report), (pki_dir / "ca.pem").read_bytes())
    assert verdict.ok, verdict
    # Sealed by the lab, then signed by the approver who claimed it, with the meaning.
    assert verdict.seal is not None
    assert verdict.approval.name == claimed.signatory.full_name
    assert verdict.approval.reason.startswith("批准 Approved")
    assert verify_chain(session).ok
    # Nothing left to do, and the next issue takes the next number: no gap, no reuse.
    assert run_job("report-recovery", app) == {"finished": [], "failed": []}
    nxt = _issue(app, world, settings, world.approved_sample(session))
    assert int(nxt[-6:]) == int(claimed.number[-6:]) + 1


def test_a_claim_is_stored_exactly_once(session, world, settings):
    claimed = _claim_and_crash(session, world, settings)
    signed = services.sign_claim(claimed, settings)
    with unit_of_work(session):
        services.store_report(session, claimed, signed)
    with pytest.raises(ReportError, match="already stored"), unit_of_work(session):
        services.store_report(session, claimed, services.sign_claim(claimed, settings))
    assert session.scalar(select(func.count()).select_from(Report)
                          .where(Report.number == claimed.number)) == 1


def test_a_claim_that_cannot_be_signed_stays_for_the_job(app, session, world, settings,
                                                          monkeypatch):
    """An unreachable time-stamping authority (a real HTTP TSA URL nobody answers): the API
    says the number is allocated and will be finished; the job retries once the authority
    answers again."""
    number = world.approved_sample(session)
    down = dataclasses.replace(settings, tsa_url="http://127.0.0.1:9/tsa")  # discard port
    outcome = _issue(app, world, down, number)
    assert isinstance(outcome, ReportError)
    assert "finished under the same number" in str(outcome)
    monkeypatch.setattr(issuing, "RECOVER_AFTER", dt.timedelta(0))
    with unit_of_work(session):
        result = issuing.finish_pending_reports(session, down)
    assert result["finished"] == [] and len(result["failed"]) == 1
    assert run_job("report-recovery", app)["finished"] == [result["failed"][0]["number"]]
