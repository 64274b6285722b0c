"""Pinyin initials of customer names for search (issue 11 §3), filled for existing customers.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from lims.samples.names import initials

    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("name_initials", sa.String(200), nullable=False,
                                   server_default=""))
    conn = op.get_bind()
    customers = sa.table("customers", sa.column("id", sa.Integer), sa.column("name", sa.String),
                         sa.column("name_initials", sa.String))
    for row in conn.execute(sa.select(customers.c.id, customers.c.name)).all():
        conn.execute(customers.update().where(customers.c.id == row.id)
                     .values(name_initials=initials(row.name)))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("name_initials")
