"""Characteristics declared with a kind, and results read, checked and judged against them.

Pure: imports neither Flask nor a Session. :func:`declare` validates what a characteristic
says (kind, unit, limits, LOD, LOQ, the qualitative value required); :func:`evaluate` reads a
result as the technician wrote it, accepts it only in a unit of the characteristic's kind and
within the kind's value domain, converts it only within the kind, and judges it by
:mod:`lims.metrology.decision` (the one conformity rule).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any, Protocol

from lims.errors import InvalidInput, UnitMismatch
from lims.kinds import values
from lims.kinds.registry import (
    GRADE,
    NUMBER,
    QUALITATIVE,
    Kind,
    KindUnit,
    convert,
    domain_bounds,
    get,
    infer,
    resolve,
)
from lims.metrology.decision import verdict_of, verdict_of_label, verdict_of_range


class CharacteristicLike(Protocol):
    kind: str
    unit: str
    unit_text: str
    lower_limit: str | None
    upper_limit: str | None
    lod: str | None
    loq: str | None
    expected: str | None


@dataclasses.dataclass(frozen=True)
class Declared:
    """A characteristic's columns, validated: limits, LOD and LOQ as written."""

    kind: str
    unit: str
    unit_text: str
    lower_limit: str | None
    upper_limit: str | None
    lod: str | None
    loq: str | None
    expected: str | None


@dataclasses.dataclass(frozen=True)
class Evaluated:
    value: values.Value
    unit: KindUnit
    conformity: str | None


def _given(raw: Any) -> bool:
    return raw not in (None, "")


