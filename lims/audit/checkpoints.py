"""Signed checkpoints of the audit head, kept outside the database (issue 8, finding 4).

The hash chain detects an edited event, but not a database owner who cuts the tail and sets
``audit_head`` back, or who edits an event and re-hashes every event after it. A checkpoint
is the head (seq, hash, time) as a small JSON document signed with the lab's key, written to
``<instance>/audit-checkpoints/<seq>.json`` and exportable to a place the database owner cannot
reach. :func:`verify` then holds the chain to every checkpoint (:class:`Anchor`).

The file::

    {"checkpoint": {"format": "lims-audit-checkpoint/1", "seq": 42, "hash": "…",
                    "event_at": "…", "at": "…", "lab": "…"},
     "signature": {"algorithm": "rsassa_pkcs1v15-sha256", "certificate": "<DER, base64>",
                   "value": "<base64>"}}

The signature is detached, over the canonical JSON of ``checkpoint`` (:func:`canonical_json`),
by the key of the lab's PKCS#12 (``LIMS_SIGNING_PKCS12``); the signing certificate is embedded.
A checkpoint is trusted when its certificate is the lab's signing certificate or was issued by
a CA certificate shipped in the same PKCS#12 (so that a renewed signing certificate keeps the
old checkpoints valid) and its signature verifies with that certificate's key.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.audit.models import AuditEvent
from lims.audit.services import Anchor, ChainVerdict, canonical_json, verify_chain
from lims.config import Settings
from lims.db import utcnow
from lims.errors import LimsError, msg

FORMAT = "lims-audit-checkpoint/1"
DIR_NAME = "audit-checkpoints"
_NAME = re.compile(r"^(\d{12})\.json$")
_ALGORITHMS = {"rsassa_pkcs1v15": "rsassa_pkcs1v15-sha256", "ecdsa": "ecdsa-sha256",
               "ed25519": "ed25519"}


class CheckpointError(LimsError):
    """A checkpoint cannot be taken, read or trusted."""

    code = "checkpoint"


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str        # when the checkpoint was taken (UTC, ISO 8601)
    event_at: str  # when the event at ``seq`` was recorded
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def anchor(self) -> Anchor:
        return Anchor(self.seq, self.hash, self.name)


@dataclasses.dataclass(frozen=True)
class Refused:
    name: str
    why: str


def checkpoint_dir(settings: Settings) -> Path:
    return Path(settings.instance_path) / DIR_NAME


def file_name(seq: int) -> str:
    return f"{seq:012d}.json"


# --- signing and trust ---------------------------------------------------------------------

def sign(body: dict[str, Any], signer: Any) -> dict[str, Any]:
    """Return the checkpoint document: ``body`` and a detached signature by ``signer``.

    :param signer: a pyHanko signer, as :func:`lims.reports.sign.load_signer` returns.
    """
    mechanism = signer.get_signature_mechanism_for_digest("sha256").signature_algo
    if mechanism not in _ALGORITHMS:
        raise CheckpointError(msg("the lab's key uses %(mechanism)s; checkpoints are signed with RSA "
                                  "(PKCS#1 v1.5), ECDSA or Ed25519 keys", mechanism=mechanism))
    value = signer.sign_raw(canonical_json(body).encode("utf-8"), "sha256")
    return {"checkpoint": body, "signature": {
        "algorithm": _ALGORITHMS[mechanism],
        "certificate": base64.b64encode(signer.signing_cert.dump()).decode("ascii"),
        "value": base64.b64encode(value).decode("ascii")}}


@dataclasses.dataclass(frozen=True)
class Trust:
    """The lab's signing certificate and the CA certificates shipped with it."""

    signer: x509.Certificate
    cas: tuple[x509.Certificate, ...]

    @classmethod
    def of(cls, settings: Settings) -> Trust:
        try:
            data = Path(settings.signing_pkcs12).read_bytes()
        except OSError as exc:
            raise CheckpointError(msg("cannot read the lab's certificate %(path)s: %(reason)s; set "
                                      "LIMS_SIGNING_PKCS12", path=settings.signing_pkcs12,
                                      reason=exc.strerror)) from None
        passphrase = settings.signing_passphrase.encode() if settings.signing_passphrase else None
        try:
            _key, cert, extra = pkcs12.load_key_and_certificates(data, passphrase)
        except ValueError:
            raise CheckpointError(msg("cannot open %(path)s: wrong passphrase?",
                                      path=settings.signing_pkcs12)) from None
        if cert is None:
            raise CheckpointError(msg("%(path)s holds no certificate", path=settings.signing_pkcs12))
        cas = tuple(c for c in extra if _is_ca(c))
        return cls(cert, cas)

    def accepts(self, cert: x509.Certificate) -> bool:
        if cert == self.signer:
            return True
        for ca in self.cas:
            try:
                cert.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return True
        return False


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _verify_signature(cert: x509.Certificate, algorithm: str, value: bytes, data: bytes) -> None:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and algorithm == "rsassa_pkcs1v15-sha256":
        key.verify(value, data, PKCS1v15(), hashes.SHA256())
    elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm == "ecdsa-sha256":
        key.verify(value, data, ec.ECDSA(hashes.SHA256()))
    elif isinstance(key, ed25519.Ed25519PublicKey) and algorithm == "ed25519":
        key.verify(value, data)
    else:
        raise InvalidSignature(algorithm)


