"""Pass-rate statistics benchmark (issue 13 §5): ``pass_rates`` for one year and the ten-year
family trend over 1,000,000 results, on SQLite and on PostgreSQL.

Measured, each against a hand-written floor over the same rows:

1. ``statistics.pass_rates`` for one year: every breakdown (families, the catalogue at every
   level, the region tree, sizes, inspection types) and the ten most frequent unqualified
   characteristics. Floor: one raw SQL statement with the same final-conclusion logic (a
   re-inspection's issued report replaces the original's) grouped by category, region, size,
   inspection type and class.
2. ``statistics.family_trend`` over the ten years. Floor: the same statement over the ten
   years, grouped by year as well.

Target: each median <= 1 s. The ratio to the floor is printed with its spread (the ratios of
paired runs, 10th … 90th percentile): the cost of the service over the database's own work.

The data: the seeded catalogue, Hubei's 17 prefectures with 5 counties each, 5,000 enterprises
of four sizes, 100,000 samples over the ten years 2016-2025 (a request each, 70 % of them
supervision spot checks with a sampling task and record), each with one test of ten results
(1,000,000 results) and, for most, an issued test report with its outcome; about 1 % of the
unqualified ones were re-inspected (a sample of their own whose report is final), a few
reports were withdrawn. Written with SQLAlchemy Core bulk inserts, built once into
``bench/.cache/`` for SQLite and reused; the PostgreSQL cluster is throwaway, so the same rows
are loaded again. ``BENCH_SAMPLES`` sets the size (e.g. 10000 for a quick run) and
``BENCH_DATABASES`` the databases (default ``sqlite,postgresql``).

Timings are printed, never asserted: machines are shared.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics as stats
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Connection, Engine, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import lims.models  # noqa: E402, F401 - registers every table on the metadata
from bench import dataset  # noqa: E402
from lims.db import Model, make_engine  # noqa: E402
from lims.migrate import upgrade  # noqa: E402
from lims.samples.models import ProductCategory  # noqa: E402
from lims.samples.particulars import INSPECTION_TYPES  # noqa: E402
from lims.supervision import statistics  # noqa: E402
from tests.support.postgres import Cluster, find_bindir  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
DATA_VERSION = 2  # bump when the generator changes: the cached database is rebuilt
SEED = 20261127
N_SAMPLES = int(os.environ.get("BENCH_SAMPLES", "100000"))
DATABASES = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
FIRST, YEARS = 2016, 10
RESULTS_PER_SAMPLE, N_METHODS, N_ENTERPRISES = 10, 20, 5000
PREFECTURES, COUNTIES = 17, 5
RUNS, WARM = 9, 2
TARGET_S = 1.0
TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)
OUTCOMES = (("conforming", 0.90), ("conditionally conforming", 0.02),
            ("nonconforming", 0.05), ("conditionally nonconforming", 0.01),
            ("data only", 0.02))
SIZES = ("large", "medium", "small", "micro")
TYPES = tuple(INSPECTION_TYPES)


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    x, acc = rng.random(), 0.0
    for value, weight in weighted:
        acc += weight
        if x < acc:
            return value
    return weighted[-1][0]


def generate(categories: dict[str, int]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Every row, table by table in foreign-key order, in chunks; deterministic (seeded)."""
    rng = random.Random(SEED)  # noqa: S311 - reproducible data, not secrets
    t0 = dt.datetime(FIRST, 1, 1, tzinfo=dt.UTC)
    leaves = sorted(i for code, i in categories.items() if "-" in code)
    yield "users", [{"id": 1, "username": "bench-stats", "full_name": "Bench Statistics",
                     "password_hash": "!", "active": True, "created_at": t0}]
    yield "customers", [{"id": 1, "name": "湖北省市场监督管理局", "name_initials": "hbsscjdglj",
                         "contact": "", "address": "", "created_at": t0}]
    regions = [{"id": 1, "code": "420000", "name_zh": "湖北省", "name_en": "Hubei",
                "level": "province", "parent_id": None}]
    counties: list[int] = []
    for p in range(PREFECTURES):
        pid = len(regions) + 1
        regions.append({"id": pid, "code": f"42{p + 1:02d}00", "name_zh": f"地市{p + 1}",
                        "name_en": f"Prefecture {p + 1}", "level": "prefecture",
                        "parent_id": 1})
        for c in range(COUNTIES):
            counties.append(len(regions) + 1)
            regions.append({"id": len(regions) + 1, "code": f"42{p + 1:02d}{c + 1:02d}",
                            "name_zh": f"县区{p + 1}-{c + 1}", "name_en": f"County {p + 1}-{c + 1}",
                            "level": "county", "parent_id": pid})
    yield "regions", regions
    yield "test_methods", [{"id": m, "code": f"GB/T STATS-{m}", "title": f"Method {m}",
                            "clause": "", "field": "bench", "created_at": t0}
                           for m in range(1, N_METHODS + 1)]
    yield "characteristics", [
        {"id": (m - 1) * RESULTS_PER_SAMPLE + k + 1, "method_id": m,
         "name": f"特性 {m}-{k + 1}", "kind": "mass", "unit": "gram", "unit_text": "g"}
        for m in range(1, N_METHODS + 1) for k in range(RESULTS_PER_SAMPLE)]
    enterprises = [{"id": e, "name": f"企业{e}", "credit_code": f"91420100BENCH{e:05d}",
                    "address": "", "region_id": rng.choice(counties),
                    "category_id": rng.choice(leaves), "size": rng.choice(SIZES),
                    "created_at": t0} for e in range(1, N_ENTERPRISES + 1)]
    yield "enterprises", enterprises
    yield "spot_check_plans", [{"id": y + 1, "number": f"CJ{FIRST + y}", "year": FIRST + y,
                                "title": f"{FIRST + y} 年监督抽查", "authority": "湖北省市场监督管理局",
                                "budget_samples": N_SAMPLES, "created_by_id": 1,
                                "created_at": t0} for y in range(YEARS)]
    span = int((dt.datetime(FIRST + YEARS, 1, 1, tzinfo=dt.UTC) - t0).total_seconds())
    times = sorted(t0 + dt.timedelta(seconds=rng.randrange(span)) for _ in range(N_SAMPLES))
    chunk_size = 10_000
    sample_id = report_id = 0
    for start in range(0, N_SAMPLES, chunk_size):
        requests, samples, tasks, records, tests, results, reports = ([] for _ in range(7))
        for s in range(start, min(start + chunk_size, N_SAMPLES)):
            at = times[s]
            kind = "supervision" if rng.random() < 0.7 else rng.choice(TYPES)
            ent = enterprises[rng.randrange(N_ENTERPRISES)]
            outcome = _pick(rng, OUTCOMES) if rng.random() < 0.95 else None
            # A few of the unqualified are re-inspected: their own sample and report, whose
            # conclusion is final (about half overturn the verdict).
            again = outcome in ("nonconforming", "conditionally nonconforming") \
                and rng.random() < 0.2
            for n, (final_outcome, of) in enumerate(
                    [(outcome, None)] + ([(rng.choice(("conforming", "nonconforming")),
                                           sample_id + 1)] if again else [])):
                sample_id += 1
                sid = sample_id
                requests.append({"id": sid, "number": f"WT{at.year}-{sid:07d}",
                                 "customer_id": 1, "description": "", "created_at": at,
                                 "created_by_id": 1, "decision_rule": "simple",
                                 "inspection_type": kind, "product_standard": "",
                                 "customer_data": ""})
                samples.append({"id": sid, "number": f"YP{at.year}-{sid:07d}",
                                "request_id": sid, "description": "样品",
                                "status": "reported" if final_outcome else "in testing",
                                "registered_at": at + dt.timedelta(days=20 * n),
                                "sampled_on": (at + dt.timedelta(days=20 * n)).astimezone(
                                    ZONE).date(),
                                "registered_by_id": 1, "trademark": "", "model": "",
                                "batch": "", "quantity": "", "manufacturer": "",
                                "category_id": ent["category_id"], "reinspection_of_id": of})
                if kind == "supervision" and of is None:
                    tasks.append({"id": sid, "number": f"RW-{sid}", "plan_id": at.year - FIRST + 1,
                                  "enterprise_id": ent["id"], "category_id": ent["category_id"],
                                  "region_id": ent["region_id"], "inspector1_id": 1,
                                  "inspector2_id": 1, "status": "sampled", "created_at": at})
                    records.append({"id": sid, "number": f"CY-{sid}", "task_id": sid,
                                    "site": "仓库", "sampled_on": at.date(), "product_name": "产品",
                                    "base_quantity": "100", "sample_quantity": "4",
                                    "test_seal": f"T{sid}", "backup_seal": f"B{sid}",
                                    "representative": "张三", "request_id": sid,
                                    "sample_id": sid, "created_by_id": 1, "created_at": at})
                method = rng.randrange(1, N_METHODS + 1)
                tests.append({"id": sid, "sample_id": sid, "method_id": method})
                failing = final_outcome in ("nonconforming", "conditionally nonconforming")
                bad = {rng.randrange(RESULTS_PER_SAMPLE) for _ in range(rng.randint(1, 2))} \
                    if failing else set()
                for k in range(RESULTS_PER_SAMPLE):
                    results.append({
                        "id": (sid - 1) * RESULTS_PER_SAMPLE + k + 1, "test_id": sid,
                        "characteristic_id": (method - 1) * RESULTS_PER_SAMPLE + k + 1,
                        "version": 1, "is_current": True, "value": "1.00", "unit": "gram",
                        "unit_text": "g", "conformity": "fail" if k in bad else "pass",
                        "source": "manual", "measured_at": at, "recorded_at": at,
                        "recorded_by_id": 1})
                if final_outcome:
                    report_id += 1
                    withdrawn = rng.random() < 0.002
                    reports.append({"id": report_id, "number": f"BG-{report_id:07d}",
                                    "sample_id": sid, "kind": "test_report",
                                    "status": "withdrawn" if withdrawn else "issued",
                                    "issued_at": at + dt.timedelta(days=10 + 20 * n),
                                    "issued_by_id": 1, "sha256": "0" * 64, "size": 0,
                                    "content": "{}", "outcome": final_outcome})
        yield "test_requests", requests
        yield "samples", samples
        yield "sampling_tasks", tasks
        yield "sampling_records", records
        yield "sample_tests", tests
        yield "results", results
        yield "reports", reports


