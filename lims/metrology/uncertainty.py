"""Measurement uncertainty budgets: GUM first-order propagation and GUM Supplement 1 Monte Carlo.

Pure: imports neither Flask nor a Session. The Python API that calibration records and reports
call::

    from lims.metrology.uncertainty import parse_budget, evaluate, monte_carlo

    budget = parse_budget(data)            # the JSON form of `lims uncertainty FILE`
    result = evaluate(budget)              # GUM (JCGM 100) law of propagation
    result.value, result.standard_uncertainty, result.dof_effective, result.k
    result.expanded_uncertainty            # unrounded, in the measurand's unit
    result.reported.text                   # "m_X = 10 000.025 g ± 0.059 g (k = 2, p ≈ 95 %)"
    result.budget                          # rows: symbol, value, unit, u, c, c·u, dof, percent
    mc = monte_carlo(budget, result, trials=10**6, seed=1)   # JCGM 101, with the §8 check
    result.to_json(mc)                     # the `lims uncertainty --json` document

The engine lives in small modules: :mod:`~lims.metrology.schema` (the budget's JSON form),
:mod:`~lims.metrology.gum`, :mod:`~lims.metrology.montecarlo`, :mod:`~lims.metrology.coverage`
and :mod:`~lims.metrology.rounding`; this module is their one public face.
"""

from __future__ import annotations

from lims.metrology.coverage import coverage_factor, coverage_probability
from lims.metrology.gum import BudgetRow, Evaluation, Reported, budget_table, evaluate
from lims.metrology.montecarlo import MonteCarlo, monte_carlo, numerical_tolerance
from lims.metrology.rounding import ROUNDING, group_digits, round_to, round_uncertainty
from lims.metrology.schema import Budget, InputQuantity, UnitInfo, parse_budget, parse_budget_unit

__all__ = ("ROUNDING", "Budget", "BudgetRow", "Evaluation", "InputQuantity", "MonteCarlo",
           "Reported", "UnitInfo", "budget_table", "coverage_factor", "coverage_probability",
           "evaluate", "group_digits", "monte_carlo", "numerical_tolerance", "parse_budget",
           "parse_budget_unit", "round_to", "round_uncertainty")
