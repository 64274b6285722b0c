"""The technician a sample is assigned to (issue 11 §3: each role lands on its queue).

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("samples") as batch:
        batch.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f("fk_samples_assignee_id_users"), "users",
                                 ["assignee_id"], ["id"])
        batch.create_index(batch.f("ix_samples_assignee_id"), ["assignee_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("samples") as batch:
        batch.drop_index(batch.f("ix_samples_assignee_id"))
        batch.drop_constraint(batch.f("fk_samples_assignee_id_users"), type_="foreignkey")
        batch.drop_column("assignee_id")
