"""The instrument register through the API and the page."""

from __future__ import annotations

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
