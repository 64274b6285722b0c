"""THE pint registry of the LIMS and the parsing of lab unit notation.

Every quantity entering the system passes through here. Lab text is normalised before pint
sees it, because pint fails on common lab notation in unhelpful ways: ``℃`` raises a bare
AssertionError, OHM SIGN (U+2126) and full-width ``％`` are unknown, and ``%RH`` parses as
percent × ronnahenry. Values stay :class:`decimal.Decimal` so that "100.00" keeps its digits
and conversions carry no float noise.

A dimension is not a kind of quantity: %RH, mg/kg and % share pint's, and pint misreads some
lab notation outright (``pH`` is picohenry to it). What a value measures, and which units it
may be written and converted in, is :mod:`lims.kinds`; this module is the pint side of it.
"""

from __future__ import annotations

import pickle  # noqa: S403 - only to name the error of pint's own cache
import re
import unicodedata
from decimal import Decimal, InvalidOperation

import pint

from lims.errors import InvalidInput, UnitMismatch, msg


def _registry() -> pint.UnitRegistry[Decimal]:
    """pint's registry, from its parsed-definitions cache in the user's cache folder (it halves
    start-up). Another process writing that cache at the same moment (two test workers, two
    gunicorn workers on a fresh machine) can leave us a half-written pickle: its read then
    fails, and the definitions are parsed from pint's own files instead."""
    try:
        return pint.UnitRegistry(non_int_type=Decimal, cache_folder=":auto:")
    except (EOFError, pickle.UnpicklingError, OSError, ValueError):
        return pint.UnitRegistry(non_int_type=Decimal)


ureg: pint.UnitRegistry[Decimal] = _registry()
# Kept so that units stored as "percent_relative_humidity" before quantity kinds still parse.
# It is a percent to pint; that %RH is not a mass fraction is for lims.kinds to say.
ureg.define("percent_relative_humidity = percent = %RH")
ureg.define("ppb = 1e-9")  # pint has ppm but not ppb (GB/T 5009 mass fractions use both)
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
    ("″", "arcsecond"),
    ("′", "arcminute"),
)
# r/min and r/s are counts per time for a lab (GB 3102.3 3-7: 1 r/min = 1/60 s⁻¹), not pint's
# revolution = 2π rad; only as a whole unit, not inside another one ("mr/min").
_PER_REVOLUTION = re.compile(r"(?<![\w/])(r/min|rpm|r/s|rps)(?![\w])")
_REVOLUTIONS = {"r/min": "(1/minute)", "rpm": "(1/minute)", "r/s": "(1/second)",
                "rps": "(1/second)"}
# Glyphs that are the same character for a reader (GB 3100 writes the micro sign as Greek μ).
_GLYPHS = str.maketrans({"\u00b5": "\u03bc", "％": "%", "（": "(", "）": ")", "／": "/",
                         "⋅": "·", "・": "·", "\u3000": " "})

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def normalise_glyphs(text: str) -> str:
    """Normalise only glyphs that are the same unit to a reader: NFC (OHM SIGN → Ω), micro
    sign → μ, full-width ％（）／, dot operators → ·. Nothing else: a unit is kept as written."""
    return unicodedata.normalize("NFC", text).translate(_GLYPHS)


def normalise_unit_text(text: str) -> str:
    """Map lab notation to a string pint parses; the result is not yet validated."""
    text = normalise_glyphs(text).strip()
    if text in ("%RH", "％RH", "%rh"):
        return "percent_relative_humidity"
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    text = _PER_REVOLUTION.sub(lambda m: _REVOLUTIONS[m[1]], text).replace("·", "*")
    if text == "%":
        return "percent"
    return text


