"""Requests with several samples (issue 11 §2): how each sample came (delivered or sampled),
its due date and priority, and when it was first reported (turnaround time). The assignee
column came with the work queues (0018).

Samples already reported get ``reported_at`` from their first issued report.

Revision ID: 0015
Revises: 0016
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.db

revision = "0015"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("samples") as batch:
        batch.add_column(sa.Column("acquisition", sa.String(20), nullable=False,
                                   server_default="delivered"))
        batch.add_column(sa.Column("due_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("priority", sa.String(20), nullable=False,
                                   server_default="normal"))
        batch.add_column(sa.Column("reported_at", lims.db.UTCDateTime(timezone=True),
                                   nullable=True))
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
        batch.drop_column("reported_at")
        batch.drop_column("priority")
        batch.drop_column("due_date")
        batch.drop_column("acquisition")
