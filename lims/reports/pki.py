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

Every file is written atomically and readable by the owner only. The CA key is kept (encrypted
with the signer's passphrase) so that the TSA and CRL can be added to an older PKI folder and
the CRL re-issued; a production CA never lives on the LIMS host.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The instance's default public URL (LIMS_PUBLIC_URL); the CRL is published there, if anywhere.
DEFAULT_CRL_URL = "http://127.0.0.1:5000/pki/ca.crl"
CA_YEARS = 30         # a dev CA outlives every report it vouches for (older PKIs: 10 years)
SIGNER_YEARS = 3
CRL_DAYS = 30         # nextUpdate of a fresh CRL
CRL_RENEW_DAYS = 15   # re-issue when fewer days than this remain

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
    next_update = crl.next_update_utc
    if renew and (pki_dir / "ca.key").exists() and (
            next_update is None
            or next_update - dt.datetime.now(dt.UTC) < dt.timedelta(days=CRL_RENEW_DAYS)):
        crl = _issue_crl(pki_dir, list(crl), previous=crl)
    return crl


def revoke(pki_dir: Path, serial: int, *, when: dt.datetime | None = None) -> None:
    """Revoke a certificate of the dev CA by serial number and re-issue the CRL (for tests)."""
    crl = x509.load_der_x509_crl((pki_dir / "ca.crl").read_bytes())
    if crl.get_revoked_certificate_by_serial_number(serial) is not None:
        return
    entry = (x509.RevokedCertificateBuilder().serial_number(serial)
             .revocation_date(when or _now()).build())
    _issue_crl(pki_dir, [*crl, entry], previous=crl)


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
