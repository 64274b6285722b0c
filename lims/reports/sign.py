"""Sign PDF bytes with PAdES signatures (pyHanko) and validate signed PDFs.

Knows nothing of samples or reports (a signatory is anything with a ``username``,
``full_name`` and ``id``).

A test report carries two signatures (:func:`sign_report`), in this order:

1. the lab's seal (检验检测专用章), made with the lab key, a *certification* signature whose
   DocMDP permissions allow only form filling and signing (and validation data), so that any
   other change made after it shows (ISO 32000-1 12.8.2.2); it also creates the empty field
   the signatory then signs;
2. the approval, made with the signatory's own key (21 CFR 11.100, 电子签名法 第十三条),
   naming the signer (/Name), the meaning (/Reason "批准 Approved: …") and the time (/M, and
   the RFC 3161 time-stamp) (21 CFR 11.50).

Each gets its own signature time-stamp and validation data; the document time-stamp of B-LTA
follows the last. Reports issued before signatories had keys of their own carry one lab
signature and keep verifying. The signature field is invisible: the human-readable
signature block is drawn by :mod:`lims.reports.render` (a visible pyHanko stamp with Chinese
text costs ~0.7 s per signature, toolchain notes).

Given a time-stamping authority, a signature is PAdES **B-LT** (requirements PD-02, PD-03): an
RFC 3161 signature time-stamp, then a DSS holding the certificates and CRLs of the signer's and
the TSA's chains, so that the file still proves who signed it, and when, after the signer's
certificate has expired and without asking any server. With ``lta`` a document time-stamp over
the DSS follows (**B-LTA**, PD-04); renewing that chain before the TSA certificate expires is
what keeps a file provable beyond it.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import algos, cms, tsp
from asn1crypto import crl as asn1_crl
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import MDPPerm, SigFieldSpec
from pyhanko.sign.general import (
    NonexistentAttributeError,
    SigningError,
    as_signing_certificate_v2,
    find_unique_cms_attribute,
    simple_cms_attribute,
)
from pyhanko.sign.signers.pdf_signer import DSSContentSettings, SigDSSPlacementPreference
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper, TimestampRequestError
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    FreshnessReqType,
    RevocationCheckingPolicy,
)
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from lims.errors import ReportError, msg
from lims.reports import pki

FIELD_NAME = "LabSignature"  # the one signature of letters and of reports issued before seals
SEAL_FIELD = "LabSeal"
APPROVAL_FIELD = "Approval"
SEAL_REASON = "检验检测专用章 Seal of the laboratory: certifies the document"
# The dev TSA issues tokens under no real policy: an OID in ITU-T X.660's example arc.
DEV_TSA_POLICY = "2.999.3161.1"


class _OfflineEmbeddingNotice(logging.Filter):
    """Drop pyHanko's per-signature warning that revocation data are embedded without fetching:
    with the dev PKI that is the design (the CRL comes from a file), not a problem."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_OfflineEmbeddingNotice())


def load_signer(p12_path: str, passphrase: str) -> signers.SimpleSigner:
    """Load the lab's signing key and certificate from a PKCS#12 file (cached per file version).

    :raises ReportError: the file is missing or the passphrase is wrong.
    """
    try:
        mtime = os.stat(p12_path).st_mtime_ns
    except FileNotFoundError:
        raise ReportError(msg("signing key file %(path)s does not exist; run `lims init` or set "
                              "LIMS_SIGNING_PKCS12", path=p12_path)) from None
    return _load_signer(p12_path, passphrase, mtime)


class KeyCachingSigner(signers.SimpleSigner):
    """A SimpleSigner that parses its private key once.

    pyHanko's SimpleSigner re-parses the DER key on every raw signature, and cryptography's RSA
    key check makes that ~40 ms, twice per PDF: more than half the cost of issuing a report.
    The parsed key is kept for the signer's lifetime (the signer is cached per key file).
    """

    _pyca_key: Any = None

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        if mechanism not in ("rsassa_pkcs1v15", "ecdsa"):
            return super().sign_raw(data, digest_algorithm)
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
        raise ReportError(msg("cannot open signing key file %(path)s: wrong passphrase?", path=p12_path))
    return KeyCachingSigner(signing_cert=loaded.signing_cert, signing_key=loaded.signing_key,
                            cert_registry=loaded.cert_registry)


