"""Requests with several samples (issue 11 §2): how each sample came (delivered or sampled),
its due date, priority and assignee, and when it was first reported (turnaround time).

Samples already reported get ``reported_at`` from their first issued report.

Revision ID: 0015
Revises: 0013
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.db

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("samples") as batch:
        batch.add_column(sa.Column("acquisition", sa.String(20), nullable=False,
                                   server_default="delivered"))
        batch.add_column(sa.Column("due_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("priority", sa.String(20), nullable=False,
                                   server_default="normal"))
        batch.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reported_at", lims.db.UTCDateTime(timezone=True),
                                   nullable=True))
        batch.create_foreign_key("fk_samples_assignee_id_users", "users", ["assignee_id"],
                                 ["id"])
        batch.create_index("ix_samples_assignee_id", ["assignee_id"])
        batch.create_index("ix_samples_due_date", ["due_date"])
    samples = sa.table("samples", sa.column("id", sa.Integer),
                       sa.column("reported_at", lims.db.UTCDateTime))
    reports = sa.table("reports", sa.column("sample_id", sa.Integer),
                       sa.column("issued_at", lims.db.UTCDateTime))
    first = (sa.select(sa.func.min(reports.c.issued_at))
             .where(reports.c.sample_id == samples.c.id).scalar_subquery())
    op.get_bind().execute(samples.update().values(reported_at=first))


def downgrade() -> None:
    with op.batch_alter_table("samples") as batch:
        batch.drop_index("ix_samples_due_date")
        batch.drop_index("ix_samples_assignee_id")
        batch.drop_constraint("fk_samples_assignee_id_users", type_="foreignkey")
        batch.drop_column("reported_at")
        batch.drop_column("assignee_id")
        batch.drop_column("priority")
        batch.drop_column("due_date")
        batch.drop_column("acquisition")
