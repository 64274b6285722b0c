"""The GUM engine against published worked examples, and its refusals."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lims.errors import InvalidInput
from lims.metrology.uncertainty import (
    coverage_factor,
    evaluate,
    group_digits,
    monte_carlo,
    parse_budget,
    round_to,
    round_uncertainty,
    shortest_interval,
    symmetric_interval,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "budgets"


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def one(uncertainty: dict, *, value="1", unit="nm", coverage=None) -> dict:
    budget = {"measurand": {"symbol": "y", "unit": unit}, "model": "x",
              "inputs": [{"symbol": "x", "value": value, "unit": unit,
                          "uncertainty": uncertainty}]}
    if coverage:
        budget["coverage"] = coverage
    return budget


def test_ea_4_02_s2_mass_calibration():
    """EA-4/02 M:2013 S2, the issue's example budget, exactly as written there."""
    result = evaluate(parse_budget(load("ea-4-02-s2-mass.json")))
    assert result.value == pytest.approx(10000.025, abs=1e-9)
    assert result.standard_uncertainty == pytest.approx(0.029245, abs=1e-6)  # 29.2 mg
    assert result.k == 2
    rows = {r.symbol: r for r in result.rows}
    assert rows["m_S"].contribution == pytest.approx(0.0225)       # g, in the measurand's unit
    assert rows["dm_D"].standard_uncertainty == pytest.approx(15 / math.sqrt(3))  # mg
    assert rows["dm_D"].sensitivity == pytest.approx(0.001)        # g per mg
    assert rows["dm_D"].contribution == pytest.approx(0.00866, abs=1e-5)
    assert sum(r.percent for r in result.rows) == pytest.approx(100)
    # U = 58.49 mg: half-up to two digits gives 0.058 g (as GUM Workbench prints it);
    # EA-4/02 prints 59 mg after rounding u to 29.3 mg first, which rounding up reproduces.
    assert result.reported.text == "m_X = 10 000.025 g ± 0.058 g (k = 2, p ≈ 95 %)"
    up = evaluate(parse_budget(load("ea-4-02-s2-mass.json")), rounding="up")
    assert up.reported.text == "m_X = 10 000.025 g ± 0.059 g (k = 2, p ≈ 95 %)"
    # S2.4: u(δm) = 25 mg/√3 from a standard deviation pooled over earlier comparisons of the
    # same weights; its degrees of freedom are those of the pooled estimate, not 3 − 1 = 2.
    assert rows["dm"].dof == math.inf and result.dof_effective == math.inf


def test_gum_h1_end_gauge():
    """GUM (JCGM 100) H.1: u_c = 32 nm, ν_eff = 16.7 truncated to 16, t99(16) = 2.92."""
    result = evaluate(parse_budget(load("gum-h1-end-gauge.json")))
    assert result.reported.value == Decimal("50000838")
    assert round(result.standard_uncertainty) == 32
    assert result.dof_effective == pytest.approx(16.7, abs=0.1)
    assert result.k == pytest.approx(2.92, abs=0.005)
    assert 92 <= result.reported.expanded_uncertainty <= 94
    rows = {r.symbol: r for r in result.rows}
    assert rows["dtheta"].sensitivity == pytest.approx(-575.007, rel=1e-5)  # −l_s·α_s, nm/K
    assert rows["dalpha"].sensitivity == pytest.approx(5000062.3, rel=1e-6)  # −l_s·θ, nm·K
    assert rows["theta"].sensitivity == 0 and rows["alpha_s"].contribution == 0


@pytest.mark.parametrize(("uncertainty", "expected"), [
    ({"type": "B", "distribution": "rectangular", "half_width": "2e-6"}, 1.1547e-6),
    ({"type": "B", "distribution": "arcsine", "half_width": "0.5"}, 0.35355),
    ({"type": "B", "distribution": "triangular", "half_width": "6"}, 6 / math.sqrt(6)),
    ({"type": "B", "distribution": "normal", "expanded": "10", "probability": 0.95, "dof": 5},
     3.89),
    ({"type": "B", "distribution": "normal", "expanded": "75", "k": 3}, 25),
    ({"type": "B", "distribution": "standard", "standard": "4.2"}, 4.2),
    ({"type": "A", "standard": "1.5", "dof": 9}, 1.5),
])
def test_type_b_divisors_mu_03(uncertainty, expected):
    result = evaluate(parse_budget(one(uncertainty)))
    assert result.standard_uncertainty == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize(("value", "unit", "uncertainty", "expected"), [
    # A calibrator's 10 V output, U = 5 ppm (k = 2): u = 25 µV.
    ("10", "V", {"type": "B", "distribution": "normal", "expanded": "5", "k": 2, "unit": "ppm"},
     25e-6),
    # A DMM reading of 1.5 V with a ±0.01 % of reading specification: u = 150 µV/√3.
    ("1.5", "V", {"type": "B", "distribution": "rectangular", "half_width": "0.01", "unit": "%"},
     150e-6 / math.sqrt(3)),
    # µV/V is the same kind of number as ppm; the sign of the value does not matter.
    ("-10", "V", {"type": "B", "distribution": "standard", "standard": "2", "unit": "µV/V"},
     20e-6),
    ("100", "mΩ", {"type": "A", "standard": "3", "dof": 9, "unit": "µΩ/Ω"}, 300e-6),
    # A dimensionless input keeps its uncertainty absolute: 0.5 % of 1 is 0.005.
    ("0.98", "1", {"type": "B", "distribution": "standard", "standard": "0.5", "unit": "%"},
     0.005),
])
def test_relative_uncertainties_of_inputs(value, unit, uncertainty, expected):
    result = evaluate(parse_budget(one(uncertainty, value=value, unit=unit)))
    assert result.rows[0].standard_uncertainty == pytest.approx(expected, rel=1e-9)
    assert result.standard_uncertainty == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("value", "unit", "uncertainty", "field", "words"), [
    ("20", "°C", {"type": "B", "distribution": "standard", "standard": "1", "unit": "%"},
     "inputs[0].uncertainty.unit", "absolute temperature"),
    ("0", "V", {"type": "B", "distribution": "standard", "standard": "1", "unit": "ppm"},
     "inputs[0].uncertainty.unit", "other than zero"),
    (None, "V", {"type": "A", "readings": ["1", "2"], "unit": "ppm"},
     "inputs[0].uncertainty.unit", "readings"),
])
def test_relative_uncertainties_refused_where_meaningless(value, unit, uncertainty, field, words):
    budget = one(uncertainty, value=value, unit=unit)
    with pytest.raises(InvalidInput) as exc:
        parse_budget(budget)
    assert exc.value.field == field and words in exc.value.message


