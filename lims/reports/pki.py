"""The development signing PKI: a lab CA, a report-signing certificate, a TSA and a CRL.

Made once by ``lims init`` in ``<instance>/pki``. Production names the lab's own PKCS#12 file in
``LIMS_SIGNING_PKCS12`` (and a real time-stamping authority in ``LIMS_TSA_URL``) instead; both
are loaded the same way (:mod:`lims.reports.sign`).

* The signing certificate carries digitalSignature and nonRepudiation, which PAdES validators
  expect of a document signature (requirements PD-07).
* The TSA certificate has an RSA key (the in-process timestamper of :mod:`lims.reports.sign`
  signs RSA) and the critical extended key usage timeStamping that RFC 3161 requires (PD-02).
* The CRL, signed by the CA, is what a signature embeds in its DSS as proof that the signer was
  not revoked when it signed (PD-03). Both certificates name it as their CRL distribution point.
  Nothing fetches it: signing reads the file. It is re-issued when it nears its next update.

Each authorised signatory gets a certificate and key of their own (21 CFR 11.100(a): an
electronic signature is unique to one person; 电子签名法 第十三条 (一)), issued by the same CA
into ``signatories/<username>.p12`` on their first signature or by ``lims pki
issue-signatory``, and revoked in the CRL when they are disabled or lose the signing roles.
Its subject names the person (CN = full name) and the account (UID = username, serialNumber =
user id), so a signature can be traced to one user. The key is encrypted with the instance's
signing passphrase, not the signatory's password: the server holds it, and the signatory's
re-authentication at approval and issue is what authorises its use (so that a recovery job can
finish a report whose signing was interrupted). Production loads each signatory's PKCS#12
from ``LIMS_SIGNATORY_KEYS`` instead (or, later, a PKCS#11 token).

Every file is written atomically and readable by the owner only. The CA key is kept (encrypted
with the signer's passphrase) so that the TSA and CRL can be added to an older PKI folder, the
CRL re-issued and signatories' certificates issued; a production CA never lives on the LIMS host.
Changes to the CRL and the signatories' files are serialised by a lock file (``.lock``), since
several web workers may issue or revoke at once.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

# The instance's default public URL (LIMS_PUBLIC_URL); the CRL is published there, if anywhere.
DEFAULT_CRL_URL = "http://127.0.0.1:5000/pki/ca.crl"
CA_YEARS = 30         # a dev CA outlives every report it vouches for (older PKIs: 10 years)
SIGNER_YEARS = 3
CRL_DAYS = 30         # nextUpdate of a fresh CRL
CRL_RENEW_DAYS = 15   # re-issue when fewer days than this remain
SIGNATORY_YEARS = 3
SIGNATORY_RENEW_DAYS = 30  # a signatory's certificate is re-issued when fewer days remain
SIGNATORY_DIR = "signatories"
# id-kp-documentSigning (RFC 9336) says what the key is for; emailProtection is there too because
# NSS, and so poppler's pdfsig, accepts a PDF signer only with it once an EKU is present.
DOCUMENT_SIGNING_EKU = [ObjectIdentifier("1.3.6.1.5.5.7.3.36"), ExtendedKeyUsageOID.EMAIL_PROTECTION]

_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False, content_commitment=False, key_encipherment=False,
    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
    encipher_only=False, decipher_only=False)
_SIGNING_KEY_USAGE = x509.KeyUsage(
    digital_signature=True, content_commitment=True, key_encipherment=False,
    data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
    encipher_only=False, decipher_only=False)
_TSA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True, content_commitment=False, key_encipherment=False,
    data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
    encipher_only=False, decipher_only=False)


def _name(cn: str, org: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by the owner only, atomically (a reader never sees half of it)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # tolerate a little clock skew


def issue_certificate(ca_cert: x509.Certificate, ca_key: rsa.RSAPrivateKey, *, subject: x509.Name,
                      public_key: CertificatePublicKeyTypes, not_before: dt.datetime,
                      not_after: dt.datetime, key_usage: x509.KeyUsage,
                      extended_key_usage: list[x509.ObjectIdentifier] | None = None,
                      crl_url: str | None = DEFAULT_CRL_URL) -> x509.Certificate:
    """Issue an end-entity certificate with the CA (the dev PKI; tests make odd ones with it)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
    )
    if extended_key_usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended_key_usage), critical=True)
    if crl_url:
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)], relative_name=None,
            reasons=None, crl_issuer=None)]), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def create_dev_pki(pki_dir: Path, *, lab_name: str, crl_url: str = DEFAULT_CRL_URL) -> bool:
    """Create what is missing of the dev PKI (CA and signer, TSA, CRL); True if anything was.

    Idempotent: an existing CA and signer are kept, and a folder made before timestamps
    existed gets its TSA certificate and CRL added (issued by its own CA).
    """
    made = False
    if not ((pki_dir / "signer.p12").exists() and (pki_dir / "ca.pem").exists()):
        _create_ca_and_signer(pki_dir, lab_name=lab_name, crl_url=crl_url)
        made = True
    if not ((pki_dir / "tsa.pem").exists() and (pki_dir / "tsa.key").exists()):
        ca_cert, ca_key = load_ca(pki_dir)
        passphrase = _passphrase(pki_dir)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        org = ca_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        cert = issue_certificate(
            ca_cert, ca_key, subject=_name("Time Stamping Authority (development)",
                                           str(org[0].value) if org else lab_name),
            public_key=key.public_key(), not_before=_now(),
            not_after=ca_cert.not_valid_after_utc, key_usage=_TSA_KEY_USAGE,
            extended_key_usage=[ExtendedKeyUsageOID.TIME_STAMPING], crl_url=crl_url)
        _write_private(pki_dir / "tsa.key", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode())))
        _write_private(pki_dir / "tsa.pem", cert.public_bytes(serialization.Encoding.PEM))
        made = True
    if not (pki_dir / "ca.crl").exists():
        _issue_crl(pki_dir, [])
        made = True
    return made


