"""Which customers look like the same firm (lims.samples.duplicates)."""

from __future__ import annotations

import pytest

from lims.samples.duplicates import Party, credit_code_error, find, match, normalise

VALID_CODE = "91350100M000100Y43"  # GB 32100-2015's check character is right


@pytest.mark.parametrize(("a", "b"), [
    ("湖北长江电缆有限公司", "湖北长江电缆有限责任公司"),
    ("湖北长江电缆有限公司", " 湖北 长江电缆 有限公司 "),
    ("湖北长江电缆（武汉）有限公司", "湖北长江电缆(武汉)有限公司"),   # full-width brackets
    ("ＡＣＭＥ纺织有限公司", "ACME纺织有限公司"),                   # full-width letters
    ("ACME Textiles Co., Ltd.", "acme textiles"),
    ("华为技术股份有限公司", "华为技术有限公司"),
])
def test_the_same_firm_written_differently_has_the_same_name(a, b):
    assert normalise(a) == normalise(b)
    assert match(Party(None, a), Party(1, b)) == ("same name",)


def test_a_typo_or_the_same_initials_is_a_similar_name():
    assert match(Party(None, "湖北长江电缆有限公司"), Party(1, "湖北长江电览有限公司")) == (
        "similar name",)
    assert match(Party(None, "长江电缆"), Party(1, "长江点缆")) == ("similar name",)  # cjdl


@pytest.mark.parametrize(("a", "b"), [
    ("长江电缆有限公司", "黄河电缆有限公司"),
    ("ACME Textiles", "Zenith Instruments"),
    ("有限公司", "有限责任公司"),  # nothing but a legal form is no name to compare
])
def test_different_firms_do_not_match(a, b):
    assert match(Party(None, a), Party(1, b)) == ()


def test_a_shared_credit_code_matches_whatever_the_names():
    found = match(Party(None, "新名字有限公司", VALID_CODE.lower()),
                  Party(1, "旧名字有限公司", f" {VALID_CODE} "))
    assert found == ("credit code",)
    assert match(Party(None, "甲", ""), Party(1, "乙", "")) == ()  # no code is no match


def test_find_skips_the_record_itself_and_puts_the_strongest_first():
    others = [Party(1, "长江电览有限公司"), Party(2, "长江电缆有限责任公司"),
              Party(3, "别的公司", VALID_CODE), Party(4, "长江电缆有限公司")]
    found = find(Party(4, "长江电缆有限公司", VALID_CODE), others)
    assert [m.party.id for m in found] == [3, 2, 1]
    assert [m.reasons for m in found] == [("credit code",), ("same name",), ("similar name",)]


@pytest.mark.parametrize(("code", "error"), [
    (VALID_CODE, None),
    ("91350100M000100Y4", "18 characters"),
    ("91350100M000100Y4I", "capital letters"),
    ("91350100M000100Y44", "check character"),
])
def test_credit_codes_are_checked(code, error):
    found = credit_code_error(code)
    assert (found is None) if error is None else (error in (found or ""))
