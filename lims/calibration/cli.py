"""Calibration and metrology commands: ``lims calibration import``, ``lims trace``,
``lims impact``, ``lims uncertainty``, ``lims decide``."""

from __future__ import annotations

import json
from typing import Any

import click

from lims.catalogs import label, tr
from lims.clitools import echo_json, fail, invalid, load_json, read, runtime


def _trials(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | str | None:
    if value is None or value == "adaptive":
        return value
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter(tr('a number of trials or "adaptive"')) from None


# --help texts follow LIMS_DEFAULT_LOCALE (issue 11 §1); the docstrings stay for developers.
@click.command(help=tr("Evaluate the uncertainty budget in FILE (GUM; Monte Carlo, JCGM 101, when "
                       "asked or when the GUM framework does not hold)."))
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help=tr("Print the result as JSON."))
@click.option("--mc", "trials", metavar="N|adaptive", callback=_trials,
              help=tr("Also propagate by Monte Carlo (JCGM 101) with N trials, or adaptively "
                      "(JCGM 101 7.9); run anyway when the GUM result is degenerate."))
@click.option("--seed", type=int, help=tr("Seed of the Monte Carlo draws (reproducible output)."))
@click.option("--rounding", type=click.Choice(["half-up", "half-even", "up"]),
              default="half-up", show_default=True,
              help=tr("How U is rounded to its significant digits (half-even: GB/T 8170); "
                      "rounding never lowers U by more than 5 % (EA-4/02)."))
@click.option("--digits", type=click.IntRange(1, 2), default=2, show_default=True,
              help=tr("Significant digits of the reported U."))
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
    click.echo(tr("model: %(model)s", model=f"{budget.symbol} = {budget.model.expression}") + "\n")
    click.echo(budget_table(result))
    guf = result.gum or result
    nu = "∞" if guf.dof_effective == float("inf") else f"{guf.dof_effective:.1f}"
    click.echo(f"\n{budget.symbol} = {guf.value:.10g} {budget.unit.text}, "
               f"u = {guf.standard_uncertainty:.4g} {budget.unit.text}, ν_eff = {nu}, "
               f"k = {guf.k:.3f}, U = {guf.expanded_uncertainty:.4g} {budget.unit.text}")
    mc = result.monte_carlo
    if mc is not None:
        trials_text = tr("%(trials)s trials", trials=mc.trials) + (
            tr(", adaptive") if mc.adaptive else "") + (
            "" if mc.converged else tr(", tolerance NOT reached"))
        numbers = {"value": f"{mc.value:.10g}", "u": f"{mc.standard_uncertainty:.4g}",
                   "p": f"{mc.coverage_probability:.2%}", "low": f"{mc.low:.10g}",
                   "high": f"{mc.high:.10g}", "tolerance": f"{mc.tolerance:.2g}",
                   "d_low": f"{mc.d_low:.2g}", "d_high": f"{mc.d_high:.2g}"}
        # Whole sentences for both verdicts, so a translation needs no grammar of its own.
        click.echo(tr("Monte Carlo (%(trials)s, seed %(seed)s): y = %(value)s, u = %(u)s, shortest "
                      "%(p)s coverage interval [%(low)s, %(high)s]; GUM framework validated "
                      "(δ = %(tolerance)s, d_low = %(d_low)s, d_high = %(d_high)s)",
                      trials=trials_text, seed=mc.seed, **numbers)
                   if mc.validated else
                   tr("Monte Carlo (%(trials)s, seed %(seed)s): y = %(value)s, u = %(u)s, shortest "
                      "%(p)s coverage interval [%(low)s, %(high)s]; GUM framework NOT validated "
                      "(δ = %(tolerance)s, d_low = %(d_low)s, d_high = %(d_high)s)",
                      trials=trials_text, seed=mc.seed, **numbers))
    if result.method == "MCM":
        click.echo(tr("method: Monte Carlo (JCGM 101), because %(why)s", why=result.why_monte_carlo))
    click.echo(tr("reported: %(result)s (U raised to the CMC)", result=result.reported.text)
               if result.reported.cmc_applied else
               tr("reported: %(result)s", result=result.reported.text))


@click.command(help=tr("Apply a decision rule (ILAC-G8) to a result; options, or a JSON FILE of the "
                       "same keys."))
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--value", help=tr("The measured value, e.g. 10.02."))
@click.option("--unit", help=tr("Its unit."))
@click.option("--U", "expanded", help=tr("The expanded uncertainty."))
@click.option("--U-unit", "uncertainty_unit", help=tr("Unit of U (default: the value's unit)."))
@click.option("--k", default="2", show_default=True, help=tr("Coverage factor of U."))
@click.option("--lower", help=tr("Lower tolerance limit."))
@click.option("--upper", help=tr("Upper tolerance limit."))
@click.option("--limit-unit", help=tr("Unit of the limits (default: the value's unit)."))
@click.option("--rule", type=click.Choice(["simple", "guarded", "non-binary"]),
              default="simple", show_default=True, help=tr("The decision rule (ILAC-G8)."))
