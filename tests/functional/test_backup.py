"""`lims backup` and `lims restore`: a restored copy is checked as an assessor would check it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from lims.db import unit_of_work
from lims.reports.services import issue_report
from tests.support.world import PASSWORD


def lims(env, *args):
    return subprocess.run([sys.executable, "-m", "lims.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def _target(database_url: str, tmp_path: Path, name: str) -> str:
    """An empty database of the same kind to restore into."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / (name + '.sqlite')}"
    admin = create_engine(database_url.rsplit("/", 1)[0] + "/postgres",
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return database_url.rsplit("/", 1)[0] + f"/{name}"


def test_backup_then_restore_verifies_chain_hashes_and_signatures(database_url, session, world,
                                                                    settings, tmp_path):
    number = world.approved_sample(session)
    with unit_of_work(session):
        report = issue_report(session, actor=world.user(session, "signatory"),
                              sample_number=number, settings=settings,
                              password=PASSWORD).number
    env = {**os.environ, "LIMS_DATABASE_URL": database_url, "LIMS_SECRET_KEY": "x",
           "LIMS_INSTANCE_PATH": str(tmp_path / "inst"),
           "LIMS_SIGNING_PKCS12": settings.signing_pkcs12,
           "LIMS_SIGNING_PASSPHRASE": settings.signing_passphrase}
    dest = tmp_path / "backup"
    out = lims(env, "backup", str(dest))
    assert out.returncode == 0, out.stderr
    assert "1 reports" in out.stdout
    assert {p.name for p in dest.iterdir()} >= {"manifest.json", "ca.pem"}
    assert dest.stat().st_mode & 0o077 == 0
    again = lims(env, "backup", str(dest))
    assert again.returncode == 1 and "not empty" in again.stderr

    restored = {**env, "LIMS_DATABASE_URL": _target(database_url, tmp_path, "restored_ok")}
    out = lims(restored, "restore", str(dest))
    assert out.returncode == 0, out.stderr
    assert "audit chain: ok" in out.stdout and "1 checked, 0 bad" in out.stdout
    twice = lims(restored, "restore", str(dest))
    assert twice.returncode == 1 and "already holds a LIMS" in twice.stderr

    # A report file altered before the backup is named on restore.
    with unit_of_work(session):
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("DROP TRIGGER reports_frozen ON reports"))
        else:
            session.execute(text("DROP TRIGGER reports_frozen"))
        session.execute(text("UPDATE reports SET pdf = :pdf"), {"pdf": b"%PDF-1.4 forged"})
    bad_dest = tmp_path / "backup-bad"
    assert lims(env, "backup", str(bad_dest)).returncode == 0
    target = {**env, "LIMS_DATABASE_URL": _target(database_url, tmp_path, "restored_bad")}
    out = lims(target, "restore", str(bad_dest))
    assert out.returncode == 1
    assert f"{report}: the stored file does not match its SHA-256" in out.stdout


def test_a_damaged_backup_is_refused_before_anything_is_written(tmp_path, database_url,
                                                                 settings):
    if not database_url.startswith("sqlite"):
        return  # the manifest check is the same on both kinds; one is enough
    env = {**os.environ, "LIMS_DATABASE_URL": database_url, "LIMS_SECRET_KEY": "x",
           "LIMS_INSTANCE_PATH": str(tmp_path / "inst"),
           "LIMS_SIGNING_PKCS12": settings.signing_pkcs12,
           "LIMS_SIGNING_PASSPHRASE": settings.signing_passphrase}
    dest = tmp_path / "b"
    assert lims(env, "backup", str(dest)).returncode == 0
    db = sqlite3.connect(dest / "database.sqlite")
    db.execute("PRAGMA user_version = 7")
    db.commit()
    db.close()
    target_file = tmp_path / "t.sqlite"
    out = lims({**env, "LIMS_DATABASE_URL": f"sqlite:///{target_file}"}, "restore", str(dest))
    assert out.returncode == 1 and "does not match its manifest" in out.stderr
    assert not target_file.exists() or target_file.stat().st_size == 0
    assert lims(env, "restore", str(tmp_path)).returncode in (1, 2)


def test_init_on_a_read_only_folder_says_so_in_one_sentence(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        env = {**os.environ, "LIMS_INSTANCE_PATH": str(ro / "inst")}
        env.pop("LIMS_DATABASE_URL", None)
        out = lims(env, "init")
        if os.geteuid() == 0:  # root writes anyway: check the message path via a file instead
            blocker = tmp_path / "blocked"
            blocker.write_text("not a folder")
            out = lims({**env, "LIMS_INSTANCE_PATH": str(blocker / "inst")}, "init")
        assert out.returncode == 1
        assert out.stderr.startswith("error: cannot write the instance folder")
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    finally:
        ro.chmod(0o700)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_application_role_cannot_drop_the_guards(database_url, tmp_path, font_dir):
    """Migrations run as the owner; the application's role reads and writes rows only."""
    from sqlalchemy.exc import ProgrammingError

    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP ROLE IF EXISTS lims_app"))
        conn.execute(text("CREATE ROLE lims_app LOGIN"))
    admin.dispose()
    app_url = database_url.replace("//lims@", "//lims_app@")
    env = {**os.environ, "LIMS_DATABASE_URL": app_url, "LIMS_MIGRATION_DATABASE_URL":
           database_url, "LIMS_INSTANCE_PATH": str(tmp_path / "inst"),
           "LIMS_FONT_DIR": str(font_dir)}
    out = lims(env, "init")
    assert out.returncode == 0, out.stderr
    assert "granted row access to the application role 'lims_app'" in out.stdout
    made = subprocess.run([sys.executable, "-m", "lims.cli", "user", "create", "alice",
                           "--role", "technician"], env=env, input="pw-1234567890\n" * 2,
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr  # the role writes rows (and audit events)
    engine = create_engine(app_url)
    try:
        for sql in ("DROP TRIGGER audit_events_append_only ON audit_events",
                    "ALTER TABLE audit_events DISABLE TRIGGER ALL",
                    "DROP TABLE reports"):
            with pytest.raises(ProgrammingError, match="must be owner"), engine.begin() as conn:
                conn.execute(text(sql))
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_events"))
    finally:
        engine.dispose()
