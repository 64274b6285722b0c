"""The development signing PKI: a lab CA and a report-signing certificate.

Made once by ``lims init`` in ``<instance>/pki``. Production names the lab's own PKCS#12 file in
``LIMS_SIGNING_PKCS12`` instead; both are loaded the same way (:mod:`lims.reports.sign`).
The signing certificate carries digitalSignature and nonRepudiation, which PAdES validators
expect of a document signature (requirements PD-07).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID


def _name(cn: str, org: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def create_dev_pki(pki_dir: Path, *, lab_name: str) -> bool:
    """Create the CA and signing certificate unless they exist; return True if created."""
    p12_path = pki_dir / "signer.p12"
    if p12_path.exists() and (pki_dir / "ca.pem").exists():
        return False
    pki_dir.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    ca_name = _name("LIMS Development Root CA", lab_name)
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Report Signing (development)", lab_name))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=3 * 365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    passphrase = secrets.token_urlsafe(24)
    p12 = pkcs12.serialize_key_and_certificates(
        b"lims-report-signer", key, cert, [ca_cert],
        serialization.BestAvailableEncryption(passphrase.encode()))
    (pki_dir / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    # The CA key signs nothing after this; it is kept only so that a developer can issue a
    # replacement signing certificate. Production CAs never live on the LIMS host.
    _write_private(pki_dir / "ca.key", ca_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode())))
    _write_private(pki_dir / "signer.pass", passphrase.encode())
    _write_private(p12_path, p12)
    return True


def ca_certificate_pem(p12_path: Path, passphrase: str) -> bytes:
    """Return the CA certificate(s) shipped in the signing PKCS#12, as PEM."""
    _key, _cert, extra = pkcs12.load_key_and_certificates(
        p12_path.read_bytes(), passphrase.encode() if passphrase else None)
    if not extra:
        raise ValueError(f"{p12_path} carries no CA certificate")
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in extra)
