"""Bench capture agents, their instruments and the readings they upload (issue 12 §2).

``readings`` is append-only: triggers refuse UPDATE and DELETE, as for the audit trail (0002),
since a reading is raw instrument data an assessor may ask for (ISO/IEC 17025 7.5.1, 7.11.3).
Archiving old readings is a database owner's job (README), not the application's.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.db

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", lims.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("revoked_at", lims.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_agents_created_by_id_users")),
        sa.ForeignKeyConstraint(["revoked_by_id"], ["users.id"],
                                name=op.f("fk_agents_revoked_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("name", name=op.f("uq_agents_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_agents_token_hash")),
    )
    op.create_table(
        "agent_instruments",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"],
                                name=op.f("fk_agent_instruments_agent_id_agents")),
        sa.ForeignKeyConstraint(["instrument_id"], ["instruments.id"],
                                name=op.f("fk_agent_instruments_instrument_id_instruments")),
        sa.PrimaryKeyConstraint("agent_id", "instrument_id", name=op.f("pk_agent_instruments")),
    )
    op.create_table(
        "readings",
        sa.Column("id", BigId, nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("read_at", lims.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", lims.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("value", sa.String(64), nullable=True),
        sa.Column("unit", sa.String(20), nullable=True),
        sa.Column("stable", sa.Boolean(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"],
                                name=op.f("fk_readings_agent_id_agents")),
        sa.ForeignKeyConstraint(["instrument_id"], ["instruments.id"],
                                name=op.f("fk_readings_instrument_id_instruments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_readings")),
        sa.UniqueConstraint("agent_id", "seq", name="uq_readings_agent_id_seq"),
    )
    op.create_index("ix_readings_instrument_id_read_at", "readings",
                    ["instrument_id", "read_at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # lims_refuse_change() comes from 0002.
        op.execute("""CREATE TRIGGER readings_append_only BEFORE UPDATE OR DELETE
                      ON readings FOR EACH ROW
                      EXECUTE FUNCTION lims_refuse_change('instrument reading')""")
        return
    for verb in ("UPDATE", "DELETE"):
        refusal = f"{verb} on readings refused: the record is append-only (instrument reading)"
        op.execute(f"""CREATE TRIGGER readings_no_{verb.lower()} BEFORE {verb} ON readings
                       BEGIN SELECT RAISE(ABORT, '{refusal}'); END""")


def downgrade() -> None:
    op.drop_index("ix_readings_instrument_id_read_at", table_name="readings")
    op.drop_table("readings")  # its triggers go with it
    op.drop_table("agent_instruments")
    op.drop_table("agents")
