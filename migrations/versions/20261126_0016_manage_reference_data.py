"""Customers, test methods and instruments: edit with a reason, retire (issue 11 §2)

``customers``, ``test_methods`` and ``instruments`` gain a ``version`` (an optimistic check:
an edit made from a stale page is refused, not silently applied over another's) and the
retirement (when, by whom, why): a retired record is kept with its history but offered for
no new work. ``customers`` also gain the unified social credit code (统一社会信用代码) and a
phone number, both optional.

Revision ID: 0016
Revises: 0019
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.db

revision = "0016"
down_revision = "0019"
branch_labels = None
depends_on = None

TABLES = ("customers", "test_methods", "instruments")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False,
                                          server_default=sa.text("1")))
            batch_op.add_column(sa.Column("retired_at", lims.db.UTCDateTime(timezone=True),
                                          nullable=True))
            batch_op.add_column(sa.Column("retired_by_id", sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column("retired_reason", sa.String(length=500),
                                          nullable=True))
            if table == "customers":
                batch_op.add_column(sa.Column("credit_code", sa.String(length=18),
                                              nullable=False, server_default=""))
                batch_op.add_column(sa.Column("phone", sa.String(length=40), nullable=False,
                                              server_default=""))
            batch_op.create_foreign_key(batch_op.f(f"fk_{table}_retired_by_id_users"), "users",
                                        ["retired_by_id"], ["id"])


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"fk_{table}_retired_by_id_users"),
                                     type_="foreignkey")
            if table == "customers":
                batch_op.drop_column("phone")
                batch_op.drop_column("credit_code")
            batch_op.drop_column("retired_reason")
            batch_op.drop_column("retired_by_id")
            batch_op.drop_column("retired_at")
            batch_op.drop_column("version")
