"""Issue a report without holding a lock while it is rendered and signed (issue 8, finding 9).

Rendering and signing (with its RFC 3161 timestamp) take most of an issue. Holding the
sample's row lock and the number series' lock through them serialised every issue in the lab.
Here the claim (lock, checks, number, frozen content) and the store are two short
transactions, and the slow middle runs with no transaction open. The number is taken in the
claim, so a crash after it leaves a claim that :func:`finish_pending_reports` completes under
the same number: numbers stay gapless and are never reused.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.orm import Session

from lims.auth.models import User
from lims.config import Settings
from lims.db import unit_of_work, utcnow
from lims.errors import LimsError, ReportError, msg
from lims.reports.models import Report
from lims.reports.services import (
    claim_report,
    get_report,
    pending_claims,
    sign_claim,
    store_report,
)

log = logging.getLogger(__name__)

# A claim older than this is taken to be abandoned by a crashed worker. Signing takes well
# under a second; a worker that is merely slow and loses to the job discards its copy.
RECOVER_AFTER = dt.timedelta(minutes=2)


def issue_in_steps(session: Session, *, actor: User, sample_number: str, settings: Settings,
                   password: object) -> Report:
    """Claim, sign and store a report, committing the claim and the store separately.

    :raises ReportError: the claim was taken but signing failed (the recovery job retries it
        under the same number), besides what :func:`claim_report` raises.
    """
    with unit_of_work(session) as db:
        claimed = claim_report(db, actor=actor, sample_number=sample_number, settings=settings,
                               password=password)
    try:
        signed = sign_claim(claimed, settings)
    except LimsError as exc:
        log.error("report %s claimed but not signed: %s", claimed.number, exc)
        raise ReportError(msg("report %(report)s is allocated but could not be signed (%(reason)s); it "
                              "will be finished under the same number", report=claimed.number, reason=exc),
                          report=claimed.number) from exc
    try:
        with unit_of_work(session) as db:
            return store_report(db, claimed, signed)
    except ReportError:  # the recovery job stored it first: that copy is the report
        return get_report(session, claimed.number)


def finish_pending_reports(session: Session, settings: Settings) -> dict[str, Any]:
    """Job ``report-recovery``: sign and store every claim a crashed worker left behind.

    Runs in the scheduler's one transaction per job; on SQLite that holds the write lock while
    the (rare) abandoned claims are signed. A claim that cannot be signed now is retried at the
    next run; the others are still stored.
    """
    finished, failed = [], []
    for claimed in pending_claims(session, before=utcnow() - RECOVER_AFTER):
        try:
            signed = sign_claim(claimed, settings)
            with session.begin_nested():
                store_report(session, claimed, signed)
        except LimsError as exc:
            log.error("report %s still not signed: %s", claimed.number, exc)
            failed.append({"number": claimed.number, "error": str(exc)})
        else:
            finished.append(claimed.number)
    return {"finished": finished, "failed": failed}