def load(engine: Engine) -> dict[str, int]:
    """Insert every generated row with Core executemany (bench/dataset.py's loader), the
    bench's own region tree in place of the one the migrations seed (0025)."""

    def rows(conn: Connection) -> dataset.Rows:
        categories = dict(conn.execute(select(ProductCategory.code, ProductCategory.id)).all())
        conn.execute(Model.metadata.tables["regions"].delete())
        yield from generate(categories)

    return dataset.bulk_load(engine, rows)


def sqlite_database() -> tuple[str, str]:
    """The cached SQLite database, built when missing; and what was done, for the log."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"passrates-v{DATA_VERSION}-{N_SAMPLES}-{dataset.head_revision()}.sqlite"
    if path.exists():
        return f"sqlite:///{path}", f"reused {path.name} (built earlier)"
    for stale in CACHE.glob(f"passrates-v*-{N_SAMPLES}-*.sqlite*"):
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
                                 f"({counts['results']:,} results), cached as {path.name}")


# The floors: the final-conclusion logic by hand, each in one statement. An original sample
# of the span; its final sample is its newest re-inspection, or itself; its class is that
# sample's issued test report's outcome. The year's floor groups by every dimension; the
# trend's by year and category only (what the trend needs), joining nothing else.
CLASS = """CASE WHEN p.outcome IN ('conforming', 'conditionally conforming') THEN 'q'
            WHEN p.outcome IN ('nonconforming', 'conditionally nonconforming') THEN 'u'
            WHEN p.outcome = 'data only' THEN 'd' ELSE 'p' END"""
FINAL = """LEFT JOIN (SELECT reinspection_of_id AS of, max(id) AS id FROM samples
           WHERE reinspection_of_id IS NOT NULL GROUP BY reinspection_of_id) a ON a.of = s.id
