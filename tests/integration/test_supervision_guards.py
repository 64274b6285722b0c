"""The supervision records that are evidence refuse UPDATE and DELETE in the database itself
(migration 0029), on both databases: a bug or a hand-written statement cannot rewrite a draw,
a white paper or what a notice says, nor record a notice's delivery twice."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from lims.db import unit_of_work
from lims.reports.models import Report
from lims.supervision.models import RandomDraw, ResultNotice, SamplingTask, WhitePaper
from tests.support.supervision import drawn_task


def _refused(session, statement: str) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        with unit_of_work(session):
            session.execute(text(statement))
    session.rollback()


def test_supervision_evidence_is_append_only(session, world, settings):
    number = drawn_task(session)
    _sample, report_number = world.reported_sample(session, settings)
    with unit_of_work(session):
        task = session.scalar(select(SamplingTask).where(SamplingTask.number == number))
        report = session.scalar(select(Report).where(Report.number == report_number))
        tech = world.user(session, "tech")
        session.add_all([
            RandomDraw(plan_id=task.plan_id, category_id=task.category_id,
                       region_id=task.region_id, seed="s", count=1, exclusion_months=12,
                       enterprise_pool="[]", inspector_pool="[]", drawn_by_id=tech.id),
            WhitePaper(year=2025, sha256="0" * 64, size=1, figures="{}", pdf=b"%PDF"),
            ResultNotice(number="TZ-T1", sample_id=report.sample_id, report_id=report.id,
                         objection_rule="product", issued_by_id=tech.id, sha256="0" * 64,
                         size=4, content="{}", pdf=b"%PDF")])
    for table in ("random_draws", "white_papers"):
        _refused(session, f"UPDATE {table} SET id = id")  # noqa: S608 - constants
        _refused(session, f"DELETE FROM {table}")  # noqa: S608 - constants
    _refused(session, "UPDATE result_notices SET sha256 = 'x'")
    _refused(session, "UPDATE result_notices SET pdf = pdf")
    _refused(session, "DELETE FROM result_notices")
    # The delivery is written once (as lims.supervision.notices.record_delivery does).
    with unit_of_work(session):
        session.execute(text("UPDATE result_notices SET delivered_on = :d, "
                             "objection_deadline = :d"), {"d": dt.date(2026, 9, 24)})
    _refused(session, "UPDATE result_notices SET delivered_on = NULL")
    assert session.scalar(select(ResultNotice.delivered_on)) == dt.date(2026, 9, 24)
    assert session.scalar(select(WhitePaper.year)) == 2025