def _create_ca_and_signer(pki_dir: Path, *, lab_name: str, crl_url: str) -> None:
    pki_dir.mkdir(parents=True, exist_ok=True)
    now = _now()
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    ca_name = _name("LIMS Development Root CA", lab_name)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=CA_YEARS * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = issue_certificate(
        ca_cert, ca_key, subject=_name("Report Signing (development)", lab_name),
        public_key=key.public_key(), not_before=now,
        not_after=now + dt.timedelta(days=SIGNER_YEARS * 365), key_usage=_SIGNING_KEY_USAGE,
        crl_url=crl_url)
    passphrase = secrets.token_urlsafe(24)
    p12 = pkcs12.serialize_key_and_certificates(
        b"lims-report-signer", key, cert, [ca_cert],
        serialization.BestAvailableEncryption(passphrase.encode()))
    _write_private(pki_dir / "ca.pem", ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(pki_dir / "ca.key", ca_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode())))
    _write_private(pki_dir / "signer.pass", passphrase.encode())
    _write_private(pki_dir / "signer.p12", p12)


def _passphrase(pki_dir: Path) -> str:
    return (pki_dir / "signer.pass").read_text(encoding="utf-8").strip()


def load_ca(pki_dir: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """The dev CA's certificate and key (the key is encrypted with the signer's passphrase)."""
    cert = x509.load_pem_x509_certificate((pki_dir / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((pki_dir / "ca.key").read_bytes(),
                                             password=_passphrase(pki_dir).encode())
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{pki_dir / 'ca.key'} is not an RSA key")
    return cert, key


def load_tsa(pki_dir: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """The dev TSA's certificate and RSA key.

    :raises FileNotFoundError: the folder has no TSA (not a dev PKI, or made before it had one).
    """
    cert = x509.load_pem_x509_certificate((pki_dir / "tsa.pem").read_bytes())
    key = serialization.load_pem_private_key((pki_dir / "tsa.key").read_bytes(),
                                             password=_passphrase(pki_dir).encode())
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{pki_dir / 'tsa.key'} is not an RSA key")
    return cert, key


def load_crl(pki_dir: Path, *, renew: bool = True) -> x509.CertificateRevocationList:
    """The dev CA's current CRL, re-issued first when it nears its next update (if ``renew``
    and the CA key is there; else a stale CRL is returned, and signing refuses it).

    :raises FileNotFoundError: the folder has no CRL.
    """
    crl = x509.load_der_x509_crl((pki_dir / "ca.crl").read_bytes())
    if renew and _stale(crl) and (pki_dir / "ca.key").exists():
        with _locked(pki_dir):
            crl = x509.load_der_x509_crl((pki_dir / "ca.crl").read_bytes())
            if _stale(crl):  # not renewed by another worker meanwhile
                crl = _issue_crl(pki_dir, list(crl), previous=crl)
    return crl


def _stale(crl: x509.CertificateRevocationList) -> bool:
    next_update = crl.next_update_utc
    return next_update is None or (
        next_update - dt.datetime.now(dt.UTC) < dt.timedelta(days=CRL_RENEW_DAYS))


def revoke(pki_dir: Path, serial: int, *, when: dt.datetime | None = None,
           reason: x509.ReasonFlags | None = None) -> None:
    """Revoke a certificate of the dev CA by serial number and re-issue the CRL."""
    with _locked(pki_dir):
        _revoke(pki_dir, serial, when=when, reason=reason)


def _revoke(pki_dir: Path, serial: int, *, when: dt.datetime | None = None,
            reason: x509.ReasonFlags | None = None) -> None:
    crl = x509.load_der_x509_crl((pki_dir / "ca.crl").read_bytes())
    if crl.get_revoked_certificate_by_serial_number(serial) is not None:
        return
    # Not backdated by _now()'s skew: a signature made in the minutes before the revocation
    # must stay valid.
    builder = (x509.RevokedCertificateBuilder().serial_number(serial)
               .revocation_date(when or dt.datetime.now(dt.UTC)))
    if reason is not None:
        builder = builder.add_extension(x509.CRLReason(reason), critical=False)
    _issue_crl(pki_dir, [*crl, builder.build()], previous=crl)


@contextmanager
def _locked(pki_dir: Path) -> Iterator[None]:
    """Hold the PKI folder's lock: one writer of the CRL and signatory files at a time, across
    threads and processes (flock locks an open file description, not a process)."""
    fd = os.open(pki_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _issue_crl(pki_dir: Path, entries: list[x509.RevokedCertificate],
               previous: x509.CertificateRevocationList | None = None
               ) -> x509.CertificateRevocationList:
    """Sign and write a new CRL listing ``entries``, numbered after ``previous``."""
    number = 1
    if previous is not None:
        try:
            number += previous.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        except x509.ExtensionNotFound:
            pass
    ca_cert, ca_key = load_ca(pki_dir)
    now = _now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now).next_update(now + dt.timedelta(days=CRL_DAYS))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
    )
    for entry in entries:
        builder = builder.add_revoked_certificate(entry)
    crl = builder.sign(ca_key, hashes.SHA256())
    _write_private(pki_dir / "ca.crl", crl.public_bytes(serialization.Encoding.DER))
    return crl


def ca_certificate_pem(p12_path: Path, passphrase: str) -> bytes:
    """Return the CA certificate(s) shipped in the signing PKCS#12, as PEM."""
    _key, _cert, extra = pkcs12.load_key_and_certificates(
        p12_path.read_bytes(), passphrase.encode() if passphrase else None)
    if not extra:
        raise ValueError(f"{p12_path} carries no CA certificate")
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in extra)


# --- signatories' certificates ---------------------------------------------------------------

def signatory_path(keys_dir: Path, username: str) -> Path:
    """``<keys_dir>/<username>.p12``.

    :raises ValueError: a username that is not a plain file name (usernames are letters,
        digits, '.' and '_', so none is; this guards the path all the same).
    """
    if not username or username.startswith(".") or "/" in username or "\0" in username:
        raise ValueError(f"{username!r} cannot name a signatory's key file")
    return keys_dir / f"{username}.p12"


def signatory_name(*, full_name: str, username: str, user_id: int, org: str) -> x509.Name:
    """The subject of a signatory's certificate: the printed name (21 CFR 11.50(a)(1)) and the
    account it belongs to, so that the certificate is bound to one user (11.100(a))."""
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.USER_ID, username),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, f"LIMS-USER-{user_id}"),
        x509.NameAttribute(NameOID.COMMON_NAME, (full_name.strip() or username)[:64]),  # X.520 ub
    ])


