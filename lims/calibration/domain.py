"""The calibration domain: calibration records, traceability, impact; `lims uncertainty`."""

from __future__ import annotations

from typing import Any

from lims.domains import Domain, Job


def _blueprints() -> tuple[Any, ...]:
    from lims.calibration import nc_views, views, work_views

    return (views.bp, views.api, nc_views.bp, nc_views.api, work_views.bp, work_views.api)


def _commands() -> list[Any]:
    from lims.calibration.cli import commands

    return commands()


def _flag_due(session: Any, settings: Any) -> dict[str, Any]:
    from lims.calibration.jobs import flag_calibration_due

    return flag_calibration_due(session, settings)


DOMAIN = Domain(
    "calibration", blueprints=_blueprints, commands=_commands,
    jobs=(Job("flag-calibration-due", _flag_due, lambda s: {"hour": 6, "minute": 0},
              run_at_start=True,
              doc="flag equipment due for calibration within the warning period or overdue"),))
