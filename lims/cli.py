"""The ``lims`` command: instance set-up, demo data, serving, instruments, audit, reports."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from lims.config import Settings, ensure_secret


def _settings() -> Settings:
    return Settings.from_env().resolved()


def _app() -> Any:
    from lims import create_app

    return create_app()


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """LIMS for metrology and inspection labs."""


# --- instance ------------------------------------------------------------------------------

@main.command()
def init() -> None:
    """Create or migrate the instance folder (idempotent)."""
    from lims.migrate import upgrade
    from lims.reports.fonts import ensure_fonts
    from lims.reports.pki import create_dev_pki

    base = Settings.from_env()
    inst = base.instance_path.resolve()
    inst.mkdir(parents=True, exist_ok=True)
    if not base.secret_key:
        ensure_secret(inst / "secret_key")
    settings = base.resolved()
    upgrade(settings.database_url)
    click.echo(f"database migrated to head: {_redact(settings.database_url)}")
    if not os.environ.get("LIMS_SIGNING_PKCS12"):
        made = create_dev_pki(inst / "pki", lab_name=settings.lab_name_en)
        click.echo(("created" if made else "kept") + f" development signing PKI in {inst / 'pki'}")
    ensure_fonts(settings.font_path)
    click.echo(f"report fonts ready in {settings.font_path}")


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@main.command()
def demo() -> None:
    """Seed demo data once and print the demo logins."""
    from lims.demo import seed

    app = _app()
    logins = seed(app)
    click.echo("Demo logins (username / password / roles):")
    for username, password, roles in logins:
        click.echo(f"  {username:<10} {password:<24} {roles}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the app with gunicorn (production WSGI server)."""
    from gunicorn.app.base import BaseApplication

    settings = _settings()
    if not settings.secret_key:
        _fail("no secret key: run `lims init` or set LIMS_SECRET_KEY")
    app = _app()

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {"bind": f"{host}:{port}", "workers": workers,
                               "worker_class": "gthread", "threads": 4, "timeout": 60,
                               "accesslog": "-"}.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    click.echo(f"serving on http://{host}:{port}")
    Server().run()


# --- instruments ---------------------------------------------------------------------------

