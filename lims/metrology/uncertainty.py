"""Measurement uncertainty budgets: GUM first-order propagation and GUM Supplement 1 Monte Carlo.

Pure: imports neither Flask nor a Session. The Python API that calibration records and reports
call::

    from lims.metrology.uncertainty import parse_budget, evaluate, monte_carlo

    budget = parse_budget(data)            # the JSON form of `lims uncertainty FILE`
    result = evaluate(budget)              # GUM (JCGM 100) law of propagation
    result.method                          # "GUF", or "MCM" when the GUF does not hold
    result.value, result.standard_uncertainty, result.dof_effective, result.k
    result.expanded_uncertainty            # unrounded, in the measurand's unit
    result.coverage_interval               # (low, high) in the measurand's unit
    result.reported.text                   # "m_X = 10 000.025 g ± 0.058 g (k = 2, p ≈ 95 %)"
    result.rows                            # symbol, value, unit, u, c, c·u, dof, percent
    result = evaluate(budget, mc=10**6, seed=1)   # also JCGM 101, with the §8 check
    result = evaluate(budget, mc="adaptive")      # JCGM 101 7.9 adaptive number of trials
    result.monte_carlo, result.gum         # the Monte Carlo run; the GUF result if MCM reports
    result.to_json()                       # the `lims uncertainty --json` document

``monte_carlo(budget, result, trials=N, seed=S)`` runs JCGM 101 on its own, without changing
what is reported. The engine lives in small modules: :mod:`~lims.metrology.schema` (the
budget's JSON form), :mod:`~lims.metrology.gum`, :mod:`~lims.metrology.montecarlo`,
:mod:`~lims.metrology.coverage` and :mod:`~lims.metrology.rounding`; this module is their one
public face.
"""

from __future__ import annotations

import dataclasses

from lims.errors import InvalidInput, msg
from lims.metrology import gum as _gum
from lims.metrology.coverage import coverage_factor, coverage_probability
from lims.metrology.gum import BudgetRow, Evaluation, Reported, budget_table, from_monte_carlo
from lims.metrology.montecarlo import (
    MonteCarlo,
    monte_carlo,
    numerical_tolerance,
    shortest_interval,
    symmetric_interval,
)
from lims.metrology.rounding import ROUNDING, group_digits, round_to, round_uncertainty
from lims.metrology.schema import (
    CMC,
    Budget,
    InputQuantity,
    UnitInfo,
    parse_budget,
    parse_budget_unit,
)

__all__ = ("CMC", "ROUNDING", "Budget", "BudgetRow", "Evaluation", "InputQuantity",
           "MonteCarlo", "Reported", "UnitInfo", "budget_table", "coverage_factor",
           "coverage_probability", "evaluate", "from_monte_carlo", "group_digits",
           "monte_carlo", "numerical_tolerance", "parse_budget", "parse_budget_unit",
           "round_to", "round_uncertainty", "shortest_interval", "symmetric_interval")


def evaluate(budget: Budget, *, rounding: str = "half-up", digits: int = 2,
             mc: int | str | None = None, seed: int | None = None) -> Evaluation:
    """Evaluate a budget and report the result of the method that holds for it.

    The GUM uncertainty framework (JCGM 100 5.1, 5.2) is evaluated first. ``mc`` (a number of
    trials, or ``"adaptive"`` for JCGM 101 7.9.4) adds a Monte Carlo run and its §8 comparison.
    The reported result is the Monte Carlo one when the GUF fails that comparison, or when its
    standard uncertainty is 0 although inputs are uncertain (the sensitivity coefficients
    vanish at the estimate, JCGM 101 9.4): then the Monte Carlo run is made even if ``mc`` is
    not given, adaptively, so that no expanded uncertainty of 0 is reported for uncertain
    inputs.

    :raises InvalidInput: the model cannot be evaluated, or ``mc`` is not a number of trials
        between 10³ and 10⁷ nor ``"adaptive"``.
    """
    result = _gum.evaluate(budget, rounding=rounding, digits=digits)
    if mc is None and not result.degenerate:
        return result
    if mc is not None and mc != "adaptive" and (isinstance(mc, bool) or not isinstance(mc, int)):
        raise InvalidInput(msg('give a number of trials or "adaptive"'), field="trials")
    trials = None if mc in (None, "adaptive") else int(mc)
    run = monte_carlo(budget, result, trials=trials, seed=seed, digits=digits)
    if run.validated and not result.degenerate:
        return dataclasses.replace(result, monte_carlo=run)
    return from_monte_carlo(result, run, rounding=rounding, digits=digits)
