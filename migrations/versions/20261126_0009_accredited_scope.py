"""Record the accredited scope (CMA, CNAS), its items and signatories' authority over them

Issue 10 §4. ``accreditations`` holds each scheme's certificate (CMA 资质认定, CNAS with the
ILAC-MRA) with its number and validity; ``scope_items`` the lines of the scope (object,
parameter or calibrated quantity, method or JJF/JJG procedure, range with its unit and
quantity kind) and ``scope_item_schemes`` which schemes list each; ``signatory_authorities``
the scope items each signatory is authorised for (授权签字人, RB/T 214 4.2.4).

Existing free-text signatory scopes (``signatory_scopes``) are kept as they are: no scope item
exists before this revision, so there is nothing to map them to, and inventing scope items
from the test methods' fields would print CMA marks on work that was never accredited. They
become *field authority* for work outside the accredited scope (lims.accreditation.services):
every signatory can still sign exactly what they could; once the lab records its scope, items
it lists need an explicit grant. Downgrading drops the new tables and keeps the fields.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("accreditations",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("scheme", sa.String(length=10), nullable=False),
    sa.Column("certificate_number", sa.String(length=40), nullable=False),
    sa.Column("valid_from", sa.Date(), nullable=False),
    sa.Column("valid_until", sa.Date(), nullable=False),
    sa.Column("created_at", lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_accreditations")),
    sa.UniqueConstraint("scheme", name=op.f("uq_accreditations_scheme"))
    )
    op.create_table("scope_items",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("category", sa.String(length=20), nullable=False),
    sa.Column("object", sa.String(length=120), nullable=False),
    sa.Column("parameter", sa.String(length=120), nullable=False),
    sa.Column("method_code", sa.String(length=80), nullable=False),
    sa.Column("kind", sa.String(length=40), nullable=True),
    sa.Column("minimum", sa.String(length=40), nullable=True),
    sa.Column("maximum", sa.String(length=40), nullable=True),
    sa.Column("unit", sa.String(length=40), nullable=False),
    sa.Column("limitation", sa.String(length=200), nullable=False),
    sa.Column("created_at", lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_scope_items"))
    )
    with op.batch_alter_table("scope_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scope_items_method_code"), ["method_code"],
                              unique=False)

    op.create_table("scope_item_schemes",
    sa.Column("scope_item_id", sa.Integer(), nullable=False),
    sa.Column("accreditation_id", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["accreditation_id"], ["accreditations.id"], name=op.f("fk_scope_item_schemes_accreditation_id_accreditations")),
    sa.ForeignKeyConstraint(["scope_item_id"], ["scope_items.id"], name=op.f("fk_scope_item_schemes_scope_item_id_scope_items")),
    sa.PrimaryKeyConstraint("scope_item_id", "accreditation_id", name=op.f("pk_scope_item_schemes"))
    )
    op.create_table("signatory_authorities",
    sa.Column("user_id", sa.Integer(), nullable=False),
    sa.Column("scope_item_id", sa.Integer(), nullable=False),
    sa.Column("granted_at", lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["scope_item_id"], ["scope_items.id"], name=op.f("fk_signatory_authorities_scope_item_id_scope_items")),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_signatory_authorities_user_id_users")),
    sa.PrimaryKeyConstraint("user_id", "scope_item_id", name=op.f("pk_signatory_authorities"))
    )


def downgrade() -> None:
    op.drop_table("signatory_authorities")
    op.drop_table("scope_item_schemes")
    with op.batch_alter_table("scope_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scope_items_method_code"))
    op.drop_table("scope_items")
    op.drop_table("accreditations")
