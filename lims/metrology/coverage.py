"""Coverage factors and probabilities (GUM G.3, G.4).

Pure: imports neither Flask nor a Session.
"""

from __future__ import annotations

import math

from GTC import reporting as gtc_reporting
from scipy import stats

INF = math.inf


def coverage_factor(dof: float, p: float) -> float:
    """k_p for ν degrees of freedom: Student's t, truncating ν down (GUM G.4.1), or the normal
    quantile when ν is infinite."""
    if dof == INF or dof > 1e7:
        return float(stats.norm.ppf((1 + p) / 2))
    return float(gtc_reporting.k_factor(max(1, math.floor(dof)), p * 100))


def coverage_probability(k: float, dof: float) -> float:
    """The coverage probability of ±k standard uncertainties for ν degrees of freedom."""
    if dof == INF or dof > 1e7:
        return float(2 * stats.norm.cdf(k) - 1)
    return float(2 * stats.t.cdf(k, max(1, math.floor(dof))) - 1)