def signer_subject(signer: signers.SimpleSigner) -> str:
    cert = signer.signing_cert
    if cert is None:
        raise ReportError(msg("the signing key file holds no certificate"))
    return str(cert.subject.human_friendly)


# --- whose keys sign a report ----------------------------------------------------------------

def lab_trust_anchor(settings: Any) -> bytes:
    """The CA certificate(s) shipped in the lab's PKCS#12, as PEM: what every signature of the
    lab (seal, signatories, letters) must chain to, and what verification trusts.

    :raises ReportError: the lab's key file is missing or carries no CA certificate.
    """
    try:
        mtime = os.stat(settings.signing_pkcs12).st_mtime_ns
    except FileNotFoundError:
        raise ReportError(msg("signing key file %(path)s does not exist; run `lims init` or set "
                              "LIMS_SIGNING_PKCS12", path=settings.signing_pkcs12)) from None
    try:
        return _trust_anchor(settings.signing_pkcs12, settings.signing_passphrase, mtime)
    except ValueError as exc:
        raise ReportError(msg("cannot read the CA certificate from %(path)s: %(reason)s",
                              path=settings.signing_pkcs12, reason=exc)) from exc


@functools.lru_cache(maxsize=4)
def _trust_anchor(p12_path: str, passphrase: str, _mtime: int) -> bytes:
    return pki.ca_certificate_pem(Path(p12_path), passphrase)


def seal_signer(settings: Any) -> signers.SimpleSigner | None:
    """The lab key that seals (certifies) reports, or None with ``LIMS_LAB_SEAL=false``."""
    if not settings.lab_seal:
        return None
    return load_signer(settings.signing_pkcs12, settings.signing_passphrase)


def signatory_signer(settings: Any, user: Any) -> signers.SimpleSigner:
    """The signing key and certificate of ``user`` themself (an authorised signatory).

    With ``LIMS_SIGNATORY_KEYS``, ``<that folder>/<username>.p12`` (encrypted with
    ``LIMS_SIGNING_PASSPHRASE``), issued by the lab's CA. Otherwise the development CA beside
    the lab key issues one on first use (:func:`lims.reports.pki.ensure_signatory`), and
    again when the account's name changed or the certificate was revoked or nears its end.

    The caller authorises the use: the signatory has re-entered their password.

    :raises ReportError: there is no key for the user, it cannot be opened, or its
        certificate is not issued by the lab's CA (a signature verification would not trust).
    """
    if settings.signatory_keys:
        path = pki.signatory_path(Path(settings.signatory_keys), user.username)
        if not path.exists():
            raise ReportError(msg("there is no signing key for signatory %(username)s: put %(name)s in "
                                  "LIMS_SIGNATORY_KEYS (%(folder)s); nothing was signed",
                                  username=user.username, name=path.name,
                                  folder=settings.signatory_keys), field="signatory")
    else:
        pki_dir = Path(settings.signing_pkcs12).parent
        if not (pki_dir / "ca.key").exists():
            raise ReportError(msg("signatories have no keys: set LIMS_SIGNATORY_KEYS to the folder of "
                                  "their PKCS#12 files (there is no development CA beside %(path)s); "
                                  "nothing was signed", path=settings.signing_pkcs12),
                              field="signatory")
        try:
            path = pki.ensure_signatory(pki_dir, username=user.username,
                                        full_name=user.full_name, user_id=user.id)
        except (OSError, ValueError) as exc:
            raise ReportError(msg("cannot issue the signing certificate of %(username)s: %(reason)s; "
                                  "nothing was signed", username=user.username, reason=exc)) from exc
    signer = load_signer(str(path), settings.signing_passphrase)
    roots = [_pyca_cert(c) for c in _pem_certificates(lab_trust_anchor(settings))]
    assert signer.signing_cert is not None  # noqa: S101 - load_signer reads a certificate
    cert = _pyca_cert(signer.signing_cert)
    if not _chains_to(cert, [_pyca_cert(c) for c in signer.cert_registry], roots):
        raise ReportError(msg("the signing certificate of %(username)s (%(subject)s) is not issued by the "
                              "lab's CA, so no one verifying the report could trust it; nothing was signed",
                              username=user.username, subject=cert.subject.rfc4514_string()),
                          field="signatory")
    return signer


