"""SCPI TEMP over a pty: the unit the meter reports, and refusal on a meter without TEMP."""

from __future__ import annotations

import pytest

from drivers import DRIVERS
from drivers.errors import Unsupported
from drivers.simulators.pty import PtySimulator
from drivers.simulators.scpi import ScpiDmmModel


@pytest.mark.parametrize(("model", "setting", "value", "unit"), [
    ("34465A", "C", "+2.34500000E+01", "degC"),
    ("34465A", "F", "+7.42100000E+01", "degF"),
    ("34470A", "K", "+2.96600000E+02", "K"),
])
def test_temperature_reads_in_the_unit_the_meter_reports(tmp_path, model, setting, value, unit):
    sim_model = ScpiDmmModel(model=model, temperature_unit=setting)
    with PtySimulator(sim_model, tmp_path / "dmm") as sim, \
            DRIVERS["scpi-dmm"].open(sim.port, options={"function": "TEMP"}) as dmm:
        dmm.resync()
        reading = dmm.read()[0]
    assert (reading.status, reading.value, reading.unit, reading.quantity) == \
        ("ok", value, unit, "temperature")
    assert "UNIT:TEMP?" in sim_model.received


def test_the_unit_is_asked_again_when_it_changed_between_connections(tmp_path):
    sim_model = ScpiDmmModel(model="34465A")
    with PtySimulator(sim_model, tmp_path / "dmm") as sim:
        with DRIVERS["scpi-dmm"].open(sim.port, options={"function": "TEMP"}) as dmm:
            dmm.resync()
            assert dmm.read()[0].unit == "degC"
        sim_model.temperature_unit = "K"  # set on the front panel while in local
        with DRIVERS["scpi-dmm"].open(sim.port, options={"function": "TEMP"}) as dmm:
            dmm.resync()
            assert (dmm.read()[0].value, dmm.read()[0].unit) == ("+2.96600000E+02", "K")


def test_temperature_on_a_34401a_is_refused_by_name(tmp_path):
    sim_model = ScpiDmmModel(model="34401A")
    with PtySimulator(sim_model, tmp_path / "dmm") as sim, \
            DRIVERS["scpi-dmm"].open(sim.port, options={"function": "TEMP"}) as dmm:
        with pytest.raises(Unsupported, match="HEWLETT-PACKARD 34401A has no temperature"):
            dmm.read()
    assert "*IDN?" in sim_model.received
    assert not any(c.startswith(("CONF:TEMP", "UNIT")) for c in sim_model.received)


def test_a_model_the_driver_does_not_know_is_refused_by_its_own_answer(tmp_path):
    sim_model = ScpiDmmModel(model="34401A")
    sim_model.model = "SIM-DMM"  # unknown to the driver's table, and it has no TEMP either
    with PtySimulator(sim_model, tmp_path / "dmm") as sim, \
            DRIVERS["scpi-dmm"].open(sim.port, options={"function": "TEMP"}) as dmm:
        with pytest.raises(Unsupported, match="HEWLETT-PACKARD SIM-DMM has no temperature.*-113"):
            dmm.resync()
    assert "CONF:TEMP" in sim_model.received