@pytest.mark.parametrize(("beta", "same_as"), [(0, "triangular"), (1, "rectangular")])
def test_trapezoidal_ends_are_triangular_and_rectangular(beta, same_as):
    trapezoid = one({"type": "B", "distribution": "trapezoidal", "half_width": "3",
                     "beta": beta})
    other = one({"type": "B", "distribution": same_as, "half_width": "3"})
    assert evaluate(parse_budget(trapezoid)).standard_uncertainty == pytest.approx(
        evaluate(parse_budget(other)).standard_uncertainty, rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.decimals(min_value=0, max_value=1, places=3), st.decimals(
    min_value=Decimal("0.001"), max_value=1000, places=3))
def test_trapezoidal_standard_uncertainty_gum_4_3_9(beta, a):
    """GUM 4.3.9: u² = a²(1 + β²)/6, between the triangular and the rectangular values."""
    u = evaluate(parse_budget(one({"type": "B", "distribution": "trapezoidal",
                                   "half_width": str(a), "beta": str(beta)}))
                 ).standard_uncertainty
    assert u == pytest.approx(float(a) * math.sqrt((1 + float(beta) ** 2) / 6), rel=1e-12)
    assert float(a) / math.sqrt(6) * (1 - 1e-12) <= u <= float(a) / math.sqrt(3) * (1 + 1e-12)


def test_trapezoidal_monte_carlo_draws_jcgm_101_6_4_4():
    b = parse_budget(one({"type": "B", "distribution": "trapezoidal", "half_width": "2",
                          "beta": "0.5"}, value="0"))
    gum = evaluate(b)
    mc = monte_carlo(b, gum, trials=400_000, seed=11)
    assert mc.standard_uncertainty == pytest.approx(2 * math.sqrt(1.25 / 6), rel=0.01)
    assert -2 <= mc.low and mc.high <= 2
    with pytest.raises(InvalidInput) as exc:
        parse_budget(one({"type": "B", "distribution": "trapezoidal", "half_width": "2",
                          "beta": "1.5"}))
    assert exc.value.field == "inputs[0].uncertainty.beta"


def test_type_a_readings():
    budget = one({"type": "A", "readings": ["10.1", "10.3", "10.2"]}, value=None)
    del budget["inputs"][0]["value"]
    result = evaluate(parse_budget(budget))
    assert result.value == pytest.approx(10.2)
    assert result.standard_uncertainty == pytest.approx(0.1 / math.sqrt(3))
    assert result.rows[0].dof == 2 and result.dof_effective == pytest.approx(2)


@pytest.mark.parametrize(("dof", "p", "k"), [
    (16, 0.95, 2.12), (16, 0.9545, 2.17), (16, 0.99, 2.92), (math.inf, 0.9545, 2.00),
    (16.7, 0.95, 2.12), (2, 0.95, 4.30), (math.inf, 0.95, 1.96),
])
def test_coverage_factors_mu_04(dof, p, k):
    assert coverage_factor(dof, p) == pytest.approx(k, abs=0.005)


def test_probability_coverage_truncates_dof():
    budget = load("gum-h1-end-gauge.json")
    budget["coverage"] = {"probability": 0.95}
    result = evaluate(parse_budget(budget))
    assert result.k == pytest.approx(coverage_factor(16, 0.95))
    assert "p ≈ 95 %" in result.reported.text and "k = 2.12" in result.reported.text


@pytest.mark.parametrize(("u", "mode", "digits", "expected"), [
    ("10.47", "up", 2, "11"), ("28.05", "half-up", 2, "28"), ("0.02849", "half-up", 2, "0.028"),
    ("0.02850", "half-up", 2, "0.029"), ("9.96", "half-up", 2, "10"), ("0.0994", "half-up", 2,
                                                                         "0.099"),
    ("0.0996", "half-up", 2, "0.10"), ("123", "half-up", 2, "1.2E+2"), ("0.4", "up", 1, "0.4"),
    ("0.41", "up", 1, "0.5"),
])
def test_rounding_mu_05(u, mode, digits, expected):
    assert round_uncertainty(Decimal(u), mode=mode, digits=digits) == Decimal(expected)


@pytest.mark.parametrize(("u", "digits", "expected"), [
    # GB/T 8170-2008 3.3 (四舍六入五成双): a dropped 5 followed only by zeros keeps the last
    # digit even; anything after the 5 rounds up; 4 drops and 6 carries as usual.
    ("0.0285", 2, "0.028"), ("0.0275", 2, "0.028"), ("0.02850001", 2, "0.029"),
    ("10.45", 2, "10"), ("10.5", 2, "10"), ("11.5", 2, "12"), ("0.1264", 2, "0.13"),
    ("0.1234", 2, "0.12"), ("1.05", 1, "1"), ("3.5", 1, "4"),
    ("2.5", 1, "3"),  # 2 would be 20 % lower: the EA-4/02 guard below rounds up
])
def test_rounding_half_even_gb_t_8170(u, digits, expected):
    assert round_uncertainty(Decimal(u), mode="half-even", digits=digits) == Decimal(expected)


