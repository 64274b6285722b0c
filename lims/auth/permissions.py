"""Which roles may perform which action: the one table the server enforces.

Separation of duties (who entered results may not review or approve them) and signatory
scope are checked by the services, since they depend on the record, not only the role.
"""

from __future__ import annotations

from lims.auth.models import Role

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
    "user.manage": frozenset({ADM}),
    "agent.manage": frozenset({ADM}),             # bench capture agents and their tokens
}


def allowed(roles: frozenset[Role], action: str) -> bool:
    return bool(roles & PERMISSIONS[action])
