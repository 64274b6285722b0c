"""Calibration records and traceability: providers, records, points, standards, checks, cases

Each instrument's four calibration columns (calibrated on, due on, certificate, and the flag,
which stays) become its first calibration record, from a provider "not recorded" of kind
``other``: the old data never said who calibrated, so a chain through it is honestly
incomplete until the real certificate is recorded. Results measured with an instrument point
to that record. Records, points, standards and checks are guarded against rewriting as audit
events are (migration 0002): only a record's ``status`` and ``is_current`` may change.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

import lims.db
from lims.db import utcnow

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calibration_providers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('accreditation', sa.String(length=80), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('created_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calibration_providers')),
    sa.UniqueConstraint('name', name=op.f('uq_calibration_providers_name'))
    )
    op.create_table('calibration_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('certificate_number', sa.String(length=80), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('calibrated_on', sa.Date(), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('conformity', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=True),
    sa.Column('file_type', sa.String(length=40), nullable=True),
    sa.Column('file_sha256', sa.String(length=64), nullable=True),
    sa.Column('file', sa.LargeBinary(), nullable=True),
    sa.Column('recorded_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_calibration_records_instrument_id_instruments')),
    sa.ForeignKeyConstraint(['provider_id'], ['calibration_providers.id'], name=op.f('fk_calibration_records_provider_id_calibration_providers')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_calibration_records_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['replaces_id'], ['calibration_records.id'], name=op.f('fk_calibration_records_replaces_id_calibration_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calibration_records')),
    sa.UniqueConstraint('instrument_id', 'certificate_number', 'version', name=op.f('uq_calibration_records_instrument_id'))
    )
    with op.batch_alter_table('calibration_records', schema=None) as batch_op:
        batch_op.create_index('ix_calibration_records_instrument_calibrated', ['instrument_id', 'calibrated_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_calibration_records_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calibration_records_recorded_by_id'), ['recorded_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calibration_records_replaces_id'), ['replaces_id'], unique=False)

    op.create_table('instrument_quantities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.String(length=60), nullable=False),
    sa.Column('unit', sa.String(length=40), nullable=False),
    sa.Column('dimension', sa.String(length=120), nullable=False),
    sa.Column('range_min', sa.String(length=40), nullable=True),
    sa.Column('range_max', sa.String(length=40), nullable=True),
    sa.Column('resolution', sa.String(length=40), nullable=True),
    sa.Column('mpe', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_instrument_quantities_instrument_id_instruments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instrument_quantities'))
    )
    with op.batch_alter_table('instrument_quantities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instrument_quantities_instrument_id'), ['instrument_id'], unique=False)

    op.create_table('intermediate_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('check_standard_id', sa.Integer(), nullable=True),
    sa.Column('checked_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('nominal', sa.String(length=40), nullable=False),
    sa.Column('unit', sa.String(length=40), nullable=False),
    sa.Column('readings', sa.JSON(), nullable=False),
    sa.Column('mean', sa.String(length=40), nullable=False),
    sa.Column('deviation', sa.String(length=40), nullable=False),
    sa.Column('limit', sa.String(length=40), nullable=False),
    sa.Column('result', sa.String(length=10), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=True),
    sa.Column('performed_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['check_standard_id'], ['instruments.id'], name=op.f('fk_intermediate_checks_check_standard_id_instruments')),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_intermediate_checks_instrument_id_instruments')),
    sa.ForeignKeyConstraint(['performed_by_id'], ['users.id'], name=op.f('fk_intermediate_checks_performed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intermediate_checks'))
    )
    with op.batch_alter_table('intermediate_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intermediate_checks_check_standard_id'), ['check_standard_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_intermediate_checks_instrument_id'), ['instrument_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_intermediate_checks_performed_by_id'), ['performed_by_id'], unique=False)

    op.create_table('nonconforming_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('from_date', sa.Date(), nullable=False),
    sa.Column('to_date', sa.Date(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', lims.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', lims.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_nonconforming_cases_instrument_id_instruments')),
    sa.ForeignKeyConstraint(['opened_by_id'], ['users.id'], name=op.f('fk_nonconforming_cases_opened_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nonconforming_cases')),
    sa.UniqueConstraint('number', name=op.f('uq_nonconforming_cases_number'))
    )
    with op.batch_alter_table('nonconforming_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nonconforming_cases_instrument_id'), ['instrument_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_nonconforming_cases_opened_by_id'), ['opened_by_id'], unique=False)

    op.create_table('calibration_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('quantity', sa.String(length=120), nullable=False),
    sa.Column('nominal', sa.String(length=40), nullable=True),
    sa.Column('nominal_unit', sa.String(length=60), nullable=True),
    sa.Column('value', sa.String(length=40), nullable=False),
    sa.Column('unit', sa.String(length=60), nullable=False),
    sa.Column('unit_canonical', sa.String(length=120), nullable=False),
    sa.Column('dimension', sa.String(length=120), nullable=False),
    sa.Column('error', sa.String(length=40), nullable=True),
    sa.Column('expanded_uncertainty', sa.String(length=40), nullable=True),
    sa.Column('k', sa.String(length=40), nullable=True),
    sa.Column('coverage_probability', sa.String(length=40), nullable=True),
    sa.Column('conformity', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['record_id'], ['calibration_records.id'], name=op.f('fk_calibration_points_record_id_calibration_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calibration_points'))
    )
    with op.batch_alter_table('calibration_points', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calibration_points_record_id'), ['record_id'], unique=False)

    op.create_table('calibration_standards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('point_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_calibration_standards_instrument_id_instruments')),
    sa.ForeignKeyConstraint(['point_id'], ['calibration_points.id'], name=op.f('fk_calibration_standards_point_id_calibration_points')),
    sa.ForeignKeyConstraint(['record_id'], ['calibration_records.id'], name=op.f('fk_calibration_standards_record_id_calibration_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calibration_standards'))
    )
    with op.batch_alter_table('calibration_standards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calibration_standards_instrument_id'), ['instrument_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calibration_standards_point_id'), ['point_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calibration_standards_record_id'), ['record_id'], unique=False)

    op.create_table('nonconforming_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('evaluation', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('evaluated_by_id', sa.Integer(), nullable=True),
    sa.Column('evaluated_at', lims.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['nonconforming_cases.id'], name=op.f('fk_nonconforming_reports_case_id_nonconforming_cases')),
    sa.ForeignKeyConstraint(['evaluated_by_id'], ['users.id'], name=op.f('fk_nonconforming_reports_evaluated_by_id_users')),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_nonconforming_reports_report_id_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nonconforming_reports')),
    sa.UniqueConstraint('case_id', 'report_id', name=op.f('uq_nonconforming_reports_case_id'))
    )
    with op.batch_alter_table('nonconforming_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nonconforming_reports_evaluated_by_id'), ['evaluated_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_nonconforming_reports_report_id'), ['report_id'], unique=False)

    with op.batch_alter_table('instruments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=20), nullable=False,
                                      server_default='test equipment'))
        batch_op.add_column(sa.Column('accuracy_class', sa.String(length=40), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('status_reason', sa.String(length=500), nullable=False,
                                      server_default=''))
        batch_op.create_index(batch_op.f('ix_instruments_serial_number'), ['serial_number'], unique=False)

    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reports_sample_id'), ['sample_id'], unique=False)

    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calibration_record_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_results_calibration_record_id'), ['calibration_record_id'], unique=False)
        batch_op.create_index('ix_results_instrument_measured', ['instrument_id', 'measured_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_results_calibration_record_id_calibration_records'), 'calibration_records', ['calibration_record_id'], ['id'])

    with op.batch_alter_table('samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_samples_request_id'), ['request_id'], unique=False)

    with op.batch_alter_table('test_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_test_requests_customer_id'), ['customer_id'], unique=False)

    _records_from_columns()
    with op.batch_alter_table('instruments', schema=None) as batch_op:
        batch_op.drop_column('calibrated_on')
        batch_op.drop_column('calibration_certificate')
        batch_op.drop_column('calibration_due_on')
    _guard()


MIGRATED_PROVIDER = "未注明的校准机构 Calibration provider not recorded (migrated)"

providers = sa.table("calibration_providers", sa.column("id", sa.Integer),
                     sa.column("name", sa.String), sa.column("kind", sa.String),
                     sa.column("accreditation", sa.String), sa.column("country", sa.String),
                     sa.column("created_at", lims.db.UTCDateTime()))
records = sa.table("calibration_records", sa.column("id", sa.Integer),
                   sa.column("instrument_id", sa.Integer), sa.column("provider_id", sa.Integer),
                   sa.column("certificate_number", sa.String), sa.column("version", sa.Integer),
                   sa.column("is_current", sa.Boolean), sa.column("calibrated_on", sa.Date),
                   sa.column("valid_until", sa.Date), sa.column("status", sa.String),
                   sa.column("conditions", sa.JSON), sa.column("conformity", sa.Text),
                   sa.column("source", sa.String),
                   sa.column("recorded_at", lims.db.UTCDateTime()))
instruments = sa.table("instruments", sa.column("id", sa.Integer),
                       sa.column("calibrated_on", sa.Date), sa.column("calibration_due_on", sa.Date),
                       sa.column("calibration_certificate", sa.String))
results = sa.table("results", sa.column("instrument_id", sa.Integer),
                   sa.column("calibration_record_id", sa.Integer))


def _records_from_columns() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(instruments.c.id, instruments.c.calibrated_on,
                                  instruments.c.calibration_due_on,
                                  instruments.c.calibration_certificate)).all()
    if not rows:
        return
    now = utcnow()
    conn.execute(providers.insert().values(name=MIGRATED_PROVIDER, kind="other",
                                           accreditation="", country="", created_at=now))
    pid = conn.execute(sa.select(providers.c.id).where(providers.c.name == MIGRATED_PROVIDER)
                       ).scalar_one()
    conn.execute(records.insert(), [
        {"instrument_id": r.id, "provider_id": pid,
         "certificate_number": r.calibration_certificate or "not recorded", "version": 1,
         "is_current": True, "calibrated_on": r.calibrated_on, "valid_until": r.calibration_due_on,
         "status": "valid", "conditions": [], "conformity": "", "source": "migrated",
         "recorded_at": now} for r in rows])
    conn.execute(results.update().where(results.c.instrument_id.is_not(None)).values(
        calibration_record_id=sa.select(records.c.id)
        .where(records.c.instrument_id == results.c.instrument_id).scalar_subquery()))


# Only status and is_current of a record may change after insert.
FROZEN_RECORD_COLUMNS = ("instrument_id", "provider_id", "certificate_number", "version",
                         "replaces_id", "reason", "calibrated_on", "valid_until", "conditions",
                         "conformity", "source", "file_name", "file_type", "file_sha256", "file",
                         "recorded_at", "recorded_by_id")
APPEND_ONLY = ("calibration_points", "calibration_standards", "intermediate_checks")


def _guard() -> None:
    cols = ", ".join(FROZEN_RECORD_COLUMNS)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""CREATE TRIGGER calibration_records_no_delete BEFORE DELETE
                      ON calibration_records FOR EACH ROW
                      EXECUTE FUNCTION lims_refuse_change('calibration record')""")
        op.execute(f"""CREATE TRIGGER calibration_records_frozen BEFORE UPDATE OF {cols}
                       ON calibration_records FOR EACH ROW
                       EXECUTE FUNCTION lims_refuse_change('calibration record')""")
        for table in APPEND_ONLY:
            op.execute(f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                           FOR EACH ROW EXECUTE FUNCTION lims_refuse_change('{table}')""")
        return
    refuse = "SELECT RAISE(ABORT, '{op} on {table} refused: the record is append-only')"
    op.execute(f"""CREATE TRIGGER calibration_records_no_delete BEFORE DELETE
                   ON calibration_records BEGIN {refuse.format(op='DELETE', table='calibration_records')}; END""")
    op.execute(f"""CREATE TRIGGER calibration_records_frozen BEFORE UPDATE OF {cols}
                   ON calibration_records BEGIN {refuse.format(op='UPDATE', table='calibration_records')}; END""")
    for table in APPEND_ONLY:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
                           BEGIN {refuse.format(op=verb, table=table)}; END""")


