"""Seed the lab's working-day calendar with the 2026 public holidays and 调休 working days of
《国务院办公厅关于2026年部分节假日安排的通知》 (2025-11-04), which the food objection clock
(7 working days, 《食品安全法》 art. 88) counts in. The data are written out here, not imported,
so that the migration stays what it was when later code changes.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-27
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

OFF = ("2026-01-01", "2026-01-02", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19",
       "2026-02-20", "2026-02-23", "2026-04-06", "2026-05-01", "2026-05-04", "2026-05-05",
       "2026-06-19", "2026-09-25", "2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06",
       "2026-10-07")
WORKED = ("2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10")

_table = sa.table("working_day_overrides", sa.column("day", sa.Date),
                  sa.column("working", sa.Boolean), sa.column("note", sa.String))


def upgrade() -> None:
    op.bulk_insert(_table, [
        *({"day": dt.date.fromisoformat(d), "working": False, "note": "法定节假日 2026"}
          for d in OFF),
        *({"day": dt.date.fromisoformat(d), "working": True, "note": "调休上班 2026"}
          for d in WORKED)])


def downgrade() -> None:
    op.execute(_table.delete().where(
        _table.c.day.in_([dt.date.fromisoformat(d) for d in OFF + WORKED])))
