"""Alembic is the only way the schema changes; models and migrations cannot drift."""

from __future__ import annotations

from sqlalchemy import inspect

from lims.db import make_engine
from lims.migrate import check, downgrade, upgrade


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_check_then_round_trip_on_an_empty_database(database_url):
    check(database_url)  # the template was upgraded to head by the fixture
    assert {"samples", "results", "audit_events", "reports", "apscheduler_jobs"} <= _tables(
        database_url)
    downgrade(database_url, "base")
    assert _tables(database_url) == set()
    upgrade(database_url)
    check(database_url)


def test_instrument_calibrations_become_records_and_results_point_to_them(database_url):
    """Migration 0003 turns each instrument's calibration columns into its first record."""
    from sqlalchemy import text

    downgrade(database_url, "base")
    upgrade(database_url, "0002")
    engine = make_engine(database_url)
    now = "2026-01-05 08:00:00"
    rows = [
        "INSERT INTO users (id, username, full_name, password_hash, active, created_at) "
        f"VALUES (1, 'u', 'U', 'x', true, '{now}')",
        "INSERT INTO customers (id, name, contact, address, created_at) "
        f"VALUES (1, 'C', '', '', '{now}')",
        "INSERT INTO test_methods (id, code, title, clause, field, created_at) "
        f"VALUES (1, 'M', 'M', '', 'f', '{now}')",
        "INSERT INTO characteristics (id, method_id, name, unit) VALUES (1, 1, 'm', 'gram')",
        "INSERT INTO test_requests (id, number, customer_id, description, created_at, "
        f"created_by_id) VALUES (1, 'WT1', 1, '', '{now}', 1)",
        "INSERT INTO samples (id, number, request_id, description, status, registered_at, "
        f"registered_by_id) VALUES (1, 'YP1', 1, 's', 'in testing', '{now}', 1)",
        "INSERT INTO sample_tests (id, sample_id, method_id) VALUES (1, 1, 1)",
        "INSERT INTO instruments (id, asset_number, name, manufacturer, model, serial_number, "
        "location, port_settings, status, calibrated_on, calibration_due_on, "
        "calibration_certificate, calibration_flag, created_at) VALUES (1, 'EQ-9', 'B', '', "
        "'', '', '', '{}', 'in service', '2025-06-01', '2026-05-31', 'JZ-77', 'ok', "
        f"'{now}')",
        "INSERT INTO instruments (id, asset_number, name, manufacturer, model, serial_number, "
        "location, port_settings, status, calibration_due_on, calibration_certificate, "
        f"calibration_flag, created_at) VALUES (2, 'EQ-8', 'B', '', '', '', '', '{{}}', "
        f"'in service', '2026-03-01', '', 'ok', '{now}')",
        "INSERT INTO results (id, test_id, characteristic_id, version, is_current, value, unit, "
        "unit_text, source, instrument_id, instrument_due_on, measured_at, recorded_at, "
        f"recorded_by_id) VALUES (1, 1, 1, 1, true, '1.00', 'gram', 'g', 'manual', 1, "
        f"'2026-05-31', '{now}', '{now}', 1)",
    ]
    try:
        with engine.begin() as conn:
            for sql in rows:
                conn.execute(text(sql))
        upgrade(database_url)
        with engine.connect() as conn:
            records = conn.execute(text(
                "SELECT instrument_id, certificate_number, calibrated_on, valid_until, source, "
                "k.kind FROM calibration_records r JOIN calibration_providers k "
                "ON k.id = r.provider_id ORDER BY instrument_id")).all()
            linked = conn.execute(text("SELECT calibration_record_id FROM results")).scalar()
        assert [(r[0], r[1], str(r[2]), str(r[3]), r[4], r[5]) for r in records] == [
            (1, "JZ-77", "2025-06-01", "2026-05-31", "migrated", "other"),
            (2, "not recorded", "None", "2026-03-01", "migrated", "other")]
        assert linked is not None
        downgrade(database_url, "0002")
        with engine.connect() as conn:
            back = conn.execute(text("SELECT calibration_due_on, calibration_certificate FROM "
                                     "instruments ORDER BY id")).all()
        assert [(str(a), b) for a, b in back] == [("2026-05-31", "JZ-77"), ("2026-03-01",
                                                                              "not recorded")]
    finally:
        engine.dispose()


