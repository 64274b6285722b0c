"""Guard audit events and issued reports against UPDATE and DELETE

The application never rewrites these records; the triggers stop an application bug or a
careless hand-written statement from doing so (21 CFR 11.10(e), ISO/IEC 17025 8.4). They do
not stop a database owner, who can drop them: the audit hash chain is what detects that
(`lims audit verify`). A report's status may still change (issued -> superseded/withdrawn);
what it said, its file and its hash may not.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FROZEN_REPORT_COLUMNS = ("number", "sample_id", "issued_at", "issued_by_id", "sha256", "size",
                         "content", "pdf", "supersedes_id")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION lims_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% on % refused: the record is append-only (%)',
                    TG_OP, TG_TABLE_NAME, TG_ARGV[0];
            END $$""")
        op.execute("""CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE
                      ON audit_events FOR EACH ROW
                      EXECUTE FUNCTION lims_refuse_change('audit trail')""")
        op.execute("""CREATE TRIGGER reports_no_delete BEFORE DELETE ON reports
                      FOR EACH ROW EXECUTE FUNCTION lims_refuse_change('issued report')""")
        cols = ", ".join(FROZEN_REPORT_COLUMNS)
        op.execute(f"""CREATE TRIGGER reports_frozen BEFORE UPDATE OF {cols} ON reports
                       FOR EACH ROW EXECUTE FUNCTION lims_refuse_change('issued report')""")
        return
    op.execute("""CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
                  BEGIN SELECT RAISE(ABORT, 'UPDATE on audit_events refused: the record is append-only (audit trail)'); END""")
    op.execute("""CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
                  BEGIN SELECT RAISE(ABORT, 'DELETE on audit_events refused: the record is append-only (audit trail)'); END""")
    op.execute("""CREATE TRIGGER reports_no_delete BEFORE DELETE ON reports
                  BEGIN SELECT RAISE(ABORT, 'DELETE on reports refused: the record is append-only (issued report)'); END""")
    cols = ", ".join(FROZEN_REPORT_COLUMNS)
    op.execute(f"""CREATE TRIGGER reports_frozen BEFORE UPDATE OF {cols} ON reports
                   BEGIN SELECT RAISE(ABORT, 'UPDATE on reports refused: the record is append-only (issued report)'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER reports_frozen ON reports")
        op.execute("DROP TRIGGER reports_no_delete ON reports")
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION lims_refuse_change()")
        return
    for name in ("reports_frozen", "reports_no_delete", "audit_events_no_delete",
                 "audit_events_no_update"):
        op.execute(f"DROP TRIGGER {name}")