LEFT JOIN reports p ON p.sample_id = COALESCE(a.id, s.id)
    AND p.status = 'issued' AND p.kind = 'test_report'
WHERE s.reinspection_of_id IS NULL AND s.sampled_on >= :start AND s.sampled_on < :end"""
FLOOR_YEAR = f"""
SELECT s.category_id, t.region_id, e.size, r.inspection_type, {CLASS} AS class, count(*)
FROM samples s
JOIN test_requests r ON r.id = s.request_id
LEFT JOIN sampling_records sr ON sr.sample_id = s.id
LEFT JOIN sampling_tasks t ON t.id = sr.task_id
LEFT JOIN enterprises e ON e.id = t.enterprise_id
{FINAL}
GROUP BY 1, 2, 3, 4, 5
"""  # noqa: S608 - constants only
FLOOR_TREND = f"""
SELECT {{year}} AS year, s.category_id, {CLASS} AS class, count(*)
FROM samples s
{FINAL}
GROUP BY 1, 2, 3
"""  # noqa: S608 - constants only


def _year_case(first: int, last: int) -> str:
    """The year of sampled_on, as a CASE over the years' first days."""
    whens = " ".join(f"WHEN s.sampled_on < '{y + 1}-01-01' THEN {y}"
                     for y in range(first, last + 1))
    return f"CASE {whens} END"


