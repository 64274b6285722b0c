"""Signatures that stay provable: PAdES B-LT (and B-LTA) with the dev TSA and CRL (PD-02…PD-05).

A report is signed with an RFC 3161 time-stamp and carries the certificates and CRLs that prove
its signature in a DSS, so pyHanko still validates it, offline, years after the signing
certificate has expired. A certificate unfit to sign is refused before anything is issued.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import shutil
import stat
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.general import find_unique_cms_attribute
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select

from lims.db import unit_of_work
from lims.errors import ReportError
from lims.numbering import NumberSeries
from lims.reports import pki
from lims.reports.models import Report
from lims.reports.render import render_report
from lims.reports.services import issue_report
from lims.reports.sign import load_signer, load_stamping, sign_pdf, validate_pdf
from lims.samples.lifecycle import SampleStatus
from lims.samples.models import Sample
from tests.support.pdf import nss_db, pdfsig, pdftotext
from tests.support.world import PASSWORD
from tests.unit.test_render import content

LONG_AFTER = dt.datetime(2040, 6, 1, tzinfo=dt.UTC)  # past the signer's 3-year certificate


def _ca_pem(pki_dir: Path) -> bytes:
    return (pki_dir / "ca.pem").read_bytes()


def _asn1_certs(pem: bytes) -> list[asn1_x509.Certificate]:
    return [asn1_x509.Certificate.load(der) for _t, _h, der in asn1_pem.unarmor(pem, multiple=True)]


def _issue(session, world, settings) -> Report:
    number = world.approved_sample(session)
    with unit_of_work(session):
        return issue_report(session, actor=world.user(session, "signatory"), sample_number=number,
                            settings=settings, password=PASSWORD)


def _token_time(sig) -> dt.datetime:
    """The signature time-stamp's genTime, after checking it comes from a TSA certificate
    that is for time-stamping (critical EKU, RFC 3161)."""
    token = find_unique_cms_attribute(sig.signer_info["unsigned_attrs"],
                                      "signature_time_stamp_token")
    tst_info = token["content"]["encap_content_info"]["content"].parsed
    (tsa_der,) = [c.chosen.dump() for c in token["content"]["certificates"]
                  if c.chosen.subject.native["common_name"].startswith("Time Stamping")]
    eku = x509.load_der_x509_certificate(tsa_der).extensions.get_extension_for_class(
        x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    return tst_info["gen_time"].native


def test_a_report_is_sealed_by_the_lab_and_signed_by_its_approver_b_lt_for_years(
        session, world, settings, pki_dir, tmp_path):
    report = _issue(session, world, settings)
    pdf = report.pdf
    reader = PdfFileReader(io.BytesIO(pdf))
    seal, approval = reader.embedded_regular_signatures  # in signing order

    # The seal: a certification signature by the lab key, allowing only form filling and
    # signing after it (DocMDP P=2).
    assert seal.field_name == "LabSeal" and seal.docmdp_level == MDPPerm.FILL_FORMS
    assert seal.signer_cert.subject.native["common_name"] == "Report Signing (development)"
    # The approval: the signatory's own certificate, naming the person and the account.
    assert approval.field_name == "Approval" and approval.docmdp_level is None
    cert = x509.load_der_x509_certificate(approval.signer_cert.dump())
    user = world.user(session, "signatory")
    attrs = {a.oid: a.value for a in cert.subject}
    assert attrs[NameOID.COMMON_NAME] == "Signatory Tester" == user.full_name
    assert attrs[NameOID.USER_ID] == "signatory"
    assert attrs[NameOID.SERIAL_NUMBER] == f"LIMS-USER-{user.id}"
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in cert.extensions.get_extension_for_class(
        x509.ExtendedKeyUsage).value
    assert cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    assert cert.not_valid_after_utc < LONG_AFTER  # the premise of judging it in 2040
    # 21 CFR 11.50: the printed name, the meaning and the time in the signature itself.
    assert approval.sig_object["/Name"] == "Signatory Tester"
    assert approval.sig_object["/Reason"] == f"批准 Approved: test report {report.number}"
    signed_at = _token_time(approval)  # B-T: each signature has its own time-stamp
    assert abs(signed_at - approval.self_reported_timestamp) < dt.timedelta(minutes=5)
    assert abs(_token_time(seal) - seal.self_reported_timestamp) < dt.timedelta(minutes=5)
    assert _token_time(seal) <= signed_at

    # B-LT: the DSS holds the chains of the lab key, the signatory and the TSA, and the CRL.
    dss = DocumentSecurityStore.read_dss(reader)
    names = {c.subject.native["common_name"] for c in dss.load_certs()}
    assert {"Report Signing (development)", "Signatory Tester",
            "Time Stamping Authority (development)", "LIMS Development Root CA"} <= names
    crls = [asn1_crl.CertificateList.load(ref.get_object().data) for ref in dss.crls]
    assert {c.issuer.native["common_name"] for c in crls} == {"LIMS Development Root CA"}

    # pyHanko, offline, as of 2040: both certificates have expired, neither signature has.
    ca = _ca_pem(pki_dir)
    check = validate_pdf(pdf, ca, at=LONG_AFTER)
    assert check is not None and check.ok and check.level == "B-LT", check
    assert [(s.field, s.certifying, s.intact, s.valid, s.trusted, s.timestamped)
            for s in check.signatures] == [("LabSeal", True) + (True,) * 4,
                                           ("Approval", False) + (True,) * 4]
    assert (check.name, check.reason) == ("Signatory Tester",
                                          f"批准 Approved: test report {report.number}")
    assert check.signed_at == signed_at and check.seal.name == "Report Signing (development)"
    now = validate_pdf(pdf, ca)
    assert now is not None and now.ok and now.timestamped and now.level == "B-LT"
    # Without the long-term data, the same signatures judged in 2040 are not trusted.
    for sig in (seal, approval):
        plain = validate_pdf_signature(sig, ValidationContext(trust_roots=_asn1_certs(ca),
                                                              moment=LONG_AFTER))
        assert plain.intact and plain.valid and not plain.trusted

    # poppler's pdfsig, independently: both valid and trusted, the last covers the file.
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    out = pdfsig(path, nss_db(tmp_path, ca))
    assert out.count("Signature is Valid.") == 2 and out.count("Certificate is Trusted.") == 2, out
    assert "Signer Certificate Common Name: Signatory Tester" in out, out
    assert "Signer Certificate Common Name: Report Signing (development)" in out, out
    assert out.count("ETSI.CAdES.detached") == 2 and "Total document signed" in out, out

    # The visible signature block shows the approver, the meaning and the signing time.
    text = pdftotext(path)
    local = report.issued_at.astimezone(ZoneInfo(settings.timezone)).isoformat(timespec="minutes")
    block = text.split("签名 Signatures", 1)[1]
    assert "批准 Approved by" in block and "Signatory Tester" in block and local in block, block
    assert "检验检测专用章" in block and settings.lab_name in block


def test_the_approval_and_issue_audit_events_keep_the_signatures(session, world, settings):
    from lims.audit.models import AuditEvent

    report = _issue(session, world, settings)
    events = {e.action: json.loads(e.after) for e in session.scalars(
        select(AuditEvent).where(AuditEvent.action.in_(["sample.approve", "report.issue"])))}
    for action in ("sample.approve", "report.issue"):
        signature = events[action]["signature"]
        assert signature["name"] == "Signatory Tester" and signature["username"] == "signatory"
        assert signature["meaning"] == "批准 Approved" and signature["reauthenticated"] is True
        assert dt.datetime.fromisoformat(signature["at"])
    reader = PdfFileReader(io.BytesIO(report.pdf))
    serial = reader.embedded_regular_signatures[-1].signer_cert.serial_number
    assert events["report.issue"]["signature"]["certificate"]["serial"] == f"{serial:x}"
    assert events["report.issue"]["sealed"] is True


def test_without_the_seal_the_signatory_alone_signs(session, world, settings, pki_dir):
    report = _issue(session, world, dataclasses.replace(settings, lab_seal=False))
    (only,) = PdfFileReader(io.BytesIO(report.pdf)).embedded_regular_signatures
    assert only.field_name == "Approval"
    assert only.signer_cert.subject.native["common_name"] == "Signatory Tester"
    check = validate_pdf(report.pdf, _ca_pem(pki_dir), at=LONG_AFTER)
    assert check is not None and check.ok and check.seal is None


def test_a_report_signed_before_signatories_had_keys_still_verifies(pki_dir, font_dir):
    # What issue_report made before: one lab signature in the field LabSignature, B-LT.
    p12 = str(pki_dir / "signer.p12")
    stamping = load_stamping(p12)
    pdf = sign_pdf(render_report(content(), font_dir=font_dir),
                   load_signer(p12, (pki_dir / "signer.pass").read_text()),
                   reason="批准 Approved: test report BG2026-000001", location="lab",
                   timestamper=stamping.timestamper, crls=stamping.crls)
    check = validate_pdf(pdf, _ca_pem(pki_dir), at=LONG_AFTER)
    assert check is not None and check.ok and check.level == "B-LT", check
    assert [s.field for s in check.signatures] == ["LabSignature"] and check.seal is None


def test_a_change_after_the_approval_breaks_the_file(session, world, settings, pki_dir,
                                                     tmp_path):
    """Content added in a later revision (here: text drawn on the page) is not covered by
    any signature: pyHanko calls the file not genuine, pdfsig no longer "Total document"."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    pdf = _issue(session, world, settings).pdf
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    forged = writer.add_object(generic.StreamObject(stream_data=b"BT ET"))
    writer.add_stream_to_page(0, forged)
    out = io.BytesIO()
    writer.write(out)
    check = validate_pdf(out.getvalue(), _ca_pem(pki_dir))
    assert check is not None and not check.ok
    assert check.intact and check.trusted and not check.approval.covers_whole_file
    path = tmp_path / "forged.pdf"
    path.write_bytes(out.getvalue())
    nss = nss_db(tmp_path, _ca_pem(pki_dir))
    assert "Total document signed" not in pdfsig(path, nss)

    # One byte changed inside the approval's signed bytes (its /Name): digest mismatch.
    flipped = bytearray(pdf)
    flipped[pdf.rindex(b"(Signatory Tester)") + 1] ^= 0x01
    check = validate_pdf(bytes(flipped), _ca_pem(pki_dir))
    assert check is not None and not check.ok and not check.approval.intact
    path.write_bytes(bytes(flipped))
    out = pdfsig(path, nss)
    assert out.count("Signature is Valid.") == 1 and "Digest Mismatch" in out, out


