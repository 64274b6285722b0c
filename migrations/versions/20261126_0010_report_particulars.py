"""Give requests their inspection type, product standard and customer-supplied data; samples
their particulars and the signatory's worded conclusion; methods a conditions flag; tests their
environmental conditions and deviations

Issue 10, section 5 (RB/T 214 4.5.20, ISO/IEC 17025 7.8.2–7.8.3). Existing requests become
commissioned inspections (委托检验, what every report so far was) with no product standard and
no customer-supplied data; existing samples have empty particulars and the derived conclusion;
no existing method asks for its conditions. Results and issued reports are not touched.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

REQUEST_COLUMNS = (("inspection_type", sa.String(length=30), "commissioned"),
                   ("product_standard", sa.String(length=300), ""),
                   ("customer_data", sa.Text(), ""))
SAMPLE_COLUMNS = (("trademark", sa.String(length=120), ""), ("model", sa.String(length=120), ""),
                  ("batch", sa.String(length=120), ""), ("quantity", sa.String(length=120), ""),
                  ("manufacturer", sa.String(length=200), ""))


def _add_filled(table: str, columns: tuple[tuple[str, sa.types.TypeEngine, object], ...]
                ) -> None:
    """Add NOT NULL columns: nullable first, filled for existing rows, then NOT NULL."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for name, type_, _fill in columns:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    rows = sa.table(table, *(sa.column(name, type_) for name, type_, _ in columns))
    op.get_bind().execute(rows.update().values({name: fill for name, _, fill in columns}))
    with op.batch_alter_table(table, schema=None) as batch_op:
        for name, type_, _fill in columns:
            batch_op.alter_column(name, existing_type=type_, nullable=False)


def upgrade() -> None:
    _add_filled("test_methods", (("requires_conditions", sa.Boolean(), False),))
    _add_filled("test_requests", REQUEST_COLUMNS)
    _add_filled("samples", SAMPLE_COLUMNS)
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conclusion", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("conclusion_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("sample_tests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conditions", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("deviation", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sample_tests", schema=None) as batch_op:
        batch_op.drop_column("deviation")
        batch_op.drop_column("conditions")
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.drop_column("conclusion_reason")
        batch_op.drop_column("conclusion")
        for name, _type, _fill in reversed(SAMPLE_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table("test_requests", schema=None) as batch_op:
        for name, _type, _fill in reversed(REQUEST_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table("test_methods", schema=None) as batch_op:
        batch_op.drop_column("requires_conditions")
