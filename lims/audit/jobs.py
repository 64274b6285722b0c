"""Scheduled audit jobs: the hourly signed checkpoint and the nightly chain check."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from lims.audit import checkpoints
from lims.audit.services import ChainVerdict, record
from lims.config import Settings
from lims.errors import LimsError

log = logging.getLogger(__name__)


def verify_audit_chain(session: Session, settings: Settings) -> dict[str, Any]:
    """Verify the chain since the newest checkpoint, against every checkpoint, and record the
    outcome as an audit event (``lims audit verify`` walks the whole chain on demand)."""
    try:
        verdict, start, anchors = checkpoints.verify(session, settings, since_checkpoint=True)
    except LimsError as exc:  # the lab's certificate cannot be loaded
        verdict, start, anchors = ChainVerdict(False, 0, None, str(exc)), None, 0
    record(session, actor=None, action="audit.verify", entity_type="audit_events",
           entity_id="chain", after={"ok": verdict.ok, "count": verdict.count,
                                     "first_bad_seq": verdict.first_bad_seq,
                                     "message": verdict.message,
                                     "since_seq": start.seq if start else 0,
                                     "checkpoints": anchors})
    if not verdict.ok:
        log.error("audit chain broken: %s", verdict.message)
    return {"ok": verdict.ok, "message": verdict.message, "count": verdict.count,
            "since_seq": start.seq if start else 0}


def checkpoint_audit_head(session: Session, settings: Settings) -> dict[str, Any]:
    """Write a signed checkpoint of the verified audit head (nothing when it has not moved)."""
    try:
        made, new = checkpoints.take(session, settings)
    except LimsError as exc:
        log.error("audit checkpoint not taken: %s", exc)
        return {"ok": False, "message": str(exc)}
    if made is None:
        return {"ok": True, "seq": 0, "written": False}
    return {"ok": True, "seq": made.seq, "file": made.name, "written": new}
