"""The scheduler process: APScheduler with persisted jobs, one transaction per job run.

Runs as its own process (``lims scheduler``), never inside web workers: APScheduler 3 has no
cross-process locking, so every gunicorn worker would run every job.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from lims.audit.services import record, verify_chain
from lims.config import Settings
from lims.db import unit_of_work, utcnow
from lims.instruments.services import flag_calibration_due

log = logging.getLogger(__name__)


def job_flag_calibration_due(session: Any, settings: Settings) -> dict[str, Any]:
    """Flag instruments whose calibration is due within the warning period or overdue."""
    today = utcnow().astimezone(ZoneInfo(settings.timezone)).date()
    changed = flag_calibration_due(session, today=today,
                                   warning_days=settings.calibration_warning_days)
    return {"changed": changed}


def job_verify_audit_chain(session: Any, settings: Settings) -> dict[str, Any]:
    """Verify the audit hash chain and record the outcome as an audit event."""
    verdict = verify_chain(session)
    record(session, actor=None, action="audit.verify", entity_type="audit_events",
           entity_id="chain", after={"ok": verdict.ok, "count": verdict.count,
                                     "first_bad_seq": verdict.first_bad_seq,
                                     "message": verdict.message})
    if not verdict.ok:
        log.error("audit chain broken: %s", verdict.message)
    return {"ok": verdict.ok, "message": verdict.message}


JOBS: dict[str, Callable[[Any, Settings], dict[str, Any]]] = {
    "flag-calibration-due": job_flag_calibration_due,
    "verify-audit-chain": job_verify_audit_chain,
}

_app: Flask | None = None


def run_job(name: str, app: Flask | None = None) -> dict[str, Any]:
    """Run one job as one transaction (a module-level function so APScheduler can pickle it)."""
    from lims.web import state

    app = app or _app
    if app is None:
        raise RuntimeError("scheduler app not configured")
    with app.app_context():
        st = state()
        session = st.sessionmaker()
        try:
            with unit_of_work(session):
                outcome = JOBS[name](session, st.settings)
        finally:
            session.close()
    log.info("job %s: %s", name, outcome)
    return outcome


def build_scheduler(app: Flask) -> BlockingScheduler:
    global _app
    _app = app
    settings: Settings = app.extensions["lims"].settings
    scheduler = BlockingScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=settings.database_url)},
        timezone=ZoneInfo(settings.timezone),
        job_defaults={"coalesce": True, "misfire_grace_time": 3600, "max_instances": 1})
    scheduler.add_job("lims.scheduler:run_job", "cron", args=["flag-calibration-due"],
                      hour=6, minute=0, id="flag-calibration-due", replace_existing=True,
                      next_run_time=dt.datetime.now(ZoneInfo(settings.timezone)))
    scheduler.add_job("lims.scheduler:run_job", "cron", args=["verify-audit-chain"],
                      hour=settings.audit_verify_hour, minute=30, id="verify-audit-chain",
                      replace_existing=True)
    return scheduler