def withdraw_signatory(settings: Any, user: Any) -> int | None:
    """Revoke the development certificate of ``user`` if they may no longer sign: disabled,
    or holding neither ``sample.approve`` nor ``report.issue`` (21 CFR 11.300(b): a
    signature's means are withdrawn with the authority). Run it after the change committed.

    :return: the serial number revoked, or None: they may still sign, had no certificate, or
        their keys come from ``LIMS_SIGNATORY_KEYS``, whose CA must revoke them.
    :raises ReportError: the CRL or key file could not be written (the change stands).
    """
    from lims.auth.permissions import allowed

    if user.active and (allowed(user.roles, "sample.approve")
                        or allowed(user.roles, "report.issue")):
        return None
    pki_dir = Path(settings.signing_pkcs12).parent
    if settings.signatory_keys or not (pki_dir / "ca.key").exists():
        return None
    try:
        return pki.revoke_signatory(pki_dir, user.username)
    except (OSError, ValueError) as exc:
        raise ReportError(msg("%(username)s may no longer sign, but their signing certificate could not be "
                              "revoked in %(folder)s (%(reason)s); revoke it there by hand",
                              username=user.username, folder=pki_dir, reason=exc),
                          field="username") from exc


def _chains_to(cert: x509.Certificate, pool: Sequence[x509.Certificate],
               roots: Sequence[x509.Certificate], depth: int = 6) -> bool:
    """Whether ``cert`` is, or is issued (through ``pool``) by, one of ``roots``; signatures
    checked, names alone prove nothing."""
    anchors = {r.public_bytes(serialization.Encoding.DER) for r in roots}
    current = cert
    for _ in range(depth):
        if current.public_bytes(serialization.Encoding.DER) in anchors:
            return True
        issuer = next((c for c in [*roots, *pool]
                       if c.subject == current.issuer and c != current and _issued(current, c)),
                      None)
        if issuer is None:
            return False
        current = issuer
    return False


def _issued(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# --- time-stamping ---------------------------------------------------------------------------

class LabTimeStamper(TimeStamper):
    """An RFC 3161 time-stamping authority in process, signing with the dev PKI's TSA key.

    Its tokens are real: a TSTInfo in CMS SignedData with the ESS signing-certificate-v2
    attribute (RFC 5816), signed by a TSA certificate with the critical extended key usage
    timeStamping and validated like any TSA's. Only the clock is this server's own, so it
    proves nothing a third party would accept as legal time: production sets ``LIMS_TSA_URL``.
    In the manner of pyHanko's ``DummyTimeStamper``, but the RSA key is parsed once, not per
    token (~40 ms each).
    """

    def __init__(self, cert: asn1_x509.Certificate, key: rsa.RSAPrivateKey,
                 chain: Sequence[asn1_x509.Certificate] = ()) -> None:
        # pyHanko leaves this __init__ unannotated, and mypy's untyped_calls_exclude does not
        # reach calls through super().
        super().__init__()  # type: ignore[no-untyped-call]
        self._cert, self._key = cert, key
        # Encoded once: asn1crypto re-encodes a certificate put into a new structure (~20 ms).
        self._cert_set = cms.CertificateSet([cert, *chain]).dump()
        self._ess_cert_id = simple_cms_attribute(
            "signing_certificate_v2", as_signing_certificate_v2(cert)).dump()

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        imprint = req["message_imprint"]
        md = imprint["hash_algorithm"]["algorithm"].native
        info: dict[str, Any] = {
            "version": "v1", "policy": DEV_TSA_POLICY, "message_imprint": imprint,
            "serial_number": secrets.randbits(64) + 1,
            "gen_time": dt.datetime.now(dt.UTC),
            "tsa": asn1_x509.GeneralName(name="directory_name", value=self._cert.subject),
        }
        if req["nonce"].native is not None:
            info["nonce"] = req["nonce"]
        tst_info = tsp.TSTInfo(info).dump()
        hash_algo = get_pyca_cryptography_hash(md)
        digest = hashes.Hash(hash_algo)
        digest.update(tst_info)
        signed_attrs = cms.CMSAttributes([
            simple_cms_attribute("content_type", "tst_info"),
            simple_cms_attribute("message_digest", digest.finalize()),
            cms.CMSAttribute.load(self._ess_cert_id),
        ])
        signer_info = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber(
                {"issuer": self._cert.issuer, "serial_number": self._cert.serial_number})}),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": md}),
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
            "signed_attrs": signed_attrs,
            "signature": self._key.sign(signed_attrs.dump(), PKCS1v15(), hash_algo),
        })
        token = cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData({
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": md})],
            "encap_content_info": {"content_type": "tst_info",
                                   "content": cms.ParsableOctetString(tst_info)},
            "certificates": cms.CertificateSet.load(self._cert_set),
            "signer_infos": [signer_info],
        })})
        return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token})


