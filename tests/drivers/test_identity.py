"""The identity check: a serial field that identifies no unit is said so, never passed silently."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from drivers import DRIVERS
from drivers.errors import IdentityMismatch
from drivers.identity import MATCH, NOT_REPORTED, RECORDED, Identity, check_identity
from drivers.session import Session
from drivers.simulators.pty import PtySimulator
from drivers.simulators.scpi import ScpiDmmModel


def test_check_identity_outcomes():
    assert check_identity(Identity("B021002593"), "B021002593").outcome == MATCH
    recorded = check_identity(Identity("B021002593"), "")
    assert (recorded.outcome, recorded.identity, recorded.warning) == \
        (RECORDED, "B021002593", None)
    with pytest.raises(IdentityMismatch, match="'OTHER-1', not 'B021002593'.*refused"):
        check_identity(Identity("OTHER-1"), "B021002593", port="/dev/x")


def test_an_uninformative_serial_falls_back_to_the_configured_identity_with_a_warning():
    seen = Identity.from_serial("0", model="HEWLETT-PACKARD 34401A",
                                source="the HEWLETT-PACKARD 34401A")
    checked = check_identity(seen, "MY45012345", port="/dev/dmm")
    assert (checked.outcome, checked.identity) == (NOT_REPORTED, "MY45012345")
    assert "34401A" in checked.warning and "'0'" in checked.warning
    assert "not reported by this model" in checked.warning
    assert "'MY45012345' is assumed" in checked.warning
    # Configuring "0" does not turn the field into an identity either.
    assert check_identity(seen, "0").outcome == NOT_REPORTED


def _dmm(tmp_path, **kwargs):
    return PtySimulator(ScpiDmmModel(**kwargs), tmp_path / "dmm").start()


def test_a_34401a_over_the_line_reports_no_serial_number(tmp_path):
    sim = _dmm(tmp_path, model="34401A", serial_number="MY45012345")
    try:
        with DRIVERS["scpi-dmm"].open(sim.port) as dmm:
            dmm.resync()
            seen = dmm.identity()
            checked = check_identity(seen, "MY45012345", port=sim.port)
            reading = dmm.read()[0]
    finally:
        sim.stop()
    assert (seen.serial, seen.reported, seen.model) == (None, "0", "HEWLETT-PACKARD 34401A")
    assert checked.outcome == NOT_REPORTED and checked.identity == "MY45012345"
    assert (reading.value, reading.unit, reading.quantity) == ("+1.00000000E+01", "V", "voltage")


def test_an_informative_serial_that_differs_still_refuses_over_the_line(tmp_path):
    sim = _dmm(tmp_path, model="34465A", serial_number="MY54509999")
    try:
        with DRIVERS["scpi-dmm"].open(sim.port) as dmm:
            dmm.resync()
            seen = dmm.identity()
            assert check_identity(seen, "MY54509999").outcome == MATCH
            with pytest.raises(IdentityMismatch, match="MY54509999"):
                check_identity(seen, "MY45012345")
    finally:
        sim.stop()


def test_session_warns_once_and_refuses_another_model_after_a_replug(tmp_path, caplog):
    link = tmp_path / "dmm"
    sim = PtySimulator(ScpiDmmModel(model="34401A"), link).start()
    session = Session(DRIVERS["scpi-dmm"], sim.port, backoff=0.05, backoff_max=0.2)
    swapped = threading.Event()

    def read_until_swapped() -> None:
        nonlocal sim
        for n, _reading in enumerate(session.readings(count=100, timeout=20)):
            if n == 0:  # a 34465A is plugged in where the 34401A was
                sim.unplug()
                sim = PtySimulator(ScpiDmmModel(model="34465A"), link).start()
                swapped.set()

    try:
        with caplog.at_level(logging.WARNING, logger="drivers.session"), \
                pytest.raises(IdentityMismatch, match="34465A.*not.*34401A.*refused"):
            read_until_swapped()
    finally:
        session.close()
        swapped.wait(5)
        time.sleep(0.05)
        sim.stop()
    assert session.identity is None and session.seen.reported == "0"
    warnings = [r.getMessage() for r in caplog.records if "not reported" in r.getMessage()]
    assert len(warnings) == 1 and "34401A" in warnings[0]
