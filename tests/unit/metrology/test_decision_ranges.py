"""Verdicts of values known only as an interval (censored results), by the one rule."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lims.metrology.decision import verdict_of, verdict_of_range


@pytest.mark.parametrize(("low", "high", "low_in", "high_in", "lower", "upper", "verdict"), [
    (D(0), D("0.01"), True, False, None, D("0.05"), "pass"),        # <0.01 against ≤ 0.05
    (D(0), D("0.01"), True, False, D("0.1"), None, "fail"),         # <0.01 against ≥ 0.1
    (D(0), D("0.1"), True, False, None, D("0.05"), "undecided"),    # <0.1 against ≤ 0.05
    (D(0), D("0.05"), True, False, None, D("0.05"), "pass"),        # <0.05: all below the limit
    (D(0), D("0.05"), True, False, D("0.05"), None, "fail"),        # <0.05 against ≥ 0.05
    (D(0), D("0.05"), True, True, D("0.05"), None, "undecided"),    # ≤0.05: 0.05 itself passes
    (D("0.05"), None, False, True, None, D("0.05"), "fail"),        # >0.05, no maximum
    (D("0.05"), None, True, True, D("0.05"), None, "pass"),         # ≥0.05 against ≥ 0.05
    (None, D(3), True, False, D(1), D(5), "undecided"),             # <3, unbounded below
    (D(2), D(3), True, True, D(1), D(5), "pass"),
    (D(0), D(6), True, False, D(1), D(5), "undecided"),             # covers both sides
])
def test_intervals(low, high, low_in, high_in, lower, upper, verdict):
    assert verdict_of_range(low, high, lower, upper, low_inclusive=low_in,
                            high_inclusive=high_in) == verdict


def test_guard_bands_apply_to_intervals_as_to_values():
    # guarded, w = 0.01: acceptance ≤ 0.04
    assert verdict_of_range(D(0), D("0.04"), None, D("0.05"), high_inclusive=True,
                            rule="guarded", w=D("0.01")) == "pass"
    assert verdict_of_range(D(0), D("0.045"), None, D("0.05"), high_inclusive=True,
                            rule="guarded", w=D("0.01")) == "undecided"


numbers = st.decimals(min_value=-20, max_value=20, places=2)


@given(a=numbers, b=numbers, lower=st.none() | numbers, upper=st.none() | numbers)
def test_an_interval_is_decided_only_when_all_its_values_agree(a, b, lower, upper):
    if lower is not None and upper is not None and lower > upper:
        lower, upper = upper, lower
    assert verdict_of_range(a, a, lower, upper) == verdict_of(a, lower, upper)
    lo, hi = min(a, b), max(a, b)
    got = verdict_of_range(lo, hi, lower, upper)
    ends = {verdict_of(lo, lower, upper), verdict_of(hi, lower, upper),
            verdict_of((lo + hi) / 2, lower, upper)}
    if got != "undecided":
        assert ends == {got}
    if len(ends) > 1:
        assert got == "undecided"