@dataclass(frozen=True)
class Stamping:
    """What turns a PAdES B-B signature into B-LT: a timestamper and revocation data."""

    timestamper: TimeStamper
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    trust: tuple[asn1_x509.Certificate, ...] = ()  # roots besides the signer's (the TSA's)
    fetch: bool = False  # fetch revocation data that are not given (an external TSA or CA)


def load_stamping(p12_path: str, *, tsa_url: str = "", tsa_ca_file: str = "") -> Stamping:
    """The timestamper and revocation data for the signing key at ``p12_path``.

    The dev PKI beside the key supplies its CRL and, unless ``tsa_url`` names a real RFC 3161
    service, its TSA. An external TSA's chain ends in the root in ``tsa_ca_file`` (PEM), and
    its revocation data are fetched when signing.

    :raises ReportError: there is no TSA (neither ``tsa_url`` nor a dev TSA beside the key).
    """
    pki_dir = Path(p12_path).parent
    crls = _dev_crls(str(pki_dir))
    if tsa_url:
        trust = tuple(_pem_certificates(Path(tsa_ca_file).read_bytes())) if tsa_ca_file else ()
        return Stamping(_http_timestamper(tsa_url), crls, trust, fetch=True)
    try:
        mtime = (pki_dir / "tsa.key").stat().st_mtime_ns
    except FileNotFoundError:
        raise ReportError(msg("no time-stamping authority: set LIMS_TSA_URL (there is no development TSA "
                              "in %(folder)s; `lims init` adds one)", folder=pki_dir)) from None
    return Stamping(_dev_timestamper(str(pki_dir), mtime), crls, fetch=not crls)


@functools.lru_cache(maxsize=4)
def _http_timestamper(url: str) -> TimeStamper:
    return HTTPTimeStamper(url, timeout=10)  # kept: it learns the TSA's certificates once


@functools.lru_cache(maxsize=4)
def _dev_timestamper(pki_dir: str, _mtime: int) -> TimeStamper:
    cert, key = pki.load_tsa(Path(pki_dir))
    ca = x509.load_pem_x509_certificate((Path(pki_dir) / "ca.pem").read_bytes())
    return LabTimeStamper(_asn1_cert(cert), key, chain=[_asn1_cert(ca)])


def _dev_crls(pki_dir: str) -> tuple[x509.CertificateRevocationList, ...]:
    try:
        return (pki.load_crl(Path(pki_dir)),)  # re-issued first when near its next update
    except FileNotFoundError:
        return ()


# --- signing ---------------------------------------------------------------------------------

def check_signer(signer: signers.SimpleSigner, *,
                 crls: Sequence[x509.CertificateRevocationList] = (),
                 at: dt.datetime | None = None) -> None:
    """Refuse a signing certificate that cannot make a signature worth issuing.

    It must be within its validity period, carry the key usage nonRepudiation (content
    commitment: what pyHanko and other PAdES validators require of a document signature,
    PD-07), and not be revoked by any of ``crls`` that its issuer signed.

    :raises ReportError: with the reason; nothing has been signed.
    """
    if signer.signing_cert is None:
        raise ReportError(msg("the signing key comes without its certificate; nothing was signed"))
    cert = x509.load_der_x509_certificate(signer.signing_cert.dump())
    now = at or dt.datetime.now(dt.UTC)
    who = {"subject": cert.subject.rfc4514_string(), "serial": cert.serial_number}
    if now < cert.not_valid_before_utc:
        raise ReportError(msg("the signing certificate %(subject)s (serial %(serial)x) is not valid "
                              "before %(since)s UTC; nothing was signed", **who,
                              since=format(cert.not_valid_before_utc, "%Y-%m-%d %H:%M")))
    if now > cert.not_valid_after_utc:
        raise ReportError(msg("the signing certificate %(subject)s (serial %(serial)x) expired on "
                              "%(until)s UTC; install a renewed certificate "
                              "(LIMS_SIGNING_PKCS12); nothing was signed", **who,
                              until=format(cert.not_valid_after_utc, "%Y-%m-%d %H:%M")))
    try:
        usage: x509.KeyUsage | None = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or not usage.content_commitment:
        raise ReportError(msg("the signing certificate %(subject)s (serial %(serial)x) lacks the key "
                              "usage nonRepudiation (contentCommitment) that a "
                              "document signature needs; nothing was signed", **who))
    issuer_key = _issuer_key(signer, cert)
    for crl in crls:
        if crl.issuer != cert.issuer or (issuer_key is not None
                                         and not crl.is_signature_valid(issuer_key)):
            continue
        revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if revoked is not None:
            raise ReportError(msg("the signing certificate %(subject)s (serial %(serial)x) was "
                                  "revoked on %(revoked)s UTC; nothing was signed", **who,
                                  revoked=format(revoked.revocation_date_utc, "%Y-%m-%d %H:%M")))