def ensure_signatory(pki_dir: Path, *, username: str, full_name: str, user_id: int,
                     renew: bool = False) -> Path:
    """The dev PKI's PKCS#12 of a signatory, issued first if there is none fit to sign: missing,
    made for another account or name, revoked, or within :data:`SIGNATORY_RENEW_DAYS` of its
    end (or always, with ``renew``). The certificate it replaces is revoked (superseded).

    Safe under concurrency: of workers that find no fit certificate at once, the first issues
    one under the folder's lock and the others then find it.
    """
    keys_dir = pki_dir / SIGNATORY_DIR
    path = signatory_path(keys_dir, username)
    subject = _signatory_subject(pki_dir, full_name=full_name, username=username,
                                 user_id=user_id)
    if not renew and _fit(pki_dir, path, subject) is True:
        return path
    with _locked(pki_dir):
        if not renew and _fit(pki_dir, path, subject) is True:
            return path  # issued by another worker meanwhile
        replaced = _signatory_certificate(pki_dir, path)
        keys_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(keys_dir, 0o700)
        ca_cert, ca_key = load_ca(pki_dir)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = _now()
        cert = issue_certificate(
            ca_cert, ca_key, subject=subject, public_key=key.public_key(), not_before=now,
            not_after=min(now + dt.timedelta(days=SIGNATORY_YEARS * 365),
                          ca_cert.not_valid_after_utc),
            key_usage=_SIGNING_KEY_USAGE, extended_key_usage=DOCUMENT_SIGNING_EKU,
            crl_url=_crl_url(pki_dir))
        _write_private(path, pkcs12.serialize_key_and_certificates(
            username.encode(), key, cert, [ca_cert],
            serialization.BestAvailableEncryption(_passphrase(pki_dir).encode())))
        if replaced is not None:  # the one it replaces can sign no more
            _revoke(pki_dir, replaced.serial_number, reason=x509.ReasonFlags.superseded)
    return path


