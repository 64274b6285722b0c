"""Each signatory signs with a key of their own, after re-entering their password.

21 CFR 11.100(a) (a signature is unique to one person), 11.200(a)(1) (the password again at
each signing), 11.300(b) (withdrawn with the authority); 电子签名法 第十三条 (一). The
certificates are real ones from the development CA, checked by pyHanko like any other.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import shutil
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import func, select

from lims.audit.models import AuditEvent
from lims.auth.errors import ReauthenticationFailed
from lims.auth.services import create_user, set_active, set_roles
from lims.db import unit_of_work
from lims.errors import InvalidInput, NotTheApprover, ReportError
from lims.numbering import NumberSeries
from lims.reports import pki
from lims.reports.models import Report
from lims.reports.services import issue_report
from lims.reports.sign import signatory_signer, validate_pdf, withdraw_signatory
from lims.samples import services as samples
from lims.samples.lifecycle import SampleStatus
from lims.samples.models import Sample
from tests.support.world import PASSWORD

LONG_AFTER = dt.datetime(2040, 6, 1, tzinfo=dt.UTC)


@pytest.fixture
def own_pki(settings, pki_dir, tmp_path):
    """Settings with a copy of the session's dev PKI: revoking here touches no other test."""
    d = tmp_path / "pki"
    shutil.copytree(pki_dir, d)
    shutil.rmtree(d / pki.SIGNATORY_DIR, ignore_errors=True)
    return dataclasses.replace(settings, signing_pkcs12=str(d / "signer.p12"))


def _serial(signer) -> int:
    return signer.signing_cert.serial_number


def _crl(settings) -> x509.CertificateRevocationList:
    return pki.load_crl(Path(settings.signing_pkcs12).parent)


def test_each_signatory_has_a_certificate_of_their_own(session, world, own_pki):
    d = Path(own_pki.signing_pkcs12).parent
    one = signatory_signer(own_pki, world.user(session, "signatory"))
    two = signatory_signer(own_pki, world.user(session, "signatory2"))
    assert _serial(one) != _serial(two) and one.signing_cert.public_key != two.signing_cert.public_key
    assert signatory_signer(own_pki, world.user(session, "signatory")) is one  # kept, not re-issued
    keys = d / pki.SIGNATORY_DIR
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert sorted(p.name for p in keys.iterdir()) == ["signatory.p12", "signatory2.p12"]
    for p in keys.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
        # The key is encrypted with the instance's passphrase.
        with pytest.raises(ValueError, match="Invalid password"):
            pkcs12.load_key_and_certificates(p.read_bytes(), b"not the passphrase")
    # Issued by the lab's CA: the key usage of a document signature, and the CRL to check.
    ca = x509.load_pem_x509_certificate((d / "ca.pem").read_bytes())
    cert = x509.load_der_x509_certificate(two.signing_cert.dump())
    cert.verify_directly_issued_by(ca)
    assert cert.subject.get_attributes_for_oid(NameOID.USER_ID)[0].value == "signatory2"
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.content_commitment


def test_a_renamed_account_gets_a_new_certificate_and_the_old_is_revoked(session, world,
                                                                         own_pki):
    user = world.user(session, "signatory")
    first = _serial(signatory_signer(own_pki, user))
    with unit_of_work(session):
        user.full_name = "Signatory Renamed"  # as if corrected by an administrator
    second = signatory_signer(own_pki, user)
    assert _serial(second) != first
    assert second.signing_cert.subject.native["common_name"] == "Signatory Renamed"
    revoked = _crl(own_pki).get_revoked_certificate_by_serial_number(first)
    assert revoked is not None
    assert revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason == \
        x509.ReasonFlags.superseded


def test_concurrent_first_signatures_issue_one_certificate(session, world, own_pki):
    d = Path(own_pki.signing_pkcs12).parent
    crl_before = len(_crl(own_pki))
    barrier = threading.Barrier(6)
    serials: list[int] = []
    errors: list[BaseException] = []

    def first_signature() -> None:
        try:
            barrier.wait(timeout=30)
            path = pki.ensure_signatory(d, username="newcomer", full_name="New Comer", user_id=99)
            _key, cert, _extra = pkcs12.load_key_and_certificates(
                path.read_bytes(), own_pki.signing_passphrase.encode())
            serials.append(cert.serial_number)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=first_signature) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(serials) == 6 and len(set(serials)) == 1  # one certificate, seen by all
    assert len(_crl(own_pki)) == crl_before  # none issued and then superseded


