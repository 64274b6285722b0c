"""Backup and restore of an instance's database, with the checks that make a restore trustworthy.

A backup is a folder: the database (SQLite through its online backup API, so a running instance
can be backed up consistently; PostgreSQL through ``pg_dump`` in its custom format), the lab's
CA certificate (public: what restored reports are verified against) and a manifest with the
schema revision, the audit head and row counts. ``--with-keys`` also copies the signing PKI and
the secret key (mode 0600); keep such a backup as carefully as the instance itself.

A restore loads the database into the configured (empty) one, then verifies what an assessor
would: the audit chain and, for every issued report, its recorded SHA-256 and its signature
against the lab's CA (ISO/IEC 17025 7.5, 8.4; 21 CFR 11.10(b), (c)).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import glob
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from lims.errors import InvalidInput, msg
from lims.runtime import Runtime

TABLES_COUNTED = ("samples", "results", "reports", "calibration_records", "audit_events")


def _pg_tool(name: str) -> str:
    """``pg_dump``/``pg_restore``: on PATH, else the newest server install (Debian layout)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if not candidates:
        raise InvalidInput(msg("%(tool)s is not installed (apt-get install postgresql-client)",
                               tool=name),
                           field="database")
    return candidates[0]


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string and environment (the password never on a command line)."""
    u = make_url(url)
    env = {**os.environ}
    if u.password:
        env["PGPASSWORD"] = u.password
    dsn = f"postgresql://{u.username or ''}@{u.host or ''}:{u.port or 5432}/{u.database}"
    return dsn, env


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise InvalidInput(msg("an in-memory SQLite database cannot be backed up"),
                           field="database")
    return Path(database)


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)


def _manifest(rt: Runtime) -> dict[str, Any]:
    with rt.session() as session:
        counts = {t: session.scalar(select(func.count()).select_from(text(t))) for t in
                  TABLES_COUNTED}
        revision = session.scalar(text("SELECT version_num FROM alembic_version"))
        head = session.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).first()
    return {"format": 1, "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "dialect": rt.engine.dialect.name, "revision": revision, "counts": counts,
            "audit_head": {"seq": head[0], "hash": head[1]} if head else None}


def backup(rt: Runtime, dest: Path, *, with_keys: bool = False) -> dict[str, Any]:
    """Write a backup folder; refuse to overwrite one.

    :raises InvalidInput: the destination exists and is not empty, or the tool is missing.
    """
    if dest.exists() and any(dest.iterdir()):
        raise InvalidInput(msg("%(dest)s exists and is not empty; choose a new folder", dest=dest),
                           field="dest")
    _private_dir(dest)
    url = rt.settings.database_url
    if rt.engine.dialect.name == "sqlite":
        target = dest / "database.sqlite"
        src = sqlite3.connect(_sqlite_path(url))
        dst = sqlite3.connect(target)
        try:
            with dst:
                src.backup(dst)  # consistent even while the instance writes
        finally:
            src.close()
            dst.close()
    else:
        target = dest / "database.dump"
        dsn, env = _libpq(url)
        subprocess.run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file",  # noqa: S603 - fixed arguments, no shell
                        str(target), dsn], check=True, env=env, capture_output=True)
    target.chmod(0o600)
    manifest = _manifest(rt)
    manifest["database_file"] = target.name
    manifest["database_sha256"] = hashlib.sha256(target.read_bytes()).hexdigest()
    _copy_pki(rt, dest, with_keys)
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def _copy_pki(rt: Runtime, dest: Path, with_keys: bool) -> None:
    from lims.reports.pki import ca_certificate_pem

    s = rt.settings
    try:
        (dest / "ca.pem").write_bytes(ca_certificate_pem(Path(s.signing_pkcs12),
                                                         s.signing_passphrase))
    except (OSError, ValueError):
        pass  # no PKI yet: reports cannot exist either
    if with_keys:
        pki = Path(s.signing_pkcs12).parent
        if pki.is_dir():
            shutil.copytree(pki, dest / "pki")
        secret = s.instance_path / "secret_key"
        if secret.exists():
            shutil.copy2(secret, dest / "secret_key")
        for path in (dest / "pki").rglob("*") if (dest / "pki").exists() else []:
            path.chmod(0o700 if path.is_dir() else 0o600)


@dataclasses.dataclass
class RestoreCheck:
    audit_ok: bool
    audit_message: str
    reports: int
    bad_reports: list[str]

    @property
    def ok(self) -> bool:
        return self.audit_ok and not self.bad_reports


def restore(rt: Runtime, src: Path) -> RestoreCheck:
    """Load a backup into the configured database (which must hold no LIMS tables), then
    verify the audit chain and every issued report's hash and signature.

    :raises InvalidInput: not a backup folder, a damaged database file, a non-empty target,
        or a backup of the other database kind.
    """
    manifest_path = src / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(msg("%(src)s is not a LIMS backup (no readable manifest.json)", src=src),
                           field="src") from exc
    dump = src / str(manifest.get("database_file", ""))
    if not dump.is_file() or hashlib.sha256(dump.read_bytes()).hexdigest() != manifest.get(
            "database_sha256"):
        raise InvalidInput(msg("the database file in %(src)s is missing or does not match its "
                               "manifest", src=src), field="src")
    if manifest.get("dialect") != rt.engine.dialect.name:
        raise InvalidInput(msg("the backup is of a %(dialect)s database; the configured one is "
                               "%(configured)s", dialect=manifest.get("dialect"),
                               configured=rt.engine.dialect.name), field="src")
    from sqlalchemy import inspect

    if "samples" in inspect(rt.engine).get_table_names():
        raise InvalidInput(msg("the configured database already holds a LIMS; restore into an "
                               "empty one"), field="database")
    url = rt.settings.database_url
    if rt.engine.dialect.name == "sqlite":
        rt.engine.dispose()
        target = _sqlite_path(url)
        source = sqlite3.connect(dump)
        dest = sqlite3.connect(target)
        try:
            with dest:
                source.backup(dest)
        finally:
            source.close()
            dest.close()
    else:
        dsn, env = _libpq(url)
        subprocess.run([_pg_tool("pg_restore"), "--no-owner", "--exit-on-error",  # noqa: S603 - fixed arguments, no shell
                        "--dbname", dsn, str(dump)], check=True, env=env, capture_output=True)
    ca = src / "ca.pem"
    return check_instance(rt, ca.read_bytes() if ca.exists() else None)


def check_instance(rt: Runtime, ca_pem: bytes | None) -> RestoreCheck:
    """The checks of a restore, usable on any instance: audit chain, report hashes, signatures."""
    from lims.audit.services import verify_chain
    from lims.reports.models import Report
    from lims.reports.sign import validate_pdf

    bad: list[str] = []
    with rt.session() as session:
        verdict = verify_chain(session)
        reports = session.scalars(select(Report).order_by(Report.id)).all()
        for report in reports:
            pdf = report.pdf
            if hashlib.sha256(pdf).hexdigest() != report.sha256:
                bad.append(f"{report.number}: the stored file does not match its SHA-256")
                continue
            if ca_pem is not None:
                check = validate_pdf(pdf, ca_pem)  # the seal and the signatory's, if both
                if check is None or not check.ok:
                    failed = ", ".join(f"{s.name} ({s.reason})" for s in check.signatures
                                       if not s.ok) if check is not None else "unsigned"
                    bad.append(f"{report.number}: the signature does not validate against "
                               f"the lab's CA: {failed}")
    return RestoreCheck(verdict.ok, verdict.message, len(reports), bad)