@pytest.mark.parametrize(("u", "mode", "expected"), [
    # EA-4/02: rounding must not lower U by more than 5 %, so one significant digit rounds up
    # whenever the nearest value would be more than 5 % lower.
    ("0.14", "half-up", "0.2"), ("0.14", "half-even", "0.2"), ("1.049", "half-up", "1"),
    ("1.06", "half-up", "2"), ("0.25", "half-even", "0.3"), ("9.4", "half-up", "9"),
    ("9.6", "half-up", "1E+1"), ("0.105", "half-up", "0.1"), ("0.1", "half-up", "0.1"),
])
def test_one_digit_never_lowers_u_by_more_than_5_percent(u, mode, expected):
    assert round_uncertainty(Decimal(u), mode=mode, digits=1) == Decimal(expected)


@settings(max_examples=300, deadline=None)
@given(st.decimals(min_value=Decimal("1e-9"), max_value=Decimal("1e9"), allow_nan=False,
                   allow_infinity=False, places=None),
       st.sampled_from(["half-up", "half-even", "up"]), st.sampled_from([1, 2]))
def test_rounded_u_has_its_digits_and_loses_at_most_5_percent(u, mode, digits):
    rounded = round_uncertainty(u, mode=mode, digits=digits)
    assert len(rounded.normalize().as_tuple().digits) <= digits  # IL-02: at most 2 digits
    assert rounded >= u * Decimal("0.95")
    if mode == "up":
        assert rounded >= u


def test_estimate_rounded_to_the_place_of_u():
    u = round_uncertainty(Decimal("0.027"))
    assert round_to(Decimal("10.05762"), Decimal(1).scaleb(u.as_tuple().exponent)) == \
        Decimal("10.058")
    assert round_to(Decimal("10.0565"), Decimal("0.001"), mode="half-even") == Decimal("10.056")
    assert round_to(Decimal("10.0565"), Decimal("0.001")) == Decimal("10.057")


def test_half_even_rounding_of_a_budget():
    budget = one({"type": "B", "distribution": "standard", "standard": "0.01425"},
                 value="10.0565", coverage={"k": 2})
    assert evaluate(parse_budget(budget)).reported.text == "y = 10.057 nm ± 0.029 nm " \
        "(k = 2, p ≈ 95 %)"
    half_even = evaluate(parse_budget(budget), rounding="half-even")
    assert half_even.reported.text == "y = 10.056 nm ± 0.028 nm (k = 2, p ≈ 95 %)"


@pytest.mark.parametrize(("number", "text"), [
    ("10000.025", "10 000.025"), ("10.05762", "10.057 62"), ("1234.5", "1234.5"),
    ("-50000838", "-50 000 838"), ("0.0000123", "0.000 012 3"),
])
def test_digit_grouping(number, text):
    assert group_digits(Decimal(number)) == text


@pytest.mark.parametrize(("r", "expected"), [(1, 3.0), (-1, 1.0), (0, math.sqrt(5)),
                                             (0.5, math.sqrt(7))])
def test_correlation_mu_02(r, expected):
    budget = {"measurand": {"symbol": "y", "unit": "V"}, "model": "a + b",
              "inputs": [{"symbol": "a", "value": "1", "unit": "V",
                          "uncertainty": {"type": "B", "distribution": "standard", "standard": "1"}},
                         {"symbol": "b", "value": "2", "unit": "V",
                          "uncertainty": {"type": "B", "distribution": "standard", "standard": "2"}}],
              "correlations": [{"a": "a", "b": "b", "r": r}]}
    assert evaluate(parse_budget(budget)).standard_uncertainty == pytest.approx(expected)


def test_correlated_inputs_with_finite_dof_outside_an_ensemble_are_refused():
    budget = {"measurand": {"symbol": "y", "unit": "V"}, "model": "a + b",
              "inputs": [{"symbol": "a", "value": "1", "unit": "V",
                          "uncertainty": {"type": "A", "standard": "1", "dof": 4}},
                         {"symbol": "b", "value": "2", "unit": "V",
                          "uncertainty": {"type": "B", "distribution": "standard", "standard": "2"}}],
              "correlations": [{"a": "a", "b": "b", "r": 0.3}]}
    with pytest.raises(InvalidInput) as exc:
        parse_budget(budget)
    assert exc.value.field == "correlations[0]"
    assert '"ensembles": [["a", "b", …]]' in exc.value.message
    budget["ensembles"] = [["a", "b"]]   # an ensemble shares its degrees of freedom
    with pytest.raises(InvalidInput) as exc:
        parse_budget(budget)
    assert exc.value.field == "ensembles[0]" and "4 and inf" in exc.value.message


# --- GUM H.2: simultaneous measurements of V, I and φ ----------------------------------------

def h2(model: str = "V / I * cos(phi)", symbol: str = "R") -> dict:
    budget = load("gum-h2-resistance.json")
    budget["model"], budget["measurand"]["symbol"] = model, symbol
    if "phi" not in model:
        budget["inputs"].pop()
        budget["simultaneous"] = [["V", "I"]]
    return budget


@pytest.mark.parametrize(("model", "symbol", "value", "u", "digits"), [
    ("V / I * cos(phi)", "R", 127.732, 0.071, 0.0005),   # GUM Table H.4, approach 1
    # GUM prints u(X) = 0.295 Ω; the readings of Table H.2 give 0.2956 Ω.
    ("V / I * sin(phi)", "X", 219.847, 0.295, 0.001),
    ("V / I", "Z", 254.260, 0.236, 0.0005),
])
def test_gum_h2_simultaneous_readings(model, symbol, value, u, digits):
    """GUM H.2: five simultaneous sets of V, I, φ. Their correlations are estimated from the
    readings and, as an ensemble of ν = 4 (Willink 2007), the result keeps ν_eff = 4."""
    result = evaluate(parse_budget(h2(model, symbol)))
    assert result.value == pytest.approx(value, abs=0.0005)
    assert result.standard_uncertainty == pytest.approx(u, abs=digits)
    assert result.dof_effective == pytest.approx(4)
    assert result.k == pytest.approx(2.776, abs=0.0005)           # t95(4)
    assert result.coverage_probability == 0.95


