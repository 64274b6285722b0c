"""The work domain: each role's queue at ``/`` and the dashboard."""

from __future__ import annotations

from typing import Any

from lims.domains import Domain


def _blueprints() -> tuple[Any, ...]:
    from lims.work import views

    return (views.bp,)


DOMAIN = Domain("work", blueprints=_blueprints)
