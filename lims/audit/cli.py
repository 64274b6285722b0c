"""Audit commands: ``lims audit verify`` and ``lims audit checkpoint``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lims.catalogs import localized, tr
from lims.clitools import active_user, fail, invalid, runtime


@click.group(help=tr("The audit trail."))
def audit() -> None:
    """The audit trail."""


@audit.command("verify", help=tr("Verify the hash chain against every checkpoint; exit 1 naming the "
                                  "first bad event, checkpoint or row."))
@click.option("--since-checkpoint", is_flag=True,
              help=tr("Walk only the events after the newest checkpoint (older checkpoints are "
                      "still matched)."))
@click.option("--records", is_flag=True,
              help=tr("Also compare results, samples and reports with their last audited state."))
@click.option("--checkpoints", "directory", type=click.Path(file_okay=False, path_type=Path),
              help=tr("Checkpoint folder to hold the chain to (default: "
                      "<instance>/audit-checkpoints), e.g. an exported copy."))
def audit_verify(since_checkpoint: bool, records: bool, directory: Path | None) -> None:
    """Verify the hash chain against every checkpoint; exit 1 naming the first bad event,
    checkpoint or row."""
    from lims.audit import checkpoints
    from lims.audit.records import verify_records
    from lims.errors import LimsError

    rt = runtime()
    try:
        with rt.session() as session:
            verdict, start, anchors = checkpoints.verify(
                session, rt.settings, directory=directory, since_checkpoint=since_checkpoint)
            rows = verify_records(session) if records else None
    except LimsError as exc:
        fail(exc.message)
    finally:
        rt.dispose()  # also on a refusal: no pooled connection is left to the garbage collector
    broken = not verdict.ok
    if broken:
        if verdict.first_bad_seq is not None:
            click.echo(tr("error: audit chain broken at event %(seq)s: %(reason)s",
                          seq=verdict.first_bad_seq, reason=localized(verdict.message)), err=True)
        else:
            click.echo(tr("error: audit chain broken against its checkpoints: %(reason)s",
                          reason=localized(verdict.message)), err=True)
    else:
        scope = tr(" from checkpoint %(name)s", name=start.name) if start else ""
        held = (tr("; matches %(count)s checkpoint", count=anchors) if anchors == 1
                else tr("; matches %(count)s checkpoints", count=anchors) if anchors else "")
        click.echo(tr("ok: %(summary)s%(scope)s%(held)s (%(count)s events)",
                      summary=localized(verdict.message), scope=scope, held=held,
                      count=verdict.count))
    if rows is not None:
        for problem in rows.problems:
            click.echo(tr("error: edited behind the application's back: %(problem)s",
                          problem=localized(problem)), err=True)
        if rows.ok:
            click.echo(tr("ok: %(summary)s", summary=localized(rows.summary)))
        broken = broken or not rows.ok
    if broken:
        sys.exit(1)


@audit.command("checkpoint", help=tr("Sign the verified audit head with the lab's key into "
                                      "<instance>/audit-checkpoints."))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help=tr("Also copy every checkpoint not yet there to DIR (e.g. a write-once "
                      "share)."))
def audit_checkpoint(out: Path | None) -> None:
    """Sign the verified audit head with the lab's key into <instance>/audit-checkpoints."""
    from lims.audit import checkpoints
    from lims.errors import LimsError

    rt = runtime()
    try:
        with rt.session() as session:
            made, new = checkpoints.take(session, rt.settings)
    except LimsError as exc:
        fail(exc.message)
    finally:
        rt.dispose()
    if made is None:
        click.echo(tr("the audit trail is empty: nothing to checkpoint"))
    elif new:
        click.echo(tr("wrote checkpoint %(path)s: event %(seq)s %(hash)s", path=made.path,
                      seq=made.seq, hash=made.hash))
    else:
        click.echo(tr("kept checkpoint %(path)s: event %(seq)s %(hash)s", path=made.path,
                      seq=made.seq, hash=made.hash))
    if out is not None:
        copied, differ = checkpoints.export(checkpoints.checkpoint_dir(rt.settings), out)
        click.echo(tr("exported %(count)s checkpoint to %(folder)s", count=copied, folder=out)
                   if copied == 1 else
                   tr("exported %(count)s checkpoints to %(folder)s", count=copied, folder=out))
        if differ:
            fail(tr("%(folder)s holds other files of the same name: %(names)s", folder=out,
                    names=", ".join(differ)))


@audit.command("accept-checkpoints", help=tr(
    "After checkpoint files were lost and cannot be restored from an exported copy: check the "
    "chain against the files that are left and, when it passes, make them the baseline of the "
    "nightly check (which fails while a file it held is gone). Needs the quality manager's "
    "right; recorded in the audit trail with the reason."))
@click.option("--user", "username", envvar="LIMS_CLI_USER", required=True,
              help=tr("Who accepts (or LIMS_CLI_USER); named in the audit event."))
@click.option("--reason", required=True, help=tr("Why the lost files cannot be restored."))
def audit_accept_checkpoints(username: str, reason: str) -> None:
    """Take the checkpoint files that are left as the chain checks' new baseline."""
    from lims.audit.jobs import accept_checkpoints
    from lims.errors import LimsError

    rt = runtime()
    try:
        with rt.session() as session:
            actor = active_user(session, username)
            verdict = accept_checkpoints(session, rt.settings, actor=actor, reason=reason)
    except LimsError as exc:
        invalid(exc, 1)
    finally:
        rt.dispose()
    if not verdict.ok:
        fail(tr("audit chain broken against the checkpoints left: %(reason)s; nothing accepted",
                reason=localized(verdict.message)))
    click.echo(tr("ok: the checkpoints left are the new baseline: %(summary)s",
                  summary=localized(verdict.message)))


def commands() -> list[click.Command]:
    return [audit]
