"""Bulk import benchmark (issue 14): ``lims import samples`` against a bare Core floor, on
SQLite and PostgreSQL.

Each round generates a CSV of N legacy samples (``BENCH_IMPORT_ROWS``, default 20,000; one
request per 4 samples, 300 customers named by name, one method per sample) and writes it twice
into the same database, alternating, so that both meet tables of the same size:

- **import**: :func:`lims.imports.read.read_table`, :func:`lims.imports.check` (every row
  validated, duplicates against the file and the database) and :func:`lims.imports.write`
  (Core ``executemany`` in chunks of 1,000, the number series moved past the imported numbers,
  one audit event per request and per sample through :mod:`lims.audit.bulk`), one commit.
- **floor**: the same rows with bare libraries: ``csv.reader``, a dict from customer name to
  id, Core ``executemany`` of the same requests, samples, tests and audit events (each event's
  SHA-256 over the same canonical JSON with ``hashlib``), the head updated, one commit.

The ratio is floor time / import time per round (1.0: as fast as the floor), printed as the
median with its spread over ``BENCH_IMPORT_ROUNDS`` rounds (default 3). Target: >= 0.3. The
chain is verified at the end (both sides' events). Timings are printed, never asserted.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select, update  # noqa: E402

from lims.audit.models import AuditEvent, AuditHead  # noqa: E402
from lims.audit.services import verify_chain  # noqa: E402
from lims.auth.services import get_user  # noqa: E402
from lims.config import Settings  # noqa: E402
from lims.db import utcnow  # noqa: E402
from lims.imports import check, write  # noqa: E402
from lims.imports.read import read_table  # noqa: E402
from lims.migrate import upgrade  # noqa: E402
from lims.runtime import open_runtime  # noqa: E402
from lims.samples.models import Customer, Sample, SampleTest, TestRequest  # noqa: E402
from lims.samples.names import initials  # noqa: E402
from tests.support.postgres import Cluster, find_bindir  # noqa: E402
from tests.support.world import build_world  # noqa: E402

N = int(os.environ.get("BENCH_IMPORT_ROWS", "20000"))
ROUNDS = int(os.environ.get("BENCH_IMPORT_ROUNDS", "3"))
DATABASES = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
CUSTOMERS = 300
TARGET = 0.3
HEADER = ["样品编号", "委托编号", "委托单位", "样品名称", "状态", "收样日期", "检验方法", "规格型号"]


def make_csv(path: Path, prefix: str, method: str) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for i in range(N):
            day = dt.date(2020, 1, 1) + dt.timedelta(days=i % 1500)
            out.writerow([f"{prefix}YP-{i:07d}", f"{prefix}WT-{i // 4:07d}",
                          f"客户 {i // 4 % CUSTOMERS:04d} 有限公司", f"样品 {i}", "已出报告",
                          day.isoformat(), method, "M-1"])


def _json(value: Any) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, dt.datetime):
            return v.astimezone(dt.UTC).isoformat()
        if isinstance(v, dt.date):
            return v.isoformat()
        raise TypeError(v)

    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=plain)


def floor(rt: Any, path: Path, actor_id: int, actor: str, method_id: int) -> None:
    """The same rows as the import, written with bare Core and hashlib."""
    midnight = dt.time()
    zone = dt.timezone(dt.timedelta(hours=8))
    # The engine's own BEGIN (IMMEDIATE on SQLite for a write), as the import's transaction.
    with rt.engine.connect().execution_options(lims_write=True) as conn:
        customers = dict(conn.execute(select(Customer.name, Customer.id)).all())
        reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""))
        next(reader)
        requests: dict[str, dict[str, Any]] = {}
        samples = []
        for number, request, customer, name, _status, received, _method, model in reader:
            day = dt.datetime.combine(dt.date.fromisoformat(received), midnight, zone)
            requests.setdefault(request, {
                "number": request, "customer_id": customers[customer], "description": "",
                "created_at": day, "created_by_id": actor_id, "inspection_type": "commissioned",
                "product_standard": "", "customer_data": "", "decision_rule": "simple",
                "guard_factor": None})
            samples.append({"number": number, "request": request, "description": name,
                            "status": "reported", "registered_at": day, "received_at": day,
                            "reported_at": None, "sampled_on": day.date(), "category_id": None,
                            "conclusion": None, "acquisition": "delivered", "priority": "normal",
                            "trademark": "", "model": model, "batch": "", "quantity": "",
                            "manufacturer": "", "registered_by_id": actor_id})
        ids: dict[str, int] = {}
        req_rows = list(requests.values())
        table = TestRequest.__table__
        for i in range(0, len(req_rows), 1000):
            part = req_rows[i:i + 1000]
            got = conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                               part).scalars().all()
            ids.update(zip((r["number"] for r in part), got, strict=True))
        afters = [_json({**r, "id": ids[r["number"]]}) for r in req_rows]
        entity = [("request.import", "test_requests", r["number"]) for r in req_rows]
        table = Sample.__table__
        for i in range(0, len(samples), 1000):
            part = [{k: v for k, v in s.items() if k != "request"}
                    | {"request_id": ids[s["request"]]} for s in samples[i:i + 1000]]
            got = conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                               part).scalars().all()
            conn.execute(insert(SampleTest.__table__),
                         [{"sample_id": sid, "method_id": method_id} for sid in got])
            afters += [_json({**s, "id": sid}) for s, sid in zip(part, got, strict=True)]
            entity += [("sample.import", "samples", s["number"]) for s in part]
        seq, prev = conn.execute(select(AuditHead.seq, AuditHead.hash)).one()
        at = utcnow()
        events = []
        for (action, kind, eid), after in zip(entity, afters, strict=True):
            seq += 1
            body = {"seq": seq, "at": at.isoformat(), "actor_id": actor_id, "actor": actor,
                    "action": action, "entity_type": kind, "entity_id": eid, "before": None,
                    "after": after, "reason": None, "prev_hash": prev}
            digest = hashlib.sha256(_json(body).encode()).hexdigest()
            events.append({**body, "at": at, "hash": digest})
            prev = digest
        for i in range(0, len(events), 1000):
            conn.execute(insert(AuditEvent.__table__), events[i:i + 1000])
        conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))
        conn.commit()


def through_import(rt: Any, path: Path, username: str) -> None:
    table = read_table(path)
    with rt.transaction() as session:
        actor = get_user(session, username)
        checked = check(session, "samples", table, rt.settings)
        if not checked.ok:
            raise SystemExit("\n".join(str(p) for p in checked.problems[:10]))
        write(session, checked, actor=actor, settings=rt.settings)


def run(url: str, tmp: Path) -> list[float]:
    upgrade(url)
    rt = open_runtime(Settings(instance_path=tmp, database_url=url, secret_key="bench"))
    try:
        with rt.transaction() as session:
            build_world(session)
            method = "GB/T 4669-2008"
            session.execute(insert(Customer.__table__), [
                {"name": f"客户 {i:04d} 有限公司", "name_initials": initials(f"客户 {i:04d}"),
                 "credit_code": "", "version": 1, "created_at": utcnow()}
                for i in range(CUSTOMERS)])
        with rt.session() as session:
            tech = get_user(session, "tech")
            assert tech is not None
            actor_id = tech.id
            from lims.samples.models import TestMethod

            method_id = session.scalar(select(TestMethod.id).where(TestMethod.code == method))
        ratios = []
        for r in range(ROUNDS + 1):  # round 0 warms both paths up, outside the figures
            a, b = tmp / f"import{r}.csv", tmp / f"floor{r}.csv"
            make_csv(a, f"I{r}-", method)
            make_csv(b, f"F{r}-", method)
            t = time.perf_counter()
            floor(rt, b, actor_id, "tech", int(method_id or 0))
            floor_s = time.perf_counter() - t
            t = time.perf_counter()
            through_import(rt, a, "tech")
            import_s = time.perf_counter() - t
            if r:
                ratios.append(floor_s / import_s)
                print(f"  round {r}: import {import_s:6.2f} s ({N / import_s:7,.0f} rows/s), "
                      f"floor {floor_s:6.2f} s, ratio {floor_s / import_s:.2f}")
        with rt.session() as session:
            verdict = verify_chain(session)
            print(f"  audit chain after {verdict.count:,} events: "
                  f"{'ok' if verdict.ok else 'BROKEN: ' + verdict.message}")
        return ratios
    finally:
        rt.dispose()


def report(name: str, ratios: list[float]) -> None:
    median = statistics.median(ratios)
    print(f"bulk import on {name:<10}: {N:,} samples, ratio to the Core floor median {median:.2f} "
          f"(spread {min(ratios):.2f}–{max(ratios):.2f}, {len(ratios)} rounds) "
          f"[target >= {TARGET}: {'met' if median >= TARGET else 'NOT met'}]")


def main() -> None:
    print(f"[bulk import] {N:,} samples per file, {ROUNDS} rounds each way")
    if "sqlite" in DATABASES:
        tmp = Path(tempfile.mkdtemp(prefix="lims-bench-import-"))
        report("SQLite", run(f"sqlite:///{tmp / 'lims.sqlite'}", tmp))
    if "postgresql" in DATABASES:
        bindir = find_bindir()
        if bindir is None:
            print("[bulk import] PostgreSQL skipped: no PostgreSQL binaries (pg_ctl) here")
            return
        cluster = Cluster(bindir).start()
        try:
            report("PostgreSQL", run(cluster.url(), Path(tempfile.mkdtemp(
                prefix="lims-bench-import-pg-"))))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
