"""A database or disk that refuses writes gives a clear 503 or one sentence, never a 500.

Reads go on working. The tests run as root, and file modes do not stop root, so a read-only
database is made with the databases' own switches: SQLite's ``PRAGMA query_only`` on every new
connection (or a ``mode=ro`` URI for the CLI) and PostgreSQL's
``default_transaction_read_only``. A full database is SQLite's ``PRAGMA max_page_count``
pinned to the file's size. Read-only and full *file systems* are real mounts (a tmpfs, a
read-only bind mount) in a private mount namespace made with ``unshare``; those tests need
root, which CI has.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select, text, update
from sqlalchemy.engine import make_url

from lims.audit.models import AuditEvent
from lims.auth.models import UserSession
from lims.db import unit_of_work
from lims.samples.models import Customer
from tests.conftest import CI
from tests.support.world import csrf, login

READ_ONLY = "the database is read-only"
FULL = "the disk under the database is full"


def _query_only(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA query_only=ON")


def _pin_size(dbapi_conn: Any, _record: Any) -> None:
    (pages,) = dbapi_conn.execute("PRAGMA page_count").fetchone()
    dbapi_conn.execute(f"PRAGMA max_page_count={pages}")


def _alter_database(database_url: str, value: str) -> None:
    name = make_url(database_url).database
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"ALTER DATABASE {name} SET default_transaction_read_only = {value}"))
    finally:
        admin.dispose()


def make_read_only(app: Any, database_url: str, session: Any) -> None:
    """From now on every new connection of the app's engine is read-only."""
    session.close()  # its connection goes back to the pool that is disposed below
    engine = app.extensions["lims"].engine
    if database_url.startswith("sqlite"):
        event.listen(engine, "connect", _query_only)
    else:
        _alter_database(database_url, "on")
    engine.dispose()  # pooled connections predate the switch


def _counts(session: Any) -> tuple[int, int]:
    session.rollback()
    return (session.scalar(select(func.count(Customer.id))) or 0,
            session.scalar(select(func.count(AuditEvent.id))) or 0)


def _no_traceback(resp: Any) -> str:
    body = resp.get_data(as_text=True)
    assert "Traceback" not in body and "internal error" not in body
    return body


def test_api_writes_answer_503_read_only_and_reads_go_on(app, client, session, world,
                                                         database_url):
    headers = {"Authorization": f"Bearer {world.token(session, 'tech')}"}
    number = world.new_sample(session)
    before = _counts(session)
    make_read_only(app, database_url, session)

    for path, body in (("/api/v1/customers", {"name": "Read-only Ltd"}),
                       ("/api/v1/requests", {"customer_id": world.customer_id}),
                       (f"/api/v1/samples/{number}/results",
                        {"characteristic_id": world.mass_id, "value": "100.01", "unit": "g"})):
        resp = client.post(path, json=body, headers=headers)
        _no_traceback(resp)
        assert resp.status_code == 503, (path, resp.get_data(as_text=True))
        error = resp.json["error"]
        assert error["code"] == "read_only" and READ_ONLY in error["message"], error

    for path in ("/api/v1/customers", "/api/v1/samples", f"/api/v1/samples/{number}",
                 "/api/v1/methods"):
        resp = client.get(path, headers=headers)
        assert resp.status_code == 200, (path, resp.get_data(as_text=True))
    assert client.get("/health").status_code == 200
    assert _counts(session) == before


def test_pages_read_on_and_a_form_says_the_database_is_read_only(app, client, session, world,
                                                                  database_url):
    login(client, "qm")
    token = csrf(client, "/")
    # The session is due for its idle-timer write, which must not turn the reads into errors.
    with unit_of_work(session):
        session.execute(update(UserSession).values(
            last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)))
    before = _counts(session)
    make_read_only(app, database_url, session)

    for path in ("/", "/instruments/", "/reports", "/audit/", "/nonconformities", "/tokens"):
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.status_code, resp.get_data(as_text=True))

    resp = client.post("/customers", data={"name": "Read-only Ltd", "csrf_token": token},
                       headers={"Referer": "http://localhost/"})
    body = _no_traceback(resp)
    assert resp.status_code == 503 and READ_ONLY in body and "<html" in body

    # Logging in stores a session: the page says why it cannot, as a page.
    other = app.test_client()
    resp = other.post("/login", data={"username": "tech", "password": "correct horse battery",
                                      "csrf_token": csrf(other, "/login")})
    body = _no_traceback(resp)
    assert resp.status_code == 503 and READ_ONLY in body
    assert _counts(session) == before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_full_sqlite_database_answers_503_disk_full(app, client, session, world,
                                                      database_url):
    headers = {"Authorization": f"Bearer {world.token(session, 'tech')}"}
    app.extensions["lims"].engine.dispose()
    path = make_url(database_url).database
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("VACUUM")  # no free pages left to reuse: a new row must grow the file
    finally:
        conn.close()
    event.listen(app.extensions["lims"].engine, "connect", _pin_size)
    # Each customer (and its audit event) takes about 1.5 kB, so the last pages of the tables
    # are full within a few; 40 is far more than needed.
    statuses = []
    for i in range(40):
        resp = client.post("/api/v1/customers", headers=headers,
                           json={"name": f"Customer {i} " + "n" * 180, "address": "a" * 300,
                                 "contact": "c" * 180})
        _no_traceback(resp)
        statuses.append(resp.status_code)
        if resp.status_code != 201:
            break
    assert statuses[-1] == 503 and set(statuses[:-1]) <= {201}, statuses
    error = resp.json["error"]
    assert error["code"] == "disk_full" and FULL in error["message"]
    assert client.get("/api/v1/customers", headers=headers).status_code == 200


