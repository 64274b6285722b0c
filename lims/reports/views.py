"""Report pages, API, and the public verification page."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from lims.auth.models import User
from lims.auth.permissions import allowed
from lims.db import unit_of_work
from lims.reports import amend, lists, public
from lims.reports import api_models as m
from lims.reports.documents import dcc_name
from lims.reports.issuing import issue_in_steps
from lims.reports.models import Report, ReportAmendment, WithdrawalCategory
from lims.reports.preview import preview_pdf
from lims.reports.services import get_report, stored_dcc, stored_pdf
from lims.reports.sign import DocumentCheck, lab_trust_anchor, validate_pdf
from lims.samples.api_models import Signature
from lims.samples.models import Customer, Sample
from lims.web import listing
from lims.web.api_models import API_PER_PAGE
from lims.web.auth import current_user
from lims.web.context import get_session, settings
from lims.web.errors import http_error, too_large_message
from lims.web.inputs import form, json_model, query_model
from lims.web.openapi import operation

bp = Blueprint("reports", __name__)
api = Blueprint("reports_api", __name__, url_prefix="/api/v1")


def to_json(r: Report, sample_number: str | None = None,
            links: Links | None = None) -> dict[str, Any]:
    links = links or Links.of([r])
    return {"number": r.number, "sample": sample_number, "kind": r.kind, "status": r.status,
            "issued_at": r.issued_at.isoformat(), "sha256": r.sha256, "size": r.size,
            "verify_url": f"{settings().public_url.rstrip('/')}/verify/{r.number}",
            "dcc_url": (None if r.kind == "test_report"
                        else url_for("reports_api.dcc_json", number=r.number)),
            "supersedes": links.supersedes.get(r.id), "amendment": r.amendment_reason,
            "superseded_by": links.superseded_by.get(r.id),
            "amending": r.id in links.amending,
            "withdrawn_at": r.withdrawn_at.isoformat() if r.withdrawn_at else None,
            "withdrawal_reason": r.withdrawal_reason,
            "withdrawal_category": r.withdrawal_category}


@dataclasses.dataclass(frozen=True)
class Links:
    """How listed reports relate: which each replaces, which replaces each, which are being
    amended (three queries for a whole list)."""

    supersedes: dict[int, str]
    superseded_by: dict[int, str]
    amending: dict[int, ReportAmendment]

    @classmethod
    def of(cls, reports: list[Report]) -> Links:
        db, ids = get_session(), [r.id for r in reports]
        return cls(amend.supersedes_numbers(db, reports), amend.superseded_by(db, ids),
                   amend.open_amendments(db, ids))


def _sample_numbers(reports: list[Report]) -> dict[int, str]:
    ids = {r.sample_id for r in reports}
    rows = get_session().execute(select(Sample.id, Sample.number).where(Sample.id.in_(ids)))
    return {sid: number for sid, number in rows}


def _pdf_response(report: Report) -> Response:
    return Response(stored_pdf(report), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{report.number}.pdf"',
        "X-Content-SHA256": report.sha256})


def _can() -> dict[str, bool]:
    roles = current_user().roles
    return {a: allowed(roles, a) for a in ("report.amend", "report.withdraw")}


@bp.get("/reports")
def index() -> Any:
    """The report list: paged, sorted, filtered (status, kind, issue date, customer) and
    searched (number, sample, customer) by the URL's query, or exported (issue 11 §3)."""
    db, args = get_session(), request.args
    query = lists.reports_query(args, timezone=settings().timezone)
    if fmt := listing.export_format(args):
        key = listing.sort_key(args, lists.SORTS, lists.DEFAULT_SORT)
        return listing.export(db, listing.sorted_query(query, key, lists.SORTS, Report.id),
                              lists.columns(settings().public_url), fmt, "reports",
                              scalars=False)
    page = listing.paginate(db, query, args, sorts=lists.SORTS, default=lists.DEFAULT_SORT,
                            tiebreak=Report.id, scalars=False)
    reports = [row[0] for row in page.items]
    customer = listing.record_id(args, "customer")
    return render_template("reports/index.html", page=page, links=Links.of(reports), can=_can(), filters=args,
                           kinds=lists.KINDS, statuses=lists.STATUSES,
                           customer=db.get(Customer, customer) if customer else None)