def test_b_lta_adds_a_document_timestamp_and_stays_valid(pki_dir, font_dir):
    p12 = str(pki_dir / "signer.p12")
    signer = load_signer(p12, (pki_dir / "signer.pass").read_text())
    stamping = load_stamping(p12)
    pdf = sign_pdf(render_report(content(), font_dir=font_dir), signer, reason="test",
                   location="lab", timestamper=stamping.timestamper, crls=stamping.crls, lta=True)
    reader = PdfFileReader(io.BytesIO(pdf))
    assert len(reader.embedded_regular_signatures) == 1
    (doc_ts,) = reader.embedded_timestamp_signatures
    assert doc_ts.sig_object["/SubFilter"] == "/ETSI.RFC3161"
    check = validate_pdf(pdf, _ca_pem(pki_dir), at=LONG_AFTER)
    assert check is not None and check.ok and check.timestamped and check.level == "B-LTA", check


def test_a_sealed_report_is_b_lta_with_lims_pades_lta(session, world, settings, pki_dir,
                                                     tmp_path):
    pdf = _issue(session, world, dataclasses.replace(settings, pades_lta=True)).pdf
    reader = PdfFileReader(io.BytesIO(pdf))
    assert [s.field_name for s in reader.embedded_regular_signatures] == ["LabSeal", "Approval"]
    (doc_ts,) = reader.embedded_timestamp_signatures  # after the approval, over both
    assert doc_ts.sig_object["/SubFilter"] == "/ETSI.RFC3161"
    check = validate_pdf(pdf, _ca_pem(pki_dir), at=LONG_AFTER)
    assert check is not None and check.ok and check.level == "B-LTA", check
    assert [s.level for s in check.signatures] == ["B-LTA", "B-LTA"]
    path = tmp_path / "lta.pdf"
    path.write_bytes(pdf)
    out = pdfsig(path, nss_db(tmp_path, _ca_pem(pki_dir)))
    assert out.count("Signature is Valid.") == 2 and out.count("Certificate is Trusted.") == 2, out


