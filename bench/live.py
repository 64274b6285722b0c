"""End-to-end live readings benchmark (issue 12 §4): 32 simulated balances streaming 10
readings/s each through ONE capture agent (``lims agent --config``, its own process) into the
server (``lims serve``, its own process: gunicorn, 2 workers), with Server-Sent Events clients
listening. Printed: the latency from the simulator's write of a line on its pty to the SSE
event of that reading, p50/p99 (target p99 <= 250 ms), readings lost, and the agent's CPU.

The simulators run in this process, on ptys it opens (one thread serving all 32, the MT-SICS
model of ``lims simulate mt-sics`` in ``SIR`` streaming mode), so the time of each write is
known; each balance sends the numbers 1, 2, 3, … as its weight, which tells every SSE event's
reading apart. What the latency covers: the agent's reader, its durable spool (fsync'd WAL,
committed every 20 ms), its uploader (a batch whenever the spool has rows), the server's
ingestion, and the stream's poll of the database (every 150 ms). It is also split in three
legs by the times the event carries (the agent's ``read_at``, the server's ``received_at``; one
machine, one wall clock): pty -> agent, agent -> server, server -> SSE event.

SSE listeners: 4, on instruments spread over the 32 (1, 9, 17, 25), not 32: the server serves
at most 2 streams per worker process (``lims.readings.stream.MAX_STREAMS``: each holds one of
a gthread worker's 4 threads), and the bench measures the server as shipped rather than one
configured for it. All 32 ports stream through the agent and into the database all the same,
and each listener's stream polls the same table the others would.

``BENCH_LIVE_SECONDS`` sets the measured window (default 10 s, after a 3 s warm-up) and
``BENCH_DATABASES`` the databases (default ``sqlite,postgresql``). Timings are printed, never
asserted: machines are shared.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tty
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drivers.simulators.mtsics import MTSICSBalanceModel  # noqa: E402
from lims.auth.services import get_user  # noqa: E402
from lims.config import Settings  # noqa: E402
from lims.instruments.services import register_instrument  # noqa: E402
from lims.migrate import upgrade  # noqa: E402
from lims.readings.services import register_agent  # noqa: E402
from lims.readings.stream import RETRY_MS  # noqa: E402
from lims.runtime import open_runtime  # noqa: E402
from tests.support.postgres import Cluster, find_bindir  # noqa: E402
from tests.support.processes import free_port  # noqa: E402
from tests.support.world import build_world  # noqa: E402

PORTS = 32
RATE = 10.0                 # readings per second per port
LISTENED = (0, 8, 16, 24)   # the instruments with an SSE listener
WARMUP = 3.0
DURATION = float(os.environ.get("BENCH_LIVE_SECONDS", "10"))
DATABASES = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
TARGET_P99_MS = 250.0
GRACE = 2.0                 # seconds after the window for its last readings to arrive


def asset(i: int) -> str:
    return f"LIVE-{i + 1:02d}"


class NumberedBalance(MTSICSBalanceModel):
    """The simulated balance, streaming 1, 2, 3, … g at RATE readings per second, stable."""

    def __init__(self, serial: str) -> None:
        super().__init__(serial_number=serial, capacity="1000000000", stream_interval=1 / RATE)
        self.n = 0

    def tick(self, now: float) -> list[bytes]:
        if not self.streaming or now < self.next_stream:
            return []
        # On the clock of the first reading, not of this one: no drift below RATE.
        self.next_stream = max(self.next_stream + self.stream_interval, now - self.stream_interval)
        self.n += 1
        return [self._fmt("S", "S", Decimal(self.n))]


class Ports:
    """PORTS ptys served by one thread; ``writes[(port, n)]`` is when reading n was written."""

    def __init__(self, folder: Path) -> None:
        self.models: dict[int, tuple[int, NumberedBalance]] = {}
        self.fds: list[int] = []
        self.paths: list[Path] = []
        self.writes: dict[tuple[int, int], float] = {}
        self.stop = threading.Event()
        for i in range(PORTS):
            master, slave = os.openpty()
            tty.setraw(slave)  # raw before any byte is written, or the line discipline echoes
            self.fds += [master, slave]
            path = folder / f"balance-{i + 1:02d}"
            os.symlink(os.ttyname(slave), path)
            self.paths.append(path)
            self.models[master] = (i, NumberedBalance(f"B0{i + 1:08d}"))
        self.thread = threading.Thread(target=self._run, name="ports", daemon=True)

    def _run(self) -> None:
        masters = list(self.models)
        while not self.stop.is_set():
            readable, _, _ = select.select(masters, [], [], 0.002)
            now = time.monotonic()
            for fd in readable:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue  # the agent has not opened this port yet (or closed it)
                self.models[fd][1].feed(data, now)
            for fd, (i, model) in self.models.items():
                for chunk in model.due(now):
                    os.write(fd, chunk)
                    if chunk.startswith(b"S S "):
                        self.writes[(i, int(Decimal(chunk.split()[2].decode())))] = \
                            time.time()

    def start(self) -> Ports:
        self.thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for fd in self.fds:
            os.close(fd)


class Listener:
    """One SSE client of an instrument's stream: ``events[n]`` is when reading n arrived (and
    when the agent read it and the server received it, by the same clock: one machine).
    Reconnects when the server says it is busy (a stream slot is taken) or ends a stream."""

    def __init__(self, port: int, token: str, index: int) -> None:
        self.port, self.token, self.index = port, token, index
        self.events: dict[int, tuple[float, float, float]] = {}
        self.connected = threading.Event()
        self.stop = threading.Event()
        self.conn: http.client.HTTPConnection | None = None
        self.thread = threading.Thread(target=self._run, name=f"sse-{index}", daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self._listen()
            except (OSError, http.client.HTTPException):
                pass
            self.stop.wait(0.1)

    def _listen(self) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self.conn.request("GET", f"/api/v1/instruments/{asset(self.index)}/readings/stream",
                          headers={"Authorization": f"Bearer {self.token}",
                                   "Accept": "text/event-stream"})
        reply = self.conn.getresponse()
        if reply.status != 200:
            raise http.client.HTTPException(f"{reply.status}")
        event, data = "", ""
        while not self.stop.is_set():
            line = reply.readline()
            if not line:
                return  # the stream ended (busy server, or its lifetime): reconnect
            text = line.decode().rstrip("\r\n")
            if text == f"retry: {RETRY_MS}":
                self.connected.set()  # a stream's own first line (a busy server's is longer)
            elif text.startswith("event:"):
                event = text[6:].strip()
            elif text.startswith("data:"):
                data = text[5:].strip()
            elif not text and event == "reading":
                reading = json.loads(data)
                self.events[int(Decimal(reading["value"]))] = (
                    time.time(), dt.datetime.fromisoformat(reading["read_at"]).timestamp(),
                    dt.datetime.fromisoformat(reading["received_at"]).timestamp())
                event = data = ""

    def start(self) -> Listener:
        self.thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        if self.conn is not None and self.conn.sock is not None:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        self.thread.join(timeout=5)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(check: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"[live] timed out waiting for {what}")
        time.sleep(0.05)


def up(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/health")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def prepare(url: str) -> tuple[str, str]:
    """The database at ``url`` with the PORTS instruments and their agent; the agent's token
    and a technician's API token (for the SSE listeners)."""
    upgrade(url)
    rt = open_runtime(Settings(instance_path=Path(tempfile.mkdtemp()), database_url=url,
                               secret_key="bench"))
    try:
        with rt.transaction() as session:
            world = build_world(session)
            qm = get_user(session, "qm")
            assert qm is not None
            for i in range(PORTS):
                register_instrument(session, actor=qm, timezone="Asia/Shanghai", data={
                    "asset_number": asset(i), "name": f"Balance {i + 1}",
                    "driver": "mt-sics", "port": "/nonexistent"})
            _, agent_token = register_agent(session, actor=get_user(session, "admin"),
                                            name="bench-live",
                                            assets=[asset(i) for i in range(PORTS)])
        with rt.session() as session:
            user_token = world.token(session, "tech")
        return agent_token, user_token
    finally:
        rt.dispose()


