"""Every driver against its simulator over real pyserial on pseudo-terminals, with faults."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import pytest

from drivers import DRIVERS, SIMULATORS
from drivers.errors import DriverTimeout, IdentityMismatch, TransportError
from drivers.session import Session
from drivers.simulators.pty import PtySimulator

# name -> (first reading's value and unit with no --set, quantities per read, has identity)
CASES = {
    "mt-sics": (("100.00", "g"), 1, True),
    "sartorius-sbi": (("1255.7", "g"), 1, True),
    "scpi-dmm": (("+1.00000000E+01", "V"), 1, True),
    "vaisala-hmt330": (("43.0", "%RH"), 2, True),
    "fluke-152x": (("25.587", "degC"), 1, True),
    "modbus-rtu": (("23.5", "degC"), 2, False),
    "mitutoyo-digimatic": (("12.345", "mm"), 1, False),
}
NAMES = sorted(CASES)
# Simulator settings for an instrument whose serial number identifies it: a 34401A reports 0
# (tests/drivers/test_identity.py covers that case).
IDENTIFIED = {"scpi-dmm": {"model": "34465A"}}
LIMS = [sys.executable, "-m", "lims.cli"]


def test_every_registered_driver_has_a_case_and_a_simulator():
    assert set(DRIVERS) == set(CASES) == set(SIMULATORS)


@pytest.fixture(params=NAMES)
def rig(request, tmp_path):
    name = request.param
    sim = PtySimulator(SIMULATORS[name](), tmp_path / "by-id" / name).start()
    device = DRIVERS[name].open(sim.port)
    device.resync()
    yield name, sim, device
    device.close()
    sim.stop()


def _check(name, readings):
    (value, unit), count, _ = CASES[name]
    assert len(readings) == count
    assert (readings[0].status, readings[0].value, readings[0].unit) == ("ok", value, unit)


def test_reads_its_simulator(rig):
    name, _sim, device = rig
    _check(name, device.read())
    _check(name, device.read())


def test_garbage_before_a_reply_is_skipped(rig):
    name, sim, device = rig
    sim.model.garbage = b"\x00\xff\xfe\x80"
    if name == "modbus-rtu":
        # Binary framing: noise before a reply costs that reply (pymodbus times out or drops
        # it), never yields a wrong value; the next exchange is clean.
        try:
            readings = device.read()
        except DriverTimeout:
            readings = []
        assert all(r.status == "error" or r.value in ("23.5", "45.6") for r in readings)
    else:
        readings = device.read()
        _check(name, readings)
        assert device.transport.noise_bytes >= 4
    _check(name, device.read())


def test_lines_split_across_writes(rig):
    name, sim, device = rig
    sim.split_writes, sim.split_delay = True, 0.03
    _check(name, device.read())


def test_a_dropped_reply_times_out_then_the_line_recovers(rig):
    name, sim, device = rig
    sim.model.drop = 1
    with pytest.raises(DriverTimeout):
        device.read(timeout=0.4)
    time.sleep(0.1)
    _check(name, device.read())


def test_an_error_reply_is_an_error_reading_never_a_value(rig):
    name, sim, device = rig
    sim.model.error = True
    readings = device.read()
    if name == "vaisala-hmt330":  # a failed probe: RH is *** and T still reads
        assert readings[0].status == "error" and readings[1].value == "31.1"
    else:
        assert all(r.status == "error" and r.value is None for r in readings)
    _check(name, device.read())


def test_unplug_gives_connection_lost_to_a_one_shot_caller(rig):
    _name, sim, device = rig
    sim.unplug()
    with pytest.raises(TransportError):
        device.read(timeout=1.0)


@pytest.mark.parametrize("name", NAMES)
def test_session_reads_across_unplug_and_replug(name, tmp_path):
    sim = PtySimulator(SIMULATORS[name](), tmp_path / name).start()
    session = Session(DRIVERS[name], sim.port, backoff=0.05, backoff_max=0.2)
    readings = []
    try:
        for reading in session.readings(count=6 * CASES[name][1], timeout=20):
            readings.append(reading)
            if len(readings) == 2 * CASES[name][1]:
                sim.unplug()
                threading.Timer(0.5, sim.replug).start()
    finally:
        session.close()
        time.sleep(0.6)
        sim.stop()
    assert session.reconnects >= 1
    assert len(readings) == 6 * CASES[name][1]
    assert all(r.status == "ok" for r in readings)


@pytest.mark.parametrize("name", [n for n in NAMES if CASES[n][2]])
def test_a_different_instrument_on_the_same_path_is_refused(name, tmp_path):
    link = tmp_path / name
    kwargs = IDENTIFIED.get(name, {})
    sim = PtySimulator(SIMULATORS[name](**kwargs), link).start()
    session = Session(DRIVERS[name], sim.port, backoff=0.05, backoff_max=0.2)
    def read_until_swapped() -> None:
        nonlocal sim
        for n, _reading in enumerate(session.readings(count=100, timeout=20)):
            if n == 0:  # another instrument of the same kind is plugged into the same path
                sim.unplug()
                sim = PtySimulator(SIMULATORS[name](serial_number="OTHER-123", **kwargs),
                                   link).start()

    try:
        with pytest.raises(IdentityMismatch, match="refused"):
            read_until_swapped()
    finally:
        session.close()
        sim.stop()


@pytest.mark.parametrize("name", NAMES)
def test_lims_simulate_and_lims_read_json(name, tmp_path):
    link = tmp_path / f"{name}-link"
    with subprocess.Popen([*LIMS, "simulate", name, "--link", str(link)],
                          stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout.readline().strip() == str(link)
            out = subprocess.run([*LIMS, "read", name, str(link), "--json", "--count", "2"],
                                 capture_output=True, text=True, timeout=60)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=10)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    (value, unit), per_read, _ = CASES[name]
    assert len(lines) == 2
    assert (lines[0]["driver"], lines[0]["value"], lines[0]["unit"], lines[0]["status"]) == \
        (name, value, unit, "ok")
    assert set(lines[0]) >= {"driver", "value", "unit", "stable", "status", "raw", "at"}


def test_read_keeps_going_across_an_unplug(tmp_path):
    link = tmp_path / "dmm"
    with subprocess.Popen([*LIMS, "simulate", "scpi-dmm", "--link", str(link), "--faults",
                           "unplug"], stdout=subprocess.PIPE, text=True) as proc:
        try:
            proc.stdout.readline()
            out = subprocess.run([*LIMS, "read", "scpi-dmm", str(link), "--json", "--count",
                                  "400", "--timeout", "30"], capture_output=True, text=True,
                                 timeout=60)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=10)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 400
    assert "reconnecting" in out.stderr  # the port went away after 2 s and came back


@pytest.mark.parametrize(("name", "sets", "value", "unit"), [
    ("scpi-dmm", ["function=RES"], "+9.99873000E+02", "ohm"),
    ("scpi-dmm", ["function=FREQ", "range=1000"], "+1.00001200E+03", "Hz"),
    ("mitutoyo-digimatic", ["unit=in"], "12.345", "in"),
    ("fluke-152x", ["command=t"], "25.587", "degC"),
    ("mt-sics", ["command=S"], "100.00", "g"),
    ("modbus-rtu", ["address=1", "profile=xy-md02"], "23.5", "degC"),
])
def test_driver_settings_with_set(name, sets, value, unit, tmp_path):
    options = dict(s.split("=", 1) for s in sets)
    with PtySimulator(SIMULATORS[name](), tmp_path / name) as sim, \
            DRIVERS[name].open(sim.port, options=options) as device:
        device.resync()
        reading = device.read()[0]
    assert (reading.value, reading.unit) == (value, unit)


def test_unknown_settings_are_refused(tmp_path):
    out = subprocess.run([*LIMS, "read", "scpi-dmm", "/dev/null", "--set", "colour=blue"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "no setting colour" in out.stderr
