"""Quantity kinds (issue 9): units accepted and converted only within their kind, values as labs
write them, and no unit or value that ends in anything but a clear refusal."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lims import units
from lims.errors import InvalidInput, UnitMismatch
from lims.kinds import KINDS, judge, registry, values


def characteristic(unit, kind=None, lower=None, upper=None, **more):
    declared = judge.declare(unit=unit, kind=kind, lower_limit=lower, upper_limit=upper, **more)
    return SimpleNamespace(**vars(declared))


# --- the reproduced problems --------------------------------------------------------------

def test_revolutions_per_minute_are_counts_not_radians():
    motor = characteristic("Hz", "rotational_frequency", "24", "26")
    judged = judge.evaluate(motor, "1500", "r/min")
    assert judged.conformity == "pass"
    assert registry.convert(Decimal(1500), judged.unit, judge.characteristic_unit(motor)) == 25
    assert judge.evaluate(characteristic("r/min", None, "1440", "1560"), "25", "Hz").conformity \
        == "pass"
    # pint alone says 157.08 Hz; the generic parse (calibration points) agrees with the kind now.
    assert units.convert(Decimal(1500), units.parse_unit("r/min"), units.parse_unit("Hz")) == 25
    with pytest.raises(UnitMismatch) as exc:  # a supply frequency is not a rotational frequency
        judge.evaluate(characteristic("Hz", None, "49", "51"), "3000", "r/min")
    assert "'r/min'" in exc.value.message and "frequency" in exc.value.message


def test_relative_humidity_is_not_a_mass_fraction():
    room = characteristic("%RH", None, None, "60")
    assert room.kind == "relative_humidity"
    with pytest.raises(UnitMismatch) as exc:
        judge.evaluate(room, "45", "mg/kg")
    assert "'mg/kg'" in exc.value.message and "relative_humidity" in exc.value.message
    assert exc.value.data["kind"] == "relative_humidity"
    with pytest.raises(InvalidInput, match="outside"):
        judge.evaluate(room, "100.5", "%RH")
    assert judge.evaluate(room, "45", "%RH").conformity == "pass"


def test_mass_and_volume_fractions_are_different_kinds_and_keep_their_notation():
    fat = characteristic("%(m/m)", None, None, "5")
    assert (fat.kind, fat.unit_text) == ("mass_fraction", "%(m/m)")
    with pytest.raises(UnitMismatch) as exc:
        judge.evaluate(fat, "4", "%(V/V)")
    assert "'%(V/V)'" in exc.value.message and "mass_fraction" in exc.value.message
    judged = judge.evaluate(fat, "4.0", "% (m/m)")
    assert judged.conformity == "pass" and judged.unit.written == "% (m/m)"
    assert judge.evaluate(fat, "50000", "mg/kg").conformity == "pass"   # 5 %(m/m)
    assert judge.evaluate(fat, "50001", "mg/kg").conformity == "fail"
    assert judge.requirement(fat) == "≤ 5 %(m/m)"


@pytest.mark.parametrize(("unit", "kind"), [
    ("pH", "ph"), ("dB(A)", "sound_level"), ("dB", "sound_level"), ("HV10", "hardness"),
    ("HRC", "hardness"), ("CFU/g", "microbial_count"), ("r/min", "rotational_frequency"),
    ("N·m", "torque"), ("N*m", "torque"), ("J", "energy"), ("mol/L", "amount_concentration"),
    ("μg/m³", "mass_concentration"), ("µg/kg", "mass_fraction"), ("lx", "illuminance"),
    ("cd/m²", "luminance"), ("mm", "length"), ("g/m²", "mass_per_area"), ("kPa", "pressure"),
    ("Hz", "frequency"), ("%", "ratio"), ("级", "grade"), ("m/s", "velocity"),
    ("W/m²", "other"),
])
def test_a_unit_names_its_kind(unit, kind):
    assert registry.infer(unit).id == kind


@pytest.mark.parametrize("unit", ["K", "℃", "°C", "degC", "kelvin"])
def test_a_bare_temperature_unit_must_say_which_kind(unit):
    with pytest.raises(InvalidInput) as exc:
        characteristic(unit)
    assert exc.value.field == "kind"
    assert "temperature or temperature_difference" in exc.value.message


def test_ph_and_decibels_are_never_picohenry_ampere_or_percent():
    ph = characteristic("pH", None, "6.5", "8.5")
    assert (ph.kind, ph.unit) == ("ph", "pH")
    assert judge.evaluate(ph, "7.2", "pH").conformity == "pass"
    with pytest.raises(InvalidInput, match="outside"):
        judge.evaluate(ph, "15", "pH")
    ratio = characteristic("%", None, None, "5")
    for unit in ("dB", "dB(A)", "pH", "HV", "CFU/g"):
        with pytest.raises(UnitMismatch) as exc:
            judge.evaluate(ratio, "3", unit)
        assert f"{unit!r}" in exc.value.message and "ratio" in exc.value.message
    noise = characteristic("dB(A)", None, None, "85")
    with pytest.raises(UnitMismatch, match="never converted"):
        judge.evaluate(noise, "80", "dB(C)")
    with pytest.raises(UnitMismatch, match="scales"):
        judge.evaluate(characteristic("HV10", None, "200"), "200", "HV1")


def test_a_temperature_rise_reads_degrees_celsius_as_a_difference():
    rise = characteristic("K", "temperature_difference", None, "80")
    judged = judge.evaluate(rise, "45", "℃")
    assert judged.conformity == "pass" and judged.unit.written == "℃"
    assert registry.convert(Decimal(45), judged.unit, judge.characteristic_unit(rise)) == 45
    absolute = characteristic("K", "temperature", None, "80")
    assert judge.evaluate(absolute, "45", "℃").conformity == "fail"   # 318.15 K
    with pytest.raises(InvalidInput, match="outside"):
        judge.evaluate(absolute, "-300", "℃")


# --- values as labs write them --------------------------------------------------------------

@pytest.mark.parametrize(("text", "kind", "number", "type_"), [
    ("1.5×10³", "mass_fraction", "1500", "number"), ("1.5E3", "mass_fraction", "1500", "number"),
    ("1.5x10^3", "mass_fraction", "1500", "number"), ("2.0×10⁻³", "ratio", "0.002", "number"),
    ("10⁴", "microbial_count", "10000", "number"), ("−5", "ratio", "-5", "number"),
    ("<0.01", "mass_fraction", "0.01", "censored"), ("≤ 0.01", "mass_fraction", "0.01", "censored"),
    (">100", "mass_fraction", "100", "censored"), ("<1.0×10¹", "microbial_count", "10", "censored"),
    ("4-5", "grade", "4.5", "grade"), ("3", "grade", "3", "grade"), ("4–5 级", "grade", "4.5", "grade"),
])
def test_value_syntax(text, kind, number, type_):
    v = values.parse(text, KINDS[kind])
    assert (v.text, v.type, v.number) == (text, type_, Decimal(number))


@pytest.mark.parametrize(("text", "label"), [("阴性", "阴性"), ("negative", "阴性"), ("未检出", "未检出"),
                                            ("合格", "合格"), ("阳性", "阳性")])
def test_qualitative_values_come_from_a_closed_list(text, label):
    assert values.parse(text, KINDS["qualitative"]).label == label


@pytest.mark.parametrize(("text", "kind"), [
    ("1,5", "mass"), ("abc", "mass"), ("NaN", "mass"), ("4-5", "mass"), ("阴性", "mass"),
    ("4-6", "grade"), ("x", "grade"), ("maybe", "qualitative"), ("1.5", "qualitative"),
    ("<", "mass"), ("1e99999", "mass"), ("", "mass"), ("1.5×10", "mass"),
])
def test_malformed_values_are_refused_with_the_field(text, kind):
    with pytest.raises(InvalidInput) as exc:
        values.parse(text, KINDS[kind])
    assert exc.value.field == "value"


def test_censored_and_not_detected_values_are_judged_by_their_interval():
    limit = characteristic("mg/kg", None, None, "0.05", lod="0.01", loq="0.03")
    assert judge.evaluate(limit, "<0.01", "mg/kg").conformity == "pass"
    assert judge.evaluate(limit, "<0.05", "mg/kg").conformity == "pass"
    assert judge.evaluate(limit, "≤0.05", "mg/kg").conformity == "pass"
    assert judge.evaluate(limit, "<0.1", "mg/kg").conformity == "undecided"
    assert judge.evaluate(limit, ">0.05", "mg/kg").conformity == "fail"
    assert judge.evaluate(limit, "<20", "μg/kg").conformity == "pass"   # 0.02 mg/kg
    assert judge.evaluate(limit, "ND", "mg/kg").conformity == "pass"
    assert judge.display("ND", "mg/kg", limit) == ("未检出 (< 0.01 mg/kg)", "")
    assert judge.display("未检出", "mg/kg", limit) == ("未检出 (< 0.01 mg/kg)", "")
    minimum = characteristic("mg/kg", None, "0.1")
    assert judge.evaluate(minimum, "<0.01", "mg/kg").conformity == "fail"
    assert judge.evaluate(minimum, "≥0.1", "mg/kg").conformity == "pass"
    assert judge.evaluate(minimum, "≤0.1", "mg/kg").conformity == "undecided"
    with pytest.raises(InvalidInput, match="LOD"):
        judge.evaluate(minimum, "未检出", "mg/kg")


def test_values_outside_the_domain_of_their_kind_are_refused():
    fraction = characteristic("mg/kg", None, None, "60")
    for value in ("−5", "-0.001", "<0", "1.1E6"):
        with pytest.raises(InvalidInput) as exc:
            judge.evaluate(fraction, value, "mg/kg")
        assert exc.value.field == "value" and "mass fraction" in exc.value.message
    assert judge.evaluate(fraction, "≤0", "mg/kg").conformity == "pass"
    with pytest.raises(InvalidInput) as exc:
        characteristic("mg/kg", None, "-1")
    assert exc.value.field == "lower_limit"
    with pytest.raises(InvalidInput, match="above the limit of quantification"):
        characteristic("mg/kg", lod="0.05", loq="0.01")


def test_grades_and_qualitative_results_are_judged_by_order_and_equality():
    fastness = characteristic("级", "grade", "4")
    assert [judge.evaluate(fastness, v, "级").conformity for v in ("4-5", "4", "3-4")] == \
        ["pass", "pass", "fail"]
    assert judge.evaluate(fastness, "4-5", None).unit.canonical == "级"
    salmonella = characteristic(None, "qualitative", expected="negative")
    assert salmonella.expected == "阴性" and judge.requirement(salmonella) == "阴性"
    assert judge.evaluate(salmonella, "阴性", None).conformity == "pass"
    assert judge.evaluate(salmonella, "阳性", "").conformity == "fail"
    with pytest.raises(InvalidInput, match="阴性, 阳性"):
        judge.evaluate(salmonella, "合格", None)
    with pytest.raises(UnitMismatch):
        judge.evaluate(salmonella, "阴性", "g")
    with pytest.raises(InvalidInput) as exc:
        characteristic(None, "qualitative", upper="1")
    assert exc.value.field == "upper_limit"


def test_units_are_kept_as_written_with_only_equivalent_glyphs_normalised():
    length = characteristic("mm", None, "10")
    for written, kept in (("µm", "μm"), ("μm", "μm"), (" mm ", "mm"), ("mm", "mm")):
        assert judge.evaluate(length, "12000", written).unit.written == kept
    resistance = characteristic("kΩ", None, "1")
    assert judge.evaluate(resistance, "1000", "\u2126").unit.written == "\u03a9"
    torque = characteristic("N·m", None, None, "5")
    assert judge.evaluate(torque, "4", "N·m").unit.written == "N·m"
    with pytest.raises(UnitMismatch):
        judge.evaluate(torque, "4", "J")  # pint cannot tell them apart; the kind can


def test_stored_units_get_the_kind_they_name():
    assert registry.stored_unit("gram") == ("mass", "g", "gram")
    assert registry.stored_unit("revolutions_per_minute") == ("rotational_frequency", "r/min",
                                                              "1 / minute")
    assert registry.stored_unit("percent_relative_humidity") == ("relative_humidity", "%RH",
                                                                 "percent")
    assert registry.stored_unit("percent") == ("ratio", "%", "percent")
    assert registry.stored_unit("degree_Celsius") == ("temperature", "℃", "degree_Celsius")
    assert registry.stored_unit("meter * newton")[:2] == ("torque", "N·m")
    assert registry.stored_unit("millimeter")[:2] == ("length", "mm")
    assert registry.stored_unit("watt / meter ** 2")[0] == "other"


# --- no unit pair, no value ends in anything but InvalidInput ------------------------------

ALL_UNITS = sorted({text for kind in KINDS.values() for spec in kind.units
                    for text in (spec.notation, *spec.aliases)})
NASTY = ["", " ", "m/", "1/0", "℃⁻¹", "%RH%", "HV0.3", "dB(", "()", "g)", "10**400 m",
         "__import__('os')", "x" * 41, "m\x00", "1e400 g", "kg ** 1000", "dimensionless"]
unit_texts = st.sampled_from(ALL_UNITS + NASTY) | st.text(max_size=12) | st.none() | \
    st.integers() | st.just(["g"])
value_texts = st.sampled_from(["100.00", "<0.01", "≥ 5", "未检出", "ND", "阴性", "1.5×10³", "4-5",
                               "−5", "0", "1e30", "1e-30", ">1e30", "<0", "nd"]) | \
    st.text(max_size=12) | st.integers() | st.none() | st.floats()


@st.composite
def characteristics(draw):
    kind = draw(st.sampled_from(sorted(KINDS)))
    notations = [s.notation for s in KINDS[kind].units] or ["W/m²"]
    unit = draw(st.sampled_from(notations))
    limits = draw(st.sampled_from([(None, None), ("0", None), (None, "10"), ("1", "5"),
                                   ("0.001", "1000")]))
    try:
        return characteristic(unit, kind, *limits, lod=draw(st.sampled_from([None, "0.001"])),
                              expected="阴性" if kind == "qualitative" else None)
    except InvalidInput:  # a limit outside the kind's domain (a grade above 10): none then
        return characteristic(unit, kind, lod=None,
                              expected="阴性" if kind == "qualitative" else None)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(ch=characteristics(), value=value_texts, unit=unit_texts)
def test_no_unit_pair_and_no_value_gives_anything_but_a_clear_refusal(ch, value, unit):
    try:
        judged = judge.evaluate(ch, value, unit)
    except InvalidInput as exc:
        refused = exc
    else:
        assert judged.unit.kind.id == ch.kind
        assert judged.conformity in (None, "pass", "fail", "undecided")
        return
    assert refused.field in ("value", "unit") and refused.message


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(unit=unit_texts, kind=st.sampled_from([None, *sorted(KINDS), "bogus", 3]))
def test_declaring_any_unit_and_kind_is_accepted_or_refused_clearly(unit, kind):
    try:
        declared = judge.declare(unit=unit, kind=kind, prefix="characteristics[0]")
    except InvalidInput as exc:
        refused = exc
    else:
        assert declared.kind in KINDS
        assert len(declared.unit_text) <= 40 and len(declared.unit) <= 60
        return
    assert refused.field.startswith("characteristics[0].") and refused.message


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_listed_unit_converts_within_its_kind(kind):
    k = KINDS[kind]
    resolved = [registry.resolve(k, spec.notation) for spec in k.units]
    for a in resolved:
        for b in resolved:
            if k.convertible:
                registry.convert(Decimal("1.5"), a, b)
            elif a.canonical != b.canonical:
                with pytest.raises(UnitMismatch):
                    registry.convert(Decimal("1.5"), a, b)


def test_every_kind_is_documented_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("## Quantity kinds and result values", 1)[1].split("\n## ", 1)[0]
    for kind in KINDS:
        assert f"| `{kind}` |" in table, kind


# --- uncertainty and decision rules (issue 9 §4) --------------------------------------------

def test_a_characteristic_says_how_its_uncertainty_is_obtained():
    fixed = characteristic("mg/kg", None, None, "0.05", uncertainty={"expanded": "0.01"})
    assert (fixed.uncertainty_kind, fixed.uncertainty, fixed.coverage_factor) == (
        "expanded", "0.01", "2")
    assert judge.uncertainty_source(fixed) == "U = 0.01 mg/kg (k = 2)"
    relative = characteristic("g", None, "99", "101", uncertainty={"relative": "1.5", "k": "2"})
    judged = judge.evaluate(relative, "100.0", "g")
    assert (judged.expanded_uncertainty, judged.coverage_factor) == (Decimal("1.5"), 2)
    assert judge.evaluate(relative, "0.0333", "kg").expanded_uncertainty == Decimal("0.50")
    for bad, field in (({"expanded": "0"}, "uncertainty.expanded"),
                       ({"expanded": "1", "relative": "1"}, "uncertainty"),
                       ({"relative": "x"}, "uncertainty.relative"),
                       ({"expanded": "1", "k": "0.5"}, "uncertainty.k"), ("1", "uncertainty")):
        with pytest.raises(InvalidInput) as exc:
            characteristic("g", uncertainty=bad)
        assert exc.value.field == field
    with pytest.raises(InvalidInput) as exc:
        characteristic("级", "grade", uncertainty={"expanded": "1"})
    assert exc.value.field == "uncertainty"


@pytest.mark.parametrize(("value", "simple", "guarded", "non_binary"), [
    ("0.035", "pass", "pass", "pass"),
    ("0.045", "pass", "fail", "conditional pass"),
    ("0.05", "pass", "fail", "conditional pass"),
    ("0.055", "fail", "fail", "conditional fail"),
    ("0.07", "fail", "fail", "fail"),
    ("<0.03", "pass", "pass", "pass"),
    ("<0.045", "pass", "undecided", "undecided"),
])
def test_the_agreed_rule_and_its_guard_band_decide(value, simple, guarded, non_binary):
    ch = characteristic("mg/kg", None, None, "0.05", uncertainty={"expanded": "0.01"})
    got = [judge.evaluate(ch, value, "mg/kg", rule=rule, r=Decimal(1)).conformity
           for rule in ("simple", "guarded", "non-binary")]
    assert got == [simple, guarded, non_binary]


def test_a_guard_band_without_an_uncertainty_is_refused():
    ch = characteristic("mg/kg", None, None, "0.05")
    assert judge.evaluate(ch, "0.04", "mg/kg").conformity == "pass"
    with pytest.raises(InvalidInput, match="uncertainty"):
        judge.evaluate(ch, "0.04", "mg/kg", rule="guarded")
    grade = characteristic("级", "grade", "4")
    assert judge.evaluate(grade, "4", "级", rule="guarded").conformity == "pass"