def test_gum_h2_resistance_and_its_correlations():
    """R = 127.732 Ω, u = 0.071 Ω, ν = 4, U95 = t95(4)·u = 0.197 Ω; GUM H.2.3 gives
    r(V, I) = −0.36, r(V, φ) = 0.86, r(I, φ) = −0.65."""
    budget = parse_budget(h2())
    result = evaluate(budget)
    assert result.expanded_uncertainty == pytest.approx(0.197, abs=0.0005)
    assert result.reported.text == "R = 127.73 Ω ± 0.20 Ω (k = 2.78, p ≈ 95 %)"
    r = {(a, b): value for a, b, value in budget.estimated_correlations}
    assert r[("V", "I")] == pytest.approx(-0.36, abs=0.005)
    assert r[("V", "phi")] == pytest.approx(0.86, abs=0.005)
    assert r[("I", "phi")] == pytest.approx(-0.65, abs=0.005)
    rows = {row.symbol: row for row in result.rows}
    assert rows["V"].value == pytest.approx(4.9990) and rows["I"].unit == "mA"
    assert rows["I"].standard_uncertainty == pytest.approx(0.009471, abs=5e-7)  # mA
    assert rows["phi"].dof == 4
    data = result.to_json()
    assert {"a": "V", "b": "I", "r": r[("V", "I")], "estimated": True} in data["correlations"]


def test_gum_h2_by_the_ensemble_of_table_h3():
    """The same result from the means, standard uncertainties and correlations of GUM H.2.3
    (Table H.3), declared an ensemble: u(R) = 0.0700 Ω with ν = 4 (GTC gives 0.069 979)."""
    budget = {"measurand": {"symbol": "R", "unit": "Ω"}, "model": "V / I * cos(phi)",
              "coverage": {"probability": 0.95}, "ensembles": [["V", "I", "phi"]],
              "inputs": [{"symbol": s, "value": x, "unit": unit,
                          "uncertainty": {"type": "A", "standard": u, "dof": 4}}
                         for s, x, u, unit in (("V", "4.999", "3.2e-3", "V"),
                                               ("I", "19.661", "9.5e-3", "mA"),
                                               ("phi", "1.04446", "7.5e-4", "rad"))],
              "correlations": [{"a": "V", "b": "I", "r": -0.36},
                               {"a": "V", "b": "phi", "r": 0.86},
                               {"a": "I", "b": "phi", "r": -0.65}]}
    result = evaluate(parse_budget(budget))
    assert result.value == pytest.approx(127.732, abs=0.0005)
    assert result.standard_uncertainty == pytest.approx(0.069979, abs=5e-6)
    assert result.dof_effective == pytest.approx(4)
    mc = monte_carlo(parse_budget(budget), result, trials=200_000, seed=8)
    # A multivariate t with ν = 4: variance ν/(ν − 2) times the GUF's.
    assert mc.standard_uncertainty == pytest.approx(0.069979 * math.sqrt(2), rel=0.03)


def test_gum_h2_monte_carlo_draws_the_readings_jointly():
    budget = parse_budget(h2())
    gum = evaluate(budget)
    mc = monte_carlo(budget, gum, trials=400_000, seed=5)
    assert mc.value == pytest.approx(127.732, abs=0.002)
    # The 95 % interval of a t with ν = 4 is the GUF's y ± t95(4)·u.
    assert mc.symmetric_low == pytest.approx(127.732 - 0.197, abs=0.004)
    assert mc.symmetric_high == pytest.approx(127.732 + 0.197, abs=0.004)
    assert mc.standard_uncertainty == pytest.approx(0.071 * math.sqrt(2), rel=0.03)


@pytest.mark.parametrize(("change", "field", "words"), [
    (lambda b: b["inputs"][1]["uncertainty"]["readings"].pop(), "simultaneous[0]",
     "same number of readings"),
    (lambda b: b["inputs"][2].update(value="1.04", uncertainty={"type": "A", "standard": "7.5e-4",
                                                               "dof": 4}),
     "simultaneous[0][2]", "readings"),
    (lambda b: b.update(correlations=[{"a": "V", "b": "I", "r": -0.3}]), "correlations[0]",
     "estimated from their readings"),
    (lambda b: b.update(simultaneous=[["V", "I"], ["I", "phi"]]), "simultaneous[1][0]",
     "already in simultaneous[0]"),
    (lambda b: b.update(simultaneous=[["V"]]), "simultaneous[0]", "at least two"),
    (lambda b: b.update(simultaneous=[["V", "Q"]]), "simultaneous[0][1]", "unknown input"),
    (lambda b: b.update(ensembles=[["V", "I"]]), "ensembles[0][0]", "already in"),
    (lambda b: b.update(simultaneous="V I phi"), "simultaneous", "list of lists"),
    (lambda b: b["inputs"][0]["uncertainty"].update(readings=["5"] * 5), "simultaneous[0][0]",
     "do not vary"),
])
def test_malformed_simultaneous_inputs_name_the_field(change, field, words):
    budget = h2()
    change(budget)
    with pytest.raises(InvalidInput) as exc:
        parse_budget(budget)
    assert exc.value.field == field, exc.value.message
    assert words in exc.value.message