def _signing_settings(settings, pki_dir: Path, tmp_path: Path, *, kind: str):
    """Settings whose signing key is a certificate of the dev CA made unfit in one way."""
    d = tmp_path / "pki"
    shutil.copytree(pki_dir, d)  # revoking must not touch the session's PKI
    ca_cert, ca_key = pki.load_ca(d)
    now = dt.datetime.now(dt.UTC)
    not_before, not_after = now - dt.timedelta(days=1), now + dt.timedelta(days=365)
    if kind == "expired":
        not_before, not_after = now - dt.timedelta(days=800), now - dt.timedelta(days=1)
    elif kind == "not yet valid":
        not_before = now + dt.timedelta(days=2)
    usage = dict(digital_signature=True, content_commitment=True, key_encipherment=False,
                 data_encipherment=False, key_agreement=False, key_cert_sign=False,
                 crl_sign=False, encipher_only=False, decipher_only=False)
    if kind == "wrong key usage":  # a TLS-style key: no nonRepudiation
        usage.update(content_commitment=False, key_encipherment=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Signer ({kind})")]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.KeyUsage(**usage), critical=True)
        .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(pki.DEFAULT_CRL_URL)], None, None, None)]),
            critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    passphrase = (d / "signer.pass").read_text()
    (d / "signer.p12").write_bytes(pkcs12.serialize_key_and_certificates(
        b"unfit", key, cert, [ca_cert],
        serialization.BestAvailableEncryption(passphrase.encode())))
    if kind == "revoked":
        pki.revoke(d, cert.serial_number)
    return dataclasses.replace(settings, signing_pkcs12=str(d / "signer.p12"))


