"""Mitutoyo channels, over real pyserial on pseudo-terminals."""

from __future__ import annotations

import pytest

from drivers import DRIVERS
from drivers.simulators.mitutoyo import MitutoyoModel
from drivers.simulators.pty import PtySimulator


@pytest.mark.parametrize("trigger", ["1", ""])
def test_mitutoyo_line_from_another_channel_is_refused(tmp_path, trigger):
    model = MitutoyoModel(value="12.345", channel=2)
    with PtySimulator(model, tmp_path / "gauge") as sim, \
            DRIVERS["mitutoyo-digimatic"].open(sim.port, options={"trigger": trigger}) as gauge:
        gauge.resync()
        if not trigger:
            model.press(0.0)  # the DATA button on the gauge of channel 2
        (reading,) = gauge.read()
    assert reading.status == "error" and reading.value is None
    assert reading.raw == b"02A+0012.345"
    assert "channel 2, not the configured channel 1" in reading.message


def test_mitutoyo_reads_its_configured_channel(tmp_path):
    with PtySimulator(MitutoyoModel(value="-0.002", channel=2), tmp_path / "gauge") as sim, \
            DRIVERS["mitutoyo-digimatic"].open(sim.port, options={"channel": "2"}) as gauge:
        gauge.resync()
        (reading,) = gauge.read()
    assert (reading.status, reading.value, reading.unit, reading.quantity) == \
        ("ok", "-0.002", "mm", "length")

