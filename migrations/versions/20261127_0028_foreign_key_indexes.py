"""Index the foreign keys that pages and services follow from the referenced side (issue 14:
a test lists every foreign key without an index, tests/unit/test_schema_indexes.py).

Without them a method's characteristics, a characteristic's results, a result's corrections
and review comments, a report's replacement, a reading's results and a user's tokens are each
found by a full scan, which grows with the data. Plain ``create_index``: on SQLite a
batch_alter_table could rebuild a table and drop its triggers (migrations 0002, 0020).

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

INDEXED = (("agent_instruments", "instrument_id"), ("api_tokens", "user_id"),
           ("calibration_readings", "replaces_id"), ("characteristics", "method_id"),
           ("report_amendments", "new_report_id"), ("reports", "supersedes_id"),
           ("results", "characteristic_id"), ("results", "reading_id"),
           ("results", "replaces_id"), ("review_comments", "result_id"),
           ("scope_item_schemes", "accreditation_id"),
           ("signatory_authorities", "scope_item_id"))


def upgrade() -> None:
    for table, column in INDEXED:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def downgrade() -> None:
    for table, column in reversed(INDEXED):
        op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
