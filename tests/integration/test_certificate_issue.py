"""Issuing calibration and verification certificates and notices of customers' instruments
(issue 10), on both databases: the kind and series, the DCC built, validated and embedded
before signing (one PAdES signature covers both: pyHanko, pdfsig, pdfdetach), the DCC read
back with the same values, U and k, the marks from the accredited scope, and amendment and
withdrawal of a certificate."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lims.accreditation import services as scope
from lims.calibration import work
from lims.calibration.dcc import parse_dcc
from lims.db import unit_of_work
from lims.errors import NotFound
from lims.reports.amend import amend_report, withdraw_report
from lims.reports.attachments import extract_dcc
from lims.reports.models import Report
from lims.reports.services import issue_report, stored_dcc, stored_pdf
from lims.reports.sign import validate_pdf
from lims.samples import services as samples
from tests.conftest import require_binary
from tests.support.calibration import approved_job, procedure, standard
from tests.support.pdf import nss_db, pdfsig, pdftotext
from tests.support.world import PASSWORD, TZ


def _issue(session: Any, world: Any, settings: Any, number: str) -> Report:
    with unit_of_work(session):
        report = issue_report(session, actor=world.user(session, "signatory"),
                              sample_number=number, settings=settings, password=PASSWORD)
    session.expire_all()
    return session.scalar(select(Report).where(Report.number == report.number))


def _check_pdf(report: Report, pki_dir: Path, tmp_path: Path) -> str:
    """Both signatures valid by pyHanko and by poppler, the DCC listed by pdfdetach; returns
    the printed text."""
    pdf = stored_pdf(report)
    ca = (pki_dir / "ca.pem").read_bytes()
    check = validate_pdf(pdf, ca)
    assert check is not None and check.ok
    assert [s.certifying for s in check.signatures] == [True, False]  # lab seal, then approver
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / f"{report.number}.pdf"
    path.write_bytes(pdf)
    out = pdfsig(path, nss_db(tmp_path, ca))
    assert out.count("Signature is Valid.") == 2 and "Total document signed" in out, out
    listed = subprocess.run([require_binary("pdfdetach"), "-list", str(path)],
                            capture_output=True, text=True, check=True).stdout
    assert f"{report.number}.dcc.xml" in listed, listed
    return " ".join(pdftotext(path).split())


def test_a_calibration_certificate_carries_its_dcc_under_one_signature(session, world, settings,
                                                                        pki_dir, tmp_path):
    standard(session, world, n_points=5)
    number = approved_job(session, world, procedure(session, world, n_points=5))
    report = _issue(session, world, settings, number)

    assert report.kind == "calibration_certificate" and report.number.startswith("JZ")
    printed = _check_pdf(report, pki_dir, tmp_path)
    assert "校准证书" in printed and "CALIBRATION CERTIFICATE" in printed.upper()
    assert "JJF 1847-2020" in printed and "W-1" in printed  # procedure, standard's certificate
    assert printed.count("relate only to the item calibrated") == 1  # said once (7.8.2.1 j)
    # The XML the signature covers is the one stored and exported, and it validates.
    xml = stored_dcc(report)
    assert xml == report.dcc == extract_dcc(stored_pdf(report))
    parsed = parse_dcc(xml, provider_kind="in-house")
    assert parsed.number == report.number and parsed.item.serial_number == "C123"
    sample, job = work.get_job(session, number)
    computed = work.final_results(work.compute(session, sample, job))
    errors = [r for r in parsed.results if r.expanded_uncertainty is not None
              and r.nominal is not None and Decimal(r.value) < 1]
    assert [(r.nominal, Decimal(r.value), r.expanded_uncertainty, r.k) for r in errors] == [
        (p.nominal, Decimal(p.error), p.expanded_uncertainty, p.k) for p in computed], errors
    content = json.loads(report.content)
    assert content["kind"] == "calibration_certificate"
    assert [p["seq"] for p in content["points"]] == [1, 2, 3, 4, 5]  # the procedure's points


def test_verification_gives_a_certificate_or_a_notice(session, world, settings, pki_dir,
                                                      tmp_path):
    standard(session, world)
    proc = procedure(session, world, kind="verification")
    passing = approved_job(session, world, proc, offset="0.0002", serial="V-OK")
    failing = approved_job(session, world, proc, offset="0.0009", serial="V-FAIL")

    cert = _issue(session, world, settings, passing)
    notice = _issue(session, world, settings, failing)
    assert (cert.kind, notice.kind) == ("verification_certificate", "verification_notice")
    assert notice.number > cert.number  # one series for every certificate
    assert "检定证书" in _check_pdf(cert, pki_dir, tmp_path / "c")
    assert "检定结果通知书" in _check_pdf(notice, pki_dir, tmp_path / "n")
    assert parse_dcc(stored_dcc(notice), provider_kind="in-house").number == notice.number


def test_a_test_report_has_no_dcc(session, world, settings):
    number = world.approved_sample(session)
    report = _issue(session, world, settings, number)
    assert report.kind == "test_report" and report.dcc is None
    with pytest.raises(NotFound, match="no Digital Calibration Certificate"):
        stored_dcc(report)


def test_marks_only_when_every_point_is_in_the_scope(session, world, settings):
    standard(session, world)
    proc = procedure(session, world)
    qm = world.user(session, "qm")
    with unit_of_work(session):
        for scheme, no in (("CMA", "231234567890"), ("CNAS", "CNAS L1234")):
            scope.set_accreditation(session, actor=qm, scheme=scheme, certificate_number=no,
                                    valid_from="2020-01-01", valid_until="2099-12-31")
    outside = _issue(session, world, settings, approved_job(session, world, proc, serial="A"))
    assert json.loads(outside.content)["marks"] == []
    assert json.loads(outside.content)["outside_scope"] is True
    with unit_of_work(session):
        item = scope.add_scope_item(session, actor=qm, method_code="JJF 1847-2020",
                                    parameter="", schemes=["CMA", "CNAS"], category="calibration",
                                    kind="mass", minimum="0", maximum="220", unit="g")
    with unit_of_work(session):
        signatory = world.user(session, "signatory")
        from lims.auth.services import set_roles

        set_roles(session, actor=world.user(session, "admin"), username=signatory.username,
                  roles=[r.value for r in signatory.roles], scopes=sorted(signatory.scopes),
                  scope_items=[item.id])
    inside = _issue(session, world, settings, approved_job(session, world, proc, serial="B"))
    content = json.loads(inside.content)
    assert content["marks"] == ["CMA", "CNAS"] and content["outside_scope"] is False
    assert content["mark_numbers"] == ["231234567890", "CNAS L1234"]


def test_a_certificate_is_amended_and_withdrawn(session, world, settings, pki_dir, tmp_path):
    standard(session, world)
    number = approved_job(session, world, procedure(session, world))
    first = _issue(session, world, settings, number)
    with unit_of_work(session):
        amend_report(session, actor=world.user(session, "signatory"), number=first.number,
                     reason="the item's serial number was misread")
    sample, job = work.get_job(session, number)
    reading = next(r for r in job_readings(session, job) if r.is_current)
    with unit_of_work(session):
        work.correct_readings(session, actor=world.user(session, "tech"), reading_id=reading.id,
                              values=["10.0004"], reason="transcription", timezone=TZ,
                              standard_values=None, unit=None)
        samples.complete_testing(session, actor=world.user(session, "tech"), number=number)
        samples.review_sample(session, actor=world.user(session, "reviewer"), number=number)
        samples.approve_sample(session, actor=world.user(session, "signatory"), number=number,
                               password=PASSWORD)
    second = _issue(session, world, settings, number)
    session.expire_all()
    first = session.get(Report, first.id)
    assert (first.status, second.kind) == ("superseded", "calibration_certificate")
    assert second.supersedes_id == first.id
    printed = _check_pdf(second, pki_dir, tmp_path)
    assert f"本证书代替 {first.number}" in printed and "misread" in printed
    statements = stored_dcc(second).decode()
    assert first.number in statements  # the DCC says what it replaces too
    assert stored_dcc(first) != stored_dcc(second)  # both stay retrievable
    with unit_of_work(session):
        withdraw_report(session, actor=world.user(session, "qm"), number=second.number,
                        reason="standard recalled", category="recall")
    session.expire_all()
    assert session.get(Report, second.id).status == "withdrawn"
    # Every step audited: the rows match their last audited state (lims audit verify --records).
    from lims.audit.records import verify_records

    records = verify_records(session)
    assert records.ok, [str(p) for p in records.problems]


def job_readings(session: Any, job: Any) -> list[Any]:
    from lims.calibration.models import CalibrationReading

    return list(session.scalars(select(CalibrationReading).where(
        CalibrationReading.job_id == job.id).order_by(CalibrationReading.id)))


def test_a_certificates_dcc_is_frozen_once_stored(session, world, settings):
    """reports.dcc is what the API and ``lims report export-dcc`` hand out: like ``pdf`` the
    append-only guard refuses to rewrite it (migration 0011), on both databases."""
    from sqlalchemy import text

    standard(session, world)
    report = _issue(session, world, settings, approved_job(session, world,
                                                           procedure(session, world)))
    forged = report.dcc.replace(b"C123", b"C999")
    with pytest.raises(Exception, match="append-only"), unit_of_work(session):
        session.execute(text("UPDATE reports SET dcc = :dcc WHERE id = :id"),
                        {"dcc": forged, "id": report.id})
    session.expire_all()
    assert stored_dcc(session.get(Report, report.id)) == extract_dcc(stored_pdf(report))


def test_the_recovery_job_finishes_a_claimed_certificate_with_its_dcc(session, world, settings,
                                                                      monkeypatch):
    """A worker that crashed after claiming a certificate: ``finish_pending_reports`` loads
    the CertificateContent claim, signs it and stores it with the DCC its PDF embeds."""
    import datetime as dt

    from lims.reports import issuing
    from lims.reports.services import claim_report

    standard(session, world)
    number = approved_job(session, world, procedure(session, world))
    with unit_of_work(session):
        claimed = claim_report(session, actor=world.user(session, "signatory"),
                               sample_number=number, settings=settings, password=PASSWORD)
    monkeypatch.setattr(issuing, "RECOVER_AFTER", dt.timedelta(seconds=-60))
    with unit_of_work(session):
        out = issuing.finish_pending_reports(session, settings)
    assert out == {"finished": [claimed.number], "failed": []}
    session.expire_all()
    report = session.scalar(select(Report).where(Report.number == claimed.number))
    assert report.kind == "calibration_certificate" and report.dcc is not None
    assert stored_dcc(report) == report.dcc
    assert parse_dcc(report.dcc, provider_kind="in-house").number == claimed.number


def test_a_signatory_outside_the_procedures_field_may_not_amend_or_withdraw_a_certificate(
        session, world, settings):
    """A certificate's sample has no test methods, only its procedure: the amend/withdraw
    scope check must read the procedure (as approval and issue do), RB/T 214 4.2.4."""
    from lims.errors import OutsideScope

    standard(session, world)
    report = _issue(session, world, settings, approved_job(session, world,
                                                           procedure(session, world)))
    outsider = world.user(session, "signatory2")  # electrical; the procedure is textiles
    with pytest.raises(OutsideScope), unit_of_work(session):
        amend_report(session, actor=outsider, number=report.number, reason="x")
    with pytest.raises(OutsideScope), unit_of_work(session):
        withdraw_report(session, actor=outsider, number=report.number, reason="x",
                        category="error")
    session.expire_all()
    assert session.get(Report, report.id).status == "issued"


def test_a_standard_revoked_between_approval_and_issue_stops_the_certificate(
        session, world, settings):
    """The standard's record is revoked after the job was approved (a recall): the issue is
    refused naming the standard and its revoked certificate, and nothing is written: no
    report, no claim, no number taken (ISO/IEC 17025 6.4.4, 6.5)."""
    from sqlalchemy import func

    from lims.calibration.models import CalibrationRecord
    from lims.calibration.services import set_record_status
    from lims.errors import CalibrationExpired
    from lims.reports.models import ReportClaim

    inst = standard(session, world)
    number = approved_job(session, world, procedure(session, world))
    rec = session.scalar(select(CalibrationRecord).where(
        CalibrationRecord.instrument_id == inst.id))
    with unit_of_work(session):
        set_record_status(session, actor=world.user(session, "qm"), record_id=rec.id,
                          status="revoked", reason="the provider recalled it")
    with pytest.raises(CalibrationExpired, match="W-1 .*was revoked") as exc:
        _issue(session, world, settings, number)
    assert exc.value.data["standard"] == "STD-W1"
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Report)) == 0
    assert session.scalar(select(func.count()).select_from(ReportClaim)) == 0
    assert work.get_job(session, number)[0].status == "approved"
