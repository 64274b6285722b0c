"""Which roles may perform which action: the one table the server enforces.

Separation of duties (who entered results may not review or approve them) and signatory
scope are checked by the services, since they depend on the record, not only the role.
"""

from __future__ import annotations

from lims.auth.models import Role
from lims.errors import Message, msg

T, R, S, Q, A, ADM = (Role.TECHNICIAN, Role.REVIEWER, Role.SIGNATORY, Role.QUALITY_MANAGER,
                      Role.AUDITOR, Role.ADMIN)
EVERYONE = frozenset(Role)

PERMISSIONS: dict[str, frozenset[Role]] = {
    "read": EVERYONE,                      # auditors read everything, change nothing
    "customer.create": frozenset({T, Q}),
    "customer.manage": frozenset({T, Q}),  # edit (with a reason) and retire
    "sample.register": frozenset({T}),
    "sample.receive": frozenset({T}),
    "result.record": frozenset({T}),
    "result.capture": frozenset({T}),
    "result.correct": frozenset({T}),
    "sample.complete": frozenset({T}),
    "sample.review": frozenset({R}),
    "sample.approve": frozenset({S}),
    "report.issue": frozenset({S}),
    # Amend or withdraw an issued report (ISO/IEC 17025 7.8.8): a signatory or the quality
    # manager; the replacement is still issued and signed by an authorised signatory.
    "report.amend": frozenset({S, Q}),
    "report.withdraw": frozenset({S, Q}),
    "method.manage": frozenset({Q, ADM}),
    "scope.manage": frozenset({Q, ADM}),          # the accredited scope (CMA, CNAS)
    "instrument.manage": frozenset({Q, ADM}),
    "calibration.record": frozenset({Q, ADM}),     # calibrations, imports, checks
    "nonconformity.manage": frozenset({Q}),        # impact cases, evaluations, letters
    "audit.read": frozenset({Q, A, ADM}),
    # Take the checkpoint files left after some were lost as the chain checks' new baseline:
    # the quality manager, who answers for the records, not the administrator of the host.
    "audit.accept": frozenset({Q}),
    "whitepaper.issue": frozenset({Q, ADM}),      # the annual quality white paper (issue 13)
    "user.manage": frozenset({ADM}),
    "agent.manage": frozenset({ADM}),             # bench capture agents and their tokens
    # Supervision spot checks (issue 13): the register of enterprises, sampling inspectors,
    # plans and their random draws.
    "plan.manage": frozenset({Q, ADM}),
    # Supervision (issue 13): sampling records and backup samples; result notices and the
    # objections to them (a signatory or the quality manager); the lab's working-day calendar.
    "sampling.record": frozenset({T}),
    "notice.issue": frozenset({S, Q}),
    "objection.decide": frozenset({S, Q}),
    "calendar.manage": frozenset({ADM}),
}


# What each permission lets one do, as a refusal names it to a reader (issue 11 §1). The
# English text of a refusal keeps the code ("your roles do not allow 'user.manage'": the API and
# scripts match on it); pages and the command line translate the code to these words.
ACTIONS: dict[str, Message] = {
    "read": msg("read"),
    "customer.create": msg("customer.create"),
    "customer.manage": msg("customer.manage"),
    "sample.register": msg("sample.register"),
    "sample.receive": msg("sample.receive"),
    "result.record": msg("result.record"),
    "result.capture": msg("result.capture"),
    "result.correct": msg("result.correct"),
    "sample.complete": msg("sample.complete"),
    "sample.review": msg("sample.review"),
    "sample.approve": msg("sample.approve"),
    "report.issue": msg("report.issue"),
    "report.amend": msg("report.amend"),
    "report.withdraw": msg("report.withdraw"),
    "method.manage": msg("method.manage"),
    "scope.manage": msg("scope.manage"),
    "instrument.manage": msg("instrument.manage"),
    "calibration.record": msg("calibration.record"),
    "nonconformity.manage": msg("nonconformity.manage"),
    "audit.read": msg("audit.read"),
    "audit.accept": msg("audit.accept"),
    "whitepaper.issue": msg("whitepaper.issue"),
    "user.manage": msg("user.manage"),
    "agent.manage": msg("agent.manage"),
    "plan.manage": msg("plan.manage"),
    "sampling.record": msg("sampling.record"),
    "notice.issue": msg("notice.issue"),
    "objection.decide": msg("objection.decide"),
    "calendar.manage": msg("calendar.manage"),
}


def action_name(action: str) -> str:
    """The permission as a refusal carries it: the code, translated where it is shown."""
    return ACTIONS.get(action, action)


def allowed(roles: frozenset[Role], action: str) -> bool:
    return bool(roles & PERMISSIONS[action])
