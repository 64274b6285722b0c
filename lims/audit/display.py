"""The audit trail's changes as a reader reads them (issue 11 §1, §5): translated action and
field names, stored values in the reader's language, times in the lab's zone, people by name.

Only the display: the stored events are hash-chained evidence and stay as recorded; the API
and the CSV export keep the raw values (:func:`lims.audit.trail.changes`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.audit import trail
from lims.audit.models import AuditEvent
from lims.web.i18n import FIELD_LABELS, LABELS

EMPTY = "—"

# What the code records (``record(action=…)`` in lims), in the reader's language. A code not
# listed is shown as recorded.
ACTIONS: dict[str, Any] = {
    "accreditation.set": lazy_gettext("Accreditation set"),
    "agent.register": lazy_gettext("Capture agent registered"),
    "agent.revoke": lazy_gettext("Capture agent revoked"),
    "audit.verify": lazy_gettext("Audit chain verified"),
    "audit.verify_request": lazy_gettext("Audit chain check requested"),
    "auth.login": lazy_gettext("Signed in"),
    "auth.login_failed": lazy_gettext("Sign-in failed"),
    "auth.logout": lazy_gettext("Signed out"),
    "auth.reauth_failed": lazy_gettext("Re-authentication failed"),
    "calibration.reading": lazy_gettext("Calibration reading recorded"),
    "calibration.reading_correct": lazy_gettext("Calibration reading corrected"),
    "calibration.record": lazy_gettext("Calibration recorded"),
    "calibration.status": lazy_gettext("Calibration status changed"),
    "calibration.supersede": lazy_gettext("Calibration superseded"),
    "calibration_job.create": lazy_gettext("Calibration job created"),
    "category.create": lazy_gettext("Product category created"),
    "category.move": lazy_gettext("Product category moved"),
    "category.retire": lazy_gettext("Product category retired"),
    "customer.create": lazy_gettext("Customer created"),
    "customer.retire": lazy_gettext("Customer retired"),
    "customer.update": lazy_gettext("Customer updated"),
    "instrument.calibration_flag": lazy_gettext("Instrument calibration flag set"),
    "instrument.check": lazy_gettext("Intermediate check recorded"),
    "instrument.register": lazy_gettext("Instrument registered"),
    "instrument.retire": lazy_gettext("Instrument retired"),
    "instrument.status": lazy_gettext("Instrument status changed"),
    "instrument.update": lazy_gettext("Instrument updated"),
    "method.create": lazy_gettext("Method created"),
    "method.retire": lazy_gettext("Method retired"),
    "method.update": lazy_gettext("Method updated"),
    "nonconformity.close": lazy_gettext("Nonconforming work closed"),
    "nonconformity.evaluate": lazy_gettext("Nonconforming work evaluated"),
    "nonconformity.open": lazy_gettext("Nonconforming work opened"),
    "procedure.create": lazy_gettext("Calibration procedure created"),
    "provider.create": lazy_gettext("Calibration provider created"),
    "report.amend": lazy_gettext("Report amended"),
    "report.claim": lazy_gettext("Report number claimed"),
    "report.issue": lazy_gettext("Report issued"),
    "report.supersede": lazy_gettext("Report superseded"),
    "report.withdraw": lazy_gettext("Report withdrawn"),
    "request.create": lazy_gettext("Request created"),
    "result.correct": lazy_gettext("Result corrected"),
    "result.decide": lazy_gettext("Conformity decided"),
    "result.record": lazy_gettext("Result recorded"),
    "sample.approve": lazy_gettext("Sample approved"),
    "sample.assign": lazy_gettext("Sample assigned"),
    "sample.complete": lazy_gettext("Results completed"),
    "sample.receive": lazy_gettext("Sample received"),
    "sample.register": lazy_gettext("Sample registered"),
    "sample.reopen": lazy_gettext("Sample reopened"),
    "sample.report": lazy_gettext("Sample reported"),
    "sample.return": lazy_gettext("Sample returned for rework"),
    "sample.return_to_review": lazy_gettext("Sample returned to review"),
    "sample.review": lazy_gettext("Sample reviewed"),
    "sample.start": lazy_gettext("Testing started"),
    "sample.unassign": lazy_gettext("Sample unassigned"),
    "scope.add": lazy_gettext("Scope item added"),
    "test.conditions": lazy_gettext("Test conditions recorded"),
    "token.create": lazy_gettext("API token created"),
    "token.revoke": lazy_gettext("API token revoked"),
    "user.create": lazy_gettext("User created"),
    "user.enable": lazy_gettext("User enabled"),
    "user.lock": lazy_gettext("User locked"),
    "user.password_reset": lazy_gettext("Password reset"),
    "user.roles": lazy_gettext("Roles changed"),
    "user.sign_out": lazy_gettext("User signed out"),
    "user.unlock": lazy_gettext("User unlocked"),
}

# The recorded field names a reader meets most (snapshots of samples, results, reports,
# signatures); others fall back to the form labels, then to the name as recorded.
AUDIT_FIELDS: dict[str, Any] = {
    "status": lazy_gettext("Status"),
    "acquisition": lazy_gettext("Acquisition"),
    "priority": lazy_gettext("Priority"),
    "registered_at": lazy_gettext("Registered at"),
    "registered_by_id": lazy_gettext("Registered by"),
    "received_at": lazy_gettext("Received at"),
    "received_by_id": lazy_gettext("Received by"),
    "reviewed_at": lazy_gettext("Reviewed at"),
    "reviewed_by_id": lazy_gettext("Reviewed by"),
    "approved_at": lazy_gettext("Approved at"),
    "approved_by_id": lazy_gettext("Approved by"),
    "reported_at": lazy_gettext("Reported at"),
    "issued_at": lazy_gettext("Issued at"),
    "issued_by_id": lazy_gettext("Issued by"),
    "recorded_at": lazy_gettext("Recorded at"),
    "recorded_by_id": lazy_gettext("Recorded by"),
    "created_at": lazy_gettext("Created at"),
    "created_by_id": lazy_gettext("Created by"),
    "assignee_id": lazy_gettext("Assignee"),
    "condition_on_receipt": lazy_gettext("Condition on receipt"),
    "conclusion": lazy_gettext("Conclusion"),
    "conclusion_reason": lazy_gettext("Reason for the conclusion"),
    "signature": lazy_gettext("Electronic signature"),
    "meaning": lazy_gettext("Meaning"),
    "reauthenticated": lazy_gettext("Password re-entered"),
    "derived_conclusion": lazy_gettext("Derived conclusion"),
    "at": lazy_gettext("Time"),
    "by": lazy_gettext("By"),
    "comments": lazy_gettext("Comments"),
    "verdict": lazy_gettext("Verdict"),
    "trademark": lazy_gettext("Trademark"),
    "model": lazy_gettext("Model"),
    "batch": lazy_gettext("Batch"),
    "quantity": lazy_gettext("Quantity"),
    "manufacturer": lazy_gettext("Manufacturer"),
    "test_id": lazy_gettext("Test"),
    "sample_id": lazy_gettext("Sample"),
    "category_id": lazy_gettext("Product category"),
    "method_id": lazy_gettext("Method"),
}

# Fields that hold a user's id: shown as the person's name.
_USER_FIELDS = {"assignee_id", "user_id", "actor_id"}
# Typed text is shown as typed, never as a translated label ("other" stays "other").
_FREE_TEXT = {"description", "reason", "comment", "name", "full_name", "username", "message",
              "conclusion_reason", "condition_on_receipt", "trademark", "model", "batch",
              "quantity", "manufacturer", "address", "title", "note", "notes"}
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?$")


def action_label(code: str) -> str:
    found = ACTIONS.get(code)
    return str(found) if found is not None else code


def field_name(field: str) -> str:
    found = AUDIT_FIELDS.get(field)
    if found is None:
        found = FIELD_LABELS.get(field)
    return str(found) if found is not None else field


@dataclasses.dataclass(frozen=True)
class Shown:
    """One changed field as shown: its raw name (kept for auditors), its label, and each side
    as text or, for a nested object, as (label, text) pairs."""

    field: str
    label: str
    old: str | list[tuple[str, str]]
    new: str | list[tuple[str, str]]


def _is_user_field(key: str) -> bool:
    return key.endswith("_by_id") or key in _USER_FIELDS


def _user_ids(value: Any, key: str = "") -> Iterable[int]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _user_ids(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _user_ids(v, key)
    elif _is_user_field(key) and isinstance(value, int) and not isinstance(value, bool):
        yield value


class Reader:
    """Formats the changes of one page of events: the users they name are looked up once."""

    def __init__(self, session: Session, events: Iterable[AuditEvent], zone: str) -> None:
        from lims.auth.models import User

        self.tz = ZoneInfo(zone)
        self.diffs = {e.seq: trail.raw_changes(e) for e in events}
        ids = {i for diff in self.diffs.values() for _f, old, new in diff
               for side in (old, new) for i in _user_ids(side, _f)}
        self.users: dict[int, str] = {}
        if ids:
            rows = session.execute(select(User.id, User.full_name, User.username)
                                   .where(User.id.in_(sorted(ids))))
            self.users = {uid: full or login for uid, full, login in rows}

    def changes(self, event: AuditEvent) -> list[Shown]:
        return [Shown(f, field_name(f), self._side(f, old), self._side(f, new))
                for f, old, new in self.diffs.get(event.seq, [])]

    def _side(self, key: str, value: Any) -> str | list[tuple[str, str]]:
        if isinstance(value, Mapping) and value:
            return [(field_name(str(k)), self.text(str(k), v)) for k, v in value.items()]
        return self.text(key, value)

    def text(self, key: str, value: Any) -> str:
        if value is None or value is trail.ABSENT or value == "" or value == [] or value == {}:
            return EMPTY
        if isinstance(value, bool):
            return str(_("yes") if value else _("no"))
        if _is_user_field(key) and isinstance(value, int):
            return self.users.get(value, f"#{value}")
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, list):
            return ", ".join(self.text(key, v) for v in value)
        if isinstance(value, Mapping):
            return "; ".join(f"{field_name(str(k))}: {self.text(str(k), v)}"
                             for k, v in value.items())
        text = str(value)
        if _INSTANT.match(text):
            return self._instant(text)
        if key not in _FREE_TEXT and text in LABELS:
            return str(LABELS[text])
        return text

    def _instant(self, text: str) -> str:
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            return text
        if when.tzinfo is None:  # the audit stores UTC
            when = when.replace(tzinfo=dt.UTC)
        return when.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")
