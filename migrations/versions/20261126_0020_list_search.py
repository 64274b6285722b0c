"""Substring search of the lists by index (issue 11 §6, make bench: 200,000 samples).

The lists find a sample or a request by any part of its number or description (ILIKE
'%q%'), which no B-tree serves. PostgreSQL: trigram GIN indexes (pg_trgm), which ILIKE uses
directly. SQLite: FTS5 tables with the trigram tokenizer over the same columns, kept in step
with their tables by triggers, searched by a phrase (a substring of three characters or more).

A later batch_alter_table of samples or test_requests on SQLite rebuilds the table and drops
its triggers: such a migration must create them again (:func:`sqlite_triggers`);
tests/functional/test_list_search.py fails when they are missing.

Revision ID: 0020
Revises: 0022
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0022"
branch_labels = None
depends_on = None

# table -> its searched columns (the same in lims.web.listing.SEARCHED)
SEARCHED = {"samples": ("number", "description"),
            "test_requests": ("number", "description")}


def sqlite_triggers(table: str) -> list[str]:
    """The statements that keep ``<table>_search`` in step with ``table`` (external content
    FTS5 table: SQLite documentation, "External Content Tables")."""
    cols = SEARCHED[table]
    names, new, old = ", ".join(cols), ", ".join(f"new.{c}" for c in cols), \
        ", ".join(f"old.{c}" for c in cols)
    fts = f"{table}_search"
    # Names are this module's constants, never input.
    delete = f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old});"  # noqa: S608
    insert = f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new});"  # noqa: S608
    return [
        f"CREATE TRIGGER {table}_search_ai AFTER INSERT ON {table} BEGIN {insert} END",
        f"CREATE TRIGGER {table}_search_ad AFTER DELETE ON {table} BEGIN {delete} END",
        f"CREATE TRIGGER {table}_search_au AFTER UPDATE OF {names} ON {table} "
        f"BEGIN {delete} {insert} END",
    ]


def upgrade() -> None:
    # The list's default order is (registered_at, id): one index walks a deep page without a
    # sort of the ties; the one on registered_at alone is its prefix, so it goes.
    with op.batch_alter_table("samples") as batch:
        batch.create_index("ix_samples_registered_at_id", ["registered_at", "id"], unique=False)
        batch.drop_index("ix_samples_registered_at")
    if op.get_context().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table, cols in SEARCHED.items():
            for col in cols:
                op.create_index(f"ix_{table}_{col}_trgm", table, [col],
                                postgresql_using="gin", postgresql_ops={col: "gin_trgm_ops"})
        return
    for table, cols in SEARCHED.items():
        fts = f"{table}_search"
        op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5({', '.join(cols)}, "
                   f"content='{table}', content_rowid='id', tokenize='trigram')")
        op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")  # noqa: S608 - constants
        for statement in sqlite_triggers(table):
            op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table, cols in SEARCHED.items():
            for col in cols:
                op.drop_index(f"ix_{table}_{col}_trgm", table_name=table)
        # The extension stays: other databases' objects or a DBA may use it.
    else:
        for table in SEARCHED:
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_search_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {table}_search")
    with op.batch_alter_table("samples") as batch:
        batch.create_index("ix_samples_registered_at", ["registered_at"], unique=False)
        batch.drop_index("ix_samples_registered_at_id")
