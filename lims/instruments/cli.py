"""Instrument commands: ``lims read`` (does my instrument talk?) and ``lims simulate``."""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from typing import Any

import click

from lims.catalogs import tr
from lims.clitools import fail


def _parse_sets(pairs: tuple[str, ...]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(tr("--set %(pair)r: write KEY=VALUE", pair=pair), 2)
        options[key.strip()] = value.strip()
    return options


@click.command(help=tr(
    "Read COUNT readings from an instrument: does my instrument talk?\n\nKeeps reading across "
    "an unplug/replug of PORT until --timeout, refusing readings from a different instrument "
    "on the same path."))
@click.argument("driver")
@click.argument("port")
@click.option("--count", default=1, show_default=True, type=click.IntRange(1, 1_000_000),
              help=tr("How many valid readings to take."))
@click.option("--timeout", default=5.0, show_default=True, type=click.FloatRange(0.1, 3600),
              help=tr("Seconds to wait for them, in all."))
@click.option("--baudrate", type=int, help=tr("Overrides the driver's default baud rate."))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help=tr("A driver setting (see the README's driver table); repeatable."))
@click.option("--json", "as_json", is_flag=True, help=tr("One JSON object per reading."))
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
        fail(str(exc), 2)
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
                flag = "" if reading.stable is None else \
                    " " + (tr("stable") if reading.stable else tr("dynamic"))
                click.echo(f"{reading.at.isoformat()} {reading.status}{flag}: {shown}  "
                           f"raw={reading.raw!r}")
            if reading.status != ERROR:
                got += 1
            if got >= count:
                break
    except DriverTimeout:
        pass  # reported below as too few readings
    except PortNotFound:
        fail(tr("port %(port)s does not exist", port=port) if not session.connected_once
             else tr("port %(port)s did not come back within %(timeout)s s", port=port,
                     timeout=timeout))
    except DriverError as exc:
        fail(str(exc))
    finally:
        session.close()
    if got < count:
        fail(tr("no valid reading from %(port)s within %(timeout)s s", port=port,
                timeout=timeout) if got == 0 else
             tr("only %(got)s of %(count)s readings from %(port)s within %(timeout)s s",
                got=got, count=count, port=port, timeout=timeout))


FAULTS = ("garbage", "split", "error", "drop", "overload", "underload", "unplug")


@click.command(help=tr("Serve a simulated instrument on a pseudo-terminal until interrupted."))
@click.argument("driver")
@click.option("--link", type=click.Path(),
              help=tr("Stable symlink to the pty (like /dev/serial/by-id/…)."))
@click.option("--serial-number", help=tr("The identity the instrument reports."))
@click.option("--faults", default="", help=tr("Comma list: %(faults)s.", faults=", ".join(FAULTS)))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help=tr("A model setting, e.g. load=100.02 (mt-sics), rh=43.0 (vaisala-hmt330)."))
def simulate(driver: str, link: str | None, serial_number: str | None, faults: str,
             sets: tuple[str, ...]) -> None:
    """Serve a simulated instrument on a pseudo-terminal until interrupted."""
    from drivers import SIMULATORS
    from drivers.simulators.pty import PtySimulator

    if driver not in SIMULATORS:
        fail(tr("no simulator for %(driver)r; known: %(known)s", driver=driver,
                known=", ".join(sorted(SIMULATORS))), 2)
    kwargs: dict[str, Any] = dict(_parse_sets(sets))
    if serial_number:
        kwargs["serial_number"] = serial_number
    try:
        model = SIMULATORS[driver](**kwargs)
    except (TypeError, ValueError, ArithmeticError) as exc:
        fail(tr("bad --set for %(driver)s: %(reason)s", driver=driver, reason=exc), 2)
    wanted = {f.strip() for f in faults.split(",") if f.strip()}
    unknown = wanted - set(FAULTS)
    if unknown:
        fail(tr("unknown fault(s): %(faults)s", faults=", ".join(sorted(unknown))), 2)
    for flag in ("overload", "underload"):
        if flag in wanted:
            if not hasattr(model, flag):
                fail(tr("%(driver)s has no overload state", driver=driver) if flag == "overload"
                     else tr("%(driver)s has no underload state", driver=driver), 2)
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
    # The unplug cycle starts when a client first talks to the instrument, so that a client
    # started on a busy machine finds the port there, as a technician finds the cable plugged in.
    started: float | None = None
    try:
        while not stop:
            if "garbage" in wanted and not model.garbage:
                model.garbage = b"\x00\xff\xfe"
            if "error" in wanted and not model.error:
                model.error = True
            if "drop" in wanted and not model.drop:
                model.drop = 1
            if started is None and sim.heard.is_set():
                started = time.monotonic()
            if "unplug" in wanted and started is not None and time.monotonic() - started > 2:
                sim.unplug()  # out for half a second every two, then back on the same link
                time.sleep(0.5)
                sim.replug()
                started = time.monotonic()
            time.sleep(0.05)
    finally:
        sim.stop()


def commands() -> list[click.Command]:
    return [read, simulate]
