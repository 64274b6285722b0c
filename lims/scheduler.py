"""The scheduler process: APScheduler with persisted jobs, one transaction per job run.

Runs as its own process (``lims scheduler``), never inside web workers: APScheduler 3 has no
cross-process locking, so every gunicorn worker would run every job. The jobs come from the
domains (:func:`lims.domains.jobs`); this module only schedules and runs them.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler

from lims.domains import jobs
from lims.runtime import Runtime

log = logging.getLogger(__name__)

_runtime: Runtime | None = None


def _as_runtime(owner: Any) -> Runtime:
    """A :class:`Runtime`, or the one a Flask app holds."""
    if isinstance(owner, Runtime):
        return owner
    extensions = getattr(owner, "extensions", None)
    if extensions is not None and isinstance(extensions.get("lims"), Runtime):
        return extensions["lims"]  # type: ignore[no-any-return]
    raise TypeError(f"not a runtime or a LIMS app: {owner!r}")


def run_job(name: str, owner: Any = None) -> dict[str, Any]:
    """Run one job as one transaction, or as the job's own (``Job.own_transaction``);
    module-level so APScheduler can pickle the reference."""
    rt = _as_runtime(owner) if owner is not None else _runtime
    if rt is None:
        raise RuntimeError("scheduler runtime not configured")
    job = jobs()[name]
    if job.own_transaction:
        with rt.session() as session:
            outcome = job.run(session, rt.settings)
    else:
        with rt.transaction() as session:
            outcome = job.run(session, rt.settings)
    log.info("job %s: %s", name, outcome)
    return outcome


def build_scheduler(owner: Any) -> BlockingScheduler:
    global _runtime
    rt = _runtime = _as_runtime(owner)
    settings = rt.settings
    tz = ZoneInfo(settings.timezone)
    scheduler = BlockingScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=settings.database_url)},
        timezone=tz,
        job_defaults={"coalesce": True, "misfire_grace_time": 3600, "max_instances": 1})
    for job in jobs().values():
        extra = {"next_run_time": dt.datetime.now(tz)} if job.run_at_start else {}
        scheduler.add_job("lims.scheduler:run_job", "cron", args=[job.id], id=job.id,
                          replace_existing=True, **job.trigger(settings), **extra)
    return scheduler
