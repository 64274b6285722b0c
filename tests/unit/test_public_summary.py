"""The customer's name on the public verification page, shown only in part."""

from __future__ import annotations

import pytest

from lims.reports.public import mask


@pytest.mark.parametrize(("name", "shown"), [
    ("湖北某某有限公司", "湖北****公司"),
    ("ACME Textiles", "AC*********es"),
    ("某某公司有", "某某*司有"),
    ("某某公司", "某**司"),
    ("某公司", "某*司"),
    ("张三", "张*"),
    ("张", "*"),
    ("", ""),
    ("  湖北某某有限公司 ", "湖北****公司"),
])
def test_the_middle_is_masked_and_at_least_one_character(name: str, shown: str) -> None:
    assert mask(name) == shown
    if name.strip():
        assert "*" in mask(name) and len(mask(name)) == len(name.strip())
