"""Audit commands: ``lims audit verify`` and ``lims audit checkpoint``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lims.clitools import fail, runtime


@click.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@click.option("--since-checkpoint", is_flag=True,
              help="Walk only the events after the newest checkpoint (older checkpoints are "
                   "still matched).")
@click.option("--records", is_flag=True,
              help="Also compare results, samples and reports with their last audited state.")
@click.option("--checkpoints", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Checkpoint folder to hold the chain to (default: "
                   "<instance>/audit-checkpoints), e.g. an exported copy.")
def audit_verify(since_checkpoint: bool, records: bool, directory: Path | None) -> None:
    """Verify the hash chain against every checkpoint; exit 1 naming the first bad event,
    checkpoint or row."""
    from lims.audit import checkpoints
    from lims.audit.records import verify_records
    from lims.errors import LimsError

    rt = runtime()
    with rt.session() as session:
        try:
            verdict, start, anchors = checkpoints.verify(
                session, rt.settings, directory=directory, since_checkpoint=since_checkpoint)
            rows = verify_records(session) if records else None
        except LimsError as exc:
            fail(str(exc))
        finally:
            session.close()
    broken = not verdict.ok
    if broken:
        where = (f"at event {verdict.first_bad_seq}" if verdict.first_bad_seq is not None
                 else "against its checkpoints")
        click.echo(f"error: audit chain broken {where}: {verdict.message}", err=True)
    else:
        scope = f" from checkpoint {start.name}" if start else ""
        held = f"; matches {anchors} checkpoint{'s' * (anchors != 1)}" if anchors else ""
        click.echo(f"ok: {verdict.message}{scope}{held} ({verdict.count} events)")
    if rows is not None:
        for problem in rows.problems:
            click.echo(f"error: edited behind the application's back: {problem}", err=True)
        if rows.ok:
            click.echo(f"ok: {rows.summary}")
        broken = broken or not rows.ok
    if broken:
        sys.exit(1)


@audit.command("checkpoint")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Also copy every checkpoint not yet there to DIR (e.g. a write-once share).")
def audit_checkpoint(out: Path | None) -> None:
    """Sign the verified audit head with the lab's key into <instance>/audit-checkpoints."""
    from lims.audit import checkpoints
    from lims.errors import LimsError

    rt = runtime()
    with rt.session() as session:
        try:
            made, new = checkpoints.take(session, rt.settings)
        except LimsError as exc:
            fail(str(exc))
        finally:
            session.close()
    if made is None:
        click.echo("the audit trail is empty: nothing to checkpoint")
    else:
        click.echo(f"{'wrote' if new else 'kept'} checkpoint {made.path}: event {made.seq} "
                   f"{made.hash}")
    if out is not None:
        copied, differ = checkpoints.export(checkpoints.checkpoint_dir(rt.settings), out)
        click.echo(f"exported {copied} checkpoint{'s' * (copied != 1)} to {out}")
        if differ:
            fail(f"{out} holds other files of the same name: {', '.join(differ)}")


def commands() -> list[click.Command]:
    return [audit]
