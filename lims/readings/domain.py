"""The readings domain: bench capture agents, ingestion of their readings, `lims agent`."""

from __future__ import annotations

from typing import Any

from lims.domains import Domain


def _blueprints() -> tuple[Any, ...]:
    from lims.readings import views

    return (views.bp, views.api, views.instrument_api)


def _commands() -> list[Any]:
    from lims.readings.cli import commands

    return commands()


DOMAIN = Domain("readings", blueprints=_blueprints, commands=_commands)
