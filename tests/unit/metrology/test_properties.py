"""Property tests: linear models, unit changes and Monte Carlo agree with the analytic result."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lims.metrology.uncertainty import evaluate, monte_carlo, parse_budget

values = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False).map(lambda v: round(v, 6))
uncertainties = st.floats(min_value=1e-3, max_value=10).map(lambda v: round(v, 6))
coefficients = st.floats(min_value=-5, max_value=5).filter(lambda c: abs(c) > 1e-3).map(
    lambda v: round(v, 4))
terms = st.lists(st.tuples(values, uncertainties, coefficients), min_size=1, max_size=6)


def linear_budget(items, unit="m"):
    inputs, parts = [], []
    for i, (x, u, c) in enumerate(items):
        inputs.append({"symbol": f"x{i}", "value": repr(x), "unit": unit,
                       "uncertainty": {"type": "B", "distribution": "standard",
                                       "standard": repr(u)}})
        inputs.append({"symbol": f"c{i}", "value": repr(c), "unit": "1"})
        parts.append(f"c{i} * x{i}")
    return {"measurand": {"symbol": "y", "unit": "m"}, "model": " + ".join(parts),
            "inputs": inputs}


@settings(max_examples=60, deadline=None)
@given(terms)
def test_linear_model_matches_the_analytic_result(items):
    result = evaluate(parse_budget(linear_budget(items)))
    assert result.value == pytest.approx(sum(c * x for x, _u, c in items), abs=1e-6)
    assert result.standard_uncertainty == pytest.approx(
        math.sqrt(sum((c * u) ** 2 for _x, u, c in items)), rel=1e-9)
    for row in result.rows:
        if row.symbol.startswith("x"):
            x, u, c = items[int(row.symbol[1:])]
            assert row.sensitivity == pytest.approx(c) and row.contribution == pytest.approx(c * u)


@settings(max_examples=40, deadline=None)
@given(terms)
def test_writing_inputs_in_other_units_changes_nothing(items):
    in_m = evaluate(parse_budget(linear_budget(items)))
    budget = linear_budget(items)
    for item in budget["inputs"]:
        if item["unit"] == "m":  # the same quantities written in millimetres
            item["value"] = repr(float(item["value"]) * 1000)
            item["uncertainty"]["standard"] = repr(float(item["uncertainty"]["standard"]) * 1000)
            item["unit"] = "mm"
    in_mm = evaluate(parse_budget(budget))
    assert in_mm.value == pytest.approx(in_m.value, rel=1e-9, abs=1e-9)
    assert in_mm.standard_uncertainty == pytest.approx(in_m.standard_uncertainty, rel=1e-9)


@settings(max_examples=10, deadline=None)
@given(terms, st.integers(min_value=0, max_value=2**31))
def test_monte_carlo_agrees_with_first_order_on_linear_models(items, seed):
    budget = parse_budget(linear_budget(items))
    gum = evaluate(budget)
    mc = monte_carlo(budget, gum, trials=200_000, seed=seed)
    assert mc.standard_uncertainty == pytest.approx(gum.standard_uncertainty, rel=0.01)
    assert mc.value == pytest.approx(gum.value, abs=5 * gum.standard_uncertainty / 400)


readings = st.integers(min_value=2, max_value=12).flatmap(lambda n: st.tuples(
    st.lists(st.integers(min_value=-10**6, max_value=10**6), min_size=n, max_size=n),
    st.lists(st.integers(min_value=-10**6, max_value=10**6), min_size=n, max_size=n)))


@settings(max_examples=60, deadline=None)
@given(readings, st.sampled_from([1, -1]))
def test_simultaneous_readings_equal_the_readings_of_their_sum(pairs, sign):
    """GUM 5.2.3 with C.3.6: for y = a ± b from simultaneous readings, u²(y) = u²(a) + u²(b)
    ± 2·r·u(a)·u(b) with the sample correlation r, which is exactly the type A uncertainty of
    the readings a_i ± b_i, with ν = n − 1 (the ensemble keeps it, Willink 2007)."""
    a, b = ([f"{v / 1000:.3f}" for v in seq] for seq in pairs)
    if len(set(a)) == 1 or len(set(b)) == 1:
        return  # a correlation needs readings that vary
    op = "+" if sign == 1 else "-"
    budget = {"measurand": {"symbol": "y", "unit": "mV"}, "model": f"a {op} b",
              "simultaneous": [["a", "b"]],
              "inputs": [{"symbol": "a", "unit": "mV",
                          "uncertainty": {"type": "A", "readings": a}},
                         {"symbol": "b", "unit": "mV",
                          "uncertainty": {"type": "A", "readings": b}}]}
    combined = [float(x) + sign * float(y) for x, y in zip(a, b, strict=True)]
    n = len(combined)
    mean = sum(combined) / n
    s = math.sqrt(sum((c - mean) ** 2 for c in combined) / (n - 1))
    if s < 1e-9:
        # a ± b constant: the first-order u is 0 although the inputs are uncertain, which the
        # engine reports by Monte Carlo instead (JCGM 101 9.4; tested in test_uncertainty.py).
        return
    together = evaluate(parse_budget(budget))
    assert together.value == pytest.approx(mean, abs=1e-9)
    assert together.standard_uncertainty == pytest.approx(s / math.sqrt(n), rel=1e-6, abs=1e-9)
    if together.standard_uncertainty > 1e-9:
        assert together.dof_effective == pytest.approx(n - 1)
