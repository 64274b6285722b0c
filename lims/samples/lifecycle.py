"""The sample lifecycle: states and the only transitions allowed between them."""

from __future__ import annotations

import enum

from lims.errors import SampleStateError


class SampleStatus(enum.StrEnum):
    REGISTERED = "registered"
    RECEIVED = "received"
    IN_TESTING = "in testing"
    RESULTS_COMPLETE = "results complete"
    REVIEWED = "reviewed"
    APPROVED = "approved"
    REPORTED = "reported"


S = SampleStatus
TRANSITIONS: dict[SampleStatus, frozenset[SampleStatus]] = {
    S.REGISTERED: frozenset({S.RECEIVED}),
    S.RECEIVED: frozenset({S.IN_TESTING}),
    S.IN_TESTING: frozenset({S.RESULTS_COMPLETE}),
    S.RESULTS_COMPLETE: frozenset({S.REVIEWED, S.IN_TESTING}),
    S.REVIEWED: frozenset({S.APPROVED}),
    S.APPROVED: frozenset({S.REPORTED}),
    S.REPORTED: frozenset(),
}

# States in which results may be recorded or corrected. Once reviewed, the results the
# reviewer saw are what gets approved and reported.
RESULTS_OPEN = frozenset({S.RECEIVED, S.IN_TESTING, S.RESULTS_COMPLETE})


def check_transition(current: str, target: SampleStatus, *, sample: str) -> None:
    """Refuse a transition the lifecycle does not allow, saying what would be allowed.

    :raises SampleStateError:
    """
    state = SampleStatus(current)
    if target not in TRANSITIONS[state]:
        allowed = ", ".join(sorted(TRANSITIONS[state])) or "none (final state)"
        raise SampleStateError(
            f"sample {sample} is {state}; it cannot become {target} (allowed next: {allowed})",
            sample=sample, current=str(state), target=str(target))