def _unguard() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER calibration_records_no_delete ON calibration_records")
        op.execute("DROP TRIGGER calibration_records_frozen ON calibration_records")
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        return
    for name in ("calibration_records_no_delete", "calibration_records_frozen",
                 *(f"{t}_no_{v}" for t in APPEND_ONLY for v in ("update", "delete"))):
        op.execute(f"DROP TRIGGER {name}")


def downgrade() -> None:
    _unguard()
    with op.batch_alter_table('test_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_test_requests_customer_id'))

    with op.batch_alter_table('samples', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_samples_request_id'))

    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_results_calibration_record_id_calibration_records'), type_='foreignkey')
        batch_op.drop_index('ix_results_instrument_measured')
        batch_op.drop_index(batch_op.f('ix_results_calibration_record_id'))
        batch_op.drop_column('calibration_record_id')

    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reports_sample_id'))

    with op.batch_alter_table('instruments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calibration_due_on', sa.DATE(), nullable=True))
        batch_op.add_column(sa.Column('calibration_certificate', sa.VARCHAR(length=80),
                                      nullable=False, server_default=''))
        batch_op.add_column(sa.Column('calibrated_on', sa.DATE(), nullable=True))
        batch_op.drop_index(batch_op.f('ix_instruments_serial_number'))
        batch_op.drop_column('status_reason')
        batch_op.drop_column('accuracy_class')
        batch_op.drop_column('role')
    # Back to one calibration per instrument: the latest current record, if any.
    conn = op.get_bind()
    latest = {}
    for row in conn.execute(sa.select(records.c.instrument_id, records.c.calibrated_on,
                                      records.c.valid_until, records.c.certificate_number)
                            .where(records.c.is_current, records.c.status != "revoked")
                            .order_by(records.c.instrument_id, records.c.id)):
        latest[row.instrument_id] = row
    for row in latest.values():
        conn.execute(instruments.update().where(instruments.c.id == row.instrument_id).values(
            calibrated_on=row.calibrated_on, calibration_due_on=row.valid_until,
            calibration_certificate=row.certificate_number))
    conn.execute(instruments.update().where(instruments.c.calibration_due_on.is_(None))
                 .values(calibration_due_on=dt.date(1970, 1, 1)))
    with op.batch_alter_table('instruments', schema=None) as batch_op:
        batch_op.alter_column('calibration_due_on', existing_type=sa.DATE(), nullable=False)

    with op.batch_alter_table('nonconforming_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nonconforming_reports_report_id'))
        batch_op.drop_index(batch_op.f('ix_nonconforming_reports_evaluated_by_id'))

    op.drop_table('nonconforming_reports')
    with op.batch_alter_table('calibration_standards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calibration_standards_record_id'))
        batch_op.drop_index(batch_op.f('ix_calibration_standards_point_id'))
        batch_op.drop_index(batch_op.f('ix_calibration_standards_instrument_id'))

    op.drop_table('calibration_standards')
    with op.batch_alter_table('calibration_points', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calibration_points_record_id'))

    op.drop_table('calibration_points')
    with op.batch_alter_table('nonconforming_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nonconforming_cases_opened_by_id'))
        batch_op.drop_index(batch_op.f('ix_nonconforming_cases_instrument_id'))

    op.drop_table('nonconforming_cases')
    with op.batch_alter_table('intermediate_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intermediate_checks_performed_by_id'))
        batch_op.drop_index(batch_op.f('ix_intermediate_checks_instrument_id'))
        batch_op.drop_index(batch_op.f('ix_intermediate_checks_check_standard_id'))

    op.drop_table('intermediate_checks')
    with op.batch_alter_table('instrument_quantities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instrument_quantities_instrument_id'))

    op.drop_table('instrument_quantities')
    with op.batch_alter_table('calibration_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calibration_records_replaces_id'))
        batch_op.drop_index(batch_op.f('ix_calibration_records_recorded_by_id'))
        batch_op.drop_index(batch_op.f('ix_calibration_records_provider_id'))
        batch_op.drop_index('ix_calibration_records_instrument_calibrated')

    op.drop_table('calibration_records')
    op.drop_table('calibration_providers')
