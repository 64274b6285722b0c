"""Calibration and metrology commands: ``lims calibration import``, ``lims trace``,
``lims impact``, ``lims uncertainty``, ``lims decide``."""

from __future__ import annotations

import json
from typing import Any

import click

from lims.clitools import echo_json, fail, invalid, load_json, read, runtime


def _trials(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | str | None:
    if value is None or value == "adaptive":
        return value
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter('a number of trials or "adaptive"') from None


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--mc", "trials", metavar="N|adaptive", callback=_trials,
              help="Also propagate by Monte Carlo (JCGM 101) with N trials, or adaptively "
                   "(JCGM 101 7.9); run anyway when the GUM result is degenerate.")
@click.option("--seed", type=int, help="Seed of the Monte Carlo draws (reproducible output).")
@click.option("--rounding", type=click.Choice(["half-up", "half-even", "up"]),
              default="half-up", show_default=True,
              help="How U is rounded to its significant digits (half-even: GB/T 8170); "
                   "rounding never lowers U by more than 5 % (EA-4/02).")
@click.option("--digits", type=click.IntRange(1, 2), default=2, show_default=True,
              help="Significant digits of the reported U.")
def uncertainty(file: str, as_json: bool, trials: int | str | None, seed: int | None,
                rounding: str, digits: int) -> None:
    """Evaluate the uncertainty budget in FILE (GUM; Monte Carlo, JCGM 101, when asked or when
    the GUM framework does not hold)."""
    from lims.errors import InvalidInput
    from lims.metrology.uncertainty import budget_table, evaluate, parse_budget

    data = load_json(file)
    try:
        budget = parse_budget(data)
        result = evaluate(budget, rounding=rounding, digits=digits, mc=trials, seed=seed)
    except InvalidInput as exc:
        invalid(exc)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
        return
    if budget.description:
        click.echo(budget.description)
    click.echo(f"model: {budget.symbol} = {budget.model.expression}\n")
    click.echo(budget_table(result))
    guf = result.gum or result
    nu = "∞" if guf.dof_effective == float("inf") else f"{guf.dof_effective:.1f}"
    click.echo(f"\n{budget.symbol} = {guf.value:.10g} {budget.unit.text}, "
               f"u = {guf.standard_uncertainty:.4g} {budget.unit.text}, ν_eff = {nu}, "
               f"k = {guf.k:.3f}, U = {guf.expanded_uncertainty:.4g} {budget.unit.text}")
    mc = result.monte_carlo
    if mc is not None:
        verdict = "validated" if mc.validated else "NOT validated"
        trials_text = f"{mc.trials} trials" + (", adaptive" if mc.adaptive else "") + \
            ("" if mc.converged else ", tolerance NOT reached")
        click.echo(f"Monte Carlo ({trials_text}, seed {mc.seed}): y = {mc.value:.10g}, "
                   f"u = {mc.standard_uncertainty:.4g}, shortest {mc.coverage_probability:.2%} "
                   f"coverage interval [{mc.low:.10g}, {mc.high:.10g}]; GUM framework "
                   f"{verdict} (δ = {mc.tolerance:.2g}, d_low = {mc.d_low:.2g}, "
                   f"d_high = {mc.d_high:.2g})")
    if result.method == "MCM":
        click.echo(f"method: Monte Carlo (JCGM 101), because {result.why_monte_carlo}")
    click.echo(f"reported: {result.reported.text}"
               + (" (U raised to the CMC)" if result.reported.cmc_applied else ""))


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


@click.group()
def calibration() -> None:
    """Calibration records and certificates."""


@calibration.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--instrument", "asset", metavar="ASSET",
              help="The instrument calibrated (default: the file's, or by serial number).")
@click.option("--provider-kind", type=click.Choice(["nmi", "accredited", "in-house", "other"]),
              help="Override the provider kind found in or derived from the file.")
@click.option("--valid-until", metavar="DATE",
              help="End of validity (a DCC has none; default: the lab's interval).")