def declare(*, unit: Any, kind: Any = None, lower_limit: Any = None, upper_limit: Any = None,
            lod: Any = None, loq: Any = None, expected: Any = None,
            prefix: str = "") -> Declared:
    """Validate a characteristic; every error names its field (``prefix.unit`` …).

    :raises InvalidInput: an unknown kind or unit; a unit that names several kinds without
        ``kind`` (``K``, ``℃``); a unit not of the kind (:class:`UnitMismatch`); a limit that
        is not a value of the kind or outside its domain; lower above upper; LOD above LOQ.
    """
    def f(name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    k = infer(unit, field=f("unit"), kind_field=f("kind")) if not _given(kind) else \
        get(kind, field=f("kind"))
    ku = resolve(k, unit, field=f("unit"))
    if k.values == QUALITATIVE:
        for name, raw in (("lower_limit", lower_limit), ("upper_limit", upper_limit),
                          ("lod", lod), ("loq", loq)):
            if _given(raw):
                raise InvalidInput("a qualitative characteristic has no limits; give the value "
                                   "it requires as 'expected'", field=f(name))
        label = values.qualitative(expected, field=f("expected")) if _given(expected) else None
        return Declared(k.id, ku.canonical, ku.written, None, None, None, None, label)
    if _given(expected):
        raise InvalidInput(f"only a qualitative characteristic requires a value; a {k.id} has "
                           "limits", field=f("expected"))
    limits: dict[str, tuple[str, Decimal] | None] = {}
    for name, raw in (("lower_limit", lower_limit), ("upper_limit", upper_limit), ("lod", lod),
                      ("loq", loq)):
        if not _given(raw):
            limits[name] = None
            continue
        if k.values == GRADE and name in ("lod", "loq"):
            raise InvalidInput("a grade has no limit of detection or quantification",
                               field=f(name))
        text = values.written(raw, f(name))
        number = values.grade(text, field=f(name)) if k.values == GRADE else \
            values.number(text, field=f(name))
        check_domain(number, ku, field=f(name), shown=text)
        limits[name] = (text, number)
    lo, hi, d, q = (limits[n] for n in ("lower_limit", "upper_limit", "lod", "loq"))
    if lo and hi and lo[1] > hi[1]:
        raise InvalidInput("lower limit is above the upper limit", field=f("lower_limit"))
    if d and d[1] <= 0:
        raise InvalidInput("a limit of detection is above zero", field=f("lod"))
    if q and q[1] <= 0:
        raise InvalidInput("a limit of quantification is above zero", field=f("loq"))
    if d and q and d[1] > q[1]:
        raise InvalidInput("the limit of detection is above the limit of quantification",
                           field=f("lod"))
    return Declared(k.id, ku.canonical, ku.written, *(x[0] if x else None for x in (lo, hi, d, q)),
                    None)


def check_domain(number: Decimal, unit: KindUnit, *, field: str, relation: str | None = None,
                 shown: str | None = None) -> None:
    """Refuse a value outside its kind's domain (a negative mass fraction, 101 %RH); for a
    bound, one that leaves no possible value ("<0" of a mass fraction).

    :raises InvalidInput:
    """
    lo, hi = domain_bounds(unit)
    below = lo is not None and (number < lo or (relation == "<" and number <= lo))
    above = hi is not None and (number > hi or (relation == ">" and number >= hi))
    if below or above:
        kind = unit.kind
        text = f"{relation or ''}{shown or format(number, 'f')} {unit.written}".strip()
        raise InvalidInput(f"{text} is outside the values a {kind.en} can take "
                           f"({kind.domain_text()})", field=field, kind=kind.id)


def limit_number(text: str | None, kind: Kind) -> Decimal | None:
    if text is None:
        return None
    return values.grade(text, field="limit") if kind.values == GRADE else \
        values.number(text, field="limit")


def characteristic_unit(ch: CharacteristicLike) -> KindUnit:
    """The characteristic's own unit, resolved in its kind."""
    return resolve(get(ch.kind), ch.unit_text, like=ch.unit)


def evaluate(ch: CharacteristicLike, value: Any, unit: Any, *, value_field: str = "value",
             unit_field: str = "unit") -> Evaluated:
    """Read a result for a characteristic, check it, and judge it by simple acceptance.

    :raises UnitMismatch: the unit is not of the characteristic's kind (the message names the
        unit and the kind), or a unit of a kind that is never converted other than the
        characteristic's (HV vs HV10).
    :raises InvalidInput: a value not written as the kind's values are, outside the kind's
        domain, or "未检出" for a characteristic without a limit of detection.
    """
    kind = get(ch.kind)
    own = characteristic_unit(ch)
    ku = resolve(kind, unit, field=unit_field, like=ch.unit, expected=ch.unit_text)
    if kind.values == QUALITATIVE:
        allowed = values.pair_of(ch.expected) if ch.expected else ()
        v = values.parse(value, kind, field=value_field, allowed=allowed)
        return Evaluated(v, ku, verdict_of_label(v.label or "", ch.expected))
    v = values.parse(value, kind, field=value_field)
    if ku.canonical != own.canonical and not kind.convertible:
        raise UnitMismatch(
            f"unit {ku.written!r} cannot be compared with {own.written!r}: {kind.id} "
            f"({kind.en}) is never converted between " + ("scales" if kind.id == "hardness"
                                                          else "units"),
            field=unit_field, given=ku.written, kind=kind.id, expected=own.written)
    lower, upper = limit_number(ch.lower_limit, kind), limit_number(ch.upper_limit, kind)
    judged = lower is not None or upper is not None
    if v.type in (NUMBER, GRADE):
        assert v.number is not None  # noqa: S101 - set for numbers and grades
        check_domain(v.number, ku, field=value_field, shown=v.text)
        x = convert(v.number, ku, own)
        return Evaluated(v, ku, verdict_of(x, lower, upper, rule="simple") if judged else None)
    lo_dom, hi_dom = domain_bounds(own)
    if v.type == values.NOT_DETECTED:
        if ch.lod is None:
            raise InvalidInput(f"{v.text!r} (not detected) needs the characteristic's limit of "
                               "detection (LOD); give a number or \"<\" a bound instead",
                               field=value_field)
        low, high, low_in, high_in = lo_dom, values.number(ch.lod, field="lod"), True, False
    else:
        assert v.number is not None  # noqa: S101 - a censored value has its bound
        assert v.relation is not None  # noqa: S101 - and its relation
        rel = {"≤": "<", "<": "<", "≥": ">", ">": ">"}[v.relation]
        check_domain(v.number, ku, field=value_field, relation=v.relation if v.relation in
                     "<>" else None, shown=v.text.lstrip("<>＜＞≤≥≦≧⩽⩾=").strip())
        bound = convert(v.number, ku, own)
        if rel == "<":
            low, high, low_in, high_in = lo_dom, bound, True, v.relation == "≤"
        else:
            low, high, low_in, high_in = bound, hi_dom, v.relation == "≥", True
    if not judged:
        return Evaluated(v, ku, None)
    return Evaluated(v, ku, verdict_of_range(low, high, lower, upper, low_inclusive=low_in,
                                             high_inclusive=high_in))


def is_bound(value_text: str, ch: CharacteristicLike) -> bool:
    """Whether a stored value is a bound (censored or not detected) rather than a number."""
    kind = get(ch.kind)
    if kind.values != NUMBER:
        return False
    try:
        return values.parse(value_text, kind).type in (values.CENSORED, values.NOT_DETECTED)
    except InvalidInput:
        return False


def display(value_text: str, unit_text: str, ch: CharacteristicLike) -> tuple[str, str]:
    """How a result reads on a page or report: as entered, except that "未检出"/"ND" reads
    "未检出 (< LOD unit)" (the limit that gives it meaning)."""
    kind = get(ch.kind)
    if kind.values == NUMBER and value_text.strip().lower() in values.NOT_DETECTED_WORDS \
            and ch.lod is not None:
        return f"未检出 (< {ch.lod} {ch.unit_text})", ""
    return value_text, unit_text


def requirement(ch: CharacteristicLike) -> str:
    """The specification as text: ``99.95 … 100.05 g``, ``≤ 0.5 %(m/m)``, ``≥ 4 级``, ``阴性``."""
    if ch.expected is not None:
        return ch.expected
    sym = ch.unit_text
    lo, hi = ch.lower_limit, ch.upper_limit
    if lo is not None and hi is not None:
        text = f"{lo} … {hi} {sym}"
    elif lo is not None:
        text = f"≥ {lo} {sym}"
    elif hi is not None:
        text = f"≤ {hi} {sym}"
    else:
        return "—"
    return text.strip()
