"""Every foreign key has an index that leads with its columns (issue 14), except the columns
that record who did something: users are never deleted (only disabled), so nothing looks
those rows up from the user's side, and the audit trail filters by the actor's name, which has
its own index."""

from __future__ import annotations

import lims.models  # noqa: F401 - every table in the metadata
from lims.db import Model

# Who did it: a user, kept on the record; never followed from the user's side.
PERSON = ("_by_id", "actor_id", "author_id")


def _leading(table) -> set[tuple[str, ...]]:
    """Every column tuple some index or key of ``table`` starts with."""
    keys = [[c.name for c in ix.columns] for ix in table.indexes]
    keys += [[c.name for c in con.columns] for con in table.constraints
             if con.__class__.__name__ in ("UniqueConstraint", "PrimaryKeyConstraint")]
    return {tuple(cols[:i]) for cols in keys for i in range(1, len(cols) + 1)}


def test_every_foreign_key_is_indexed():
    missing = []
    for table in Model.metadata.sorted_tables:
        leading = _leading(table)
        for fk in table.foreign_key_constraints:
            cols = tuple(c.name for c in fk.columns)
            if cols in leading or (fk.referred_table.name == "users" and len(cols) == 1
                                   and cols[0].endswith(PERSON)):
                continue
            missing.append(f"{table.name}.{', '.join(cols)} -> {fk.referred_table.name}")
    assert missing == []
