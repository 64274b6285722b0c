"""The supervision side (issue 13): regions, enterprises, plans, draws, sampling, backup
samples, result notices, objections, the working-day calendar and white papers; a report's
outcome as issued; a re-inspection names the sample it re-inspects.

``reports.outcome`` is the conclusion a test report stated when it was issued, so it joins the
append-only guard of migration 0011. Reports issued before it get the outcome their current
verdicts give (a person's decision over the rule's), which is what they printed.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.db

FROZEN_BEFORE = ("number", "sample_id", "issued_at", "issued_by_id", "sha256", "size",
                 "content", "pdf", "supersedes_id", "kind", "amendment_reason", "dcc")
FROZEN_AFTER = (*FROZEN_BEFORE, "outcome")

_VERDICT = """COALESCE((SELECT d.conformity FROM conformity_decisions d WHERE d.result_id = r.id),
                        r.conformity)"""


def _any(verdicts: str) -> str:
    return f"""EXISTS (SELECT 1 FROM results r JOIN sample_tests t ON t.id = r.test_id
                       WHERE t.sample_id = reports.sample_id AND r.is_current
                       AND {_VERDICT} IN ({verdicts}))"""  # noqa: S608 - constants


BACKFILL = f"""UPDATE reports SET outcome = CASE
    WHEN {_any("'fail'")} THEN 'nonconforming'
    WHEN {_any("'conditional fail'")} THEN 'conditionally nonconforming'
    WHEN {_any("'undecided'")} THEN 'pending'
    WHEN {_any("'conditional pass'")} THEN 'conditionally conforming'
    WHEN {_any("'pass'")} THEN 'conforming'
    ELSE 'data only' END
  WHERE kind = 'test_report'"""  # noqa: S608 - constants


def _restore_search_triggers() -> None:
    """batch_alter_table rebuilt samples on SQLite, which drops the list search's triggers:
    create them again with migration 0020's own statements."""
    from alembic import context
    from alembic.script import ScriptDirectory

    search = ScriptDirectory.from_config(context.config).get_revision("0020")
    assert search is not None  # noqa: S101 - an earlier revision of this chain
    for statement in search.module.sqlite_triggers("samples"):
        op.execute(statement)


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

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('regions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name_zh', sa.String(length=120), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('level', sa.String(length=20), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['regions.id'], name=op.f('fk_regions_parent_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regions')),
    sa.UniqueConstraint('code', name=op.f('uq_regions_code'))
    )
    with op.batch_alter_table('regions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_regions_parent_id'), ['parent_id'], unique=False)

    op.create_table('working_day_overrides',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('working', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_working_day_overrides'))
    )
    op.create_table('enterprises',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('size', sa.String(length=10), nullable=False),
    sa.Column('created_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired_at', lims.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['category_id'], ['product_categories.id'], name=op.f('fk_enterprises_category_id_product_categories')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_enterprises_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprises')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_enterprises_credit_code'))
    )
    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprises_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprises_region_id'), ['region_id'], unique=False)

    op.create_table('sampling_inspectors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('qualification', sa.String(length=80), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sampling_inspectors_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sampling_inspectors')),
    sa.UniqueConstraint('user_id', name=op.f('uq_sampling_inspectors_user_id'))
    )
    op.create_table('spot_check_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('authority', sa.String(length=200), nullable=False),
    sa.Column('sampling_method', sa.Text(), nullable=False),
    sa.Column('budget_samples', sa.Integer(), nullable=False),
    sa.Column('exclusion_months', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_spot_check_plans_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spot_check_plans')),
    sa.UniqueConstraint('number', name=op.f('uq_spot_check_plans_number'))
    )
    with op.batch_alter_table('spot_check_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spot_check_plans_year'), ['year'], unique=False)

    op.create_table('white_papers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('issued_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('figures', sa.Text(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_white_papers_issued_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_white_papers'))
    )
    with op.batch_alter_table('white_papers', schema=None) as batch_op:
        batch_op.create_index('ix_white_papers_year_issued_at', ['year', 'issued_at'], unique=False)

    op.create_table('plan_categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('product_standard', sa.String(length=300), nullable=False),
    sa.Column('method_codes', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['product_categories.id'], name=op.f('fk_plan_categories_category_id_product_categories')),
    sa.ForeignKeyConstraint(['plan_id'], ['spot_check_plans.id'], name=op.f('fk_plan_categories_plan_id_spot_check_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_categories')),
    sa.UniqueConstraint('plan_id', 'category_id', name=op.f('uq_plan_categories_plan_id'))
    )
    with op.batch_alter_table('plan_categories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_categories_category_id'), ['category_id'], unique=False)

    op.create_table('plan_quotas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('quota', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['product_categories.id'], name=op.f('fk_plan_quotas_category_id_product_categories')),
    sa.ForeignKeyConstraint(['plan_id'], ['spot_check_plans.id'], name=op.f('fk_plan_quotas_plan_id_spot_check_plans')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_plan_quotas_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_quotas')),
    sa.UniqueConstraint('plan_id', 'category_id', 'region_id', name=op.f('uq_plan_quotas_plan_id'))
    )
    with op.batch_alter_table('plan_quotas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_quotas_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_plan_quotas_region_id'), ['region_id'], unique=False)

    op.create_table('random_draws',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('seed', sa.String(length=64), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('exclusion_months', sa.Integer(), nullable=False),
    sa.Column('enterprise_pool', sa.Text(), nullable=False),
    sa.Column('inspector_pool', sa.Text(), nullable=False),
    sa.Column('drawn_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('drawn_by_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['product_categories.id'], name=op.f('fk_random_draws_category_id_product_categories')),
    sa.ForeignKeyConstraint(['drawn_by_id'], ['users.id'], name=op.f('fk_random_draws_drawn_by_id_users')),
    sa.ForeignKeyConstraint(['plan_id'], ['spot_check_plans.id'], name=op.f('fk_random_draws_plan_id_spot_check_plans')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_random_draws_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_random_draws'))
    )
    with op.batch_alter_table('random_draws', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_random_draws_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_random_draws_plan_id'), ['plan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_random_draws_region_id'), ['region_id'], unique=False)

    op.create_table('sampling_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('draw_id', sa.Integer(), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('inspector1_id', sa.Integer(), nullable=False),
    sa.Column('inspector2_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('created_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['product_categories.id'], name=op.f('fk_sampling_tasks_category_id_product_categories')),
    sa.ForeignKeyConstraint(['draw_id'], ['random_draws.id'], name=op.f('fk_sampling_tasks_draw_id_random_draws')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_sampling_tasks_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['inspector1_id'], ['users.id'], name=op.f('fk_sampling_tasks_inspector1_id_users')),
    sa.ForeignKeyConstraint(['inspector2_id'], ['users.id'], name=op.f('fk_sampling_tasks_inspector2_id_users')),
    sa.ForeignKeyConstraint(['plan_id'], ['spot_check_plans.id'], name=op.f('fk_sampling_tasks_plan_id_spot_check_plans')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_sampling_tasks_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sampling_tasks')),
    sa.UniqueConstraint('number', name=op.f('uq_sampling_tasks_number'))
    )
    with op.batch_alter_table('sampling_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sampling_tasks_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sampling_tasks_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sampling_tasks_draw_id'), ['draw_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sampling_tasks_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sampling_tasks_inspector1_id'), ['inspector1_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sampling_tasks_inspector2_id'), ['inspector2_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sampling_tasks_plan_id'), ['plan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sampling_tasks_region_id'), ['region_id'], unique=False)

    op.create_table('sampling_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('site', sa.String(length=300), nullable=False),
    sa.Column('sampled_on', sa.Date(), nullable=False),
    sa.Column('product_name', sa.String(length=200), nullable=False),
    sa.Column('trademark', sa.String(length=120), nullable=False),
    sa.Column('model', sa.String(length=120), nullable=False),
    sa.Column('batch', sa.String(length=120), nullable=False),
    sa.Column('manufacturer', sa.String(length=200), nullable=False),
    sa.Column('base_quantity', sa.String(length=120), nullable=False),
    sa.Column('sample_quantity', sa.String(length=120), nullable=False),
    sa.Column('test_seal', sa.String(length=60), nullable=False),
    sa.Column('backup_seal', sa.String(length=60), nullable=False),
    sa.Column('representative', sa.String(length=120), nullable=False),
    sa.Column('representative_confirmed_at', lims.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('sample_id', sa.Integer(), nullable=True),
    sa.Column('seal_checked_at', lims.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('seal_intact', sa.Boolean(), nullable=True),
    sa.Column('seal_note', sa.Text(), nullable=True),
    sa.Column('created_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_sampling_records_created_by_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['test_requests.id'], name=op.f('fk_sampling_records_request_id_test_requests')),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('fk_sampling_records_sample_id_samples')),
    sa.ForeignKeyConstraint(['task_id'], ['sampling_tasks.id'], name=op.f('fk_sampling_records_task_id_sampling_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sampling_records')),
    sa.UniqueConstraint('number', name=op.f('uq_sampling_records_number')),
    sa.UniqueConstraint('task_id', name=op.f('uq_sampling_records_task_id'))
    )
    with op.batch_alter_table('sampling_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sampling_records_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sampling_records_sample_id'), ['sample_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sampling_records_sampled_on'), ['sampled_on'], unique=False)

    op.create_table('backup_samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('seal_number', sa.String(length=60), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=False),
    sa.Column('retain_until', sa.Date(), nullable=False),
    sa.Column('disposed_at', lims.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('disposed_by_id', sa.Integer(), nullable=True),
    sa.Column('disposal_method', sa.String(length=200), nullable=True),
    sa.Column('used_for_sample_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['disposed_by_id'], ['users.id'], name=op.f('fk_backup_samples_disposed_by_id_users')),
    sa.ForeignKeyConstraint(['record_id'], ['sampling_records.id'], name=op.f('fk_backup_samples_record_id_sampling_records')),
    sa.ForeignKeyConstraint(['used_for_sample_id'], ['samples.id'], name=op.f('fk_backup_samples_used_for_sample_id_samples')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backup_samples')),
    sa.UniqueConstraint('record_id', name=op.f('uq_backup_samples_record_id'))
    )
    with op.batch_alter_table('backup_samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_backup_samples_retain_until'), ['retain_until'], unique=False)
        batch_op.create_index(batch_op.f('ix_backup_samples_used_for_sample_id'), ['used_for_sample_id'], unique=False)

    op.create_table('result_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('objection_rule', sa.String(length=20), nullable=False),
    sa.Column('issued_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.Column('delivered_on', sa.Date(), nullable=True),
    sa.Column('delivery_recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('objection_deadline', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['delivery_recorded_by_id'], ['users.id'], name=op.f('fk_result_notices_delivery_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_result_notices_issued_by_id_users')),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_result_notices_report_id_reports')),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('fk_result_notices_sample_id_samples')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_result_notices')),
    sa.UniqueConstraint('number', name=op.f('uq_result_notices_number'))
    )
    with op.batch_alter_table('result_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_result_notices_objection_deadline'), ['objection_deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_result_notices_report_id'), ['report_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_result_notices_sample_id'), ['sample_id'], unique=False)

    op.create_table('sampling_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=True),
    sa.Column('uploaded_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['sampling_records.id'], name=op.f('fk_sampling_attachments_record_id_sampling_records')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_sampling_attachments_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sampling_attachments'))
    )
    with op.batch_alter_table('sampling_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sampling_attachments_record_id'), ['record_id'], unique=False)

    op.create_table('objections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('applicant', sa.String(length=200), nullable=False),
    sa.Column('grounds', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('decided_at', lims.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('reinspection_sample_id', sa.Integer(), nullable=True),
    sa.Column('created_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_objections_created_by_id_users')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_objections_decided_by_id_users')),
    sa.ForeignKeyConstraint(['notice_id'], ['result_notices.id'], name=op.f('fk_objections_notice_id_result_notices')),
    sa.ForeignKeyConstraint(['reinspection_sample_id'], ['samples.id'], name=op.f('fk_objections_reinspection_sample_id_samples')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_objections'))
    )
    with op.batch_alter_table('objections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_objections_notice_id'), ['notice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_objections_reinspection_sample_id'), ['reinspection_sample_id'], unique=False)

    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.String(length=30), nullable=True))
    op.execute(BACKFILL)
    _guard_reports(FROZEN_AFTER)

    # Not batch_alter_table: on SQLite that rebuilds samples and drops the list search's
    # triggers (migration 0020). SQLite adds a column with its REFERENCES clause in place.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE samples ADD COLUMN reinspection_of_id INTEGER "
                   "CONSTRAINT fk_samples_reinspection_of_id_samples REFERENCES samples (id)")
    else:
        op.add_column('samples', sa.Column('reinspection_of_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_samples_reinspection_of_id_samples'), 'samples',
                              'samples', ['reinspection_of_id'], ['id'])
    op.create_index(op.f('ix_samples_reinspection_of_id'), 'samples', ['reinspection_of_id'],
                    unique=False)



def downgrade() -> None:
    op.drop_index(op.f('ix_samples_reinspection_of_id'), table_name='samples')
    # The column's foreign key goes with it (SQLite reflects no name for a constraint added
    # with the column, so it cannot be dropped by name).
    with op.batch_alter_table('samples', schema=None) as batch_op:
        batch_op.drop_column('reinspection_of_id')
    if op.get_bind().dialect.name == "sqlite":
        _restore_search_triggers()

    _guard_reports(FROZEN_BEFORE)
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('outcome')

    with op.batch_alter_table('objections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_objections_reinspection_sample_id'))
        batch_op.drop_index(batch_op.f('ix_objections_notice_id'))

    op.drop_table('objections')
    with op.batch_alter_table('sampling_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sampling_attachments_record_id'))

    op.drop_table('sampling_attachments')
    with op.batch_alter_table('result_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_result_notices_sample_id'))
        batch_op.drop_index(batch_op.f('ix_result_notices_report_id'))
        batch_op.drop_index(batch_op.f('ix_result_notices_objection_deadline'))

    op.drop_table('result_notices')
    with op.batch_alter_table('backup_samples', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_backup_samples_used_for_sample_id'))
        batch_op.drop_index(batch_op.f('ix_backup_samples_retain_until'))

    op.drop_table('backup_samples')
    with op.batch_alter_table('sampling_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sampling_records_sampled_on'))
        batch_op.drop_index(batch_op.f('ix_sampling_records_sample_id'))
        batch_op.drop_index(batch_op.f('ix_sampling_records_request_id'))

    op.drop_table('sampling_records')
    with op.batch_alter_table('sampling_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sampling_tasks_region_id'))
        batch_op.drop_index(batch_op.f('ix_sampling_tasks_plan_id'))
        batch_op.drop_index(batch_op.f('ix_sampling_tasks_inspector2_id'))
        batch_op.drop_index(batch_op.f('ix_sampling_tasks_inspector1_id'))
        batch_op.drop_index(batch_op.f('ix_sampling_tasks_enterprise_id'))
        batch_op.drop_index(batch_op.f('ix_sampling_tasks_draw_id'))
        batch_op.drop_index(batch_op.f('ix_sampling_tasks_created_at'))
        batch_op.drop_index(batch_op.f('ix_sampling_tasks_category_id'))

    op.drop_table('sampling_tasks')
    with op.batch_alter_table('random_draws', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_random_draws_region_id'))
        batch_op.drop_index(batch_op.f('ix_random_draws_plan_id'))
        batch_op.drop_index(batch_op.f('ix_random_draws_category_id'))

    op.drop_table('random_draws')
    with op.batch_alter_table('plan_quotas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_quotas_region_id'))
        batch_op.drop_index(batch_op.f('ix_plan_quotas_category_id'))

    op.drop_table('plan_quotas')
    with op.batch_alter_table('plan_categories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_categories_category_id'))

    op.drop_table('plan_categories')
    with op.batch_alter_table('white_papers', schema=None) as batch_op:
        batch_op.drop_index('ix_white_papers_year_issued_at')

    op.drop_table('white_papers')
    with op.batch_alter_table('spot_check_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spot_check_plans_year'))

    op.drop_table('spot_check_plans')
    op.drop_table('sampling_inspectors')
    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enterprises_region_id'))
        batch_op.drop_index(batch_op.f('ix_enterprises_category_id'))

    op.drop_table('enterprises')
    op.drop_table('working_day_overrides')
    with op.batch_alter_table('regions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_regions_parent_id'))

    op.drop_table('regions')
