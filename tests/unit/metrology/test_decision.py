"""Decision rules (ILAC-G8:09/2019) with their edge behaviour at both limits."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from lims.errors import InvalidInput, UnitMismatch
from lims.metrology.decision import decide

SPEC = {"unit": "mm", "expanded_uncertainty": "0.02", "lower": "9.95", "upper": "10.05"}


@pytest.mark.parametrize(("value", "verdict"), [
    ("9.94", "fail"), ("9.95", "pass"), ("10.00", "pass"), ("10.05", "pass"), ("10.06", "fail"),
])
def test_simple_acceptance(value, verdict):
    assert decide(value=value, rule="simple", **SPEC).verdict == verdict


@pytest.mark.parametrize(("value", "verdict"), [
    ("9.96", "fail"), ("9.97", "pass"),     # lower acceptance limit 9.97 is inclusive
    ("10.03", "pass"), ("10.04", "fail"),   # upper acceptance limit 10.03 is inclusive
])
def test_binary_guard_band_at_both_acceptance_limits(value, verdict):
    d = decide(value=value, rule="guarded", r="1", **SPEC)
    assert d.verdict == verdict
    assert (d.acceptance_lower, d.acceptance_upper) == (Decimal("9.97"), Decimal("10.03"))
    assert d.guard_band == Decimal("0.02")


@pytest.mark.parametrize(("value", "verdict"), [
    ("9.92", "fail"), ("9.93", "conditional fail"), ("9.94", "conditional fail"),
    ("9.95", "conditional pass"), ("9.96", "conditional pass"), ("9.97", "pass"),
    ("10.03", "pass"), ("10.04", "conditional pass"), ("10.05", "conditional pass"),
    ("10.06", "conditional fail"), ("10.07", "conditional fail"), ("10.08", "fail"),
])
def test_non_binary_at_both_limits(value, verdict):
    assert decide(value=value, rule="non-binary", r="1", **SPEC).verdict == verdict


def test_one_sided_limit_and_guard_factor():
    d = decide(value="5.1", unit="%", expanded_uncertainty="0.2", upper="5.5", rule="guarded",
               r="2")
    assert d.verdict == "pass" and d.acceptance_upper == Decimal("5.1") and d.lower is None
    assert decide(value="5.2", unit="%", expanded_uncertainty="0.2", upper="5.5",
                  rule="guarded", r="2").verdict == "fail"


def test_probability_of_false_accept():
    centre = decide(value="10.00", rule="simple", **SPEC)
    assert centre.probability_of_false_accept == pytest.approx(5.733e-7, rel=1e-3)  # 2Φ(−5)
    on_limit = decide(value="10.05", rule="simple", **SPEC)
    assert on_limit.probability_of_false_accept == pytest.approx(0.5)
    guarded = decide(value="10.03", rule="guarded", **SPEC)  # 2 standard uncertainties inside
    assert guarded.probability_of_false_accept == pytest.approx(0.02275, abs=1e-5)


def test_bilingual_statements():
    d = decide(value="10.04", rule="non-binary", **SPEC)
    assert "有条件合格" in d.statement_zh and "ILAC" not in d.statement_zh
    assert "conditional pass" in d.statement_en and "ILAC-G8:09/2019 4.2.3" in d.statement_en
    assert "w = 1·U = 0.02 mm" in d.statement_en
    passed = decide(value="10.00", rule="simple", **SPEC)
    assert "结论：合格" in passed.statement_zh and "probability of false accept" in \
        passed.statement_en
    assert "不合格" in decide(value="11", rule="simple", **SPEC).statement_zh
    data = passed.to_json()
    assert data["verdict_zh"] == "合格" and data["rule"] == "simple"
    assert data["parameters"]["w"] == "0"


def test_units_of_limits_and_uncertainty_are_converted():
    d = decide(value="10.03", unit="mm", expanded_uncertainty="20", uncertainty_unit="µm",
               lower="9950", upper="10050", limit_unit="μm", rule="guarded")
    assert d.verdict == "pass" and d.expanded_uncertainty == Decimal("0.020")
    t = decide(value="20.25", unit="℃", expanded_uncertainty="0.2", uncertainty_unit="K",
               lower="293.15", upper="293.65", limit_unit="K", rule="guarded")
    assert t.verdict == "pass" and t.expanded_uncertainty == Decimal("0.2")
    with pytest.raises(UnitMismatch) as exc:
        decide(value="1", unit="mm", expanded_uncertainty="1", upper="2", limit_unit="g")
    assert "'g'" in exc.value.message and "'mm'" in exc.value.message


@pytest.mark.parametrize(("args", "fragments"), [
    # 298.65 K is exactly 25.5 ℃: no "25.5000000000000000000000000 ℃".
    ({"value": "25.5", "unit": "℃", "expanded_uncertainty": "200", "uncertainty_unit": "mK",
      "upper": "298.65", "limit_unit": "K", "rule": "non-binary"},
     ["Measured 25.5 ℃ (U = 0.2 ℃, k = 2)", "tolerance [−∞, 25.5] ℃",
      "acceptance [−∞, 25.3] ℃", "w = 1·U = 0.2 ℃"]),
    # 80 °F is 26.666… ℃: two places more than the value's, never 28 digits.
    ({"value": "25.5", "unit": "℃", "expanded_uncertainty": "0.2", "upper": "80",
      "limit_unit": "°F", "rule": "guarded"},
     ["tolerance [−∞, 26.667] ℃", "acceptance [−∞, 26.467] ℃"]),
    # A U of 0.3 °F (0.1666… ℃) times r = 0.333 leaves 0.0555000000000000000000000111.
    ({"value": "25.5", "unit": "℃", "expanded_uncertainty": "0.3", "uncertainty_unit": "°F",
      "upper": "30", "rule": "guarded", "r": "0.333"},
     ["U = 0.167 ℃", "w = 0.333·U = 0.0555 ℃", "acceptance [−∞, 29.9445] ℃",
      "tolerance [−∞, 30] ℃"]),
    # Numbers given in the value's unit keep their digits; derived ones drop trailing zeros.
    ({"value": "10.04", "unit": "mm", "expanded_uncertainty": "0.020", "lower": "0.9950",
      "upper": "1.005", "limit_unit": "cm", "rule": "guarded", "r": "0.5"},
     ["U = 0.020 mm", "w = 0.5·U = 0.01 mm", "tolerance [9.95, 10.05] mm",
      "acceptance [9.96, 10.04] mm"]),
])
def test_statements_print_the_digits_that_matter(args, fragments):
    d = decide(**args)
    for fragment in fragments:
        assert fragment in d.statement_en
        for number in re.findall(r"\d[\d.]*", fragment):
            assert number in d.statement_zh
    assert "0000000" not in d.statement_en and "9999999" not in d.statement_en


@pytest.mark.parametrize(("args", "field"), [
    ({"value": None}, "value"), ({"value": "abc"}, "value"), ({"unit": "bogons"}, "unit"),
    ({"expanded_uncertainty": "-1"}, "expanded_uncertainty"),
    ({"lower": None, "upper": None}, "lower"), ({"lower": "11"}, "lower"),
    ({"rule": "lenient"}, "rule"), ({"rule": "guarded", "r": "-1"}, "r"),
    ({"rule": "guarded", "r": "3"}, "r"), ({"k": "0"}, "k"), ({"value": True}, "value"),
])
def test_invalid_input_names_the_field(args, field):
    with pytest.raises(InvalidInput) as exc:
        decide(**{"value": "10", "rule": "simple", **SPEC, **args})
    assert exc.value.field == field