@bp.get("/reports/<number>")
def detail(number: str) -> Any:
    """One document: its status, what it replaces or what replaced it, an amendment in
    progress, its withdrawal; Amend and Withdraw for those allowed (ISO/IEC 17025 7.8.8)."""
    db = get_session()
    report = get_report(db, number)
    from lims.calibration.nonconforming import review_case

    amending = amend.open_amendment(db, report.id)
    wanted = {report.issued_by_id, report.withdrawn_by_id,
              amending.requested_by_id if amending else None} - {None}
    names = {uid: name for uid, name in
             db.execute(select(User.id, User.full_name).where(User.id.in_(wanted)))}
    return render_template("reports/detail.html", report=report, links=Links.of([report]),
                           sample=_sample_numbers([report]).get(report.sample_id),
                           amending=amending, names=names, recall=review_case(db, report.id),
                           categories=list(WithdrawalCategory), can=_can())


@bp.post("/reports/<number>/amend")
def amend_page(number: str) -> Any:
    """Amend, after a confirmation step: the first post shows what will happen and asks to
    confirm; only the confirmed post changes anything."""
    data, db = form(), get_session()
    if data.get("confirm") != "yes":
        report = amend.check_amend(db, actor=current_user(), number=number,
                                   reason=data.get("reason"))
        return render_template("reports/confirm.html", report=report, action="amend",
                               data=data)
    with unit_of_work(db) as uow:
        amend.amend_report(uow, actor=current_user(), number=number, reason=data.get("reason"))
    flash(gettext("Report %(number)s is being amended: its sample is back in testing; the "
                  "report issued next replaces it.", number=number), "ok")
    return redirect(url_for("reports.detail", number=number), code=303)


@bp.post("/reports/<number>/withdraw")
def withdraw_page(number: str) -> Any:
    """Withdraw, after a confirmation step (as :func:`amend_page`)."""
    data, db = form(), get_session()
    if data.get("confirm") != "yes":
        report = amend.check_withdraw(db, actor=current_user(), number=number,
                                      reason=data.get("reason"), category=data.get("category"))
        return render_template("reports/confirm.html", report=report, action="withdraw",
                               data=data)
    with unit_of_work(db) as uow:
        amend.withdraw_report(uow, actor=current_user(), number=number,
                              reason=data.get("reason"), category=data.get("category"))
    flash(gettext("Report %(number)s withdrawn.", number=number), "ok")
    return redirect(url_for("reports.detail", number=number), code=303)


def _preview_response(pdf: bytes, number: str) -> Response:
    # Inline, never cached, and framable by our own confirmation page only: a PDF has no
    # buttons to be clickjacked, and the page that frames it holds the signature form.
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{number}-preview.pdf"',
        "Cache-Control": "no-store", "X-Frame-Options": "SAMEORIGIN",
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'self'",
        "X-LIMS-Preview": "unsigned, not a report"})


@bp.get("/samples/<number>/report/preview.pdf")
def preview(number: str) -> Any:
    """The document issuing would produce, unsigned and marked as a preview; nothing stored
    (issue 11 §2)."""
    db = get_session()
    pdf = preview_pdf(db, actor=current_user(), sample_number=number, settings=settings())
    db.rollback()  # a read: nothing of the rendering is kept
    return _preview_response(pdf, number)


@bp.get("/samples/<number>/report/confirm")
def confirm_issue(number: str) -> Any:
    """The confirmation step of issuing: the preview beside the signature form; only the
    signatory who may issue the sample's document gets it (the same checks as the issue)."""
    from lims.calibration.work import job_of
    from lims.samples.lifecycle import SampleStatus, check_transition
    from lims.samples.review import check_issuer
    from lims.samples.services import APPROVAL_MEANING, get_sample

    db = get_session()
    sample = get_sample(db, number)
    check_transition(sample.status, SampleStatus.REPORTED, sample=sample.number)
    check_issuer(db, current_user(), sample)
    return render_template("reports/confirm.html", action="issue", sample=sample,
                           job=job_of(db, sample), approval_meaning=APPROVAL_MEANING,
                           data={}, report=None)


@bp.post("/samples/<number>/report")
def issue(number: str) -> Any:
    report = issue_in_steps(get_session(), actor=current_user(), sample_number=number,
                            settings=settings(), password=request.form.get("password"))
    flash(gettext("Report %(number)s issued and signed.", number=report.number), "ok")
    return redirect(url_for("samples.detail", number=number), code=303)