def _parse_sets(pairs: tuple[str, ...]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            _fail(f"--set {pair!r}: write KEY=VALUE", 2)
        options[key.strip()] = value.strip()
    return options


@main.command()
@click.argument("driver")
@click.argument("port")
@click.option("--count", default=1, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--timeout", default=5.0, show_default=True, type=click.FloatRange(0.1, 3600))
@click.option("--baudrate", type=int, help="Overrides the driver's default baud rate.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="A driver setting (see the README's driver table); repeatable.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per reading.")
def read(driver: str, port: str, count: int, timeout: float, baudrate: int | None,
         sets: tuple[str, ...], as_json: bool) -> None:
    """Read COUNT readings from an instrument: does my instrument talk?

    Keeps reading across an unplug/replug of PORT until --timeout, refusing readings from a
    different instrument on the same path.
    """
    from drivers import DriverError, get_driver
    from drivers.errors import DriverTimeout, PortNotFound
    from drivers.reading import ERROR
    from drivers.session import Session

    try:
        cls = get_driver(driver)
    except DriverError as exc:
        _fail(str(exc), 2)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")  # reconnects, fallbacks
    line = {"baudrate": baudrate} if baudrate else {}
    session = Session(cls, port, options=_parse_sets(sets), line=line)
    got = 0
    try:
        # Error readings do not count towards --count, so the session is not bounded by it;
        # the loop stops at --count valid readings or at --timeout.
        for reading in session.readings(count=sys.maxsize, timeout=timeout):
            if as_json:
                click.echo(json.dumps(reading.to_json(), ensure_ascii=False))
            else:
                shown = f"{reading.value} {reading.unit}" if reading.value else reading.message
                flag = "" if reading.stable is None else (" stable" if reading.stable else
                                                          " dynamic")
                click.echo(f"{reading.at.isoformat()} {reading.status}{flag}: {shown}  "
                           f"raw={reading.raw!r}")
            if reading.status != ERROR:
                got += 1
            if got >= count:
                break
    except DriverTimeout:
        pass  # reported below as too few readings
    except PortNotFound:
        _fail(f"port {port} does not exist" if not session.connected_once
              else f"port {port} did not come back within {timeout} s")
    except DriverError as exc:
        _fail(str(exc))
    finally:
        session.close()
    if got < count:
        _fail(f"{'no valid reading' if got == 0 else f'only {got} of {count} readings'} "
              f"from {port} within {timeout} s")


FAULTS = ("garbage", "split", "error", "drop", "overload", "underload", "unplug")


@main.command()
@click.argument("driver")
@click.option("--link", type=click.Path(), help="Stable symlink to the pty (like /dev/serial/by-id/…).")
@click.option("--serial-number", help="The identity the instrument reports.")
@click.option("--faults", default="", help=f"Comma list: {', '.join(FAULTS)}.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="A model setting, e.g. load=100.02 (mt-sics), rh=43.0 (vaisala-hmt330).")
def simulate(driver: str, link: str | None, serial_number: str | None, faults: str,
             sets: tuple[str, ...]) -> None:
    """Serve a simulated instrument on a pseudo-terminal until interrupted."""
    from drivers import SIMULATORS
    from drivers.simulators.pty import PtySimulator

    if driver not in SIMULATORS:
        _fail(f"no simulator for {driver!r}; known: {', '.join(sorted(SIMULATORS))}", 2)
    kwargs: dict[str, Any] = dict(_parse_sets(sets))
    if serial_number:
        kwargs["serial_number"] = serial_number
    try:
        model = SIMULATORS[driver](**kwargs)
    except (TypeError, ValueError, ArithmeticError) as exc:
        _fail(f"bad --set for {driver}: {exc}", 2)
    wanted = {f.strip() for f in faults.split(",") if f.strip()}
    unknown = wanted - set(FAULTS)
    if unknown:
        _fail(f"unknown fault(s): {', '.join(sorted(unknown))}", 2)
    for flag in ("overload", "underload"):
        if flag in wanted:
            if not hasattr(model, flag):
                _fail(f"{driver} has no {flag} state", 2)
            setattr(model, flag, True)
    sim = PtySimulator(model, link)
    sim.split_writes = "split" in wanted
    sim.start()
    click.echo(sim.port, nl=True)
    sys.stdout.flush()
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    started = time.monotonic()
    try:
        while not stop:
            if "garbage" in wanted and not model.garbage:
                model.garbage = b"\x00\xff\xfe"
            if "error" in wanted and not model.error:
                model.error = True
            if "drop" in wanted and not model.drop:
                model.drop = 1
            if "unplug" in wanted and time.monotonic() - started > 2:
                sim.unplug()  # out for half a second every two, then back on the same link
                time.sleep(0.5)
                sim.replug()
                started = time.monotonic()
            time.sleep(0.05)
    finally:
        sim.stop()


# --- audit, reports, PKI -------------------------------------------------------------------

@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Verify the hash chain; exit 1 naming the first bad event."""
    from lims.audit.services import verify_chain
    from lims.web import state

    app = _app()
    with app.app_context():
        session = state().sessionmaker()
        try:
            verdict = verify_chain(session)
        finally:
            session.close()
    if verdict.ok:
        click.echo(f"ok: {verdict.message} ({verdict.count} events)")
    else:
        _fail(f"audit chain broken at event {verdict.first_bad_seq}: {verdict.message}")


@main.group()
def report() -> None:
    """Issued reports."""


@report.command("list")
@click.option("--json", "as_json", is_flag=True)
def report_list(as_json: bool) -> None:
    from lims.reports.services import list_reports
    from lims.web import state

    app = _app()
    with app.app_context():
        session = state().sessionmaker()
        try:
            rows = [{"number": r.number, "status": r.status, "issued_at": r.issued_at.isoformat(),
                     "sha256": r.sha256, "size": r.size} for r in list_reports(session)]
        finally:
            session.close()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r['number']}  {r['status']:<10} {r['issued_at']}  {r['sha256']}")


@report.command("export")
@click.argument("number")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def report_export(number: str, file: str) -> None:
    """Write the issued PDF of report NUMBER to FILE (after checking its SHA-256)."""
    from lims.errors import LimsError
    from lims.reports.services import get_report, stored_pdf
    from lims.web import state

    app = _app()
    with app.app_context():
        session = state().sessionmaker()
        try:
            pdf = stored_pdf(get_report(session, number))
        except LimsError as exc:
            _fail(str(exc))
        finally:
            session.close()
    Path(file).write_bytes(pdf)
    click.echo(f"wrote {file} ({len(pdf)} bytes)")


@main.group()
def pki() -> None:
    """The signing PKI."""


@pki.command("export-ca")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def pki_export_ca(file: str) -> None:
    """Write the CA certificate (PEM) that outside parties trust to verify reports."""
    from lims.reports.pki import ca_certificate_pem

    settings = _settings()
    try:
        pem = ca_certificate_pem(Path(settings.signing_pkcs12), settings.signing_passphrase)
    except (OSError, ValueError) as exc:
        _fail(f"cannot read {settings.signing_pkcs12}: {exc}")
    Path(file).write_bytes(pem)
    click.echo(f"wrote {file}")


# --- users -------------------------------------------------------------------------------

@main.group()
def user() -> None:
    """Users and API tokens."""


@user.command("create")
@click.argument("username")
@click.option("--full-name", default="")
@click.option("--role", "roles", multiple=True, required=True)
@click.option("--scope", "scopes", multiple=True, help="Signatory scope (field).")
@click.password_option()
def user_create(username: str, full_name: str, roles: tuple[str, ...], scopes: tuple[str, ...],
                password: str) -> None:
    from lims.auth.services import create_user
    from lims.db import unit_of_work
    from lims.errors import LimsError
    from lims.web import state

    app = _app()
    with app.app_context():
        session = state().sessionmaker()
        try:
            with unit_of_work(session):
                create_user(session, username=username, full_name=full_name or username,
                            password=password, roles=list(roles), scopes=list(scopes))
        except LimsError as exc:
            _fail(f"{exc.field or 'input'}: {exc}")
        finally:
            session.close()
    click.echo(f"created user {username}")


@user.command("token")
@click.argument("username")
@click.option("--name", default="cli")
def user_token(username: str, name: str) -> None:
    """Create an API token for USERNAME and print it once."""
    from lims.auth.services import create_token, get_user
    from lims.db import unit_of_work
    from lims.web import state

    app = _app()
    with app.app_context():
        session = state().sessionmaker()
        try:
            with unit_of_work(session):
                u = get_user(session, username)
                if u is None:
                    _fail(f"no user {username!r}")
                token = create_token(session, user=u, name=name)
        finally:
            session.close()
    click.echo(token)


# --- measurement uncertainty and decision rules --------------------------------------------

def _load_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror}", 2)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        _fail(f"{path} is not valid JSON: {exc}", 2)


def _invalid(exc: Exception) -> None:
    field = getattr(exc, "field", None)
    _fail(f"{field}: {exc}" if field else str(exc), 2)


@main.command()
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
    from lims.calibration.uncertainty import budget_table, evaluate, monte_carlo, parse_budget
    from lims.errors import InvalidInput

    data = _load_json(file)
    try:
        budget = parse_budget(data)
        result = evaluate(budget, rounding=rounding, digits=digits)
        mc = None if trials is None else monte_carlo(budget, result, trials=trials, seed=seed,
                                                     digits=digits)
    except InvalidInput as exc:
        _invalid(exc)
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


@main.command()
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
    from lims.calibration.decision import decide as apply_rule
    from lims.errors import InvalidInput

    args: dict[str, Any] = {"value": value, "unit": unit, "expanded_uncertainty": expanded,
                            "uncertainty_unit": uncertainty_unit, "k": k, "lower": lower,
                            "upper": upper, "limit_unit": limit_unit, "rule": rule, "r": ratio}
    if file:
        data = _load_json(file)
        if not isinstance(data, dict):
            _fail(f"{file} must hold a JSON object", 2)
        unknown = set(data) - set(args)
        if unknown:
            _fail(f"unknown key(s) in {file}: {', '.join(sorted(unknown))}", 2)
        args.update(data)
    try:
        decision = apply_rule(**args)
    except InvalidInput as exc:
        _invalid(exc)
    if as_json:
        click.echo(json.dumps(decision.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(decision.statement_zh)
        click.echo(decision.statement_en)


# --- scheduler ---------------------------------------------------------------------------

@main.command()
@click.option("--run", "run_once", type=click.Choice(["flag-calibration-due", "verify-audit-chain"]),
              help="Run one job now and exit.")
def scheduler(run_once: str | None) -> None:
    """Run the job scheduler (one process per deployment)."""
    from lims.scheduler import build_scheduler, run_job

    app = _app()
    if run_once:
        click.echo(json.dumps(run_job(run_once, app), ensure_ascii=False))
        return
    sched = build_scheduler(app)
    click.echo("scheduler running; jobs: " + ", ".join(j.id for j in sched.get_jobs()))
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":  # pragma: no cover
    main()
