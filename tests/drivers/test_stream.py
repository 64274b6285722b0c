"""The multi-port stream reader over real pseudo-terminals."""

from __future__ import annotations

import os
import tty

from drivers.mtsics import parse_weight
from drivers.stream import MultiPortReader
from drivers.transport import SerialTransport


def test_reads_every_line_of_every_port_and_notices_a_lost_port(tmp_path):
    ptys = []
    reader = MultiPortReader()
    for i in range(3):
        master, slave = os.openpty()
        tty.setraw(slave)
        ptys.append((master, slave))
        reader.add(f"p{i}", SerialTransport(os.ttyname(slave)).open(), b"\r\n", parse_weight)
    for n in range(1, 51):
        for master, _ in ptys:
            os.write(master, f"S D {n:>7}.00 g\r\n".encode())
    os.write(ptys[0][0], b"\xff\xfeS S  half a li")  # noise and half a line stay buffered
    seen: dict[str, list[int]] = {"p0": [], "p1": [], "p2": []}
    for _ in range(50):
        reader.poll(0.05, lambda name, r: seen[name].append(int(r.value.split(".")[0])))
        if all(len(v) == 50 for v in seen.values()):
            break
    assert all(v == list(range(1, 51)) for v in seen.values())
    os.close(ptys[1][0])  # unplug port 1
    for _ in range(5):
        reader.poll(0.05, lambda name, r: None)
    assert [s.lost for s in reader.streams] == [False, True, False]
    reader.close()
    for master, slave in ptys:
        for fd in (master, slave):
            try:
                os.close(fd)
            except OSError:
                pass
