"""``Session.stream`` (the capture agent's stream mode) over real ptys: SIR, replug, refusal."""

from __future__ import annotations

import threading
import time

import pytest

from drivers.errors import IdentityMismatch
from drivers.mtsics import MTSICSBalance
from drivers.session import Session
from drivers.simulators.mtsics import MTSICSBalanceModel
from drivers.simulators.pty import PtySimulator


def test_stream_survives_unplug_and_replug(tmp_path):
    model = MTSICSBalanceModel(stream_interval=0.01)
    sim = PtySimulator(model, tmp_path / "bal").start()
    session = Session(MTSICSBalance, str(tmp_path / "bal"), backoff_max=0.2)
    got = []
    try:
        replugged = threading.Timer(0.4, sim.replug)
        for reading in session.stream(frame_timeout=2.0):
            got.append(reading)
            if len(got) == 20:
                sim.unplug()
                replugged.start()
            if len(got) == 40:
                break
    finally:
        session.close()
        sim.stop()
    assert "SIR" in model.received  # the balance was put in streaming mode
    assert session.reconnects == 1
    assert all(r.status == "ok" and r.value == "100.00" for r in got)


def test_stream_refuses_another_balance_on_the_same_path(tmp_path):
    sim = PtySimulator(MTSICSBalanceModel(stream_interval=0.01), tmp_path / "bal").start()
    session = Session(MTSICSBalance, str(tmp_path / "bal"), backoff_max=0.2)
    try:
        stream = session.stream(frame_timeout=2.0)
        next(stream)
        sim.unplug()
        other = PtySimulator(MTSICSBalanceModel(serial_number="OTHER0001",
                                                stream_interval=0.01), tmp_path / "bal")
        threading.Timer(0.3, other.start).start()
        time.sleep(0.1)

        def drain() -> None:
            for _ in range(1000):
                next(stream)

        with pytest.raises(IdentityMismatch, match="OTHER0001"):
            drain()
        other.stop()
    finally:
        session.close()
        sim.stop()
