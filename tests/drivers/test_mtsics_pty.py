"""The MT-SICS driver over real pyserial on pseudo-terminals, with injected faults."""

from __future__ import annotations

import os
import threading
import time

import pytest

from drivers import get_driver
from drivers.errors import DriverTimeout, PortNotFound, TransportError
from drivers.simulators.mtsics import MTSICSBalanceModel
from drivers.simulators.pty import PtySimulator


@pytest.fixture
def sim(tmp_path):
    s = PtySimulator(MTSICSBalanceModel(load="100.00", stability_timeout=1.0),
                     tmp_path / "by-id" / "balance").start()
    yield s
    s.stop()


@pytest.fixture
def balance(sim):
    b = get_driver("mt-sics").open(sim.port)
    yield b
    b.close()


def test_stable_immediate_identity_zero_and_tare(sim, balance):
    r = balance.read_weight(stable=True)
    assert (r.value, r.unit, r.stable, r.status, r.raw) == ("100.00", "g", True, "ok",
                                                           b"S S     100.00 g")
    assert balance.serial_number() == "B021002593"
    balance.zero()
    assert balance.read_weight().value == "0.00"
    sim.model.place("150.00", now=time.monotonic())
    tare = balance.tare()
    assert tare.value == "150.00"
    assert balance.reset() == "B021002593"


def test_dynamic_reading_then_wait_for_stability(sim, balance):
    sim.model.place("50.123", settle=0.4, now=time.monotonic())
    assert balance.read_weight().stable is False
    t0 = time.monotonic()
    r = balance.read_weight(stable=True)
    assert r.stable is True and r.value == "50.12"
    assert time.monotonic() - t0 >= 0.2


def test_stability_timeout_gives_an_error_reading(sim, balance):
    sim.model.place("50.00", settle=30, now=time.monotonic())
    r = balance.read_weight(stable=True)
    assert r.status == "error" and "not stable" in r.message


@pytest.mark.parametrize(("flag", "status"), [("overload", "overload"), ("underload", "underload")])
def test_overload_and_underload_are_states(sim, balance, flag, status):
    setattr(sim.model, flag, True)
    r = balance.read_weight()
    assert r.status == status and r.value is None


@pytest.mark.parametrize("code", ["ES", "ET", "EL"])
def test_general_errors(sim, balance, code):
    sim.model.error = code
    r = balance.read_weight()
    assert r.status == "error" and f"({code})" in r.message
    assert balance.read_weight().status == "ok"  # the next exchange is clean


def test_garbage_and_undecodable_bytes_are_skipped_and_counted(sim, balance):
    sim.model.garbage = b"\x00\xff\xfe\x80"
    r = balance.read_weight()
    assert r.status == "ok" and r.value == "100.00"
    assert balance.transport.noise_bytes == 4


def test_lines_split_across_writes(sim, balance):
    sim.split_writes = True
    sim.split_delay = 0.05  # the second half arrives well after the first read returns
    for _ in range(3):
        r = balance.read_weight()
        assert (r.status, r.raw) == ("ok", b"S S     100.00 g")


def test_dropped_reply_times_out_and_the_next_exchange_recovers(sim, balance):
    sim.model.drop = 1
    t0 = time.monotonic()
    with pytest.raises(DriverTimeout):
        balance.read_weight(timeout=0.3)
    assert time.monotonic() - t0 < 1.0
    assert balance.read_weight().status == "ok"


def test_stale_frames_for_other_commands_are_skipped(sim, balance):
    balance.transport.write(b"I4\r\n")  # its reply arrives before the weight
    time.sleep(0.05)
    r = balance.read_weight()
    assert r.status == "ok" and balance.skipped_frames == 1


class _Stuck:
    """A balance whose line is stuck: it hears commands and never answers them."""

    def feed(self, data: bytes, now: float) -> None:
        pass

    def due(self, now: float) -> list[bytes]:
        return []


def test_bounded_buffer_drops_an_endless_frame(sim, balance):
    # A stuck line that never sends a terminator; written from a thread since a pty buffer
    # holds only a few kilobytes until the driver reads. The simulated balance must not answer
    # the weight command meanwhile: its reply, landing just after the driver dropped a full
    # buffer, is a valid frame the driver rightly returns (seen on a loaded CI machine).
    sim.model = _Stuck()
    writer = threading.Thread(target=os.write, args=(sim._master, b"A" * 20000), daemon=True)
    writer.start()
    with pytest.raises(DriverTimeout):
        balance.read_weight(timeout=1.0)
    writer.join(timeout=2)
    assert len(balance.transport._buf) <= balance.transport.max_buffer + 4096
    assert balance.transport.noise_bytes > 0


def test_unplug_raises_connection_lost_and_replug_works(sim, balance):
    sim.unplug()
    with pytest.raises(TransportError, match="connection lost"):
        balance.read_weight()
    balance.close()
    with pytest.raises(PortNotFound):
        get_driver("mt-sics").open(sim.port)
    sim.replug()
    with get_driver("mt-sics").open(sim.port) as again:
        assert again.read()[0].status == "ok"


def test_missing_port():
    with pytest.raises(PortNotFound):
        get_driver("mt-sics").open("/dev/does-not-exist")
