"""The sample lifecycle allows exactly the defined transitions."""

from __future__ import annotations

import itertools

import pytest

from lims.errors import SampleStateError
from lims.samples.lifecycle import TRANSITIONS, SampleStatus, check_transition

ORDER = list(SampleStatus)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(ORDER, ORDER)))
def test_transitions(current, target):
    if target in TRANSITIONS[current]:
        check_transition(current, target, sample="S1")
    else:
        with pytest.raises(SampleStateError) as exc:
            check_transition(current, target, sample="S1")
        assert f"is {current}" in exc.value.message and f"cannot become {target}" in \
            exc.value.message


def test_main_path_is_linear_and_reported_is_final():
    path = ["registered", "received", "in testing", "results complete", "reviewed", "approved",
            "reported"]
    for a, b in itertools.pairwise(path):
        check_transition(a, SampleStatus(b), sample="S1")
    assert TRANSITIONS[SampleStatus.REPORTED] == frozenset()
