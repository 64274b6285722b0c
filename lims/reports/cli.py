"""Report and PKI commands: ``lims report list|export|verify|amend|withdraw``, ``lims pki
export-ca|issue-signatory``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from lims.catalogs import label, tr
from lims.clitools import active_user, fail, invalid, runtime

KINDS = ("test_report", "calibration_certificate", "verification_certificate",
         "verification_notice")
STATUSES = ("issued", "superseded", "withdrawn")
CATEGORIES = ("recall", "error", "customer request", "other")


@click.group(help=tr("Issued reports."))
def report() -> None:
    """Issued reports."""


@report.command("list", help=tr(
    "Issued documents of every kind (test reports, calibration and verification certificates, "
    "verification notices), newest first, with their status (ISO/IEC 17025 7.8.8: issued, "
    "superseded by the report that replaced it, or withdrawn)."))
@click.option("--json", "as_json", is_flag=True, help=tr("As JSON."))
@click.option("--kind", type=click.Choice(KINDS), help=tr("Only documents of this kind."))
@click.option("--status", type=click.Choice(STATUSES), help=tr("Only documents in this status."))
def report_list(as_json: bool, kind: str | None, status: str | None) -> None:
    """Issued documents of every kind (test reports, calibration and verification
    certificates, verification notices), newest first, with their status (ISO/IEC 17025
    7.8.8: issued, superseded by the report that replaced it, or withdrawn)."""
    from zoneinfo import ZoneInfo

    from lims.reports import amend
    from lims.reports.services import list_reports

    rt = runtime()
    try:
        with rt.session() as session:
            reports = list_reports(session, kind=kind, status=status)
            ids = [r.id for r in reports]
            replaces = amend.supersedes_numbers(session, reports)
            replaced_by = amend.superseded_by(session, ids)
            amending = amend.open_amendments(session, ids)
            rows = [{"number": r.number, "kind": r.kind, "status": r.status,
                     "issued_at": r.issued_at.isoformat(), "sha256": r.sha256, "size": r.size,
                     "supersedes": replaces.get(r.id), "superseded_by": replaced_by.get(r.id),
                     "amendment": r.amendment_reason, "amending": r.id in amending,
                     "withdrawn_at": r.withdrawn_at.isoformat() if r.withdrawn_at else None,
                     "withdrawal_category": r.withdrawal_category,
                     "withdrawal_reason": r.withdrawal_reason} for r in reports]
    finally:
        rt.dispose()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    # Text for a person: kind, status and withdrawal category in the CLI's language, the issue
    # time in the lab's zone (issue 11 §1); --json above stays the machine's form (UTC ISO).
    zone = ZoneInfo(rt.settings.timezone)
    for r, report in zip(rows, reports, strict=True):
        note = (tr(" by %(number)s", number=r["superseded_by"]) if r["superseded_by"] else "") + (
            f" ({label(r['withdrawal_category'])})" if r["withdrawal_category"] else "") + (
            tr(", replaces %(number)s", number=r["supersedes"]) if r["supersedes"] else "") + (
            tr(", being amended") if r["amending"] else "")
        issued = report.issued_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        click.echo(f"{r['number']}  {label(r['kind']):<24} {label(r['status'])}{note}  {issued}  "
                   f"{r['sha256']}")


USER = click.option("--user", "username", envvar="LIMS_CLI_USER", required=True,
                    help=tr("The signatory or quality manager acting (or LIMS_CLI_USER)."))


def _act(username: str, step: Callable[[Any, Any], Any]) -> None:
    """Run ``step(session, actor)`` in one transaction as ``username``; an error the
    application raises on purpose exits 1 naming its field (nothing is written)."""
    from lims.errors import LimsError

    rt = runtime()
    try:
        with rt.transaction() as session:
            actor = active_user(session, username)
            step(session, actor)
    except LimsError as exc:
        invalid(exc, 1)
    finally:
        rt.dispose()


@report.command("amend", help=tr(
    "Amend issued report NUMBER (ISO/IEC 17025 7.8.8): its sample goes back to correction, "
    "review and approval; the report issued next replaces it."))
@click.argument("number")
@click.option("--reason", required=True, help=tr("What changes and why (printed on the "
              "replacement)."))
@USER
def report_amend(number: str, reason: str, username: str) -> None:
    """Amend issued report NUMBER (ISO/IEC 17025 7.8.8): its sample goes back to correction,
    review and approval; the report issued next replaces it."""
    from lims.reports.amend import amend_report

    _act(username, lambda s, actor: amend_report(s, actor=actor, number=number, reason=reason))
    click.echo(tr("report %(number)s is being amended: its sample is back in testing",
                  number=number))


@report.command("withdraw", help=tr("Withdraw issued report NUMBER (ISO/IEC 17025 7.8.8)."))
@click.argument("number")
@click.option("--reason", required=True, help=tr("Why (kept internal)."))
@click.option("--category", required=True, type=click.Choice(CATEGORIES),
              help=tr("Shown on the public verification page."))
@USER
def report_withdraw(number: str, reason: str, category: str, username: str) -> None:
    """Withdraw issued report NUMBER (ISO/IEC 17025 7.8.8)."""
    from lims.reports.amend import withdraw_report

    _act(username, lambda s, actor: withdraw_report(s, actor=actor, number=number,
                                                    reason=reason, category=category))
    click.echo(tr("report %(number)s withdrawn (%(category)s)", number=number, category=label(category)))


def write_file(file: str, data: bytes) -> None:
    """Write an exported document; a path that cannot be written is an error message, not a
    traceback."""
    try:
        Path(file).write_bytes(data)
    except OSError as exc:
        fail(tr("cannot write %(path)s: %(reason)s", path=file, reason=exc.strerror or exc))
    click.echo(tr("wrote %(path)s (%(size)s bytes)", path=file, size=len(data)))


@report.command("export-dcc", help=tr(
    "Write the Digital Calibration Certificate (PTB DCC XML) of certificate NUMBER to FILE: the "
    "XML embedded in its signed PDF, after checking the PDF's SHA-256."))
@click.argument("number")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def report_export_dcc(number: str, file: str) -> None:
    """Write the Digital Calibration Certificate (PTB DCC XML) of certificate NUMBER to FILE:
    the XML embedded in its signed PDF, after checking the PDF's SHA-256."""
    from lims.errors import LimsError
    from lims.reports.services import get_report, stored_dcc

    rt = runtime()
    try:
        with rt.session() as session:
            xml = stored_dcc(get_report(session, number))
    except LimsError as exc:
        fail(exc.message)
    finally:
        rt.dispose()  # also on a refusal: no pooled connection is left to the garbage collector
    write_file(file, xml)


