"""Likely duplicates among customers: the same firm typed twice (湖北长江电缆有限公司 and
"湖北长江电缆有限责任公司 ", or with full-width brackets), or sharing a credit code.

Pure functions, no database: :func:`lims.samples.refdata.customer_duplicates` feeds them the
customers on record. A match is a warning that a person confirms or heeds, never a refusal:
two firms may really share a name in different provinces.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import unicodedata
from collections.abc import Iterable

from lims.errors import msg
from lims.samples.names import initials

# Legal-form words that do not tell firms apart; longest first, so that 有限责任公司 goes
# before 有限公司 and 公司 (GB/T 公司法 forms, and their usual English renderings).
LEGAL_FORMS = (
    "股份有限公司", "有限责任公司", "有限公司", "集团公司", "总公司", "分公司", "公司", "集团",
    "厂", "companylimited", "colimited", "coltd", "limited", "ltd", "inc", "corporation",
    "corp", "company", "co", "gmbh", "llc",
)
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
# GB 32100-2015: 18 characters from this alphabet (no I, O, S, V, Z), the last a check digit.
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
SIMILAR = 0.85           # a typo in a long name: 湖北长江电缆 / 湖北长江电览
SIMILAR_INITIALS = 0.6   # with the same pinyin initials: 长江电缆 / 长江点缆


@dataclasses.dataclass(frozen=True)
class Party:
    """What the matching needs of a customer."""

    id: int | None
    name: str
    credit_code: str = ""


@dataclasses.dataclass(frozen=True)
class Match:
    party: Party
    reasons: tuple[str, ...]  # "credit code", "same name", "similar name"


def normalise(name: str) -> str:
    """The name as compared: NFKC (full-width → half-width: （Ａ） → (A)), lower case, no
    spaces or punctuation, without a trailing legal form ("有限责任公司", "Co., Ltd.")."""
    core = _NON_WORD.sub("", unicodedata.normalize("NFKC", name)).lower()
    changed = True
    while changed:  # "Co., Ltd." leaves "coltd"; "…有限公司" then "…公司" never both
        changed = False
        for form in LEGAL_FORMS:
            if core.endswith(form) and len(core) > len(form):
                core, changed = core[: -len(form)], True
                break
    return core


def normalise_credit_code(code: str) -> str:
    return _NON_WORD.sub("", unicodedata.normalize("NFKC", code)).upper()


def credit_check_character(body: str) -> str:
    """The check character of a unified social credit code's first 17 characters
    (GB 32100-2015: weights 3^i mod 31, the alphabet without I, O, S, V, Z)."""
    total = sum(CREDIT_ALPHABET.index(ch) * pow(3, i, 31) for i, ch in enumerate(body))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def credit_code_error(code: str) -> str | None:
    """Why a unified social credit code is not valid (length, alphabet, check digit of
    GB 32100-2015), or None when it is."""
    if len(code) != 18:
        return msg("a unified social credit code has 18 characters")
    if any(ch not in CREDIT_ALPHABET for ch in code):
        return msg("a unified social credit code has digits and capital letters other than "
                   "I, O, S, V, Z")
    if credit_check_character(code[:17]) != code[17]:
        return msg("the check character of the unified social credit code does not match")
    return None


def match(candidate: Party, other: Party) -> tuple[str, ...]:
    """Why ``other`` is likely the same firm as ``candidate`` (empty: it is not)."""
    reasons: list[str] = []
    code = normalise_credit_code(candidate.credit_code)
    if code and code == normalise_credit_code(other.credit_code):
        reasons.append("credit code")
    a, b = normalise(candidate.name), normalise(other.name)
    if a and a == b:
        reasons.append("same name")
    elif a and b:
        ratio = difflib.SequenceMatcher(None, a, b).ratio()
        if ratio >= SIMILAR or (ratio >= SIMILAR_INITIALS and initials(a) == initials(b)):
            reasons.append("similar name")
    return tuple(reasons)


def find(candidate: Party, others: Iterable[Party]) -> list[Match]:
    """The likely duplicates of ``candidate`` among ``others`` (itself skipped by id), the
    strongest first: a shared credit code, then the same name, then a similar one."""
    order = {"credit code": 0, "same name": 1, "similar name": 2}
    found = [Match(o, reasons) for o in others
             if o.id is None or o.id != candidate.id
             for reasons in [match(candidate, o)] if reasons]
    return sorted(found, key=lambda m: (min(order[r] for r in m.reasons), m.party.name))