@click.option("--r", "ratio", default="1", show_default=True, help=tr("Guard band w = r·U."))
@click.option("--json", "as_json", is_flag=True, help=tr("Print the result as JSON."))
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
            fail(tr("%(file)s must hold a JSON object", file=file), 2)
        unknown = set(data) - set(args)
        if unknown:
            fail(tr("unknown key(s) in %(file)s: %(keys)s", file=file, keys=", ".join(sorted(unknown))), 2)
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


@click.group(help=tr("Calibration records and certificates."))
def calibration() -> None:
    """Calibration records and certificates."""


@calibration.command("import", help=tr(
    "Record an incoming certificate (PTB DCC XML or LIMS JSON) as a calibration record.\n\n"
    "Nothing is written when the file, a unit or a dimension does not fit."))
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--instrument", "asset", metavar="ASSET",
              help=tr("The instrument calibrated (default: the file's, or by serial number)."))
@click.option("--provider-kind", type=click.Choice(["nmi", "accredited", "in-house", "other"]),
              help=tr("Override the provider kind found in or derived from the file."))
@click.option("--valid-until", metavar="DATE",
              help=tr("End of validity (a DCC has none; default: the lab's interval)."))
@click.option("--json", "as_json", is_flag=True, help=tr("Print the result as JSON."))
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
        fail(tr("cannot read %(file)s: %(error)s", file=file, error=exc.strerror), 2)
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
    click.echo(tr("recorded certificate %(number)s of %(provider)s (%(kind)s) for %(instrument)s: "
                  "calibrated %(calibrated_on)s, valid until %(valid_until)s, %(count)s result(s)",
                  number=cert["number"], provider=cert["provider"], kind=cert["provider_kind"],
                  instrument=body["instrument"], calibrated_on=cert["calibrated_on"],
                  valid_until=cert["valid_until"], count=len(body["results"])))


def _cli_actor(session: Any, get_user: Any) -> Any:
    """The user a CLI import acts as: ``LIMS_CLI_USER`` (default ``admin``)."""
    import os

    name = os.environ.get("LIMS_CLI_USER", "admin")
    user = get_user(session, name)
    if user is None:
        fail(tr("no user %(username)r to act as; set LIMS_CLI_USER to a quality manager or admin",
                username=name))
    return user


@click.command(help=tr("Show the traceability chain of every result of a report, up to a national "
                       "standard."))
@click.argument("report_number")
@click.option("--json", "as_json", is_flag=True, help=tr("Print the result as JSON."))
def trace(report_number: str, as_json: bool) -> None:
    """Show the traceability chain of every result of a report, up to a national standard."""
    from lims.calibration.chains import trace_report

    data = read(lambda session, settings: trace_report(session, report_number,
                                                       timezone=settings.timezone))
    if as_json:
        echo_json(data)
        return
    click.echo(tr("report %(report)s (sample %(sample)s)", report=data["report"],
                  sample=data["sample"]))
    for r in data["results"]:
        state = tr("complete") if r["complete"] else tr("INCOMPLETE: %(reason)s", reason=r["reason"])
        click.echo(f"\n{r['characteristic']} = {r['value']} {r['unit']} "
                   f"({r['instrument'] or tr('no instrument')}): {state}")
        for depth, n in enumerate(r["chain"]):
            u = f", U = {n['expanded_uncertainty']} {n['unit']} (k = {n['k']})" \
                if n["expanded_uncertainty"] else ""
            click.echo(f"{'  ' * depth}└─ " + tr(
                "%(asset)s [%(role)s] %(certificate)s by %(provider)s (%(kind)s), %(calibrated_on)s "
                "→ %(valid_until)s, valid at use: %(valid)s", asset=n["asset"], role=label(n["role"]),
                certificate=n["certificate"], provider=n["provider"], kind=label(n["provider_kind"]),
                calibrated_on=n["calibrated_on"], valid_until=n["valid_until"],
                valid=tr("yes") if n["valid_at_use"] else tr("NO")) + u)
            for w in n["warnings"]:
                click.echo(f"{'  ' * depth}   ⚠ {w}")


@click.command(help=tr("List everything that relied on ASSET since DATE: calibrations, instruments, "
                       "results, reports and customers (ISO/IEC 17025 7.10)."))
@click.argument("asset")
@click.option("--from", "start", required=True, metavar="DATE", help=tr("Start (YYYY-MM-DD)."))
@click.option("--to", "end", metavar="DATE", help=tr("End (YYYY-MM-DD; default today)."))
@click.option("--json", "as_json", is_flag=True, help=tr("Print the result as JSON."))
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
    click.echo(tr("%(asset)s from %(start)s to %(end)s:", asset=asset, start=data["from"],
                  end=data["to"]))
    for c in data["calibrations"]:
        click.echo("  " + tr("calibration %(certificate)s of %(instrument)s on %(calibrated_on)s used "
                             "%(standard)s", certificate=c["certificate"], instrument=c["instrument"],
                             calibrated_on=c["calibrated_on"], standard=c["standard"]))
    click.echo("  " + tr("instruments: %(list)s", list=", ".join(data["instruments"]) or "—"))
    click.echo("  " + tr("results: %(count)s", count=data["results"]))
    click.echo("  " + tr("reports: %(list)s", list=", ".join(data["reports"]) or "—"))
    click.echo("  " + tr("customers: %(list)s", list=", ".join(data["customers"]) or "—"))


def commands() -> list[click.Command]:
    return [calibration, trace, impact, uncertainty, decide]