@pytest.mark.parametrize("symbol", [["a"], {"a": 1}, 1, None])
def test_a_correlation_naming_no_symbol_is_refused_by_field(symbol):
    # A list or object would not even hash for the lookup of the symbol (once a TypeError).
    budget = {"measurand": {"symbol": "y", "unit": "V"}, "model": "a + b",
              "inputs": [{"symbol": s, "value": "1", "unit": "V", "uncertainty":
                          {"type": "B", "distribution": "standard", "standard": "1"}}
                         for s in ("a", "b")],
              "correlations": [{"a": "a", "b": symbol, "r": 0.3}]}
    with pytest.raises(InvalidInput) as exc:
        parse_budget(budget)
    assert exc.value.field == "correlations[0].b"


def _temperature_budget(model: str, t2_unit: str, measurand: str = "°C") -> dict:
    return {"measurand": {"symbol": "t", "unit": measurand}, "model": model,
            "inputs": [{"symbol": "t1", "value": "20.0", "unit": "℃",
                        "uncertainty": {"type": "B", "distribution": "standard",
                                        "standard": "0.05"}},
                       {"symbol": "t2", "value": "0.25", "unit": t2_unit,
                        "uncertainty": {"type": "B", "distribution": "rectangular",
                                        "half_width": "0.1", "unit": "mK" if t2_unit == "K"
                                        else t2_unit}}]}


def test_absolute_temperature_plus_correction():
    result = evaluate(parse_budget(_temperature_budget("t1 + t2", "K")))
    assert result.value == pytest.approx(20.25)
    assert result.standard_uncertainty == pytest.approx(math.hypot(0.05, 0.0001 / math.sqrt(3)))
    result = evaluate(parse_budget(_temperature_budget("t1 - t2", "delta_degC")))
    assert result.value == pytest.approx(19.75)


@pytest.mark.parametrize(("model", "t2_unit", "measurand", "message"), [
    ("t1 + t2", "°C", "°C", "two absolute temperatures"),
    ("t1 * 2 + t2", "K", "°C", "absolute temperature"),
    ("t1 - t2", "°C", "°C", "temperature difference"),   # a difference is not a °C reading
    ("t2 - t1", "K", "°C", "absolute temperature"),
    ("t1 + t2", "K", "K", None),                          # 293.40 K: °C and K both absolute
    ("t1 + t2", "g", "°C", "not compatible"),
])
def test_temperature_rules(model, t2_unit, measurand, message):
    budget = _temperature_budget(model, t2_unit, measurand)
    if message is None:
        assert evaluate(parse_budget(budget)).value == pytest.approx(293.40)
        return
    with pytest.raises(InvalidInput) as exc:
        parse_budget(budget)
    assert message in exc.value.message


def test_compound_celsius_is_an_interval():
    budget = {"measurand": {"symbol": "dL", "unit": "µm"}, "model": "L * alpha * dt",
              "inputs": [{"symbol": "L", "value": "100", "unit": "mm"},
                         {"symbol": "alpha", "value": "11.5", "unit": "µm/(m·°C)",
                          "uncertainty": {"type": "B", "distribution": "rectangular",
                                          "half_width": "1"}},
                         {"symbol": "dt", "value": "2", "unit": "K"}]}
    result = evaluate(parse_budget(budget))
    assert result.value == pytest.approx(2.3)
    assert result.standard_uncertainty == pytest.approx(0.1 * 2 / math.sqrt(3))


@pytest.mark.parametrize(("change", "field", "words"), [
    (lambda b: b["inputs"].append({"symbol": "extra", "value": "1", "unit": "g"}), "inputs",
     "not used"),
    (lambda b: b.update(model="m_S + dm_D + dm + dm_C + dB + q"), "model", "unknown symbol 'q'"),
    (lambda b: b["inputs"][1]["uncertainty"].update(distribution="cauchy"),
     "inputs[1].uncertainty.distribution", "must be one of"),
    (lambda b: b["inputs"][1]["uncertainty"].pop("half_width"),
     "inputs[1].uncertainty.half_width", "required"),
    (lambda b: b["inputs"][0]["uncertainty"].update(unit="mm"), "inputs[0].uncertainty.unit",
     "'mm'"),
    (lambda b: (b["inputs"][1].update(unit="s"), b["inputs"][1]["uncertainty"].update(unit="ms")),
     "model", "'dm_D' in s"),
    (lambda b: b["measurand"].update(unit="s"), "measurand.unit", "'s'"),
    (lambda b: b.update(coverage={"k": 2, "probability": 0.95}), "coverage", "k"),
    (lambda b: b.update(coverage={"probability": 95}), "coverage.probability", "between 0 and 1"),
    (lambda b: b["inputs"][2].update(value="0,020"), "inputs[2].value", "not a number"),
    (lambda b: b["inputs"][2]["uncertainty"].update(dof=0), "inputs[2].uncertainty.dof",
     "positive"),
    (lambda b: b["inputs"][3].update(unit="bogons"), "inputs[3].unit", "unknown unit"),
    (lambda b: b["inputs"][3].update(symbol="1x"), "inputs[3].symbol", "name"),
    (lambda b: b["inputs"][4].update(symbol="dm_C"), "inputs", "twice"),
    (lambda b: b.update(inputs=[]), "inputs", "at least one"),
    (lambda b: b.update(measurand=None), "measurand", "object"),
    (lambda b: b["inputs"][1]["uncertainty"].update(half_width="-1"),
     "inputs[1].uncertainty.half_width", "positive"),
    (lambda b: b["inputs"][1]["uncertainty"].update(type="C"), "inputs[1].uncertainty.type",
     "A"),
])
def test_malformed_budgets_name_the_field(change, field, words):
    budget = load("ea-4-02-s2-mass.json")
    change(budget)
    with pytest.raises(InvalidInput) as exc:
        parse_budget(budget)
    assert exc.value.field == field, exc.value.message
    assert words in exc.value.message


