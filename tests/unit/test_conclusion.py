"""The overall conclusion (检验结论) derived from the item verdicts and the decision rule."""

from __future__ import annotations

import pytest

from lims.reports.conclusion import (
    CONDITIONALLY_CONFORMING,
    CONDITIONALLY_NONCONFORMING,
    CONFORMING,
    DATA_ONLY,
    NONCONFORMING,
    PENDING,
    derive,
)

STD = "GB 18401-2010"


def test_all_pass_conforms_to_the_product_standard():
    c = derive([("甲醛含量", "pass"), ("pH 值", "pass")], standard=STD)
    assert c.outcome == CONFORMING
    assert c.text == ("经检验，所检项目符合 GB 18401-2010 要求。/ The items tested conform to "
                      "GB 18401-2010.")


def test_any_fail_lists_every_failing_item_once():
    c = derive([("A", "fail"), ("B", "pass"), ("B", "fail"), ("C", "fail"), ("A", "fail")],
               standard=STD)
    assert c.outcome == NONCONFORMING
    assert "不符合 GB 18401-2010 要求" in c.text and "不合格项目：A、B、C。" in c.text
    assert "Nonconforming items: A, B, C." in c.text


def test_no_verdict_at_all_is_data_only():
    c = derive([("A", None), ("B", None)], standard=STD)
    assert c.outcome == DATA_ONLY and "仅提供检验数据" in c.text and "data only" in c.text.lower()
    assert derive([]).outcome == DATA_ONLY


def test_items_without_a_requirement_are_named_as_data_only():
    c = derive([("A", "pass"), ("颜色", None)], standard=STD)
    assert c.outcome == CONFORMING and "颜色 仅提供数据" in c.text and "(颜色: data only)" in c.text


def test_without_a_product_standard_the_stated_requirements():
    c = derive([("A", "pass")])
    assert "the stated requirements" in c.text


@pytest.mark.parametrize(("verdicts", "outcome", "needle"), [
    (["conditional pass", "pass"], CONDITIONALLY_CONFORMING, "有条件合格项目：I0"),
    (["conditional fail", "conditional pass"], CONDITIONALLY_NONCONFORMING,
     "有条件不合格项目：I0"),
    (["conditional fail", "fail"], NONCONFORMING, "不合格项目：I1、I0"),
    (["undecided", "pass"], PENDING, "I0 的符合性尚未判定"),
    (["undecided", "fail"], NONCONFORMING, "不合格项目：I1"),
])
def test_non_binary_and_undecided(verdicts, outcome, needle):
    c = derive([(f"I{i}", v) for i, v in enumerate(verdicts)], standard=STD, rule="non-binary")
    assert c.outcome == outcome
    assert needle in c.text, c.text


def test_non_binary_names_the_rule():
    c = derive([("A", "conditional pass")], standard=STD, rule="non-binary")
    assert "按非二元判定规则" in c.text and "Under the non-binary decision rule" in c.text
