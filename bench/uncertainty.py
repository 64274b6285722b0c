"""Uncertainty engine benchmarks against bare libraries doing the same work (issue 14).

- Budget parse + GUM evaluation at 10, 50 and 200 inputs against GTC evaluating the same
  budget: the same ureals (value, standard uncertainty and degrees of freedom in SI base
  units), the same model as compiled Python, then u, ν_eff and every input's sensitivity and
  component. Target: ratio <= 2.
- Monte Carlo (10^6 trials) at 10 and 50 inputs against numpy with the same draws: the same
  distributions drawn at once, the model evaluated as one vectorised expression, the values
  sorted, their mean, standard deviation and shortest 95 % interval.
- The peak memory (tracemalloc, which sees numpy's buffers) of a 50-input run of 10^7 trials,
  beside what keeping every draw would take.

Each figure is the median of paired runs, timed interleaved with its floor so that both see
the same load; the spread is the 25th-75th percentile of the paired ratios. Never asserted in
tests: machines are shared.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import GTC  # noqa: E402
from GTC import reporting as gtc_reporting  # noqa: E402

from lims.metrology.montecarlo import NUMPY_FUNCTIONS, monte_carlo  # noqa: E402
from lims.metrology.schema import Budget, InputQuantity  # noqa: E402
from lims.metrology.uncertainty import evaluate, parse_budget  # noqa: E402

DISTRIBUTIONS = ["rectangular", "normal", "triangular", "normal", "arcsine"]
SIZES = {10: 61, 50: 31, 200: 15}   # inputs: paired runs
MC_SIZES, MC_TRIALS, MC_RUNS = (10, 50), 10**6, 5
MEMORY_INPUTS, MEMORY_TRIALS = 50, 10**7


def budget(n: int) -> dict[str, Any]:
    """n inputs in V and mV, in groups of five: x_a + x_b·x_c/x_d + sqrt(x_e·x_a)."""
    terms = []
    for i in range(0, n - n % 5, 5):
        terms.append(f"x{i} + x{i + 1} * x{i + 2} / x{i + 3} + sqrt(x{i + 4} * x{i})")
    terms += [f"x{i}" for i in range(n - n % 5, n)]
    return {
        "measurand": {"symbol": "y", "unit": "V"},
        "model": " + ".join(terms),
        "coverage": {"probability": 0.95},
        "inputs": [
            {"symbol": f"x{i}", "value": str(1 + i / 10), "unit": "mV" if i % 3 else "V",
             "uncertainty": ({"type": "B", "distribution": d, "half_width": "0.01"}
                             if d != "normal" else
                             {"type": "A", "standard": "0.005", "dof": 9 + i})}
            for i, d in ((i, DISTRIBUTIONS[i % 5]) for i in range(n))],
    }


def compiled(parsed: Budget, functions: dict[str, Any]) -> Callable[..., Any]:
    """The model as a Python function: what a hand-written script would evaluate."""
    args = ", ".join(q.symbol for q in parsed.inputs)
    return eval(  # noqa: S307 - the bench's own generated expression: the floor
        f"lambda {args}: {parsed.model.expression}", dict(functions))


def gtc_floor(fn: Callable[..., Any], inputs: list[tuple[str, float, float, float]]) -> None:
    env = {s: GTC.ureal(x, u, dof, label=s) for s, x, u, dof in inputs}
    y = fn(**env)
    _ = (y.x, y.u, y.df)
    for s in env:
        gtc_reporting.sensitivity(y, env[s])
        gtc_reporting.u_component(y, env[s])


def numpy_draw(q: InputQuantity, rng: np.random.Generator, m: int) -> Any:
    x, a = q.unit.to_base(float(q.value)), (q.half_width or 0.0) * q.unit.factor
    if q.distribution == "rectangular":
        return rng.uniform(x - a, x + a, m)
    if q.distribution == "triangular":
        return rng.triangular(x - a, x, x + a, m)
    if q.distribution == "arcsine":
        return x + a * np.sin(2 * np.pi * rng.random(m))
    return x + q.standard * q.unit.factor * rng.standard_t(q.dof, m)


def numpy_floor(parsed: Budget, fn: Callable[..., Any], seed: int, m: int) -> None:
    rng = np.random.default_rng(seed)
    with np.errstate(all="ignore"):
        y = np.asarray(fn(**{q.symbol: numpy_draw(q, rng, m) for q in parsed.inputs}))
    y.sort()
    _ = (float(np.mean(y)), float(np.std(y, ddof=1)))
    q = int(0.95 * m + 0.5)
    int(np.argmin(y[q - 1:] - y[:m - q + 1]))


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
    t0 = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - t0


def parse_and_evaluate(data: dict[str, Any]) -> None:
    evaluate(parse_budget(data))


def report(what: str, ours: list[float], floor: list[float], floor_name: str, unit: str,
           target: float | None = None) -> None:
    scale = 1000 if unit == "ms" else 1
    ratios = sorted(a / b for a, b in zip(ours, floor, strict=True))
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    ratio = statistics.median(ours) / statistics.median(floor)
    verdict = "" if target is None else \
        f" [target <= {target:g}: {'met' if ratio <= target else 'NOT met'}]"
    print(f"{what}: median {statistics.median(ours) * scale:.2f} {unit}, {floor_name} "
          f"{statistics.median(floor) * scale:.2f} {unit}, ratio {ratio:.2f} "
          f"(paired p25-p75 {q1:.2f}-{q3:.2f}){verdict}")


def parse_bench() -> None:
    for n, runs in SIZES.items():
        data = budget(n)
        parsed = parse_budget(data)
        fn = compiled(parsed, {"sqrt": GTC.sqrt})
        inputs = [(q.symbol, q.unit.to_base(float(q.value)), q.standard * q.unit.factor, q.dof)
                  for q in parsed.inputs]
        ours, floor = [], []
        for _ in range(runs + 1):
            floor.append(timed(gtc_floor, fn, inputs))
            ours.append(timed(parse_and_evaluate, data))
        report(f"budget parse + evaluate, {n} inputs", ours[1:], floor[1:],
               "GTC on the same budget", "ms", target=2)


def monte_carlo_bench() -> None:
    for n in MC_SIZES:
        parsed = parse_budget(budget(n))
        result = evaluate(parsed)
        fn = compiled(parsed, NUMPY_FUNCTIONS)
        ours, floor = [], []
        for seed in range(MC_RUNS + 1):
            floor.append(timed(numpy_floor, parsed, fn, seed, MC_TRIALS))
            ours.append(timed(monte_carlo, parsed, result, trials=MC_TRIALS, seed=seed))
        report(f"Monte Carlo, {n} inputs x 10^6 trials", ours[1:], floor[1:],
               "numpy with the same draws", "s")


def memory_bench() -> None:
    parsed = parse_budget(budget(MEMORY_INPUTS))
    result = evaluate(parsed)
    tracemalloc.start()
    t0 = time.perf_counter()
    monte_carlo(parsed, result, trials=MEMORY_TRIALS, seed=1)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    every_draw = MEMORY_INPUTS * MEMORY_TRIALS * 8
    print(f"Monte Carlo, {MEMORY_INPUTS} inputs x 10^{round(math.log10(MEMORY_TRIALS))} "
          f"trials: peak {peak / 2**20:,.0f} MiB traced in {elapsed:.1f} s (the sorted model "
          f"values alone: {MEMORY_TRIALS * 8 / 2**20:,.0f} MiB; every draw kept: "
          f"{every_draw / 2**20:,.0f} MiB)")


if __name__ == "__main__":
    parse_bench()
    monte_carlo_bench()
    memory_bench()
