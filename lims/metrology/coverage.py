"""Coverage factors and probabilities (GUM G.3, G.4).

Both depend on ν only through ⌊ν⌋ (or on whether it is infinite), and budgets use a handful
of probabilities and coverage factors, so each (⌊ν⌋, p) or (k, ⌊ν⌋) is worked out once:
scipy's distribution objects take ~0.1 ms a call, as long as a small budget's whole GUM
evaluation.

Pure: imports neither Flask nor a Session.
"""

from __future__ import annotations

import functools
import math

from GTC import reporting as gtc_reporting
from scipy import stats

INF = math.inf


def _truncated(dof: float) -> float:
    """ν as the coverage factor uses it: ⌊ν⌋ (at least 1), or ∞ beyond 10⁷."""
    return INF if dof == INF or dof > 1e7 else max(1, math.floor(dof))


def coverage_factor(dof: float, p: float) -> float:
    """k_p for ν degrees of freedom: Student's t, truncating ν down (GUM G.4.1), or the normal
    quantile when ν is infinite."""
    return _coverage_factor(_truncated(dof), p)


def coverage_probability(k: float, dof: float) -> float:
    """The coverage probability of ±k standard uncertainties for ν degrees of freedom."""
    return _coverage_probability(k, _truncated(dof))


@functools.lru_cache(maxsize=4096)
def _coverage_factor(dof: float, p: float) -> float:
    if dof == INF:
        return float(stats.norm.ppf((1 + p) / 2))
    return float(gtc_reporting.k_factor(dof, p * 100))


@functools.lru_cache(maxsize=4096)
def _coverage_probability(k: float, dof: float) -> float:
    if dof == INF:
        return float(2 * stats.norm.cdf(k) - 1)
    return float(2 * stats.t.cdf(k, dof) - 1)
