"""The audit trail for the quality manager and assessors (read-only, ISO/IEC 17025 8.4).

Filters, pages and the CSV export come from :mod:`lims.audit.trail`. No request walks the
chain (a trail of a million events takes seconds to minutes to walk; issue 14): the page and
``GET /api/v1/audit/verify`` show the newest recorded check (nightly, ``verify-audit-chain``)
and the head, and the page's button or ``POST /api/v1/audit/verify`` queue a new one, which the
scheduler runs from the newest signed checkpoint on (``audit-verify-queued``, every minute)
and records like the nightly job.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from lims.audit import api_models as m
from lims.audit import display, trail
from lims.audit.jobs import queue_verification
from lims.audit.models import AuditEvent
from lims.auth.services import require
from lims.db import unit_of_work
from lims.errors import InvalidInput
from lims.web.auth import current_user
from lims.web.context import get_session, settings
from lims.web.errors import localized
from lims.web.i18n import field_label
from lims.web.inputs import query_model
from lims.web.listing import no_formula
from lims.web.openapi import operation

bp = Blueprint("audit", __name__, url_prefix="/audit")
api = Blueprint("audit_api", __name__, url_prefix="/api/v1/audit")

# The kinds of record the trail names, in the reader's language (the filter's choices).
ENTITIES: dict[str, Any] = {
    "samples": lazy_gettext("Samples"),
    "sample_tests": lazy_gettext("Tests"),
    "results": lazy_gettext("Results"),
    "conformity_decisions": lazy_gettext("Conformity decisions"),
    "test_requests": lazy_gettext("Requests"),
    "customers": lazy_gettext("Customers"),
    "test_methods": lazy_gettext("Methods"),
    "reports": lazy_gettext("Reports"),
    "report_claims": lazy_gettext("Report numbers"),
    "instruments": lazy_gettext("Instruments"),
    "intermediate_checks": lazy_gettext("Intermediate checks"),
    "calibration_records": lazy_gettext("Calibration records"),
    "calibration_providers": lazy_gettext("Calibration providers"),
    "calibration_procedures": lazy_gettext("Calibration procedures"),
    "calibration_jobs": lazy_gettext("Calibration jobs"),
    "calibration_readings": lazy_gettext("Calibration readings"),
    "nonconforming_cases": lazy_gettext("Nonconforming work"),
    "accreditations": lazy_gettext("Accreditations"),
    "scope_items": lazy_gettext("Scope items"),
    "users": lazy_gettext("Users"),
    "user_sessions": lazy_gettext("Sessions"),
    "api_tokens": lazy_gettext("Tokens"),
    "audit_events": lazy_gettext("Audit trail"),
}


def to_json(e: AuditEvent) -> dict[str, Any]:
    return {"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
            "entity_type": e.entity_type, "entity_id": e.entity_id, "before": e.before,
            "after": e.after, "reason": e.reason, "hash": e.hash, "prev_hash": e.prev_hash,
            "changes": [{"field": c.field, "old": c.old, "new": c.new}
                        for c in trail.changes(e)]}


def _zone() -> str:
    return settings().timezone


@bp.get("/")
def index() -> ResponseReturnValue:
    require(current_user(), "audit.read")
    db, args = get_session(), request.args
    try:
        filters = trail.parse_filters(args)
        page, limit = trail.paging(args)
    except InvalidInput as exc:
        # The refusal in the reader's language, naming the field as the page labels it.
        error = f"{field_label(exc.field or '')}: {localized(exc.message)}"
        return _page(None, args, error=error), 422
    if args.get("format") == "csv":
        return _csv(filters)
    return _page(trail.search(db, filters, timezone=_zone(), page=page, limit=limit), args)


def _page(found: trail.Page | None, args: Any, error: str | None = None) -> str:
    def page_url(number: int) -> str:
        return url_for("audit.index", **{**args.to_dict(), "page": number})

    def csv_url() -> str:
        query = {k: v for k, v in args.to_dict().items()
                 if k not in ("page", "limit", "format")}
        return url_for("audit.index", **query, format="csv")

    # The changes as a reader reads them; the users they name in one query for the page.
    reader = display.Reader(get_session(), found.events if found else [], _zone())
    return render_template("audit/index.html", found=found, filters=args, error=error,
                           entities=ENTITIES, changes=reader.changes,
                           action_label=display.action_label, page_url=page_url,
                           csv_url=csv_url(), check=_latest_check(), zone=_zone())


def _latest_check() -> dict[str, Any]:
    status = trail.chain_status(get_session())
    check, pending = status.check, status.pending
    after = status.outcome
    return {"checked": check is not None, "at": check.at if check else None,
            "actor": check.actor if check else None, "ok": bool(after.get("ok")),
            "count": after.get("count", 0), "message": after.get("message", ""),
            "since_seq": after.get("since_seq", 0), "head_seq": status.head_seq,
            "pending": pending is not None, "asked_at": pending.at if pending else None,
            "asked_by": pending.actor if pending else None}


@bp.post("/verify")
def verify_now() -> ResponseReturnValue:
    """Queue a check of the chain for the scheduler (from the newest signed checkpoint on,
    against every checkpoint; its outcome is recorded, 21 CFR 11.10(e)): walking it here
    would hold the request for as long as the chain is long."""
    user = require(current_user(), "audit.read")
    db = get_session()
    with unit_of_work(db):
        queue_verification(db, user)
    flash(_("Verification queued: the scheduler runs it within a minute and its outcome "
            "appears here."), "ok")
    return redirect(url_for("audit.index"), code=303)


def _csv(filters: trail.Filters) -> Response:
    """The filtered events as CSV, streamed in batches; UTF-8 with a byte-order mark so that
    Excel reads the Chinese as Chinese."""
    zone = _zone()
    tz = ZoneInfo(zone)
    header = [_("No."), _("Time (%(zone)s)", zone=zone), _("Actor"), _("Action"),
              _("Record"), _("Number or id"), _("Changes"), _("Reason"), "SHA-256"]
    db = get_session()

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        yield "\ufeff" + buffer.getvalue()
        for e in trail.each(db, filters, timezone=zone):
            buffer.seek(0)
            buffer.truncate()
            # Reasons, actors and changed values are typed by people: a cell a spreadsheet
            # would run as a formula is quoted as text (CSV injection), as in every export.
            # The time is the lab's, in ISO 8601 with its offset (+08:00): a re-imported row
            # names its instant unambiguously, even across a daylight-saving change; the
            # changes keep their values as recorded (UTC instants, raw names): evidence.
            writer.writerow([no_formula(v) for v in (
                e.seq, e.at.astimezone(tz).isoformat(), e.actor, e.action,
                e.entity_type, e.entity_id, trail.changes_text(e), e.reason or "", e.hash)])
            yield buffer.getvalue()

    stamp = dt.datetime.now(tz).strftime("%Y%m%d-%H%M")
    # content_type, not mimetype: Flask appends its own charset to a mimetype (twice).
    return Response(stream_with_context(rows()), content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'})


@api.get("/events")
@operation("Audit events, newest first, filtered and paged (quality manager, auditor, admin)",
           query=m.EventsQuery, response=m.Events, errors=[403])
def events() -> ResponseReturnValue:
    require(current_user(), "audit.read")
    asked = query_model(m.EventsQuery).model_dump()
    filters = trail.parse_filters(asked)
    page, limit = trail.paging(asked)
    found = trail.search(get_session(), filters, timezone=_zone(), page=page, limit=limit)
    return jsonify(events=[to_json(e) for e in found.events], total=found.total,
                   page=found.page, limit=found.limit)


def _status_json() -> dict[str, Any]:
    status = trail.chain_status(get_session())
    check, pending, after = status.check, status.pending, status.outcome
    return {
        # The fields of the walk this answer used to run, now those of the newest recorded
        # check (outside tools read them); ok is false until the chain has been checked.
        "ok": bool(after.get("ok")), "count": int(after.get("count", 0)),
        "first_bad_seq": after.get("first_bad_seq"),
        "message": after.get("message", "the audit chain has not been checked yet"),
        "checked_at": check.at.isoformat() if check else None,
        "checked_by": check.actor if check else None,
        "since_seq": int(after.get("since_seq", 0)), "last_seq": after.get("last_seq"),
        "checkpoints": after.get("checkpoints"), "head_seq": status.head_seq,
        "pending": pending is not None,
        "requested_at": pending.at.isoformat() if pending else None,
        "requested_seq": pending.seq if pending else None}


@api.get("/verify")
@operation("The newest recorded check of the audit hash chain, a check waiting to run, and the "
           "head (the chain is not walked: POST queues a check)", response=m.Verdict,
           errors=[403])
def verify() -> ResponseReturnValue:
    require(current_user(), "audit.read")
    return jsonify(_status_json())


@api.post("/verify")
@operation("Queue a check of the audit hash chain (run by the scheduler within a minute, from "
           "the newest checkpoint on); GET this path for its outcome", response=m.Verdict,
           status=202, errors=[403])
def queue_verify() -> ResponseReturnValue:
    user = require(current_user(), "audit.read")
    db = get_session()
    with unit_of_work(db):
        queue_verification(db, user)
    resp = jsonify(_status_json())
    resp.status_code = 202
    resp.headers["Location"] = url_for("audit_api.verify")
    return resp
