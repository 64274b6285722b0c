"""The sample lifecycle: states and the only transitions allowed between them."""

from __future__ import annotations

import enum

from lims.errors import SampleStateError, msg


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

# Used only by an amendment of an issued report (ISO/IEC 17025 7.8.8): the work goes back to
# correction, is reviewed and approved again and issued as a report that replaces the first.
# Kept apart from TRANSITIONS so that no ordinary step can reopen a reported sample.
AMENDMENT_TRANSITIONS: dict[SampleStatus, frozenset[SampleStatus]] = {
    S.REPORTED: frozenset({S.IN_TESTING}),
}

# Sending work back (issue 11 §2; ISO/IEC 17025 7.7.1, 7.8.1.1): the reviewer returns results
# to the technician for correction; the signatory returns a sample to review, before or after
# approving it, as long as no report is issued. Kept apart from TRANSITIONS so that only
# :mod:`lims.samples.review`, which records the comments and clears the review and approval
# the return undoes, can take these steps.
RETURN_TRANSITIONS: dict[SampleStatus, frozenset[SampleStatus]] = {
    S.RESULTS_COMPLETE: frozenset({S.IN_TESTING}),
    S.REVIEWED: frozenset({S.RESULTS_COMPLETE}),
    S.APPROVED: frozenset({S.RESULTS_COMPLETE}),
}

# States in which results may be recorded or corrected. Once reviewed, the results the
# reviewer saw are what gets approved and reported.
RESULTS_OPEN = frozenset({S.RECEIVED, S.IN_TESTING, S.RESULTS_COMPLETE})


def check_transition(current: str, target: SampleStatus, *, sample: str,
                     amendment: bool = False, returning: bool = False) -> None:
    """Refuse a transition the lifecycle does not allow, saying what would be allowed.

    :param amendment: the transition reopens a reported sample for an amendment (only
        :mod:`lims.reports.amend` passes it): :data:`AMENDMENT_TRANSITIONS` apply instead.
    :param returning: the transition sends work back (only :mod:`lims.samples.review` passes
        it): :data:`RETURN_TRANSITIONS` apply instead.
    :raises SampleStateError:
    """
    state = SampleStatus(current)
    table = (AMENDMENT_TRANSITIONS if amendment else RETURN_TRANSITIONS if returning
             else TRANSITIONS)
    if target not in table.get(state, frozenset()):
        allowed = ", ".join(sorted(table.get(state, frozenset()))) or "none (final state)"
        raise SampleStateError(
            msg("sample %(number)s is %(status)s; it cannot become %(target)s (allowed next: "
                "%(allowed)s)", number=sample, status=state, target=target, allowed=allowed),
            sample=sample, current=str(state), target=str(target))
