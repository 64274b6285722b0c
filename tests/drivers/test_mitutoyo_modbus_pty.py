"""Mitutoyo channels and Modbus float registers, over real pyserial on pseudo-terminals."""

from __future__ import annotations

import pytest

from drivers import DRIVERS
from drivers.simulators.mitutoyo import MitutoyoModel
from drivers.simulators.modbus import ModbusSensorModel
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


def test_modbus_float_registers_are_stored_at_the_profile_resolution(tmp_path):
    model = ModbusSensorModel(profile="hmt330", humidity=43.2, temperature=21.05)
    with PtySimulator(model, tmp_path / "hmt") as sim, \
            DRIVERS["modbus-rtu"].open(sim.port, options={"profile": "hmt330"}) as sensor:
        sensor.resync()
        rh, t = sensor.read()
    assert (rh.value, rh.unit, rh.quantity, rh.message) == ("43.20", "%RH", "relative_humidity",
                                                            "RH")
    assert (t.value, t.unit, t.quantity) == ("21.05", "degC", "temperature")
    assert rh.raw[:3] == bytes([1, 4, 8])  # one FC04 reply carrying all four registers
