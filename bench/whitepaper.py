"""White paper benchmark (issue 13 §5): the annual quality white paper for one year in <= 10 s,
on SQLite and on PostgreSQL.

The data: ``BENCH_WP_SAMPLES`` (default 50,000) supervision samples over five years
(2021–2025), each with its sampling task and record, one result and an issued test report
(about 4 % unqualified, with one of five failing characteristics), over 2,000 enterprises in
18 regions and every category of the catalogue; notices for a tenth of the unqualified, an
objection for a fifth of those and a re-inspection for half of the objections; 40 standards
with their calibration records. Loaded with Core bulk inserts, self-contained (it does not
share bench/passrates.py's data).

Timed: :func:`lims.supervision.whitepaper.issue` for 2025 (the statistics queries, the trend
over the five years, the activity and capacity counts, rendering, signing with the lab key
and storing the row with its audit event), median of ``RUNS``. The floor: reportlab rendering
the same figures without the database, plus the same signature. Printed: the median against
the 10 s target and the ratio to the floor. Never asserted: machines are shared.
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

from sqlalchemy import Engine, event, insert, select, text  # noqa: E402

import lims.models  # noqa: E402, F401 - registers every table on the metadata
from lims import create_app  # noqa: E402
from lims.config import Settings  # noqa: E402
from lims.db import Model, make_engine, unit_of_work  # noqa: E402
from lims.migrate import upgrade  # noqa: E402
from lims.reports.fonts import default_font_dir, ensure_fonts  # noqa: E402
from lims.reports.pki import create_dev_pki  # noqa: E402
from lims.samples.models import ProductCategory  # noqa: E402
from tests.support.postgres import Cluster, find_bindir  # noqa: E402

SEED = 20261127
N_SAMPLES = int(os.environ.get("BENCH_WP_SAMPLES", "50000"))
DATABASES = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
YEARS = (2021, 2022, 2023, 2024, 2025)
YEAR = 2025
N_ENTERPRISES, N_STANDARDS = 2000, 40
RUNS, WARM = 5, 1
TARGET_S = 10.0
ITEMS = ("甲醛含量 Formaldehyde", "pH 值", "纤维含量 Fibre content", "绳带 Cords and drawstrings",
         "菌落总数 Total plate count")
PREFECTURES = (("420100", "武汉市", "Wuhan"), ("420200", "黄石市", "Huangshi"),
               ("420500", "宜昌市", "Yichang"), ("420600", "襄阳市", "Xiangyang"),
               ("420700", "鄂州市", "Ezhou"), ("421000", "荆州市", "Jingzhou"))


def generate(categories: list[int]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Every row, table by table in foreign-key order; deterministic (seeded)."""
    rng = random.Random(SEED)  # noqa: S311 - reproducible data, not secrets
    t0 = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
    yield "users", [{"id": 1, "username": "bench-wp", "full_name": "Bench", "password_hash": "!",
                     "active": True, "created_at": t0}]
    yield "customers", [{"id": 1, "name": "湖北省市场监督管理局", "name_initials": "hbsscjdglj",
                         "contact": "", "address": "", "created_at": t0}]
    yield "test_methods", [{"id": 1, "code": "GB 18401-2010", "title": "纺织品安全", "clause": "",
                            "field": "bench", "created_at": t0}]
    yield "characteristics", [{"id": i + 1, "method_id": 1, "name": name, "kind": "dimensionless",
                               "unit": "dimensionless", "unit_text": ""}
                              for i, name in enumerate(ITEMS)]
    regions = [{"id": 1, "code": "420000", "name_zh": "湖北省", "name_en": "Hubei",
                "level": "province", "parent_id": None}]
    for p, (code, zh, en) in enumerate(PREFECTURES):
        regions.append({"id": 2 + p, "code": code, "name_zh": zh, "name_en": en,
                        "level": "prefecture", "parent_id": 1})
    counties = []
    for p, (code, zh, en) in enumerate(PREFECTURES):
        for c in (1, 2):
            rid = 100 + 2 * p + c
            counties.append(rid)
            regions.append({"id": rid, "code": f"{code[:4]}0{c}", "name_zh": f"{zh}第{c}区",
                            "name_en": f"{en} district {c}", "level": "county",
                            "parent_id": 2 + p})
    yield "regions", regions
    sizes = ("large", "medium", "small", "micro")
    enterprises = [{"id": e, "name": f"企业{e}", "credit_code": f"91420100BENCH{e:05d}",
                    "address": "", "region_id": rng.choice(counties),
                    "category_id": rng.choice(categories), "size": rng.choice(sizes),
                    "created_at": t0} for e in range(1, N_ENTERPRISES + 1)]
    yield "enterprises", enterprises
    yield "spot_check_plans", [{"id": i + 1, "number": f"CJ{y}-001", "year": y,
                                "title": f"{y} 年湖北省产品质量监督抽查计划",
                                "authority": "湖北省市场监督管理局", "sampling_method": "",
                                "budget_samples": N_SAMPLES // len(YEARS), "exclusion_months": 12,
                                "status": "closed", "created_at": t0, "created_by_id": 1}
                               for i, y in enumerate(YEARS)]
    span = len(YEARS) * 365 * 24 * 3600
    times = sorted(t0 + dt.timedelta(seconds=rng.randrange(span)) for _ in range(N_SAMPLES))
    firms = [rng.choice(enterprises) for _ in range(N_SAMPLES)]
    failing = [rng.random() < 0.04 for _ in range(N_SAMPLES)]
    yield "test_requests", [{"id": s + 1, "number": f"JD{s + 1:07d}", "customer_id": 1,
                             "description": "", "created_at": times[s], "created_by_id": 1,
                             "decision_rule": "simple", "inspection_type": "supervision",
                             "product_standard": "", "customer_data": ""}
                            for s in range(N_SAMPLES)]
    yield "samples", [{"id": s + 1, "number": f"JD{s + 1:07d}", "request_id": s + 1,
                       "description": "监督抽查样品", "status": "reported",
                       "registered_at": times[s], "sampled_on": times[s].date(),
                       "registered_by_id": 1, "trademark": "",
                       "model": "", "batch": "", "quantity": "", "manufacturer": "",
                       "category_id": firms[s]["category_id"]} for s in range(N_SAMPLES)]
    yield "sampling_tasks", [{"id": s + 1, "number": f"RW{s + 1:07d}",
                              "plan_id": YEARS.index(times[s].year) + 1,
                              "enterprise_id": firms[s]["id"],
                              "category_id": firms[s]["category_id"],
                              "region_id": firms[s]["region_id"], "inspector1_id": 1,
                              "inspector2_id": 1, "status": "sampled", "created_at": times[s]}
                             for s in range(N_SAMPLES)]
    yield "sampling_records", [{"id": s + 1, "number": f"CY{s + 1:07d}", "task_id": s + 1,
                                "site": "成品仓库", "sampled_on": times[s].date(),
                                "product_name": "产品", "base_quantity": "100",
                                "sample_quantity": "4", "test_seal": f"T{s}",
                                "backup_seal": f"B{s}", "representative": "张三",
                                "request_id": s + 1, "sample_id": s + 1,
                                "created_at": times[s], "created_by_id": 1}
                               for s in range(N_SAMPLES)]
    yield "sample_tests", [{"id": s + 1, "sample_id": s + 1, "method_id": 1}
                           for s in range(N_SAMPLES)]
    yield "results", [{"id": s + 1, "test_id": s + 1,
                       "characteristic_id": rng.randrange(1, len(ITEMS) + 1) if failing[s] else 1,
                       "version": 1, "is_current": True, "value": "1", "unit": "dimensionless",
                       "unit_text": "", "source": "manual", "measured_at": times[s],
                       "recorded_at": times[s], "recorded_by_id": 1,
                       "conformity": "fail" if failing[s] else "pass"}
                      for s in range(N_SAMPLES)]
    yield "reports", [{"id": s + 1, "number": f"BG{s + 1:07d}", "sample_id": s + 1,
                       "status": "issued", "issued_at": times[s] + dt.timedelta(days=10),
                       "issued_by_id": 1, "sha256": "0" * 64, "size": 0, "content": "{}",
                       "pdf": b"", "kind": "test_report",
                       "outcome": "nonconforming" if failing[s] else "conforming"}
                      for s in range(N_SAMPLES)]
    # Notices for a tenth of the unqualified, objections for a fifth of those, re-inspections
    # (new samples, registered a month later) for half of the objections, half overturning.
    unqualified = [s for s in range(N_SAMPLES) if failing[s]][::10]
    yield "result_notices", [{"id": n + 1, "number": f"TZ{n + 1:06d}", "sample_id": s + 1,
                              "report_id": s + 1, "objection_rule": "product",
                              "issued_at": times[s] + dt.timedelta(days=12), "issued_by_id": 1,
                              "sha256": "0" * 64, "size": 0, "content": "{}", "pdf": b"",
                              "delivered_on": (times[s] + dt.timedelta(days=14)).date()}
                             for n, s in enumerate(unqualified)]
    objected = list(enumerate(unqualified))[::5]
    again = []
    objections = []
    for k, (n, s) in enumerate(objected):
        re_id = N_SAMPLES + k + 1 if k % 2 == 0 else None
        objections.append({"id": k + 1, "notice_id": n + 1,
                           "received_on": (times[s] + dt.timedelta(days=20)).date(),
                           "applicant": "企业", "grounds": "异议", "status":
                           "accepted" if re_id else "rejected", "created_at": times[s],
                           "created_by_id": 1, "reinspection_sample_id": re_id})
        if re_id:
            again.append((re_id, s, times[s] + dt.timedelta(days=30), k % 4 == 0))
    yield "test_requests", [{"id": r, "number": f"FJ{r:07d}", "customer_id": 1,
                             "description": "", "created_at": at, "created_by_id": 1,
                             "decision_rule": "simple", "inspection_type": "supervision",
                             "product_standard": "", "customer_data": ""}
                            for r, _s, at, _ok in again]
    yield "samples", [{"id": r, "number": f"FJ{r:07d}", "request_id": r,
                       "description": "复检样品", "status": "reported", "registered_at": at,
                       "sampled_on": times[s].date(),
                       "registered_by_id": 1, "trademark": "", "model": "", "batch": "",
                       "quantity": "", "manufacturer": "", "category_id": firms[s]["category_id"],
                       "reinspection_of_id": s + 1} for r, s, at, _ok in again]
    yield "reports", [{"id": r, "number": f"FJBG{r:07d}", "sample_id": r, "status": "issued",
                       "issued_at": at + dt.timedelta(days=5), "issued_by_id": 1,
                       "sha256": "0" * 64, "size": 0, "content": "{}", "pdf": b"",
                       "kind": "test_report", "outcome": "conforming" if ok else "nonconforming"}
                      for r, _s, at, ok in again]
    yield "objections", objections
    yield "instruments", [{"id": i, "asset_number": f"BZ-{i:03d}", "name": "标准器",
                           "port_settings": {}, "created_at": t0,
                           "role": "reference standard" if i % 2 else "working standard"}
                          for i in range(1, N_STANDARDS + 1)]
    yield "calibration_providers", [{"id": 1, "name": "湖北省计量测试技术研究院", "kind": "external",
                                     "created_at": t0}]
    yield "calibration_records", [{"id": n + 1, "instrument_id": i, "provider_id": 1,
                                   "certificate_number": f"JZ{y}-{i:03d}",
                                   "calibrated_on": dt.date(y, 3, 1),
                                   "valid_until": dt.date(y + 1, 2, 28), "source": "typed",
                                   "recorded_at": t0}
                                  for n, (i, y) in enumerate((i, y) for y in YEARS
                                                              for i in range(1, N_STANDARDS + 1))]


