"""The overall conclusion of a test report (检验结论), derived from the item verdicts.

RB/T 214 4.5.20 and ISO/IEC 17025 7.8.6: where a statement of conformity is made, the report
states it unambiguously, against the product standard (判定依据), with the decision rule
applied. The wording follows the verdicts alone; a signatory who words it otherwise gives a
reason, which the approval's audit event keeps (:func:`lims.samples.services.approve_sample`).

Pure: imports neither Flask nor a Session.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

PASS, FAIL = "pass", "fail"
CONDITIONAL_PASS, CONDITIONAL_FAIL = "conditional pass", "conditional fail"
UNDECIDED = "undecided"

# Outcomes, from the most to the least severe.
NONCONFORMING = "nonconforming"
CONDITIONALLY_NONCONFORMING = "conditionally nonconforming"
PENDING = "pending"
CONDITIONALLY_CONFORMING = "conditionally conforming"
CONFORMING = "conforming"
DATA_ONLY = "data only"


@dataclasses.dataclass(frozen=True)
class Conclusion:
    """``outcome`` is one of the outcome constants; ``text`` the bilingual statement."""

    outcome: str
    text: str


def _names(items: Sequence[tuple[str, str | None]], verdict: str | None) -> list[str]:
    return list(dict.fromkeys(name for name, v in items if v == verdict))


def _zh(names: Iterable[str]) -> str:
    return "、".join(names)


def _en(names: Iterable[str]) -> str:
    return ", ".join(names)


def derive(items: Sequence[tuple[str, str | None]], *, standard: str = "",
           rule: str = "simple") -> Conclusion:
    """Derive the overall conclusion from ``(item, verdict)`` pairs.

    Any fail makes the sample nonconforming, naming every failing item. Under the non-binary
    rule (ILAC-G8:09/2019 4.2.3) a conditional fail without a fail gives a conditional
    nonconformity and conditional passes a conditional conformity, naming the items. An item
    still undecided leaves the conclusion pending. With no verdict at all the report gives data
    only. Items without a requirement (verdict None) are named as data only beside a verdict.

    :param standard: the product standard judged against (判定依据); "" names "the stated
        requirements".
    :param rule: the decision rule agreed for the request (``simple``, ``guarded``,
        ``non-binary``); named when the conclusion is conditional.
    """
    std_zh = standard or "所列技术"
    std_en = standard or "the stated requirements"
    judged = [(n, v) for n, v in items if v is not None]
    if not judged:
        return Conclusion(DATA_ONLY, "仅提供检验数据，不作符合性判定。/ Test data only; no "
                                     "statement of conformity is made.")
    unjudged = _names(items, None)
    tail = (f"（{_zh(unjudged)} 仅提供数据）" if unjudged else "",
            f" ({_en(unjudged)}: data only)" if unjudged else "")
    fails = _names(items, FAIL)
    cfails = _names(items, CONDITIONAL_FAIL)
    cpasses = _names(items, CONDITIONAL_PASS)
    pending = _names(items, UNDECIDED)
    if fails:
        listed = fails + cfails
        return Conclusion(NONCONFORMING,
                          f"经检验，所检项目不符合 {std_zh} 要求。不合格项目：{_zh(listed)}。"
                          f"/ The items tested do not conform to {std_en}. Nonconforming "
                          f"items: {_en(listed)}.")
    if pending:
        return Conclusion(PENDING, f"结论待定：{_zh(pending)} 的符合性尚未判定。/ Conclusion "
                                   f"pending: the conformity of {_en(pending)} is undecided.")
    rule_zh, rule_en = ("按非二元判定规则", "under the non-binary decision rule") \
        if rule == "non-binary" else ("按判定规则", "under the decision rule")
    if cfails:
        return Conclusion(CONDITIONALLY_NONCONFORMING,
                          f"经检验，{rule_zh}，所检项目有条件不符合 {std_zh} 要求"
                          f"（有条件不合格项目：{_zh(cfails)}）{tail[0]}。/ {rule_en.capitalize()}, "
                          f"the items tested conditionally do not conform to {std_en} "
                          f"(conditionally nonconforming: {_en(cfails)}){tail[1]}.")
    if cpasses:
        return Conclusion(CONDITIONALLY_CONFORMING,
                          f"经检验，{rule_zh}，所检项目有条件符合 {std_zh} 要求"
                          f"（有条件合格项目：{_zh(cpasses)}）{tail[0]}。/ {rule_en.capitalize()}, "
                          f"the items tested conditionally conform to {std_en} (conditionally "
                          f"conforming: {_en(cpasses)}){tail[1]}.")
    return Conclusion(CONFORMING, f"经检验，所检项目符合 {std_zh} 要求{tail[0]}。/ The items "
                                  f"tested conform to {std_en}{tail[1]}.")