def parse_unit(text: object, *, field: str = "unit") -> pint.Unit:
    """Parse a unit written in lab notation.

    :raises InvalidInput: the text is empty or not a unit pint knows.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(msg("a unit is required"), field=field)
    if len(text) > 40:
        raise InvalidInput(msg("unit is longer than 40 characters"), field=field)
    if not text.isprintable():
        raise InvalidInput(msg("unit contains a control character or invalid text"), field=field)
    from lims.kinds.registry import lab_pint_unit  # the kinds registry builds on this module

    lab = lab_pint_unit(text)
    if lab is not None:  # r/min, %(m/m), pH, dB(A), HV10 … as the kinds registry reads them
        return lab
    try:
        unit = ureg.parse_units(normalise_unit_text(text))
    except Exception as exc:  # noqa: BLE001 - pint raises AssertionError, ValueError, ...
        raise InvalidInput(msg("unknown unit %(unit)r", unit=text), field=field) from exc
    return unit


def parse_stored(text: str) -> pint.Unit:
    """Parse a stored canonical unit: pint's long form, or a notation unit pint does not know
    (``HV10``, ``pH``, ``""`` of a qualitative result), which is dimensionless to pint.

    Never raises: a string nothing reads is taken as dimensionless.
    """
    if not text:
        return ureg.dimensionless
    try:
        return ureg.parse_units(text)
    except Exception:  # noqa: BLE001 - pint raises many kinds
        try:
            return parse_unit(text)
        except InvalidInput:
            return ureg.dimensionless


def canonical(unit: pint.Unit) -> str:
    """Return the canonical stored form of a unit (pint's long form, e.g. ``degree_Celsius``)."""
    return str(unit)


def symbol(unit_text: str) -> str:
    """Return the display symbol of a stored canonical unit (``degree_Celsius`` -> ``°C``)."""
    try:
        return format(ureg.parse_units(unit_text), "~P") or unit_text
    except Exception:  # noqa: BLE001 - display must never fail
        return unit_text


# How people write what pint spells otherwise (GB 3100/3102: ℃ is one symbol, μ is Greek mu).
_AS_WRITTEN: tuple[tuple[str, str], ...] = (
    ("degree_Celsius", "℃"), ("delta_degC", "Δ℃"), ("degC", "℃"), ("°C", "℃"),
    ("degree_Fahrenheit", "℉"), ("degF", "℉"), ("°F", "℉"),
)


def display(unit_text: str | None) -> str:
    """A unit as people write it, for pages: ``21.0 ℃``, not ``21.0 degC``.

    A unit stored in pint's long form (``degree_Celsius``, ``micrometer``, ``ohm``,
    ``percent_relative_humidity``) is shown by its symbol; a unit stored as the person wrote
    it (``g``, ``%RH``, ``mg/kg``, ``r/min``) is shown as written, with only pint's spellings
    of the temperature units and the micro and ohm glyphs put as GB 3100 writes them.
    """
    if not unit_text:
        return ""
    text = normalise_glyphs(unit_text).strip()
    try:
        parsed = ureg.parse_units(text)
        if str(parsed) == text:
            text = format(parsed, "~P") or text  # pint's own long form: its symbol
    except Exception:  # noqa: BLE001, S110 - lab notation pint does not read: kept as written
        pass
    for old, new in _AS_WRITTEN:
        text = text.replace(old, new)
    return normalise_glyphs(text)


def parse_value(text: object, *, field: str = "value") -> Decimal:
    """Parse a recorded value as an exact decimal, refusing anything that is not a plain number."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise InvalidInput(msg("value must be a number written as text, e.g. \"100.00\""),
                           field=field)
    s = str(text).strip()
    if len(s) > 40 or not _NUMBER.match(s):
        raise InvalidInput(msg("%(text)r is not a number", text=text), field=field)
    try:
        number = Decimal(s)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise InvalidInput(msg("%(text)r is not a number", text=text), field=field) from exc
    # No lab value needs more than 10^±30 of its unit; beyond that, Decimal arithmetic
    # (means, conversions) overflows or underflows its context.
    if number and not -30 <= number.adjusted() <= 30:
        raise InvalidInput(msg("%(text)r is out of range (10^-30 … 10^30)", text=s), field=field)
    return number


def check_compatible(unit: pint.Unit, expected: pint.Unit, *, field: str = "unit",
                     given_text: str | None = None) -> None:
    """Refuse a unit whose dimension differs from the expected one, naming both units.

    :raises UnitMismatch:
    """
    if unit.dimensionality != expected.dimensionality:
        given = given_text or format(unit, "~P")
        raise UnitMismatch(
            msg("unit %(given)r (%(given_dim)s) is not compatible with %(expected)r "
                "(%(expected_dim)s)", given=given, given_dim=unit.dimensionality,
                expected=format(expected, "~P"), expected_dim=expected.dimensionality),
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
        raise UnitMismatch(msg("a value in %(given)r cannot be converted to %(expected)r: %(reason)s",
                               given=given, expected=expected, reason=exc),
                           field="unit", given=given, expected=expected) from None
    return magnitude if isinstance(magnitude, Decimal) else Decimal(str(magnitude))
