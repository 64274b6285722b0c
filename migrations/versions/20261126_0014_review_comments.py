"""Comments given when a reviewer returns a sample to testing, or a signatory returns it to
review (issue 11 §2): one per result, or the reason for the whole sample.

Revision ID: 0014
Revises: 0018
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.db

revision = "0014"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=True),
        sa.Column("result_version", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("created_at", lims.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"],
                                name=op.f("fk_review_comments_author_id_users")),
        sa.ForeignKeyConstraint(["result_id"], ["results.id"],
                                name=op.f("fk_review_comments_result_id_results")),
        sa.ForeignKeyConstraint(["sample_id"], ["samples.id"],
                                name=op.f("fk_review_comments_sample_id_samples")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_comments")),
    )
    with op.batch_alter_table("review_comments") as batch:
        batch.create_index(batch.f("ix_review_comments_sample_id"), ["sample_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("review_comments") as batch:
        batch.drop_index(batch.f("ix_review_comments_sample_id"))
    op.drop_table("review_comments")