@click.option("--json", "as_json", is_flag=True)
def calibration_import(file: str, asset: str | None, provider_kind: str | None,
                       valid_until: str | None, as_json: bool) -> None:
    """Record an incoming certificate (PTB DCC XML or LIMS JSON) as a calibration record.

    Nothing is written when the file, a unit or a dimension does not fit.
    """
    from pathlib import Path

    from lims.auth.services import get_user
    from lims.calibration.services import import_certificate
    from lims.calibration.views import import_json
    from lims.errors import LimsError
    from lims.instruments.models import Instrument
    from lims.validate import date

    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", 2)
    rt = runtime()
    try:
        with rt.transaction() as session:
            actor = _cli_actor(session, get_user)
            rec = import_certificate(session, actor=actor, data=data, filename=Path(file).name,
                                     asset=asset, provider_kind=provider_kind,
                                     valid_until=date(valid_until, "valid_until", required=False),
                                     timezone=rt.settings.timezone,
                                     interval_days=rt.settings.calibration_interval_days,
                                     warning_days=rt.settings.calibration_warning_days)
            instrument = session.get(Instrument, rec.instrument_id)
            body = import_json(rec, instrument.asset_number if instrument else "")
    except LimsError as exc:
        invalid(exc, 1)
    finally:
        rt.dispose()
    if as_json:
        echo_json(body)
        return
    cert = body["certificate"]
    click.echo(f"recorded certificate {cert['number']} of {cert['provider']} "
               f"({cert['provider_kind']}) for {body['instrument']}: calibrated "
               f"{cert['calibrated_on']}, valid until {cert['valid_until']}, "
               f"{len(body['results'])} result(s)")


def _cli_actor(session: Any, get_user: Any) -> Any:
    """The user a CLI import acts as: ``LIMS_CLI_USER`` (default ``admin``)."""
    import os

    name = os.environ.get("LIMS_CLI_USER", "admin")
    user = get_user(session, name)
    if user is None:
        fail(f"no user {name!r} to act as; set LIMS_CLI_USER to a quality manager or admin")
    return user


@click.command()
@click.argument("report_number")
@click.option("--json", "as_json", is_flag=True)
def trace(report_number: str, as_json: bool) -> None:
    """Show the traceability chain of every result of a report, up to a national standard."""
    from lims.calibration.chains import trace_report

    data = read(lambda session, settings: trace_report(session, report_number,
                                                       timezone=settings.timezone))
    if as_json:
        echo_json(data)
        return
    click.echo(f"report {data['report']} (sample {data['sample']})")
    for r in data["results"]:
        state = "complete" if r["complete"] else f"INCOMPLETE: {r['reason']}"
        click.echo(f"\n{r['characteristic']} = {r['value']} {r['unit']} "
                   f"({r['instrument'] or 'no instrument'}): {state}")
        for depth, n in enumerate(r["chain"]):
            u = f", U = {n['expanded_uncertainty']} {n['unit']} (k = {n['k']})" \
                if n["expanded_uncertainty"] else ""
            click.echo(f"{'  ' * depth}└─ {n['asset']} [{n['role']}] {n['certificate']} by "
                       f"{n['provider']} ({n['provider_kind']}), {n['calibrated_on']} → "
                       f"{n['valid_until']}, valid at use: {'yes' if n['valid_at_use'] else 'NO'}"
                       + u)
            for w in n["warnings"]:
                click.echo(f"{'  ' * depth}   ⚠ {w}")


@click.command()
@click.argument("asset")
@click.option("--from", "start", required=True, metavar="DATE", help="Start (YYYY-MM-DD).")
@click.option("--to", "end", metavar="DATE", help="End (YYYY-MM-DD; default today).")
@click.option("--json", "as_json", is_flag=True)
def impact(asset: str, start: str, end: str | None, as_json: bool) -> None:
    """List everything that relied on ASSET since DATE: calibrations, instruments, results,
    reports and customers (ISO/IEC 17025 7.10)."""
    from lims.calibration.chains import impact as analyse
    from lims.calibration.services import lab_day
    from lims.db import utcnow
    from lims.validate import date

    def query(session: Any, settings: Any) -> dict[str, Any]:
        lo = date(start, "from")
        hi = date(end, "to", required=False) or lab_day(utcnow(), settings.timezone)
        return analyse(session, asset, start=lo, end=hi,  # type: ignore[arg-type]
                       timezone=settings.timezone).to_json()

    data = read(query)
    if as_json:
        echo_json(data)
        return
    click.echo(f"{asset} from {data['from']} to {data['to']}:")
    for c in data["calibrations"]:
        click.echo(f"  calibration {c['certificate']} of {c['instrument']} on "
                   f"{c['calibrated_on']} used {c['standard']}")
    click.echo(f"  instruments: {', '.join(data['instruments']) or '—'}")
    click.echo(f"  results: {data['results']}")
    click.echo(f"  reports: {', '.join(data['reports']) or '—'}")
    click.echo(f"  customers: {', '.join(data['customers']) or '—'}")


def commands() -> list[click.Command]:
    return [calibration, trace, impact, uncertainty, decide]
