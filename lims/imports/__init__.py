"""Bulk import of legacy data: samples (with their requests), instruments and customers.

Every row is validated first and every error is kept with its row number and column header;
only a file without errors is written, in the caller's one transaction, with Core
``executemany`` in chunks and one audit event per imported record appended in bulk
(:mod:`lims.audit.bulk`). ``lims import`` (:mod:`lims.imports.cli`) is the way in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import ModuleType
from typing import Any

from sqlalchemy.orm import Session

from lims.audit.bulk import record_many
from lims.auth.services import require
from lims.config import Settings
from lims.imports import customers, instruments, samples
from lims.imports.numbers import reserve_recorded
from lims.imports.read import Table
from lims.imports.table import Problem, Rows

KINDS: dict[str, ModuleType] = {"samples": samples, "instruments": instruments,
                                "customers": customers}
Tick = Callable[[int], None]


@dataclasses.dataclass
class Checked:
    kind: str
    problems: list[Problem]
    plan: Any  # the kind's Plan: the rows as they will be written

    @property
    def ok(self) -> bool:
        return not self.problems


def check(session: Session, kind: str, table: Table, settings: Settings,
          tick: Tick = lambda n: None) -> Checked:
    """Validate every row of ``table`` as records of ``kind``; nothing is written."""
    module = KINDS[kind]
    rows = Rows(table, module.COLUMNS)
    if rows.problems:  # the header is wrong: every row would say the same
        return Checked(kind, rows.problems, None)
    plan = module.validate(session, rows, settings, tick)
    problems = sorted(rows.problems, key=lambda p: p.row)
    if not problems and plan.count == 0:
        problems = [Problem(1, "", _no_rows())]
    return Checked(kind, problems, plan)


def _no_rows() -> str:
    from lims.errors import msg

    return msg("the file has a header but no rows")


def write(session: Session, checked: Checked, *, actor: Any, settings: Settings,
          tick: Tick = lambda n: None) -> int:
    """Write a checked file's records and their audit events in the caller's transaction.

    :returns: how many records were imported (the rows).
    :raises PermissionDenied: ``actor`` may not create records of this kind.
    """
    if not checked.ok:
        raise ValueError("write() needs a file without errors")
    module = KINDS[checked.kind]
    require(actor, module.PERMISSION)
    events = module.write(session, checked.plan, actor, tick)
    if checked.kind == "samples":
        # Later registrations must not take a number a legacy record already has.
        reserve_recorded(session, "sample", settings.sample_number_format,
                         [s["number"] for s in checked.plan.samples])
        reserve_recorded(session, "request", settings.request_number_format,
                         list(checked.plan.requests))
    record_many(session, actor=actor, events=events, progress=tick)
    return int(checked.plan.count)