def test_existing_characteristics_get_a_kind_from_their_unit(database_url):
    """Migration 0006 (issue 9): each characteristic gets the kind its stored unit names, its
    unit as a person writes it, and r/min stops being 2π rad/min; downgrading keeps decided
    conformities."""
    from sqlalchemy import text

    downgrade(database_url, "0005")
    engine = make_engine(database_url)
    now = "2026-01-05 08:00:00"
    units = ["gram", "revolutions_per_minute", "percent_relative_humidity", "degree_Celsius",
             "percent", "meter * newton", "millimeter", "watt / meter ** 2"]
    rows = [
        "INSERT INTO users (id, username, full_name, password_hash, active, created_at, "
        f"failed_logins) VALUES (1, 'u', 'U', 'x', true, '{now}', 0)",
        "INSERT INTO test_methods (id, code, title, clause, field, created_at) "
        f"VALUES (1, 'M', 'M', '', 'f', '{now}')",
        *(f"INSERT INTO characteristics (id, method_id, name, unit, upper_limit) VALUES "
          f"({i}, 1, 'c{i}', '{unit}', '5')" for i, unit in enumerate(units, 1)),
        "INSERT INTO customers (id, name, contact, address, created_at) "
        f"VALUES (1, 'C', '', '', '{now}')",
        "INSERT INTO test_requests (id, number, customer_id, description, created_at, "
        f"created_by_id) VALUES (1, 'WT1', 1, '', '{now}', 1)",
        "INSERT INTO samples (id, number, request_id, description, status, registered_at, "
        f"registered_by_id) VALUES (1, 'YP1', 1, 's', 'in testing', '{now}', 1)",
        "INSERT INTO sample_tests (id, sample_id, method_id) VALUES (1, 1, 1)",
        "INSERT INTO results (id, test_id, characteristic_id, version, is_current, value, unit, "
        "unit_text, conformity, source, measured_at, recorded_at, recorded_by_id) VALUES "
        f"(1, 1, 2, 1, true, '1500', 'revolutions_per_minute', 'r/min', 'pass', 'manual', "
        f"'{now}', '{now}', 1)",
    ]
    try:
        with engine.begin() as conn:
            for sql in rows:
                conn.execute(text(sql))
        upgrade(database_url)
        check(database_url)
        with engine.connect() as conn:
            got = conn.execute(text("SELECT kind, unit_text, unit FROM characteristics "
                                    "ORDER BY id")).all()
            result = conn.execute(text("SELECT value, unit, unit_text FROM results")).one()
            rule = conn.execute(text("SELECT decision_rule, guard_factor FROM test_requests")
                                ).one()
        assert [tuple(r) for r in got] == [
            ("mass", "g", "gram"), ("rotational_frequency", "r/min", "1 / minute"),
            ("relative_humidity", "%RH", "percent"), ("temperature", "℃", "degree_Celsius"),
            ("ratio", "%", "percent"), ("torque", "N·m", "meter * newton"),
            ("length", "mm", "millimeter"), ("other", "W/m²", "watt / meter ** 2")]
        # Results are records: not rewritten by the migration.
        assert tuple(result) == ("1500", "revolutions_per_minute", "r/min")
        assert tuple(rule) == ("simple", None)  # what every report so far stated
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO results (id, test_id, characteristic_id, version, "
                              "is_current, value, unit, unit_text, conformity, source, "
                              "measured_at, recorded_at, recorded_by_id) VALUES (2, 1, 1, 1, "
                              "true, '<9', 'gram', 'g', 'undecided', 'manual', "
                              f"'{now}', '{now}', 1), (3, 1, 3, 1, true, '<99', 'percent', "
                              f"'%RH', 'undecided', 'manual', '{now}', '{now}', 1)"))
            conn.execute(text("INSERT INTO conformity_decisions (result_id, conformity, reason, "
                              f"decided_by_id, decided_at) VALUES (2, 'fail', 'r', 1, '{now}')"))
        downgrade(database_url, "0005")
        with engine.connect() as conn:
            back = conn.execute(text("SELECT id, conformity FROM results ORDER BY id")).all()
            columns = {c["name"] for c in inspect(conn).get_columns("characteristics")}
        assert [tuple(r) for r in back] == [(1, "pass"), (2, "fail"), (3, None)]
        assert "kind" not in columns and "unit_text" not in columns
        upgrade(database_url)
        check(database_url)
    finally:
        engine.dispose()
