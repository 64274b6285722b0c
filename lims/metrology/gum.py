"""GUM first-order propagation of a budget (JCGM 100 5.1, 5.2) with GTC.

Why GTC: the GUM Tree Calculator (MSL New Zealand) propagates uncertainty with automatic
differentiation, so sensitivity coefficients are analytic rather than numerical; it carries
degrees of freedom and computes ν_eff by Welch–Satterthwaite, and gives per-input components
and Student-t coverage factors. Welch–Satterthwaite needs independent inputs (GUM G.4.1 note);
correlated inputs with finite degrees of freedom are only accepted as an ensemble (Willink,
Metrologia 44 (2007) 340, 4.1): simultaneous type A readings (GUM H.2), whose correlations are
estimated from the readings, or inputs the budget declares an ensemble.

All arithmetic runs in SI base units (floats, after exact Decimal parsing of the inputs), then
converts back to the measurand's unit; so writing an input in mm instead of m changes nothing.

Pure: imports neither Flask nor a Session.
"""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

import GTC
from GTC import reporting as gtc_reporting

from lims.errors import InvalidInput, msg
from lims.metrology.coverage import coverage_factor, coverage_probability
from lims.metrology.rounding import group_digits, round_outward, round_to, round_uncertainty
from lims.metrology.schema import INF, Budget

if TYPE_CHECKING:
    from lims.metrology.montecarlo import MonteCarlo


GTC_FUNCTIONS = {"sqrt": GTC.sqrt, "exp": GTC.exp, "log": GTC.log, "log10": GTC.log10,
                 "sin": GTC.sin, "cos": GTC.cos, "tan": GTC.tan, "abs": abs}


class BudgetRow(NamedTuple):
    """One row of the evaluated budget. A NamedTuple rather than a frozen dataclass: one is
    built per input at every evaluation, at a fifth of the cost (issue 14)."""

    symbol: str
    value: float
    unit: str
    standard_uncertainty: float
    type: str
    distribution: str
    sensitivity: float | None     # measurand unit per input unit
    contribution: float           # c_i·u(x_i), in the measurand's unit
    dof: float
    percent: float


@dataclasses.dataclass(frozen=True)
class Reported:
    value: Decimal
    expanded_uncertainty: Decimal
    unit: str
    text: str
    cmc_applied: bool
    coverage_interval: tuple[Decimal, Decimal] | None = None  # rounded outwards


@dataclasses.dataclass(frozen=True)
class Evaluation:
    budget: Budget
    value: float
    standard_uncertainty: float
    dof_effective: float
    k: float
    coverage_probability: float
    expanded_uncertainty: float
    rows: tuple[BudgetRow, ...]
    reported: Reported
    # "GUF" (JCGM 100) or "MCM" (JCGM 101), whichever the reported result comes from.
    method: str = "GUF"
    # [low, high] in the measurand's unit: y ± U for the GUF, the shortest interval for MCM.
    coverage_interval: tuple[float, float] = (math.nan, math.nan)
    monte_carlo: MonteCarlo | None = None
    gum: Evaluation | None = None   # the first-order result, when the MCM one is reported

    @property
    def degenerate(self) -> bool:
        """u = 0 although some input is uncertain: the first-order terms vanish at the estimate
        (JCGM 101 9.4 with x = 0), and the GUF says nothing about the dispersion of Y."""
        return self.standard_uncertainty == 0 and any(
            r.standard_uncertainty > 0 for r in self.rows)

    @property
    def why_monte_carlo(self) -> str | None:
        """Why the reported result is the Monte Carlo one, in words, or None for the GUF."""
        if self.method != "MCM" or self.gum is None:
            return None
        if self.gum.degenerate:
            return ("the first-order (GUF) standard uncertainty is 0 although inputs are "
                    "uncertain: the sensitivity coefficients vanish at the estimate")
        return "the GUF fails the JCGM 101 §8 comparison with the Monte Carlo result"

    def to_json(self, mc: MonteCarlo | None = None) -> dict[str, Any]:
        def dof(value: float) -> float | None:
            return None if value == INF else value

        mc = mc or self.monte_carlo
        reported: dict[str, Any] = {
            "value": str(self.reported.value),
            "expanded_uncertainty": str(self.reported.expanded_uncertainty),
            "unit": self.reported.unit, "text": self.reported.text,
            "cmc_applied": self.reported.cmc_applied}
        if self.reported.coverage_interval is not None:
            reported["coverage_interval"] = [str(v) for v in self.reported.coverage_interval]
        data: dict[str, Any] = {
            "measurand": self.budget.symbol,
            "description": self.budget.description,
            "method": self.method,
            "value": self.value,
            "unit": self.budget.unit.text,
            "standard_uncertainty": self.standard_uncertainty,
            "dof_effective": dof(self.dof_effective),
            "k": self.k,
            "coverage_probability": self.coverage_probability,
            "expanded_uncertainty": self.expanded_uncertainty,
            "coverage_interval": list(self.coverage_interval),
            "reported": reported,
            "budget": [{"symbol": r.symbol, "value": r.value, "unit": r.unit,
                        "standard_uncertainty": r.standard_uncertainty, "type": r.type,
                        "distribution": r.distribution, "sensitivity": r.sensitivity,
                        "contribution": r.contribution, "dof": dof(r.dof),
                        "percent": r.percent} for r in self.rows],
        }
        data["correlations"] = [
            {"a": a, "b": b, "r": r, "estimated": estimated}
            for estimated, pairs in ((False, self.budget.correlations),
                                     (True, self.budget.estimated_correlations))
            for a, b, r in pairs]
        if self.gum is not None:
            data["gum"] = {"value": self.gum.value,
                           "standard_uncertainty": self.gum.standard_uncertainty,
                           "dof_effective": dof(self.gum.dof_effective), "k": self.gum.k,
                           "expanded_uncertainty": self.gum.expanded_uncertainty,
                           "coverage_interval": list(self.gum.coverage_interval)}
        if mc is not None:
            data["monte_carlo"] = mc.to_json()
        return data


