"""Convert D-SI unit strings (``\\milli\\gram``, ``\\metre\\second\\tothe{-2}``) into lims unit text.

Digital calibration certificates write units in PTB's D-SI notation (D-SI 2.x, the format
imported by DCC 3.1.x): a product of factors ``[\\prefix]\\unit[\\tothe{n}]``, optionally
split once by ``\\per``. The LIMS stores units as text that :func:`lims.units.parse_unit`
(its one pint registry) accepts, so this module maps each factor through two tables and
composes a pint expression.

Why our own converter and not PTB's ``dsiunits`` package: the grammar is a handful of tokens,
we need a D-SI -> pint table in any case, and ``dsiunits`` reports a bad unit with a
``warnings.warn`` and a best guess rather than an exception, which would let a misspelt unit
through (and trips ``filterwarnings = error`` in our tests).

What comes out:

* a compact pint symbol text when it parses back to the same unit (``\\milli\\gram`` -> ``mg``,
  ``\\kilogram\\metre\\tothe{-1}\\second\\tothe{-2}`` -> ``kg/m/s**2``); otherwise the long
  pint names (``\\femto\\tonne`` -> ``femtometric_ton``, because ``ft`` would be a foot);
* ``\\one`` -> ``"1"`` (dimensionless, the SI "unit one"); ``\\percent`` -> ``"%"``;
  ``\\ppm`` -> ``"ppm"``;
* ``\\degreecelsius`` alone -> ``"degC"``, an absolute (offset) temperature; inside a compound
  unit (``\\degreecelsius\\tothe{-1}``) it is a temperature *difference*, ``delta_degC``, as in
  :mod:`lims.units`, because pint cannot multiply an offset unit.

Every refusal is :class:`lims.errors.InvalidInput` naming the offending token.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from lims.errors import InvalidInput, msg
from lims.units import parse_unit, ureg

# D-SI prefix -> (pint symbol, pint long name). SI brochure 9th ed. table 7 (incl. 2022's
# ronna/quetta/ronto/quecto), plus the IEC binary prefixes D-SI allows on \bit and \byte.
PREFIXES: dict[str, tuple[str, str]] = {
    "quetta": ("Q", "quetta"), "ronna": ("R", "ronna"), "yotta": ("Y", "yotta"),
    "zetta": ("Z", "zetta"), "exa": ("E", "exa"), "peta": ("P", "peta"), "tera": ("T", "tera"),
    "giga": ("G", "giga"), "mega": ("M", "mega"), "kilo": ("k", "kilo"), "hecto": ("h", "hecto"),
    "deca": ("da", "deca"), "deci": ("d", "deci"), "centi": ("c", "centi"), "milli": ("m", "milli"),
    "micro": ("u", "micro"), "nano": ("n", "nano"), "pico": ("p", "pico"), "femto": ("f", "femto"),
    "atto": ("a", "atto"), "zepto": ("z", "zepto"), "yocto": ("y", "yocto"),
    "ronto": ("r", "ronto"), "quecto": ("q", "quecto"),
    "kibi": ("Ki", "kibi"), "mebi": ("Mi", "mebi"), "gibi": ("Gi", "gibi"), "tebi": ("Ti", "tebi"),
    "pebi": ("Pi", "pebi"), "exbi": ("Ei", "exbi"), "zebi": ("Zi", "zebi"), "yobi": ("Yi", "yobi"),
}

# D-SI unit -> (pint symbol, pint long name). Keys are lower case; lookup is case-insensitive
# so that ``\mmHg`` and ``\mmhg`` both work. SI brochure 9th ed. tables 2, 4 and 8, and the
# D-SI guide's list of non-SI units.
UNITS: dict[str, tuple[str, str]] = {
    # SI base units
    "metre": ("m", "meter"), "kilogram": ("kg", "kilogram"), "second": ("s", "second"),
    "ampere": ("A", "ampere"), "kelvin": ("K", "kelvin"), "mole": ("mol", "mole"),
    "candela": ("cd", "candela"),
    # SI derived units with special names
    "radian": ("rad", "radian"), "steradian": ("sr", "steradian"), "hertz": ("Hz", "hertz"),
    "newton": ("N", "newton"), "pascal": ("Pa", "pascal"), "joule": ("J", "joule"),
    "watt": ("W", "watt"), "coulomb": ("C", "coulomb"), "volt": ("V", "volt"),
    "farad": ("F", "farad"), "ohm": ("ohm", "ohm"), "siemens": ("S", "siemens"),
    "weber": ("Wb", "weber"), "tesla": ("T", "tesla"), "henry": ("H", "henry"),
    "degreecelsius": ("degC", "degree_Celsius"), "lumen": ("lm", "lumen"), "lux": ("lx", "lux"),
    "becquerel": ("Bq", "becquerel"), "gray": ("Gy", "gray"), "sievert": ("Sv", "sievert"),
    "katal": ("kat", "katal"),
    # units accepted for use with the SI, and the other units D-SI admits
    "one": ("1", "dimensionless"), "percent": ("%", "percent"), "ppm": ("ppm", "ppm"),
    "gram": ("g", "gram"), "tonne": ("t", "metric_ton"), "litre": ("L", "liter"),
    "day": ("d", "day"), "hour": ("h", "hour"), "minute": ("min", "minute"),
    "degree": ("deg", "degree"), "arcminute": ("arcmin", "arcminute"),
    "arcsecond": ("arcsec", "arcsecond"), "hectare": ("ha", "hectare"),
    "astronomicalunit": ("au", "astronomical_unit"), "electronvolt": ("eV", "electron_volt"),
    "dalton": ("Da", "dalton"), "atomicmassunit": ("u", "unified_atomic_mass_unit"),
    "decibel": ("dB", "decibel"), "neper": ("Np", "neper"),
    "bar": ("bar", "bar"), "mmhg": ("mmHg", "millimeter_Hg"), "angstrom": ("angstrom", "angstrom"),
    "nauticalmile": ("nmi", "nautical_mile"), "knot": ("kt", "knot"), "barn": ("b", "barn"),
    "bit": ("bit", "bit"), "byte": ("B", "byte"),
    "clight": ("c", "speed_of_light"), "planckbar": ("hbar", "hbar"),
    "electronmass": ("m_e", "electron_mass"), "elementarycharge": ("e", "elementary_charge"),
    "atomicunittime": ("atomic_unit_of_time", "atomic_unit_of_time"),
    "hartree": ("E_h", "hartree"), "bohr": ("a_0", "bohr"),
}

# D-SI names with no counterpart in our pint registry: refused with a message that says so,
# rather than "unknown", because the certificate itself is not wrong.
UNSUPPORTED = frozenset({"bel", "naturalunittime"})

# D-SI rule: these take no prefix (a prefixed kilogram, percent or degree Celsius is
# meaningless or misleading). ``\kilo\gram`` is tolerated: it means what it says.
_NO_PREFIX = frozenset({"kilogram", "one", "percent", "ppm", "degreecelsius"})

_BINARY_PREFIXES = frozenset({"kibi", "mebi", "gibi", "tebi", "pebi", "exbi", "zebi", "yobi"})

_TOKEN = re.compile(r"\\([A-Za-z]+)(?:\{([^{}]*)\})?")
_EXPONENT = re.compile(r"^[+-]?(\d+(\.\d+)?)$")


def dsi_to_unit(dsi: str, *, field: str = "unit") -> str:
    """Return the lims unit text for a D-SI unit string.

    :param dsi: one D-SI unit, e.g. ``\\kilo\\pascal`` (not a space-separated list).
    :param field: the field named in errors.
    :raises InvalidInput: empty, not D-SI, an unknown or unsupported unit, bad grammar.
    """
    text = dsi.strip() if isinstance(dsi, str) else ""
    if not text:
        raise InvalidInput(msg("a D-SI unit is required"), field=field)
    if text.startswith("|"):
        raise InvalidInput(msg("non-D-SI unit %(text)r (marked with '|') is not accepted",
                               text=text), field=field)
    factors = _parse(text, field)
    long = _compose(factors, symbol=False, sep=" ")
    try:
        expected = ureg.parse_units(long)
    except Exception as exc:  # noqa: BLE001 - pint raises several types for one cause
        raise InvalidInput(msg("D-SI unit %(text)r cannot be represented (%(pint_unit)r)",
                               text=text, pint_unit=long), field=field) from exc
    # Try the compact text first. Each candidate goes through parse_unit, the path every
    # consumer takes, because its lab-notation rewriting can change a text: ``bar/min``
    # contains ``r/min`` (-> rpm), and a prefixed symbol can clash (``ft`` for femtotonne).
    for candidate in (_compose(factors, symbol=True, sep=""), _compose(factors, symbol=True, sep=" "),
                      long):
        try:
            if parse_unit(candidate, field=field) == expected:
                return candidate
        except InvalidInput:
            continue
    raise InvalidInput(msg("D-SI unit %(text)r cannot be written as a LIMS unit (%(pint_unit)r)",
                           text=text, pint_unit=long), field=field)


def _parse(text: str, field: str) -> list[tuple[str, str, Decimal]]:
    """Split D-SI text into (prefix, unit, exponent) factors, denominators already negated."""
    factors: list[tuple[str, str, Decimal]] = []
    prefix = ""
    sign = Decimal(1)
    seen_per = False
    after_per = 0  # units read after \per
    can_raise = False  # \tothe may follow a unit, once
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match and pos == 0:
            raise InvalidInput(msg("unit %(text)r is not written in D-SI notation (e.g. \\milli\\gram)",
                                   text=text),
                               field=field)
        if not match:
            raise InvalidInput(msg("D-SI unit %(text)r: cannot read %(rest)r",
                                   text=text, rest=text[pos:]), field=field)
        pos = match.end()
        word, arg = match.group(1), match.group(2)
        name = word.lower()
        if arg is not None and name != "tothe":
            raise InvalidInput(msg("D-SI unit %(text)r: \\%(word)s takes no argument",
                                   text=text, word=word), field=field)
        if name == "tothe":
            if not can_raise:
                raise InvalidInput(msg("D-SI unit %(text)r: \\tothe must follow a unit, once",
                                       text=text), field=field)
            factors[-1] = (*factors[-1][:2], sign * _exponent(arg, text, field))
            can_raise = False
        elif name == "per":
            if seen_per or prefix or not factors:
                raise InvalidInput(msg("D-SI unit %(text)r: \\per needs a unit before it and may appear "
                                       "once", text=text), field=field)
            seen_per, sign, can_raise = True, Decimal(-1), False
        elif name in PREFIXES:
            if prefix:
                raise InvalidInput(msg("D-SI unit %(text)r: two prefixes in a row",
                                       text=text), field=field)
            prefix, can_raise = name, False
        elif name in UNITS:
            if prefix and name in _NO_PREFIX:
                raise InvalidInput(msg("D-SI unit %(text)r: \\%(word)s takes no prefix",
                                       text=text, word=word), field=field)
            if prefix in _BINARY_PREFIXES and name not in ("bit", "byte"):
                raise InvalidInput(msg("D-SI unit %(text)r: \\%(prefix)s applies only to \\bit and \\byte",
                                       text=text, prefix=prefix),
                                   field=field)
            factors.append((prefix, name, sign))
            prefix, can_raise = "", True
            after_per += seen_per
        elif name in UNSUPPORTED:
            raise InvalidInput(msg("D-SI unit \\%(word)s (in %(text)r) has no equivalent in the LIMS unit "
                                   "registry", word=word, text=text), field=field)
        else:
            raise InvalidInput(msg("unknown D-SI unit \\%(word)s (in %(text)r)",
                                   word=word, text=text), field=field)
    if prefix:
        raise InvalidInput(msg("D-SI unit %(text)r: prefix \\%(prefix)s without a unit",
                               text=text, prefix=prefix), field=field)
    if seen_per and not after_per:
        raise InvalidInput(msg("D-SI unit %(text)r: \\per without a unit after it",
                               text=text), field=field)
    return factors


def _exponent(arg: str | None, text: str, field: str) -> Decimal:
    """Read the argument of ``\\tothe{...}``: an integer or a decimal such as ``0.5``."""
    raw = (arg or "").strip()
    if not _EXPONENT.match(raw):
        raise InvalidInput(msg("D-SI unit %(text)r: exponent {%(raw)s} is not a number",
                               text=text, raw=raw), field=field)
    try:
        exponent = Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise InvalidInput(msg("D-SI unit %(text)r: exponent {%(raw)s} is not a number",
                               text=text, raw=raw),
                           field=field) from exc
    if abs(exponent) > 10:  # no physical unit needs more; pint would build it regardless
        raise InvalidInput(msg("D-SI unit %(text)r: exponent {%(raw)s} is out of range",
                               text=text, raw=raw),
                           field=field)
    return exponent


def _compose(factors: list[tuple[str, str, Decimal]], *, symbol: bool, sep: str) -> str:
    """Write factors as ``a*b**2/c`` (``sep`` around the operators); negative exponents go below."""
    which = 0 if symbol else 1
    alone = len(factors) == 1 and factors[0][2] == 1
    upper: list[str] = []
    lower: list[str] = []
    for prefix, name, exponent in factors:
        if exponent == 0 or (name == "one" and not alone):
            continue  # x**0 and the unit one are factors of 1
        if name == "degreecelsius" and not alone:
            unit = "delta_degC"  # an offset unit cannot be multiplied; a ℃ ratio is a difference
        else:
            unit = (PREFIXES[prefix][which] if prefix else "") + UNITS[name][which]
        power = abs(exponent)
        term = unit if power == 1 else f"{unit}**{_plain(power)}"
        (upper if exponent > 0 else lower).append(term)
    text = f"{sep}*{sep}".join(upper) or "1"
    return text + "".join(f"{sep}/{sep}{term}" for term in lower)


def _plain(number: Decimal) -> str:
    """Write an exponent without a needless ``.0`` or scientific notation (``2``, ``0.5``)."""
    return format(number.normalize(), "f")


# D-SI spells these with capitals (the table above is keyed in lower case for lookup).
_DSI_SPELLING = {"degreecelsius": "degreeCelsius", "mmhg": "mmHg"}


def unit_to_dsi(text: str, *, field: str = "unit") -> str:
    """Return the D-SI form of a unit in lab notation: ``mg`` -> ``\\milli\\gram``, ``℃`` ->
    ``\\degreeCelsius``, ``r/min`` -> ``\\minute\\tothe{-1}``, ``%`` -> ``\\percent``.

    The inverse of :func:`dsi_to_unit` for the units a certificate prints; a temperature
    difference written ℃ is ``\\degreeCelsius`` too (D-SI has no separate difference unit).

    :raises InvalidInput: the text is not a unit, or it has a factor D-SI cannot write.
    """
    unit = parse_unit(text, field=field)
    names = {long: name for name, (_sym, long) in UNITS.items()}
    names |= {"delta_degree_Celsius": "degreecelsius", "percent_relative_humidity": "percent"}
    factors = []
    for long, exponent in unit._units.items():
        dsi = _dsi_factor(str(long), names)
        if dsi is None:
            raise InvalidInput(msg("unit %(text)r has a factor (%(pint_unit)s) D-SI cannot write",
                                   text=text, pint_unit=long),
                               field=field)
        power = Decimal(str(exponent))
        factors.append(dsi + ("" if power == 1 else f"\\tothe{{{_plain(power)}}}"))
    return "".join(factors) or "\\one"


def _dsi_factor(long: str, names: dict[str, str]) -> str | None:
    if long in names:
        return "\\" + _DSI_SPELLING.get(names[long], names[long])
    for prefix, (_sym, prefix_long) in PREFIXES.items():
        rest = long[len(prefix_long):]
        if long.startswith(prefix_long) and rest in names and names[rest] not in _NO_PREFIX:
            return f"\\{prefix}\\" + _DSI_SPELLING.get(names[rest], names[rest])
    return None
