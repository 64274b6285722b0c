"""The instrument register through the API and the page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.world import csrf, login

GOOD = {"asset_number": "EQ-9", "name": "Balance", "serial_number": "SN9", "model": "XS204",
        "manufacturer": "Mettler Toledo", "location": "bench 9", "driver": "mt-sics",
        "port": "/dev/serial/by-id/usb-balance", "baudrate": "9600",
        "calibrated_on": "2026-01-10", "calibration_due_on": "2027-01-09",
        "calibration_certificate": "JZ-1"}


@pytest.mark.parametrize(("change", "field"), [
    ({"asset_number": ""}, "asset_number"),
    ({"name": None}, "name"),
    ({"calibration_due_on": "2027-02-30"}, "calibration_due_on"),
    ({"calibration_due_on": ""}, "calibration_due_on"),
    ({"driver": "telepathy"}, "driver"),
    ({"baudrate": "9601"}, "baudrate"),
    ({"port_settings": {"flow": "magic"}}, "port_settings"),
    ({"port_settings": "fast"}, "port_settings"),
    ({"model": 5}, "model"),
])
def test_register_refuses_bad_fields(client, session, world, change, field):
    headers = {"Authorization": f"Bearer {world.token(session, 'qm')}"}
    resp = client.post("/api/v1/instruments", json={**GOOD, **change}, headers=headers)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["field"] == field


def test_register_round_trips_and_refuses_duplicates(client, session, world):
    headers = {"Authorization": f"Bearer {world.token(session, 'admin')}"}
    made = client.post("/api/v1/instruments", json=GOOD, headers=headers)
    assert made.status_code == 201
    body = made.json
    for key in ("asset_number", "name", "serial_number", "model", "manufacturer", "location",
                "driver", "port", "calibrated_on", "calibration_due_on",
                "calibration_certificate"):
        assert body[key] == GOOD[key]
    assert body["port_settings"] == {"baudrate": 9600}
    again = client.post("/api/v1/instruments", json=GOOD, headers=headers)
    assert again.status_code == 409 and again.json["error"]["field"] == "asset_number"


def test_register_from_the_page(client, session, world):
    login(client, "qm")
    resp = client.post("/instruments/", data={**GOOD, "csrf_token": csrf(client, "/instruments/")})
    assert resp.status_code == 303
    page = client.get("/instruments/").get_data(as_text=True)
    assert "EQ-9" in page and "/dev/serial/by-id/usb-balance" in page


def test_ports_are_serial_paths_or_allowed_hosts(app, client, session, world):
    """SSRF: a port cannot reach a network service the administrator did not allow."""
    token = world.token(session, "qm")
    auth = {"Authorization": f"Bearer {token}"}

    def register(port: str) -> Any:
        return client.post("/api/v1/instruments", headers=auth, json={
            "asset_number": f"P-{abs(hash(port)) % 10**6}", "name": "n", "port": port})

    for port in ("socket://127.0.0.1:5432", "rfc2217://10.0.0.5:4000", "loop://",
                 "spy://127.0.0.1:22", "ttyUSB0", "/dev/../etc/passwd"):
        resp = register(port)
        assert resp.status_code == 422, (port, resp.json)
        assert resp.json["error"]["field"] == "port"
        assert "5432" not in resp.json["error"]["message"]
    for port in ("/dev/ttyUSB0", "/dev/serial/by-id/usb-FTDI_FT232R-if00-port0", "COM3"):
        assert register(port).status_code == 201, port
    # A port stored by hand before the rule does not open either.
    from lims.db import unit_of_work
    from lims.instruments.models import Instrument

    with unit_of_work(session):
        session.get(Instrument, world.balance_id).port = "socket://127.0.0.1:5432"
    number = world.new_sample(session)
    tech = {"Authorization": f"Bearer {world.token(session, 'tech')}"}
    resp = client.post(f"/api/v1/samples/{number}/capture", headers=tech,
                       json={"characteristic_id": world.mass_id, "instrument_id": world.balance_id})
    assert resp.status_code == 422 and "LIMS_SERIAL_HOSTS" in resp.json["error"]["message"]


def test_an_allowed_device_server_is_accepted(client, session, world, settings):
    import dataclasses

    from lims import create_app

    allowed = create_app(dataclasses.replace(settings, serial_hosts="10.0.0.5:4000"))
    try:
        other = allowed.test_client()
        resp = other.post("/api/v1/instruments", headers={
            "Authorization": f"Bearer {world.token(session, 'qm')}"}, json={
            "asset_number": "NET-1", "name": "n", "port": "rfc2217://10.0.0.5:4000"})
        assert resp.status_code == 201, resp.json
    finally:
        allowed.extensions["lims"].engine.dispose()


def test_capture_from_a_model_that_reports_no_serial_says_so(client, session, world, tmp_path,
                                                             caplog):
    """A 34401A answers *IDN? with serial 0: the configured identity stands, with a warning;
    a meter reporting another serial number is still refused."""
    import logging

    from sqlalchemy import select

    from drivers.simulators.pty import PtySimulator
    from drivers.simulators.scpi import ScpiDmmModel
    from lims.errors import InstrumentUnavailable
    from lims.instruments.capture import take_readings
    from lims.instruments.models import Instrument

    link = tmp_path / "dev" / "dmm"
    headers = {"Authorization": f"Bearer {world.token(session, 'qm')}"}
    made = client.post("/api/v1/instruments", headers=headers, json={
        "asset_number": "EQ-DMM-9", "name": "Multimeter", "manufacturer": "Keysight",
        "model": "34401A", "serial_number": "MY45012345", "driver": "scpi-dmm",
        "port": str(link)})
    assert made.status_code == 201, made.json
    instrument = session.scalar(select(Instrument).where(Instrument.asset_number == "EQ-DMM-9"))

    with PtySimulator(ScpiDmmModel(model="34401A", serial_number="MY45012345"), link), \
            caplog.at_level(logging.WARNING, logger="lims.instruments.capture"):
        (reading,) = take_readings(instrument, "V", 1)
    assert (reading.value, reading.unit) == ("+1.00000000E+01", "V")
    (warning,) = [r.getMessage() for r in caplog.records if "not reported" in r.getMessage()]
    assert "EQ-DMM-9" in warning and "'0'" in warning and "'MY45012345' is assumed" in warning

    with PtySimulator(ScpiDmmModel(model="34465A", serial_number="MY54509999"), link), \
            pytest.raises(InstrumentUnavailable, match="'MY54509999', not 'MY45012345'"):
        take_readings(instrument, "V", 1)
