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

from lims.errors import InvalidInput, UnitMismatch, msg
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
from lims.metrology.rounding import round_uncertainty


class CharacteristicLike(Protocol):
    kind: str
    unit: str
    unit_text: str
    lower_limit: str | None
    upper_limit: str | None
    lod: str | None
    loq: str | None
    expected: str | None
    uncertainty_kind: str | None
    uncertainty: str | None
    coverage_factor: str | None


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
    uncertainty_kind: str | None = None
    uncertainty: str | None = None
    coverage_factor: str | None = None


@dataclasses.dataclass(frozen=True)
class Evaluated:
    value: values.Value
    unit: KindUnit
    conformity: str | None
    expanded_uncertainty: Decimal | None = None   # in the characteristic's unit
    coverage_factor: Decimal | None = None


def _given(raw: Any) -> bool:
    return raw not in (None, "")


def declare(*, unit: Any, kind: Any = None, lower_limit: Any = None, upper_limit: Any = None,
            lod: Any = None, loq: Any = None, expected: Any = None, uncertainty: Any = None,
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
                raise InvalidInput(msg("a qualitative characteristic has no limits; give the "
                                       "value it requires as 'expected'"), field=f(name))
        label = values.qualitative(expected, field=f("expected")) if _given(expected) else None
        if _given(uncertainty):
            raise InvalidInput(msg("a qualitative result has no measurement uncertainty"),
                               field=f("uncertainty"))
        return Declared(k.id, ku.canonical, ku.written, None, None, None, None, label)
    if _given(expected):
        raise InvalidInput(msg("only a qualitative characteristic requires a value; a %(kind)s "
                               "has limits", kind=k.id), field=f("expected"))
    limits: dict[str, tuple[str, Decimal] | None] = {}
    for name, raw in (("lower_limit", lower_limit), ("upper_limit", upper_limit), ("lod", lod),
                      ("loq", loq)):
        if not _given(raw):
            limits[name] = None
            continue
        if k.values == GRADE and name in ("lod", "loq"):
            raise InvalidInput(msg("a grade has no limit of detection or quantification"),
                               field=f(name))
        text = values.written(raw, f(name))
        number = values.grade(text, field=f(name)) if k.values == GRADE else \
            values.number(text, field=f(name))
        check_domain(number, ku, field=f(name), shown=text)
        limits[name] = (text, number)
    lo, hi, d, q = (limits[n] for n in ("lower_limit", "upper_limit", "lod", "loq"))
    if lo and hi and lo[1] > hi[1]:
        raise InvalidInput(msg("lower limit is above the upper limit"), field=f("lower_limit"))
    if d and d[1] <= 0:
        raise InvalidInput(msg("a limit of detection is above zero"), field=f("lod"))
    if q and q[1] <= 0:
        raise InvalidInput(msg("a limit of quantification is above zero"), field=f("loq"))
    if d and q and d[1] > q[1]:
        raise InvalidInput(msg("the limit of detection is above the limit of quantification"),
                           field=f("lod"))
    source: tuple[str | None, str | None, str | None] = (None, None, None)
    if _given(uncertainty):
        if k.values != NUMBER:
            raise InvalidInput(msg("a %(kind)s has no measurement uncertainty", kind=k.id),
                               field=f("uncertainty"))
        source = _uncertainty(uncertainty, f("uncertainty"))
    lower_limit, upper_limit, lod, loq = (x[0] if x else None for x in (lo, hi, d, q))
    return Declared(k.id, ku.canonical, ku.written, lower_limit, upper_limit, lod, loq, None,
                    uncertainty_kind=source[0], uncertainty=source[1], coverage_factor=source[2])


def _uncertainty(raw: Any, field: str) -> tuple[str, str, str]:
    """``{"expanded": "0.02", "k": "2"}`` (U in the characteristic's unit) or ``{"relative":
    "1.5", "k": "2"}`` (U in % of the value), from method validation (ISO/IEC 17025 7.6)."""
    given = [x for x in ("expanded", "relative") if isinstance(raw, dict) and _given(raw.get(x))]
    if not isinstance(raw, dict) or len(given) != 1 or set(raw) - {"expanded", "relative", "k"}:
        raise InvalidInput(msg('give {"expanded": U} or {"relative": U in %}, and optionally '
                               '"k" (an uncertainty budget is not taken here)'), field=field)
    mode = "expanded" if _given(raw.get("expanded")) else "relative"
    text = values.written(raw[mode], f"{field}.{mode}")
    amount = values.number(text, field=f"{field}.{mode}")
    if amount <= 0:
        raise InvalidInput(msg("must be above zero"), field=f"{field}.{mode}")
    k_text = values.written(raw["k"], f"{field}.k") if _given(raw.get("k")) else "2"
    k = values.number(k_text, field=f"{field}.k")
    if not Decimal(1) <= k <= Decimal(10):
        raise InvalidInput(msg("a coverage factor lies between 1 and 10"), field=f"{field}.k")
    return mode, text, k_text


def uncertainty_source(ch: CharacteristicLike) -> str:
    """How the characteristic's uncertainty is obtained, as text ("" when it is not)."""
    if ch.uncertainty_kind is None or ch.uncertainty is None:
        return ""
    unit = "%" if ch.uncertainty_kind == "relative" else ch.unit_text
    return f"U = {ch.uncertainty} {unit}".rstrip() + f" (k = {ch.coverage_factor or '2'})"


def expanded_uncertainty(ch: CharacteristicLike, at: Decimal) -> tuple[Decimal, Decimal] | None:
    """(U, k) of a result at ``at`` (in the characteristic's unit): the fixed U, or the relative
    one of the value rounded to two significant digits (GUM 7.2.6)."""
    if ch.uncertainty_kind is None or ch.uncertainty is None:
        return None
    k = values.number(ch.coverage_factor or "2", field="coverage_factor")
    amount = values.number(ch.uncertainty, field="uncertainty")
    if ch.uncertainty_kind == "expanded":
        return amount, k
    return round_uncertainty(abs(at) * amount / 100), k


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
        raise InvalidInput(msg("%(value)s is outside the values a %(kind)s can take "
                               "(%(domain)s)", value=text, kind=kind.named(),
                               domain=kind.domain_text()), field=field, kind=kind.id)


def limit_number(text: str | None, kind: Kind) -> Decimal | None:
    if text is None:
        return None
    return values.grade(text, field="limit") if kind.values == GRADE else \
        values.number(text, field="limit")


def characteristic_unit(ch: CharacteristicLike) -> KindUnit:
    """The characteristic's own unit, resolved in its kind."""
    return resolve(get(ch.kind), ch.unit_text, like=ch.unit)


def evaluate(ch: CharacteristicLike, value: Any, unit: Any, *, value_field: str = "value",
             unit_field: str = "unit", rule: str = "simple",
             r: Decimal = Decimal(1)) -> Evaluated:
    """Read a result for a characteristic, check it, and judge it by the decision rule agreed
    (``simple``, or ``guarded``/``non-binary`` with w = r·U, ILAC-G8 4.2).

    :raises UnitMismatch: the unit is not of the characteristic's kind (the message names the
        unit and the kind), or a unit of a kind that is never converted other than the
        characteristic's (HV vs HV10).
    :raises InvalidInput: a value not written as the kind's values are, outside the kind's
        domain, "未检出" for a characteristic without a limit of detection, or a rule with a
        guard band for a characteristic whose uncertainty is not known.
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
            msg("unit %(given)r cannot be compared with %(expected)r: %(kind)s (%(kind_en)s) "
                "is never converted between scales", given=ku.written, expected=own.written,
                kind=kind.id, kind_en=kind.en) if kind.id == "hardness" else
            msg("unit %(given)r cannot be compared with %(expected)r: %(kind)s (%(kind_en)s) "
                "is never converted between units", given=ku.written, expected=own.written,
                kind=kind.id, kind_en=kind.en),
            field=unit_field, given=ku.written, kind=kind.id, expected=own.written)
    lower, upper = limit_number(ch.lower_limit, kind), limit_number(ch.upper_limit, kind)
    judged = lower is not None or upper is not None
    if v.type == GRADE:  # an ordinal grade has no uncertainty: its order decides
        assert v.number is not None  # noqa: S101 - set for grades
        check_domain(v.number, ku, field=value_field, shown=v.text)
        return Evaluated(v, ku, verdict_of(v.number, lower, upper) if judged else None)

    def rated(at: Decimal) -> tuple[Decimal | None, Decimal | None, Decimal]:
        known = expanded_uncertainty(ch, at)
        if known is None and rule != "simple" and judged:
            raise InvalidInput(msg("the decision rule agreed for this request (%(rule)s) needs "
                                   "the measurement uncertainty, and the characteristic declares "
                                   "none", rule=rule), field=value_field)
        u, k = known if known is not None else (None, None)
        return u, k, (r * u if u is not None and rule != "simple" else Decimal(0))

    if v.type == NUMBER:
        assert v.number is not None  # noqa: S101 - set for numbers
        check_domain(v.number, ku, field=value_field, shown=v.text)
        x = convert(v.number, ku, own)
        u, k, w = rated(x)
        return Evaluated(v, ku, verdict_of(x, lower, upper, rule=rule, w=w) if judged else None,
                         u, k)
    lo_dom, hi_dom = domain_bounds(own)
    low: Decimal | None
    high: Decimal | None
    if v.type == values.NOT_DETECTED:
        if ch.lod is None:
            raise InvalidInput(msg("%(value)r (not detected) needs the characteristic's limit "
                                   "of detection (LOD); give a number or \"<\" a bound instead",
                                   value=v.text), field=value_field)
        bound = values.number(ch.lod, field="lod")
        low, high, low_in, high_in = lo_dom, bound, True, False
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
    u, k, w = rated(bound)  # U at the bound
    if not judged:
        return Evaluated(v, ku, None, u, k)
    return Evaluated(v, ku, verdict_of_range(low, high, lower, upper, low_inclusive=low_in,
                                             high_inclusive=high_in, rule=rule, w=w), u, k)


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
