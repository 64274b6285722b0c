"""Indexes of the server-side lists (issue 11 §3): samples by status and registration time,
reports by issue time, tests by method.

Revision ID: 0019
Revises: 0014
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("samples") as batch:
        batch.create_index("ix_samples_registered_at", ["registered_at"], unique=False)
        batch.create_index("ix_samples_status_registered_at", ["status", "registered_at"],
                           unique=False)
    with op.batch_alter_table("reports") as batch:
        batch.create_index("ix_reports_issued_at", ["issued_at"], unique=False)
    with op.batch_alter_table("sample_tests") as batch:
        batch.create_index("ix_sample_tests_method_id", ["method_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sample_tests") as batch:
        batch.drop_index("ix_sample_tests_method_id")
    with op.batch_alter_table("reports") as batch:
        batch.drop_index("ix_reports_issued_at")
    with op.batch_alter_table("samples") as batch:
        batch.drop_index("ix_samples_status_registered_at")
        batch.drop_index("ix_samples_registered_at")
