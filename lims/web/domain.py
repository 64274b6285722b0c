"""The web domain itself: health check and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from lims.domains import Domain


def _blueprints() -> tuple[Any, ...]:
    from lims.web import health, openapi

    return (health.bp, openapi.bp)


def _api_paths() -> dict[str, Any]:
    from lims.web.openapi import op

    return {"/api/v1/openapi.json": {"get": op("This document")}}


DOMAIN = Domain("web", blueprints=_blueprints, api_paths=_api_paths)
