"""Capture-path benchmarks (issues #3 and #14).

(a) Parsing throughput of each codec, in lines per second, on the manuals' example lines.
(b) One capture process reading N simulated balances on pseudo-terminals (N = 64, 256, 512;
    ``BENCH_CAPTURE_PORTS``), each streaming MT-SICS ``S D`` lines at 640 lines/s (a 115200-baud
    line full of 18-byte lines), against a floor measured over the same ptys in the same run: a
    bare ``selectors`` + ``os.read`` reader that splits lines and does the same accounting.

Honesty rules (issue 14): the simulated instruments run in separate writer processes whose pty
masters are non-blocking; a write that finds the pty full (EAGAIN) drops the lines it carried
and a short write keeps its remainder for the next tick (back-pressure), dropping the lines that
come meanwhile: the writer never blocks, so a reader that falls behind loses lines, and they are
counted. Each line carries its sequence number and the time it was written
(``S D SSSSSSS.TTTTTTTT g``: the fraction is the write time in 10 µs steps), so lost and
reordered lines and the lag from write to parsed reading are measured per line (p50/p99).
Rates are divided by the writers' measured streaming time, CPU is the reader process's
``time.process_time`` over the phase, divided by the lines it received. Phases alternate
between the reader under test and the floor (``BENCH_CAPTURE_ROUNDS`` rounds of
``BENCH_CAPTURE_SECONDS`` each), so the ratio's spread is over rounds.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import selectors
import statistics
import sys
import termios
import time
import tty
from array import array
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers import fluke, mitutoyo, modbus, mtsics, sbi, scpi, vaisala  # noqa: E402
from drivers.stream import MultiPortReader  # noqa: E402
from drivers.transport import READ_SIZE, SerialTransport  # noqa: E402
from lims.agent.run import FDS_PER_PORT, raise_fd_limit  # noqa: E402

LINE_RATE = 640          # lines per second per port: 115200 baud / 10 bits / 18 bytes
DURATION = float(os.environ.get("BENCH_CAPTURE_SECONDS", "3"))
ROUNDS = int(os.environ.get("BENCH_CAPTURE_ROUNDS", "3"))
PORTS = [int(n) for n in os.environ.get("BENCH_CAPTURE_PORTS", "64,256,512").split(",")]
PORTS_PER_WRITER = int(os.environ.get("BENCH_CAPTURE_PORTS_PER_WRITER", "256"))
TICK = 0.005             # the writers' pacing step (lines due are written in one write)
DRAIN = 0.5              # seconds the reader goes on reading after the writers stop
LAG_TARGET_MS = 100.0
CPU_TARGET = 2.0

CODECS = {
    "mt-sics": lambda: mtsics.parse_weight(b"S S     100.00 g"),
    "sartorius-sbi": lambda: sbi.parse_record(b"+   1255.7 g  "),
    "scpi-dmm": lambda: scpi.parse_reading(b"+1.00000000E+01", "V"),
    "vaisala-hmt330": lambda: vaisala.parse_line(b"RH= 98.4 %RH T= 31.1 'C"),
    "fluke-152x": lambda: fluke.parse_reading(b"t: 25.587 C"),
    "modbus-rtu": lambda: modbus.parse_response(bytes.fromhex("01040400EB01C88BB6"), device=1,
                                                function=4),
    "mitutoyo-digimatic": lambda: mitutoyo.parse_line(b"01A+0000.123", "mm"),
}


def codec_throughput() -> None:
    for name, parse in CODECS.items():
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 0.3:
            for _ in range(500):
                parse()
            n += 500
        print(f"  codec {name:<20} {n / (time.perf_counter() - t0):>10,.0f} lines/s")


def stamp_now(base_ns: int) -> int:
    """The time in 10 µs steps since ``base_ns`` (8 digits: wraps after 1000 s)."""
    return (time.monotonic_ns() - base_ns) // 10_000 % 100_000_000


# -- the simulated instruments ---------------------------------------------------------------

def writer(n: int, base_ns: int, conn: Connection) -> None:
    """Serve ``n`` ptys; on each ("run", seconds, rate) stream numbered lines, then report."""
    masters, names = [], []
    for _ in range(n):
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)  # never block: a full pty is counted, not waited for
        masters.append((master, slave))
        names.append(os.ttyname(slave))
    conn.send(names)
    seq = 0                       # the same numbering on every port of this writer
    pending: list[bytes] = [b""] * n
    while True:
        command = conn.recv()
        if command[0] == "stop":
            break
        _, seconds, rate = command
        dropped = backpressure = generated = 0
        cpu0, start = time.process_time(), time.monotonic()
        sent, late = 0, 0.0
        end = start + seconds
        while (now := time.monotonic()) < end:
            due = int((now - start) * rate)
            if due > sent:
                k = due - sent
                stamp = stamp_now(base_ns)
                batch = b"".join(b"S D %7d.%08d g\r\n" % (seq + j, stamp)
                                 for j in range(1, k + 1))
                seq += k
                sent = due
                generated += k * n
                for i, (master, _) in enumerate(masters):
                    data = pending[i]
                    if data:  # a short write's remainder goes first: the line must finish
                        try:
                            data = data[os.write(master, data):]
                        except BlockingIOError:
                            pass
                        pending[i] = data
                        if data:
                            dropped += k
                            continue
                    try:
                        w = os.write(master, batch)
                    except BlockingIOError:
                        dropped += k
                        continue
                    if w < len(batch):  # back-pressure: the rest goes first next tick
                        backpressure += 1
                        pending[i] = batch[w:]
            late = max(late, time.monotonic() - now)
            time.sleep(max(0.0, TICK - (time.monotonic() - now)))
        wall = time.monotonic() - start
        cpu = time.process_time() - cpu0
        # Finish cut lines (the reader drains for DRAIN seconds); what cannot go is lost.
        for i, (master, _) in enumerate(masters):
            if pending[i]:
                try:
                    pending[i] = pending[i][os.write(master, pending[i]):]
                except BlockingIOError:
                    pass
            pending[i] = b""
        conn.send({"wall": wall, "cpu": cpu, "generated": generated, "dropped": dropped,
                   "backpressure": backpressure, "last_seq": seq, "late": late})
    for master, slave in masters:
        os.close(master)
        os.close(slave)


# -- the two readers -------------------------------------------------------------------------

class Tally:
    """Per-line accounting shared by both readers: lag, sequence gaps, order."""

    def __init__(self, n: int, base_ns: int, last: list[int]) -> None:
        self.base_ns = base_ns
        self.last = last
        self.received = [0] * n
        self.gaps = 0
        self.disorder = 0
        self.garbled = 0
        self.lags = array("q")

    def line(self, i: int, frame: bytes) -> None:
        try:
            seq, stamp = int(frame[4:11]), int(frame[12:20])
        except ValueError:  # the end of a line cut at the previous phase's end
            self.garbled += 1
            return
        lag = (time.monotonic_ns() - self.base_ns) // 10_000 % 100_000_000 - stamp
        self.lags.append(lag)
        last = self.last[i]
        if seq != last + 1:
            if seq > last:
                self.gaps += seq - last - 1
            else:
                self.disorder += 1
        self.last[i] = seq
        self.received[i] += 1


def read_with_lims(paths: list[str], tally: Tally, until: Callable[[], bool]) -> float:
    reader = MultiPortReader()
    index = {}
    for i, path in enumerate(paths):
        reader.add(path, SerialTransport(path, baudrate=115200).open(), b"\r\n",
                   mtsics.parse_weight, mtsics.parse_stream_lines)
        index[path] = i
    line = tally.line

    def on_readings(name: str, readings: list[mtsics.Reading]) -> None:
        i = index[name]
        for reading in readings:  # the same per-line accounting as the floor's
            line(i, reading.raw)

    cpu0 = time.process_time()
    while not until():
        reader.poll(0.05, on_readings)
    cpu = time.process_time() - cpu0
    reader.close()
    return cpu


def read_bare(paths: list[str], tally: Tally, until: Callable[[], bool]) -> float:
    sel = selectors.DefaultSelector()
    fds = []
    for i, path in enumerate(paths):
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        termios.tcflush(fd, termios.TCIFLUSH)  # as pyserial's open does for the other reader
        fds.append(fd)
        sel.register(fd, selectors.EVENT_READ, [i, b""])
    line = tally.line
    cpu0 = time.process_time()
    while not until():
        for key, _ in sel.select(0.05):
            state = key.data
            chunk = os.read(key.fd, READ_SIZE)
            if state[1]:
                chunk = state[1] + chunk
            frames = chunk.split(b"\r\n")
            state[1] = frames.pop()
            i = state[0]
            for frame in frames:
                line(i, frame)
    cpu = time.process_time() - cpu0
    sel.close()
    for fd in fds:
        os.close(fd)
    return cpu


def phase(conns: list[Connection], stats: list[dict[str, object]]) -> Callable[[], bool]:
    """The reader's "stop?" check: starts the writers at its first call, collects their
    reports, and says stop once all finished and DRAIN seconds passed."""
    done_at: list[float] = []
    started = False

    def until() -> bool:
        nonlocal started
        if not started:
            for conn in conns:
                conn.send(("run", DURATION, LINE_RATE))
            started = True
        for w, conn in enumerate(conns):
            if not stats[w] and conn.poll():
                stats[w] = conn.recv()
                done_at.append(time.monotonic())
        return len(done_at) == len(conns) and time.monotonic() - max(done_at) > DRAIN

    return until


# -- one N -----------------------------------------------------------------------------------

def pct(values: array, q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 100.0  # 10 µs -> ms


def run_ports(n: int, base_ns: int) -> None:
    writers = math.ceil(n / PORTS_PER_WRITER)
    shares = [n // writers + (1 if w < n % writers else 0) for w in range(writers)]
    procs, conns, paths, owner = [], [], [], []
    for share in shares:
        parent, child = mp.Pipe()
        proc = mp.Process(target=writer, args=(share, base_ns, child), daemon=True)
        proc.start()
        procs.append(proc)
        conns.append(parent)
    for w, conn in enumerate(conns):
        names = conn.recv()
        paths.extend(names)
        owner.extend([w] * len(names))
    last = [0] * n
    results: dict[str, list[dict[str, float]]] = {"lims": [], "bare": []}
    for _ in range(ROUNDS):
        for kind, read in (("lims", read_with_lims), ("bare", read_bare)):
            tally = Tally(n, base_ns, last)
            stats: list[dict[str, object]] = [{} for _ in conns]
            cpu = read(paths, tally, phase(conns, stats))
            wall = max(float(s["wall"]) for s in stats)  # type: ignore[arg-type]
            generated = sum(int(s["generated"]) for s in stats)  # type: ignore[call-overload]
            received = sum(tally.received)
            results[kind].append({
                "rate": received / wall, "gen_rate": generated / wall,
                "lost": max(0, generated - received),
                "dropped": sum(int(s["dropped"]) for s in stats),  # type: ignore[call-overload]
                "disorder": tally.disorder,
                "p50": pct(tally.lags, 0.50), "p99": pct(tally.lags, 0.99),
                "cpu_us": cpu / max(received, 1) * 1e6, "cpu_share": cpu / wall,
                "writer_cpu": max(float(s["cpu"]) / float(s["wall"])  # type: ignore[arg-type]
                                  for s in stats),
                "backpressure": sum(int(s["backpressure"])  # type: ignore[call-overload]
                                    for s in stats),
            })
            # A line left in a pty from this phase shows as reordered in the next, not as new.
            for i in range(n):
                last[i] = int(stats[owner[i]]["last_seq"])  # type: ignore[call-overload]
    for conn in conns:
        conn.send(("stop",))
    for proc in procs:
        proc.join(10)
    report(n, writers, results)


def report(n: int, writers: int, results: dict[str, list[dict[str, float]]]) -> None:
    target = n * LINE_RATE
    print(f"  {n} ports × {LINE_RATE} lines/s = {target:,} lines/s target, {writers} writer "
          f"process(es), {ROUNDS} rounds of {DURATION:g} s:")
    for kind, label in (("lims", "MultiPortReader + MT-SICS parse"),
                        ("bare", "floor: selectors + os.read + split")):
        rows = results[kind]
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        print(f"    {label:<34} {med['rate']:>9,.0f} lines/s received "
              f"(writers generated {med['gen_rate']:,.0f}/s, writer CPU "
              f"{med['writer_cpu']:.0%}), lost {sum(r['lost'] for r in rows):,.0f} "
              f"(pty full {sum(r['dropped'] for r in rows):,.0f}), reordered "
              f"{sum(r['disorder'] for r in rows):,.0f}, lag p50 {med['p50']:.1f} ms p99 "
              f"{med['p99']:.1f} ms, CPU {med['cpu_us']:.2f} µs/line "
              f"({med['cpu_share']:.0%} of a core)")
    ratios = [a["cpu_us"] / b["cpu_us"] for a, b in zip(results["lims"], results["bare"],
                                                          strict=True)]
    lims = results["lims"]
    rate_ok = statistics.median(r["rate"] for r in lims) >= 0.99 * target
    lag_ok = statistics.median(r["p99"] for r in lims) <= LAG_TARGET_MS
    lost_ok = sum(r["lost"] for r in lims) == 0
    ratio = statistics.median(ratios)
    print(f"    CPU per line vs floor: {ratio:.2f}× (rounds {min(ratios):.2f}–{max(ratios):.2f}×)"
          f" [target ≤ {CPU_TARGET:g}×: {'met' if ratio <= CPU_TARGET else 'NOT met'}]; "
          f"full rate {'reached' if rate_ok else 'NOT reached'}, lag p99 ≤ {LAG_TARGET_MS:g} ms "
          f"{'met' if lag_ok else 'NOT met'}, no loss {'met' if lost_ok else 'NOT met'}")


def main() -> None:
    print("capture path:")
    codec_throughput()
    needed = max(PORTS) * (FDS_PER_PORT + 1) + 64
    raise_fd_limit(needed)
    base_ns = time.monotonic_ns()
    for n in PORTS:
        run_ports(n, base_ns)


if __name__ == "__main__":
    main()