def revoke_signatory(pki_dir: Path, username: str,
                     reason: x509.ReasonFlags = x509.ReasonFlags.cessation_of_operation
                     ) -> int | None:
    """Revoke a signatory's dev certificate in the CRL and delete its key; the serial number
    revoked, or None if they had none. Signatures made before stay valid (their time-stamps
    precede the revocation); none can be made with it after."""
    path = signatory_path(pki_dir / SIGNATORY_DIR, username)
    if not path.exists():
        return None
    with _locked(pki_dir):
        cert = _signatory_certificate(pki_dir, path)
        if cert is None:
            return None
        _revoke(pki_dir, cert.serial_number, reason=reason)
        path.unlink(missing_ok=True)
    return cert.serial_number


def _signatory_subject(pki_dir: Path, *, full_name: str, username: str,
                       user_id: int) -> x509.Name:
    ca = x509.load_pem_x509_certificate((pki_dir / "ca.pem").read_bytes())
    org = ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return signatory_name(full_name=full_name, username=username, user_id=user_id,
                          org=str(org[0].value) if org else "LIMS")


def _signatory_certificate(pki_dir: Path, path: Path) -> x509.Certificate | None:
    try:
        _key, cert, _extra = pkcs12.load_key_and_certificates(
            path.read_bytes(), _passphrase(pki_dir).encode())
    except FileNotFoundError:
        return None
    return cert


def _fit(pki_dir: Path, path: Path, subject: x509.Name) -> bool | x509.Certificate | None:
    """True if ``path`` holds a certificate for ``subject`` fit to sign; else the unfit
    certificate there (or None if there is none)."""
    try:
        mtime = path.stat().st_mtime_ns
        crl_mtime = (pki_dir / "ca.crl").stat().st_mtime_ns
    except FileNotFoundError:
        return None
    return _fit_cached(str(pki_dir), str(path), mtime, crl_mtime, subject.rfc4514_string(),
                       dt.datetime.now(dt.UTC).date())


@functools.lru_cache(maxsize=256)
def _fit_cached(pki_dir: str, path: str, _mtime: int, _crl_mtime: int, subject: str,
                _day: dt.date) -> bool | x509.Certificate | None:
    # Keyed by both files' versions, so that a re-issue or a revocation is seen at once, and by
    # the day, so that a long-running worker still renews a certificate nearing its end.
    cert = _signatory_certificate(Path(pki_dir), Path(path))
    if cert is None:
        return None
    crl = x509.load_der_x509_crl((Path(pki_dir) / "ca.crl").read_bytes())
    renew_at = cert.not_valid_after_utc - dt.timedelta(days=SIGNATORY_RENEW_DAYS)
    if (cert.subject.rfc4514_string() != subject
            or not cert.not_valid_before_utc <= dt.datetime.now(dt.UTC) < renew_at
            or crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None):
        return cert
    return True


def _crl_url(pki_dir: Path) -> str:
    """The CRL distribution point the dev PKI's certificates name (the TSA's, as issued)."""
    try:
        tsa = x509.load_pem_x509_certificate((pki_dir / "tsa.pem").read_bytes())
        points = tsa.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        for point in points:
            for name in point.full_name or ():
                if isinstance(name, x509.UniformResourceIdentifier):
                    return str(name.value)
    except (FileNotFoundError, x509.ExtensionNotFound):
        pass
    return DEFAULT_CRL_URL