@bp.get("/reports/<number>.pdf")
def download(number: str) -> Any:
    return _pdf_response(get_report(get_session(), number))


def check_copy(data: bytes, report: Report) -> dict[str, Any]:
    """Check an uploaded copy twice: its signature against the lab's trust anchor (what the
    lab's key signed, whatever the database says), and its SHA-256 against the recorded one.

    Only a copy that passes both is called genuine: a database owner who swaps a report's file
    and hash still cannot sign with the lab's key, and a signed copy that differs from the
    record is not the report issued under this number.
    """
    digest = hashlib.sha256(data).hexdigest()
    same = digest == report.sha256
    signature = validate_pdf(data, _trust_anchor())
    signed = signature is not None and signature.ok
    if signed and same:
        message = gettext("The file is signed by this laboratory and identical to the issued "
                          "report.")
    elif signed:
        message = gettext("The file is signed by this laboratory but is not the version issued "
                          "under this number.")
    elif same:
        message = gettext("The file's signature is not valid: it was not issued by this "
                          "laboratory, whatever our records say.")
    else:
        message = gettext("The file differs from the issued report and carries no valid "
                          "signature of this laboratory.")
    return {"ok": signed and same, "sha256": digest, "message": message,
            "signed_by": signature.name if signed and signature else None,
            "signatures": signatures(signature) if signed and signature else []}


def signatures(check: DocumentCheck) -> list[dict[str, Any]]:
    """Who signed a genuine file, what it means and when (21 CFR 11.50), seal first."""
    return [{"name": s.name, "meaning": s.reason, "signed_at": s.signed_at,
             "seal": s.certifying, "level": s.level} for s in check.signatures]


def _trust_anchor() -> bytes:
    return lab_trust_anchor(settings())


@bp.get("/verify")
def verify_form() -> Any:
    """Public: type or scan a report number (a scanner's trailing Enter submits the form)."""
    number = request.args.get("number", "").strip()
    if number and number.isprintable() and "/" not in number:
        return redirect(url_for("reports.verify", number=number[:60]), code=303)
    return render_template("reports/verify.html", report=None, number=None, asked=False)


def _public_report(number: str) -> Report | None:
    """The report numbered ``number`` as typed, else upper-cased (numbers are issued in upper
    case; people and scanners type them in any case), without the spaces a pasted or scanned
    number brings along (as ``/verify?number=`` trims them)."""
    number = number.strip()
    db = get_session()
    for candidate in dict.fromkeys((number, number.upper())):
        report = db.scalar(select(Report).where(Report.number == candidate))
        if report is not None:
            return report
    return None


@bp.route("/verify/<number>", methods=["GET", "POST"])
def verify(number: str) -> Any:
    """Public: status, issue date and SHA-256 of a report, the key contents a paper copy can
    be compared with (customer masked in part, item, issue date, conclusion:
    :mod:`lims.reports.public`), and a check of an uploaded copy.

    Shows nothing else confidential: no results, addresses or contacts.
    """
    report = _public_report(number)
    if report is None:
        return render_template("reports/verify.html", report=None, number=number.strip(),
                               asked=True), 404
    check = None
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            check = {"ok": False, "message": gettext("Choose the PDF file to check.")}
        else:
            check = check_copy(upload.read(), report)
    return _verify_page(report, check)


def _lab_name() -> str:
    """The issuing lab as the reader's language names it (the paper report prints both)."""
    from flask_babel import get_locale

    locale = str(get_locale() or settings().default_locale)
    return settings().lab_name if locale.startswith("zh") else settings().lab_name_en


def _verify_page(report: Report, check: dict[str, Any] | None) -> str:
    # A recall in an open nonconforming-work case (ISO/IEC 17025 7.10): only the case number.
    from lims.calibration.nonconforming import review_case

    review = review_case(get_session(), report.id)
    return render_template("reports/verify.html", report=report, number=report.number,
                           check=check, lab=_lab_name(), review=review,
                           summary=public.summary(report.content), asked=True,
                           superseded_by=amend.superseded_by(get_session(), [report.id])
                           .get(report.id))


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Any:
    """A copy too large to check: the verification page again, with the reason beside the
    upload, rather than a bare error page (other report pages: the usual error)."""
    number = (request.view_args or {}).get("number")
    report = _public_report(number) if request.endpoint == "reports.verify" and number else None
    if report is None:
        return http_error(exc)
    return _verify_page(report, {"ok": False, "message": too_large_message()}), 413