def _env(budget: Budget, values: list[float]) -> dict[str, Any]:
    """The inputs as GTC uncertain numbers in SI base units (constants as floats); ``values``
    are the inputs' values as floats, in their order."""
    correlated = {s for a, b, _r in budget.correlations for s in (a, b)}
    env: dict[str, Any] = {}
    # GUM H.2.3: simultaneous readings give means, standard uncertainties s/√n and the
    # correlations of the schema, and form an ensemble of ν = n − 1 (Willink 2007), so that
    # ν_eff stays meaningful; declared ensembles share their ν. This is what GTC's
    # type_a.multi_estimate_real does, with the correlations clipped to [−1, 1] first: for
    # readings that move exactly together the sample correlation can come out as
    # 1.000 000 000 000 000 2, which GTC refuses.
    by_symbol = {q.symbol: q for q in budget.inputs} if budget.simultaneous or \
        budget.ensembles else {}
    for group in (*budget.simultaneous, *budget.ensembles):
        qs = [by_symbol[s] for s in group]
        env.update(zip(group, GTC.multiple_ureal(
            [q.unit.to_base(float(q.value)) for q in qs],
            [q.standard * q.unit.factor for q in qs], qs[0].dof, list(group)), strict=True))
    for a, b, r in budget.estimated_correlations:
        GTC.set_correlation(r, env[a], env[b])
    ureal = GTC.ureal
    for q, value in zip(budget.inputs, values, strict=True):
        symbol, unit = q.symbol, q.unit
        if symbol in env:
            continue
        x = unit.zero + value * unit.factor  # unit.to_base(), inline: one per input
        if q.type == "constant":
            env[symbol] = x
        else:
            # ureal(x, u, df, label, independent), positionally: keywords cost per input.
            env[symbol] = ureal(x, q.standard * unit.factor, q.dof, symbol,
                                symbol not in correlated)
    for a, b, r in budget.correlations:
        GTC.set_correlation(r, env[a], env[b])
    return env


def evaluate(budget: Budget, *, rounding: str = "half-up", digits: int = 2) -> Evaluation:
    """Propagate the uncertainties of a budget by the GUM law of propagation (JCGM 100 5.1, 5.2).

    :raises InvalidInput: the model cannot be evaluated at the input values.
    """
    values = [float(q.value) for q in budget.inputs]  # once: a Decimal's float is slow
    env = _env(budget, values)
    try:
        y = budget.model.evaluate(env, GTC_FUNCTIONS)
    except (ZeroDivisionError, ValueError, OverflowError) as exc:
        raise InvalidInput(msg("the model cannot be evaluated at the input values: %(reason)s",
                               reason=str(exc)), field="model") from None
    m = budget.unit
    if isinstance(y, float | int):
        y_value, y_u, nu = float(y), 0.0, INF
    else:
        y_value, y_u, nu = float(y.x), float(y.u), float(y.df)
    if not math.isfinite(y_value):
        raise InvalidInput(msg("the model gives a non-finite value at the input values"),
                           field="model")
    if math.isnan(nu):
        nu = INF
    value = float(m.from_base(y_value))
    u = y_u / m.factor
    if budget.k is not None:
        k = float(budget.k)
        p = coverage_probability(k, nu)
    else:
        p = float(budget.probability)  # type: ignore[arg-type]
        k = coverage_factor(nu, p)
    expanded = k * u

    # Each row is built whole once ν_eff and every component are known (its percent needs the
    # sum of the squares), straight from a tuple: a NamedTuple's own __new__ is a Python
    # function, a call per input at every evaluation (issue 14).
    rows: list[tuple[Any, ...]] = []
    squares: list[float] = []
    scalar = isinstance(y, float | int)
    sensitivity, component, factor = gtc_reporting.sensitivity, gtc_reporting.u_component, m.factor
    for q, x_value in zip(budget.inputs, values, strict=True):
        unit = q.unit
        if scalar or q.type == "constant":
            rows.append((q.symbol, x_value, unit.text, q.standard, q.type, q.distribution,
                         None, 0.0, q.dof))
            squares.append(0.0)
            continue
        x = env[q.symbol]
        c = float(sensitivity(y, x)) * unit.factor / factor
        contribution = float(component(y, x)) / factor
        # + 0.0 turns -0.0 into 0.0
        rows.append((q.symbol, x_value, unit.text, q.standard, q.type, q.distribution,
                     c + 0.0, contribution + 0.0, q.dof))
        squares.append(contribution ** 2)
    total = sum(squares) or 1.0
    new = tuple.__new__
    budget_rows = tuple([new(BudgetRow, (*row, 100 * square / total))
                         for row, square in zip(rows, squares, strict=True)])
    return Evaluation(budget, value, u, nu, k, p, expanded, budget_rows,
                      _report(budget, value, expanded, k, p, rounding=rounding, digits=digits),
                      coverage_interval=(value - expanded, value + expanded))