def _issuer_key(signer: signers.SimpleSigner, cert: x509.Certificate) -> Any:
    for c in signer.cert_registry:
        candidate = _pyca_cert(c)
        if candidate.subject == cert.issuer:
            return candidate.public_key()
    return None


# The DSS goes into the revision the signature covers (no VRI, which would need the signature
# first): B-LT in one revision, "Total document signed" for pdfsig, no extra update to analyse.
_DSS_IN_SIGNED_REVISION = DSSContentSettings(
    placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE, include_vri=False)


def sign_pdf(pdf: bytes, signer: signers.SimpleSigner, *, reason: str, location: str,
             timestamper: TimeStamper | None = None, lta: bool = False,
             crls: Sequence[x509.CertificateRevocationList] = (),
             trust: Sequence[asn1_x509.Certificate] = (), fetch: bool = False) -> bytes:
    """Return ``pdf`` with a PAdES signature covering the whole file.

    B-B without a ``timestamper``. With one, B-LT: a signature time-stamp, and a DSS (in the
    signed revision) with the certificates and revocation data of the signer's and the TSA's
    chains, from ``crls`` (and, with ``fetch``, from the network). With ``lta`` as well, B-LTA:
    a document time-stamp after it.
    Roots are the self-signed certificates of the signer's chain, plus ``trust``.

    :raises ReportError: the certificate is unfit (:func:`check_signer`), its chain or the TSA's
        cannot be validated, or the TSA does not answer. Nothing is signed.
    """
    check_signer(signer, crls=crls)
    if lta and timestamper is None:
        raise ValueError("a PAdES B-LTA signature needs a timestamper")
    return _apply(pdf, signer, field=FIELD_NAME, reason=reason, location=location,
                  timestamper=timestamper, lta=lta, crls=crls, trust=trust, fetch=fetch)


def sign_report(pdf: bytes, *, signatory: signers.SimpleSigner,
                seal: signers.SimpleSigner | None, reason: str, location: str, name: str,
                stamping: Stamping | None, lta: bool = False) -> bytes:
    """Return ``pdf`` sealed by the lab (if ``seal``) and then signed by ``signatory``.

    The seal is a certification signature (DocMDP: form filling and signing allowed) over the
    rendered report, in the same revision as the empty field the signatory signs. The
    signatory's approval signature carries ``name`` (/Name, the printed name), ``reason`` (the
    meaning, e.g. "批准 Approved: test report …") and ``location``, and pyHanko sets /M (21 CFR
    11.50(a)). Both are B-LT with ``stamping`` (B-B without); with ``lta`` a document
    time-stamp follows the approval (B-LTA).

    :raises ReportError: either certificate is unfit (:func:`check_signer`, both checked
        before anything is signed), a chain cannot be validated, or the TSA does not answer.
    """
    crls = stamping.crls if stamping is not None else ()
    check_signer(signatory, crls=crls)
    if seal is not None:
        check_signer(seal, crls=crls)
    if lta and stamping is None:
        raise ValueError("a PAdES B-LTA signature needs a timestamper")
    kwargs: dict[str, Any] = {"location": location}
    if stamping is not None:
        kwargs.update(timestamper=stamping.timestamper, crls=stamping.crls,
                      trust=stamping.trust, fetch=stamping.fetch)
    if seal is not None:
        pdf = _apply(pdf, seal, field=SEAL_FIELD, reason=SEAL_REASON, certify=True,
                     add_field=APPROVAL_FIELD, **kwargs)
    return _apply(pdf, signatory, field=APPROVAL_FIELD, reason=reason, name=name, lta=lta,
                  **kwargs)


