"""List benchmarks (issue 11 §6): the sample list page and the sample API list over 200,000
samples, on SQLite and on PostgreSQL.

Measured, each as the page (``GET /samples``) and as the API (``GET /api/v1/samples``):

1. the first page (newest first);
2. a deep page (page 3000 of 50, offset 149,950);
3. a filtered search: a customer's pinyin initials and a status.

Target: each median <= 100 ms. The number of SQL statements per request is printed beside it
(counted with a ``before_cursor_execute`` listener on the app's engine).

The data: 3,000 customers with Chinese names (their pinyin initials filled as the app does),
one request per two samples, 200,000 samples registered over two years in seven statuses, one
test and one result each, a tenth of them measured with one of 20 instruments. Built once into
``bench/.cache/`` for SQLite and reused; the PostgreSQL cluster is throwaway, so the same rows
are loaded again. ``BENCH_SAMPLES`` sets the size (e.g. 20000 for a quick run) and
``BENCH_DATABASES`` the databases (default ``sqlite,postgresql``).

Timings are printed, never asserted: machines are shared.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, event, text  # noqa: E402

import lims.models  # noqa: E402, F401 - registers every table on the metadata
from bench import dataset  # noqa: E402
from lims import create_app  # noqa: E402
from lims.auth.services import create_token, create_user  # noqa: E402
from lims.config import Settings  # noqa: E402
from lims.db import make_engine, unit_of_work  # noqa: E402
from lims.migrate import upgrade  # noqa: E402
from lims.samples.names import initials  # noqa: E402
from tests.support.postgres import Cluster, find_bindir  # noqa: E402
from tests.support.world import PASSWORD  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
DATA_VERSION = 1  # bump when the generator changes: the cached database is rebuilt
SEED = 20261126
N_SAMPLES = int(os.environ.get("BENCH_SAMPLES", "200000"))
DATABASES = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
N_CUSTOMERS, N_METHODS, N_INSTRUMENTS = 3000, 10, 20
PER_PAGE, DEEP_PAGE = 50, 3000
RUNS, WARM = 15, 3
TARGET_MS = 100.0
STATUSES = ("registered", "received", "in testing", "results complete", "reviewed",
            "approved", "reported")


PLACES = ("湖北", "江苏", "浙江", "广东", "山东", "四川", "河南", "福建", "安徽", "湖南")
WORDS = ("长江", "华信", "恒通", "金鼎", "天成", "宏达", "瑞丰", "东方", "新源", "永盛",
         "博远", "中科", "联合", "明阳", "海川")
TRADES = ("电缆", "纺织", "机械", "食品", "化工", "电子", "建材", "塑料", "医药", "仪器")


def customer_name(c: int) -> str:
    """Distinct Chinese company names: place, word, trade, and a branch number past 1,500."""
    place, rest = PLACES[c % len(PLACES)], c // len(PLACES)
    word, rest = WORDS[rest % len(WORDS)], rest // len(WORDS)
    trade = TRADES[rest % len(TRADES)]
    branch = "" if c < 1500 else f"第{c // 1500}分公司"
    return f"{place}{word}{trade}有限公司{branch}"


def generate() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Every row, table by table in foreign-key order, in chunks; deterministic (seeded)."""
    rng = random.Random(SEED)  # noqa: S311 - reproducible data, not secrets
    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    yield "users", [{"id": 1, "username": "bench-registrar", "full_name": "Bench Registrar",
                     "password_hash": "!", "active": True, "created_at": t0}]
    yield "customers", [{"id": c + 1, "name": (name := customer_name(c)),
                         "name_initials": initials(name), "contact": "", "address": "",
                         "created_at": t0} for c in range(N_CUSTOMERS)]
    yield "test_methods", [{"id": m, "code": f"GB/T BENCH-{m}", "title": f"Method {m}",
                            "clause": "", "field": "bench", "created_at": t0}
                           for m in range(1, N_METHODS + 1)]
    yield "characteristics", [{"id": m, "method_id": m, "name": "mass", "kind": "mass",
                               "unit": "gram", "unit_text": "g"}
                              for m in range(1, N_METHODS + 1)]
    yield "instruments", [{"id": i, "asset_number": f"EQ-{i:03d}", "name": "Balance",
                           "port_settings": {}, "created_at": t0}
                          for i in range(1, N_INSTRUMENTS + 1)]
    span = 2 * 365 * 24 * 3600
    times = sorted(t0 + dt.timedelta(seconds=rng.randrange(span)) for _ in range(N_SAMPLES))
    n_requests = (N_SAMPLES + 1) // 2
    customers = [rng.randrange(1, N_CUSTOMERS + 1) for _ in range(n_requests)]
    for start in range(0, n_requests, 50_000):
        yield "test_requests", [
            {"id": r + 1, "number": f"WT{times[2 * r].year}-{r + 1:07d}",
             "customer_id": customers[r], "description": "", "created_at": times[2 * r],
             "created_by_id": 1, "decision_rule": "simple", "inspection_type": "commissioned",
             "product_standard": "", "customer_data": ""}
            for r in range(start, min(start + 50_000, n_requests))]
    for start in range(0, N_SAMPLES, 50_000):
        chunk = range(start, min(start + 50_000, N_SAMPLES))
        statuses = [STATUSES[min(6, int(rng.expovariate(0.6)))] for _ in chunk]
        yield "samples", [
            {"id": s + 1, "number": f"YP{times[s].year}-{s + 1:07d}", "request_id": s // 2 + 1,
             "description": f"样品 {s + 1} 涤棉坯布", "status": status,
             "registered_at": times[s], "registered_by_id": 1, "trademark": "", "model": "",
             "batch": "", "quantity": "", "manufacturer": ""}
            for s, status in zip(chunk, statuses, strict=True)]
        methods = [rng.randrange(1, N_METHODS + 1) for _ in chunk]
        yield "sample_tests", [{"id": s + 1, "sample_id": s + 1, "method_id": m}
                               for s, m in zip(chunk, methods, strict=True)]
        yield "results", [
            {"id": s + 1, "test_id": s + 1, "characteristic_id": m, "version": 1,
             "is_current": True, "value": "100.00", "unit": "gram", "unit_text": "g",
             "source": "instrument" if s % 10 == 0 else "manual",
             "instrument_id": (s // 10) % N_INSTRUMENTS + 1 if s % 10 == 0 else None,
             "measured_at": times[s], "recorded_at": times[s], "recorded_by_id": 1}
            for s, m in zip(chunk, methods, strict=True)]


def load(engine: Engine) -> dict[str, int]:
    """Insert every generated row with Core executemany (bench/dataset.py's loader)."""
    return dataset.bulk_load(engine, lambda _conn: generate())


def sqlite_database() -> tuple[str, str]:
    """The cached SQLite database, built when missing; and what was done, for the log."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"lists-v{DATA_VERSION}-{N_SAMPLES}-{dataset.head_revision()}.sqlite"
    if path.exists():
        return f"sqlite:///{path}", f"reused {path.name} (built earlier)"
    for stale in CACHE.glob(f"lists-v*-{N_SAMPLES}-*.sqlite*"):
        stale.unlink()
    tmp = path.with_suffix(".building")
    for leftover in CACHE.glob(tmp.name + "*"):
        leftover.unlink()
    t0 = time.perf_counter()
    upgrade(f"sqlite:///{tmp}")
    engine = make_engine(f"sqlite:///{tmp}")
    counts = load(engine)
    engine.dispose()
    tmp.replace(path)
    return f"sqlite:///{path}", (f"built in {time.perf_counter() - t0:.1f} s "
                                 f"({counts['samples']:,} samples), cached as {path.name}")


def _prepare(url: str, tmp: Path) -> tuple[Any, Any, str, str]:
    """The app, a logged-in page client, the API token and a customer's initials to search."""
    settings = Settings(instance_path=tmp, database_url=url, secret_key="bench")
    app = create_app(settings)
    session = app.extensions["lims"].sessionmaker()
    with unit_of_work(session):
        user = create_user(session, username=f"bench_{time.time_ns()}",
                           full_name="Bench Technician", password=PASSWORD,
                           roles=["technician"], actor=None)
        token = create_token(session, user=user, name="bench")
        username = user.username
    initials_of = session.scalar(text("SELECT name_initials FROM customers WHERE id = 1"))
    session.close()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    resp = client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": csrf})
    assert resp.status_code == 303, resp.status_code
    return app, client, token, str(initials_of)


def bench(label: str, url: str) -> None:
    with tempfile.TemporaryDirectory(prefix="lims-bench-lists-") as tmp:
        app, client, token, key = _prepare(url, Path(tmp))
        engine = app.extensions["lims"].engine
        statements = [0]

        @event.listens_for(engine, "before_cursor_execute")
        def _count(*_args: Any) -> None:
            statements[0] += 1

        pages = -(-N_SAMPLES // PER_PAGE)
        deep = min(DEEP_PAGE, max(1, pages * 3 // 4))
        search = f"q={key[:6]}&status=received"
        cases = [("first page", ""), (f"page {deep}", f"page={deep}"),
                 (f"search {key[:6]!r} + status", search)]
        auth = {"Authorization": f"Bearer {token}"}
        for kind, path, headers, extra in (("page", "/samples", {}, ""),
                                           ("api", "/api/v1/samples", auth, "limit=50&")):
            for name, query in cases:
                target = f"{path}?{extra}{query}"
                times: list[float] = []
                counted = 0
                for n in range(WARM + RUNS):
                    statements[0] = 0
                    t0 = time.perf_counter()
                    resp = client.get(target, headers=headers)
                    took = time.perf_counter() - t0
                    assert resp.status_code == 200, (target, resp.status_code)
                    if n >= WARM:
                        times.append(took)
                        counted = statements[0]
                total = (resp.get_json() or {}).get("total") if kind == "api" else None
                ms = statistics.median(times) * 1000
                verdict = "ok" if ms <= TARGET_MS else "OVER"
                print(f"[{label}] {kind:4} {name:28} median {ms:7.1f} ms "
                      f"(target {TARGET_MS:.0f}: {verdict}), {counted} statements"
                      + (f", total {total:,}" if total is not None else ""))
        event.remove(engine, "before_cursor_execute", _count)
        engine.dispose()


def main() -> None:
    print(f"lists: {N_SAMPLES:,} samples, {N_CUSTOMERS:,} customers; median of {RUNS} "
          f"requests after {WARM} warm-ups, through the app (WSGI, no network)")
    if "sqlite" in DATABASES:
        url, how = sqlite_database()
        print(f"[sqlite] data: {how}")
        bench("sqlite", url)
    if "postgresql" not in DATABASES:
        return
    bindir = find_bindir()
    if bindir is None:
        print("[postgresql] skipped: no PostgreSQL binaries (pg_ctl) on this machine")
        return
    cluster = Cluster(bindir).start()
    try:
        url = cluster.url()
        t0 = time.perf_counter()
        upgrade(url)
        engine = make_engine(url)
        counts = load(engine)
        engine.dispose()
        print(f"[postgresql] data: loaded {counts['samples']:,} samples in "
              f"{time.perf_counter() - t0:.1f} s on a throwaway cluster")
        bench("postgresql", url)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
