"""Ingestion benchmark (issue 12 §4): readings stored per second through
``POST /api/v1/readings/batch`` in batches of 500, on SQLite and PostgreSQL, against a floor
measured in the same run: the same rows inserted into the same table with the raw DBAPI's
``executemany``, one transaction per batch of 500, on the app's own engine (same pragmas).

The API's path adds what the floor skips: HTTP handling (Flask's test client, in process),
the agent's token check, JSON parsing, validation of every field of every reading (time,
base64, bounds), the ownership check and ``INSERT … ON CONFLICT DO NOTHING RETURNING``.
Request bodies are serialised before the clock starts (that is the agent's work). Floor and
API batches alternate, so both meet a table of the same size. Target: API >= 0.3x the floor.

``BENCH_READINGS`` sets how many readings each side stores (default 50,000) and
``BENCH_DATABASES`` the databases (default ``sqlite,postgresql``). Timings are printed, never
asserted: machines are shared.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lims import create_app  # noqa: E402
from lims.auth.services import get_user  # noqa: E402
from lims.config import Settings  # noqa: E402
from lims.db import unit_of_work  # noqa: E402
from lims.migrate import upgrade  # noqa: E402
from lims.readings.services import register_agent  # noqa: E402
from tests.support.postgres import Cluster, find_bindir  # noqa: E402
from tests.support.world import build_world  # noqa: E402

BATCH = 500
N_READINGS = int(os.environ.get("BENCH_READINGS", "50000"))
DATABASES = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
TARGET = 0.3
T0 = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
COLUMNS = ("agent_id", "seq", "instrument_id", "read_at", "received_at", "value", "unit",
           "stable", "status", "error", "raw")


def readings(n: int) -> list[dict[str, Any]]:
    """A balance in SIR mode at 10 readings/s: MT-SICS lines, one in 50 unstable."""
    out = []
    for seq in range(1, n + 1):
        value = f"{100 + (seq % 997) / 10000:.4f}"
        stable = seq % 50 != 0
        raw = f"S {'S' if stable else 'D'} {value:>10} g".encode()
        out.append({"seq": seq, "asset": "EQ-1",
                    "read_at": (T0 + dt.timedelta(milliseconds=100 * seq)).isoformat(),
                    "value": value, "unit": "g", "stable": stable, "status": "ok",
                    "error": None, "raw": base64.b64encode(raw).decode("ascii")})
    return out


def floor_rows(batch: list[dict[str, Any]], agent_id: int, instrument_id: int,
               dialect: str) -> list[tuple[Any, ...]]:
    """The rows the API stores for ``batch``, as the DBAPI takes them (SQLite: the text form
    SQLAlchemy writes for a UTC datetime)."""
    now = dt.datetime.now(dt.UTC)

    def when(t: dt.datetime) -> Any:
        if dialect == "sqlite":
            return t.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        return t

    received = when(now)
    return [(agent_id, r["seq"], instrument_id, when(dt.datetime.fromisoformat(r["read_at"])),
             received, r["value"], r["unit"], r["stable"], r["status"], r["error"],
             base64.b64decode(r["raw"])) for r in batch]


def run(url: str, tmp: Path) -> tuple[float, float]:
    """Readings/s through the API and through the floor, on the database at ``url``."""
    upgrade(url)
    app = create_app(Settings(instance_path=tmp, database_url=url, secret_key="bench"))
    try:
        runtime = app.extensions["lims"]
        session = runtime.sessionmaker()
        with unit_of_work(session):
            world = build_world(session)
            admin = get_user(session, "admin")
            _, token = register_agent(session, actor=admin, name="bench-api", assets=["EQ-1"])
            # The floor writes as another agent into the same table (its own seqs).
            floor_agent, _ = register_agent(session, actor=admin, name="bench-floor",
                                            assets=["EQ-2"])
            floor_id = floor_agent.id
        session.close()
        data = readings(N_READINGS)
        batches = [data[i:i + BATCH] for i in range(0, len(data), BATCH)]
        bodies = [json.dumps({"readings": b}).encode() for b in batches]
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        engine = runtime.engine
        dialect = engine.dialect.name
        mark = "?" if dialect == "sqlite" else "%s"
        sql = (f"INSERT INTO readings ({', '.join(COLUMNS)}) "  # noqa: S608 - our own names
               f"VALUES ({', '.join([mark] * len(COLUMNS))})")
        raw = engine.raw_connection()
        api_s = floor_s = 0.0
        try:
            # Warm both paths (first-use imports, statement caches) outside the clock.
            client.post("/api/v1/readings/batch", data=bodies[0], headers=headers)
            for i, (batch, body) in enumerate(zip(batches, bodies, strict=True)):
                rows = floor_rows(batch, floor_id, world.overdue_id, dialect)
                t = time.perf_counter()
                cursor = raw.cursor()
                if dialect == "sqlite":  # the app's connections leave BEGIN to their user
                    cursor.execute("BEGIN IMMEDIATE")
                cursor.executemany(sql, rows)
                raw.commit()
                floor_s += time.perf_counter() - t
                cursor.close()
                t = time.perf_counter()
                resp = client.post("/api/v1/readings/batch", data=body, headers=headers)
                api_s += time.perf_counter() - t
                expected = 0 if i == 0 else len(batch)  # batch 0 was stored by the warm-up
                if resp.status_code != 200 or resp.get_json()["stored"] != expected:
                    raise SystemExit(f"batch {i}: {resp.status_code} {resp.get_data()[:300]!r}")
        finally:
            raw.close()
        n = len(data)
        return n / api_s, n / floor_s
    finally:
        app.extensions["lims"].engine.dispose()


def report(name: str, api: float, floor: float) -> None:
    ratio = api / floor
    print(f"ingest on {name:<10}: API {api:>9,.0f} readings/s, floor (executemany) "
          f"{floor:>9,.0f} readings/s, ratio {ratio:.2f} "
          f"[target >= {TARGET}: {'met' if ratio >= TARGET else 'NOT met'}]")


def main() -> None:
    print(f"[ingest] {N_READINGS:,} readings each way, batches of {BATCH}")
    if "sqlite" in DATABASES:
        tmp = Path(tempfile.mkdtemp(prefix="lims-bench-ingest-"))
        report("SQLite", *run(f"sqlite:///{tmp / 'lims.sqlite'}", tmp / "instance"))
    if "postgresql" in DATABASES:
        bindir = find_bindir()
        if bindir is None:
            print("[ingest] PostgreSQL skipped: no PostgreSQL binaries (pg_ctl) here")
            return
        cluster = Cluster(bindir).start()
        try:
            tmp = Path(tempfile.mkdtemp(prefix="lims-bench-ingest-pg-"))
            report("PostgreSQL", *run(cluster.url(), tmp))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