def timed(label: str, run: Callable[[], Any], floor: Callable[[], Any]) -> None:
    """Median of RUNS after WARM warm-ups, each run paired with a floor run."""
    ours: list[float] = []
    ratios: list[float] = []
    floors: list[float] = []
    for n in range(WARM + RUNS):
        t0 = time.perf_counter()
        run()
        t1 = time.perf_counter()
        floor()
        t2 = time.perf_counter()
        if n >= WARM:
            ours.append(t1 - t0)
            floors.append(t2 - t1)
            ratios.append((t1 - t0) / max(t2 - t1, 1e-9))
    deciles = stats.quantiles(ratios, n=10)
    median = stats.median(ours)
    verdict = "ok" if median <= TARGET_S else "OVER"
    print(f"{label:38} median {median * 1000:7.1f} ms (target {TARGET_S * 1000:.0f}: "
          f"{verdict}); floor {stats.median(floors) * 1000:7.1f} ms; ratio "
          f"{stats.median(ratios):.2f} ({deciles[0]:.2f} … {deciles[-1]:.2f})")


def bench(label: str, url: str) -> None:
    engine = make_engine(url)
    session = Session(engine)
    year = FIRST + YEARS - 2
    start, end = dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    first_start, last_end = dt.date(FIRST, 1, 1), dt.date(FIRST + YEARS, 1, 1)
    one_year = text(FLOOR_YEAR)
    case = _year_case(FIRST, FIRST + YEARS - 1)
    if engine.dialect.name == "postgresql":  # compare dates with dates
        case = case.replace("' THEN", "'::date THEN")
    ten_years = text(FLOOR_TREND.format(year=case))
    rates = statistics.pass_rates(session, year=year, timezone=TZ)
    rows = session.execute(one_year, {"start": start, "end": end}).all()
    floor_total = sum(int(r[-1]) for r in rows)
    assert floor_total == rates.total.sampled, (floor_total, rates.total.sampled)  # noqa: S101
    print(f"[{label}] {year}: {rates.total.sampled:,} samples, pass rate "
          f"{rates.total.rate:.2f} %, {len(rates.unqualified_items)} items ranked")

    timed(f"[{label}] pass_rates({year}), all breakdowns",
          lambda: statistics.pass_rates(session, year=year, timezone=TZ),
          lambda: session.execute(one_year, {"start": start, "end": end}).all())
    years = range(FIRST, FIRST + YEARS)
    timed(f"[{label}] family_trend({FIRST}-{FIRST + YEARS - 1})",
          lambda: statistics.family_trend(session, years=years, timezone=TZ),
          lambda: session.execute(ten_years, {"start": first_start, "end": last_end}).all())
    session.close()
    engine.dispose()


def main() -> None:
    print(f"passrates: {N_SAMPLES:,} samples × {RESULTS_PER_SAMPLE} results over {YEARS} "
          f"years; median of {RUNS} runs after {WARM} warm-ups, the service in-process")
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
        print(f"[postgresql] data: loaded {counts['results']:,} results in "
              f"{time.perf_counter() - t0:.1f} s on a throwaway cluster")
        bench("postgresql", url)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