def load(engine: Engine) -> int:
    """Insert the rows with Core executemany; the number of samples."""
    tables = Model.metadata.tables
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _fast(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA synchronous=OFF")

    with engine.connect() as conn:
        categories = list(conn.scalars(select(ProductCategory.id)
                                       .where(ProductCategory.parent_id.is_not(None))))
    names: set[str] = set()
    with engine.begin() as conn:
        # The bench's own region tree replaces the one the migrations seed (0025).
        conn.execute(tables["regions"].delete())
        for name, rows in generate(categories):
            for start in range(0, len(rows), 20_000):
                conn.execute(insert(tables[name]), rows[start:start + 20_000])
            names.add(name)
        if engine.dialect.name == "postgresql":
            for name in names:  # explicit ids: move the sequences past them
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608
                                  f"(SELECT max(id) FROM {name}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE)" if engine.dialect.name == "postgresql"
                          else "ANALYZE"))
    return N_SAMPLES


def bench(label: str, url: str, tmp: Path) -> None:
    from lims.reports.sign import load_signer, load_stamping, sign_pdf
    from lims.supervision import whitepaper
    from lims.supervision.whitepaper_render import render

    pki = tmp / "pki"
    if not pki.exists():
        create_dev_pki(pki, lab_name="Bench Lab")
    settings = Settings(instance_path=tmp, database_url=url, secret_key="bench",
                        signing_pkcs12=str(pki / "signer.p12"),
                        signing_passphrase=(pki / "signer.pass").read_text(),
                        font_dir=str(ensure_fonts(default_font_dir())["Regular"].parent))
    app = create_app(settings)
    session = app.extensions["lims"].sessionmaker()
    times: list[float] = []
    for n in range(WARM + RUNS):
        t0 = time.perf_counter()
        with unit_of_work(session):
            paper = whitepaper.issue(session, actor=None, year=YEAR, settings=settings)
            size, figures_json = paper.size, paper.figures
        if n >= WARM:
            times.append(time.perf_counter() - t0)
    fig = whitepaper.Figures.from_json(figures_json)
    # The floor: the same figures rendered without the database, and the same signature.
    signer = load_signer(settings.signing_pkcs12, settings.signing_passphrase)
    stamping = load_stamping(settings.signing_pkcs12)
    floor: list[float] = []
    for n in range(WARM + RUNS):
        t0 = time.perf_counter()
        sign_pdf(render(fig, font_dir=settings.font_path), signer, reason="r", location="l",
                 timestamper=stamping.timestamper, crls=stamping.crls)
        if n >= WARM:
            floor.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    whitepaper.figures(session, year=YEAR, settings=settings)
    counting = time.perf_counter() - t0
    session.close()
    app.extensions["lims"].engine.dispose()
    median, base = statistics.median(times), statistics.median(floor)
    total = fig.rates["total"]
    print(f"[{label}] white paper {YEAR} ({total['sampled']:,} samples of the year, "
          f"{len(fig.trend.get('FOOD', []))} years of trend, {size:,} bytes): median "
          f"{median:.2f} s (target {TARGET_S:.0f} s: {'ok' if median <= TARGET_S else 'OVER'}); "
          f"floor (render + sign, no database) {base:.2f} s, ratio {median / base:.2f}; "
          f"the figures alone {counting:.2f} s")


def main() -> None:
    print(f"white paper: {N_SAMPLES:,} supervision samples over {len(YEARS)} years; median of "
          f"{RUNS} issues after {WARM} warm-up")
    with tempfile.TemporaryDirectory(prefix="lims-bench-wp-") as name:
        tmp = Path(name)
        if "sqlite" in DATABASES:
            url = f"sqlite:///{tmp / 'wp.sqlite'}"
            t0 = time.perf_counter()
            upgrade(url)
            engine = make_engine(url)
            load(engine)
            engine.dispose()
            print(f"[sqlite] data: loaded in {time.perf_counter() - t0:.1f} s")
            bench("sqlite", url, tmp)
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
            load(engine)
            engine.dispose()
            print(f"[postgresql] data: loaded in {time.perf_counter() - t0:.1f} s on a "
                  "throwaway cluster")
            bench("postgresql", url, tmp)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
