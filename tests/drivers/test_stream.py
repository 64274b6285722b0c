"""The multi-port stream reader over real pseudo-terminals."""

from __future__ import annotations

import os
import tty

import pytest

from drivers.mtsics import parse_stream_lines, parse_weight
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
        reader.poll(0.05, lambda name, rs: seen[name].extend(int(r.value.split(".")[0]) for r in rs))
        if all(len(v) == 50 for v in seen.values()):
            break
    assert all(v == list(range(1, 51)) for v in seen.values())
    os.close(ptys[1][0])  # unplug port 1
    for _ in range(5):
        reader.poll(0.05, lambda name, rs: None)
    assert [s.lost for s in reader.streams] == [False, True, False]
    reader.close()
    for master, slave in ptys:
        for fd in (master, slave):
            try:
                os.close(fd)
            except OSError:
                pass


def _ptys(n):
    pairs = []
    for _ in range(n):
        master, slave = os.openpty()
        tty.setraw(slave)
        pairs.append((master, slave))
    return pairs


def _close_all(fds):
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def test_reads_more_ports_than_select_allows_every_line_in_order():
    # 300 ports through pyserial hold about 1,500 descriptors: most are numbered above
    # select()'s FD_SETSIZE (1024), where the old reader crashed (issue 14).
    import resource

    from lims.agent.run import fds_needed, raise_fd_limit

    try:
        raise_fd_limit(fds_needed(300) + 600)
    except Exception as exc:  # noqa: BLE001 - a CI box with a low hard limit
        import pytest

        pytest.skip(f"cannot open enough files here: {exc}")
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] > 1024
    ptys = _ptys(300)
    reader = MultiPortReader()
    try:
        for i, (_, slave) in enumerate(ptys):
            reader.add(f"p{i}", SerialTransport(os.ttyname(slave)).open(), b"\r\n", parse_weight)
        assert max(s.fd for s in reader.streams) >= 1024
        seen: dict[str, list[int]] = {f"p{i}": [] for i in range(300)}
        lines = 20
        for n in range(1, lines + 1):
            for master, _ in ptys:
                os.write(master, f"S D {n:>7}.00 g\r\n".encode())
            reader.poll(0, lambda name, rs: seen[name].extend(int(r.value.split(".")[0]) for r in rs))
        for _ in range(200):
            if all(len(v) == lines for v in seen.values()):
                break
            reader.poll(0.05, lambda name, rs: seen[name].extend(int(r.value.split(".")[0]) for r in rs))
        assert all(v == list(range(1, lines + 1)) for v in seen.values())
    finally:
        reader.close()
        _close_all([fd for pair in ptys for fd in pair])


def test_a_port_that_hangs_up_is_reported_and_the_others_go_on():
    ptys = _ptys(3)
    reader = MultiPortReader()
    lost = []
    seen: dict[str, list[int]] = {"p0": [], "p1": [], "p2": []}
    try:
        for i, (_, slave) in enumerate(ptys):
            reader.add(f"p{i}", SerialTransport(os.ttyname(slave)).open(), b"\r\n", parse_weight)
        os.write(ptys[1][0], b"S D       1.00 g\r\n")
        os.close(ptys[1][0])  # hangs up mid-run
        for n in range(1, 31):
            for j in (0, 2):
                os.write(ptys[j][0], f"S D {n:>7}.00 g\r\n".encode())
            reader.poll(0.01, lambda name, rs: seen[name].extend(int(r.value.split(".")[0]) for r in rs),
                        lost.append)
        for _ in range(50):
            if len(seen["p0"]) == len(seen["p2"]) == 30:
                break
            reader.poll(0.02, lambda name, rs: seen[name].extend(int(r.value.split(".")[0]) for r in rs),
                        lost.append)
        assert [s.name for s in lost] == ["p1"] and "connection lost" in lost[0].reason
        assert seen["p0"] == seen["p2"] == list(range(1, 31))
        assert [s.lost for s in reader.streams] == [False, True, False]
    finally:
        reader.close()
        _close_all([ptys[0][0], ptys[2][0]] + [slave for _, slave in ptys])


@pytest.mark.parametrize("block", [None, parse_stream_lines])
def test_lines_cut_across_reads_are_joined_and_noise_is_dropped(block):
    (master, slave), = _ptys(1)
    reader = MultiPortReader()
    got: list[str] = []
    try:
        transport = SerialTransport(os.ttyname(slave)).open()
        reader.add("p", transport, b"\r\n", parse_weight, block)
        pieces = [b"S D  ", b"    1.00 g\r", b"\nS D      2", b".00 g\r\n\x00\xffS S", b"    3.50 g\r\n"]
        for piece in pieces:
            os.write(master, piece)
            for _ in range(3):
                reader.poll(0.02, lambda name, rs: got.extend(r.value for r in rs))
        assert got == ["1.00", "2.00", "3.50"]
        assert transport.noise_bytes == 2
    finally:
        reader.close()
        _close_all([master, slave])


def test_the_transport_reads_and_writes_a_descriptor_above_select_s_limit():
    # Request/reply (poll mode, connecting, identifying) on a port numbered above 1024:
    # pyserial's own read and write wait in select() and raise "filedescriptor out of range".
    import time

    from lims.agent.run import raise_fd_limit

    raise_fd_limit(1600)
    null = os.open(os.devnull, os.O_RDONLY)
    filler = [os.dup(null) for _ in range(1100)]
    (master, slave), = _ptys(1)
    transport = SerialTransport(os.ttyname(slave)).open()
    try:
        assert transport.fileno() > 1024
        transport.write(b"SI\r\n")
        assert os.read(master, 100) == b"SI\r\n"
        os.write(master, b"S S      1.00 g\r\n")
        assert transport.read_frame(b"\r\n", time.monotonic() + 2) == b"S S      1.00 g"
    finally:
        transport.close()
        _close_all([null, master, slave, *filler])


def test_more_ports_than_the_hard_file_limit_is_a_clear_error():
    import resource

    import pytest

    from lims.agent.run import TooManyPorts, fds_needed, raise_fd_limit

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard limit on open files here")
    ports = hard // 5 + 1
    with pytest.raises(TooManyPorts) as err:
        raise_fd_limit(fds_needed(ports), ports=ports)
    assert err.value.limit == hard and f"{ports} instruments" in str(err.value)


def test_a_read_is_handed_over_as_one_list_in_order_whichever_parser_takes_it():
    (master, slave), = _ptys(1)
    reader = MultiPortReader()
    batches: list[list[str | None]] = []
    try:
        reader.add("p", SerialTransport(os.ttyname(slave)).open(), b"\r\n", parse_weight,
                   parse_stream_lines)
        for data in (b"S D 1.00 g\r\nS D 2.00 g\r\nS D 3.", b"00 g\r\nS D 4.00 g\r\n",
                     b"S D 5.00 g\r\nS +\r\nS D 6.00 g\r\n"):  # an overload among weights
            os.write(master, data)
            for _ in range(20):
                if reader.poll(0.05, lambda name, rs: batches.append([r.value for r in rs])):
                    break
        assert batches == [["1.00", "2.00"], ["3.00", "4.00"], ["5.00", None, "6.00"]]
    finally:
        reader.close()
        _close_all([master, slave])
