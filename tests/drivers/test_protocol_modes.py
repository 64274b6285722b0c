"""Protocol modes beyond a single request: streaming, busy, banners, auto-print, RUN mode."""

from __future__ import annotations

import itertools
import time

import pytest

from drivers import DRIVERS
from drivers.errors import DriverError
from drivers.simulators.mtsics import MTSICSBalanceModel
from drivers.simulators.pty import PtySimulator
from drivers.simulators.sbi import SBIBalanceModel
from drivers.simulators.scpi import ScpiDmmModel
from drivers.simulators.vaisala import VaisalaHMT330Model


def test_mt_sics_sir_streaming_and_stopping_it(tmp_path):
    model = MTSICSBalanceModel(stream_interval=0.02)
    with PtySimulator(model, tmp_path / "b") as sim, DRIVERS["mt-sics"].open(sim.port) as b:
        readings = list(itertools.islice(b.stream(timeout=1.0), 5))
        time.sleep(0.1)
        assert [r.value for r in readings] == ["100.00"] * 5
        assert model.received[:1] == ["SIR"] and model.received[-1] == "@"
        assert not model.streaming
        assert b.read()[0].value == "100.00"  # the stream's leftovers are skipped


def test_mt_sics_busy_and_power_on_banner(tmp_path):
    model = MTSICSBalanceModel()
    with PtySimulator(model, tmp_path / "b") as sim, DRIVERS["mt-sics"].open(sim.port) as b:
        model.busy = True
        busy = b.read()[0]
        assert busy.status == "error" and "busy" in busy.message
        model.busy = False
        model.power_on(time.monotonic())  # the balance restarts and announces itself
        time.sleep(0.05)
        assert b.read()[0].value == "100.00"
        assert b.skipped_frames == 1


def test_sartorius_auto_print_stream(tmp_path):
    model = SBIBalanceModel(auto_interval=0.05, ident=True)
    with PtySimulator(model, tmp_path / "s") as sim, \
            DRIVERS["sartorius-sbi"].open(sim.port, options={"mode": "auto"}) as b:
        values = [b.read()[0] for _ in range(3)]
    assert all((r.value, r.unit) == ("1255.7", "g") for r in values)
    assert model.received == []  # nothing was asked: the balance printed by itself


def test_sartorius_unstable_reading_has_no_unit(tmp_path):
    model = SBIBalanceModel()
    model.stable = False
    with PtySimulator(model, tmp_path / "s") as sim, DRIVERS["sartorius-sbi"].open(sim.port) as b:
        r = b.read()[0]
    assert (r.value, r.unit, r.stable) == ("1255.7", None, False)


def test_scpi_overload_and_refused_configuration(tmp_path):
    model = ScpiDmmModel()
    with PtySimulator(model, tmp_path / "d") as sim:
        with DRIVERS["scpi-dmm"].open(sim.port, options={"function": "RES"}) as dmm:
            dmm.resync()
            model.overload = True
            r = dmm.read()[0]
            assert r.status == "overload" and r.value is None
        for _ in range(50):  # SYST:LOC on close; the simulator handles it on its own thread
            if not model.remote:
                break
            time.sleep(0.02)
        assert model.remote is False
        dmm = DRIVERS["scpi-dmm"].open(sim.port, options={"range": "2000"})
        try:
            with pytest.raises(DriverError, match="-222"):
                dmm.resync()
        finally:
            dmm.close()


def test_vaisala_run_mode_stream(tmp_path):
    model = VaisalaHMT330Model(interval=0.05)
    with PtySimulator(model, tmp_path / "v") as sim, \
            DRIVERS["vaisala-hmt330"].open(sim.port, options={"mode": "run"}) as v:
        v.resync()
        lines = [v.read() for _ in range(3)]
        assert model.running
    assert all([r.value for r in line] == ["43.0", "21.0"] for line in lines)
    assert "SEND" not in model.received
