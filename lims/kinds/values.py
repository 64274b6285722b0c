"""Values as labs write them, kept as entered and interpreted for the decision.

======================  ===================================  =========================
written                 meaning                              type
======================  ===================================  =========================
``100.00``, ``-0.5``    a number (``−`` U+2212 is a minus)   ``number``
``1.5E3``, ``1.5×10³``  scientific notation (``x``, ``*``,   ``number``
``1.5×10^3``            ``10^-3``, ``10⁻³``)
``<0.01``, ``≤ 0.01``   below / at most a bound (censored)   ``censored``
``> 100``, ``≥100``     above / at least a bound             ``censored``
``未检出``, ``ND``       not detected: below the LOD          ``not_detected``
``4``, ``4-5``          a grade (kind ``grade``): "4-5" is   ``grade``
                        between 4 and 5
``阴性``, ``合格`` …     a qualitative value (kind            ``qualitative``
                        ``qualitative``), from a closed list
======================  ===================================  =========================

Pure: imports neither Flask nor a Session.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal, InvalidOperation

from lims.errors import InvalidInput, msg
from lims.kinds.registry import GRADE, QUALITATIVE, Kind

NUMBER, CENSORED, NOT_DETECTED = "number", "censored", "not_detected"

#: Qualitative values: each pair is (conforming-looking, other); the first names the pair.
#: English spellings are accepted for the Chinese value.
QUALITATIVE_PAIRS: tuple[tuple[str, str], ...] = (
    ("阴性", "阳性"), ("未检出", "检出"), ("合格", "不合格"), ("符合", "不符合"))
QUALITATIVE_ALIASES = {
    "negative": "阴性", "neg": "阴性", "positive": "阳性", "pos": "阳性",
    "not detected": "未检出", "nd": "未检出", "n.d.": "未检出", "detected": "检出",
    "pass": "合格", "fail": "不合格", "conforms": "符合", "does not conform": "不符合",
}
NOT_DETECTED_WORDS = {"未检出", "nd", "n.d.", "n.d", "not detected", "<lod"}

_RELATIONS = {"<": "<", "＜": "<", "<=": "≤", "≤": "≤", "≦": "≤", "⩽": "≤",
              ">": ">", "＞": ">", ">=": "≥", "≥": "≥", "≧": "≥", "⩾": "≥"}
_CENSOR = re.compile(r"^(<=|>=|[<＜≤≦⩽>＞≥≧⩾])\s*(.+)$")
_PLAIN = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_SUPER = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SCIENTIFIC = re.compile(
    r"^(?:(?P<m>[+-]?(\d+(\.\d*)?|\.\d+))\s*[×xX*·]\s*)?10\s*"
    r"(?:\^\s*(?P<e>[+-]?\d{1,3})|(?P<s>[⁺⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]{1,3}))$")
_GRADE = re.compile(r"^(\d{1,2})(?:\s*[-–—~～]\s*(\d{1,2}))?$")


@dataclasses.dataclass(frozen=True)
class Value:
    """A value as entered and what it says.

    ``number`` is the number of a ``number`` or ``grade`` (4.5 for "4-5") and the bound of a
    ``censored`` value (None when not detected: the bound is the characteristic's LOD);
    ``relation`` is ``<``, ``≤``, ``>`` or ``≥`` for censored and not-detected values;
    ``label`` is the qualitative value in its Chinese form.
    """

    text: str
    type: str
    number: Decimal | None = None
    relation: str | None = None
    label: str | None = None


def written(value: object, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInput(msg('value must be written as text, e.g. "100.00", "<0.01", "未检出"'),
                           field=field)
    s = str(value).strip()
    if not s:
        raise InvalidInput(msg("a value is required"), field=field)
    if len(s) > 40:
        raise InvalidInput(msg("value is longer than 40 characters"), field=field)
    if not s.isprintable():
        raise InvalidInput(msg("value contains a control character or invalid text"), field=field)
    return s


def number(text: object, *, field: str = "value") -> Decimal:
    """A number in plain or scientific notation (``1.5×10³``, ``1.5E3``, ``−5``), exactly.

    :raises InvalidInput: not such a number, or beyond 10^±30.
    """
    s = written(text, field).replace("\u2212", "-").replace("＋", "+")
    m = _SCIENTIFIC.match(s)
    if m:
        exponent = m["e"] if m["e"] is not None else m["s"].translate(_SUPER)
        digits = f"{m['m'] or '1'}E{int(exponent)}"
    elif _PLAIN.match(s):
        digits = s
    else:
        raise InvalidInput(msg("%(value)r is not a number", value=s), field=field)
    try:
        result = Decimal(digits)
    except InvalidOperation as exc:  # pragma: no cover - the patterns already guard this
        raise InvalidInput(msg("%(value)r is not a number", value=s), field=field) from exc
    # No lab value needs more than 10^±30 of its unit; beyond that, Decimal arithmetic
    # (means, conversions) overflows or underflows its context.
    if result and not -30 <= result.adjusted() <= 30:
        raise InvalidInput(msg("%(value)r is out of range (10^-30 … 10^30)", value=s), field=field)
    return result


def grade(text: object, *, field: str = "value") -> Decimal:
    """A grade as a number on its ordinal scale: "4" is 4, "4-5" (between 4 and 5) is 4.5.

    :raises InvalidInput: not a grade, or a range that is not two neighbouring grades.
    """
    s = written(text, field)
    if s.endswith("级"):
        s = s[:-1].strip()
    m = _GRADE.match(s)
    if not m:
        raise InvalidInput(msg('%(value)r is not a grade (e.g. "4" or "4-5")', value=s), field=field)
    low = int(m[1])
    if m[2] is None:
        return Decimal(low)
    if int(m[2]) != low + 1:
        raise InvalidInput(msg('%(value)r: a grade between two grades names neighbours, e.g. "4-5"',
                               value=s), field=field)
    return Decimal(low) + Decimal("0.5")


def qualitative(text: object, *, field: str = "value", allowed: tuple[str, ...] = ()) -> str:
    """The Chinese form of a qualitative value from the closed list.

    :param allowed: the values the characteristic allows (default: every known value).
    :raises InvalidInput: not one of them.
    """
    s = written(text, field)
    label = QUALITATIVE_ALIASES.get(s.lower(), s)
    choices = allowed or tuple(v for pair in QUALITATIVE_PAIRS for v in pair)
    if label not in choices:
        raise InvalidInput(msg("%(value)r is not one of %(choices)s", value=s,
                               choices=", ".join(choices)), field=field)
    return label


def pair_of(label: str) -> tuple[str, str]:
    """The pair of qualitative values a value belongs to (阴性 → 阴性/阳性)."""
    for pair in QUALITATIVE_PAIRS:
        if label in pair:
            return pair
    raise InvalidInput(msg("%(value)r is not a qualitative value", value=label), field="expected")


def parse(value: object, kind: Kind, *, field: str = "value",
          allowed: tuple[str, ...] = ()) -> Value:
    """Read a result value written for a characteristic of ``kind``.

    :raises InvalidInput: the value is not written as that kind's values are (a grade for a
        mass, a number for a qualitative characteristic, "1,5").
    """
    s = written(value, field)
    if kind.values == QUALITATIVE:
        return Value(s, QUALITATIVE, label=qualitative(s, field=field, allowed=allowed))
    if kind.values == GRADE:
        return Value(s, GRADE, number=grade(s, field=field))
    if s.lower() in NOT_DETECTED_WORDS:
        return Value(s, NOT_DETECTED, relation="<")
    m = _CENSOR.match(s)
    if m:
        return Value(s, CENSORED, number=number(m[2], field=field), relation=_RELATIONS[m[1]])
    try:
        return Value(s, NUMBER, number=number(s, field=field))
    except InvalidInput:
        if s in QUALITATIVE_ALIASES.values() or s.lower() in QUALITATIVE_ALIASES:
            raise InvalidInput(msg("%(value)r is a qualitative value; this characteristic is a "
                                   "%(kind)s and takes a number", value=s, kind=kind.id),
                               field=field) from None
        raise
