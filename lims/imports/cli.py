"""``lims import samples|instruments|customers FILE``: legacy data from an .xlsx or .csv file."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from lims.catalogs import tr
from lims.clitools import active_user, fail, invalid, runtime

SHOWN = 50  # errors listed; the rest are counted


@click.group("import", help=tr(
    "Import legacy data from an .xlsx or .csv file (UTF-8, with or without BOM, or GB18030). "
    "Every row is checked first; a file with any error writes nothing and lists the errors "
    "by row and column."))
def import_group() -> None:
    """Import legacy data from an .xlsx or .csv file."""


def _options(command: Callable[..., None]) -> Callable[..., None]:
    command = click.argument("file", type=click.Path(dir_okay=False))(command)
    command = click.option("--user", "username", envvar="LIMS_CLI_USER", required=True,
                           help=tr("Who imports (or LIMS_CLI_USER); named in every audit "
                                   "event."))(command)
    command = click.option("--encoding", metavar="NAME", help=tr(
        "The CSV file's encoding (default: UTF-8 or its BOM, else GB18030)."))(command)
    return click.option("--dry-run", is_flag=True,
                        help=tr("Check every row and write nothing."))(command)


@import_group.command("samples", help=tr(
    "Import legacy samples with their requests (see the README for the columns); numbers are "
    "kept as recorded. Needs the right to register samples."))
@_options
def import_samples(file: str, username: str, encoding: str | None, dry_run: bool) -> None:
    """Import legacy samples with their requests."""
    _run("samples", file, username, encoding, dry_run)


@import_group.command("instruments", help=tr(
    "Import the equipment register with each instrument's quantity and calibration in force. "
    "Needs the right to manage instruments."))
@_options
def import_instruments(file: str, username: str, encoding: str | None, dry_run: bool) -> None:
    """Import the equipment register."""
    _run("instruments", file, username, encoding, dry_run)


@import_group.command("customers", help=tr(
    "Import customers (credit codes checked; customers on record already are refused). Needs "
    "the right to create customers."))
@_options
def import_customers(file: str, username: str, encoding: str | None, dry_run: bool) -> None:
    """Import customers."""
    _run("customers", file, username, encoding, dry_run)


def _bar(length: int, label: str) -> Any:
    return click.progressbar(length=length, label=label, file=sys.stderr)


def _run(kind: str, file: str, username: str, encoding: str | None, dry_run: bool) -> None:
    from sqlalchemy.exc import IntegrityError

    from lims.auth.services import require
    from lims.errors import LimsError
    from lims.imports import KINDS, check, write
    from lims.imports.read import read_table

    try:
        table = read_table(file, encoding=encoding)
    except LimsError as exc:
        invalid(exc, 1)
    rt = runtime()
    try:
        # A dry run only reads; a real one checks inside its write transaction, so that what
        # was checked against the database is what the rows are written against.
        with rt.session() if dry_run else rt.transaction() as session:
            actor = active_user(session, username)
            require(actor, KINDS[kind].PERMISSION)
            with _bar(len(table.rows), tr("checking %(count)s rows", count=len(table.rows))) as bar:
                checked = check(session, kind, table, rt.settings, bar.update)
            if not checked.ok:
                for problem in checked.problems[:SHOWN]:
                    click.echo(str(problem), err=True)
                if len(checked.problems) > SHOWN:
                    click.echo(tr("… and %(count)s more errors", count=len(checked.problems) - SHOWN),
                               err=True)
                fail(tr("nothing was imported: %(count)s errors in %(path)s",
                        count=len(checked.problems), path=file))
            if dry_run:
                click.echo(tr("%(path)s is valid: %(count)s rows; nothing written (dry run)",
                              path=file, count=checked.plan.count))
                return
            with _bar(checked.plan.steps, tr("writing")) as bar:
                count = write(session, checked, actor=actor, settings=rt.settings, tick=bar.update)
    except LimsError as exc:
        invalid(exc, 1)
    except IntegrityError:  # a concurrent writer took a number between the check and the write
        fail(tr("nothing was imported: a record of the file was written by someone else "
                "meanwhile; run the import again"))
    finally:
        rt.dispose()
    nouns = {"samples": tr("samples"), "instruments": tr("instruments"),
             "customers": tr("customers")}
    click.echo(tr("imported %(count)s %(kind)s from %(path)s", count=count, kind=nouns[kind],
                  path=file))