def read(path: Path, trust: Trust) -> Checkpoint:
    """Read one checkpoint file and check its signature, certificate and name.

    :raises CheckpointError: the file is unreadable, malformed, renamed, or not signed by the
        lab's key.
    """
    try:
        doc = json.loads(path.read_bytes())
        body, sig = doc["checkpoint"], doc["signature"]
        seq, digest = body["seq"], body["hash"]
        cert = x509.load_der_x509_certificate(base64.b64decode(sig["certificate"], validate=True))
        value = base64.b64decode(sig["value"], validate=True)
        algorithm = sig["algorithm"]
        at, event_at = str(body["at"]), str(body["event_at"])
    except OSError as exc:
        raise CheckpointError(msg("cannot read it: %(reason)s", reason=exc.strerror)) from None
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise CheckpointError(msg("it is not a checkpoint document")) from None
    if body.get("format") != FORMAT or type(seq) is not int or seq < 1 \
            or not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise CheckpointError(msg("it is not a checkpoint document"))
    if not trust.accepts(cert):
        raise CheckpointError(msg("it is not signed with the lab's key (certificate %(subject)s)",
                                  subject=cert.subject.rfc4514_string()))
    try:
        _verify_signature(cert, str(algorithm), value, canonical_json(body).encode("utf-8"))
    except InvalidSignature:
        raise CheckpointError(msg("its signature does not verify: the file was edited")) from None
    if path.name != file_name(seq):
        raise CheckpointError(msg("it records event %(seq)s but is named %(name)s", seq=seq, name=path.name))
    return Checkpoint(seq=seq, hash=digest, at=at, event_at=event_at, path=path)


def _paths(directory: Path) -> list[Path]:
    """The folder's ``*.json`` files in name order, which is sequence order (zero-padded), from
    one directory listing: no file is opened or stat'ed (thousands accumulate over the years)."""
    if not directory.is_dir():
        return []
    with os.scandir(directory) as entries:
        names = sorted(e.name for e in entries if e.name.endswith(".json") and e.is_file())
    return [directory / name for name in names]


def load(paths: Sequence[Path], trust: Trust | None) -> tuple[list[Checkpoint], list[Refused]]:
    """Read these checkpoint files (:func:`_paths`, or some of them): (trusted, refused), in
    sequence order. ``trust`` may be None only when there is none to read.
    """
    if paths and trust is None:
        raise CheckpointError(msg("no certificate to check the checkpoints against"))
    good, refused = [], []
    for path in paths:
        try:
            good.append(read(path, trust))  # type: ignore[arg-type]
        except CheckpointError as exc:
            refused.append(Refused(path.name, exc.message))
    good.sort(key=lambda c: c.seq)
    return good, refused


# --- verifying -----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Held:
    """What an earlier successful check held the chain to: its newest checkpoint (``seq``, the
    one it walked from) and how many checkpoint files there were."""

    seq: int
    count: int