@report.command("export", help=tr(
    "Write the issued PDF of report NUMBER to FILE (after checking its SHA-256)."))
@click.argument("number")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def report_export(number: str, file: str) -> None:
    """Write the issued PDF of report NUMBER to FILE (after checking its SHA-256)."""
    from lims.errors import LimsError
    from lims.reports.services import get_report, stored_pdf

    rt = runtime()
    try:
        with rt.session() as session:
            pdf = stored_pdf(get_report(session, number))
    except LimsError as exc:
        fail(exc.message)
    finally:
        rt.dispose()  # also on a refusal: no pooled connection is left to the garbage collector
    write_file(file, pdf)


@report.command("verify", help=tr(
    "Check FILE's signatures against the lab's CA, offline, and whether it is an issued report; "
    "print each signature (name, meaning, time, PAdES level). Exit 1 unless every signature is "
    "valid and trusted and the file is identical to an issued report."))
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help=tr("As JSON."))
def report_verify(file: str, as_json: bool) -> None:
    """Check FILE's signatures against the lab's CA, offline, and whether it is an issued
    report; print each signature (name, meaning, time, PAdES level). Exit 1 unless every
    signature is valid and trusted and the file is identical to an issued report."""
    import hashlib
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from lims.errors import LimsError
    from lims.reports.models import Report
    from lims.reports.sign import lab_trust_anchor, validate_pdf

    data = Path(file).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    rt = runtime()
    try:
        check = validate_pdf(data, lab_trust_anchor(rt.settings))
        with rt.session() as session:
            issued = session.execute(select(Report.number, Report.status)
                                     .where(Report.sha256 == digest)).first()
    except LimsError as exc:
        fail(exc.message)
    finally:
        rt.dispose()
    zone = ZoneInfo(rt.settings.timezone)
    signatures = [{"name": s.name, "meaning": s.reason, "seal": s.certifying,
                   "signed_at": (s.signed_at.astimezone(zone).isoformat(timespec="seconds")
                                 if s.signed_at else None),
                   "level": s.level, "ok": s.ok, "signer": s.signer}
                  for s in (check.signatures if check else ())]
    genuine = check is not None and check.ok and issued is not None
    if as_json:
        click.echo(json.dumps({"file": file, "sha256": digest, "genuine": genuine,
                               "signatures_ok": bool(check and check.ok),
                               "report": issued[0] if issued else None,
                               "status": issued[1] if issued else None,
                               "signatures": signatures}, ensure_ascii=False))
    else:
        if not signatures:
            click.echo(tr("%(path)s: not signed (or not a readable PDF)", path=file))
        for s in signatures:
            click.echo(tr("%(verdict)-7s %(name)s — %(meaning)s — %(time)s (%(level)s)",
                          verdict=tr("valid") if s["ok"] else tr("INVALID"), name=s["name"],
                          meaning=s["meaning"], time=s["signed_at"] or tr("no trusted time-stamp"),
                          level=s["level"]))
        click.echo(tr("SHA-256 %(digest)s: issued report %(number)s (%(status)s)", digest=digest,
                      number=issued[0], status=issued[1]) if issued else
                   tr("SHA-256 %(digest)s: not an issued report", digest=digest))
        click.echo(tr("genuine") if genuine else tr("NOT genuine"))
    if not genuine:
        raise SystemExit(1)


