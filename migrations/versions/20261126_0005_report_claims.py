"""Report claims: issue a report in three steps without holding locks (issue 8, finding 9)

A claim holds the number taken and the frozen content of a report between the short
transaction that claims it and the one that stores the signed file. ``finished_at`` is set
exactly once, by whichever of the issuing worker and the ``report-recovery`` job stores it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('issued_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('finished_at', lims.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_report_claims_issued_by_id_users')),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('fk_report_claims_sample_id_samples')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_claims')),
    sa.UniqueConstraint('number', name=op.f('uq_report_claims_number'))
    )
    with op.batch_alter_table('report_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_claims_finished_at'), ['finished_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_claims_sample_id'), ['sample_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('report_claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_claims_sample_id'))
        batch_op.drop_index(batch_op.f('ix_report_claims_finished_at'))

    op.drop_table('report_claims')
