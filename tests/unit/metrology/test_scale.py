"""The uncertainty engine at scale (issue 14): large models parse in linear work, hostile ones
are refused by name, and Monte Carlo runs in chunks of bounded memory whose results do not
depend on the chunking. Work and memory are counted, never timed: CI machines are shared."""

from __future__ import annotations

import math
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from lims.errors import InvalidInput
from lims.metrology import montecarlo
from lims.metrology.model import MAX_NODES, Model
from lims.metrology.uncertainty import evaluate, monte_carlo, parse_budget


def rectangular_sum(n: int, *, half_width: str = "1") -> dict[str, Any]:
    """Y = X0 + … + X(n-1), Xi rectangular on [-a, a]: u(y) = a·√(n/3) exactly."""
    return {"measurand": {"symbol": "y", "unit": "V"},
            "model": " + ".join(f"x{i}" for i in range(n)),
            "coverage": {"probability": 0.95},
            "inputs": [{"symbol": f"x{i}", "value": "0", "unit": "V",
                        "uncertainty": {"type": "B", "distribution": "rectangular",
                                        "half_width": half_width}} for i in range(n)]}


def calls(fn: Callable[[], object]) -> int:
    """The Python and C function calls ``fn`` makes: a count of work that does not depend on
    the machine's load."""
    count = 0

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count


def test_a_200_input_budget_parses_and_evaluates():
    b = parse_budget(rectangular_sum(200))
    result = evaluate(b)
    assert result.standard_uncertainty == pytest.approx(math.sqrt(200 / 3))
    assert len(result.rows) == 200


def test_a_2000_term_model_is_walked_without_recursion():
    """A sum of 2,000 inputs is a tree 2,000 levels deep, beyond Python's recursion limit."""
    symbols = {f"x{i}" for i in range(2000)}
    model = Model(" + ".join(f"x{i}" for i in range(2000)), symbols)
    assert model.evaluate({s: 1.0 for s in symbols}, {}) == 2000.0


@pytest.mark.parametrize("parse", [
    lambda n: Model(" + ".join(f"x{i} * x{i}" for i in range(n)), {f"x{i}" for i in range(n)}),
    lambda n: parse_budget(rectangular_sum(n)),
], ids=["model", "budget"])
def test_parsing_work_grows_linearly_with_the_model(parse):
    parse(10)  # warm the unit cache and pint's
    small, large = calls(lambda: parse(100)), calls(lambda: parse(400))
    # Four times the inputs: four times the work, with room for fixed costs. The quadratic
    # parse (ast.get_source_segment for every +) did ~16 times the work.
    assert large < 5 * small, (small, large)


