"""The ``lims`` command: instance set-up, demo data, serving and the scheduler.

Every domain adds its own commands (``lims.domains``); this module only collects them.
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from lims.clitools import fail, runtime
from lims.config import Settings, ensure_secret


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """LIMS for metrology and inspection labs."""


# --- instance ------------------------------------------------------------------------------

@main.command()
def init() -> None:
    """Create or migrate the instance folder (idempotent)."""
    from lims.migrate import upgrade
    from lims.reports.fonts import ensure_fonts
    from lims.reports.pki import create_dev_pki

    base = Settings.from_env()
    inst = base.instance_path.resolve()
    inst.mkdir(parents=True, exist_ok=True)
    if not base.secret_key:
        ensure_secret(inst / "secret_key")
    settings = base.resolved()
    upgrade(settings.database_url)
    click.echo(f"database migrated to head: {_redact(settings.database_url)}")
    if not os.environ.get("LIMS_SIGNING_PKCS12"):
        made = create_dev_pki(inst / "pki", lab_name=settings.lab_name_en)
        click.echo(("created" if made else "kept") + f" development signing PKI in {inst / 'pki'}")
    ensure_fonts(settings.font_path)
    click.echo(f"report fonts ready in {settings.font_path}")


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@main.command()
def demo() -> None:
    """Seed demo data once and print the demo logins."""
    from lims.demo import seed

    rt = runtime()
    try:
        logins = seed(rt)
    finally:
        rt.dispose()
    click.echo("Demo logins (username / password / roles):")
    for username, password, roles in logins:
        click.echo(f"  {username:<10} {password:<24} {roles}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the app with gunicorn (production WSGI server)."""
    from gunicorn.app.base import BaseApplication

    from lims import create_app

    settings = Settings.from_env().resolved()
    if not settings.secret_key:
        fail("no secret key: run `lims init` or set LIMS_SECRET_KEY")
    app = create_app(settings)

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {"bind": f"{host}:{port}", "workers": workers,
                               "worker_class": "gthread", "threads": 4, "timeout": 60,
                               "accesslog": "-"}.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    click.echo(f"serving on http://{host}:{port}")
    Server().run()


# --- scheduler ---------------------------------------------------------------------------

@main.command()
@click.option("--run", "run_once", metavar="JOB", help="Run one job now and exit (see --list).")
@click.option("--list", "list_jobs", is_flag=True, help="List the jobs and exit.")
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
        fail(f"unknown job {run_once!r}; known: {', '.join(sorted(known))}", 2)
    rt = runtime()
    if run_once:
        click.echo(json.dumps(run_job(run_once, rt), ensure_ascii=False))
        return
    sched = build_scheduler(rt)
    click.echo("scheduler running; jobs: " + ", ".join(j.id for j in sched.get_jobs()))
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass


def _add_domain_commands() -> None:
    from lims.domains import domains

    for domain in domains():
        for command in domain.commands():
            main.add_command(command)


_add_domain_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
