"""Index the original samples by registration time, for the pass-rate statistics (issue 13 §4).

The statistics count the original samples (``reinspection_of_id IS NULL``) registered in a
year. Without this index SQLite answered the year's query through ix_samples_reinspection_of_id,
reading every original sample of every year (make bench, bench/passrates.py).

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_samples_original_registered", "samples",
                    ["reinspection_of_id", "registered_at"])


def downgrade() -> None:
    op.drop_index("ix_samples_original_registered", table_name="samples")
