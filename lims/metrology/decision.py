"""Decision rules for statements of conformity (ISO/IEC 17025 7.8.6, ILAC-G8:09/2019).

Pure: imports neither Flask nor a Session::

    from lims.metrology.decision import decide
    d = decide(value="10.02", unit="mm", expanded_uncertainty="0.02", lower="9.95",
               upper="10.05", limit_unit="mm", rule="guarded", r="1", k="2")
    d.verdict          # "pass" | "conditional pass" | "conditional fail" | "fail"
    d.statement_zh, d.statement_en, d.probability_of_false_accept

Rules, with guard band w = r·U (ILAC-G8 4.2):

- ``simple`` (simple acceptance, w = 0, ILAC-G8 4.2.1): pass inside the tolerance interval.
- ``guarded`` (binary with guard band, ILAC-G8 4.2.2): acceptance limits are the tolerance
  limits moved inwards by w; pass inside them, fail outside.
- ``non-binary`` (ILAC-G8 4.2.3): pass inside the acceptance limits; conditional pass between
  an acceptance limit and its tolerance limit; conditional fail beyond a tolerance limit by at
  most w; fail beyond that.

Edges are inclusive on the side of the better verdict: a value exactly on an acceptance limit
passes, exactly on a tolerance limit (w > 0, non-binary) is a conditional pass, exactly at a
tolerance limit + w is a conditional fail. With simple acceptance a value on a tolerance limit
passes. The same holds at the lower and the upper limit.

The probability of false accept is the probability, under a normal distribution centred on the
measured value with standard deviation U/k, that the true value lies outside the tolerance
interval (ILAC-G8 4.3, JCGM 106 7.4); it is the risk taken when the item is accepted.
"""

from __future__ import annotations

import dataclasses
import math
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Any

from lims.errors import Choices, InvalidInput, msg
from lims.units import convert, parse_unit

RULES = ("simple", "guarded", "non-binary")
VERDICTS = {
    "pass": ("合格", "pass"),
    "conditional pass": ("有条件合格", "conditional pass"),
    "conditional fail": ("有条件不合格", "conditional fail"),
    "fail": ("不合格", "fail"),
}
RULE_NAMES = {
    "simple": ("简单接受（不设保护带）", "simple acceptance (ILAC-G8:09/2019 4.2.1, w = 0)"),
    "guarded": ("带保护带的二元判定", "binary statement with guard band (ILAC-G8:09/2019 4.2.2)"),
    "non-binary": ("带保护带的非二元判定",
                   "non-binary statement with guard band (ILAC-G8:09/2019 4.2.3)"),
}


@dataclasses.dataclass(frozen=True)
class Decision:
    verdict: str
    rule: str
    r: Decimal
    guard_band: Decimal
    value: Decimal
    unit: str
    expanded_uncertainty: Decimal
    k: Decimal
    lower: Decimal | None
    upper: Decimal | None
    acceptance_lower: Decimal | None
    acceptance_upper: Decimal | None
    probability_of_false_accept: float
    statement_zh: str
    statement_en: str

    def to_json(self) -> dict[str, Any]:
        def s(v: Decimal | None) -> str | None:
            return None if v is None else format(v, "f")

        return {"verdict": self.verdict, "verdict_zh": VERDICTS[self.verdict][0],
                "rule": self.rule, "parameters": {"r": s(self.r), "w": s(self.guard_band),
                                                  "k": s(self.k)},
                "value": s(self.value), "unit": self.unit,
                "expanded_uncertainty": s(self.expanded_uncertainty),
                "tolerance": {"lower": s(self.lower), "upper": s(self.upper)},
                "acceptance": {"lower": s(self.acceptance_lower),
                               "upper": s(self.acceptance_upper)},
                "probability_of_false_accept": self.probability_of_false_accept,
                "statement_zh": self.statement_zh, "statement_en": self.statement_en}


def _decimal(value: Any, field: str, *, required: bool = True) -> Decimal | None:
    if value is None or value == "":
        if required:
            raise InvalidInput(msg("is required"), field=field)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput(msg("must be a number"), field=field)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInput(msg("%(value)r is not a number", value=value), field=field) from None
    if not number.is_finite():
        raise InvalidInput(msg("%(value)r is not a finite number", value=value), field=field)
    return number


def _required(value: Any, field: str) -> Decimal:
    number = _decimal(value, field)
    if number is None:  # pragma: no cover - _decimal raises for a required field
        raise InvalidInput(msg("is required"), field=field)
    return number


