"""Sign PDF bytes with a PAdES signature (pyHanko) and validate signed PDFs.

Knows nothing of samples or reports. The signature field is invisible: the human-readable
signature block is drawn by :mod:`lims.reports.render` (a visible pyHanko stamp with Chinese
text costs ~0.7 s per signature, toolchain notes).
"""

from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass
from typing import Any

from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import get_pyca_cryptography_hash
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from lims.errors import ReportError

FIELD_NAME = "LabSignature"


def load_signer(p12_path: str, passphrase: str) -> signers.SimpleSigner:
    """Load the lab's signing key and certificate from a PKCS#12 file (cached per file version).

    :raises ReportError: the file is missing or the passphrase is wrong.
    """
    try:
        mtime = os.stat(p12_path).st_mtime_ns
    except FileNotFoundError:
        raise ReportError(f"signing key file {p12_path} does not exist; run `lims init` or set "
                          "LIMS_SIGNING_PKCS12") from None
    return _load_signer(p12_path, passphrase, mtime)


class KeyCachingSigner(signers.SimpleSigner):  # type: ignore[misc]
    """A SimpleSigner that parses its private key once.

    pyHanko's SimpleSigner re-parses the DER key on every raw signature, and cryptography's RSA
    key check makes that ~40 ms, twice per PDF: more than half the cost of issuing a report.
    The parsed key is kept for the signer's lifetime (the signer is cached per key file).
    """

    _pyca_key: Any = None

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        if mechanism not in ("rsassa_pkcs1v15", "ecdsa"):
            return super().sign_raw(data, digest_algorithm)  # type: ignore[no-any-return]
        if self._pyca_key is None:
            self._pyca_key = serialization.load_der_private_key(self.signing_key.dump(),
                                                                password=None)
        hash_algo = get_pyca_cryptography_hash(digest_algorithm)
        if mechanism == "ecdsa":
            return self._pyca_key.sign(data, ec.ECDSA(hash_algo))  # type: ignore[no-any-return]
        return self._pyca_key.sign(data, PKCS1v15(), hash_algo)  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=4)
def _load_signer(p12_path: str, passphrase: str, _mtime: int) -> signers.SimpleSigner:
    loaded = signers.SimpleSigner.load_pkcs12(
        p12_path, passphrase=passphrase.encode() if passphrase else None)
    if loaded is None:
        raise ReportError(f"cannot open signing key file {p12_path}: wrong passphrase?")
    return KeyCachingSigner(signing_cert=loaded.signing_cert, signing_key=loaded.signing_key,
                            cert_registry=loaded.cert_registry)


def signer_subject(signer: signers.SimpleSigner) -> str:
    return signer.signing_cert.subject.human_friendly


def sign_pdf(pdf: bytes, signer: signers.SimpleSigner, *, reason: str, location: str) -> bytes:
    """Return ``pdf`` with a PAdES B-B signature covering the whole file."""
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME, subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256",
        reason=reason, location=location)
    out = io.BytesIO()
    signers.PdfSigner(meta, signer).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), output=out)
    return out.getvalue()


@dataclass(frozen=True)
class SignatureCheck:
    intact: bool
    valid: bool
    trusted: bool
    covers_whole_file: bool
    signer: str

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and self.covers_whole_file


def validate_pdf(pdf: bytes, ca_pem: bytes) -> SignatureCheck | None:
    """Validate the signature of a signed PDF against the lab's CA; None if unsigned."""
    roots = [asn1_x509.Certificate.load(der) for _type, _hdr, der in asn1_pem.unarmor(ca_pem, multiple=True)]
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        sigs = reader.embedded_signatures
    except Exception:  # noqa: BLE001 - any unreadable upload is simply "not a valid signed PDF"
        return None
    if not sigs:
        return None
    status = validate_pdf_signature(sigs[-1], ValidationContext(trust_roots=roots,
                                                                allow_fetching=False))
    return SignatureCheck(intact=status.intact, valid=status.valid, trusted=status.trusted,
                          covers_whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
                          signer=status.signing_cert.subject.human_friendly)
