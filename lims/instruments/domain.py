"""The instruments domain: the equipment register, capture, `lims read`, `lims simulate`."""

from __future__ import annotations

from typing import Any

from lims.domains import Domain


def _blueprints() -> tuple[Any, ...]:
    from lims.instruments import views

    return (views.bp, views.api)


def _api_paths() -> dict[str, Any]:
    from lims.web.openapi import op, props

    return {
        "/api/v1/instruments": {
            "get": op("List instruments"),
            "post": op("Register an instrument (quality manager, admin)", ok=201,
                       body=props(asset_number="string", name="string",
                                  calibration_due_on="string?", serial_number="string?",
                                  driver="string?", port="string?"))},
    }


def _commands() -> list[Any]:
    from lims.instruments.cli import commands

    return commands()


DOMAIN = Domain("instruments", blueprints=_blueprints, api_paths=_api_paths,
                commands=_commands)
