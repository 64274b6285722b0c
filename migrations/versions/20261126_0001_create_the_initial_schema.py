"""Create the initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 07:54:40.386091
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.db

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # APScheduler's job store table, in its own shape (SQLAlchemyJobStore), created here so
    # that migrations stay the only way the schema changes; env.py leaves it out of compare.
    op.create_table('apscheduler_jobs',
    sa.Column('id', sa.Unicode(length=191), nullable=False),
    sa.Column('next_run_time', sa.Float(precision=25), nullable=True),
    sa.Column('job_state', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name='pk_apscheduler_jobs')
    )
    op.create_index('ix_apscheduler_jobs_next_run_time', 'apscheduler_jobs', ['next_run_time'])
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.create_table('customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('contact', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('created_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers'))
    )
    op.create_table('instruments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_number', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('manufacturer', sa.String(length=120), nullable=False),
    sa.Column('model', sa.String(length=120), nullable=False),
    sa.Column('serial_number', sa.String(length=80), nullable=False),
    sa.Column('location', sa.String(length=120), nullable=False),
    sa.Column('driver', sa.String(length=40), nullable=True),
    sa.Column('port', sa.String(length=255), nullable=True),
    sa.Column('port_settings', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('calibrated_on', sa.Date(), nullable=True),
    sa.Column('calibration_due_on', sa.Date(), nullable=False),
    sa.Column('calibration_certificate', sa.String(length=80), nullable=False),
    sa.Column('calibration_flag', sa.String(length=20), nullable=False),
    sa.Column('flagged_at', lims.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instruments')),
    sa.UniqueConstraint('asset_number', name=op.f('uq_instruments_asset_number'))
    )
    op.create_table('number_series',
    sa.Column('series', sa.String(length=80), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('series', name=op.f('pk_number_series'))
    )
    op.create_table('test_methods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=80), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('clause', sa.String(length=80), nullable=False),
    sa.Column('field', sa.String(length=80), nullable=False),
    sa.Column('created_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_test_methods')),
    sa.UniqueConstraint('code', name=op.f('uq_test_methods_code'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=60), nullable=False),
    sa.Column('full_name', sa.String(length=120), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', lims.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=60), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('entity_type', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=60), nullable=False),
    sa.Column('before', sa.Text(), nullable=True),
    sa.Column('after', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_events_actor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    sa.UniqueConstraint('seq', name=op.f('uq_audit_events_seq'))
    )
    op.create_table('characteristics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('method_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('unit', sa.String(length=60), nullable=False),
    sa.Column('lower_limit', sa.String(length=40), nullable=True),
    sa.Column('upper_limit', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['method_id'], ['test_methods.id'], name=op.f('fk_characteristics_method_id_test_methods')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_characteristics'))
    )
    op.create_table('signatory_scopes',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_signatory_scopes_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'scope', name=op.f('pk_signatory_scopes'))
    )
    op.create_table('test_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_test_requests_created_by_id_users')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_test_requests_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_test_requests')),
    sa.UniqueConstraint('number', name=op.f('uq_test_requests_number'))
    )
    op.create_table('user_roles',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=30), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_roles_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'role', name=op.f('pk_user_roles'))
    )
    op.create_table('samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('registered_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('registered_by_id', sa.Integer(), nullable=False),
    sa.Column('received_at', lims.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('received_by_id', sa.Integer(), nullable=True),
    sa.Column('condition_on_receipt', sa.Text(), nullable=True),
    sa.Column('reviewed_at', lims.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', lims.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_samples_approved_by_id_users')),
    sa.ForeignKeyConstraint(['received_by_id'], ['users.id'], name=op.f('fk_samples_received_by_id_users')),
    sa.ForeignKeyConstraint(['registered_by_id'], ['users.id'], name=op.f('fk_samples_registered_by_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['test_requests.id'], name=op.f('fk_samples_request_id_test_requests')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_samples_reviewed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_samples')),
    sa.UniqueConstraint('number', name=op.f('uq_samples_number'))
    )
    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('issued_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_reports_issued_by_id_users')),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('fk_reports_sample_id_samples')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['reports.id'], name=op.f('fk_reports_supersedes_id_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports')),
    sa.UniqueConstraint('number', name=op.f('uq_reports_number'))
    )
    op.create_table('sample_tests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('method_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['method_id'], ['test_methods.id'], name=op.f('fk_sample_tests_method_id_test_methods')),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('fk_sample_tests_sample_id_samples')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sample_tests')),
    sa.UniqueConstraint('sample_id', 'method_id', name=op.f('uq_sample_tests_sample_id'))
    )
    op.create_table('results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('test_id', sa.Integer(), nullable=False),
    sa.Column('characteristic_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.Column('value', sa.String(length=40), nullable=False),
    sa.Column('unit', sa.String(length=60), nullable=False),
    sa.Column('unit_text', sa.String(length=40), nullable=False),
    sa.Column('conformity', sa.String(length=10), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=True),
    sa.Column('instrument_due_on', sa.Date(), nullable=True),
    sa.Column('raw', sa.LargeBinary(), nullable=True),
    sa.Column('measured_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['characteristic_id'], ['characteristics.id'], name=op.f('fk_results_characteristic_id_characteristics')),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_results_instrument_id_instruments')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_results_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['replaces_id'], ['results.id'], name=op.f('fk_results_replaces_id_results')),
    sa.ForeignKeyConstraint(['test_id'], ['sample_tests.id'], name=op.f('fk_results_test_id_sample_tests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_results')),
    sa.UniqueConstraint('test_id', 'characteristic_id', 'version', name=op.f('uq_results_test_id'))
    )


def downgrade() -> None:
    op.drop_table('results')
    op.drop_table('sample_tests')
    op.drop_table('reports')
    op.drop_table('samples')
    op.drop_table('user_roles')
    op.drop_table('test_requests')
    op.drop_table('signatory_scopes')
    op.drop_table('characteristics')
    op.drop_table('audit_events')
    op.drop_table('api_tokens')
    op.drop_table('users')
    op.drop_table('test_methods')
    op.drop_table('number_series')
    op.drop_table('instruments')
    op.drop_table('customers')
    op.drop_table('audit_head')
    op.drop_index('ix_apscheduler_jobs_next_run_time', table_name='apscheduler_jobs')
    op.drop_table('apscheduler_jobs')
