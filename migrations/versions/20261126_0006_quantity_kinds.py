"""Give characteristics a quantity kind, their unit as written, LOD, LOQ and uncertainty source;
results their uncertainty; requests their decision rule; record conformity decisions

Issue 9. A characteristic declares the kind of quantity it measures (``kind``) and keeps its
unit as the method writes it (``unit_text``) beside the canonical one; it may carry a limit of
detection and of quantification and, when qualitative, the value it requires (``expected``).
A result's conformity may be ``undecided`` (a censored value straddling a limit) until a
reviewer records a decision with a reason (``conformity_decisions``), or, under a non-binary
rule, ``conditional pass``/``conditional fail``. A characteristic may say how its uncertainty
is obtained (a fixed or relative expanded uncertainty with k); a result keeps its U and k; a
request keeps the decision rule agreed with the customer (existing requests: ``simple``, the
rule every report so far stated).

Existing characteristics get the kind their stored unit names, by
:func:`lims.kinds.registry.stored_unit`: an absolute temperature stays absolute (pint converted
it so), ``percent`` is a ratio, ``percent_relative_humidity`` a relative humidity,
``revolutions_per_minute`` a rotational frequency (re-stored as ``1 / minute``: 1 r/min is
1/60 s⁻¹, not pint's 2π rad/min), and a unit no kind lists keeps a dimension check (``other``).
Results are not rewritten.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.db
from lims.kinds.registry import stored_unit

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

characteristics = sa.table("characteristics", sa.column("id", sa.Integer),
                           sa.column("unit", sa.String), sa.column("kind", sa.String),
                           sa.column("unit_text", sa.String))
results = sa.table("results", sa.column("id", sa.Integer), sa.column("conformity", sa.String))
requests = sa.table("test_requests", sa.column("decision_rule", sa.String))
decisions = sa.table("conformity_decisions", sa.column("result_id", sa.Integer),
                     sa.column("conformity", sa.String))


def upgrade() -> None:
    op.create_table("conformity_decisions",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("result_id", sa.Integer(), nullable=False),
    sa.Column("conformity", sa.String(length=20), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("decided_by_id", sa.Integer(), nullable=False),
    sa.Column("decided_at", lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name=op.f("fk_conformity_decisions_decided_by_id_users")),
    sa.ForeignKeyConstraint(["result_id"], ["results.id"], name=op.f("fk_conformity_decisions_result_id_results")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_conformity_decisions")),
    sa.UniqueConstraint("result_id", name=op.f("uq_conformity_decisions_result_id"))
    )
    with op.batch_alter_table("characteristics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("unit_text", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("lod", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("loq", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("expected", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("uncertainty_kind", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("uncertainty", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("coverage_factor", sa.String(length=10), nullable=True))
    with op.batch_alter_table("test_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decision_rule", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("guard_factor", sa.String(length=10), nullable=True))

    conn = op.get_bind()
    conn.execute(requests.update().values(decision_rule="simple"))
    with op.batch_alter_table("test_requests", schema=None) as batch_op:
        batch_op.alter_column("decision_rule", existing_type=sa.String(length=20), nullable=False)
    for cid, unit in conn.execute(sa.select(characteristics.c.id, characteristics.c.unit)).all():
        kind, written, canonical = stored_unit(unit)
        conn.execute(characteristics.update().where(characteristics.c.id == cid).values(
            kind=kind, unit_text=written, unit=canonical))

    with op.batch_alter_table("characteristics", schema=None) as batch_op:
        batch_op.alter_column("kind", existing_type=sa.String(length=40), nullable=False)
        batch_op.alter_column("unit_text", existing_type=sa.String(length=40), nullable=False)

    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.alter_column("conformity",
               existing_type=sa.VARCHAR(length=10),
               type_=sa.String(length=20),
               existing_nullable=True)
        batch_op.add_column(sa.Column("expanded_uncertainty", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("coverage_factor", sa.String(length=10), nullable=True))


def downgrade() -> None:
    # Before 0006 a conformity was pass, fail or none: an undecided result takes the decision
    # recorded for it, or none; a conditional verdict (non-binary rule) becomes none.
    conn = op.get_bind()
    decided = sa.select(decisions.c.conformity).where(
        decisions.c.result_id == results.c.id).scalar_subquery()
    conn.execute(results.update().where(results.c.conformity == "undecided").values(
        conformity=decided))
    conn.execute(results.update().where(sa.func.length(results.c.conformity) > 10).values(
        conformity=None))
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.drop_column("coverage_factor")
        batch_op.drop_column("expanded_uncertainty")
        batch_op.alter_column("conformity",
               existing_type=sa.String(length=20),
               type_=sa.VARCHAR(length=10),
               existing_nullable=True)

    with op.batch_alter_table("test_requests", schema=None) as batch_op:
        batch_op.drop_column("guard_factor")
        batch_op.drop_column("decision_rule")

    with op.batch_alter_table("characteristics", schema=None) as batch_op:
        batch_op.drop_column("coverage_factor")
        batch_op.drop_column("uncertainty")
        batch_op.drop_column("uncertainty_kind")
        batch_op.drop_column("expected")
        batch_op.drop_column("loq")
        batch_op.drop_column("lod")
        batch_op.drop_column("unit_text")
        batch_op.drop_column("kind")

    op.drop_table("conformity_decisions")
