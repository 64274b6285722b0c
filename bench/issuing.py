"""Concurrent report issue on PostgreSQL: 8 clients against 1 (issue 8, finding 9).

Target: 8 concurrent clients issue >= 3x as many reports per second as one client. Each client
is its own process with its own connection pool, as gunicorn workers are; every client issues
reports of its own approved samples through :func:`lims.reports.issuing.issue_in_steps`, the
path the web takes. Printed for comparison, the same 8 clients through the one-transaction
:func:`lims.reports.services.issue_report`, which holds the sample's and the number series'
locks through rendering and signing (the behaviour the issue found: 6.9 reports/s with one
client, 7.2 with eight). The floor is one client's rate, measured in the same run.

A process cannot issue faster than its CPU allows: on a machine with C cores the ratio cannot
exceed about C (plus what overlaps with waiting on the database), so the core count is printed
with the result. Never asserted in tests: machines are shared.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lims.config import Settings  # noqa: E402
from lims.db import unit_of_work  # noqa: E402
from lims.migrate import upgrade  # noqa: E402
from lims.reports.fonts import default_font_dir, ensure_fonts  # noqa: E402
from lims.reports.pki import create_dev_pki  # noqa: E402
from lims.runtime import open_runtime  # noqa: E402
from tests.support.postgres import Cluster, find_bindir  # noqa: E402
from tests.support.world import PASSWORD, build_world  # noqa: E402

CLIENTS = 8
PER_CLIENT = 6  # reports each client issues in a timed round


def _client(settings: Settings, numbers: list[str], stepwise: bool, start: Any) -> None:
    from lims.auth.models import User
    from lims.reports.issuing import issue_in_steps
    from lims.reports.services import issue_report

    rt = open_runtime(settings)
    session = rt.sessionmaker()
    actor = session.query(User).filter_by(username="signatory").one()
    start.wait()
    for number in numbers:
        if stepwise:
            issue_in_steps(session, actor=actor, sample_number=number, settings=settings,
                           password=PASSWORD)
        else:
            with unit_of_work(session):
                issue_report(session, actor=actor, sample_number=number, settings=settings,
                             password=PASSWORD)
    session.close()
    rt.dispose()


def _client_warm(session: Any, settings: Settings, numbers: list[str]) -> None:
    from lims.auth.models import User
    from lims.reports.issuing import issue_in_steps

    actor = session.query(User).filter_by(username="signatory").one()
    for number in numbers:
        issue_in_steps(session, actor=actor, sample_number=number, settings=settings,
                           password=PASSWORD)


def _round(settings: Settings, batches: list[list[str]], *, stepwise: bool) -> float:
    """Reports per second with one process per batch, all released together."""
    ctx = mp.get_context("fork")
    start = ctx.Event()
    procs = [ctx.Process(target=_client, args=(settings, b, stepwise, start)) for b in batches]
    for p in procs:
        p.start()
    time.sleep(1.0)  # let every client connect and warm up before the clock starts
    t0 = time.perf_counter()
    start.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    if any(p.exitcode for p in procs):
        raise SystemExit("a client failed")
    return sum(len(b) for b in batches) / elapsed


def main() -> None:
    bindir = find_bindir()
    if bindir is None:
        print("[issuing] skipped: no PostgreSQL binaries (pg_ctl) on this machine")
        return
    cluster = Cluster(bindir).start()
    try:
        tmp = Path(tempfile.mkdtemp(prefix="lims-bench-issue-"))
        create_dev_pki(tmp / "pki", lab_name="Bench Lab")
        url = cluster.url()
        upgrade(url)
        settings = Settings(instance_path=tmp, database_url=url, secret_key="bench",
                            signing_pkcs12=str(tmp / "pki" / "signer.p12"),
                            signing_passphrase=(tmp / "pki" / "signer.pass").read_text(),
                            font_dir=str(ensure_fonts(default_font_dir())["Regular"].parent))
        rt = open_runtime(settings)
        session = rt.sessionmaker()
        with unit_of_work(session):
            world = build_world(session)
        total = PER_CLIENT * CLIENTS

        def samples(n: int) -> list[str]:
            return [world.approved_sample(session) for _ in range(n)]

        def split(numbers: list[str]) -> list[list[str]]:
            return [numbers[i::CLIENTS] for i in range(CLIENTS)]

        # Warm the parent (fonts, signer, first-use imports): forked clients inherit it, as
        # gunicorn workers forked from a preloaded app do.
        _client_warm(session, settings, samples(2))
        one = _round(settings, [samples(total)], stepwise=True)
        eight = _round(settings, split(samples(total)), stepwise=True)
        locked = _round(settings, split(samples(total)), stepwise=False)
        session.close()
        rt.dispose()
    finally:
        cluster.stop()
    ratio = eight / one
    print(f"report issue on PostgreSQL, {os.cpu_count()} CPU cores: 1 client {one:.1f} reports/s, "
          f"{CLIENTS} clients {eight:.1f} reports/s, ratio {ratio:.2f} "
          f"[target >= 3: {'met' if ratio >= 3 else 'NOT met'}]; "
          f"{CLIENTS} clients holding the locks through signing: {locked:.1f} reports/s")


if __name__ == "__main__":
    main()
