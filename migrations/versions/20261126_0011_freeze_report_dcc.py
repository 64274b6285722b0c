"""Freeze a certificate's DCC once it is stored, and a withdrawn or superseded document's
status and withdrawal (ISO/IEC 17025 7.5, 7.8.8; issue 10 review).

Migration 0008 added ``reports.dcc`` but left it outside the append-only guard "for later
wiring". It is now written once, at issue, beside the signed PDF that embeds it, and it is
what ``/api/v1/reports/<n>/dcc`` and ``lims report export-dcc`` hand out: a later rewrite of it
would be a change of an issued record, so it joins ``pdf`` in the guard. (``stored_dcc``
still compares it with the copy inside the signed PDF; the guard stops the change at the
database instead of at the next read.)

The status and the withdrawal columns change once after issue (issued → superseded or
withdrawn, with who, when, why and the category); superseded and withdrawn are final
(lims.reports.amend). ``reports_final`` refuses any later change of them, so who withdrew a
certificate and why cannot be rewritten after the fact.

Only triggers change; the table is not rebuilt, so SQLite keeps ``reports_no_delete``.

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


FINAL = ("status", "withdrawn_at", "withdrawn_by_id", "withdrawal_reason",
         "withdrawal_category")
FINAL_WHEN = "OLD.status IN ('superseded', 'withdrawn')"


def upgrade() -> None:
    _guard_reports(FROZEN_AFTER)
    cols = ", ".join(FINAL)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""CREATE TRIGGER reports_final BEFORE UPDATE OF {cols} ON reports
                       FOR EACH ROW WHEN ({FINAL_WHEN})
                       EXECUTE FUNCTION lims_refuse_change('superseded or withdrawn report')""")
    else:
        op.execute(f"""CREATE TRIGGER reports_final BEFORE UPDATE OF {cols} ON reports
                       WHEN {FINAL_WHEN}
                       BEGIN SELECT RAISE(ABORT, 'UPDATE on reports refused: the record is append-only (superseded or withdrawn report)'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS reports_final ON reports")
    else:
        op.execute("DROP TRIGGER IF EXISTS reports_final")
    _guard_reports(FROZEN_BEFORE)
