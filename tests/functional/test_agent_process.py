"""The capture agent as a real process: real pty instrument, real server, SIGKILL, outages.

Every reading the agent committed to its spool reaches the server exactly once (issue 12 §1):
after the agent is killed with SIGKILL mid-stream and restarted, and across a server outage,
the server holds the agent's sequence numbers 1..N with no gap and no duplicate, N being the
last number the spool ever handed out.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from drivers.simulators.mtsics import MTSICSBalanceModel
from drivers.simulators.pty import PtySimulator
from lims.auth.services import get_user
from lims.db import unit_of_work
from lims.readings.models import Agent, Reading
from lims.readings.services import register_agent

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="ptys are POSIX only")
ROOT = Path(__file__).resolve().parents[2]


class Server:
    """The LIMS on a real port; it can be stopped and started again on the same port."""

    def __init__(self, app: Any) -> None:
        self.app, self.port, self.srv, self.thread = app, 0, None, None

    def start(self) -> Server:
        self.srv = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.port = self.srv.server_port
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        assert self.srv is not None and self.thread is not None
        self.srv.shutdown()
        self.srv.server_close()
        self.thread.join(timeout=5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def server(app: Any) -> Iterator[Server]:
    srv = Server(app).start()
    try:
        yield srv
    finally:
        if srv.thread is not None and srv.thread.is_alive():
            srv.stop()


@pytest.fixture
def bench(tmp_path: Path, session: Any, world: Any, server: Server) -> Iterator[dict[str, Any]]:
    """A registered agent, its config and a streaming balance on a pty."""
    with unit_of_work(session):
        _, token = register_agent(session, actor=get_user(session, "admin"), name="bench-1",
                                  assets=["EQ-1"])
    (tmp_path / "agent.token").write_text(token + "\n")
    sim = PtySimulator(MTSICSBalanceModel(stream_interval=0.01), tmp_path / "bal").start()
    config = tmp_path / "agent.toml"
    config.write_text(f'''
server = "{server.url}"
token_file = "agent.token"
spool = "spool.sqlite"
[[instruments]]
asset = "EQ-1"
driver = "mt-sics"
port = "{tmp_path / 'bal'}"
mode = "stream"
''')
    procs: list[subprocess.Popen[str]] = []
    logs: list[Any] = []

    def start() -> subprocess.Popen[str]:
        # The agent's log goes to a file: a pipe nobody reads would fill and block it.
        log = (tmp_path / f"agent-{len(procs)}.log").open("w")
        logs.append(log)
        proc = subprocess.Popen(
            [sys.executable, "-m", "lims.cli", "agent", "--config", str(config)], cwd=ROOT,
            env={**os.environ, "LIMS_DEFAULT_LOCALE": "en"}, stdout=log,
            stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        return proc

    try:
        yield {"start": start, "config": config, "spool": tmp_path / "spool.sqlite",
               "sim": sim, "log": lambda: (tmp_path / f"agent-{len(procs) - 1}.log").read_text()}
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
        for log in logs:
            log.close()
        sim.stop()


def spool_state(path: Path) -> tuple[int, int, int]:
    """(last seq handed out and committed, readings waiting, readings set aside)."""
    if not path.exists():
        return 0, 0, 0
    with sqlite3.connect(path, timeout=10) as db:
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
        waiting = db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'readings'")
        if not waiting.fetchone()[0]:
            return 0, 0, 0
        return (int(row[0]) if row else 0, db.execute("SELECT COUNT(*) FROM readings").fetchone()[0],
                db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])


def wait_for(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def server_seqs(session: Any) -> list[int]:
    session.rollback()  # a fresh snapshot
    agent_id = session.scalar(select(Agent.id).where(Agent.name == "bench-1"))
    return list(session.scalars(select(Reading.seq).where(Reading.agent_id == agent_id)
                                .order_by(Reading.seq)))


def stop_cleanly(bench: dict[str, Any], proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    out: str = bench["log"]()
    assert proc.returncode == 0, out
    return out


def assert_exactly_once(session: Any, spool: Path) -> int:
    last_seq, waiting, set_aside = spool_state(spool)
    assert (waiting, set_aside) == (0, 0)
    seqs = server_seqs(session)
    assert seqs == list(range(1, last_seq + 1))  # no gap, no duplicate, nothing extra
    return last_seq


def agent_status(config: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "lims.cli", "agent", "status", "--config", str(config)],
        cwd=ROOT, env={**os.environ, "LIMS_DEFAULT_LOCALE": "en"}, capture_output=True,
        text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_sigkill_mid_stream_loses_and_duplicates_nothing(bench, session):
    spool = bench["spool"]
    for _ in range(2):
        proc = bench["start"]()
        before = spool_state(spool)[0]
        wait_for(lambda b=before: spool_state(spool)[0] >= b + 150, "readings spooled")
        time.sleep(0.05 + 0.2 * (before % 3) / 3)  # somewhere mid-stream, mid-batch
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert "agent not running" in agent_status(bench["config"])
    proc = bench["start"]()
    killed_at = spool_state(spool)[0]
    wait_for(lambda: spool_state(spool)[0] >= killed_at + 100, "readings after the restarts")
    bench["sim"].unplug()  # the balance stops; let the agent upload everything it has
    wait_for(lambda: spool_state(spool)[1] == 0, "the spool to drain")
    out = stop_cleanly(bench, proc)
    assert "agent stopped" in out
    n = assert_exactly_once(session, spool)
    assert n >= 400
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Reading)
                          .where(Reading.status == "ok")) >= 400


def test_server_outage_the_agent_keeps_spooling_and_everything_arrives_once(bench, session,
                                                                             server):
    spool = bench["spool"]
    proc = bench["start"]()
    wait_for(lambda: len(server_seqs(session)) >= 50, "the first readings on the server")
    server.stop()
    at_stop = spool_state(spool)[0]
    wait_for(lambda: spool_state(spool)[1] >= 200, "readings spooled while the server is down")
    assert spool_state(spool)[0] > at_stop
    status = agent_status(bench["config"])
    assert "agent running" in status
    assert "upload failing: unreachable" in status
    assert "EQ-1" in status and ": connected" in status
    server.start()  # the same port again
    bench["sim"].unplug()
    wait_for(lambda: spool_state(spool)[1] == 0, "the spool to drain after the outage", 40)
    stop_cleanly(bench, proc)
    assert assert_exactly_once(session, spool) >= 250
