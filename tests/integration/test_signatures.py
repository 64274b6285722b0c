"""Signatures that stay provable: PAdES B-LT (and B-LTA) with the dev TSA and CRL (PD-02…PD-05).

A report is signed with an RFC 3161 time-stamp and carries the certificates and CRLs that prove
its signature in a DSS, so pyHanko still validates it, offline, years after the signing
certificate has expired. A certificate unfit to sign is refused before anything is issued.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import shutil
import stat
from pathlib import Path

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
from tests.support.pdf import nss_db, pdfsig
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
                            settings=settings)


def test_an_issued_report_is_b_lt_and_valid_after_its_certificate_expires(session, world,
                                                                           settings, pki_dir,
                                                                           tmp_path):
    pdf = _issue(session, world, settings).pdf
    reader = PdfFileReader(io.BytesIO(pdf))
    (sig,) = reader.embedded_regular_signatures
    signer_cert = x509.load_der_x509_certificate(sig.signer_cert.dump())
    assert signer_cert.not_valid_after_utc < LONG_AFTER  # the premise

    # B-T: an RFC 3161 signature time-stamp, from a TSA whose certificate is for time-stamping.
    token = find_unique_cms_attribute(sig.signer_info["unsigned_attrs"],
                                      "signature_time_stamp_token")
    tst_info = token["content"]["encap_content_info"]["content"].parsed
    (tsa_der,) = [c.chosen.dump() for c in token["content"]["certificates"]
                  if c.chosen.subject.native["common_name"].startswith("Time Stamping")]
    eku = x509.load_der_x509_certificate(tsa_der).extensions.get_extension_for_class(
        x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert abs(tst_info["gen_time"].native - sig.self_reported_timestamp) < dt.timedelta(minutes=5)

    # B-LT: the DSS holds the chains of signer and TSA, and the CA's CRL.
    dss = DocumentSecurityStore.read_dss(reader)
    names = {c.subject.native["common_name"] for c in dss.load_certs()}
    assert {"Report Signing (development)", "Time Stamping Authority (development)",
            "LIMS Development Root CA"} <= names
    crls = [asn1_crl.CertificateList.load(ref.get_object().data) for ref in dss.crls]
    assert [c.issuer.native["common_name"] for c in crls] == ["LIMS Development Root CA"]

    # pyHanko, offline, as of 2040: the certificate has expired, the signature has not.
    ca = _ca_pem(pki_dir)
    check = validate_pdf(pdf, ca, at=LONG_AFTER)
    assert check is not None
    assert (check.intact, check.valid, check.trusted, check.timestamped) == (True,) * 4, check
    assert check.ok and check.level == "B-LT"
    assert check.signed_at == tst_info["gen_time"].native
    now = validate_pdf(pdf, ca)
    assert now is not None and now.ok and now.timestamped and now.level == "B-LT"
    # Without the long-term data, the same signature judged in 2040 is not trusted.
    plain = validate_pdf_signature(sig, ValidationContext(trust_roots=_asn1_certs(ca),
                                                          moment=LONG_AFTER))
    assert plain.intact and plain.valid and not plain.trusted

    # poppler's pdfsig, independently: valid, trusted, and the DSS is inside the signed bytes.
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    out = pdfsig(path, nss_db(tmp_path, ca))
    assert "Signature is Valid" in out and "Certificate is Trusted" in out, out
    assert "Total document signed" in out and "ETSI.CAdES.detached" in out, out


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
                     settings=unfit)
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
    for f in old.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
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