def from_monte_carlo(gum: Evaluation, mc: MonteCarlo, *, rounding: str = "half-up",
                     digits: int = 2) -> Evaluation:
    """The result to report when the GUF does not hold: the Monte Carlo one (JCGM 101 5.5, 7.6,
    7.7), with the GUF's budget rows beside it.

    y is the average of the model values and u(y) their standard deviation (7.6); the coverage
    interval is the shortest (7.7.4). U is the half-width of the smallest interval centred on y
    that holds the coverage interval, so y ± U covers at least p even for an asymmetric
    output, and U is 0 only when every model value is the same.
    """
    expanded = max(mc.high - mc.value, mc.value - mc.low, 0.0)
    k = expanded / mc.standard_uncertainty if mc.standard_uncertainty > 0 else gum.k
    reported = _report(gum.budget, mc.value, expanded, k, mc.coverage_probability,
                       rounding=rounding, digits=digits, interval=(mc.low, mc.high))
    return dataclasses.replace(
        gum, method="MCM", value=mc.value, standard_uncertainty=mc.standard_uncertainty, k=k,
        coverage_probability=mc.coverage_probability, expanded_uncertainty=expanded,
        coverage_interval=(mc.low, mc.high), reported=reported, monte_carlo=mc, gum=gum)


def _report(budget: Budget, value: float, expanded: float, k: float, p: float, *, rounding: str,
            digits: int, interval: tuple[float, float] | None = None) -> Reported:
    U = round_uncertainty(Decimal(repr(expanded)), digits=digits, mode=rounding)
    cmc_applied = False
    cmc = None if budget.cmc is None else budget.cmc.at(Decimal(repr(value)))
    if cmc is not None and U < cmc:
        # ILAC-P14 5.4: a reported U is never smaller than the CMC for the quantity and range.
        U, cmc_applied = round_uncertainty(cmc, digits=digits, mode="up"), True
    exact = Decimal(repr(value))
    if U > 0:
        quantum = U  # quantize() takes only its exponent: the last place of U
        y = round_to(exact, quantum, mode=rounding)
    else:
        quantum, y = None, exact
    if budget.probability is not None:
        p_text = format((budget.probability * 100).normalize(), "f")
    else:
        p_text = f"{round(p * 100)}"
    # A dimensionless measurand ("1") is written without a unit.
    unit = "" if budget.unit.text == "1" else f" {budget.unit.text}"
    if interval is None:
        low, high = y - U, y + U
        k_text = (format(budget.k.normalize(), "f") if budget.k is not None else f"{k:.2f}")
        text = (f"{budget.symbol} = {group_digits(y)}{unit} ± {group_digits(U)}{unit} "
                f"(k = {k_text}, p ≈ {p_text} %)")
        return Reported(y, U, budget.unit.text, text, cmc_applied, (low, high))
    low, high = Decimal(repr(interval[0])), Decimal(repr(interval[1]))
    if cmc_applied:  # the interval never claims less than the CMC either
        low, high = min(low, exact - U), max(high, exact + U)
    if quantum is not None:
        low, high = round_outward(low, high, quantum)
    text = (f"{budget.symbol} = {group_digits(y)}{unit} ± {group_digits(U)}{unit} "
            f"(p ≈ {p_text} %, Monte Carlo, JCGM 101; shortest coverage interval "
            f"[{group_digits(low)}, {group_digits(high)}]{unit})")
    return Reported(y, U, budget.unit.text, text, cmc_applied, (low, high))


def budget_table(result: Evaluation) -> str:
    """The budget as a plain-text table for the terminal."""
    head = ("symbol", "value", "unit", "u(x_i)", "type/distribution", "c_i", "c_i·u(x_i)",
            "ν_i", "%")
    lines = [head]
    for r in result.rows:
        lines.append((r.symbol, f"{r.value:.10g}", r.unit, f"{r.standard_uncertainty:.4g}",
                      f"{r.type} {r.distribution}",
                      "—" if r.sensitivity is None else f"{r.sensitivity:.4g}",
                      f"{r.contribution:.4g}", "∞" if r.dof == INF else f"{r.dof:g}",
                      f"{r.percent:.1f}"))
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(head))]
    out = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
           for row in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)