def test_disabling_a_signatory_or_taking_the_role_revokes_their_certificate(session, world,
                                                                            own_pki):
    admin = world.user(session, "admin")
    number, report_number = world.reported_sample(session, own_pki)
    signed_before = session.scalar(select(Report).where(Report.number == report_number)).pdf
    serial = _serial(signatory_signer(own_pki, world.user(session, "signatory")))
    assert withdraw_signatory(own_pki, world.user(session, "signatory")) is None  # may sign

    with unit_of_work(session):
        user = set_active(session, actor=admin, username="signatory", active=False)
    assert withdraw_signatory(own_pki, user) == serial
    entry = _crl(own_pki).get_revoked_certificate_by_serial_number(serial)
    assert entry is not None and entry.extensions.get_extension_for_class(
        x509.CRLReason).value.reason == x509.ReasonFlags.cessation_of_operation
    keys = Path(own_pki.signing_pkcs12).parent / pki.SIGNATORY_DIR
    assert not (keys / "signatory.p12").exists()  # the key of a revoked certificate is gone
    # What they signed before stays valid: its time-stamp precedes the revocation.
    check = validate_pdf(signed_before, pki_ca(own_pki), at=LONG_AFTER)
    assert check is not None and check.ok, check

    # Enabled again: a new certificate at the next signature, never the revoked one.
    with unit_of_work(session):
        user = set_active(session, actor=admin, username="signatory", active=True)
    assert _serial(signatory_signer(own_pki, user)) != serial

    two = _serial(signatory_signer(own_pki, world.user(session, "signatory2")))
    with unit_of_work(session):
        user = set_roles(session, actor=admin, username="signatory2", roles=["reviewer"])
    assert withdraw_signatory(own_pki, user) == two
    assert _crl(own_pki).get_revoked_certificate_by_serial_number(two) is not None


def pki_ca(settings) -> bytes:
    return (Path(settings.signing_pkcs12).parent / "ca.pem").read_bytes()


# --- production: LIMS_SIGNATORY_KEYS ---------------------------------------------------------

