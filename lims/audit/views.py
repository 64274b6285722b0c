"""The audit trail for the quality manager and assessors (read-only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from lims.audit import api_models as m
from lims.audit.models import AuditEvent
from lims.audit.services import verify_chain
from lims.auth.services import require
from lims.validate import text
from lims.web.auth import current_user
from lims.web.context import get_session
from lims.web.inputs import query_model
from lims.web.openapi import operation

bp = Blueprint("audit", __name__, url_prefix="/audit")
api = Blueprint("audit_api", __name__, url_prefix="/api/v1/audit")


def to_json(e: AuditEvent) -> dict[str, Any]:
    return {"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
            "entity_type": e.entity_type, "entity_id": e.entity_id, "before": e.before,
            "after": e.after, "reason": e.reason, "hash": e.hash, "prev_hash": e.prev_hash}


def _events(filters: Mapping[str, Any]) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(500)
    for key in ("entity_type", "entity_id", "action", "actor"):
        value = filters.get(key)
        if value and isinstance(value, str):
            # text() refuses a NUL, which PostgreSQL cannot even compare.
            query = query.where(getattr(AuditEvent, key) == text(value[:60], key))
    return list(get_session().scalars(query))


@bp.get("/")
def index() -> ResponseReturnValue:
    require(current_user(), "audit.read")
    verdict = verify_chain(get_session()) if request.args.get("verify") else None
    return render_template("audit/index.html", events=_events(request.args), verdict=verdict,
                           filters=request.args)


@api.get("/events")
@operation("Recent audit events, newest first (quality manager, auditor, admin)",
           query=m.EventsQuery, response=m.Events, errors=[403])
def events() -> ResponseReturnValue:
    require(current_user(), "audit.read")
    filters = query_model(m.EventsQuery)
    return jsonify(events=[to_json(e) for e in _events(filters.model_dump())])


@api.get("/verify")
@operation("Verify the audit hash chain", response=m.Verdict, errors=[403])
def verify() -> ResponseReturnValue:
    require(current_user(), "audit.read")
    v = verify_chain(get_session())
    return jsonify(ok=v.ok, count=v.count, first_bad_seq=v.first_bad_seq, message=v.message)
