"""GUM first-order propagation of a budget (JCGM 100 5.1, 5.2) with GTC.

Why GTC: the GUM Tree Calculator (MSL New Zealand) propagates uncertainty with automatic
differentiation, so sensitivity coefficients are analytic rather than numerical; it carries
degrees of freedom and computes ν_eff by Welch–Satterthwaite (with Willink's extension for
correlated inputs), and gives per-input components and Student-t coverage factors.

All arithmetic runs in SI base units (floats, after exact Decimal parsing of the inputs), then
converts back to the measurand's unit; so writing an input in mm instead of m changes nothing.

Pure: imports neither Flask nor a Session.
"""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import GTC
from GTC import reporting as gtc_reporting

from lims.errors import InvalidInput
from lims.metrology.coverage import coverage_factor, coverage_probability
from lims.metrology.rounding import group_digits, round_to, round_uncertainty
from lims.metrology.schema import INF, Budget

if TYPE_CHECKING:
    from lims.metrology.montecarlo import MonteCarlo


GTC_FUNCTIONS = {"sqrt": GTC.sqrt, "exp": GTC.exp, "log": GTC.log, "log10": GTC.log10,
                 "sin": GTC.sin, "cos": GTC.cos, "tan": GTC.tan, "abs": abs}


@dataclasses.dataclass(frozen=True)
class BudgetRow:
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

    def to_json(self, mc: MonteCarlo | None = None) -> dict[str, Any]:
        def dof(value: float) -> float | None:
            return None if value == INF else value

        data: dict[str, Any] = {
            "measurand": self.budget.symbol,
            "description": self.budget.description,
            "value": self.value,
            "unit": self.budget.unit.text,
            "standard_uncertainty": self.standard_uncertainty,
            "dof_effective": dof(self.dof_effective),
            "k": self.k,
            "coverage_probability": self.coverage_probability,
            "expanded_uncertainty": self.expanded_uncertainty,
            "reported": {"value": str(self.reported.value),
                         "expanded_uncertainty": str(self.reported.expanded_uncertainty),
                         "unit": self.reported.unit, "text": self.reported.text,
                         "cmc_applied": self.reported.cmc_applied},
            "budget": [{"symbol": r.symbol, "value": r.value, "unit": r.unit,
                        "standard_uncertainty": r.standard_uncertainty, "type": r.type,
                        "distribution": r.distribution, "sensitivity": r.sensitivity,
                        "contribution": r.contribution, "dof": dof(r.dof),
                        "percent": r.percent} for r in self.rows],
        }
        if mc is not None:
            data["monte_carlo"] = mc.to_json()
        return data


def _env(budget: Budget) -> dict[str, Any]:
    correlated = {s for a, b, _r in budget.correlations for s in (a, b)}
    env: dict[str, Any] = {}
    for q in budget.inputs:
        x = q.unit.to_base(float(q.value))
        if q.constant:
            env[q.symbol] = x
        else:
            env[q.symbol] = GTC.ureal(x, q.standard * q.unit.factor, q.dof, label=q.symbol,
                                      independent=q.symbol not in correlated)
    for a, b, r in budget.correlations:
        GTC.set_correlation(r, env[a], env[b])
    return env


def evaluate(budget: Budget, *, rounding: str = "half-up", digits: int = 2) -> Evaluation:
    """Propagate the uncertainties of a budget by the GUM law of propagation (JCGM 100 5.1, 5.2).

    :raises InvalidInput: the model cannot be evaluated at the input values.
    """
    env = _env(budget)
    try:
        y = budget.model.evaluate(env, GTC_FUNCTIONS)
    except (ZeroDivisionError, ValueError, OverflowError) as exc:
        raise InvalidInput(f"the model cannot be evaluated at the input values: {exc}",
                           field="model") from None
    m = budget.unit
    if isinstance(y, float | int):
        y_value, y_u, nu = float(y), 0.0, INF
    else:
        y_value, y_u, nu = float(y.x), float(y.u), float(y.df)
    if not math.isfinite(y_value):
        raise InvalidInput("the model gives a non-finite value at the input values",
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

    rows = []
    squares = []
    for q in budget.inputs:
        if q.constant or isinstance(y, float | int):
            rows.append((q, None, 0.0))
            continue
        c = float(gtc_reporting.sensitivity(y, env[q.symbol])) * q.unit.factor / m.factor
        contribution = float(gtc_reporting.u_component(y, env[q.symbol])) / m.factor
        rows.append((q, c + 0.0, contribution + 0.0))  # + 0.0 turns -0.0 into 0.0
        squares.append(contribution ** 2)
    total = sum(squares) or 1.0
    budget_rows = tuple(
        BudgetRow(symbol=q.symbol, value=float(q.value), unit=q.unit.text,
                  standard_uncertainty=q.standard, type=q.type, distribution=q.distribution,
                  sensitivity=c, contribution=contribution, dof=q.dof,
                  percent=100 * contribution ** 2 / total)
        for q, c, contribution in rows)
    return Evaluation(budget, value, u, nu, k, p, expanded, budget_rows,
                      _report(budget, value, expanded, k, p, rounding=rounding, digits=digits))


def _report(budget: Budget, value: float, expanded: float, k: float, p: float, *, rounding: str,
            digits: int) -> Reported:
    U = round_uncertainty(Decimal(repr(expanded)), digits=digits, mode=rounding)
    cmc_applied = False
    cmc = None if budget.cmc is None else budget.cmc.at(Decimal(repr(value)))
    if cmc is not None and U < cmc:
        # ILAC-P14 5.4: a reported U is never smaller than the CMC for the quantity and range.
        U, cmc_applied = round_uncertainty(cmc, digits=digits, mode="up"), True
    if U > 0:
        quantum = Decimal(1).scaleb(U.as_tuple().exponent)  # type: ignore[arg-type]
        y = round_to(Decimal(repr(value)), quantum, mode=rounding)
    else:
        y = Decimal(repr(value))
    k_text = (format(budget.k.normalize(), "f") if budget.k is not None else f"{k:.2f}")
    if budget.probability is not None:
        p_text = format((budget.probability * 100).normalize(), "f")
    else:
        p_text = f"{round(p * 100)}"
    unit = budget.unit.text
    text = (f"{budget.symbol} = {group_digits(y)} {unit} ± {group_digits(U)} {unit} "
            f"(k = {k_text}, p ≈ {p_text} %)")
    return Reported(y, U, unit, text, cmc_applied)


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
