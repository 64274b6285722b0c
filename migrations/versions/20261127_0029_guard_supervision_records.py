"""Guard the supervision side's records against UPDATE and DELETE (issue 13; as migrations
0002 and 0011 guard the audit trail and issued reports).

* ``random_draws``: the seed and the pools an auditor replays a draw from;
* ``sampling_attachments``: the photos and scans of a sampling record, with their SHA-256;
* ``white_papers``: an issued white paper, its figures and its signed PDF;
* ``result_notices``: never deleted; what a notice says, its signed PDF and its hash never
  change; its delivery (day, deadline, who recorded it) is written once. Its time of issue is
  fixed by the signature's time-stamp inside the frozen PDF and by its audit event.

The application never rewrites these rows; the triggers stop a bug or a careless statement
from doing so. A database owner can drop them: the audit hash chain detects that.

Revision ID: 0029
Revises: 0028
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

APPEND_ONLY = {"random_draws": "random draw", "sampling_attachments": "sampling attachment",
               "white_papers": "white paper"}
NOTICE = "result notice"
NOTICE_FROZEN = ("number", "sample_id", "report_id", "objection_rule", "issued_by_id",
                 "sha256", "size", "content", "pdf")
DELIVERY = ("delivered_on", "objection_deadline", "delivery_recorded_by_id")


def _sqlite_refuse(name: str, when: str, table: str, what: str, columns: str = "") -> str:
    of = f" OF {columns}" if columns else ""
    return (f"CREATE TRIGGER {name} BEFORE {when}{of} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{when} on {table} refused: the record is append-only "
            f"({what})'); END")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, what in APPEND_ONLY.items():
        if postgres:
            op.execute(f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                           FOR EACH ROW EXECUTE FUNCTION lims_refuse_change('{what}')""")
        else:
            op.execute(_sqlite_refuse(f"{table}_no_update", "UPDATE", table, what))
            op.execute(_sqlite_refuse(f"{table}_no_delete", "DELETE", table, what))
    frozen, delivery = ", ".join(NOTICE_FROZEN), ", ".join(DELIVERY)
    if postgres:
        op.execute(f"""CREATE TRIGGER result_notices_no_delete BEFORE DELETE ON result_notices
                       FOR EACH ROW EXECUTE FUNCTION lims_refuse_change('{NOTICE}')""")
        op.execute(f"""CREATE TRIGGER result_notices_frozen BEFORE UPDATE OF {frozen}
                       ON result_notices FOR EACH ROW
                       EXECUTE FUNCTION lims_refuse_change('{NOTICE}')""")
        op.execute(f"""CREATE TRIGGER result_notices_delivered BEFORE UPDATE OF {delivery}
                       ON result_notices FOR EACH ROW WHEN (OLD.delivered_on IS NOT NULL)
                       EXECUTE FUNCTION lims_refuse_change('delivered {NOTICE}')""")
        return
    op.execute(_sqlite_refuse("result_notices_no_delete", "DELETE", "result_notices", NOTICE))
    op.execute(_sqlite_refuse("result_notices_frozen", "UPDATE", "result_notices", NOTICE,
                              frozen))
    op.execute(f"""CREATE TRIGGER result_notices_delivered BEFORE UPDATE OF {delivery}
                   ON result_notices WHEN OLD.delivered_on IS NOT NULL
                   BEGIN SELECT RAISE(ABORT, 'UPDATE on result_notices refused: the record is append-only (delivered {NOTICE})'); END""")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    names = [("result_notices", n) for n in ("result_notices_delivered",
                                             "result_notices_frozen",
                                             "result_notices_no_delete")]
    for table in APPEND_ONLY:
        names += ([(table, f"{table}_append_only")] if postgres else
                  [(table, f"{table}_no_update"), (table, f"{table}_no_delete")])
    for table, name in names:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgres else ""))
