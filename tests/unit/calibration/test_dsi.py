"""D-SI unit strings to lims unit text: one test per construct of the grammar, and the refusals."""

from __future__ import annotations

import pytest

from lims.calibration.dsi import dsi_to_unit
from lims.errors import InvalidInput
from lims.units import parse_unit, ureg


@pytest.mark.parametrize(("dsi", "text", "same_as"), [
    # base units
    (r"\metre", "m", "meter"), (r"\kilogram", "kg", "kilogram"), (r"\second", "s", "second"),
    (r"\ampere", "A", "ampere"), (r"\kelvin", "K", "kelvin"), (r"\mole", "mol", "mole"),
    (r"\candela", "cd", "candela"),
    # derived units with special names
    (r"\volt", "V", "volt"), (r"\ohm", "ohm", "ohm"), (r"\hertz", "Hz", "hertz"),
    (r"\pascal", "Pa", "pascal"), (r"\newton", "N", "newton"), (r"\watt", "W", "watt"),
    # non-SI units D-SI admits
    (r"\litre", "L", "liter"), (r"\gram", "g", "gram"), (r"\tonne", "t", "metric_ton"),
    (r"\bar", "bar", "bar"), (r"\mmHg", "mmHg", "millimeter_Hg"), (r"\hour", "h", "hour"),
])
def test_plain_units(dsi, text, same_as):
    assert dsi_to_unit(dsi) == text
    assert parse_unit(text) == ureg.parse_units(same_as)


@pytest.mark.parametrize(("dsi", "text"), [
    (r"\milli\gram", "mg"), (r"\micro\metre", "um"), (r"\kilo\pascal", "kPa"),
    (r"\mega\hertz", "MHz"), (r"\nano\metre", "nm"), (r"\deca\metre", "dam"),
    (r"\kilo\gram", "kg"),  # not canonical D-SI (that is \kilogram) but unambiguous
])
def test_prefixes(dsi, text):
    assert dsi_to_unit(dsi) == text


def test_binary_prefixes_only_on_bit_and_byte():
    assert dsi_to_unit(r"\kibi\byte") == "KiB"
    with pytest.raises(InvalidInput, match=r"\\kibi applies only"):
        dsi_to_unit(r"\kibi\metre")


@pytest.mark.parametrize(("dsi", "text", "same_as"), [
    (r"\kilogram\metre\tothe{-1}\second\tothe{-2}", "kg/m/s**2", "pascal"),
    (r"\metre\tothe{2}", "m**2", "meter**2"),
    (r"\newton\metre", "N*m", "joule"),
    (r"\second\tothe{0.5}", "s**0.5", "second**0.5"),
    (r"\metre\tothe{0}", "1", "dimensionless"),
])
def test_tothe(dsi, text, same_as):
    assert dsi_to_unit(dsi) == text
    assert parse_unit(text).dimensionality == ureg.parse_units(same_as).dimensionality


@pytest.mark.parametrize(("dsi", "text"), [
    (r"\metre\per\second", "m/s"),
    (r"\metre\per\second\tothe{2}", "m/s**2"),
    (r"\milli\litre\per\minute", "mL/min"),
])
def test_per(dsi, text):
    assert dsi_to_unit(dsi) == text


def test_one_percent_and_ppm_are_dimensionless():
    assert dsi_to_unit(r"\one") == "1"
    assert dsi_to_unit(r"\percent") == "%"
    assert dsi_to_unit(r"\ppm") == "ppm"
    for dsi in (r"\one", r"\percent", r"\ppm"):
        assert parse_unit(dsi_to_unit(dsi)).dimensionless
    assert dsi_to_unit(r"\one\per\kelvin") == "1/K"


def test_celsius_is_an_absolute_temperature_alone_and_a_difference_in_a_compound():
    assert dsi_to_unit(r"\degreecelsius") == "degC"
    assert parse_unit("degC") == ureg.parse_units("degree_Celsius")
    assert parse_unit(dsi_to_unit(r"\degreecelsius\tothe{-1}")) == ureg.parse_units("1/delta_degC")


def test_a_clashing_symbol_falls_back_to_long_names():
    # "ft" would be a foot and "pt" a pint.
    assert dsi_to_unit(r"\femto\tonne") == "femtometric_ton"
    assert dsi_to_unit(r"\pico\tonne") == "picometric_ton"


def test_a_text_the_lab_notation_would_rewrite_is_spaced():
    # lims.units rewrites "r/min" to rpm, which would corrupt "bar/min".
    text = dsi_to_unit(r"\bar\per\minute")
    assert parse_unit(text) == ureg.parse_units("bar / minute")


def test_surrounding_space_is_ignored():
    assert dsi_to_unit("  \\volt\n") == "V"


@pytest.mark.parametrize(("dsi", "message"), [
    (r"\furlong", r"unknown D-SI unit \\furlong"),
    (r"\metre\furlong", r"unknown D-SI unit \\furlong"),
    ("kg", "not written in D-SI notation"),
    ("", "a D-SI unit is required"),
    ("|mile", "non-D-SI unit"),
    (r"\kilo", r"prefix \\kilo without a unit"),
    (r"\kilo\milli\metre", "two prefixes"),
    (r"\tothe{2}", r"\\tothe must follow a unit"),
    (r"\metre\tothe{2}\tothe{3}", r"\\tothe must follow a unit, once"),
    (r"\metre\tothe{x}", "exponent {x} is not a number"),
    (r"\metre{2}", "takes no argument"),
    (r"\metre\per\second\per\second", r"\\per .* may appear once"),
    (r"\per\second", r"\\per needs a unit before it"),
    (r"\metre\per", r"\\per without a unit after it"),
    (r"\milli\kilogram", "takes no prefix"),
    (r"\milli\degreecelsius", "takes no prefix"),
    (r"\metre \second", "cannot read"),
    (r"\bel", "no equivalent in the LIMS unit registry"),
])
def test_refusals_name_the_problem(dsi, message):
    with pytest.raises(InvalidInput, match=message) as exc:
        dsi_to_unit(dsi, field="results[0].unit")
    assert exc.value.field == "results[0].unit"
