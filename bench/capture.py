"""Capture-path benchmarks (issue #3).

(a) Parsing throughput of each codec, in lines per second, on the manuals' example lines.
(b) One capture process reading N simulated ports, each paced at a real 115200-baud line rate
    (about 640 lines of 18 bytes per second), for N = 8, 16, 32: sustained lines per second,
    lost lines (must be 0) and the capture process's CPU use. The simulated instruments run in
    a separate writer process so that they do not share the capture process's interpreter.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import sys
import time
import tty
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers import fluke, mitutoyo, modbus, mtsics, sbi, scpi, vaisala  # noqa: E402
from drivers.stream import MultiPortReader  # noqa: E402
from drivers.transport import SerialTransport  # noqa: E402

LINE_RATE = 640          # lines per second per port: 115200 baud / 10 bits / 18 bytes
DURATION = 4.0           # seconds of sustained capture per N

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


def writer(paths: list[str], ready: mp.Event, go: mp.Event, done: mp.Event) -> None:
    """Serve N ptys, each sending a numbered MT-SICS line at LINE_RATE per second."""
    masters = []
    for path in paths:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.symlink(os.ttyname(slave), path)
        masters.append((master, slave))
    ready.set()
    go.wait()
    start, seq, total = time.monotonic(), 0, int(DURATION * LINE_RATE)
    while seq < total:
        due = min(total, int((time.monotonic() - start) * LINE_RATE))
        if due > seq:
            lines = b"".join(f"S D {n:>7}.00 g\r\n".encode() for n in range(seq + 1, due + 1))
            for master, _ in masters:
                os.write(master, lines)
            seq = due
        time.sleep(0.005)
    done.set()
    time.sleep(1.0)  # let the reader drain before the ptys close
    for master, slave in masters:
        os.close(master)
        os.close(slave)


def run_ports(n: int, tmp: Path) -> None:
    paths = [str(tmp / f"port{n}-{i}") for i in range(n)]
    ready, go, done = mp.Event(), mp.Event(), mp.Event()
    proc = mp.Process(target=writer, args=(paths, ready, go, done))
    proc.start()
    ready.wait(10)
    reader = MultiPortReader()
    last = {}
    lost = 0
    for path in paths:
        t = SerialTransport(path, baudrate=115200).open()
        reader.add(path, t, b"\r\n", mtsics.parse_weight)
        last[path] = 0

    def on_reading(name: str, reading: object) -> None:
        nonlocal lost
        seq = int(reading.value.split(".")[0])  # type: ignore[attr-defined]
        lost += seq - last[name] - 1
        last[name] = seq

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    go.set()
    t0 = time.monotonic()
    total = 0
    while not done.is_set() or time.monotonic() - t0 < DURATION + 0.5:
        total += reader.poll(0.05, on_reading)
        if done.is_set() and time.monotonic() - t0 > DURATION + 0.5:
            break
    wall = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    reader.close()
    proc.join(5)
    expected = int(DURATION * LINE_RATE)
    lost += sum(max(0, expected - seq) for seq in last.values())  # a tail that never came
    cpu = (cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime) / wall
    print(f"  {n:>2} ports at {LINE_RATE} lines/s each: {total / DURATION:>8,.0f} lines/s "
          f"sustained, lost {lost} [target 0: {'met' if lost == 0 else 'NOT met'}], "
          f"capture CPU {cpu:.0%} of one core")


def main() -> None:
    import tempfile

    print("capture path:")
    codec_throughput()
    tmp = Path(tempfile.mkdtemp(prefix="lims-capture-"))
    for n in (8, 16, 32):
        run_ports(n, tmp)


if __name__ == "__main__":
    main()
