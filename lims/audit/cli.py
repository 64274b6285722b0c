"""Audit commands: ``lims audit verify``."""

from __future__ import annotations

import click

from lims.clitools import fail, runtime


@click.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Verify the hash chain; exit 1 naming the first bad event."""
    from lims.audit.services import verify_chain

    rt = runtime()
    with rt.session() as session:
        try:
            verdict = verify_chain(session)
        finally:
            session.close()
    if verdict.ok:
        click.echo(f"ok: {verdict.message} ({verdict.count} events)")
    else:
        fail(f"audit chain broken at event {verdict.first_bad_seq}: {verdict.message}")


def commands() -> list[click.Command]:
    return [audit]