@pytest.mark.parametrize(("model", "token"), [
    ("__import__('os').system('touch /tmp/lims-pwned')", "__import__"),
    ("m_S.__class__", "m_S.__class__"),
    ("[x for x in (m_S,)][0]", "[x for x in (m_S,)]"),
    ("(lambda: m_S)()", "lambda"),
    ("m_S if dm else dB", "m_S if dm else dB"),
    ("m_S < dm", "m_S < dm"),
    ("m_S and dm", "m_S and dm"),
    ("'m_S'", "'m_S'"),
    ("sqrt(m_S, base=2)", "one argument"),
    ("open('x')", "'open'"),
    ("m_S[0]", "m_S[0]"),
    ("(m_S := 1)", "m_S := 1"),
    ("f'{m_S}'", "f'{m_S}'"),
    ("m_S // 2", "FloorDiv"),
    ("m_S +", "not a valid expression"),
    ("~m_S", "Invert"),
    ("m_S @ dm", "MatMult"),
])
def test_dangerous_or_foreign_models_are_refused_and_nothing_runs(model, token, tmp_path):
    budget = load("ea-4-02-s2-mass.json")
    budget["model"] = model
    with pytest.raises(InvalidInput) as exc:
        parse_budget(budget)
    assert exc.value.field in ("model", "inputs")
    if exc.value.field == "model":
        assert token in exc.value.message
    assert not Path("/tmp/lims-pwned").exists()  # noqa: S108 - the path the model names


def test_exponents_functions_and_their_units():
    budget = {"measurand": {"symbol": "A", "unit": "mm^2"}, "model": "d**2 * 3.14159 / 4",
              "inputs": [{"symbol": "d", "value": "2.000", "unit": "mm",
                          "uncertainty": {"type": "B", "distribution": "standard",
                                          "standard": "0.001"}}]}
    result = evaluate(parse_budget(budget))
    assert result.value == pytest.approx(3.14159)
    assert result.rows[0].sensitivity == pytest.approx(3.14159)  # dA/dd = π d / 2
    budget["model"] = "d ** d"
    with pytest.raises(InvalidInput, match="exponent"):
        parse_budget(budget)
    budget["model"] = "exp(d)"
    with pytest.raises(InvalidInput, match="dimensionless"):
        parse_budget(budget)
    budget["measurand"]["unit"] = "mm"
    budget["model"] = "sqrt(d * d)"
    assert evaluate(parse_budget(budget)).value == pytest.approx(2.0)


def test_model_undefined_at_the_inputs():
    budget = {"measurand": {"symbol": "y", "unit": ""}, "model": "log(x)",
              "inputs": [{"symbol": "x", "value": "-1", "unit": "1"}]}
    budget["measurand"]["unit"] = "1"
    with pytest.raises(InvalidInput) as exc:
        evaluate(parse_budget(budget))
    assert exc.value.field == "model"


def test_cmc_floor():
    budget = load("ea-4-02-s2-mass.json")
    budget["cmc"] = {"expanded": "75", "unit": "mg"}
    result = evaluate(parse_budget(budget))
    assert result.reported.expanded_uncertainty == Decimal("0.075")
    assert result.reported.cmc_applied and "± 0.075 g" in result.reported.text
    assert result.reported.value == Decimal("10000.025")


@pytest.mark.parametrize(("cmc", "reported", "applied"), [
    # U = a + b·|y|: 10 mg + 5 ppm of 10 000.025 g = 60.000 125 mg > U = 58.5 mg, and the CMC
    # is rounded up so that the reported U is never below it.
    ({"a": "10", "unit": "mg", "b": "5", "b_unit": "ppm"}, "0.061", True),
    ({"a": "10", "unit": "mg", "b": "4", "b_unit": "ppm"}, "0.058", False),
    ({"a": "0.01", "b": "0.0005", "b_unit": "%"}, "0.061", True),   # a in the measurand's g
    ({"a": "0.05", "b": "1e-6"}, "0.061", True),                     # b as a plain number
    ({"expanded": "75", "unit": "mg"}, "0.075", True),
])
def test_cmc_as_a_plus_b_times_the_value(cmc, reported, applied):
    budget = load("ea-4-02-s2-mass.json")
    budget["cmc"] = cmc
    result = evaluate(parse_budget(budget))
    assert result.reported.expanded_uncertainty == Decimal(reported)
    assert result.reported.cmc_applied is applied


@pytest.mark.parametrize(("cmc", "field"), [
    ({"a": "10", "unit": "mg", "b": "5", "b_unit": "mg"}, "cmc.b_unit"),
    ({"a": "10", "expanded": "10", "unit": "mg"}, "cmc"),
    ({"expanded": "10", "unit": "mg", "b": "5"}, "cmc"),
    ({"a": "10", "unit": "mL"}, "cmc.unit"),
    ({"a": "-1"}, "cmc.a"),
])
def test_malformed_cmc_names_the_field(cmc, field):
    budget = load("ea-4-02-s2-mass.json")
    budget["cmc"] = cmc
    with pytest.raises(InvalidInput) as exc:
        parse_budget(budget)
    assert exc.value.field == field


def test_json_document_shape():
    data = evaluate(parse_budget(load("ea-4-02-s2-mass.json"))).to_json()
    assert {"measurand", "value", "unit", "standard_uncertainty", "dof_effective", "k",
            "coverage_probability", "expanded_uncertainty", "reported", "budget"} <= set(data)
    assert set(data["reported"]) >= {"value", "expanded_uncertainty", "unit", "text"}
    assert set(data["budget"][0]) >= {"symbol", "value", "unit", "standard_uncertainty",
                                      "sensitivity", "contribution", "dof", "percent"}
    json.dumps(data)  # no NaN/inf objects that JSON cannot carry