def _apply(pdf: bytes, signer: signers.SimpleSigner, *, field: str, reason: str,
           location: str, name: str | None = None, certify: bool = False,
           add_field: str | None = None, timestamper: TimeStamper | None = None,
           lta: bool = False, crls: Sequence[x509.CertificateRevocationList] = (),
           trust: Sequence[asn1_x509.Certificate] = (), fetch: bool = False) -> bytes:
    """One signature into ``field`` (an empty field of that name, or a new one)."""
    extra: dict[str, Any] = {}
    if timestamper is not None:
        chain = list(signer.cert_registry)
        roots = [c for c in chain if c.subject == c.issuer] + list(trust)
        context = ValidationContext(
            trust_roots=roots, other_certs=chain, allow_fetching=fetch,
            crls=[asn1_crl.CertificateList.load(c.public_bytes(serialization.Encoding.DER))
                  for c in crls],
            revocation_mode="hard-fail")  # a certificate naming a CRL must have a usable one
        extra = {"embed_validation_info": True, "validation_context": context,
                 "use_pades_lta": lta, "dss_settings": _DSS_IN_SIGNED_REVISION}
    if certify:
        # ISO 32000-1 12.8.2.2, P=2: later revisions may only fill in forms and sign (and add
        # validation data): any other change after the seal invalidates it.
        extra.update(certify=True, docmdp_permissions=MDPPerm.FILL_FORMS)
    meta = signers.PdfSignatureMetadata(
        field_name=field, subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256",
        reason=reason, location=location, name=name, **extra)
    assert signer.signing_cert is not None  # noqa: S101 - check_signer refused a signer without
    key = (signer.signing_cert.sha256, id(timestamper))
    reserved = _RESERVED.get(key)
    try:
        try:
            signed = _sign(pdf, signer, meta, timestamper, reserved, add_field)
        except SigningError:
            if reserved is None:
                raise
            _RESERVED.pop(key, None)  # the signature outgrew the space kept for it: measure anew
            reserved = None
            signed = _sign(pdf, signer, meta, timestamper, None, add_field)
    except SigningError as exc:
        cause = f": {exc.__cause__}" if exc.__cause__ else ""
        raise ReportError(msg("cannot sign: %(reason)s%(cause)s; nothing was signed", reason=exc,
                              cause=cause)) from exc
    except (TimestampRequestError, OSError) as exc:
        raise ReportError(msg("the time-stamping authority did not answer (%(reason)s); nothing was signed",
                              reason=exc)) from exc
    if reserved is None:
        size = len(PdfFileReader(io.BytesIO(signed)).embedded_regular_signatures[-1].pkcs7_content)
        _RESERVED[key] = 2 * (size + 512)  # hex digits, with 512 bytes to spare
    return signed


# Space for the CMS signature in /Contents, per (certificate, timestamper): measured on the
# first signature. pyHanko would build a throw-away signature first to estimate it, ~15 ms of a
# 60 ms signing, though the size varies by a few bytes (a TSA's token); a signature that outgrows
# it is signed again with pyHanko's estimate.
_RESERVED: dict[tuple[bytes, int], int] = {}


def _sign(pdf: bytes, signer: signers.SimpleSigner, meta: signers.PdfSignatureMetadata,
          timestamper: TimeStamper | None, reserved: int | None,
          add_field: str | None = None) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    if add_field is not None:  # created in the revision the seal covers, signed later
        fields.append_signature_field(writer, SigFieldSpec(add_field))
    out = io.BytesIO()
    signers.PdfSigner(meta, signer, timestamper=timestamper).sign_pdf(
        writer, output=out, bytes_reserved=reserved)
    return out.getvalue()


# --- validation ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignatureCheck:
    """One signature of a PDF, as validated."""

    intact: bool
    valid: bool
    trusted: bool
    covers_whole_file: bool  # but for later signatures, validation data and time-stamps
    signer: str              # the certificate's subject
    timestamped: bool = False  # a valid signature time-stamp from a trusted TSA
    signed_at: dt.datetime | None = None  # its time, when timestamped
    level: str = "B-B"  # the PAdES baseline level found: B-B, B-T, B-LT or B-LTA
    name: str = ""      # the printed name: /Name, else the certificate's common name
    reason: str = ""    # /Reason: the meaning of the signature
    certifying: bool = False  # a certification signature (the lab's seal)
    field: str = ""

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and self.covers_whole_file


_LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")


@dataclass(frozen=True)
class DocumentCheck:
    """Every signature of a PDF, in signing order. Genuine (``ok``) only if each one is valid,
    intact and trusted, the last covers the whole file (but for time-stamps and validation
    data), and each earlier one allows what came after it.

    The attributes of a single signature (``signer``, ``level`` …) describe the approval
    (the last signature), except ``ok`` and ``level``, which hold for the whole file.
    """

    signatures: tuple[SignatureCheck, ...]

    @property
    def approval(self) -> SignatureCheck:
        return self.signatures[-1]

    @property
    def seal(self) -> SignatureCheck | None:
        return next((s for s in self.signatures if s.certifying), None)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.signatures)

    @property
    def intact(self) -> bool:
        return all(s.intact for s in self.signatures)

    @property
    def valid(self) -> bool:
        return all(s.valid for s in self.signatures)

    @property
    def trusted(self) -> bool:
        return all(s.trusted for s in self.signatures)

    @property
    def timestamped(self) -> bool:
        return all(s.timestamped for s in self.signatures)

    @property
    def covers_whole_file(self) -> bool:
        return all(s.covers_whole_file for s in self.signatures)

    @property
    def level(self) -> str:
        return min((s.level for s in self.signatures), key=_LEVELS.index)

    @property
    def signer(self) -> str:
        return self.approval.signer

    @property
    def name(self) -> str:
        return self.approval.name

    @property
    def reason(self) -> str:
        return self.approval.reason

    @property
    def signed_at(self) -> dt.datetime | None:
        return self.approval.signed_at


# Revocation data for a TSA, judged at a moment when none can be fresh (years after signing):
# any embedded CRL still counts, so a TSA revoked in it fails while a merely old one does not.
_EMBEDDED_REVINFO_ANY_AGE = CertRevTrustPolicy(
    RevocationCheckingPolicy.from_legacy("hard-fail"), freshness=dt.timedelta(days=365_000),
    freshness_req_type=FreshnessReqType.MAX_DIFF_REVOCATION_VALIDATION)


def validate_pdf(pdf: bytes, ca_pem: bytes, *, at: dt.datetime | None = None,
                 tsa_ca_pem: bytes = b"") -> DocumentCheck | None:
    """Validate every signature of a signed PDF as of ``at`` (timezone-aware; default now);
    None if the file is unsigned or unreadable.

    Uses only the file and the trust anchors (the lab's CA, and ``tsa_ca_pem`` for an external
    TSA's root), never the network: a signature by a certificate that does not chain to the
    lab's CA is not trusted, whoever made it. A time-stamped signature is judged the long-term
    way:

    * the time-stamp as of ``at``: its TSA certificate must be within its validity then, and
      not revoked per the revocation data in the file's DSS;
    * the signer's certificate as of the time-stamp's time, with the CRLs in the DSS: so a
      signature made while the certificate was valid stays valid after it expires.

    Without a (trusted) time-stamp, the signer's certificate is judged as of ``at``.
    """
    roots = _pem_certificates(ca_pem)
    ts_roots = roots + _pem_certificates(tsa_ca_pem)
    moment = at or dt.datetime.now(dt.UTC)
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        sigs = reader.embedded_regular_signatures  # not the document time-stamps
    except Exception:  # noqa: BLE001 - any unreadable upload is simply "not a valid signed PDF"
        return None
    if not sigs:
        return None
    try:
        dss: DocumentSecurityStore | None = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        dss = None

    def context(trust: list[asn1_x509.Certificate], when: dt.datetime,
                **policy: Any) -> ValidationContext:
        kwargs = {"trust_roots": trust, "allow_fetching": False, "moment": when, "crls": [],
                  "ocsps": [], **policy}
        return dss.as_validation_context(kwargs) if dss is not None else ValidationContext(**kwargs)

    ts_context = context(ts_roots, moment, revinfo_policy=_EMBEDDED_REVINFO_ANY_AGE)
    doc_stamps_ok: bool | None = None

    def lta() -> bool:  # validated once, and only if some signature is B-LT
        nonlocal doc_stamps_ok
        if doc_stamps_ok is None:
            stamps = reader.embedded_timestamp_signatures
            doc_stamps_ok = bool(stamps) and all(
                _ok(validate_pdf_timestamp(d, ts_context)) for d in stamps)
        return doc_stamps_ok

    checks = []
    for i, sig in enumerate(sigs):
        last = i == len(sigs) - 1
        try:
            checks.append(_check_signature(sig, roots, moment, context, ts_context, dss, lta,
                                           last=last))
        except Exception:  # noqa: BLE001 - a malformed signature is an invalid one, never a 500
            checks.append(SignatureCheck(intact=False, valid=False, trusted=False,
                                         covers_whole_file=False, signer="",
                                         field=str(sig.field_name)))
    return DocumentCheck(tuple(checks))