def verify(session: Session, settings: Settings, *, directory: Path | None = None,
           since_checkpoint: bool = False, held: Held | None = None, read_all: bool = False
           ) -> tuple[ChainVerdict, Checkpoint | None, int]:
    """Verify the chain against every checkpoint: (verdict, start checkpoint, checkpoints).

    :param since_checkpoint: walk only from the newest checkpoint on (its hash is the previous
        hash of the next event); the older checkpoints are still matched, by lookup.
    :param held: with ``since_checkpoint``, what the last successful check held the chain to:
        only the checkpoints from its newest one on are read and matched, and the older files
        are only counted, so that the nightly check costs the day's events and checkpoints
        rather than the whole history (issue 14: an hourly checkpoint makes 52,000 files in
        six years). The older files were read and matched then; a chain rewritten before them
        since would no longer match the newest, which is read again. That none of them was
        edited since is left to the full check (``lims audit verify``) and to ``read_all``.
    :param read_all: with ``held``, read every file all the same (a check someone asked for),
        still failing while one that ``held`` counted is gone.
    A refused checkpoint file fails the verification, naming the file.
    """
    paths = _paths(directory or checkpoint_dir(settings))  # one listing, whatever the count
    trust = _trust_for(paths, settings)
    earlier = 0  # files held before and only counted this time
    if held is not None and since_checkpoint:
        mark = file_name(held.seq)
        names = [p.name for p in paths]
        if mark not in names:
            return ChainVerdict(False, 0, None, msg(
                "checkpoint %(name)s, which the last check held the chain to, is gone",
                name=mark), mark), None, 0
        before = sum(1 for n in names if n < mark)
        if before + 1 < held.count:
            return ChainVerdict(False, 0, None, msg(
                "%(gone)s of the %(count)s checkpoints the last check held the chain to are gone",
                gone=held.count - before - 1, count=held.count)), None, 0
        if not read_all:
            earlier, paths = before, [p for p in paths if p.name >= mark]
    good, refused = load(paths, trust)
    if refused:
        first = refused[0]
        if len(refused) > 1:
            why = msg("checkpoint %(name)s refused: %(reason)s (and %(more)s more)", name=first.name,
                      reason=first.why, more=len(refused) - 1)
        else:
            why = msg("checkpoint %(name)s refused: %(reason)s", name=first.name, reason=first.why)
        return ChainVerdict(False, 0, None, why, first.name), None, len(good)
    start = good[-1] if since_checkpoint and good else None
    verdict = verify_chain(session, anchors=[c.anchor for c in good],
                           start=start.anchor if start else None)
    return verdict, start, earlier + len(good)


def _trust_for(paths: Sequence[Path], settings: Settings) -> Trust | None:
    """The lab's trust anchors, loaded only when there is a checkpoint to check."""
    return Trust.of(settings) if paths else None


# --- taking and exporting ------------------------------------------------------------------

def take(session: Session, settings: Settings, *, directory: Path | None = None
         ) -> tuple[Checkpoint | None, bool]:
    """Checkpoint the verified head: (checkpoint, whether a new file was written).

    The chain is verified from the newest checkpoint first, so that a chain already cut or
    rewritten is never anchored. Returns (None, False) while the chain is empty.

    :raises CheckpointError: the chain does not verify, the newest checkpoint is not
        trusted, or the lab's key cannot be loaded.
    """
    from lims.reports.sign import load_signer

    directory = directory or checkpoint_dir(settings)
    signer = load_signer(settings.signing_pkcs12, settings.signing_passphrase)
    newest = _paths(directory)[-1:]
    good, refused = load(newest, _trust_for(newest, settings))
    if refused:
        raise CheckpointError(msg("checkpoint %(name)s refused: %(reason)s", name=refused[0].name,
                                  reason=refused[0].why),
                              checkpoint=refused[0].name)
    verdict = verify_chain(session, anchors=[c.anchor for c in good],
                           start=good[-1].anchor if good else None)
    if not verdict.ok:
        raise CheckpointError(msg("audit chain broken at event %(seq)s: %(reason)s; no checkpoint taken",
                                  seq=verdict.first_bad_seq, reason=verdict.message),
                              seq=verdict.first_bad_seq)
    if verdict.last_seq == 0:
        return None, False
    if good and good[-1].seq == verdict.last_seq:
        return good[-1], False
    event_at = session.scalar(select(AuditEvent.at).where(AuditEvent.seq == verdict.last_seq))
    if event_at is None:  # only if the event vanished since it was verified
        raise CheckpointError(msg("event %(seq)s vanished while being checkpointed", seq=verdict.last_seq))
    body = {"format": FORMAT, "seq": verdict.last_seq, "hash": verdict.last_hash,
            "event_at": event_at.astimezone(dt.UTC).isoformat(),
            "at": utcnow().isoformat(), "lab": settings.lab_name_en}
    path = _write_once(directory, file_name(verdict.last_seq),
                       json.dumps(sign(body, signer), indent=1).encode("utf-8") + b"\n")
    return read(path, Trust.of(settings)), True


def _private_dir(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)


def _write_once(directory: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``directory/name`` (0600) unless a file of that name exists."""
    _private_dir(directory)
    final = directory / name
    tmp = directory / f".{name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, final)  # never replaces: a concurrent run's file stays as it is
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    return final


def export(source: Path, target: Path) -> tuple[int, list[str]]:
    """Copy every checkpoint file not yet in ``target``: (files copied, names that differ).

    A file of the same name but other content in ``target`` is left alone and named.
    """
    _private_dir(target)
    copied, differ = 0, []
    names: Sequence[Path] = sorted(p for p in source.iterdir() if _NAME.match(p.name)) \
        if source.is_dir() else []
    for path in names:
        dest = target / path.name
        if dest.exists():
            if dest.read_bytes() != path.read_bytes():
                differ.append(path.name)
            continue
        _write_once(target, path.name, path.read_bytes())
        shutil.copystat(path, dest)
        os.chmod(dest, 0o600)
        copied += 1
    return copied, differ