def test_monte_carlo_jcgm_101_9_2_2_additive_gaussian():
    """JCGM 101 9.2.2: Y = X1 + X2 + X3 + X4, Xi ~ N(0, 1): u = 2, 95 % interval ±3.92."""
    budget = {"measurand": {"symbol": "Y", "unit": "1"}, "model": "X1 + X2 + X3 + X4",
              "coverage": {"probability": 0.95},
              "inputs": [{"symbol": f"X{i}", "value": "0", "unit": "1",
                          "uncertainty": {"type": "B", "distribution": "standard",
                                          "standard": "1"}} for i in range(1, 5)]}
    b = parse_budget(budget)
    gum = evaluate(b)
    assert gum.expanded_uncertainty == pytest.approx(3.92, abs=0.005)
    mc = monte_carlo(b, gum, trials=10**6, seed=1)
    assert mc.standard_uncertainty == pytest.approx(2.0, abs=0.01)
    assert mc.low == pytest.approx(-3.92, abs=0.02) and mc.high == pytest.approx(3.92, abs=0.02)
    assert mc.validated and mc.tolerance == pytest.approx(0.05)


def test_monte_carlo_is_reproducible_with_a_seed():
    b = parse_budget(load("gum-h1-end-gauge.json"))
    gum = evaluate(b)
    first = monte_carlo(b, gum, trials=20000, seed=42)
    assert first == monte_carlo(b, gum, trials=20000, seed=42)
    assert first != monte_carlo(b, gum, trials=20000, seed=43)
    with pytest.raises(InvalidInput):
        monte_carlo(b, gum, trials=10, seed=1)


def test_monte_carlo_with_correlated_inputs():
    budget = {"measurand": {"symbol": "y", "unit": "V"}, "model": "a - b",
              "inputs": [{"symbol": "a", "value": "1", "unit": "V",
                          "uncertainty": {"type": "B", "distribution": "standard", "standard": "1"}},
                         {"symbol": "b", "value": "2", "unit": "V",
                          "uncertainty": {"type": "B", "distribution": "standard", "standard": "1"}}],
              "correlations": [{"a": "a", "b": "b", "r": 0.9}]}
    b = parse_budget(budget)
    gum = evaluate(b)
    assert gum.standard_uncertainty == pytest.approx(math.sqrt(0.2))
    mc = monte_carlo(b, gum, trials=200000, seed=3)
    assert mc.standard_uncertainty == pytest.approx(math.sqrt(0.2), rel=0.01)


# --- when the GUM framework fails: JCGM 101 9.4 ----------------------------------------------
#
# JCGM 101:2008 9.4, comparison loss in microwave power meter calibration: δY = X1² + X2² with
# X1 ~ N(x1, u²), X2 ~ N(0, u²), u = 0.005. The published results are checked here against
# the exact distribution: δY/u² is non-central chi-squared with 2 degrees of freedom and
# non-centrality (x1/u)², an exponential distribution of mean 2u² when x1 = 0.

U_X = 0.005


def comparison_loss(x1: str = "0") -> dict:
    budget = load("jcgm-101-9-4-comparison-loss.json")
    budget["inputs"][0]["value"] = x1
    return budget


def shortest_exact(dist, p=0.95) -> tuple[float, float]:
    from scipy.optimize import minimize_scalar

    best = minimize_scalar(lambda a: dist.ppf(a + p) - dist.ppf(a), bounds=(0, 1 - p),
                           method="bounded", options={"xatol": 1e-10})
    return float(dist.ppf(best.x)), float(dist.ppf(best.x + p))


def test_jcgm_101_9_4_sensitivities_vanish_so_monte_carlo_is_reported():
    """x1 = x2 = 0: every sensitivity coefficient is 0 and the GUF gives u(δy) = 0. The engine
    runs the adaptive Monte Carlo method by itself and reports its result: δy = 2u² = 5.0·10⁻⁵,
    u(δy) = 2u² and the shortest 95 % interval [0, 2u²·ln 20] = [0, 1.50·10⁻⁴]."""
    result = evaluate(parse_budget(comparison_loss()), seed=1)
    assert result.gum is not None and result.gum.standard_uncertainty == 0
    assert result.gum.degenerate and "vanish" in result.why_monte_carlo
    assert result.method == "MCM"
    mc = result.monte_carlo
    assert mc.adaptive and mc.converged and mc.trials % 10**4 == 0 and not mc.validated
    mean = 2 * U_X ** 2
    assert result.value == pytest.approx(mean, rel=0.02)
    assert result.standard_uncertainty == pytest.approx(mean, rel=0.02)
    low, high = result.coverage_interval
    assert 0 <= low < 1e-3 * mean
    assert high == pytest.approx(mean * math.log(20), rel=0.02)
    assert result.expanded_uncertainty == pytest.approx(high - result.value)
    assert result.reported.expanded_uncertainty == Decimal("0.00010")
    assert result.reported.coverage_interval == (Decimal("0.00000"), Decimal("0.00015"))
    assert result.reported.text == ("dY = 0.000 05 ± 0.000 10 (p ≈ 95 %, Monte Carlo, JCGM 101; "
                                    "shortest coverage interval [0.000 00, 0.000 15])")
    data = result.to_json()
    assert data["method"] == "MCM" and data["coverage_interval"] == [low, high]
    assert data["gum"]["standard_uncertainty"] == 0 and data["monte_carlo"]["adaptive"]
    json.dumps(data, allow_nan=False)


