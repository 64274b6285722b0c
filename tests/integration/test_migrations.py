"""Alembic is the only way the schema changes; models and migrations cannot drift."""

from __future__ import annotations

from sqlalchemy import inspect

from lims.db import make_engine
from lims.migrate import check, downgrade, upgrade


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_check_then_round_trip_on_an_empty_database(database_url):
    check(database_url)  # the template was upgraded to head by the fixture
    assert {"samples", "results", "audit_events", "reports", "apscheduler_jobs"} <= _tables(
        database_url)
    downgrade(database_url, "base")
    assert _tables(database_url) == set()
    upgrade(database_url)
    check(database_url)
