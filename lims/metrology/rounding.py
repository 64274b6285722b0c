"""Rounding and writing of reported uncertainties (GUM 7.2.6, ILAC-P14 5.4, JJF 1059.1,
GB/T 8170, EA-4/02).

Pure: imports neither Flask nor a Session.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from lims.errors import InvalidInput, msg

ROUNDING = ("half-up", "half-even", "up")
_RULES = {"half-up": ROUND_HALF_UP, "half-even": ROUND_HALF_EVEN, "up": ROUND_CEILING}
# EA-4/02 M:2013 clause 6 (statement of uncertainty): when rounding to the nearest digit brings
# the numerical value of the uncertainty down by more than 5 %, the rounded-up value is used.
MAX_DECREASE = Decimal("0.05")
_KEEP = 1 - MAX_DECREASE  # computed once rather than at every reported result (issue 14)
_ONE = Decimal(1)


def round_uncertainty(u: Decimal, *, digits: int = 2, mode: str = "half-up") -> Decimal:
    """Round an uncertainty to at most ``digits`` significant digits (GUM 7.2.6, ILAC-P14 5.4,
    JJF 1059.1).

    ``half-up`` rounds a dropped 5 up; ``half-even`` is GB/T 8170-2008 3.3 (四舍六入五成双: a
    dropped 5 followed by nothing but zeros keeps the last digit even), the rule JJF 1059.1
    refers to; ``up`` always rounds up. Whatever the mode, rounding never lowers U by more than
    5 % (EA-4/02): with one significant digit 0.14 becomes 0.2, not 0.1. With two digits the
    nearest value is never more than 5 % lower, so the guard only acts with one.
    """
    if mode not in ROUNDING:
        raise InvalidInput(msg("rounding must be one of %(choices)s", choices=", ".join(ROUNDING)),
                           field="rounding")
    if u <= 0:
        return Decimal(0)
    rounded = _round(u, digits, _RULES[mode])
    if rounded < u * _KEEP:
        rounded = _round(u, digits, ROUND_CEILING)
    return rounded


def _round(u: Decimal, digits: int, rule: str) -> Decimal:
    exp = u.adjusted() - digits + 1
    rounded = u.quantize(_ONE.scaleb(exp), rounding=rule)
    if rounded.adjusted() > u.adjusted():  # 9.96 -> 10.0 has one digit too many
        rounded = rounded.quantize(_ONE.scaleb(exp + 1), rounding=rule)
    return rounded


def round_to(value: Decimal, quantum: Decimal, *, mode: str = "half-up") -> Decimal:
    """Round the estimate to the decimal place of the rounded uncertainty (GUM 7.2.6): half up,
    or half even under GB/T 8170 (``mode="half-even"``). An uncertainty rounded ``up`` still
    leaves the estimate rounded to the nearest."""
    rule = ROUND_HALF_EVEN if mode == "half-even" else ROUND_HALF_UP
    return value.quantize(quantum, rounding=rule)


def round_outward(low: Decimal, high: Decimal, quantum: Decimal) -> tuple[Decimal, Decimal]:
    """Round the ends of a coverage interval to ``quantum`` so that it only grows: the reported
    interval keeps at least its coverage probability."""
    return low.quantize(quantum, rounding=ROUND_FLOOR), high.quantize(quantum,
                                                                      rounding=ROUND_CEILING)


def group_digits(number: Decimal) -> str:
    """Write a number with digits grouped in threes by a space (ISO 80000-1 7.3.1), only when
    a side has more than four digits: 10 000.025, 10.057 62, 1234.5."""
    text = format(number, "f")
    sign = "-" if text.startswith("-") else ""
    text = text.lstrip("-")
    whole, _, frac = text.partition(".")
    if len(whole) > 4:
        head = len(whole) % 3 or 3
        whole = " ".join([whole[:head]] + [whole[i:i + 3] for i in range(head, len(whole), 3)])
    if len(frac) > 4:
        frac = " ".join(frac[i:i + 3] for i in range(0, len(frac), 3))
    return sign + whole + ("." + frac if frac else "")
