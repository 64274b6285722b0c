"""Scheduled audit jobs."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from lims.audit.services import record, verify_chain
from lims.config import Settings

log = logging.getLogger(__name__)


def verify_audit_chain(session: Session, settings: Settings) -> dict[str, Any]:
    """Verify the audit hash chain and record the outcome as an audit event."""
    verdict = verify_chain(session)
    record(session, actor=None, action="audit.verify", entity_type="audit_events",
           entity_id="chain", after={"ok": verdict.ok, "count": verdict.count,
                                     "first_bad_seq": verdict.first_bad_seq,
                                     "message": verdict.message})
    if not verdict.ok:
        log.error("audit chain broken: %s", verdict.message)
    return {"ok": verdict.ok, "message": verdict.message}
