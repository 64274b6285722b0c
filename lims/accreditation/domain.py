"""The accredited-scope domain: CMA and CNAS scopes, signatory authority, marks; `lims scope`."""

from __future__ import annotations

from typing import Any

from lims.domains import Domain


def _blueprints() -> tuple[Any, ...]:
    from lims.accreditation import views

    return (views.bp, views.api)


def _commands() -> list[Any]:
    from lims.accreditation.cli import scope

    return [scope]


DOMAIN = Domain("accreditation", blueprints=_blueprints, commands=_commands)
