"""Liveness and database check for load balancers; public."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import text

from lims.web.context import get_session

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> Any:
    try:
        get_session().execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - report, never raise, from a health check
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