def test_a_huge_model_is_refused_by_size():
    terms = "(" + " * ".join(["x"] * 10) + ")"  # 19 operands and operations
    expression = " + ".join([terms] * (MAX_NODES // 20 + 1))
    with pytest.raises(InvalidInput) as exc:
        Model(expression, {"x"})
    assert exc.value.field == "model" and "too large" in exc.value.message
    assert str(MAX_NODES) in exc.value.message


@pytest.mark.parametrize("expression", ["-" * 5000 + "x", " ** ".join(["x"] * 5000)])
def test_a_deeply_nested_model_is_refused(expression):
    with pytest.raises(InvalidInput) as exc:
        Model(expression, {"x"}, field="procedure.model")
    assert exc.value.field == "procedure.model" and "nested too deeply" in exc.value.message


def test_a_model_longer_than_the_cap_is_refused():
    with pytest.raises(InvalidInput) as exc:
        Model("x + " * 30_000 + "x", {"x"})
    assert exc.value.field == "model" and "longer than" in exc.value.message


MIXED = {"measurand": {"symbol": "y", "unit": "V"}, "model": "a + b + c * t + d + e",
         "coverage": {"probability": 0.95},
         "inputs": [
             {"symbol": "a", "value": "0", "unit": "V", "uncertainty": {
                 "type": "B", "distribution": "rectangular", "half_width": "1"}},
             {"symbol": "b", "value": "0", "unit": "V", "uncertainty": {
                 "type": "B", "distribution": "trapezoidal", "half_width": "1", "beta": "0.5"}},
             {"symbol": "c", "value": "1", "unit": "V", "uncertainty": {
                 "type": "A", "readings": ["0.9", "1.2", "1.0", "1.1"]}},
             {"symbol": "e", "value": "0", "unit": "V", "uncertainty": {
                 "type": "A", "standard": "0.1", "dof": 4}},
             {"symbol": "t", "value": "1", "unit": "1", "uncertainty": {
                 "type": "A", "readings": ["0.9", "1.1", "1.0", "1.05"]}},
             {"symbol": "d", "value": "0", "unit": "V", "uncertainty": {
                 "type": "B", "distribution": "standard", "standard": "0.5"}}],
         "simultaneous": [["c", "t"]]}


def test_chunking_does_not_change_a_seeded_result(monkeypatch):
    """Each input draws from its own stream, so the values do not depend on the chunk size:
    the chunked run equals the one-chunk run exactly, for every kind of draw (rectangular,
    trapezoidal pairs, t, joint t of simultaneous readings, normal)."""
    b = parse_budget(MIXED)
    gum = evaluate(b)
    whole = monte_carlo(b, gum, trials=20_000, seed=7)
    monkeypatch.setattr(montecarlo, "CHUNK_VALUES", 3_001)  # chunks of 600 trials, one ragged
    assert monte_carlo(b, gum, trials=20_000, seed=7) == whole
    assert monte_carlo(b, gum, trials=20_000, seed=8) != whole


def test_chunked_monte_carlo_matches_the_exact_answer(monkeypatch):
    """X1 + X2, rectangular on [-1, 1]: triangular on [-2, 2], u = √(2/3), 95 % interval
    ±2(1 − √0.05). Tolerances: about five standard errors at 50,000 trials. The shortest
    interval's ends slide about (near the mode its width hardly depends on where it sits), so
    its width is checked, and the ends of the probabilistically symmetric one."""
    monkeypatch.setattr(montecarlo, "CHUNK_VALUES", 2_000)  # 1,000 trials a chunk
    b = parse_budget(rectangular_sum(2))
    mc = monte_carlo(b, evaluate(b), trials=50_000, seed=3)
    assert mc.value == pytest.approx(0, abs=0.02)
    assert mc.standard_uncertainty == pytest.approx(math.sqrt(2 / 3), abs=0.01)
    half = 2 * (1 - math.sqrt(0.05))
    assert mc.symmetric_low == pytest.approx(-half, abs=0.03)
    assert mc.symmetric_high == pytest.approx(half, abs=0.03)
    assert mc.high - mc.low == pytest.approx(2 * half, abs=0.03)


def test_monte_carlo_memory_is_the_model_values_not_every_draw(monkeypatch):
    """20 inputs: each trial costs the 8 bytes of its model value, not the 160 of its draws,
    and the rest is fixed: one chunk of draws and slices of MAX_CHUNK values."""
    inputs = 20
    monkeypatch.setattr(montecarlo, "CHUNK_VALUES", 20_000)  # 1,000 trials a chunk: 160 kB
    b = parse_budget(rectangular_sum(inputs))
    gum = evaluate(b)

    def peak(trials: int) -> int:
        tracemalloc.start()
        try:
            monte_carlo(b, gum, trials=trials, seed=1)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(100_000), peak(300_000)
    fixed = 16 * montecarlo.MAX_CHUNK + 8 * 20_000 + 256_000
    assert small < 8 * 100_000 + fixed and large < 8 * 300_000 + fixed, (small, large)
    assert (large - small) / 200_000 < 9 < 8 * inputs  # bytes per extra trial


def test_batches_continue_the_same_draws_as_one_run():
    """The adaptive procedure's batches of 10⁴ are the first trials of a fixed run: a run
    stopped at M trials has the values of a fixed run of M trials."""
    b = parse_budget(MIXED)
    batches = montecarlo._Sampler(b, 5)
    joined = np.concatenate([batches.sample(10_000) for _ in range(3)])
    assert np.array_equal(joined, montecarlo._Sampler(b, 5).sample(30_000))
