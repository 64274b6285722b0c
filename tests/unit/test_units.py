"""Lab unit notation through the one pint registry."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lims import units
from lims.errors import InvalidInput, UnitMismatch


@pytest.mark.parametrize(("text", "same_as"), [
    ("℃", "degC"), ("°C", "degC"), ("µm", "micrometer"), ("μm", "micrometer"),
    ("\u2126", "ohm"), ("\u03a9", "ohm"), ("kΩ", "kiloohm"), ("％", "percent"), ("%", "percent"),
    ("r/min", "1/minute"), ("m²", "meter**2"), ("N·m", "newton*meter"),
    (" g ", "gram"), ("%RH", "percent"), ("℃⁻¹", "1/delta_degC"),
])
def test_lab_notation(text, same_as):
    unit = units.parse_unit(text)
    assert unit.dimensionality == units.ureg.parse_units(same_as).dimensionality
    assert units.ureg.Quantity(Decimal(1), unit).to(same_as).magnitude == 1


@pytest.mark.parametrize("text", ["", "   ", "bogons", "毫米", "HVX", "g)", "1/0", 5, None,
                                  "x" * 41, "__import__('os')"])
def test_unknown_units_are_refused_with_the_field(text):
    with pytest.raises(InvalidInput) as exc:
        units.parse_unit(text, field="unit")
    assert exc.value.field == "unit"


def test_mismatch_names_both_units():
    with pytest.raises(UnitMismatch) as exc:
        units.check_compatible(units.parse_unit("mm"), units.parse_unit("g"), given_text="mm")
    assert "'mm'" in exc.value.message and "'g'" in exc.value.message
    assert exc.value.data == {"given": "mm", "expected": "g"}


@pytest.mark.parametrize(("text", "expected"), [
    ("100.00", "100.00"), ("-0.5", "-0.5"), ("+3", "3"), (".5", "0.5"), ("1e-3", "0.001"), (7, "7"),
])
def test_values_are_exact(text, expected):
    assert units.parse_value(text) == Decimal(expected)
    assert str(units.parse_value("100.00")) == "100.00"


@pytest.mark.parametrize("text", ["1,5", "abc", "NaN", "inf", "1e", "", 1.5, True, None, [1]])
def test_non_numbers_are_refused(text):
    with pytest.raises(InvalidInput):
        units.parse_value(text)


def test_conversion_is_exact_decimal():
    assert units.convert(Decimal("0.1005"), units.parse_unit("kg"), units.parse_unit("g")) == \
        Decimal("100.5")
    assert units.convert(Decimal("20.0"), units.parse_unit("℃"), units.parse_unit("K")) == \
        Decimal("293.15")


def test_symbols_for_display():
    assert units.symbol("degree_Celsius") == "°C"
    assert units.symbol("gram") == "g"
    assert units.symbol("not a unit ((") == "not a unit (("


@pytest.mark.parametrize(("stored", "shown"), [
    ("degree_Celsius", "℃"), ("degC", "℃"), ("°C", "℃"), ("℃", "℃"),
    ("delta_degree_Celsius", "Δ℃"), ("percent_relative_humidity", "%RH"), ("%RH", "%RH"),
    ("micrometer", "μm"), ("\u00b5m", "μm"), ("ohm", "Ω"), ("\u2126", "Ω"), ("kiloohm", "kΩ"),
    ("gram", "g"), ("g", "g"), ("mg/kg", "mg/kg"), ("r/min", "r/min"), ("HV10", "HV10"),
    ("pH", "pH"), ("", ""), (None, ""),
])
def test_units_are_displayed_as_people_write_them(stored, shown):
    """Pages show ``21.0 ℃``, not pint's ``degC``/``degree_Celsius``; a unit stored as the
    person wrote it is shown so (GB 3100: ℃ is one symbol, μ the Greek letter)."""
    assert units.display(stored) == shown