def _phi(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def decide(*, value: Any, unit: Any, expanded_uncertainty: Any, lower: Any = None,
           upper: Any = None, limit_unit: Any = None, uncertainty_unit: Any = None,
           rule: Any = "simple", r: Any = "1", k: Any = "2") -> Decision:
    """Apply a decision rule to one result.

    :raises InvalidInput: a missing or malformed number, incompatible units (naming both), no
        limit, lower above upper, an unknown rule, or a guard band wider than the tolerance.
    """
    x = _required(value, "value")
    u_unit_text = unit if uncertainty_unit in (None, "") else uncertainty_unit
    value_unit = parse_unit(unit, field="unit")
    U_given = _required(expanded_uncertainty, "expanded_uncertainty")
    if U_given < 0:
        raise InvalidInput(msg("must not be negative"), field="expanded_uncertainty")
    U = _in_unit(U_given, u_unit_text, value_unit, unit, "uncertainty_unit", interval=True)
    lo_given = _decimal(lower, "lower", required=False)
    hi_given = _decimal(upper, "upper", required=False)
    if lo_given is None and hi_given is None:
        raise InvalidInput(msg("give a lower or an upper tolerance limit (or both)"), field="lower")
    limits_text = unit if limit_unit in (None, "") else limit_unit
    lo = None if lo_given is None else _in_unit(lo_given, limits_text, value_unit, unit,
                                                "limit_unit")
    hi = None if hi_given is None else _in_unit(hi_given, limits_text, value_unit, unit,
                                                "limit_unit")
    if lo is not None and hi is not None and lo > hi:
        raise InvalidInput(msg("the lower limit is above the upper limit"), field="lower")
    if rule not in RULES:
        raise InvalidInput(msg("must be one of %(choices)s", choices=Choices(RULES)), field="rule")
    ratio = Decimal(0) if rule == "simple" else _required(r, "r")
    kk = _required(k, "k")
    if ratio < 0:
        raise InvalidInput(msg("must not be negative"), field="r")
    if kk <= 0:
        raise InvalidInput(msg("must be positive"), field="k")
    w = Decimal(0) if rule == "simple" else ratio * U
    a_lo = None if lo is None else lo + w
    a_hi = None if hi is None else hi - w
    if a_lo is not None and a_hi is not None and a_lo > a_hi:
        raise InvalidInput(msg("the guard band w = %(w)s %(unit)s leaves no acceptance zone "
                               "between the limits", w=shown(w, given=False, places=_places(x)),
                               unit=unit), field="r")

    verdict = verdict_of(x, lo, hi, rule=rule, w=w)
    inside_tolerance = (lo is None or x >= lo) and (hi is None or x <= hi)

    u = float(U / kk)
    if u == 0:
        pfa = 0.0 if inside_tolerance else 1.0
    else:
        pfa = (_phi((float(lo) - float(x)) / u) if lo is not None else 0.0) + \
              (1 - _phi((float(hi) - float(x)) / u) if hi is not None else 0.0)
    # Which numbers are printed as the user wrote them (see ``shown``).
    given = {"U": U is U_given, "lo": lo is lo_given, "hi": hi is hi_given}
    places = max([_places(x)] + [_places(n) for n, key in ((U, "U"), (lo, "lo"), (hi, "hi"))
                                 if n is not None and given[key]])

    def show(number: Decimal, key: str = "") -> str:
        return shown(number, given=given.get(key, False), places=places)

    texts = {"x": format(x, "f"), "U": show(U, "U"), "k": format(kk, "f"),
             "r": format(ratio, "f"), "w": show(w),
             "lo": None if lo is None else show(lo, "lo"),
             "hi": None if hi is None else show(hi, "hi"),
             # With w = 0 the acceptance limits are the tolerance limits, written alike.
             "a_lo": None if a_lo is None else show(a_lo, "lo" if w == 0 else ""),
             "a_hi": None if a_hi is None else show(a_hi, "hi" if w == 0 else "")}
    zh, en = _statements(verdict, rule, texts, str(unit), pfa)
    return Decision(verdict, rule, ratio, w, x, str(unit).strip(), U, kk, lo, hi, a_lo, a_hi,
                    pfa, zh, en)


def verdict_of(x: Decimal, lower: Decimal | None, upper: Decimal | None, *,
               rule: str = "simple", w: Decimal = Decimal(0)) -> str:
    """The verdict of a value against tolerance limits already in its unit.

    The one conformity rule of the code base: results, reports and ``lims decide`` all come
    here. ``w`` is the guard band (0 for simple acceptance, ILAC-G8 4.2.1).
    """
    if rule not in RULES:
        raise InvalidInput(msg("must be one of %(choices)s", choices=Choices(RULES)), field="rule")
    w = Decimal(0) if rule == "simple" else w
    a_lo = None if lower is None else lower + w
    a_hi = None if upper is None else upper - w
    if (a_lo is None or x >= a_lo) and (a_hi is None or x <= a_hi):
        return "pass"
    if rule != "non-binary":
        return "fail"
    if (lower is None or x >= lower) and (upper is None or x <= upper):
        return "conditional pass"
    if (lower is None or x >= lower - w) and (upper is None or x <= upper + w):
        return "conditional fail"
    return "fail"


UNDECIDED = "undecided"


def verdict_of_range(low: Decimal | None, high: Decimal | None, lower: Decimal | None,
                     upper: Decimal | None, *, low_inclusive: bool = True,
                     high_inclusive: bool = True, rule: str = "simple",
                     w: Decimal = Decimal(0)) -> str:
    """The verdict of a value known only to lie between ``low`` and ``high`` (None: unbounded):
    a censored result ("<0.01", "未检出" below the LOD), limits already in its unit.

    It is :func:`verdict_of`'s verdict when every value of the interval gets the same one, and
    ``undecided`` when they differ (the interval straddles a limit): a person must decide
    (ISO/IEC 17025 7.8.6.1: the statement must be unambiguous). ``verdict_of`` stays the one
    rule: it is piecewise constant between the limits (± w), so evaluating it at each limit
    inside the interval and at one point of every stretch between them finds every verdict.
    """
    if rule not in RULES:
        raise InvalidInput(msg("must be one of %(choices)s", choices=Choices(RULES)), field="rule")
    w = Decimal(0) if rule == "simple" else w

    def inside(x: Decimal) -> bool:
        return ((low is None or x > low or (x == low and low_inclusive))
                and (high is None or x < high or (x == high and high_inclusive)))

    marks = {m for m in (lower, upper) if m is not None}
    marks |= {m + d for m in marks for d in (w, -w)}
    edges = sorted(marks | {b for b in (low, high) if b is not None})
    if not edges:
        return verdict_of(Decimal(0), lower, upper, rule=rule, w=w)
    candidates = [*edges, edges[0] - 1, edges[-1] + 1]
    candidates += [(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False)]
    verdicts = {verdict_of(x, lower, upper, rule=rule, w=w) for x in candidates if inside(x)}
    if not verdicts:
        raise InvalidInput(msg("the interval holds no value"), field="value")
    return verdicts.pop() if len(verdicts) == 1 else UNDECIDED


def verdict_of_label(label: str, expected: str | None) -> str | None:
    """The verdict of a qualitative value: it conforms when it is the value required."""
    if expected is None:
        return None
    return "pass" if label == expected else "fail"


def _in_unit(number: Decimal, text: Any, target: Any, target_text: Any, field: str, *,
             interval: bool = False) -> Decimal:
    from lims.units import check_compatible

    src = parse_unit(text, field=field)
    check_compatible(src, target, field=field, given_text=str(text))
    if str(src) == str(target):
        return number  # as written: its digits are the ones the statement prints
    if interval:
        # An uncertainty is an interval: convert with the scale only, never an offset.
        zero = convert(Decimal(0), src, target)
        return convert(number, src, target) - zero
    return convert(number, src, target)


# Decimal arithmetic carries 28 significant digits: a conversion leaves 25.5000000000000000000000000
# (298.65 K in ℃) or 26.6666666666666666666666666 (80 °F in ℃), and sums of such numbers leave
# noise in the last places (29.94449999999999999999999999). Statements print what matters.
_NOISE = Context(prec=24, rounding=ROUND_HALF_EVEN)
_EXACT_DIGITS = 15


def _places(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def shown(number: Decimal, *, given: bool, places: int) -> str:
    """Write a number of a conformity statement with the digits that matter.

    A number the user gave in the value's unit is written as given ("0.020" keeps its zeros).
    A converted or derived number (guard band, acceptance limit, a limit in another unit) loses
    the noise of Decimal arithmetic and its trailing zeros when it is a short exact decimal
    (298.65 K is 25.5 ℃); one that does not end (80 °F is 26.666… ℃) is rounded to two decimal
    places more than the finest number given (``places``), so it is not mistaken for a
    limit stated at the value's resolution. The verdict is always taken on the exact numbers.
    """
    if given:
        return format(number, "f")
    clean = _NOISE.plus(number)
    if len(clean.normalize().as_tuple().digits) <= _EXACT_DIGITS:
        return format(clean.normalize(), "f")
    return format(number.quantize(Decimal(1).scaleb(-(places + 2)),
                                  rounding=ROUND_HALF_EVEN).normalize(), "f")


def _statements(verdict: str, rule: str, t: dict[str, str | None], unit: str,
                pfa: float) -> tuple[str, str]:
    def interval(a: str | None, b: str | None) -> str:
        return f"[{'−∞' if a is None else a}, {'+∞' if b is None else b}]"

    zh_v, en_v = VERDICTS[verdict]
    zh_rule, en_rule = RULE_NAMES[rule]
    band = "" if rule == "simple" else f"w = {t['r']}·U = {t['w']} {unit}"
    tolerance, acceptance = interval(t["lo"], t["hi"]), interval(t["a_lo"], t["a_hi"])
    zh = (f"测量结果 {t['x']} {unit}（U = {t['U']} {unit}，k = {t['k']}），"
          f"技术要求 {tolerance} {unit}，验收区间 {acceptance} {unit}。"
          f"判定规则：{zh_rule}{'，' + band if band else ''}。结论：{zh_v}。")
    en = (f"Measured {t['x']} {unit} (U = {t['U']} {unit}, k = {t['k']}); "
          f"tolerance {tolerance} {unit}, acceptance {acceptance} {unit}. "
          f"Decision rule: {en_rule}{', ' + band if band else ''}. Verdict: {en_v}"
          + (f" (probability of false accept {pfa:.2%})." if verdict == "pass" else "."))
    return zh, en
