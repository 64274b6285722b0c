"""``lims whitepaper YEAR --out FILE.pdf``: issue the annual quality white paper (stored,
signed, audited as from the page) and write the same bytes to FILE."""

from __future__ import annotations

import os
from pathlib import Path

import click

from lims.catalogs import tr
from lims.clitools import fail, invalid, runtime


@click.command("whitepaper", help=tr("Issue the annual quality white paper of YEAR (signed PDF, "
                                     "stored with its figures) and write it to FILE."))
@click.argument("year")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True),
              metavar="FILE.pdf", help=tr("Where to write the signed PDF."))
def command(year: str, out: str) -> None:
    """Issue the annual quality white paper of YEAR and write it to FILE."""
    from lims.auth.models import User
    from lims.errors import LimsError
    from lims.supervision.whitepaper import issue

    rt = runtime()
    try:
        with rt.transaction() as session:
            # Acting as LIMS_CLI_USER when set (its roles are checked); else as the system.
            name = os.environ.get("LIMS_CLI_USER")
            actor = None
            if name:
                actor = session.query(User).filter_by(username=name).one_or_none()
                if actor is None:
                    fail(tr("no user %(username)r to act as; set LIMS_CLI_USER to a quality "
                            "manager or admin", username=name))
            paper = issue(session, actor=actor, year=year, settings=rt.settings)
            pdf, number, digest, samples = (paper.pdf, paper.year, paper.sha256,
                                            paper.size)
    except LimsError as exc:
        invalid(exc, 2)
    finally:
        rt.dispose()
    try:
        Path(out).write_bytes(pdf)
    except OSError as exc:
        fail(tr("cannot write %(path)s: %(reason)s", path=out, reason=exc.strerror))
    click.echo(tr("white paper %(year)s issued: %(path)s (%(size)s bytes, SHA-256 %(sha256)s)",
                  year=number, path=out, size=samples, sha256=digest))
