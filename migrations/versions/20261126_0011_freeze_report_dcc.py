"""Freeze a certificate's DCC once it is stored (ISO/IEC 17025 7.5, 7.8.8; issue 10 review).

Migration 0008 added ``reports.dcc`` but left it outside the append-only guard "for later
wiring". It is now written once, at issue, beside the signed PDF that embeds it, and it is
what ``/api/v1/reports/<n>/dcc`` and ``lims report export-dcc`` hand out: a later rewrite of it
would be a change of an issued record, so it joins ``pdf`` in the guard. (``stored_dcc``
still compares it with the copy inside the signed PDF; the guard stops the change at the
database instead of at the next read.)

Only the trigger changes; the table is not rebuilt, so SQLite keeps ``reports_no_delete``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# As left by 0008, and with the DCC.
FROZEN_BEFORE = ("number", "sample_id", "issued_at", "issued_by_id", "sha256", "size",
                 "content", "pdf", "supersedes_id", "kind", "amendment_reason")
FROZEN_AFTER = (*FROZEN_BEFORE, "dcc")


def _guard_reports(columns: tuple[str, ...]) -> None:
    cols = ", ".join(columns)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS reports_frozen ON reports")
        op.execute(f"""CREATE TRIGGER reports_frozen BEFORE UPDATE OF {cols} ON reports
                       FOR EACH ROW EXECUTE FUNCTION lims_refuse_change('issued report')""")
        return
    op.execute("DROP TRIGGER IF EXISTS reports_frozen")
    op.execute(f"""CREATE TRIGGER reports_frozen BEFORE UPDATE OF {cols} ON reports
                   BEGIN SELECT RAISE(ABORT, 'UPDATE on reports refused: the record is append-only (issued report)'); END""")


def upgrade() -> None:
    _guard_reports(FROZEN_AFTER)


def downgrade() -> None:
    _guard_reports(FROZEN_BEFORE)
