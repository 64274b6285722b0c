"""The agent's port readers over real ptys: readings spooled, offline reported, refusal."""

from __future__ import annotations

import threading
import time

from drivers.simulators.mtsics import MTSICSBalanceModel
from drivers.simulators.pty import PtySimulator
from lims.agent.config import Instrument
from lims.agent.run import PortReader
from lims.agent.spool import Spool, status


def wait_for(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_poll_mode_spools_and_a_port_that_stays_away_is_reported_offline(tmp_path):
    spool = Spool(tmp_path / "s.sqlite", commit_every=0.01).start()
    stop = threading.Event()
    model = MTSICSBalanceModel()
    sim = PtySimulator(model, tmp_path / "bal").start()
    inst = Instrument(asset="EQ-1", driver="mt-sics", port=str(tmp_path / "bal"), mode="poll",
                      interval=0.05, settings={"command": "SI"})
    reader = PortReader(inst, spool, stop, offline_after=0.3).start()
    try:
        wait_for(lambda: len(spool.batch(100)) >= 5)
        assert model.received.count("SI") >= 5
        assert status(tmp_path / "s.sqlite")["ports"]["EQ-1"]["connected"]
        sim.unplug()  # and it stays away
        wait_for(lambda: any(r.status == "offline" for r in spool.batch(1000)))
        offline = [r for r in spool.batch(1000) if r.status == "offline"]
        assert len(offline) == 1 and offline[0].value is None and offline[0].error
        port = status(tmp_path / "s.sqlite")["ports"]["EQ-1"]
        assert (port["connected"], port["state"]) == (False, "offline")
        sim.replug()
        before = len(spool.batch(1000))
        wait_for(lambda: len(spool.batch(1000)) >= before + 5)
        assert status(tmp_path / "s.sqlite")["ports"]["EQ-1"]["connected"]
        seqs = [r.seq for r in spool.batch(1000)]
        assert seqs == list(range(1, len(seqs) + 1))
    finally:
        stop.set()
        reader.thread.join(timeout=5)
        spool.close()
        sim.stop()


def test_a_different_instrument_on_the_path_is_refused_and_no_longer_read(tmp_path):
    spool = Spool(tmp_path / "s.sqlite", commit_every=0.01).start()
    stop = threading.Event()
    sim = PtySimulator(MTSICSBalanceModel(stream_interval=0.01), tmp_path / "bal").start()
    inst = Instrument(asset="EQ-1", driver="mt-sics", port=str(tmp_path / "bal"), mode="stream")
    reader = PortReader(inst, spool, stop).start()
    other = PtySimulator(MTSICSBalanceModel(serial_number="OTHER0001", stream_interval=0.01),
                         tmp_path / "bal")
    try:
        wait_for(lambda: len(spool.batch(100)) >= 10)
        sim.unplug()
        other.start()
        reader.thread.join(timeout=10)
        assert not reader.thread.is_alive()
        port = status(tmp_path / "s.sqlite")["ports"]["EQ-1"]
        assert port["state"] == "refused" and "OTHER0001" in port["message"]
    finally:
        stop.set()
        spool.close()
        other.stop()
        sim.stop()