@click.group(help=tr("The signing PKI."))
def pki() -> None:
    """The signing PKI."""


@pki.command("export-ca", help=tr(
    "Write the CA certificate (PEM) that outside parties trust to verify reports."))
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def pki_export_ca(file: str) -> None:
    """Write the CA certificate (PEM) that outside parties trust to verify reports."""
    from lims.reports.pki import ca_certificate_pem

    settings = runtime().settings
    try:
        pem = ca_certificate_pem(Path(settings.signing_pkcs12), settings.signing_passphrase)
    except (OSError, ValueError) as exc:
        fail(tr("cannot read %(path)s: %(reason)s", path=settings.signing_pkcs12, reason=exc))
    Path(file).write_bytes(pem)
    click.echo(tr("wrote %(path)s", path=file))


@pki.command("issue-signatory", help=tr(
    "Issue USERNAME's own signing certificate from the development CA (otherwise issued at their "
    "first signature). USERNAME must be an active user who may approve or issue."))
@click.argument("username")
@click.option("--renew", is_flag=True, help=tr("Issue a new certificate even if the current one "
              "is fit; the old one is revoked."))
def pki_issue_signatory(username: str, renew: bool) -> None:
    """Issue USERNAME's own signing certificate from the development CA (otherwise issued at
    their first signature). USERNAME must be an active user who may approve or issue."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import pkcs12

    from lims.auth.permissions import allowed
    from lims.auth.services import get_user
    from lims.reports.pki import ensure_signatory

    rt = runtime()
    settings = rt.settings
    try:
        with rt.session() as session:
            user = get_user(session, username)
            if user is None:
                fail(tr("username: no user %(username)r", username=username))
            if not user.active or not (allowed(user.roles, "sample.approve")
                                       or allowed(user.roles, "report.issue")):
                fail(tr("username: %(username)s is not an active signatory (role signatory)",
                        username=username))
            full_name, user_id = user.full_name, user.id
    finally:
        rt.dispose()
    pki_dir = Path(settings.signing_pkcs12).parent
    if settings.signatory_keys:
        fail(tr("LIMS_SIGNATORY_KEYS is set: the lab's CA issues signatories' certificates; put "
                "%(file)s in %(folder)s", file=f"{username}.p12", folder=settings.signatory_keys))
    if not (pki_dir / "ca.key").exists():
        fail(tr("there is no development CA in %(folder)s; set LIMS_SIGNATORY_KEYS", folder=pki_dir))
    try:
        path = ensure_signatory(pki_dir, username=username, full_name=full_name,
                                user_id=user_id, renew=renew)
        _key, cert, _extra = pkcs12.load_key_and_certificates(
            path.read_bytes(), settings.signing_passphrase.encode())
    except (OSError, ValueError) as exc:
        fail(tr("cannot issue the certificate of %(username)s: %(reason)s", username=username,
                reason=exc))
    assert isinstance(cert, x509.Certificate)  # noqa: S101 - ensure_signatory wrote one
    click.echo(tr("%(path)s: %(subject)s, serial %(serial)x, valid %(start)s to %(end)s", path=path,
                  subject=cert.subject.rfc4514_string(), serial=cert.serial_number,
                  start=format(cert.not_valid_before_utc, "%Y-%m-%d"),
                  end=format(cert.not_valid_after_utc, "%Y-%m-%d")))


def commands() -> list[click.Command]:
    return [report, pki]