@api.get("/reports")
@operation("List issued reports, newest first, a page at a time", query=m.ReportsQuery,
           response=m.Reports)
def list_json() -> Any:
    query_model(m.ReportsQuery)
    db, args = get_session(), request.args
    page = listing.paginate(db, lists.reports_query(args, timezone=settings().timezone), args,
                            sorts=lists.SORTS, default=lists.DEFAULT_SORT, tiebreak=Report.id,
                            per_page=API_PER_PAGE, scalars=False)
    reports = [row[0] for row in page.items]
    links = Links.of(reports)
    return jsonify(reports=[to_json(r, number, links) for r, number, _c in page.items],
                   **page.api())


@api.get("/reports/<number>")
@operation("Show a report's status and SHA-256", response=m.Report)
def show_json(number: str) -> Any:
    report = get_report(get_session(), number)
    return jsonify(to_json(report, _sample_numbers([report]).get(report.sample_id)))


@api.get("/reports/<number>/pdf")
@operation("Download the signed PDF", files=("application/pdf",), errors=[409])
def pdf_json(number: str) -> Any:
    return _pdf_response(get_report(get_session(), number))


@api.get("/reports/<number>/dcc")
@operation("Download a certificate's Digital Calibration Certificate (PTB DCC 3.1.2 XML), "
           "the file its signed PDF carries", files=("application/xml",), errors=[409])
def dcc_json(number: str) -> Any:
    return _dcc_response(get_report(get_session(), number))


@bp.get("/reports/<number>.dcc.xml")
def download_dcc(number: str) -> Any:
    return _dcc_response(get_report(get_session(), number))


def _dcc_response(report: Report) -> Response:
    xml = stored_dcc(report)
    return Response(xml, mimetype="application/xml", headers={
        "Content-Disposition": f'attachment; filename="{dcc_name(report.number)}"',
        "X-Content-SHA256": hashlib.sha256(xml).hexdigest()})


@api.post("/samples/<number>/report")
@operation("Issue the signed test report: sealed by the lab, signed by the approving "
           "signatory with the password re-entered", body=Signature, body_required=False,
           response=m.Report, status=201, errors=[403, 409, 429],
           links=("/api/v1/reports/{number}", {"number": "number"}))
def issue_json(number: str) -> Any:
    """Issue and sign: ``{"password": …}`` is required (422 without it, 403
    ``reauthentication_failed`` when wrong)."""
    body = json_model(Signature)
    report = issue_in_steps(get_session(), actor=current_user(), sample_number=number,
                            settings=settings(), password=body.password)
    return jsonify(to_json(report, number)), 201




@api.get("/samples/<number>/report/preview")
@operation("Preview the document issuing would produce: the same content and rendering, "
           "unsigned, stamped 预览 PREVIEW on every page, under no number, never stored "
           "(the signatory who may issue it)", files=("application/pdf",), errors=[403, 409])
def preview_json(number: str) -> Any:
    db = get_session()
    pdf = preview_pdf(db, actor=current_user(), sample_number=number, settings=settings())
    db.rollback()
    return _preview_response(pdf, number)


@api.post("/reports/<number>/amend")
@operation("Amend an issued report (ISO/IEC 17025 7.8.8): its sample goes back to correction, "
           "review and approval; the report issued next replaces it and this one becomes "
           "superseded", body=m.Amend, response=m.Report, errors=[403, 409])
def amend_json(number: str) -> Any:
    body = json_model(m.Amend)
    with unit_of_work(get_session()) as db:
        amend.amend_report(db, actor=current_user(), number=number, reason=body.reason)
    report = get_report(get_session(), number)
    return jsonify(to_json(report, _sample_numbers([report]).get(report.sample_id)))


@api.post("/reports/<number>/withdraw")
@operation("Withdraw an issued report (ISO/IEC 17025 7.8.8) with the reason and its category",
           body=m.Withdraw, response=m.Report, errors=[403, 409])
def withdraw_json(number: str) -> Any:
    body = json_model(m.Withdraw)
    with unit_of_work(get_session()) as db:
        amend.withdraw_report(db, actor=current_user(), number=number, reason=body.reason,
                              category=body.category)
    report = get_report(get_session(), number)
    return jsonify(to_json(report, _sample_numbers([report]).get(report.sample_id)))
