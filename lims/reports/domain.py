"""The reports domain: issue, download, public verification, `lims report`, `lims pki`."""

from __future__ import annotations

from typing import Any

from lims.domains import Domain, Job


def _blueprints() -> tuple[Any, ...]:
    from lims.reports import views

    return (views.bp, views.api)


def _commands() -> list[Any]:
    from lims.reports.cli import commands

    return commands()


def _recover(session: Any, settings: Any) -> dict[str, Any]:
    from lims.reports.issuing import finish_pending_reports

    return finish_pending_reports(session, settings)


DOMAIN = Domain(
    "reports", blueprints=_blueprints, commands=_commands,
    jobs=(Job("report-recovery", _recover, lambda s: {"minute": "*"},
              doc="sign and store reports whose issue was interrupted after the number was "
                  "taken, under the same number (every minute)"),))