def _keys_settings(settings, pki_dir: Path, tmp_path: Path, *, kind: str):
    """Settings with LIMS_SIGNATORY_KEYS holding the signatory's PKCS#12, made unfit one way."""
    d = tmp_path / "pki"
    shutil.copytree(pki_dir, d)
    shutil.rmtree(d / pki.SIGNATORY_DIR, ignore_errors=True)  # what other tests' signing left
    keys = tmp_path / "keys"
    keys.mkdir()
    settings = dataclasses.replace(settings, signing_pkcs12=str(d / "signer.p12"),
                                   signatory_keys=str(keys))
    if kind == "missing":
        return settings
    ca_cert, ca_key = pki.load_ca(d)
    if kind == "foreign CA":  # a CA the lab's trust anchor does not know
        ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some Other CA")])
        now = dt.datetime.now(dt.UTC)
        ca_cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .sign(ca_key, hashes.SHA256()))
    now = dt.datetime.now(dt.UTC)
    not_before, not_after = now - dt.timedelta(days=1), now + dt.timedelta(days=365)
    if kind == "expired":
        not_before, not_after = now - dt.timedelta(days=800), now - dt.timedelta(days=1)
    elif kind == "not yet valid":
        not_before = now + dt.timedelta(days=2)
    usage = dict(digital_signature=True, content_commitment=True, key_encipherment=False,
                 data_encipherment=False, key_agreement=False, key_cert_sign=False,
                 crl_sign=False, encipher_only=False, decipher_only=False)
    if kind == "wrong key usage":
        usage.update(content_commitment=False, key_encipherment=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = pki.issue_certificate(
        ca_cert, ca_key, subject=pki.signatory_name(full_name="Signatory Tester",
                                                    username="signatory", user_id=4, org="Lab"),
        public_key=key.public_key(), not_before=not_before, not_after=not_after,
        key_usage=x509.KeyUsage(**usage), extended_key_usage=pki.DOCUMENT_SIGNING_EKU)
    (keys / "signatory.p12").write_bytes(pkcs12.serialize_key_and_certificates(
        b"signatory", key, cert, [ca_cert],
        serialization.BestAvailableEncryption(settings.signing_passphrase.encode())))
    if kind == "revoked":
        pki.revoke(d, cert.serial_number)
    return settings


def test_a_signatory_key_from_the_folder_signs_and_verifies(session, world, settings,
                                                            pki_dir, tmp_path):
    fit = _keys_settings(settings, pki_dir, tmp_path, kind="fit")
    number = world.approved_sample(session)
    with unit_of_work(session):
        report = issue_report(session, actor=world.user(session, "signatory"),
                              sample_number=number, settings=fit, password=PASSWORD)
    check = validate_pdf(report.pdf, pki_ca(fit), at=LONG_AFTER)
    assert check is not None and check.ok and check.approval.signer.startswith(
        "Common Name: Signatory Tester"), check
    # Nothing was issued by the dev CA for it: the folder's key signed.
    assert not (Path(fit.signing_pkcs12).parent / pki.SIGNATORY_DIR / "signatory.p12").exists()


@pytest.mark.parametrize(("kind", "reason"), [
    ("missing", "there is no signing key for signatory signatory"),
    ("expired", "expired on"),
    ("not yet valid", "is not valid before"),
    ("revoked", "was revoked on"),
    ("wrong key usage", "lacks the key usage nonRepudiation"),
    ("foreign CA", "is not issued by the lab's CA"),
])
def test_an_unfit_signatory_certificate_is_refused_and_nothing_is_issued(
        session, world, settings, pki_dir, tmp_path, kind, reason):
    unfit = _keys_settings(settings, pki_dir, tmp_path, kind=kind)
    number = world.approved_sample(session)
    series = {s.series: s.last for s in session.scalars(select(NumberSeries))}
    events = session.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(ReportError, match=reason), unit_of_work(session):
        issue_report(session, actor=world.user(session, "signatory"), sample_number=number,
                     settings=unfit, password=PASSWORD)
    sample = session.scalar(select(Sample).where(Sample.number == number))
    assert sample.status == SampleStatus.APPROVED
    assert session.scalar(select(Report).where(Report.sample_id == sample.id)) is None
    assert {s.series: s.last for s in session.scalars(select(NumberSeries))} == series
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == events


# --- re-authentication -----------------------------------------------------------------------

def _reviewed(session, world) -> str:
    number = world.new_sample(session)
    tech = world.user(session, "tech")
    with unit_of_work(session):
        for ch, value, unit in ((world.mass_id, "100.00", "g"), (world.length_id, "12.0", "mm")):
            samples.record_result(session, actor=tech, number=number, characteristic_id=ch,
                                  value=value, unit=unit, timezone="Asia/Shanghai")
        samples.complete_testing(session, actor=tech, number=number)
        samples.review_sample(session, actor=world.user(session, "reviewer"), number=number)
    return number


@pytest.mark.parametrize("password", [None, "", 12345])
def test_approving_without_a_password_names_the_field_and_writes_nothing(session, world,
                                                                         password):
    number = _reviewed(session, world)
    events = session.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(InvalidInput) as exc, unit_of_work(session):
        samples.approve_sample(session, actor=world.user(session, "signatory"), number=number,
                               password=password)
    assert exc.value.field == "password" and "批准 Approved" in exc.value.message
    assert session.scalar(select(Sample.status).where(Sample.number == number)) == "reviewed"
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_a_wrong_password_neither_approves_nor_issues(session, world, settings):
    number = _reviewed(session, world)
    signatory = world.user(session, "signatory")
    events = session.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(ReauthenticationFailed) as exc, unit_of_work(session):
        samples.approve_sample(session, actor=signatory, number=number, password="not it at all")
    assert exc.value.field == "password" and exc.value.data["record"] is True
    assert session.scalar(select(Sample.status).where(Sample.number == number)) == "reviewed"
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == events

    with unit_of_work(session):
        samples.approve_sample(session, actor=signatory, number=number, password=PASSWORD)
    with pytest.raises(ReauthenticationFailed), unit_of_work(session):
        issue_report(session, actor=signatory, sample_number=number, settings=settings,
                     password="not it at all")
    assert session.scalar(select(Sample.status).where(Sample.number == number)) == "approved"
    assert session.scalar(select(func.count()).select_from(Report)) == 0


def test_only_the_approving_signatory_signs_the_report(session, world, settings):
    with unit_of_work(session):
        create_user(session, username="signatory3", full_name="Third Signatory",
                    password=PASSWORD, roles=["signatory"], scopes=["textiles"])
    number = world.approved_sample(session)  # approved by "signatory"
    with pytest.raises(NotTheApprover), unit_of_work(session):
        issue_report(session, actor=world.user(session, "signatory3"), sample_number=number,
                     settings=settings, password=PASSWORD)
    assert session.scalar(select(func.count()).select_from(Report)) == 0
    with unit_of_work(session):
        report = issue_report(session, actor=world.user(session, "signatory"),
                              sample_number=number, settings=settings, password=PASSWORD)
    (seal, approval) = PdfFileReader(io.BytesIO(report.pdf)).embedded_regular_signatures
    assert approval.sig_object["/Name"] == "Signatory Tester"
