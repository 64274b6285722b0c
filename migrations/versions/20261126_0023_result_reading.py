"""A result captured from a capture agent's stream names the reading it is (issue 12 §2).

Revision ID: 0023
Revises: 0020
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "reading_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_results_reading_id_readings"), "readings",
                                    ["reading_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_results_reading_id_readings"), type_="foreignkey")
        batch_op.drop_column("reading_id")
