"""Amend, supersede and withdraw issued documents (ISO/IEC 17025 7.8.8); a document's kind

``reports`` gains the kind of document (``test_report``, ``calibration_certificate``,
``verification_certificate``, ``verification_notice``; existing rows are test reports), the
DCC XML of a calibration certificate, the amendment reason of a report that replaces another,
and the withdrawal (when, by whom, the reason and its category: ``recall``, ``error``,
``customer request``, ``other``). ``report_amendments`` tracks an amendment from the request
to the issue of the replacement; a partial unique index allows one open amendment per report.

The append-only guard of migration 0002 is extended to the new columns set once at issue
(``kind``, ``amendment_reason``); the withdrawal columns and the status may still change once.
SQLite rebuilds ``reports`` in batch mode when a column is dropped, which drops its triggers:
both directions (re)create them after the table is altered.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# As in 0002; the upgrade adds the columns written once at issue.
FROZEN_BEFORE = ("number", "sample_id", "issued_at", "issued_by_id", "sha256", "size",
                 "content", "pdf", "supersedes_id")
FROZEN_AFTER = (*FROZEN_BEFORE, "kind", "amendment_reason")


def _guard_reports(columns: tuple[str, ...]) -> None:
    """Replace the triggers that keep an issued report's record as issued."""
    cols = ", ".join(columns)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS reports_frozen ON reports")
        op.execute(f"""CREATE TRIGGER reports_frozen BEFORE UPDATE OF {cols} ON reports
                       FOR EACH ROW EXECUTE FUNCTION lims_refuse_change('issued report')""")
        return
    op.execute("DROP TRIGGER IF EXISTS reports_frozen")
    op.execute("DROP TRIGGER IF EXISTS reports_no_delete")
    op.execute("""CREATE TRIGGER reports_no_delete BEFORE DELETE ON reports
                  BEGIN SELECT RAISE(ABORT, 'DELETE on reports refused: the record is append-only (issued report)'); END""")
    op.execute(f"""CREATE TRIGGER reports_frozen BEFORE UPDATE OF {cols} ON reports
                   BEGIN SELECT RAISE(ABORT, 'UPDATE on reports refused: the record is append-only (issued report)'); END""")


def upgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=40), nullable=False,
                                      server_default=sa.text("'test_report'")))
        batch_op.add_column(sa.Column("dcc", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("amendment_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("withdrawn_at", lims.db.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("withdrawn_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("withdrawal_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("withdrawal_category", sa.String(length=20),
                                      nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_reports_withdrawn_by_id_users"), "users",
                                    ["withdrawn_by_id"], ["id"])
    op.create_table("report_amendments",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("report_id", sa.Integer(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("requested_by_id", sa.Integer(), nullable=False),
    sa.Column("requested_at", lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column("finished_at", lims.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column("new_report_id", sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(["new_report_id"], ["reports.id"], name=op.f("fk_report_amendments_new_report_id_reports")),
    sa.ForeignKeyConstraint(["report_id"], ["reports.id"], name=op.f("fk_report_amendments_report_id_reports")),
    sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"], name=op.f("fk_report_amendments_requested_by_id_users")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_report_amendments"))
    )
    with op.batch_alter_table("report_amendments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_amendments_report_id"), ["report_id"],
                              unique=False)
        batch_op.create_index("uq_report_amendments_open", ["report_id"], unique=True,
                              sqlite_where=sa.text("finished_at IS NULL"),
                              postgresql_where=sa.text("finished_at IS NULL"))
    _guard_reports(FROZEN_AFTER)


def downgrade() -> None:
    # The old guard first: PostgreSQL will not drop a column a trigger names.
    _guard_reports(FROZEN_BEFORE)
    with op.batch_alter_table("report_amendments", schema=None) as batch_op:
        batch_op.drop_index("uq_report_amendments_open",
                            sqlite_where=sa.text("finished_at IS NULL"),
                            postgresql_where=sa.text("finished_at IS NULL"))
        batch_op.drop_index(batch_op.f("ix_report_amendments_report_id"))
    op.drop_table("report_amendments")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_reports_withdrawn_by_id_users"),
                                 type_="foreignkey")
        batch_op.drop_column("withdrawal_category")
        batch_op.drop_column("withdrawal_reason")
        batch_op.drop_column("withdrawn_by_id")
        batch_op.drop_column("withdrawn_at")
        batch_op.drop_column("amendment_reason")
        batch_op.drop_column("dcc")
        batch_op.drop_column("kind")
    # SQLite rebuilt the table (copy, drop, rename), losing its triggers: put them back.
    _guard_reports(FROZEN_BEFORE)
