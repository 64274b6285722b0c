"""Benchmark: searching an audit trail of a million events on SQLite (issue 11 §5, issue 14).

Fills a migrated SQLite database with 1,000,000 synthetic events (bulk-inserted, so not a
valid hash chain: only the search is measured) and prints the median time of one page of 50
with its total for the audit page's filters. ``python bench/audit_trail.py [path]`` keeps the
database at ``path`` for another run. Never asserted in tests: machines are shared.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from lims.audit import trail  # noqa: E402
from lims.migrate import upgrade  # noqa: E402

EVENTS = 1_000_000
KINDS = [("sample.register", "samples"), ("result.record", "results"),
         ("sample.receive", "samples"), ("report.issue", "reports"), ("auth.login", "users"),
         ("instrument.check", "intermediate_checks")]


def fill(path: Path) -> None:
    upgrade(f"sqlite:///{path}")
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    con = sqlite3.connect(path)
    rows = []
    for i in range(1, EVENTS + 1):
        action, kind = KINDS[i % len(KINDS)]
        entity = f"YP2025-{i // 10:06d}" if kind == "samples" else str(i)
        rows.append((i, i, (start + dt.timedelta(seconds=30 * i)).strftime("%Y-%m-%d %H:%M:%S"),
                     f"user{i % 40}", action, kind, entity, '{"status":"x"}', "0" * 64))
        if len(rows) == 50_000:
            con.executemany("INSERT INTO audit_events (id, seq, at, actor, action, entity_type, "
                            "entity_id, after, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?9)",
                            rows)
            rows = []
    con.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)", (EVENTS, "0" * 64))
    con.commit()
    con.execute("ANALYZE")
    con.close()


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "audit.db"
    if not path.exists():
        t0 = time.perf_counter()
        fill(path)
        print(f"filled {EVENTS:,} events in {time.perf_counter() - t0:.0f} s ({path})")
    session = Session(create_engine(f"sqlite:///{path}"))
    day = dt.date(2025, 3, 1)
    cases = [("newest page", trail.Filters(), 1), ("page 10,000", trail.Filters(), 10_000),
             ("a number", trail.Filters(number="YP2025-050000"), 1),
             ("actor, part of a name", trail.Filters(actor="user1"), 1),
             ("action", trail.Filters(action="result.record"), 1),
             ("action, page 3,000", trail.Filters(action="result.record"), 3000),
             ("one day", trail.Filters(since=day, until=day), 1),
             ("a year", trail.Filters(since=dt.date(2025, 1, 1), until=dt.date(2025, 12, 31)), 1),
             ("kind of record", trail.Filters(entity="samples"), 1),
             ("actor and two days", trail.Filters(actor="user3", since=day,
                                                  until=day + dt.timedelta(days=1)), 1)]
    trail.search(session, trail.Filters(), timezone="Asia/Shanghai")  # warm the cache
    for name, filters, page in cases:
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            found = trail.search(session, filters, timezone="Asia/Shanghai", page=page)
            times.append((time.perf_counter() - t0) * 1000)
        print(f"{name:24s} {statistics.median(times):8.1f} ms median  total {found.total:>9,}")


if __name__ == "__main__":
    main()