# --- the CLI ---------------------------------------------------------------------------------

def lims(env: dict[str, str], *args: str) -> Any:
    return subprocess.run([sys.executable, "-m", "lims.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def _one_sentence(out: Any, *, starts: str) -> None:
    assert out.returncode == 1, out
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert out.stderr.startswith(f"error: {starts}"), out.stderr


def test_the_cli_says_the_database_is_read_only_in_one_sentence(database_url, tmp_path):
    env = {**os.environ, "LIMS_INSTANCE_PATH": str(tmp_path / "inst")}
    if database_url.startswith("sqlite"):
        path = make_url(database_url).database
        env["LIMS_DATABASE_URL"] = f"sqlite:///file:{path}?mode=ro&uri=true"
    else:
        _alter_database(database_url, "on")
        env["LIMS_DATABASE_URL"] = database_url
    made = lims(env, "user", "create", "alice", "--role", "technician",
                "--password", "pw-1234567890")
    _one_sentence(made, starts=READ_ONLY)
    listed = lims(env, "report", "list")  # a read
    assert listed.returncode == 0, listed.stderr


# --- real read-only and full file systems ------------------------------------------------------

def _private_mounts() -> list[str]:
    """The command prefix that runs a shell in a private mount namespace (root only)."""
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or unshare is None:
        message = "mounting a tmpfs or a read-only bind needs root and unshare"
        if CI:
            pytest.fail(message + "; CI runs as root")
        pytest.skip(message)
    return [unshare, "--mount", "--propagation", "private", "sh", "-c"]


def _mounted(script: str, env: dict[str, str], *args: str) -> Any:
    """Run ``script`` (sh; $PY is this Python) in a private mount namespace: the mounts vanish
    with it and never touch the machine's."""
    return subprocess.run([*_private_mounts(), script, "sh", *args],
                          env={**env, "PY": sys.executable}, capture_output=True, text=True,
                          timeout=300)


def _init_env(tmp_path: Path, font_dir: Path, inst: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMS_")}
    # English messages: the command line otherwise speaks the default zh_CN.
    env.update(LIMS_INSTANCE_PATH=str(inst), LIMS_FONT_DIR=str(font_dir),
               LIMS_DEFAULT_LOCALE="en", **extra)
    return env


def test_init_on_a_full_disk_says_so_and_leaves_no_half_written_pki(tmp_path, font_dir):
    inst = tmp_path / "inst"
    inst.mkdir()
    listing = tmp_path / "listing.txt"
    # The database lives elsewhere; the instance folder has room for the secret key (one
    # 4 kB page of tmpfs) and one more file, not for the PKI's several files.
    env = _init_env(tmp_path, font_dir, inst,
                    LIMS_DATABASE_URL=f"sqlite:///{tmp_path / 'lims.sqlite'}")
    out = _mounted('mount -t tmpfs -o size=8k,mode=700 tmpfs "$1" || exit 99\n'
                   '"$PY" -m lims.cli init; rc=$?\n'
                   'find "$1" -mindepth 1 > "$2"; exit $rc', env, str(inst), str(listing))
    assert out.returncode != 99, out.stderr
    _one_sentence(out, starts=f"cannot write the development PKI in {inst / 'pki'}")
    assert "No space left on device" in out.stderr
    assert listing.read_text().split() == [str(inst / "secret_key")]


def test_init_with_the_database_on_a_full_disk_says_so(tmp_path, font_dir):
    inst = tmp_path / "inst"
    inst.mkdir()
    env = _init_env(tmp_path, font_dir, inst)
    out = _mounted('mount -t tmpfs -o size=64k,mode=700 tmpfs "$1" || exit 99\n'
                   'exec "$PY" -m lims.cli init', env, str(inst))
    assert out.returncode != 99, out.stderr
    _one_sentence(out, starts="cannot migrate the database")
    assert FULL in out.stderr


def test_a_read_only_file_system_refuses_writes_in_one_sentence_and_reads_go_on(tmp_path,
                                                                                 font_dir):
    inst = tmp_path / "inst"
    env = _init_env(tmp_path, font_dir, inst)
    first = lims(env, "init")
    assert first.returncode == 0, first.stderr
    pki = sorted(p.name for p in (inst / "pki").iterdir())
    ro = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 99\n'

    again = _mounted(ro + 'exec "$PY" -m lims.cli init', env, str(inst))
    assert again.returncode != 99, again.stderr
    _one_sentence(again, starts=f"cannot write the instance folder {inst}")
    assert "Read-only file system" in again.stderr

    # With no process holding the database open, SQLite cannot even read a WAL database on a
    # read-only file system (it cannot make the -shm file): that is said, not a traceback.
    cold = _mounted(ro + 'exec "$PY" -m lims.cli report list', env, str(inst))
    _one_sentence(cold, starts="the database file cannot be opened")

    # A running server holds it open (as this connection does): reads work, writes are refused.
    holder = sqlite3.connect(inst / "lims.sqlite")
    try:
        holder.execute("SELECT count(*) FROM users").fetchone()
        listed = _mounted(ro + 'exec "$PY" -m lims.cli report list', env, str(inst))
        assert listed.returncode == 0, listed.stderr
        made = _mounted(ro + 'exec "$PY" -m lims.cli user create alice --role technician '
                        '--password pw-1234567890',
                        env, str(inst))
        _one_sentence(made, starts=READ_ONLY)
    finally:
        holder.close()
    assert sorted(p.name for p in (inst / "pki").iterdir()) == pki
