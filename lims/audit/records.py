"""Compare results, samples and reports with their last audited state (``--records``).

Every change the application makes to these rows writes an audit event in the same
transaction, whose ``after`` is the row's state (``snapshot``). A row that differs from the
state its events add up to was changed behind the application's back, e.g. by a database owner
who dropped the triggers. Which events describe which rows:

* ``results`` (entity id: the result id): ``result.record`` and ``result.correct`` carry the new
  row in ``after``. A correction also turns the replaced row's ``is_current`` off in the same
  transaction without an event of its own: its ``before`` is the replaced row, and its
  ``after.replaces_id`` names it, which is what the check expects of that row.
* ``samples`` (entity id: the sample number): ``sample.register`` and every transition
  (``before``/``after`` snapshots): status, receipt, review and approval.
* ``reports`` (entity id: the report number): ``report.issue`` records number, status, SHA-256
  and size; ``report.withdraw`` the status and who withdrew, when, why and the category.

The states are merged over a row's events in sequence order, so an event that records only
some fields (a report's later status change) keeps the others; only fields some event recorded
are compared (rows audited before a column existed are not flagged for it).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.audit.models import AuditEvent
from lims.audit.services import _jsonable
from lims.auth.models import User
from lims.errors import msg
from lims.reports.models import Report
from lims.samples.models import Result, Sample, SampleTest

RESULT_FIELDS = ("value", "unit", "unit_text", "conformity", "is_current", "version", "source",
                 "instrument_id", "calibration_record_id", "instrument_due_on", "measured_at",
                 "recorded_by_id", "replaces_id", "reason", "raw", "test_id",
                 "characteristic_id", "expanded_uncertainty", "coverage_factor")
SAMPLE_FIELDS = ("status", "description", "request_id", "registered_by_id", "received_at",
                 "received_by_id", "condition_on_receipt", "reviewed_at", "reviewed_by_id",
                 "approved_at", "approved_by_id")
# The withdrawal columns are set once after issue, outside the append-only trigger
# (ISO/IEC 17025 7.8.8.1); ``report.withdraw`` records them.
WITHDRAWAL_FIELDS = ("withdrawn_at", "withdrawn_by_id", "withdrawal_reason",
                     "withdrawal_category")
REPORT_FIELDS = ("status", "sha256", "size", *WITHDRAWAL_FIELDS)
KINDS = {"results": "result", "samples": "sample", "reports": "report"}


@dataclasses.dataclass(frozen=True)
class Discrepancy:
    kind: str          # "result", "sample", "report"
    key: str           # result id, sample or report number
    where: str         # e.g. "of sample YP2026-000001"
    field: str | None  # None: the row has no audit event, or an audited row is gone
    current: Any = None
    audited: Any = None
    seq: int | None = None

    def __str__(self) -> str:
        row = f"{self.kind} {self.key}" + (f" {self.where}" if self.where else "")
        if self.field is None:
            return f"{row}: {self.current}"
        return (f"{row}: {self.field} is {_show(self.current)}, last audited "
                f"{_show(self.audited)} (event {self.seq})")


@dataclasses.dataclass(frozen=True)
class RecordsVerdict:
    checked: dict[str, int]
    problems: list[Discrepancy]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def summary(self) -> str:
        return msg("%(results)s results, %(samples)s samples and %(reports)s reports match their "
                   "last audited state", results=self.checked["results"],
                   samples=self.checked["samples"], reports=self.checked["reports"])


def _show(value: Any) -> str:
    if isinstance(value, dict) and "sha256" in value:
        return f"bytes with SHA-256 {value['sha256'][:12]}…"
    return json.dumps(value, ensure_ascii=False)


def audited_states(session: Session) -> dict[str, dict[str, dict[str, tuple[Any, int]]]]:
    """{entity type: {key: {field: (audited value, seq)}}} from the audit trail."""
    states: dict[str, dict[str, dict[str, tuple[Any, int]]]] = {t: {} for t in KINDS}
    rows = session.execute(
        select(AuditEvent.seq, AuditEvent.entity_type, AuditEvent.entity_id, AuditEvent.before,
               AuditEvent.after)
        .where(AuditEvent.entity_type.in_(tuple(KINDS))).order_by(AuditEvent.seq)
        .execution_options(yield_per=2000))
    for seq, etype, eid, before_text, after_text in rows:
        after = _object(after_text)
        if after is None:
            continue
        if etype == "results":
            key = str(after.get("id", eid))
            before = _object(before_text)
            replaced = after.get("replaces_id")
            if before is not None and replaced is not None and str(before.get("id")) == str(replaced):
                # The correction's event stands for the replaced row: it is no longer current.
                _merge(states[etype], str(replaced), {**before, "is_current": False}, seq)
        else:
            key = eid
        _merge(states[etype], key, after, seq)
    return states


def _object(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _merge(table: dict[str, dict[str, tuple[Any, int]]], key: str, state: dict[str, Any],
           seq: int) -> None:
    fields = table.setdefault(key, {})
    for name, value in state.items():
        fields[name] = (value, seq)


def _current_rows(session: Session) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(entity type, key, where, {field: value as audited}) for every row checked."""
    result_cols = [getattr(Result, f) for f in RESULT_FIELDS]
    for row in session.execute(
            select(Result.id, Sample.number, *result_cols)
            .join(SampleTest, SampleTest.id == Result.test_id)
            .join(Sample, Sample.id == SampleTest.sample_id)
            .order_by(Result.id).execution_options(yield_per=2000)):
        yield ("results", str(row[0]), f"of sample {row[1]}",
               {f: _jsonable(v) for f, v in zip(RESULT_FIELDS, row[2:], strict=True)})
    sample_cols = [getattr(Sample, f) for f in SAMPLE_FIELDS]
    for row in session.execute(select(Sample.number, *sample_cols).order_by(Sample.id)
                               .execution_options(yield_per=2000)):
        yield ("samples", row[0], "",
               {f: _jsonable(v) for f, v in zip(SAMPLE_FIELDS, row[1:], strict=True)})
    report_cols = [getattr(Report, f) for f in REPORT_FIELDS]
    for row in session.execute(select(Report.number, Sample.number, *report_cols)
                               .join(Sample, Sample.id == Report.sample_id).order_by(Report.id)
                               .execution_options(yield_per=2000)):
        yield ("reports", row[0], f"of sample {row[1]}",
               {f: _jsonable(v) for f, v in zip(REPORT_FIELDS, row[2:], strict=True)})


