"""The budget template language of calibration procedures, and units written in D-SI."""

from __future__ import annotations

import pytest

from lims.calibration.dsi import dsi_to_unit, unit_to_dsi
from lims.calibration.procedures import fill, placeholders
from lims.errors import InvalidInput
from lims.units import parse_unit


def test_a_whole_placeholder_takes_its_value_and_text_ones_are_substituted():
    template = {"value": "{readings.mean}", "unit": "m{unit}", "readings": "{readings}",
                "n": [" {const.n} ", 2, None]}
    values = {"readings.mean": "1.5", "unit": "g", "readings": ["1", "2"], "const.n": "3"}
    assert fill(template, values) == {"value": "1.5", "unit": "mg", "readings": ["1", "2"],
                                      "n": ["3", 2, None]}
    assert placeholders(template) == {"readings.mean", "unit", "readings", "const.n"}


def test_unknown_or_empty_placeholders_are_refused_naming_where():
    with pytest.raises(InvalidInput) as exc:
        fill({"inputs": [{"value": "{standard.X}"}]}, {})
    assert exc.value.field == "budget.inputs[0].value" and "{standard.X}" in exc.value.message
    with pytest.raises(InvalidInput, match="no value at this point"):
        fill("{standard.U}", {"standard.U": None})
    with pytest.raises(InvalidInput, match="is a list"):
        fill("x{readings}", {"readings": ["1"]})


@pytest.mark.parametrize(("unit", "dsi"), [
    ("g", "\\gram"), ("mg", "\\milli\\gram"), ("kg", "\\kilogram"), ("℃", "\\degreeCelsius"),
    ("K", "\\kelvin"), ("kPa", "\\kilo\\pascal"), ("μm", "\\micro\\metre"), ("Ω", "\\ohm"),
    ("%", "\\percent"), ("r/min", "\\minute\\tothe{-1}"), ("N·m", "\\newton\\metre"),
    ("m/s**2", "\\metre\\second\\tothe{-2}"), ("mL", "\\milli\\litre")])
def test_units_written_in_d_si_read_back_as_the_same_unit(unit, dsi):
    assert unit_to_dsi(unit) == dsi
    assert parse_unit(dsi_to_unit(dsi)) == parse_unit(unit)


def test_a_unit_d_si_cannot_write_is_refused():
    with pytest.raises(InvalidInput, match="D-SI cannot write"):
        unit_to_dsi("ft")
