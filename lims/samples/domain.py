"""The samples domain: customers, methods, requests, samples, results."""

from __future__ import annotations

from typing import Any

from lims.domains import Domain


def _blueprints() -> tuple[Any, ...]:
    from lims.samples import api, refdata_views, request_views, views

    return (views.bp, api.bp, refdata_views.bp, refdata_views.api, request_views.bp)


DOMAIN = Domain("samples", blueprints=_blueprints)