def verify_records(session: Session) -> RecordsVerdict:
    """Name every result, sample and report row that differs from its last audited state,
    that has no audit event, or that was audited and is gone."""
    states = audited_states(session)
    users = dict(session.execute(select(User.id, User.username)).all())
    problems: list[Discrepancy] = []
    checked = dict.fromkeys(KINDS, 0)
    seen: dict[str, set[str]] = {t: set() for t in KINDS}
    for etype, key, where, current in _current_rows(session):
        kind = KINDS[etype]
        checked[etype] += 1
        seen[etype].add(key)
        audited = states[etype].get(key)
        if audited is None:
            problems.append(Discrepancy(kind, key, where, None, "has no audit event"))
            continue
        for name, value in current.items():
            if name not in audited:
                continue
            expected, seq = audited[name]
            if value != expected:
                if name.endswith("_by_id"):  # name people, not ids
                    name, value, expected = name[:-3], _who(value, users), _who(expected, users)
                problems.append(Discrepancy(kind, key, where, name, value, expected, seq))
    identity = {"results": "id", "samples": "number", "reports": "number"}
    for etype, table in states.items():
        for key, fields in table.items():
            if key not in seen[etype] and identity[etype] in fields:
                problems.append(Discrepancy(KINDS[etype], key, "", None,
                                            "was audited (event "
                                            f"{fields[identity[etype]][1]}) but is gone"))
    return RecordsVerdict(checked, problems)


def _who(user_id: Any, users: dict[int, str]) -> Any:
    return users.get(user_id, user_id) if isinstance(user_id, int) else user_id
