"""Propagation of distributions by Monte Carlo (JCGM 101) with the §8 check against GUM.

Memory. The trials are drawn and evaluated in chunks of at most CHUNK_VALUES input values
(16 MB), so the draws of every input never sit in memory at once (50 inputs × 10⁷ trials
would be 4 GB). What is kept is the model's value of every trial, 8 bytes per trial (80 MB at
the 10⁷ ceiling): the coverage intervals of JCGM 101 7.7 are order statistics of those values,
and keeping them gives them exactly, as the unchunked computation did, where a fixed-memory
quantile sketch would add an approximation error of its own to set against the numerical
tolerance δ of the §8 comparison. The mean and standard deviation are computed from the same
values (numpy's pairwise sums, two passes), so no running update is needed.

Reproducibility. Each input (each jointly drawn block) has its own random stream, spawned
from the seed: the draws of an input are then the same sequence however the trials are cut
into chunks, so a seeded run gives the same numbers whatever the chunk size, and an adaptive
run that stops at M trials gives the same values as a fixed run of M trials.

Pure: imports neither Flask nor a Session.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from lims.errors import InvalidInput, msg
from lims.metrology.gum import Evaluation
from lims.metrology.schema import DIVISORS, INF, Budget, InputQuantity

NUMPY_FUNCTIONS = {"sqrt": np.sqrt, "exp": np.exp, "log": np.log, "log10": np.log10,
                   "sin": np.sin, "cos": np.cos, "tan": np.tan, "abs": np.abs}

# JCGM 101 7.9.4 b): M = max(J, 10^4) trials per batch, J the smallest integer ≥ 100/(1 − p).
BATCH = 10**4
# The adaptive procedure stops here even if it has not reached its tolerance (then
# ``converged`` is false); the same ceiling as a fixed number of trials.
MAX_TRIALS = 10**7
# Input values drawn per chunk (16 MB of float64): 40,000 trials at 50 inputs, 10⁵ at 20 or
# fewer (beyond 10⁵ trials a chunk is no faster: numpy's per-call cost is already negligible).
CHUNK_VALUES = 2 * 10**6
MAX_CHUNK = 10**5


@dataclasses.dataclass(frozen=True)
class MonteCarlo:
    """The summary of a Monte Carlo run (JCGM 101 7.6, 7.7) and its comparison with the GUF (§8).

    ``low``/``high`` is the shortest coverage interval (JCGM 101 7.7.4), the one reported: for
    a symmetric output it is the probabilistically symmetric interval, and for an asymmetric
    one (JCGM 101 9.4) the symmetric interval would leave out the most probable values.
    """

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
    symmetric_low: float = math.nan
    symmetric_high: float = math.nan
    adaptive: bool = False
    converged: bool = True

    @property
    def validated(self) -> bool:
        """JCGM 101 8.1.3: the GUF holds when both ends of its interval y ± U_p lie within the
        numerical tolerance δ of those of the Monte Carlo (probabilistically symmetric)
        interval."""
        return self.d_low <= self.tolerance and self.d_high <= self.tolerance

    def to_json(self) -> dict[str, Any]:
        return {"trials": self.trials, "seed": self.seed, "adaptive": self.adaptive,
                "converged": self.converged, "value": self.value,
                "standard_uncertainty": self.standard_uncertainty,
                "coverage_probability": self.coverage_probability,
                "coverage_interval": [self.low, self.high],
                "probabilistically_symmetric_interval": [self.symmetric_low,
                                                         self.symmetric_high],
                "validation": {"tolerance": self.tolerance, "d_low": self.d_low,
                               "d_high": self.d_high, "gum_validated": self.validated,
                               "interval": "probabilistically symmetric"}}


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
        r = rng.random((trials, 2))  # pairs, so that a chunk boundary keeps them together
        return x - a + a * ((1 + beta) * r[:, 0] + (1 - beta) * r[:, 1])
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


@dataclasses.dataclass(frozen=True)
class _Joint:
    """Inputs drawn together: mean and covariance in SI base units, and degrees of freedom."""

    symbols: tuple[str, ...]
    mean: np.ndarray
    covariance: np.ndarray
    dof: float


def _joint_blocks(budget: Budget) -> list[_Joint]:
    """The inputs that must be drawn jointly: each group of simultaneous readings, and each set
    of inputs linked by stated correlations.

    :raises InvalidInput: a correlated input is neither Gaussian nor type A.
    """
    by_symbol = {q.symbol: q for q in budget.inputs}
    blocks = []
    for group in budget.simultaneous:
        qs = [by_symbol[s] for s in group]
        data = np.array([[q.unit.to_base(float(v)) for v in q.readings] for q in qs])
        n = data.shape[1]
        # The covariance of the means, S/n, from the simultaneous readings (GUM H.2.3).
        blocks.append(_Joint(group, data.mean(axis=1), np.atleast_2d(np.cov(data)) / n, n - 1.0))
    # Stated correlations link inputs into connected sets (union-find over the pairs).
    parent: dict[str, str] = {}

    def root(s: str) -> str:
        while parent.setdefault(s, s) != s:
            s = parent[s]
        return s

    for a, b, _r in budget.correlations:
        parent[root(a)] = root(b)
    sets: dict[str, list[str]] = {}
    for s in sorted(parent):
        sets.setdefault(root(s), []).append(s)
    for members in sets.values():
        for s in members:
            if by_symbol[s].distribution not in ("normal", "standard", "readings"):
                raise InvalidInput(msg("Monte Carlo draws correlated inputs from a joint normal "
                                       "or t distribution; %(symbol)s is %(distribution)s",
                                       symbol=s, distribution=by_symbol[s].distribution),
                                   field="correlations")
        index = {s: i for i, s in enumerate(members)}
        sd = np.array([by_symbol[s].standard * by_symbol[s].unit.factor for s in members])
        corr = np.eye(len(members))
        for a, b, r in budget.correlations:
            if a in index:
                corr[index[a], index[b]] = corr[index[b], index[a]] = r
        mean = np.array([by_symbol[s].unit.to_base(float(by_symbol[s].value)) for s in members])
        # The schema lets finite-dof inputs be correlated only within an ensemble, whose
        # members share their degrees of freedom.
        blocks.append(_Joint(tuple(members), mean, corr * np.outer(sd, sd),
                             by_symbol[members[0]].dof))
    return blocks


def _draw_joint(block: _Joint, rng: np.random.Generator, rng_dof: np.random.Generator,
                trials: int) -> np.ndarray:
    """A multivariate normal draw (JCGM 101 6.4.8), or for finite ν the multivariate t with the
    same scale matrix: the normal draw divided by one √(χ²_ν/ν) per trial, the multivariate form
    of JCGM 101 6.4.9. For simultaneous readings ν = n − 1, the degrees of freedom the GUF gives
    the ensemble (JCGM 102 6.5 takes ν = n − N, which for GUM H.2, n = 5 and N = 3, leaves a
    distribution without a variance)."""
    z = rng.multivariate_normal(np.zeros(len(block.symbols)), block.covariance, trials,
                                method="eigh")
    if block.dof != INF:
        z = z / np.sqrt(rng_dof.chisquare(block.dof, trials) / block.dof)[:, None]
    return block.mean + z


class _Sampler:
    """Draws and evaluates trials chunk by chunk, with one random stream per input (two for a
    multivariate t block: the normal draws and the χ² divisors) so that the values do not
    depend on how the trials are chunked."""

    def __init__(self, budget: Budget, seed: int | None) -> None:
        self.budget = budget
        self.blocks = _joint_blocks(budget)
        joint = {s for block in self.blocks for s in block.symbols}
        self.independent = [q for q in budget.inputs if q.symbol not in joint]
        streams = iter(np.random.SeedSequence(seed).spawn(
            2 * len(self.blocks) + len(self.independent)))
        self.block_rngs = [(np.random.default_rng(next(streams)),
                            np.random.default_rng(next(streams))) for _ in self.blocks]
        self.rngs = [np.random.default_rng(next(streams)) for _ in self.independent]
        drawn = sum(len(b.symbols) for b in self.blocks) + sum(
            not q.constant for q in self.independent)
        self.chunk = max(1, min(MAX_CHUNK, CHUNK_VALUES // max(1, drawn)))

    def sample(self, trials: int, out: np.ndarray | None = None) -> np.ndarray:
        """The model's values of the next ``trials`` trials, in the measurand's unit (JCGM 101
        7.3, 7.4), written into ``out`` when given."""
        if out is None:
            out = np.empty(trials)
        for start in range(0, trials, self.chunk):
            stop = min(trials, start + self.chunk)
            out[start:stop] = self._chunk(stop - start)
        return out

    def _chunk(self, trials: int) -> np.ndarray:
        draws: dict[str, Any] = {}
        for block, (rng, rng_dof) in zip(self.blocks, self.block_rngs, strict=True):
            joint = _draw_joint(block, rng, rng_dof, trials)
            for i, s in enumerate(block.symbols):
                draws[s] = joint[:, i]
        for q, rng in zip(self.independent, self.rngs, strict=True):
            draws[q.symbol] = _draw(q, rng, trials)
        with np.errstate(all="ignore"):
            y = self.budget.model.evaluate(draws, NUMPY_FUNCTIONS)
        y = np.broadcast_to(np.asarray(y, dtype=float), (trials,))
        if not np.all(np.isfinite(y)):
            raise InvalidInput(msg("the model is undefined for some Monte Carlo trials "
                                   "(division by zero, log of a negative number)"),
                               field="model")
        return np.asarray(self.budget.unit.from_base(y), dtype=float)


def shortest_interval(ordered: np.ndarray, p: float) -> tuple[float, float]:
    """JCGM 101 7.7.4: of the intervals [y_(r), y_(r+q−1)] holding q = ⌊pM + ½⌋ of the M sorted
    model values, the shortest."""
    m = len(ordered)
    q = int(p * m + 0.5)
    # The widths slice by slice: all M of them at once would double the run's memory.
    r, best = 0, math.inf
    for start in range(0, m - q + 1, MAX_CHUNK):
        stop = min(m - q + 1, start + MAX_CHUNK)
        widths = ordered[start + q - 1:stop + q - 1] - ordered[start:stop]
        i = int(np.argmin(widths))
        if widths[i] < best:  # strictly: the first shortest, as np.argmin over all
            r, best = start + i, float(widths[i])
    return float(ordered[r]), float(ordered[r + q - 1])


def _mean_std(y: np.ndarray) -> tuple[float, float]:
    """The mean (numpy's pairwise sum) and the standard deviation (two passes, the squared
    deviations summed slice by slice: np.std would hold all M deviations at once). Up to
    MAX_CHUNK values, exactly np.mean and np.std(ddof=1)."""
    mean = float(np.mean(y))
    squares = [float(np.sum(np.square(y[i:i + MAX_CHUNK] - mean)))
               for i in range(0, len(y), MAX_CHUNK)]
    return mean, math.sqrt(math.fsum(squares) / (len(y) - 1))


def symmetric_interval(ordered: np.ndarray, p: float) -> tuple[float, float]:
    """JCGM 101 7.7.2: the probabilistically symmetric interval [y_(r), y_(r+q)] with
    r = (1 − p)M/2 rounded (7.7.2) and q = pM rounded (7.7.1)."""
    m = len(ordered)
    q = int(p * m + 0.5)
    r = max(1, int((1 - p) * m / 2 + 0.5))
    return float(ordered[r - 1]), float(ordered[min(r + q, m) - 1])


def monte_carlo(budget: Budget, gum: Evaluation, *, trials: int | None = 10**6,
                seed: int | None = None, digits: int = 2) -> MonteCarlo:
    """Propagate distributions by Monte Carlo (JCGM 101) and compare with the GUM result (§8).

    ``trials=None`` runs the adaptive procedure of JCGM 101 7.9.4: batches of 10⁴ trials
    until twice the standard deviation of the averages of y, u(y) and the ends of both coverage
    intervals over the batches is within the numerical tolerance of u(y) at ``digits``
    significant digits, and within a fifth of the GUF's for the results compared with it (at
    most 10⁷ trials). The coverage probability is the GUM result's. Correlated inputs must be
    Gaussian or type A: they are drawn jointly, from a multivariate normal, or a multivariate t
    for an ensemble with finite degrees of freedom (simultaneous readings included).
    """
    if trials is not None and not 1000 <= trials <= MAX_TRIALS:
        raise InvalidInput(msg("Monte Carlo needs between 1 000 and 10 000 000 trials"),
                           field="trials")
    guf = gum.gum or gum  # validate against the first-order result, even when MCM is reported
    sampler = _Sampler(budget, seed)
    p = guf.coverage_probability
    converged = True
    if trials is not None:
        y = sampler.sample(trials)
        y.sort()
    else:
        # JCGM 101 8.2: Monte Carlo results that validate the GUF must themselves be known well
        # within the tolerance δ of the comparison, or noise decides it; they are run to δ/5.
        target = numerical_tolerance(guf.standard_uncertainty, digits) / 5
        y, converged = _adaptive(sampler, p, digits, target)
    low, high = shortest_interval(y, p)
    s_low, s_high = symmetric_interval(y, p)
    tolerance = numerical_tolerance(guf.standard_uncertainty, digits)
    # JCGM 101 8.1.3 compares the ends of the GUF interval y ± U_p with those of the Monte Carlo
    # interval. y ± U_p is probabilistically symmetric, so it is held against the Monte Carlo
    # probabilistically symmetric interval (7.7.2): for a symmetric output the shortest interval
    # is the same but its ends slide about with the draws (its width hardly depends on where it
    # sits), which would fail a sound GUF result on Monte Carlo noise; for an asymmetric output
    # the symmetric interval's ends are as far from y ± U_p as the shortest interval's.
    value, standard_uncertainty = _mean_std(y)
    return MonteCarlo(
        trials=len(y), seed=seed, value=value,
        standard_uncertainty=standard_uncertainty, coverage_probability=p,
        low=low, high=high, tolerance=tolerance,
        d_low=abs(guf.value - guf.expanded_uncertainty - s_low),
        d_high=abs(guf.value + guf.expanded_uncertainty - s_high),
        symmetric_low=s_low, symmetric_high=s_high, adaptive=trials is None,
        converged=converged)


def _adaptive(sampler: _Sampler, p: float, digits: int,
              validation: float) -> tuple[np.ndarray, bool]:
    """JCGM 101 7.9.4, and to ``validation`` (if not 0) for the results compared with the GUF;
    returns the sorted model values of all batches and whether the tolerances were reached."""
    batch = max(BATCH, math.ceil(100 / (1 - p)))
    runs: list[np.ndarray] = []
    # Per batch: y, u(y), the shortest interval (reported) and the symmetric one (compared).
    results: list[tuple[float, ...]] = []
    n, mean, m2 = 0, 0.0, 0.0   # all values so far (Chan et al.'s pairwise update)
    while True:
        y = np.sort(sampler.sample(batch))
        runs.append(y)
        b_mean = float(np.mean(y))
        results.append((b_mean, float(np.std(y, ddof=1)), *shortest_interval(y, p),
                        *symmetric_interval(y, p)))
        delta = b_mean - mean
        mean += delta * batch / (n + batch)
        m2 += float(np.var(y)) * batch + delta ** 2 * n * batch / (n + batch)
        n += batch
        h = len(runs)
        if h < 2:
            continue
        # 7.9.4 f): the standard deviation of the average of each result over h batches.
        spread = 2 * np.std(np.array(results), axis=0, ddof=1) / math.sqrt(h)
        tolerance = numerical_tolerance(math.sqrt(m2 / (n - 1)), digits)  # 7.9.4 g), h)
        done = bool(np.all(spread[:4] <= tolerance))
        if validation > 0:
            done = done and bool(np.all(spread[[0, 1, 4, 5]] <= validation))
        if done or n + batch > MAX_TRIALS:
            return _sorted(runs), done


def _sorted(parts: list[np.ndarray]) -> np.ndarray:
    """The parts merged and sorted in one array, each part freed once copied: 8 bytes a
    trial plus one part at the peak, not twice the values as np.concatenate would hold."""
    values = np.empty(sum(len(part) for part in parts))
    done = 0
    parts.reverse()
    while parts:
        part = parts.pop()
        values[done:done + len(part)] = part
        done += len(part)
        del part
    values.sort()  # in place: 10⁷ values are 80 MB
    return values
