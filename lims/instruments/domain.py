"""The instruments domain: the equipment register, capture, `lims read`, `lims simulate`."""

from __future__ import annotations

from typing import Any

from lims.domains import Domain


def _blueprints() -> tuple[Any, ...]:
    from lims.instruments import views

    return (views.bp, views.api)


def _commands() -> list[Any]:
    from lims.instruments.cli import commands

    return commands()


DOMAIN = Domain("instruments", blueprints=_blueprints, commands=_commands)
