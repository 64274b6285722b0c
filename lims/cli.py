"""The ``lims`` command: instance set-up, demo data, serving and the scheduler.

Every domain adds its own commands (``lims.domains``); this module only collects them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import click

from lims.catalogs import label, tr
from lims.clitools import LimsGroup, fail, runtime
from lims.config import Settings, ensure_secret


@click.group(cls=LimsGroup, context_settings={"help_option_names": ["-h", "--help"]},
             help=tr("LIMS for metrology and inspection labs."))
def main() -> None:
    """LIMS for metrology and inspection labs."""


# --- instance ------------------------------------------------------------------------------

@main.command(help=tr("Create or migrate the instance folder (idempotent)."))
def init() -> None:
    """Create or migrate the instance folder (idempotent)."""
    from lims.migrate import upgrade
    from lims.reports.fonts import ensure_fonts
    from lims.reports.pki import create_dev_pki

    base = Settings.from_env()
    inst = base.instance_path.resolve()
    try:
        inst.mkdir(parents=True, exist_ok=True)
        inst.chmod(0o700)  # keys, secrets and the SQLite database live here
        if not base.secret_key:
            ensure_secret(inst / "secret_key")
    except OSError as exc:
        fail(tr("cannot write the instance folder %(path)s: %(reason)s (check the disk and its "
                "permissions)", path=inst, reason=exc.strerror))
    settings = base.resolved()
    owner_url = settings.migration_database_url or settings.database_url
    try:
        upgrade(owner_url)
        if settings.migration_database_url and settings.database_url.startswith("postgresql"):
            from lims.dbroles import grant_application_role

            role = grant_application_role(owner_url, settings.database_url)
            click.echo(tr("granted row access to the application role %(role)r", role=role))
    except Exception as exc:  # noqa: BLE001 - one clear sentence, never a traceback
        from lims.db import storage_error

        refused = storage_error(exc)
        reason = refused.message if refused else getattr(exc, "orig", None) or exc
        fail(tr("cannot migrate the database %(url)s: %(reason)s", url=_redact(owner_url),
                reason=str(reason).splitlines()[0] if str(reason) else reason))
    click.echo(tr("database migrated to head: %(url)s", url=_redact(owner_url)))
    if not os.environ.get("LIMS_SIGNING_PKCS12"):
        pki_dir = inst / "pki"
        existed = pki_dir.exists()
        try:
            made = create_dev_pki(pki_dir, lab_name=settings.lab_name_en)
        except OSError as exc:
            if not existed:  # no half-written PKI: it is made whole or not at all
                shutil.rmtree(pki_dir, ignore_errors=True)
            fail(tr("cannot write the development PKI in %(path)s: %(reason)s", path=pki_dir,
                    reason=exc.strerror))
        click.echo(tr("created development signing PKI in %(path)s", path=pki_dir) if made
                   else tr("kept development signing PKI in %(path)s", path=pki_dir))
    try:
        ensure_fonts(settings.font_path)
    except OSError as exc:
        fail(tr("cannot write the report fonts to %(path)s: %(reason)s",
                path=settings.font_path, reason=exc.strerror))
    click.echo(tr("report fonts ready in %(path)s", path=settings.font_path))


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@main.command(help=tr("Seed demo data once and print the demo logins."))
@click.option("--agent-server", metavar="URL", help=tr(
    "Also register the simulated bench's capture agent (once) and write its config to "
    "<instance>/agent.toml for the server at URL (make run)."))
@click.option("--supervision", is_flag=True, help=tr(
    "Also seed four years of supervision spot checks (plans, draws, sampling, reports, "
    "notices, an objection and its re-inspection) and write the last full year's white "
    "paper to the instance folder. Takes a few minutes: every report is signed."))
@click.option("--tasks-per-year", default=50, show_default=True,
              type=click.IntRange(5, 500), help=tr(
                  "About how many sampling tasks each year's plan draws (with --supervision)."))
def demo(agent_server: str | None, supervision: bool, tasks_per_year: int) -> None:
    """Seed demo data once and print the demo logins."""
    from lims.demo import seed
    from lims.demo_agent import write_bench_agent

    rt = runtime()
    paper = None
    try:
        logins = seed(rt)
        config = write_bench_agent(rt, server=agent_server) if agent_server else None
        if supervision:
            from lims.supervision.demo import seed_supervision

            paper = seed_supervision(rt, {name: password for name, password, _r in logins},
                                     tasks_per_year=tasks_per_year,
                                     progress=lambda line: click.echo(line, err=True))
    finally:
        rt.dispose()
    if config is not None:
        click.echo(tr("bench agent config: %(path)s", path=config))
    if supervision:
        click.echo(tr("supervision demo: seeded already") if paper is None else
                   tr("supervision demo: white paper %(path)s", path=paper))
    click.echo(tr("Demo logins (username / password / roles):"))
    for username, password, roles in logins:
        shown = ", ".join(label(role) for role in roles.split(", "))
        click.echo(f"  {username:<10} {password:<24} {shown}")


@main.command(help=tr("Serve the app with gunicorn (production WSGI server)."))
@click.option("--host", default="127.0.0.1", show_default=True,
              help=tr("The address to listen on."))
@click.option("--port", default=5000, show_default=True, type=int,
              help=tr("The TCP port to listen on."))
@click.option("--workers", default=2, show_default=True, type=int,
              help=tr("How many worker processes."))
@click.option("--access-log", default="-", show_default=True, metavar="PATH",
              help=tr("Where to write the access log (- for standard output)."))
def serve(host: str, port: int, workers: int, access_log: str) -> None:
    """Serve the app with gunicorn (production WSGI server)."""
    from gunicorn.app.base import BaseApplication

    from lims import create_app

    settings = Settings.from_env().resolved()
    if not settings.secret_key:
        fail(tr("no secret key: run `lims init` or set LIMS_SECRET_KEY"))
    app = create_app(settings)

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in {"bind": f"{host}:{port}", "workers": workers,
                               "worker_class": "gthread", "threads": 4, "timeout": 60,
                               "accesslog": access_log}.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    click.echo(tr("serving on %(url)s", url=f"http://{host}:{port}"))
    Server().run()


# --- backup ------------------------------------------------------------------------------

@main.command("backup", help=tr(
    "Back up the database (SQLite online backup API, or pg_dump) into a new folder DEST."))
@click.argument("dest", type=click.Path(file_okay=False))
@click.option("--with-keys", is_flag=True,
              help=tr("Also copy the signing PKI and the secret key (keep such a backup safe)."))
def backup_command(dest: str, with_keys: bool) -> None:
    """Back up the database (SQLite online backup API, or pg_dump) into a new folder DEST."""
    from lims.backup import backup
    from lims.errors import LimsError

    rt = runtime()
    try:
        manifest = backup(rt, Path(dest), with_keys=with_keys)
    except LimsError as exc:
        fail(exc.message)  # fail() shows it in the reader's language
    except (OSError, subprocess.CalledProcessError) as exc:
        fail(tr("backup failed: %(reason)s", reason=getattr(exc, "stderr", b"") or exc))
    finally:
        rt.dispose()
    counts = ", ".join(f"{n} {t}" for t, n in manifest["counts"].items())
    click.echo(tr("backed up to %(dest)s: revision %(revision)s, %(counts)s", dest=dest,
                  revision=manifest["revision"], counts=counts))


@main.command("restore", help=tr(
    "Restore a backup into the configured (empty) database, then verify the audit chain and "
    "every issued report's SHA-256 and signature; exit 1 if anything does not check out."))
@click.argument("src", type=click.Path(file_okay=False, exists=True))
def restore_command(src: str) -> None:
    """Restore a backup into the configured (empty) database, then verify the audit chain and
    every issued report's SHA-256 and signature; exit 1 if anything does not check out."""
    from lims.backup import restore
    from lims.errors import LimsError

    rt = runtime()
    try:
        check = restore(rt, Path(src))
    except LimsError as exc:
        fail(exc.message)  # fail() shows it in the reader's language
    except (OSError, subprocess.CalledProcessError) as exc:
        fail(tr("restore failed: %(reason)s", reason=getattr(exc, "stderr", b"") or exc))
    finally:
        rt.dispose()
    click.echo(tr("audit chain: %(state)s: %(message)s",
                  state=tr("ok") if check.audit_ok else tr("BROKEN"), message=check.audit_message))
    click.echo(tr("reports: %(checked)s checked, %(bad)s bad", checked=check.reports,
                  bad=len(check.bad_reports)))
    for line in check.bad_reports:
        click.echo(f"  {line}")
    if not check.ok:
        fail(tr("the restored data does not check out"))