@pytest.mark.parametrize(("kind", "reason"), [
    ("expired", "expired on"),
    ("not yet valid", "is not valid before"),
    ("revoked", "was revoked on"),
    ("wrong key usage", "lacks the key usage nonRepudiation"),
])
def test_an_unfit_certificate_is_refused_and_nothing_is_issued(session, world, settings, pki_dir,
                                                               tmp_path, kind, reason):
    unfit = _signing_settings(settings, pki_dir, tmp_path, kind=kind)
    number = world.approved_sample(session)
    series = {s.series: s.last for s in session.scalars(select(NumberSeries))}
    with pytest.raises(ReportError, match=reason), unit_of_work(session):
        issue_report(session, actor=world.user(session, "signatory"), sample_number=number,
                     settings=unfit, password=PASSWORD)
    sample = session.scalar(select(Sample).where(Sample.number == number))
    assert sample.status == SampleStatus.APPROVED
    assert session.scalar(select(Report).where(Report.sample_id == sample.id)) is None
    assert {s.series: s.last for s in session.scalars(select(NumberSeries))} == series


def test_dev_pki_gains_a_tsa_and_crl_and_stays_idempotent(pki_dir, tmp_path):
    old = tmp_path / "pki"
    shutil.copytree(pki_dir, old)
    for name in ("tsa.pem", "tsa.key", "ca.crl"):  # as `lims init` made it before timestamps
        (old / name).unlink()
    signer_p12 = (old / "signer.p12").read_bytes()
    assert pki.create_dev_pki(old, lab_name="Test Lab") is True
    assert pki.create_dev_pki(old, lab_name="Test Lab") is False
    assert (old / "signer.p12").read_bytes() == signer_p12  # the signer is kept
    for f in old.rglob("*"):  # keys, CRL, lock file; the signatories' folder owner-only too
        assert stat.S_IMODE(f.stat().st_mode) == (0o700 if f.is_dir() else 0o600), f
    ca_cert, _ = pki.load_ca(old)
    tsa_cert, tsa_key = pki.load_tsa(old)
    assert isinstance(tsa_key, rsa.RSAPrivateKey) and tsa_cert.issuer == ca_cert.subject
    assert tsa_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).critical
    assert tsa_cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    crl = pki.load_crl(old)
    assert crl.is_signature_valid(ca_cert.public_key()) and len(crl) == 0
    pki.revoke(old, 1234)
    again = pki.load_crl(old)
    assert again.get_revoked_certificate_by_serial_number(1234) is not None
    assert again.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
