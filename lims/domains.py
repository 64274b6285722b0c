"""The domains of the LIMS and what each contributes: blueprints, jobs, CLI commands.

Each domain package has a ``domain.py`` with a module-level ``DOMAIN``. The web app, the
scheduler and the ``lims`` command are built from :func:`domains` (the OpenAPI document from
the API views the blueprints register, :mod:`lims.web.openapi`), so a
new domain is one line in :data:`DOMAINS`, not an edit of four central lists. Blueprints and
commands are returned by functions so that importing the registry imports no views.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click
    from flask import Blueprint
    from sqlalchemy.orm import Session

    from lims.config import Settings

DOMAINS = (
    "lims.web",
    "lims.auth",
    "lims.samples",
    "lims.instruments",
    "lims.calibration",
    "lims.reports",
    "lims.accreditation",
    "lims.audit",
    "lims.work",
    "lims.readings",
    "lims.supervision",
)


@dataclasses.dataclass(frozen=True)
class Job:
    """A scheduled job: one transaction per run (see :mod:`lims.scheduler`).

    ``own_transaction``: ``run`` gets a session outside any write transaction and opens its own
    :func:`lims.db.unit_of_work` for what it writes, so that a long read (a walk of the audit
    chain) does not hold SQLite's one write lock and stall every writer meanwhile.
    """

    id: str
    run: Callable[[Session, Settings], dict[str, Any]]
    trigger: Callable[[Settings], Mapping[str, Any]]  # APScheduler cron fields from settings
    run_at_start: bool = False
    doc: str = ""
    own_transaction: bool = False


@dataclasses.dataclass(frozen=True)
class Domain:
    name: str
    blueprints: Callable[[], Sequence[Blueprint]] = lambda: ()
    commands: Callable[[], Sequence[click.Command]] = lambda: ()
    jobs: Sequence[Job] = ()


@cache
def domains() -> tuple[Domain, ...]:
    return tuple(importlib.import_module(f"{name}.domain").DOMAIN for name in DOMAINS)


def jobs() -> dict[str, Job]:
    return {job.id: job for d in domains() for job in d.jobs}
