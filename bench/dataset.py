"""The shared benchmark database of a provincial centre's size (issue 14), built once, reused.

100,000 samples (50,000 requests from 3,000 customers, 150,000 tests, 300,000 results, 90,000
issued reports), 2,000 instruments, 40 staff and 1,000,000 audit events forming a **valid**
hash chain: each event is hashed with the project's own :func:`lims.audit.services.event_hash`,
so ``lims audit verify`` passes on it. The events name the rows as the services do (a sample
by its number, a result or a test by its id, a report by its number) and a sample's events are
spread over the events of the samples registered after it, as a lab's day interleaves them;
``at`` rises evenly over four years (2022-2025).

Written with SQLAlchemy Core executemany (not the services: they would take hours), onto a
database migrated to the head, deterministically (seeded). Cached under ``bench/.cache/``,
keyed by :data:`DATA_VERSION`, the size and the migration head:

- SQLite: ``dataset-v<version>-<size>-<head>.sqlite``, copied for each use that writes
  (:func:`sqlite` with ``copy=True``) or used in place.
- PostgreSQL: the stopped cluster's data directory ``dataset-v…-pg<major>/``; each
  :func:`postgres` call copies it and starts a throwaway cluster on the copy (as
  tests/support/postgres.py does), which takes seconds instead of rebuilding.

Build time on the reference machine (2 shared cores): see ``python bench/dataset.py`` (it
prints it; README "Sizing"). Other benches::

    from bench import dataset
    url = dataset.sqlite()                  # a path inside bench/.cache (do not write to it)
    url = dataset.sqlite(copy=True)         # a private copy to write to
    url, stop = dataset.postgres()          # a private cluster; stop() removes it
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Connection, Engine, event, insert, text  # noqa: E402

import lims.models  # noqa: E402, F401 - registers every table on the metadata
from lims.audit.services import GENESIS, canonical_json, event_hash  # noqa: E402
from lims.db import Model, make_engine  # noqa: E402
from lims.migrate import alembic_config, upgrade  # noqa: E402
from tests.support.postgres import Cluster, find_bindir  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
DATA_VERSION = 1  # bump when the generator changes: the cached databases are rebuilt
SEED = 20261127
T0 = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
SPAN = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) - T0
N_USERS, N_METHODS, CHARS_PER_METHOD = 40, 30, 2
CHUNK = 20_000


@dataclasses.dataclass(frozen=True)
class Size:
    samples: int = 100_000
    instruments: int = 2_000
    customers: int = 3_000
    events: int = 1_000_000  # at least the lifecycle's events; padded with sign-ins

    @property
    def tag(self) -> str:
        return f"{self.samples}s-{self.instruments}i-{self.customers}c-{self.events}e"


FULL = Size()


@dataclasses.dataclass(slots=True)
class _Event:
    """What :func:`event_hash` reads of an event."""

    seq: int
    at: dt.datetime
    actor_id: int | None
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: str | None
    after: str | None
    reason: str | None
    prev_hash: str


def _user(rng: random.Random) -> tuple[int, str]:
    uid = rng.randrange(1, N_USERS + 1)
    return uid, f"staff{uid:02d}"


def _reference(size: Size, rng: random.Random) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    yield "users", [{"id": u, "username": f"staff{u:02d}", "full_name": f"员工 {u:02d}",
                     "password_hash": "!", "active": True, "created_at": T0}
                    for u in range(1, N_USERS + 1)]
    yield "customers", [{"id": c, "name": f"湖北客户{c:05d}有限公司", "name_initials": f"hbkh{c:05d}",
                         "contact": f"联系人{c}", "address": f"武汉市某区某路{c}号",
                         "created_at": T0} for c in range(1, size.customers + 1)]
    yield "instruments", [{"id": i, "asset_number": f"EQ-{i:05d}",
                           "name": rng.choice(("电子天平", "数字万用表", "温湿度计", "卡尺", "压力表")),
                           "manufacturer": "Bench", "model": f"M{i % 37}",
                           "serial_number": f"SN{i:07d}", "location": f"Lab {i % 20}",
                           "created_at": T0} for i in range(1, size.instruments + 1)]
    yield "test_methods", [{"id": m, "code": f"GB/T BENCH-{m}", "title": f"Method {m}",
                            "clause": "", "field": "bench", "created_at": T0}
                           for m in range(1, N_METHODS + 1)]
    yield "characteristics", [{"id": (m - 1) * CHARS_PER_METHOD + k + 1, "method_id": m,
                               "name": f"特性 {m}-{k + 1}", "kind": "mass", "unit": "gram",
                               "unit_text": "g"}
                              for m in range(1, N_METHODS + 1) for k in range(CHARS_PER_METHOD)]


def generate(size: Size) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Every row, table by table in foreign-key order, in chunks; the audit events last, as
    a valid chain. Deterministic (seeded)."""
    rng = random.Random(SEED)  # noqa: S311 - reproducible data, not secrets
    yield from _reference(size, rng)
    step = SPAN / max(size.samples, 1)
    # Events are queued at a sample's position and emitted when the registration of that
    # sample comes round: a sample's results, review and report land among later samples'.
    pending: dict[int, list[tuple[str, str, str, str | None, str | None]]] = {}
    created: list[tuple[str, str, str, str | None, str | None]] = []
    for c in range(1, size.customers + 1):
        created.append(("customer.create", "customers", str(c), None,
                        canonical_json({"id": c, "name": f"湖北客户{c:05d}有限公司"})))
    for i in range(1, size.instruments + 1):
        created.append(("instrument.create", "instruments", f"EQ-{i:05d}", None,
                        canonical_json({"id": i, "asset_number": f"EQ-{i:05d}"})))
    pending[0] = created
    test_id = result_id = report_id = request_id = 0
    for start in range(0, size.samples, CHUNK // 4):
        requests, samples, tests, results, reports = [], [], [], [], []
        for s in range(start + 1, min(start + CHUNK // 4, size.samples) + 1):
            at = T0 + step * s
            number = f"YP{at.year}-{s:07d}"
            if s == 1 or rng.random() < 0.5:
                request_id += 1
                req_number = f"WT{at.year}-{request_id:07d}"
                requests.append({"id": request_id, "number": req_number,
                                 "customer_id": rng.randrange(1, size.customers + 1),
                                 "description": "委托检验", "created_at": at,
                                 "created_by_id": _user(rng)[0]})
                pending.setdefault(s, []).append((
                    "request.create", "test_requests", req_number, None,
                    canonical_json({"number": req_number, "customer_id": requests[-1]["customer_id"],
                                    "decision_rule": "simple", "inspection_type": "commissioned"})))
            reported = rng.random() < 0.9
            status = "reported" if reported else "in testing"
            samples.append({"id": s, "number": number, "request_id": request_id,
                            "description": "样品", "status": status, "registered_at": at,
                            "registered_by_id": _user(rng)[0], "received_at": at,
                            "received_by_id": _user(rng)[0], "condition_on_receipt": "完好",
                            "reported_at": at + dt.timedelta(days=5) if reported else None})
            snap = {"id": s, "number": number, "request_id": request_id, "description": "样品",
                    "status": "registered", "registered_at": at, "trademark": "", "model": "",
                    "batch": f"B{s % 997}", "quantity": "4", "manufacturer": "某某厂",
                    "priority": "normal", "acquisition": "delivered"}
            pending.setdefault(s, []).append(("sample.register", "samples", number, None,
                                              canonical_json(snap)))
            pending.setdefault(s + 3, []).append((
                "sample.receive", "samples", number, canonical_json({"status": "registered"}),
                canonical_json({"status": "received", "condition_on_receipt": "完好"})))
            for method in rng.sample(range(1, N_METHODS + 1), rng.choice((1, 2))):
                test_id += 1
                tests.append({"id": test_id, "sample_id": s, "method_id": method})
                for k in range(CHARS_PER_METHOD):
                    result_id += 1
                    value = f"{rng.uniform(1, 200):.2f}"
                    results.append({"id": result_id, "test_id": test_id,
                                    "characteristic_id": (method - 1) * CHARS_PER_METHOD + k + 1,
                                    "version": 1, "is_current": True, "value": value,
                                    "unit": "gram", "unit_text": "g", "conformity": "pass",
                                    "source": "manual", "measured_at": at, "recorded_at": at,
                                    "recorded_by_id": 1,
                                    "instrument_id": rng.randrange(1, size.instruments + 1)})
                    pending.setdefault(s + 30 + k, []).append((
                        "result.record", "results", str(result_id), None,
                        canonical_json({"id": result_id, "test_id": test_id, "value": value,
                                        "unit": "gram", "unit_text": "g", "version": 1,
                                        "is_current": True, "source": "manual",
                                        "measured_at": at, "conformity": "pass",
                                        "instrument_id": results[-1]["instrument_id"]})))
            pending.setdefault(s + 60, []).append((
                "sample.complete", "samples", number, canonical_json({"status": "in testing"}),
                canonical_json({"status": "tested"})))
            if reported:
                pending.setdefault(s + 90, []).append((
                    "sample.review", "samples", number, canonical_json({"status": "tested"}),
                    canonical_json({"status": "reviewed"})))
                pending.setdefault(s + 120, []).append((
                    "sample.approve", "samples", number, canonical_json({"status": "reviewed"}),
                    canonical_json({"status": "approved"})))
                report_id += 1
                report_number = f"BG{at.year}-{report_id:07d}"
                reports.append({"id": report_id, "number": report_number, "sample_id": s,
                                "kind": "test_report", "status": "issued",
                                "issued_at": at + dt.timedelta(days=5),
                                "issued_by_id": _user(rng)[0], "sha256": "0" * 64, "size": 0,
                                "content": "{}", "outcome": "conforming"})
                pending.setdefault(s + 150, []).append((
                    "report.issue", "reports", report_number, None,
                    canonical_json({"number": report_number, "sample_id": s, "status": "issued",
                                    "sha256": "0" * 64})))
        yield "test_requests", requests
        yield "samples", samples
        yield "sample_tests", tests
        yield "results", results
        yield "reports", reports
    yield from _events(size, pending, rng)


def _events(size: Size, pending: dict[int, list[tuple[str, str, str, str | None, str | None]]],
            rng: random.Random) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The chain: the queued lifecycle events in position order, with sign-ins spread among
    them up to ``size.events``; each hashed by the project's own :func:`event_hash`."""
    lifecycle = sum(len(v) for v in pending.values())
    logins = max(size.events - lifecycle, 0)
    total = lifecycle + logins
    every = (lifecycle / logins) if logins else 0.0
    per_event = SPAN / max(total, 1)
    prev, seq, rows = GENESIS, 0, []
    next_login = every
    emitted = 0

    def one(action: str, etype: str, eid: str, before: str | None, after: str | None) -> None:
        nonlocal prev, seq
        seq += 1
        uid, name = _user(rng)
        e = _Event(seq, T0 + per_event * seq, uid, name, action, etype, eid, before, after,
                   None, prev)
        digest = event_hash(e)  # type: ignore[arg-type] - reads the same attributes
        rows.append({"id": seq, "seq": seq, "at": e.at, "actor_id": uid, "actor": name,
                     "action": action, "entity_type": etype, "entity_id": eid,
                     "before": before, "after": after, "reason": None, "prev_hash": prev,
                     "hash": digest})
        prev = digest

    for position in sorted(pending):
        for item in pending.pop(position):
            one(*item)
            emitted += 1
            while logins and emitted >= next_login and seq < total:
                uid = rng.randrange(1, N_USERS + 1)
                one("auth.login", "users", str(uid), None, canonical_json({"ip": "10.0.0.1"}))
                next_login += every
            if len(rows) >= CHUNK:
                yield "audit_events", rows
                rows = []
    while seq < total:
        one("auth.login", "users", "1", None, canonical_json({"ip": "10.0.0.1"}))
    yield "audit_events", rows
    yield "audit_head", [{"id": 1, "seq": seq, "hash": prev}]


def load(engine: Engine, size: Size = FULL) -> dict[str, int]:
    """Insert every generated row onto a migrated database (:func:`bulk_load`)."""
    return bulk_load(engine, lambda _conn: generate(size))


Rows = Iterator[tuple[str, list[dict[str, Any]]]]


def bulk_load(engine: Engine, rows: Callable[[Connection], Rows]) -> dict[str, int]:
    """Insert the rows ``rows(conn)`` yields (table name, chunk) with Core executemany in one
    transaction, move PostgreSQL's sequences past the explicit ids, and analyse: the benches'
    databases (this one, bench/lists.py, bench/passrates.py) are all loaded this way.

    PostgreSQL is then vacuumed too: the steady state autovacuum reaches soon after a bulk load,
    with the visibility map set, so that index-only scans (a count, a deep page's ids) read no
    table pages; measured right after the load they would visit every row's page.
    """
    counts: dict[str, int] = {}
    tables = Model.metadata.tables
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _fast(dbapi_conn: Any, _record: Any) -> None:  # a throwaway file until it is whole
            dbapi_conn.execute("PRAGMA synchronous=OFF")

    with engine.begin() as conn:
        for name, chunk in rows(conn):
            if chunk:
                conn.execute(insert(tables[name]), chunk)
            counts[name] = counts.get(name, 0) + len(chunk)
        if engine.dialect.name == "postgresql":
            for name in counts:  # explicit ids were given; a table without a serial id is left
                conn.execute(text(
                    f"SELECT setval(s, (SELECT max(id) FROM {name})) "  # noqa: S608
                    f"FROM pg_get_serial_sequence('{name}', 'id') AS s WHERE s IS NOT NULL"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE)" if engine.dialect.name == "postgresql"
                          else "ANALYZE"))
    return counts


def head_revision() -> str:
    from alembic.script import ScriptDirectory
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or "base"


def _key(size: Size) -> str:
    return f"dataset-v{DATA_VERSION}-{size.tag}-{head_revision()}"


def _log(message: str) -> None:
    print(f"[dataset] {message}", file=sys.stderr, flush=True)


def sqlite(size: Size = FULL, *, copy: bool = False, cache: Path = CACHE) -> str:
    """The URL of the cached SQLite dataset, built when missing (minutes at full size).

    :param copy: a private copy (in a new temporary folder) for a bench that writes.
    """
    cache.mkdir(exist_ok=True)
    path = cache / f"{_key(size)}.sqlite"
    if not path.exists():
        for stale in cache.glob(f"dataset-v*-{size.tag}-*.sqlite*"):
            stale.unlink()
        tmp = path.with_suffix(".building")
        for leftover in cache.glob(tmp.name + "*"):
            leftover.unlink()
        t0 = time.perf_counter()
        upgrade(f"sqlite:///{tmp}")
        engine = make_engine(f"sqlite:///{tmp}")
        counts = load(engine, size)
        engine.dispose()
        tmp.replace(path)
        _log(f"sqlite: built {path.name} in {time.perf_counter() - t0:.0f} s "
             f"({counts['samples']:,} samples, {counts['audit_events']:,} events)")
    if not copy:
        return f"sqlite:///{path}"
    import tempfile
    target = Path(tempfile.mkdtemp(prefix="lims-dataset-")) / path.name
    shutil.copyfile(path, target)
    return f"sqlite:///{target}"


def _copy_tree(source: Path, target: Path) -> None:
    """Copy a data directory keeping its owner (the server's user when run as root) and modes."""
    cp = shutil.which("cp") or "/bin/cp"
    subprocess.run([cp, "-a", "--reflink=auto", str(source), str(target)], check=True)  # noqa: S603


class _CachedCluster(Cluster):
    """A throwaway cluster started on a copy of a cached data directory."""

    def start_from(self, source: Path) -> _CachedCluster:
        _copy_tree(source, self.data)
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-w", "-t", "60", "-D", str(self.data), "-l",
                  str(self.root / "log"), "-o", opts, "start")
        return self

    def stop_clean(self) -> None:
        """Stop with a checkpoint (fsync is off: an immediate stop could lose the load)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


def _pg_major(bindir: Path) -> str:
    out = subprocess.run([str(bindir / "pg_ctl"), "--version"], check=True,  # noqa: S603
                         capture_output=True, text=True).stdout
    return out.split()[-1].split(".")[0]


def postgres(size: Size = FULL, *, cache: Path = CACHE) -> tuple[str, Callable[[], None]]:
    """(URL, stop) of a private throwaway PostgreSQL cluster holding the dataset.

    The first call builds it (a cluster, the migrations, the load, a clean stop) and keeps the
    data directory in the cache; every call starts a cluster on a copy of it.

    :raises RuntimeError: no PostgreSQL binaries on this machine.
    """
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("no PostgreSQL binaries (pg_ctl) on this machine")
    cache.mkdir(exist_ok=True)
    cached = cache / f"{_key(size)}-pg{_pg_major(bindir)}"
    if not cached.is_dir():
        for stale in cache.glob(f"dataset-v*-{size.tag}-*-pg*"):
            shutil.rmtree(stale, ignore_errors=True)
        t0 = time.perf_counter()
        builder = _CachedCluster(bindir).start()
        try:
            upgrade(builder.url())
            engine = make_engine(builder.url())
            counts = load(engine, size)
            engine.dispose()
            builder.stop_clean()
            tmp = cached.with_name(cached.name + ".building")
            shutil.rmtree(tmp, ignore_errors=True)
            _copy_tree(builder.data, tmp)
            tmp.replace(cached)
        finally:
            builder.stop()
        _log(f"postgresql: built {cached.name} in {time.perf_counter() - t0:.0f} s "
             f"({counts['samples']:,} samples, {counts['audit_events']:,} events)")
    cluster = _CachedCluster(bindir)
    try:
        cluster.start_from(cached)
    except BaseException:
        cluster.stop()
        raise
    return cluster.url(), cluster.stop


def main() -> None:
    """Build (or find) both databases and print how long each took."""
    size = FULL
    databases = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
    if "sqlite" in databases:
        t0 = time.perf_counter()
        url = sqlite(size)
        print(f"sqlite: {url} ready in {time.perf_counter() - t0:.1f} s")
    if "postgresql" in databases:
        t0 = time.perf_counter()
        try:
            url, stop = postgres(size)
        except RuntimeError as exc:
            print(f"postgresql: skipped: {exc}")
            return
        print(f"postgresql: {url} ready in {time.perf_counter() - t0:.1f} s")
        stop()


if __name__ == "__main__":
    main()
