"""Report and PKI commands: ``lims report list|export``, ``lims pki export-ca``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lims.clitools import fail, runtime


@click.group()
def report() -> None:
    """Issued reports."""


@report.command("list")
@click.option("--json", "as_json", is_flag=True)
def report_list(as_json: bool) -> None:
    from lims.reports.services import list_reports

    rt = runtime()
    with rt.session() as session:
        try:
            rows = [{"number": r.number, "status": r.status, "issued_at": r.issued_at.isoformat(),
                     "sha256": r.sha256, "size": r.size} for r in list_reports(session)]
        finally:
            session.close()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r['number']}  {r['status']:<10} {r['issued_at']}  {r['sha256']}")


@report.command("export")
@click.argument("number")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def report_export(number: str, file: str) -> None:
    """Write the issued PDF of report NUMBER to FILE (after checking its SHA-256)."""
    from lims.errors import LimsError
    from lims.reports.services import get_report, stored_pdf

    rt = runtime()
    with rt.session() as session:
        try:
            pdf = stored_pdf(get_report(session, number))
        except LimsError as exc:
            fail(str(exc))
        finally:
            session.close()
    Path(file).write_bytes(pdf)
    click.echo(f"wrote {file} ({len(pdf)} bytes)")


@click.group()
def pki() -> None:
    """The signing PKI."""


@pki.command("export-ca")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def pki_export_ca(file: str) -> None:
    """Write the CA certificate (PEM) that outside parties trust to verify reports."""
    from lims.reports.pki import ca_certificate_pem

    settings = runtime().settings
    try:
        pem = ca_certificate_pem(Path(settings.signing_pkcs12), settings.signing_passphrase)
    except (OSError, ValueError) as exc:
        fail(f"cannot read {settings.signing_pkcs12}: {exc}")
    Path(file).write_bytes(pem)
    click.echo(f"wrote {file}")


def commands() -> list[click.Command]:
    return [report, pki]
