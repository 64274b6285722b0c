"""The auth domain: login, tokens, `lims user`."""

from __future__ import annotations

from typing import Any

from lims.domains import Domain


def _blueprints() -> tuple[Any, ...]:
    from lims.auth import views

    return (views.bp,)


def _commands() -> list[Any]:
    from lims.auth.cli import commands

    return commands()


DOMAIN = Domain("auth", blueprints=_blueprints, commands=_commands)
