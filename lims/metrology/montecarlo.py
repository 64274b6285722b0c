"""Propagation of distributions by Monte Carlo (JCGM 101) with the §8 check against GUM.

Pure: imports neither Flask nor a Session.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from lims.errors import InvalidInput
from lims.metrology.gum import Evaluation
from lims.metrology.schema import DIVISORS, INF, Budget, InputQuantity

NUMPY_FUNCTIONS = {"sqrt": np.sqrt, "exp": np.exp, "log": np.log, "log10": np.log10,
                   "sin": np.sin, "cos": np.cos, "tan": np.tan, "abs": np.abs}



@dataclasses.dataclass(frozen=True)
class MonteCarlo:
    trials: int
    seed: int | None
    value: float
    standard_uncertainty: float
    coverage_probability: float
    low: float
    high: float
    tolerance: float
    d_low: float
    d_high: float

    @property
    def validated(self) -> bool:
        return self.d_low <= self.tolerance and self.d_high <= self.tolerance

    def to_json(self) -> dict[str, Any]:
        return {"trials": self.trials, "seed": self.seed, "value": self.value,
                "standard_uncertainty": self.standard_uncertainty,
                "coverage_probability": self.coverage_probability,
                "coverage_interval": [self.low, self.high],
                "validation": {"tolerance": self.tolerance, "d_low": self.d_low,
                               "d_high": self.d_high, "gum_validated": self.validated}}


def numerical_tolerance(u: float, digits: int = 2) -> float:
    """JCGM 101 7.9.2: δ = ½·10^l where u written with ``digits`` significant digits is c·10^l."""
    if u <= 0:
        return 0.0
    exponent = math.floor(math.log10(u)) - digits + 1
    return 0.5 * 10.0 ** exponent


def _draw(q: InputQuantity, rng: np.random.Generator, trials: int) -> Any:
    x = q.unit.to_base(float(q.value))
    u = q.standard * q.unit.factor
    if q.constant:
        return x
    if q.distribution == "trapezoidal":
        # JCGM 101 6.4.4.4: the sum of two rectangular draws of half-widths a(1 + β)/2 and
        # a(1 − β)/2 is trapezoidal with base half-width a and top half-width β·a.
        a, beta = (q.half_width or 0.0) * q.unit.factor, q.beta or 0.0
        r1, r2 = rng.random(trials), rng.random(trials)
        return x - a + a * ((1 + beta) * r1 + (1 - beta) * r2)
    if q.distribution in DIVISORS:
        a = (q.half_width or 0.0) * q.unit.factor
        if q.distribution == "rectangular":
            return rng.uniform(x - a, x + a, trials)
        if q.distribution == "triangular":
            return rng.triangular(x - a, x, x + a, trials)
        return x + a * np.sin(2 * np.pi * rng.random(trials))  # arcsine, JCGM 101 6.4.6
    if q.dof != INF:
        # JCGM 101 6.4.9: a scaled and shifted t distribution with ν degrees of freedom.
        return x + u * rng.standard_t(q.dof, trials)
    return rng.normal(x, u, trials)


def monte_carlo(budget: Budget, gum: Evaluation, *, trials: int = 10**6,
                seed: int | None = None, digits: int = 2) -> MonteCarlo:
    """Propagate distributions by Monte Carlo (JCGM 101) and compare with the GUM result (§8).

    The coverage probability is the GUM result's. Correlated inputs must be Gaussian with
    infinite degrees of freedom (they are drawn jointly from a multivariate normal).
    """
    if not 1000 <= trials <= 10**7:
        raise InvalidInput("Monte Carlo needs between 1 000 and 10 000 000 trials",
                           field="trials")
    rng = np.random.default_rng(seed)
    draws: dict[str, Any] = {}
    correlated = sorted({s for a, b, _r in budget.correlations for s in (a, b)})
    by_symbol = {q.symbol: q for q in budget.inputs}
    if correlated:
        for s in correlated:
            if by_symbol[s].distribution not in ("normal", "standard"):
                raise InvalidInput(f"Monte Carlo draws correlated inputs from a joint normal "
                                   f"distribution; {s} is {by_symbol[s].distribution}",
                                   field="correlations")
        index = {s: i for i, s in enumerate(correlated)}
        sd = np.array([by_symbol[s].standard * by_symbol[s].unit.factor for s in correlated])
        corr = np.eye(len(correlated))
        for a, b, r in budget.correlations:
            corr[index[a], index[b]] = corr[index[b], index[a]] = r
        mean = np.array([by_symbol[s].unit.to_base(float(by_symbol[s].value))
                         for s in correlated])
        joint = rng.multivariate_normal(mean, corr * np.outer(sd, sd), trials, method="eigh")
        for s, i in index.items():
            draws[s] = joint[:, i]
    for q in budget.inputs:
        if q.symbol not in draws:
            draws[q.symbol] = _draw(q, rng, trials)
    with np.errstate(all="ignore"):
        y = budget.model.evaluate(draws, NUMPY_FUNCTIONS)
    y = np.broadcast_to(np.asarray(y, dtype=float), (trials,))
    if not np.all(np.isfinite(y)):
        raise InvalidInput("the model is undefined for some Monte Carlo trials (division by "
                           "zero, log of a negative number)", field="model")
    y = budget.unit.from_base(y)
    p = gum.coverage_probability
    low, high = np.quantile(y, [(1 - p) / 2, (1 + p) / 2])
    tolerance = numerical_tolerance(gum.standard_uncertainty, digits)
    return MonteCarlo(
        trials=trials, seed=seed, value=float(np.mean(y)),
        standard_uncertainty=float(np.std(y, ddof=1)), coverage_probability=p,
        low=float(low), high=float(high), tolerance=tolerance,
        d_low=abs(gum.value - gum.expanded_uncertainty - float(low)),
        d_high=abs(gum.value + gum.expanded_uncertainty - float(high)))