def run(url: str, tmp: Path) -> dict[str, Any]:
    agent_token, user_token = prepare(url)
    ports = Ports(tmp).start()
    port = free_port()
    env = {**os.environ, "LIMS_INSTANCE_PATH": str(tmp / "instance"), "LIMS_DATABASE_URL": url,
           "LIMS_SECRET_KEY": "bench", "LIMS_DEFAULT_LOCALE": "en"}
    procs: list[tuple[subprocess.Popen[bytes], signal.Signals]] = []  # and how to stop it
    listeners: list[Listener] = []
    logs = [(tmp / "serve.log").open("wb"), (tmp / "agent.log").open("wb")]
    try:
        # The server is killed in the end: its workers would wait for the streams the
        # listeners left, which notice only at their next heartbeat (15 s).
        procs.append((subprocess.Popen(  # noqa: S603 - our own command, no shell
            [sys.executable, "-m", "lims.cli", "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT, env=env, stdout=logs[0], stderr=subprocess.STDOUT,
            start_new_session=True), signal.SIGKILL))
        wait_for(lambda: up(port), "lims serve")
        listeners = [Listener(port, user_token, i).start() for i in LISTENED]
        wait_for(lambda: all(x.connected.is_set() for x in listeners), "the SSE streams")
        (tmp / "agent.token").write_text(agent_token)
        config = tmp / "agent.toml"
        config.write_text(f'server = "http://127.0.0.1:{port}"\ntoken_file = "agent.token"\n'
                          'spool = "spool.sqlite"\n' + "".join(
                              f'[[instruments]]\nasset = "{asset(i)}"\ndriver = "mt-sics"\n'
                              f'port = "{path}"\nmode = "stream"\n'
                              for i, path in enumerate(ports.paths)))
        agent = subprocess.Popen(  # noqa: S603 - our own command, no shell
            [sys.executable, "-m", "lims.cli", "agent", "--config", str(config)], cwd=ROOT,
            env=env, stdout=logs[1], stderr=subprocess.STDOUT, start_new_session=True)
        procs.append((agent, signal.SIGTERM))  # it drains its spool and stops cleanly
        # Every listened instrument's readings arrive (the agent has opened all its ports
        # and the streams hold their slots), then the warm-up.
        wait_for(lambda: all(x.events for x in listeners), "the first SSE events")
        time.sleep(WARMUP)
        start, cpu0 = time.time(), cpu_seconds(agent.pid)
        written0 = len(ports.writes)
        time.sleep(DURATION)
        end, cpu1 = time.time(), cpu_seconds(agent.pid)
        written = len(ports.writes) - written0
        time.sleep(GRACE)
        latencies: list[tuple[float, float, float, float]] = []
        lost = 0
        for listener in listeners:
            for (i, n), at in list(ports.writes.items()):
                if i != listener.index or not start <= at < end:
                    continue
                seen = listener.events.get(n)
                if seen is None:
                    lost += 1
                else:  # the whole way, and its three legs: read, upload, stream
                    arrived, read_at, received_at = seen
                    latencies.append((arrived - at, read_at - at, received_at - read_at,
                                      arrived - received_at))
        window = end - start
        return {"written": written / window, "cpu": (cpu1 - cpu0) / window,
                "cpu_per_reading": (cpu1 - cpu0) / max(written, 1), "latencies": latencies,
                "lost": lost}
    finally:
        for listener in listeners:
            listener.close()
        for proc, stop in reversed(procs):  # the agent first
            if proc.poll() is None:
                os.killpg(proc.pid, stop)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        for log in logs:
            log.close()
        ports.close()
        shutil.rmtree(tmp, ignore_errors=True)


def report(name: str, r: dict[str, Any]) -> None:
    ms = sorted(x[0] * 1000 for x in r["latencies"])
    if not ms:
        print(f"live on {name:<10}: no SSE event matched a write [target p99 <= "
              f"{TARGET_P99_MS:.0f} ms: NOT met]")
        return
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
    met = p99 <= TARGET_P99_MS and r["lost"] == 0
    print(f"live on {name:<10}: {PORTS} ports x {RATE:.0f} readings/s ({r['written']:,.0f} "
          f"written/s), write -> SSE event on {len(LISTENED)} listened instruments "
          f"({len(ms)} events): p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {ms[-1]:.0f} ms, "
          f"lost {r['lost']} [target p99 <= {TARGET_P99_MS:.0f} ms, 0 lost: "
          f"{'met' if met else 'NOT met'}]")
    legs = [sorted(x[k] * 1000 for x in r["latencies"]) for k in (1, 2, 3)]
    print("  legs, p50/p99: pty write -> agent's read_at {:.0f}/{:.0f} ms, read_at -> "
          "server's received_at (spool, upload, insert) {:.0f}/{:.0f} ms, received_at -> SSE "
          "event (commit, stream poll) {:.0f}/{:.0f} ms".format(
              *(v for leg in legs for v in (statistics.median(leg), leg[int(0.99 * len(leg))]))))
    print(f"  agent CPU: {r['cpu']:.0%} of one core, {r['cpu_per_reading'] * 1e6:.0f} µs "
          f"per reading (user+system, all its threads)")


def main() -> None:
    print(f"[live] {PORTS} simulated balances at {RATE:.0f} readings/s through one agent, "
          f"{DURATION:.0f} s measured after {WARMUP:.0f} s of warm-up")
    if "sqlite" in DATABASES:
        tmp = Path(tempfile.mkdtemp(prefix="lims-bench-live-"))
        report("SQLite", run(f"sqlite:///{tmp / 'lims.sqlite'}", tmp))
    if "postgresql" in DATABASES:
        bindir = find_bindir()
        if bindir is None:
            print("[live] PostgreSQL skipped: no PostgreSQL binaries (pg_ctl) here")
            return
        cluster = Cluster(bindir).start()
        try:
            tmp = Path(tempfile.mkdtemp(prefix="lims-bench-live-pg-"))
            report("PostgreSQL", run(cluster.url(), tmp))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
