"""Issue test reports: claim (number, frozen content) → render and sign → store and record."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reportlab.lib.utils import ImageReader
from sqlalchemy import select, update
from sqlalchemy.orm import Session, lazyload

from lims.accreditation.marks import Item as AccreditedItem
from lims.accreditation.services import decide, mark_results
from lims.audit.services import record
from lims.auth.models import User
from lims.auth.services import require
from lims.auth.sessions import LoginPolicy, reauthenticate
from lims.calibration.work import certificate_content, job_of
from lims.config import Settings
from lims.db import utcnow
from lims.errors import (
    NotFound,
    ReportError,
    SampleStateError,
    msg,
)
from lims.instruments.models import Instrument
from lims.metrology.decision import RULE_NAMES
from lims.numbering import next_number
from lims.reports import amend
from lims.reports.certificate_content import CertificateContent
from lims.reports.content import MethodLine, ReportContent, ResultLine, Signature
from lims.reports.documents import Content, load_content, render_document, title
from lims.reports.marks import mark_images
from lims.reports.models import Report, ReportClaim, ReportStatus
from lims.reports.sign import (
    Stamping,
    check_signer,
    load_stamping,
    seal_signer,
    sign_report,
    signatory_signer,
)
from lims.samples.lifecycle import SampleStatus, check_transition
from lims.samples.models import Sample
from lims.samples.particulars import conditions_text, inspection_label
from lims.samples.review import check_issuer
from lims.samples.services import (
    APPROVAL_MEANING,
    derived_conclusion,
    get_sample,
    mark_reported,
    signature_record,
)

DECISION_RULE = ("简单接受，不考虑测量不确定度 / Simple acceptance, measurement uncertainty not "
                 "taken into account (ILAC-G8:09/2019 4.2.1, w = 0); a value on a limit conforms")


def decision_rule_text(rule: str, r: str | None) -> str:
    """The decision rule agreed for the request, as the report states it (ISO/IEC 17025
    7.8.6.2: the rule applied is reported)."""
    if rule == "simple":
        return DECISION_RULE
    zh, en = RULE_NAMES[rule]
    band = f"w = {r or '1'}·U"
    tail = ("; 结论为合格、有条件合格、有条件不合格或不合格 / verdicts pass, conditional pass, "
            "conditional fail or fail" if rule == "non-binary" else "")
    return f"{zh}，{band} / {en}, {band}; U 为扩展不确定度 / U is the expanded uncertainty{tail}"


# Added when a result is a bound ("<0.01", 未检出 below the LOD): how such a value is judged.
CENSORED_RULE = ("以界限值报告的结果（<、≤、>、≥、未检出），仅当其可能取值全部符合要求时判为合格，"
                 "全部不符合时判为不合格，否则由审核人判定并注明理由 / "
                 "A result given as a bound conforms only if every value it allows conforms "
                 "and fails only if none does; otherwise the reviewer decides, with the reason "
                 "shown")


def build_content(session: Session, sample: Sample, *, number: str, issued_at: dt.datetime,
                  settings: Settings) -> ReportContent:
    """Snapshot what the report says from the sample and its current results."""
    req = sample.request
    results, measured = [], []
    authors: set[int] = set()
    censored = False
    for test in sample.tests:
        current = test.current_results()
        for ch in test.method.characteristics:
            r = current.get(ch.id)
            if r is None:
                continue
            inst = session.get(Instrument, r.instrument_id) if r.instrument_id else None
            value, unit = r.shown()  # as the technician wrote it; 未检出 with its LOD
            censored = censored or r.is_bound()
            note = ""
            if r.decision is not None:
                decider = session.scalar(select(User.full_name)
                                         .where(User.id == r.decision.decided_by_id))
                note = (f"人工判定 decided by {decider or '?'}: "
                        f"{r.decision.reason}")
            results.append(ResultLine(
                method=test.method.code, characteristic=ch.name,
                requirement=ch.requirement(), value=value, unit=unit,
                conformity=r.verdict, version=r.version,
                instrument=f"{inst.asset_number} {inst.name}" if inst else "", note=note,
                uncertainty=r.uncertainty_text()))
            authors.update(x.recorded_by_id for x in test.results if x.characteristic_id == ch.id)
            measured.append(r.measured_at)
    if sample.reviewed_by_id is None or sample.approved_by_id is None:
        # The lifecycle reports only reviewed and approved samples; a row edited behind its
        # back must not become a report with a blank signature.
        raise SampleStateError(msg("%(sample)s has not been reviewed and approved", sample=sample.number),
                               sample=sample.number)
    # The names only: whole users would bring their roles and scopes along (issue 14).
    names: dict[int, str] = dict(session.execute(
        select(User.id, User.full_name)
        .where(User.id.in_(authors | {sample.reviewed_by_id, sample.approved_by_id}))).all())
    signatures: tuple[Signature, ...] = (
        Signature("编制 Prepared by", "、".join(sorted(names[a] for a in authors)), max(measured)),
        Signature("审核 Reviewed by", names[sample.reviewed_by_id], sample.reviewed_at),
        # The approver signs this file with their own key at issue: the line shows that
        # signature's name, meaning and time, as the PDF signature does (21 CFR 11.50).
        Signature(f"{APPROVAL_MEANING} by (授权签字人 authorised signatory, 电子签名 "
                  "electronic signature)", names[sample.approved_by_id], issued_at),
    )
    if settings.lab_seal:
        signatures += (Signature("检验检测专用章 Seal of the laboratory (电子签章 electronic seal)",
                                 settings.lab_name, issued_at),)
    # Marks only when every item is inside the scope; "*" on the others (RB/T 214 4.5.20).
    scope = mark_results(session, results, on=issued_at.astimezone(ZoneInfo(settings.timezone))
                         .date())
    if settings.seal_image:
        # Refused before the claim commits, so no number is taken for a report that could not
        # carry its seal.
        try:
            ImageReader(Path(settings.seal_image)).getSize()
        except Exception as exc:  # reportlab/PIL raise many kinds for a missing or bad file
            raise ReportError(msg("LIMS_SEAL_IMAGE %(path)s is not an image file (%(error)s)",
                                  path=settings.seal_image, error=exc.__class__.__name__),
                              seal_image=settings.seal_image) from None
    # 检验结论: the signatory's wording when they gave one (with a reason, audited at
    # approval), else what the verdicts give (RB/T 214 4.5.20).
    derived = derived_conclusion(sample)
    conclusion = sample.conclusion or derived.text
    return ReportContent(
        number=number, lab_name=settings.lab_name, lab_name_en=settings.lab_name_en,
        lab_address=settings.lab_address, customer_name=req.customer.name,
        customer_contact=req.customer.contact, customer_address=req.customer.address,
        request_number=req.number, sample_number=sample.number,
        sample_description=sample.description,
        condition_on_receipt=sample.condition_on_receipt or "",
        received_at=sample.received_at or sample.registered_at,
        tested_from=min(measured), tested_to=max(measured), issued_at=issued_at,
        methods=tuple(MethodLine(t.method.code, t.method.title, t.method.clause,
                                 conditions=conditions_text(t.conditions),
                                 deviation=t.deviation or "")
                      for t in sample.tests),
        results=scope.results, marks=scope.marks, mark_numbers=scope.numbers,
        signatures=signatures,
        decision_rule=decision_rule_text(req.decision_rule, req.guard_factor)
        + ("; " + CENSORED_RULE if censored else ""),
        verify_url=f"{settings.public_url.rstrip('/')}/verify/{number}",
        timezone=settings.timezone,
        inspection_type=inspection_label(req.inspection_type),
        product_standard=req.product_standard, trademark=sample.trademark, model=sample.model,
        batch=sample.batch, quantity=sample.quantity, manufacturer=sample.manufacturer,
        customer_data=req.customer_data, conclusion=conclusion, outcome=derived.outcome,
        seal_image=settings.seal_image, seal_edge=settings.seal_edge)


@dataclasses.dataclass(frozen=True)
class Signatory:
    """Who signs a claimed report, detached from any session (what the key lookup needs)."""

    id: int
    username: str
    full_name: str


@dataclasses.dataclass(frozen=True)
class Claimed:
    """What the signing step needs from a claim, detached from any session."""

    claim_id: int
    number: str
    content: Content
    signatory: Signatory


@dataclasses.dataclass(frozen=True)
class Signed:
    pdf: bytes
    certificate: dict[str, str]  # serial and subject of the signatory's certificate
    sealed: bool
    dcc: bytes | None = None  # a certificate's DCC XML, also embedded in ``pdf``


def claim_report(session: Session, *, actor: User, sample_number: str, settings: Settings,
                 password: object) -> Claimed:
    """Step 1 of issuing: re-authenticate the signatory, lock the sample, check who may sign,
    take the number, freeze the content and mark the sample reported. Short: nothing is
    rendered or signed here.

    The signatory re-enters their password (21 CFR 11.200(a)(1)); the PDF signature will show
    their name, the meaning and the time (11.50).

    :raises InvalidInput: no password. :raises ReauthenticationFailed: a wrong one (the web
        edge records it as a failed login) or a locked account. :raises TooManyAttempts:
    :raises SampleStateError: the sample is not approved (or another issue claimed it first).
    :raises SeparationOfDuties: the issuer entered or reviewed results of the sample.
    :raises NotTheApprover: the issuer is not the signatory who approved the sample.
    :raises OutsideScope: the issuer is not authorised for an item (scope items, or fields
        outside the accredited scope).
    :raises ReportError: a signing key cannot be loaded, a certificate is expired, not yet
        valid, revoked or not for document signing, or there is no time-stamping authority.
    """
    require(actor, "report.issue")
    reauthenticate(session, user=actor, password=password, meaning=APPROVAL_MEANING,
                   policy=LoginPolicy.from_settings(settings))
    sample = get_sample(session, sample_number, lock=True)  # one of N concurrent issues wins
    check_transition(sample.status, SampleStatus.REPORTED, sample=sample.number)
    # ISO/IEC 17025 7.5.1 / RB/T 214 4.5.20: whoever measured or reviewed does not sign; the
    # signatory is in scope and approved the sample (RP-07). The rules the sample page asks too.
    check_issuer(session, actor, sample)
    signatory = Signatory(actor.id, actor.username, actor.full_name)
    _signers(settings, signatory)  # an unfit certificate: refused before a number is taken
    issued_at = utcnow()
    today = issued_at.astimezone(ZoneInfo(settings.timezone)).date()
    if job_of(session, sample) is None:
        number = next_number(session, "report", settings.report_number_format, today=today)
    else:  # a customer's instrument: a calibration or verification certificate, or a notice
        number = next_number(session, "certificate", settings.certificate_number_format,
                             today=today)
    content = document_content(session, sample, number=number, issued_at=issued_at,
                               settings=settings)
    claim = ReportClaim(number=number, sample_id=sample.id, issued_by_id=actor.id,
                        issued_at=issued_at, content=content.to_json())
    session.add(claim)
    session.flush()
    record(session, actor=actor, action="report.claim", entity_type="report_claims",
           entity_id=number, after={"number": number, "sample": sample.number})
    mark_reported(session, actor=actor, sample=sample, report_number=number)
    return Claimed(claim.id, number, content, signatory)


def document_content(session: Session, sample: Sample, *, number: str, issued_at: dt.datetime,
                     settings: Settings) -> Content:
    """What the document of an approved sample says, frozen: a test report, or for a
    customer's instrument a calibration or verification certificate or a notice. The claim
    and the signatory's preview (:mod:`lims.reports.preview`) both build it here, so the
    preview is the document that would be issued."""
    today = issued_at.astimezone(ZoneInfo(settings.timezone)).date()
    content: Content
    job = job_of(session, sample)
    if job is None:
        content = build_content(session, sample, number=number, issued_at=issued_at,
                                settings=settings)
    else:
        content = mark_certificate(session, certificate_content(
            session, sample, number=number, issued_at=issued_at, settings=settings), on=today)
    # Under amendment: the report names the one it replaces and what changed (7.8.8.2).
    return amend.mark_replacement(session, sample.id, content)


def sign_claim(claimed: Claimed, settings: Settings) -> Signed:
    """Step 2 of issuing: render, seal and sign, outside any transaction (no session, no lock).

    PAdES B-LT (B-LTA with ``LIMS_PADES_LTA``): a timestamp and the validation data embedded.

    :raises ReportError: a key cannot be loaded or the time-stamping authority failed.
    """
    signatory, seal, stamping = _signers(settings, claimed.signatory)
    # A certificate's DCC is built, validated and attached before signing: one signature
    # covers both (issue 10).
    rendered = render_document(claimed.content, font_dir=settings.font_path,
                               mark_images=mark_images(settings))
    signed = sign_report(rendered.pdf, signatory=signatory, seal=seal,
                         reason=f"{APPROVAL_MEANING}: {title(claimed.content)}",
                         location=settings.lab_name_en, name=claimed.signatory.full_name,
                         stamping=stamping, lta=settings.pades_lta)
    # Which certificate made it: the link between the account and the key (21 CFR 11.70).
    return Signed(signed, {"serial": f"{signatory.signing_cert.serial_number:x}",
                           "subject": signatory.signing_cert.subject.human_friendly},
                  sealed=seal is not None, dcc=rendered.dcc)


def store_report(session: Session, claimed: Claimed, signed: Signed) -> Report:
    """Step 3 of issuing: store the signed file under the claimed number, exactly once.

    :raises ReportError: the claim was already finished (by the recovery job, say).
    """
    now = utcnow()
    # Finish the claim and read it in one statement; none returned: another finished it.
    claim = session.execute(
        update(ReportClaim).where(ReportClaim.id == claimed.claim_id,
                                  ReportClaim.finished_at.is_(None))
        .values(finished_at=now)
        .returning(ReportClaim.sample_id, ReportClaim.issued_by_id, ReportClaim.issued_at,
                   ReportClaim.content)).first()
    if claim is None:
        raise ReportError(msg("report %(report)s was already stored",
                              report=claimed.number), report=claimed.number)
    # The issuer: the request's own user when the web issues (kept loaded, no statement), else
    # the user row alone (their roles and scopes are not needed to store).
    actor = session.get_one(User, claim.issued_by_id, options=[lazyload("*")])
    digest = hashlib.sha256(signed.pdf).hexdigest()
    signature = signature_record(actor, claim.issued_at, APPROVAL_MEANING)
    signature["signature"]["certificate"] = signed.certificate
    replaces = amend.replacement_fields(session, claim.content)  # kind, supersedes (7.8.8)
    report = Report(number=claimed.number, sample_id=claim.sample_id, status=ReportStatus.ISSUED,
                    issued_at=claim.issued_at, issued_by_id=actor.id, sha256=digest,
                    size=len(signed.pdf), content=claim.content, pdf=signed.pdf,
                    dcc=signed.dcc, outcome=getattr(claimed.content, "outcome", "") or None,
                    **replaces)
    session.add(report)
    session.flush()
    record(session, actor=actor, action="report.issue", entity_type="reports",
           entity_id=claimed.number,
           after={"number": claimed.number, "sample": claim_sample(claimed.content),
                  "sha256": digest, "size": len(signed.pdf), "status": ReportStatus.ISSUED,
                  **signature, "sealed": signed.sealed, "kind": report.kind,
                  "supersedes": claimed.content.supersedes})
    amend.supersede_on_store(session, actor=actor, report=report)
    return report


def issue_report(session: Session, *, actor: User, sample_number: str,
                 settings: Settings, password: object) -> Report:
    """Issue the signed test report of an approved sample in the caller's transaction.

    The web uses :func:`lims.reports.issuing.issue_in_steps`, which commits between the steps
    so that rendering and signing hold no lock; this one-transaction form serves the demo,
    the CLI and tests. Raises what :func:`claim_report` and :func:`sign_claim` raise.
    """
    claimed = claim_report(session, actor=actor, sample_number=sample_number, settings=settings,
                           password=password)
    return store_report(session, claimed, sign_claim(claimed, settings))


def _signers(settings: Settings, signatory: Signatory) -> tuple[Any, Any, Stamping]:
    """The signatory's signer, the lab seal's (None when off) and the time-stamping set-up,
    each certificate checked fit to sign (valid now, not revoked, for signing)."""
    signer = signatory_signer(settings, signatory)
    seal = seal_signer(settings)
    stamping = load_stamping(settings.signing_pkcs12, tsa_url=settings.tsa_url,
                             tsa_ca_file=settings.tsa_ca_file)
    for each in (signer, seal):
        if each is not None:
            check_signer(each, crls=stamping.crls)
    return signer, seal, stamping


def claim_sample(content: Content) -> str:
    """The lab's number of the sample (or the customer's instrument) a document is about."""
    if isinstance(content, ReportContent):
        return content.sample_number
    return content.item.sample_number


def mark_certificate(session: Session, content: CertificateContent, *,
                     on: dt.date) -> CertificateContent:
    """The marks a certificate carries: CMA/CNAS only when every point (the procedure, the
    calibrated quantity, the nominal value) is inside the scheme's scope; otherwise the
    certificate is starred as outside the accredited scope (RB/T 214 4.5.20; CNAS-R01)."""
    decision = decide(session, [
        AccreditedItem(content.procedure.code, p.quantity, p.nominal, p.unit)
        for p in content.points], on=on)
    return dataclasses.replace(
        content, marks=decision.marks,
        mark_numbers=tuple(decision.numbers[m] for m in decision.marks),
        outside_scope=any(not v.in_scope for v in decision.verdicts))


def pending_claims(session: Session, *, before: dt.datetime) -> list[Claimed]:
    """Claims not finished and taken before ``before``: what the recovery job finishes."""
    rows = session.execute(select(ReportClaim, User).join(User, User.id == ReportClaim.issued_by_id)
                           .where(ReportClaim.finished_at.is_(None), ReportClaim.issued_at < before)
                           .order_by(ReportClaim.id))
    return [Claimed(c.id, c.number, load_content(c.content),
                    Signatory(u.id, u.username, u.full_name)) for c, u in rows]


def get_report(session: Session, number: str) -> Report:
    report = session.scalar(select(Report).where(Report.number == number))
    if report is None and number != number.upper():
        return get_report(session, number.upper())
    if report is None and session.scalar(select(ReportClaim.id).where(
            ReportClaim.number == number, ReportClaim.finished_at.is_(None))):
        raise ReportError(msg("report %(report)s is being signed; try again in a moment", report=number),
                          report=number)
    if report is None:
        raise NotFound(msg("no report %(report)r", report=number), report=number)
    return report


def list_reports(session: Session, *, limit: int = 200, kind: str | None = None,
                 status: str | None = None) -> list[Report]:
    """The latest issued documents of every kind, newest first (optionally of one kind or
    status)."""
    query = select(Report).order_by(Report.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(Report.kind == kind)
    if status is not None:
        query = query.where(Report.status == status)
    return list(session.scalars(query))


def stored_pdf(report: Report) -> bytes:
    """Return the issued file after checking it still has its recorded SHA-256.

    :raises ReportError: the stored bytes were altered.
    """
    from lims.errors import ReportError

    pdf = report.pdf
    if hashlib.sha256(pdf).hexdigest() != report.sha256:
        raise ReportError(msg("stored file of report %(report)s does not match its recorded SHA-256",
                              report=report.number), report=report.number)
    return pdf




def stored_dcc(report: Report) -> bytes:
    """The DCC XML of an issued certificate: the file embedded in its signed PDF (what the
    signature covers), after checking the PDF's SHA-256 and that the copy kept beside it is the
    same.

    :raises NotFound: not a certificate. :raises ReportError: the stored bytes were altered.
    """
    from lims.reports.attachments import extract_dcc

    if report.dcc is None:
        raise NotFound(msg("%(report)s is a %(kind)s and has no Digital Calibration Certificate",
                           report=report.number, kind=report.kind.replace("_", " ")), report=report.number,
                          kind=report.kind)
    embedded = extract_dcc(stored_pdf(report))
    if embedded != report.dcc:
        raise ReportError(msg("the DCC stored with %(report)s differs from the one its signed PDF carries",
                              report=report.number), report=report.number)
    return embedded