def _check_signature(sig: Any, roots: list[asn1_x509.Certificate], moment: dt.datetime,
                     context: Any, ts_context: Any, dss: DocumentSecurityStore | None,
                     lta: Any, *, last: bool) -> SignatureCheck:
    stamped_at = _signature_timestamp_time(sig)
    status = None
    if stamped_at is not None and stamped_at <= moment:  # not "as of" before it existed
        status = validate_pdf_signature(
            sig, context(roots, stamped_at, revocation_mode="hard-fail"), ts_context)
        stamp = status.timestamp_validity
        if not (stamp and stamp.intact and stamp.valid and stamp.trusted
                and stamp.timestamp == stamped_at):
            status = None
    timestamped = status is not None
    if status is None:
        status = validate_pdf_signature(sig, context(roots, moment, revocation_mode="soft-fail"))
    level = "B-B"
    if stamped_at is not None:
        level = "B-T"
        if timestamped and dss is not None and (dss.crls or dss.ocsps):
            level = "B-LT"
            if lta():
                level = "B-LTA"
    entire = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    after = status.modification_level
    if last:
        # After the last signature only validation data and document time-stamps (LT/LTA).
        allowed = ModificationLevel.LTA_UPDATES
    else:
        # After an earlier one (the seal), also the signatures that fill in the form fields,
        # as far as its DocMDP permissions allow (pyHanko's docmdp_ok).
        allowed = ModificationLevel.FORM_FILLING
    covered = entire or (
        status.coverage == SignatureCoverageLevel.ENTIRE_REVISION and after is not None
        and after <= allowed and status.docmdp_ok is not False)
    cert = status.signing_cert
    name = sig.sig_object.get("/Name")
    try:
        common_name = cert.subject.native.get("common_name", "")
    except (AttributeError, ValueError):
        common_name = ""
    reason = sig.sig_object.get("/Reason")
    return SignatureCheck(intact=status.intact, valid=status.valid, trusted=status.trusted,
                          covers_whole_file=covered, signer=cert.subject.human_friendly,
                          timestamped=timestamped, signed_at=stamped_at if timestamped else None,
                          level=level, name=str(name) if name else str(common_name),
                          reason=str(reason) if reason else "",
                          certifying=_certifies(sig),
                          field=str(sig.field_name))


def _certifies(sig: Any) -> bool:
    """Whether the signature is a certification signature (a DocMDP transform in /Reference)."""
    for ref in sig.sig_object.get("/Reference", ()):
        if ref.get_object().get("/TransformMethod") == "/DocMDP":
            return True
    return False


def _ok(status: Any) -> bool:
    return bool(status.intact and status.valid and status.trusted)


def _signature_timestamp_time(sig: Any) -> dt.datetime | None:
    """The genTime claimed by a signature's time-stamp token (unverified), or None."""
    try:
        token = find_unique_cms_attribute(sig.signer_info["unsigned_attrs"],
                                          "signature_time_stamp_token")
    except (NonexistentAttributeError, ValueError):
        return None
    try:
        gen_time: dt.datetime = token["content"]["encap_content_info"]["content"].parsed[
            "gen_time"].native
    except (KeyError, TypeError, ValueError):  # not a time-stamp token: as if there were none
        return None
    return gen_time


def _pem_certificates(data: bytes) -> list[asn1_x509.Certificate]:
    if not data:
        return []
    return [asn1_x509.Certificate.load(der)
            for _type, _hdr, der in asn1_pem.unarmor(data, multiple=True)]


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _pyca_cert(cert: asn1_x509.Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.dump())
