"""The audit domain: trail pages and API, `lims audit`, hourly checkpoints, the nightly check."""

from __future__ import annotations

from typing import Any

from lims.domains import Domain, Job


def _blueprints() -> tuple[Any, ...]:
    from lims.audit import views

    return (views.bp, views.api)


def _commands() -> list[Any]:
    from lims.audit.cli import commands

    return commands()


def _verify(session: Any, settings: Any) -> dict[str, Any]:
    from lims.audit.jobs import verify_audit_chain

    return verify_audit_chain(session, settings)


def _queued(session: Any, settings: Any) -> dict[str, Any]:
    from lims.audit.jobs import run_queued_verification

    return run_queued_verification(session, settings)


def _checkpoint(session: Any, settings: Any) -> dict[str, Any]:
    from lims.audit.jobs import checkpoint_audit_head

    return checkpoint_audit_head(session, settings)


DOMAIN = Domain(
    "audit", blueprints=_blueprints, commands=_commands,
    jobs=(Job("verify-audit-chain", _verify,
              lambda s: {"hour": s.audit_verify_hour, "minute": 30},
              doc="verify the audit hash chain since the last checkpoint and record the "
                  "outcome (nightly)", own_transaction=True),
          Job("audit-verify-queued", _queued, lambda s: {"minute": "*"},
              doc="run a chain check asked for on the audit page or the API, from the last "
                  "checkpoint, and record the outcome (every minute; nothing when none waits)",
              own_transaction=True),
          Job("audit-checkpoint", _checkpoint, lambda s: {"minute": 0},
              doc="sign the verified audit head into <instance>/audit-checkpoints (hourly)")))
