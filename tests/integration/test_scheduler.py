"""Scheduler jobs: calibration-due flags and the nightly audit-chain check."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from lims.audit.models import AuditEvent
from lims.db import unit_of_work, utcnow
from lims.instruments.models import Instrument
from lims.scheduler import build_scheduler, run_job


def test_flag_calibration_due(app, session, world):
    world.calibrate(session, world.balance_id, valid_until=utcnow().date() + dt.timedelta(days=10))
    assert session.get(Instrument, world.balance_id).calibration_flag == "due soon"  # at once
    with unit_of_work(session):  # a flag gone stale as the days pass, as the job finds it
        session.get(Instrument, world.balance_id).calibration_flag = "ok"
    outcome = run_job("flag-calibration-due", app)
    assert sorted(outcome["changed"]) == ["EQ-1"]  # EQ-2 was flagged overdue when registered
    session.expire_all()
    flags = dict(session.execute(select(Instrument.asset_number, Instrument.calibration_flag)).all())
    assert flags == {"EQ-1": "due soon", "EQ-2": "overdue"}
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert event.action == "instrument.calibration_flag" and event.actor == "system"
    assert run_job("flag-calibration-due", app)["changed"] == []  # nothing changes twice


def test_verify_audit_chain_records_its_outcome(app, session, world):
    assert run_job("verify-audit-chain", app)["ok"] is True
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert event.action == "audit.verify" and json.loads(event.after)["ok"] is True


def test_scheduler_persists_its_jobs(app):
    sched = build_scheduler(app)  # an app or a Runtime
    assert {j.id for j in sched.get_jobs()} == {"flag-calibration-due", "verify-audit-chain",
                                                "report-recovery",
                                                "audit-checkpoint", "audit-verify-queued"}


def test_instrument_list_shows_flags(client, session, world):
    from tests.support.world import login

    login(client, "tech")
    page = client.get("/instruments/").get_data(as_text=True)
    assert "overdue" in page and "EQ-2" in page


def test_scheduler_process_runs_the_due_job_and_persists_jobs(session, world, settings):
    import os
    import signal
    import subprocess
    import sys
    import time

    from sqlalchemy import func, text

    world.calibrate(session, world.balance_id, valid_until=utcnow().date() + dt.timedelta(days=5))
    with unit_of_work(session):  # stale, so that only the job can set it
        session.get(Instrument, world.balance_id).calibration_flag = "ok"
    env = {**os.environ, "LIMS_DATABASE_URL": settings.database_url, "LIMS_SECRET_KEY": "x",
           "LIMS_INSTANCE_PATH": str(settings.instance_path)}
    # SIGINT stops the scheduler as Ctrl-C does. A shell that starts a command in the
    # background (`make test &`) makes it ignore SIGINT, and Python then installs no handler in
    # the child: restore the default so that the signal is delivered, whoever ran the tests.
    with subprocess.Popen([sys.executable, "-m", "lims.cli", "scheduler"], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
                          ) as proc:
        try:
            deadline = time.monotonic() + 60
            flag = None
            while time.monotonic() < deadline:
                session.rollback()
                flag = session.scalar(select(Instrument.calibration_flag)
                                      .where(Instrument.id == world.balance_id))
                if flag == "due soon":
                    break
                time.sleep(0.2)
            assert flag == "due soon"
            jobs = session.scalar(select(func.count()).select_from(text("apscheduler_jobs")))
            assert jobs == 5
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()  # fail, rather than wait for ever in Popen's exit
                raise