# --- scheduler ---------------------------------------------------------------------------

@main.command(help=tr("Run the job scheduler (one process per deployment)."))
@click.option("--run", "run_once", metavar="JOB",
              help=tr("Run one job now and exit (see --list)."))
@click.option("--list", "list_jobs", is_flag=True, help=tr("List the jobs and exit."))
def scheduler(run_once: str | None, list_jobs: bool) -> None:
    """Run the job scheduler (one process per deployment)."""
    from lims.domains import jobs
    from lims.scheduler import build_scheduler, run_job

    known = jobs()
    if list_jobs:
        for job in known.values():
            click.echo(f"{job.id:<24} {job.doc}")
        return
    if run_once and run_once not in known:
        fail(tr("unknown job %(job)r; known: %(known)s", job=run_once,
                known=", ".join(sorted(known))), 2)
    rt = runtime()
    if run_once:
        click.echo(json.dumps(run_job(run_once, rt), ensure_ascii=False))
        return
    sched = build_scheduler(rt)
    click.echo(tr("scheduler running; jobs: %(jobs)s",
                  jobs=", ".join(j.id for j in sched.get_jobs())))
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass


def _add_domain_commands() -> None:
    from lims.domains import domains
    from lims.imports.cli import import_group

    for domain in domains():
        for command in domain.commands():
            main.add_command(command)
    main.add_command(import_group)  # legacy data of several domains (issue 14)


_add_domain_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
