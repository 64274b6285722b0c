"""The reports domain: issue, download, public verification, `lims report`, `lims pki`."""

from __future__ import annotations

from typing import Any

from lims.domains import Domain


def _blueprints() -> tuple[Any, ...]:
    from lims.reports import views

    return (views.bp, views.api)


def _commands() -> list[Any]:
    from lims.reports.cli import commands

    return commands()


DOMAIN = Domain("reports", blueprints=_blueprints, commands=_commands)
