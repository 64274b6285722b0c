"""Calibration and metrology commands: ``lims uncertainty``, ``lims decide``."""

from __future__ import annotations

import json
from typing import Any

import click

from lims.clitools import fail, invalid, load_json


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--mc", "trials", type=int, help="Also propagate by Monte Carlo with N trials.")
@click.option("--seed", type=int, help="Seed of the Monte Carlo draws (reproducible output).")
@click.option("--rounding", type=click.Choice(["half-up", "up"]), default="half-up",
              show_default=True, help="How U is rounded to its significant digits.")
@click.option("--digits", type=click.IntRange(1, 2), default=2, show_default=True,
              help="Significant digits of the reported U.")
def uncertainty(file: str, as_json: bool, trials: int | None, seed: int | None, rounding: str,
                digits: int) -> None:
    """Evaluate the uncertainty budget in FILE (GUM; optionally Monte Carlo, JCGM 101)."""
    from lims.errors import InvalidInput
    from lims.metrology.uncertainty import budget_table, evaluate, monte_carlo, parse_budget

    data = load_json(file)
    try:
        budget = parse_budget(data)
        result = evaluate(budget, rounding=rounding, digits=digits)
        mc = None if trials is None else monte_carlo(budget, result, trials=trials, seed=seed,
                                                     digits=digits)
    except InvalidInput as exc:
        invalid(exc)
    if as_json:
        click.echo(json.dumps(result.to_json(mc), ensure_ascii=False, indent=2))
        return
    if budget.description:
        click.echo(budget.description)
    click.echo(f"model: {budget.symbol} = {budget.model.expression}\n")
    click.echo(budget_table(result))
    nu = "∞" if result.dof_effective == float("inf") else f"{result.dof_effective:.1f}"
    click.echo(f"\n{budget.symbol} = {result.value:.10g} {budget.unit.text}, "
               f"u = {result.standard_uncertainty:.4g} {budget.unit.text}, ν_eff = {nu}, "
               f"k = {result.k:.3f}, U = {result.expanded_uncertainty:.4g} {budget.unit.text}")
    click.echo(f"reported: {result.reported.text}"
               + (" (U raised to the CMC)" if result.reported.cmc_applied else ""))
    if mc is not None:
        verdict = "validated" if mc.validated else "NOT validated"
        click.echo(f"Monte Carlo ({mc.trials} trials, seed {mc.seed}): y = {mc.value:.10g}, "
                   f"u = {mc.standard_uncertainty:.4g}, {mc.coverage_probability:.2%} interval "
                   f"[{mc.low:.10g}, {mc.high:.10g}]; GUM framework {verdict} "
                   f"(δ = {mc.tolerance:.2g}, d_low = {mc.d_low:.2g}, d_high = {mc.d_high:.2g})")


@click.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--value", help="The measured value, e.g. 10.02.")
@click.option("--unit", help="Its unit.")
@click.option("--U", "expanded", help="The expanded uncertainty.")
@click.option("--U-unit", "uncertainty_unit", help="Unit of U (default: the value's unit).")
@click.option("--k", default="2", show_default=True, help="Coverage factor of U.")
@click.option("--lower", help="Lower tolerance limit.")
@click.option("--upper", help="Upper tolerance limit.")
@click.option("--limit-unit", help="Unit of the limits (default: the value's unit).")
@click.option("--rule", type=click.Choice(["simple", "guarded", "non-binary"]),
              default="simple", show_default=True)
@click.option("--r", "ratio", default="1", show_default=True, help="Guard band w = r·U.")
@click.option("--json", "as_json", is_flag=True)
def decide(file: str | None, value: str | None, unit: str | None, expanded: str | None,
           uncertainty_unit: str | None, k: str, lower: str | None, upper: str | None,
           limit_unit: str | None, rule: str, ratio: str, as_json: bool) -> None:
    """Apply a decision rule (ILAC-G8) to a result; options, or a JSON FILE of the same keys."""
    from lims.errors import InvalidInput
    from lims.metrology.decision import decide as apply_rule

    args: dict[str, Any] = {"value": value, "unit": unit, "expanded_uncertainty": expanded,
                            "uncertainty_unit": uncertainty_unit, "k": k, "lower": lower,
                            "upper": upper, "limit_unit": limit_unit, "rule": rule, "r": ratio}
    if file:
        data = load_json(file)
        if not isinstance(data, dict):
            fail(f"{file} must hold a JSON object", 2)
        unknown = set(data) - set(args)
        if unknown:
            fail(f"unknown key(s) in {file}: {', '.join(sorted(unknown))}", 2)
        args.update(data)
    try:
        decision = apply_rule(**args)
    except InvalidInput as exc:
        invalid(exc)
    if as_json:
        click.echo(json.dumps(decision.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(decision.statement_zh)
        click.echo(decision.statement_en)


def commands() -> list[click.Command]:
    return [uncertainty, decide]