def test_jcgm_101_9_4_x1_0_010_fails_the_section_8_comparison():
    """x1 = 0.010: the GUF gives δy = 1.0·10⁻⁴, u = 1.0·10⁻⁴ and the interval
    [−0.96, 2.96]·10⁻⁴, below zero for a sum of squares; MCM gives δy = 1.5·10⁻⁴,
    u = 1.12·10⁻⁴ and [0.00, 3.66]·10⁻⁴, so the GUF is not validated (δ = 5·10⁻⁶) and the
    Monte Carlo result is reported."""
    from scipy import stats

    budget = parse_budget(comparison_loss("0.010"))
    guf = evaluate(budget)
    assert guf.method == "GUF" and guf.monte_carlo is None
    assert guf.value == pytest.approx(1e-4) and guf.standard_uncertainty == pytest.approx(1e-4)
    assert guf.coverage_interval[0] == pytest.approx(-0.96e-4, abs=1e-6)
    exact = stats.ncx2(2, (0.010 / U_X) ** 2, scale=U_X ** 2)
    result = evaluate(budget, mc=400_000, seed=2)
    assert result.method == "MCM" and not result.monte_carlo.validated
    assert result.monte_carlo.tolerance == pytest.approx(5e-6)
    assert "§8" in result.why_monte_carlo
    assert result.value == pytest.approx(exact.mean(), rel=0.01)
    assert result.standard_uncertainty == pytest.approx(exact.std(), rel=0.01)
    low, high = shortest_exact(exact)
    assert result.coverage_interval[0] == pytest.approx(low, abs=2e-6)
    assert result.coverage_interval[1] == pytest.approx(high, rel=0.01)
    assert result.reported.coverage_interval == (Decimal("0.00000"), Decimal("0.00037"))


def test_a_validated_gum_result_stays_reported():
    result = evaluate(parse_budget(load("ea-4-02-s2-mass.json")), mc=100_000, seed=4)
    assert result.method == "GUF" and result.monte_carlo.validated
    assert result.reported.text == "m_X = 10 000.025 g ± 0.058 g (k = 2, p ≈ 95 %)"
    assert result.coverage_interval == pytest.approx((10000.025 - result.expanded_uncertainty,
                                                      10000.025 + result.expanded_uncertainty))
    data = result.to_json()
    assert data["method"] == "GUF" and "gum" not in data and "monte_carlo" in data
    with pytest.raises(InvalidInput) as exc:
        evaluate(parse_budget(load("ea-4-02-s2-mass.json")), mc="lots")
    assert exc.value.field == "trials"


def test_adaptive_monte_carlo_jcgm_101_7_9():
    """JCGM 101 7.9.4: batches of 10⁴ until twice the standard deviation of each result's
    average over the batches is within the numerical tolerance; to validate a GUF result, its
    own δ/5 (JCGM 101 8.2). Reproducible with a seed. On EA-4/02 S2 the GUF interval
    10 000.025 g ± 0.058 g is validated with δ = 0.5 mg."""
    b = parse_budget(load("ea-4-02-s2-mass.json"))
    gum = evaluate(b)
    first = monte_carlo(b, gum, trials=None, seed=7)
    assert first.adaptive and first.converged and first.trials % 10**4 == 0
    assert first.trials >= 2 * 10**4
    assert first == monte_carlo(b, gum, trials=None, seed=7)
    assert first.tolerance == pytest.approx(0.0005) and first.validated
    assert max(first.d_low, first.d_high) < first.tolerance / 2
    assert first.standard_uncertainty == pytest.approx(gum.standard_uncertainty, rel=0.005)


def test_coverage_intervals_of_a_sorted_sample_jcgm_101_7_7():
    ordered = np.sort(np.random.default_rng(3).exponential(1.0, 200_000))
    low, high = shortest_interval(ordered, 0.95)
    assert low == pytest.approx(0, abs=1e-3) and high == pytest.approx(math.log(20), rel=0.01)
    s_low, s_high = symmetric_interval(ordered, 0.95)
    assert s_low == pytest.approx(-math.log(0.975), rel=0.02)
    assert s_high == pytest.approx(-math.log(0.025), rel=0.01)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=20, max_size=300),
       st.floats(min_value=0.5, max_value=0.99))
def test_shortest_interval_is_never_wider_and_holds_its_share(values, p):
    ordered = np.sort(np.array(values))
    low, high = shortest_interval(ordered, p)
    s_low, s_high = symmetric_interval(ordered, p)
    assert high - low <= s_high - s_low
    assert np.count_nonzero((ordered >= low) & (ordered <= high)) >= int(p * len(values) + 0.5)


@settings(max_examples=4, deadline=None)
@given(st.decimals(min_value=Decimal("0.001"), max_value=Decimal("100"), places=3),
       st.decimals(min_value=Decimal("0.1"), max_value=Decimal("10"), places=2),
       st.integers(min_value=0, max_value=2**31))
def test_uncertain_inputs_never_give_a_zero_expanded_uncertainty(u, c, seed):
    """Y = c·X² at x = 0 (the GUF gives U = 0): the reported U is the Monte Carlo one, for which
    c·X²/(c·u²) is chi-squared with one degree of freedom."""
    budget = {"measurand": {"symbol": "Y", "unit": "mm^2"}, "model": "c * X**2",
              "inputs": [{"symbol": "X", "value": "0", "unit": "mm",
                          "uncertainty": {"type": "B", "distribution": "standard",
                                          "standard": str(u)}},
                         {"symbol": "c", "value": str(c), "unit": "1"}]}
    result = evaluate(parse_budget(budget), seed=seed)
    assert result.method == "MCM" and result.reported.expanded_uncertainty > 0
    scale = float(c) * float(u) ** 2
    assert result.value == pytest.approx(scale, rel=0.05)
    # The 95 % point of χ²(1) is 3.8415; the adaptive trials (JCGM 101 7.9) stop when U is
    # stable to its reported digits, not the interval's end to 5 %: a draw 5.1 % off was seen
    # (2026-11-26), so the bound is 10 %.
    assert result.coverage_interval[1] == pytest.approx(3.8415 * scale, rel=0.10)
