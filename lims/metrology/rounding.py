"""Rounding and writing of reported uncertainties (GUM 7.2.6, ILAC-P14 5.4, JJF 1059.1).

Pure: imports neither Flask nor a Session.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from lims.errors import InvalidInput

ROUNDING = ("half-up", "up")


def round_uncertainty(u: Decimal, *, digits: int = 2, mode: str = "half-up") -> Decimal:
    """Round an uncertainty to at most ``digits`` significant digits (GUM 7.2.6, ILAC-P14
    5.4, JJF 1059.1): half up by default, or always up when the lab chooses ``up``."""
    if mode not in ROUNDING:
        raise InvalidInput(f"rounding must be one of {', '.join(ROUNDING)}", field="rounding")
    if u <= 0:
        return Decimal(0)
    rule = ROUND_CEILING if mode == "up" else ROUND_HALF_UP
    exp = u.adjusted() - digits + 1
    rounded = u.quantize(Decimal(1).scaleb(exp), rounding=rule)
    if rounded.adjusted() > u.adjusted():  # 9.96 -> 10.0 has one digit too many
        rounded = rounded.quantize(Decimal(1).scaleb(exp + 1), rounding=rule)
    return rounded


def round_to(value: Decimal, quantum: Decimal) -> Decimal:
    """Round the estimate to the decimal place of the rounded uncertainty (half up)."""
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


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
