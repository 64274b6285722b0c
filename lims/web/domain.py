"""The web domain itself: health check and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from lims.domains import Domain


def _blueprints() -> tuple[Any, ...]:
    from lims.web import health, openapi

    return (health.bp, openapi.bp)


DOMAIN = Domain("web", blueprints=_blueprints)
