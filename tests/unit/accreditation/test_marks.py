"""The scope rules: which items are inside the accredited scope and which marks a document
carries (RB/T 214 4.5.20; CNAS-R01). Pure: no database."""

from __future__ import annotations

import datetime as dt

import pytest

from lims.accreditation.marks import (
    CMA,
    CNAS,
    FOOTNOTE,
    Accreditation,
    Entry,
    Item,
    decide,
    method_key,
)

DAY = dt.date(2026, 11, 26)
CERTS = (Accreditation(CMA, "231234567890", dt.date(2024, 1, 1), dt.date(2029, 12, 31)),
         Accreditation(CNAS, "CNAS L1234", dt.date(2025, 6, 1), dt.date(2031, 5, 31)))
MASS = Entry(1, "GB/T 26497-2011", "质量", frozenset({CMA, CNAS}), "mass", "0.1", "200", "g")
LEAD = Entry(2, "GB 5009.12-2017", "铅", frozenset({CMA}), "mass_fraction", "0.005", "10",
             "mg/kg")
ALL = Entry(3, "GB/T 3921-2008", "", frozenset({CMA, CNAS}))  # 全部参数, no range
TEMP = Entry(4, "JJF 1171-2007", "温度", frozenset({CNAS}), "temperature", "-40", "150", "℃")
ENTRIES = (MASS, LEAD, ALL, TEMP)


def one(item: Item, entries=ENTRIES, certs=CERTS, on=DAY):
    return decide([item], entries, certs, on=on)


@pytest.mark.parametrize(("value", "unit", "inside"), [
    ("0.1", "g", True), ("200", "g", True),            # both bounds belong to the range
    ("0.099", "g", False), ("200.001", "g", False),
    ("200000", "mg", True), ("200001", "mg", False),   # converted within the kind
    ("0.2", "kg", True), ("0.21", "kg", False),
    ("1.0×10²", "g", True),                            # scientific notation
])
def test_a_value_is_inside_the_range_bounds_included_after_conversion(value, unit, inside):
    d = one(Item("GB/T 26497-2011", "质量", value, unit))
    assert d.verdicts[0].in_scope is inside
    assert d.marks == ((CMA, CNAS) if inside else ())
    assert d.footnote == ("" if inside else FOOTNOTE)
    if not inside:
        assert "outside the range 0.1 … 200 g" in d.verdicts[0].reason


def test_a_unit_of_another_kind_is_outside_and_says_why():
    d = one(Item("GB/T 26497-2011", "质量", "5", "mm"))
    assert not d.verdicts[0].in_scope
    assert "mm" in d.verdicts[0].reason and "mass" in d.verdicts[0].reason
    # A characteristic declared of another kind does not match, whatever its unit.
    assert not one(Item("GB/T 26497-2011", "质量", "5", "g", kind="force")).verdicts[0].in_scope


def test_temperatures_convert_as_absolute_temperatures():
    inside = one(Item("JJF 1171-2007", "温度", "423.15", "K"))
    outside = one(Item("JJF 1171-2007", "温度", "423.16", "K"))
    assert inside.verdicts[0].schemes == {CNAS} and inside.marks == (CNAS,)
    assert not outside.verdicts[0].in_scope and outside.marks == ()
    assert one(Item("JJF 1171-2007", "温度", "-40.0", "℃")).marks == (CNAS,)


def test_an_unknown_method_or_parameter_is_outside():
    d = one(Item("GB/T 99999-2020", "质量", "5", "g"))
    assert not d.verdicts[0].in_scope and "GB/T 99999-2020" in d.verdicts[0].reason
    d = one(Item("GB/T 26497-2011", "长度", "5", "mm"))
    assert not d.verdicts[0].in_scope and "长度" in d.verdicts[0].reason
    # Another edition of a listed standard is not listed: the scope names the year.
    assert not one(Item("GB/T 26497-2022", "质量", "5", "g")).verdicts[0].in_scope


def test_method_codes_match_across_width_dashes_and_spaces():
    assert method_key("ＧＢ／Ｔ 26497—2011") == method_key("GB/T  26497-2011")
    assert one(Item("gb/t 26497-2011", "质量", "5", "g")).marks == (CMA, CNAS)


def test_all_parameters_of_a_method_and_values_without_a_number():
    assert one(Item("GB/T 3921-2008", "耐皂洗色牢度 变色", "4-5", "级")).marks == (CMA, CNAS)
    # 未检出 and a bound: judged by the method and parameter, and by the bound.
    assert one(Item("GB 5009.12-2017", "铅", "未检出 (< 0.005 mg/kg)", "")).marks == (CMA,)
    assert one(Item("GB 5009.12-2017", "铅", "<0.005", "mg/kg")).marks == (CMA,)
    assert one(Item("GB 5009.12-2017", "铅", "<0.004", "mg/kg")).marks == ()
    # Within the kind: 0.001 %(m/m) is 10 mg/kg, the upper bound; 0.0011 % is 11 mg/kg.
    assert one(Item("GB 5009.12-2017", "铅", "0.001", "%(m/m)")).marks == (CMA,)
    assert one(Item("GB 5009.12-2017", "铅", "0.0011", "%(m/m)")).marks == ()


def test_marks_need_every_item_inside_that_schemes_scope():
    items = [Item("GB/T 26497-2011", "质量", "5", "g"), Item("GB 5009.12-2017", "铅", "1", "mg/kg")]
    d = decide(items, ENTRIES, CERTS, on=DAY)
    assert [v.schemes for v in d.verdicts] == [{CMA, CNAS}, {CMA}]
    assert d.marks == (CMA,) and d.numbers == {CMA: "231234567890"} and d.footnote == ""
    # One item outside every scope: no mark at all, "*" on that item only.
    d = decide([*items, Item("GB/T 99999-2020", "x", "1", "g")], ENTRIES, CERTS, on=DAY)
    assert d.marks == () and [v.in_scope for v in d.verdicts] == [True, True, False]
    assert d.footnote == FOOTNOTE


def test_no_item_in_scope_and_no_items_carry_no_mark():
    d = decide([Item("X 1-2000", "a", "1", "g"), Item("X 1-2000", "b", "1", "g")], ENTRIES,
               CERTS, on=DAY)
    assert d.marks == () and not any(v.in_scope for v in d.verdicts)
    assert decide([], ENTRIES, CERTS, on=DAY).marks == ()


def test_a_certificate_counts_only_on_the_days_it_is_valid():
    item = Item("GB/T 26497-2011", "质量", "5", "g")
    assert one(item, on=dt.date(2025, 5, 31)).marks == (CMA,)      # before CNAS was granted
    assert one(item, on=dt.date(2031, 5, 31)).marks == (CNAS,)     # CMA expired, CNAS last day
    late = one(item, on=dt.date(2031, 6, 1))
    assert late.marks == () and not late.verdicts[0].in_scope
    assert "not valid" in late.verdicts[0].reason
    # A lab with no CNAS accreditation never prints the CNAS mark.
    assert one(item, certs=CERTS[:1]).marks == (CMA,)
