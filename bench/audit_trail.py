"""Benchmark: the audit trail at 1,000,000 events, on SQLite and PostgreSQL (issue 14).

On the shared dataset (bench/dataset.py: 100,000 samples, ~1,000,000 events forming a valid
hash chain), measured in the same run:

(a) "events of sample X": ``lims.audit.trail.search`` with ``Filters(number=…)`` (the sample's
    own events and those of its tests, results and report), page 1 with its total, over 20
    samples spread over the four years. Target: median <= 20 ms. The plans of its statements on
    ``audit_events`` are printed (EXPLAIN): an index, never a scan of the table.
(b) the whole walk of ``verify_chain`` against a floor doing the same walk with the bare
    driver (sqlite3 / psycopg), hashlib and the same canonical JSON (``json.dumps`` with sorted
    keys, compact separators, UTF-8), in keyset batches of the same size. Printed as the floor's
    time over ours (the speed relative to the floor; target >= 0.7) with its spread.
(c) the nightly, incremental check: ``checkpoints.verify(since_checkpoint=True)`` with a
    signed checkpoint covering all but the last day's events, against the floor walking the
    same events.

Spread: the 10th … 90th percentile of the paired runs (min … max for the few whole walks).
Timings are printed, never asserted: machines are shared. ``BENCH_DATABASES`` chooses the
databases (default ``sqlite,postgresql``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import sqlite3
import statistics as stats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, event, func, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench import dataset  # noqa: E402
from lims.audit import checkpoints, trail  # noqa: E402
from lims.audit.models import AuditEvent  # noqa: E402
from lims.audit.services import GENESIS, verify_chain  # noqa: E402
from lims.config import Settings  # noqa: E402
from lims.db import make_engine, utcnow  # noqa: E402

DATABASES = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
TZ = "Asia/Shanghai"
SAMPLES, SEARCH_RUNS = 20, 5
WALK_RUNS = 3
DAY_RUNS = 9
BATCH = 10_000
TARGET_SEARCH_MS, TARGET_WALK = 20.0, 0.7


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    if len(values) >= 5:
        deciles = stats.quantiles(values, n=10)
        low, high = deciles[0], deciles[-1]
    else:
        low, high = min(values), max(values)
    return f"{fmt.format(low)} … {fmt.format(high)}"


# --- the floor: the same walk with the bare driver -----------------------------------------

def _floor_rows(raw: Any, sqlite_: bool, after: int, batch: int) -> list[tuple[Any, ...]]:
    mark = "?" if sqlite_ else "%s"
    cur = raw.cursor()
    cur.execute("SELECT seq, id, at, actor_id, actor, action, entity_type, entity_id, before, "  # noqa: S608
                f"after, reason, prev_hash, hash FROM audit_events WHERE seq > {mark} "
                f"ORDER BY seq LIMIT {batch}", (after,))
    rows: list[tuple[Any, ...]] = cur.fetchall()
    cur.close()
    return rows


def floor_walk(raw: Any, sqlite_: bool, after: int = 0, prev: str = GENESIS,
               batch: int = BATCH) -> int:
    """Walk from event ``after`` + 1 (whose predecessor's hash is ``prev``) to the end; return
    the events walked. Raises on the first event that does not fit."""
    dumps, sha256, utc = json.dumps, hashlib.sha256, dt.UTC
    fromiso = dt.datetime.fromisoformat
    expected, count = after + 1, 0
    while True:
        rows = _floor_rows(raw, sqlite_, expected - 1, batch)
        for seq, _id, at, actor_id, actor, action, etype, eid, before, after_, reason, p, h in rows:
            at = fromiso(at).replace(tzinfo=utc) if sqlite_ else at.astimezone(utc)
            body = {"seq": seq, "at": at.isoformat(), "actor_id": actor_id, "actor": actor,
                    "action": action, "entity_type": etype, "entity_id": eid,
                    "before": before, "after": after_, "reason": reason, "prev_hash": p}
            digest = sha256(dumps(body, sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=False).encode("utf-8")).hexdigest()
            if seq != expected or p != prev or digest != h:
                raise SystemExit(f"floor: event {seq} does not fit")
            prev, expected, count = h, expected + 1, count + 1
        if len(rows) < batch:
            return count


def raw_connection(url: str) -> tuple[Any, bool]:
    if url.startswith("sqlite"):
        return sqlite3.connect(url.removeprefix("sqlite:///")), True
    import psycopg
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")), False


# --- (a) the events of one sample ----------------------------------------------------------

@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, sql: str, params: Any, *_a: Any) -> None:
        seen.append((sql, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def explain(session: Session, number: str) -> list[str]:
    """The plan of each statement of one search that reads audit_events, condensed."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)  # noqa: S101
    with captured(engine) as seen:
        trail.search(session, trail.Filters(number=number), timezone=TZ)
    plans = []
    raw = engine.raw_connection()
    try:
        for sql, params in seen:
            if "audit_events" not in sql or "audit_head" in sql:
                continue
            cur = raw.cursor()
            if engine.dialect.name == "sqlite":
                cur.execute("EXPLAIN QUERY PLAN " + sql, params)
                lines = [r[-1] for r in cur.fetchall()]
            else:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
                lines = [r[0].strip() for r in cur.fetchall()]
            cur.close()
            scan = any(("SCAN audit_events" in ln and "USING" not in ln)
                       or "Seq Scan on audit_events" in ln for ln in lines)
            head = " ".join(sql.split())[:70]
            plans.append(f"    {'SCAN!' if scan else 'index'}  {head}…")
            plans.extend(f"        {ln}" for ln in lines[:8])
    finally:
        raw.close()
    return plans


def bench_search(label: str, session: Session) -> None:
    top = session.scalar(select(func.max(text("id"))).select_from(text("samples"))) or 1
    rng = random.Random(14)  # noqa: S311 - reproducible choice, not secrets
    ids = sorted(rng.sample(range(1, top + 1), min(SAMPLES, top)))
    chosen = f"SELECT number FROM samples WHERE id IN ({','.join(map(str, ids))})"  # noqa: S608
    numbers = list(session.scalars(text(chosen)))
    times, found = [], []
    trail.search(session, trail.Filters(number=numbers[0]), timezone=TZ)  # warm
    for number in numbers:
        for _ in range(SEARCH_RUNS):
            session.rollback()
            t0 = time.perf_counter()
            page = trail.search(session, trail.Filters(number=number), timezone=TZ)
            times.append((time.perf_counter() - t0) * 1000)
        found.append(page.total)
    median = stats.median(times)
    verdict = "ok" if median <= TARGET_SEARCH_MS else "OVER"
    print(f"[{label}] (a) events of sample X: median {median:.1f} ms ({spread(times, '{:.1f}')}"
          f" ms) over {len(numbers)} samples × {SEARCH_RUNS} [target <= {TARGET_SEARCH_MS:.0f} ms:"
          f" {verdict}]; {min(found)}-{max(found)} events each")
    for line in explain(session, numbers[len(numbers) // 2]):
        print(line)


# --- (b) the whole walk, (c) the day since a checkpoint ------------------------------------

def bench_walk(label: str, url: str, session: Session) -> int:
    raw, is_sqlite = raw_connection(url)
    floor_walk(raw, is_sqlite)  # warm the cache for both
    ours, floors, ratios = [], [], []
    count = 0
    for _ in range(WALK_RUNS):
        session.rollback()
        t0 = time.perf_counter()
        verdict = verify_chain(session, batch=BATCH)
        t1 = time.perf_counter()
        count = floor_walk(raw, is_sqlite)
        t2 = time.perf_counter()
        if not verdict.ok or verdict.count != count:
            raise SystemExit(f"[{label}] verify_chain: {verdict}")
        ours.append(t1 - t0)
        floors.append(t2 - t1)
        ratios.append((t2 - t1) / (t1 - t0))
    raw.close()
    median = stats.median(ratios)
    verdict_ = "ok" if median >= TARGET_WALK else "UNDER"
    print(f"[{label}] (b) verify_chain, whole walk of {count:,} events: median "
          f"{stats.median(ours):.1f} s ({count / stats.median(ours):,.0f} events/s); floor "
          f"(driver+hashlib+JSON) {stats.median(floors):.1f} s; speed vs floor {median:.2f} "
          f"({spread(ratios)}) [target >= {TARGET_WALK}: {verdict_}]")
    return count


def _checkpoint_settings(tmp: Path, url: str) -> Settings:
    from lims.reports.pki import create_dev_pki

    if not (tmp / "pki" / "signer.p12").exists():
        create_dev_pki(tmp / "pki", lab_name="Bench Lab")
    return Settings(instance_path=tmp / "instance", database_url=url, secret_key="bench",
                    signing_pkcs12=str(tmp / "pki" / "signer.p12"),
                    signing_passphrase=(tmp / "pki" / "signer.pass").read_text())


def bench_day(label: str, url: str, session: Session) -> None:
    """A signed checkpoint at the last event more than a day old, then the nightly check."""
    from lims.reports.sign import load_signer

    last_at = session.scalar(select(func.max(AuditEvent.at)))
    assert last_at is not None  # noqa: S101
    seq, digest, at = session.execute(
        select(AuditEvent.seq, AuditEvent.hash, AuditEvent.at)
        .where(AuditEvent.at <= last_at - dt.timedelta(days=1))
        .order_by(AuditEvent.seq.desc()).limit(1)).one()
    tmp = Path(tempfile.mkdtemp(prefix="lims-bench-audit-"))
    settings = _checkpoint_settings(tmp, url)
    body = {"format": checkpoints.FORMAT, "seq": seq, "hash": digest,
            "event_at": at.astimezone(dt.UTC).isoformat(), "at": utcnow().isoformat(),
            "lab": "Bench Lab"}
    signer = load_signer(settings.signing_pkcs12, settings.signing_passphrase)
    folder = checkpoints.checkpoint_dir(settings)
    checkpoints._write_once(folder, checkpoints.file_name(seq),  # noqa: SLF001 - as take() writes
                            json.dumps(checkpoints.sign(body, signer)).encode("utf-8"))
    raw, is_sqlite = raw_connection(url)
    ours, floors, ratios = [], [], []
    walked = 0
    for n in range(DAY_RUNS + 1):
        session.rollback()
        t0 = time.perf_counter()
        verdict, start, _n = checkpoints.verify(session, settings, since_checkpoint=True)
        t1 = time.perf_counter()
        walked = floor_walk(raw, is_sqlite, after=seq, prev=digest)
        t2 = time.perf_counter()
        if not verdict.ok or start is None or start.seq != seq or verdict.count != walked:
            raise SystemExit(f"[{label}] incremental verify: {verdict}")
        if n:
            ours.append((t1 - t0) * 1000)
            floors.append((t2 - t1) * 1000)
            ratios.append((t2 - t1) / (t1 - t0))
    raw.close()
    print(f"[{label}] (c) nightly check from a checkpoint a day old ({walked:,} events since): "
          f"median {stats.median(ours):.1f} ms ({spread(ours, '{:.1f}')}); floor "
          f"{stats.median(floors):.1f} ms; speed vs floor {stats.median(ratios):.2f} "
          f"({spread(ratios)}) (the floor does not read or check the signed file)")


def bench(label: str, url: str) -> None:
    engine = make_engine(url)
    session = Session(engine)
    events = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    print(f"[{label}] {events:,} audit events")
    bench_search(label, session)
    bench_walk(label, url, session)
    bench_day(label, url, session)
    session.close()
    engine.dispose()


def timed_setup(label: str, make: Callable[[], Any]) -> Any:
    t0 = time.perf_counter()
    out = make()
    print(f"[{label}] dataset ready in {time.perf_counter() - t0:.1f} s")
    return out


def main() -> None:
    print("audit trail at a provincial centre's scale: (a) a sample's events, (b) the whole "
          "chain walk, (c) the nightly check since a checkpoint; ratios are the floor's time "
          "over ours")
    if "sqlite" in DATABASES:
        url = timed_setup("sqlite", lambda: dataset.sqlite(copy=False))
        bench("sqlite", url)
    if "postgresql" in DATABASES:
        try:
            url, stop = timed_setup("postgresql", dataset.postgres)
        except RuntimeError as exc:
            print(f"[postgresql] skipped: {exc}")
            return
        try:
            bench("postgresql", url)
        finally:
            stop()


if __name__ == "__main__":
    main()
