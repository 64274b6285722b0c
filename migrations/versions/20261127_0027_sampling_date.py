"""The day each sample was taken, which the pass-rate statistics count it on (issue 13 §4).

``samples.sampled_on`` is the sampling record's date for a sample the lab took (抽样日期), and
for a delivered one the day the lab registered it (in the lab's zone): a spot check sampled in
December and received in January belongs to December's year. A re-inspection takes the date of
the sample it re-inspects (its backup was taken then). The services always set it.

Existing rows are filled from their sampling record, else from the registration instant in
Asia/Shanghai (the default ``LIMS_TIMEZONE``; the migration does not read the settings).

``ix_samples_original_sampled`` serves the statistics' query for a year's original samples
(``reinspection_of_id IS NULL``), which otherwise reads every original sample of every year
(make bench, bench/passrates.py). Plain ``add_column``/``create_index``: on SQLite a
batch_alter_table would rebuild samples and drop the list search's triggers (migration 0020).

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

FROM_RECORD = "(SELECT r.sampled_on FROM sampling_records r WHERE r.sample_id = samples.id)"
ORIGINAL = "(SELECT o.sampled_on FROM samples o WHERE o.id = samples.reinspection_of_id)"


def upgrade() -> None:
    op.add_column("samples", sa.Column("sampled_on", sa.Date(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        registered = "CAST(registered_at AT TIME ZONE 'Asia/Shanghai' AS DATE)"
    else:
        registered = "date(registered_at, '+8 hours')"
    op.execute(f"UPDATE samples SET sampled_on = COALESCE({FROM_RECORD}, {registered})")  # noqa: S608 - constants
    op.execute(f"UPDATE samples SET sampled_on = {ORIGINAL} "  # noqa: S608 - constants
               "WHERE reinspection_of_id IS NOT NULL")
    op.create_index("ix_samples_original_sampled", "samples",
                    ["reinspection_of_id", "sampled_on"])


def downgrade() -> None:
    op.drop_index("ix_samples_original_sampled", table_name="samples")
    op.drop_column("samples", "sampled_on")
