"""THE pint registry of the LIMS and the parsing of lab unit notation.

Every quantity entering the system passes through here. Lab text is normalised before pint
sees it, because pint fails on common lab notation in unhelpful ways: ``℃`` raises a bare
AssertionError, OHM SIGN (U+2126) and full-width ``％`` are unknown, and ``%RH`` parses as
percent × ronnahenry. Values stay :class:`decimal.Decimal` so that "100.00" keeps its digits
and conversions carry no float noise.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

import pint

from lims.errors import InvalidInput, UnitMismatch

ureg: pint.UnitRegistry[Decimal] = pint.UnitRegistry(non_int_type=Decimal, cache_folder=":auto:")
ureg.define("percent_relative_humidity = percent = %RH")
pint.set_application_registry(ureg)

Quantity = ureg.Quantity

# Replacements applied in order, after NFC normalisation (which maps U+2126 OHM SIGN to
# U+03A9). NFKC is not used: it would turn m² into m2.
_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    ("℃⁻¹", "1/delta_degC"),
    ("℃", "degC"),
    ("°C", "degC"),
    ("℉", "degF"),
    ("°F", "degF"),
    ("％", "%"),
    ("r/min", "rpm"),
    ("″", "arcsecond"),
    ("′", "arcminute"),
)

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def normalise_unit_text(text: str) -> str:
    """Map lab notation to a string pint parses; the result is not yet validated."""
    text = unicodedata.normalize("NFC", text).strip()
    if text in ("%RH", "％RH", "%rh"):
        return "percent_relative_humidity"
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    if text == "%":
        return "percent"
    return text


def parse_unit(text: object, *, field: str = "unit") -> pint.Unit:
    """Parse a unit written in lab notation.

    :raises InvalidInput: the text is empty or not a unit pint knows.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("a unit is required", field=field)
    if len(text) > 40:
        raise InvalidInput("unit is longer than 40 characters", field=field)
    if not text.isprintable():
        raise InvalidInput("unit contains a control character or invalid text", field=field)
    try:
        unit = ureg.parse_units(normalise_unit_text(text))
    except Exception as exc:  # noqa: BLE001 - pint raises AssertionError, ValueError, ...
        raise InvalidInput(f"unknown unit {text!r}", field=field) from exc
    return unit


def canonical(unit: pint.Unit) -> str:
    """Return the canonical stored form of a unit (pint's long form, e.g. ``degree_Celsius``)."""
    return str(unit)


def symbol(unit_text: str) -> str:
    """Return the display symbol of a stored canonical unit (``degree_Celsius`` -> ``°C``)."""
    try:
        return format(ureg.parse_units(unit_text), "~P") or unit_text
    except Exception:  # noqa: BLE001 - display must never fail
        return unit_text


def parse_value(text: object, *, field: str = "value") -> Decimal:
    """Parse a recorded value as an exact decimal, refusing anything that is not a plain number."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise InvalidInput("value must be a number written as text, e.g. \"100.00\"", field=field)
    s = str(text).strip()
    if len(s) > 40 or not _NUMBER.match(s):
        raise InvalidInput(f"{text!r} is not a number", field=field)
    try:
        number = Decimal(s)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise InvalidInput(f"{text!r} is not a number", field=field) from exc
    # No lab value needs more than 10^±30 of its unit; beyond that, Decimal arithmetic
    # (means, conversions) overflows or underflows its context.
    if number and not -30 <= number.adjusted() <= 30:
        raise InvalidInput(f"{s!r} is out of range (10^-30 … 10^30)", field=field)
    return number


def check_compatible(unit: pint.Unit, expected: pint.Unit, *, field: str = "unit",
                     given_text: str | None = None) -> None:
    """Refuse a unit whose dimension differs from the expected one, naming both units.

    :raises UnitMismatch:
    """
    if unit.dimensionality != expected.dimensionality:
        given = given_text or format(unit, "~P")
        raise UnitMismatch(
            f"unit {given!r} ({unit.dimensionality}) is not compatible with "
            f"{format(expected, '~P')!r} ({expected.dimensionality})",
            field=field, given=given, expected=format(expected, "~P"),
        )


def convert(value: Decimal, unit: pint.Unit, to: pint.Unit) -> Decimal:
    """Convert an exact value between compatible units, keeping Decimal arithmetic.

    :raises UnitMismatch: a conversion pint refuses although the dimensions agree (a
        temperature difference to an absolute temperature, ``delta_degC`` to ``degC``).
    """
    try:
        magnitude = Quantity(value, unit).to(to).magnitude
    except (pint.errors.PintError, ArithmeticError, ValueError) as exc:
        given, expected = format(unit, "~P"), format(to, "~P")
        raise UnitMismatch(f"a value in {given!r} cannot be converted to {expected!r}: {exc}",
                           field="unit", given=given, expected=expected) from None
    return magnitude if isinstance(magnitude, Decimal) else Decimal(str(magnitude))
