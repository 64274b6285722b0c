"""The registry of quantity kinds: what a number measures, beyond pint's dimension.

pint knows dimensions, and a dimension is not enough for a lab: %RH, mg/kg and % are all
dimensionless, pint reads ``r/min`` as 2π rad/min, ``pH`` as picohenry and ``dB(A)`` as decibel ×
ampere, and HV and HRC cannot be converted into each other at all. A characteristic therefore
declares a *kind* (ISO 80000-1 3.2, "kind of quantity"), and a result is accepted only in a unit
of that kind and converted only within it. pint stays the one registry for conversion: a kind
names, for each unit it admits, the pint expression it means (``r/min`` → ``1/minute``, so
1 r/min = 1/60 s⁻¹ as GB 3102.3 has it). Units pint does not know or misreads and that are never
converted (pH, dB(A), HV10, CFU/g, 级) are *notation units*: accepted only exactly, stored as
written.

Display notation follows GB 3100/3102 (ISO 80000): ``N·m``, ``r/min``, ``mol/L``, ``μg/kg``.

Pure: imports neither Flask nor a Session.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import cache
from types import MappingProxyType

import pint

from lims.errors import InvalidInput, Message, Named, UnitMismatch, msg
from lims.units import convert as pint_convert
from lims.units import normalise_glyphs, parse_unit, ureg

#: How values of a kind are written (:mod:`lims.kinds.values`).
NUMBER, GRADE, QUALITATIVE = "number", "grade", "qualitative"
DIMENSIONLESS = "dimensionless"


@dataclasses.dataclass(frozen=True)
class UnitSpec:
    """A unit a kind admits.

    ``notation`` is the display form (GB 3100); ``aliases`` are other spellings accepted as the
    same unit; ``pint`` is the pint expression it means (None: a notation unit pint does not
    know, never converted). A unit with ``infer=False`` is accepted in the kind but does not by
    itself name it (``Hz`` is a frequency unless a characteristic says rotational frequency).
    """

    notation: str
    pint: str | None
    aliases: tuple[str, ...] = ()
    infer: bool = True


@dataclasses.dataclass(frozen=True)
class Kind:
    """A kind of quantity.

    ``open`` kinds also admit any pint unit of their ``dimension`` (``mm``, ``μm``, ``nm`` for a
    length) besides the listed ones; closed kinds admit only their listed units (and the same
    pint unit spelled otherwise, ``N*m`` for ``N·m``). Dimensionless kinds admit only their
    listed spellings: pint cannot tell them apart. ``minimum``/``maximum`` bound the value
    domain, in ``domain_unit`` (a pint expression; None: the number as written, for notation
    units).
    """

    id: str
    zh: str
    en: str
    units: tuple[UnitSpec, ...]
    convertible: bool = True
    open: bool = False
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    domain_unit: str | None = None
    values: str = NUMBER
    logarithmic: bool = False
    pattern: str | None = None   # regex of further notation units (hardness scales)
    pattern_hint: str = ""

    @property
    def dimension(self) -> str | None:
        """pint's dimensionality of the kind's units (None for notation-unit kinds)."""
        for spec in self.units:
            if spec.pint is not None:
                return _dimension(_pint(spec.pint))
        return None

    @property
    def notations(self) -> tuple[str, ...]:
        return tuple(u.notation for u in self.units if u.notation)

    def named(self) -> Named:
        """The kind's name: ``mass`` in English, 质量 to a Chinese reader (lims.errors.Named)."""
        return Named(self.en, self.zh)

    def describe(self) -> Message:
        """The kind and its units for an error: ``mass (质量 mass: kg, g, …)`` in English (the
        API's text); a page in Chinese shows ``质量（kg、g …）`` (issue 11 §1)."""
        units: str = ", ".join(n for n in self.notations) or msg("no unit")
        if self.pattern_hint:
            units = f"{units}, {self.pattern_hint}"
        names = {"id": self.id, "zh": self.zh, "en": self.en, "units": units}
        if self.open:
            return msg("%(id)s (%(zh)s %(en)s: %(units)s, or any unit of its dimension)", **names)
        return msg("%(id)s (%(zh)s %(en)s: %(units)s)", **names)

    def domain_text(self) -> str:
        """The value domain as text: ``≥ 0``, ``0 … 100 %``, ``≥ 0 K``."""
        unit = "" if self.domain_unit is None else " " + format(_pint(self.domain_unit), "~P")
        lo, hi = self.minimum, self.maximum
        if lo is None and hi is None:
            return "any value"
        if hi is None:
            return f"≥ {lo}" + ("" if lo == 0 and self.domain_unit != "kelvin" else unit)
        if lo is None:
            return f"≤ {hi}{unit}"
        return f"{lo} … {hi}{unit}"


Z = Decimal(0)
U = UnitSpec

#: The kinds, in the order the README table lists them.
_KINDS: tuple[Kind, ...] = (
    Kind("mass", "质量", "mass", (U("kg", "kilogram"), U("g", "gram"), U("mg", "milligram"),
                                U("μg", "microgram"), U("t", "metric_ton")),
         open=True, minimum=Z, domain_unit="gram"),
    Kind("length", "长度", "length", (U("m", "meter"), U("km", "kilometer"), U("cm", "centimeter"),
                                    U("mm", "millimeter"), U("μm", "micrometer"),
                                    U("nm", "nanometer")), open=True),
    Kind("area", "面积", "area", (U("m²", "meter**2", ("m2", "m^2")),
                                U("cm²", "centimeter**2", ("cm2", "cm^2")),
                                U("mm²", "millimeter**2", ("mm2", "mm^2"))),
         open=True, minimum=Z, domain_unit="meter**2"),
    Kind("volume", "体积", "volume", (U("L", "liter", ("l",)), U("mL", "milliliter", ("ml",)),
                                    U("μL", "microliter", ("μl",)),
                                    U("m³", "meter**3", ("m3", "m^3")),
                                    U("cm³", "centimeter**3", ("cm3", "cm^3"))),
         open=True, minimum=Z, domain_unit="liter"),
    Kind("time", "时间", "time", (U("s", "second"), U("ms", "millisecond"), U("min", "minute"),
                                U("h", "hour"), U("d", "day")),
         open=True, minimum=Z, domain_unit="second"),
    # An absolute temperature (thermodynamic or Celsius, GB 3102.4 4-1, 4-1.a).
    Kind("temperature", "温度", "temperature", (
        U("℃", "degC", ("°C", "degC", "degree_Celsius")),
        U("K", "kelvin", ("kelvin",)),
        U("℉", "degF", ("°F", "degF", "degree_Fahrenheit"))),
         minimum=Z, domain_unit="kelvin"),
    # A difference of temperatures (温升, a correction): ℃ is read as a difference (1 ℃ = 1 K).
    Kind("temperature_difference", "温差", "temperature difference", (
        U("K", "kelvin", ("kelvin",)),
        U("℃", "delta_degC", ("°C", "degC", "delta_degC", "Δ℃", "Δ°C", "delta_degree_Celsius")),
        U("mK", "millikelvin", ("millikelvin",)),
        U("℉", "delta_degF", ("°F", "degF", "delta_degF", "Δ℉", "Δ°F",
                               "delta_degree_Fahrenheit")))),
    Kind("pressure", "压力", "pressure", (U("Pa", "pascal"), U("kPa", "kilopascal"),
                                        U("MPa", "megapascal"), U("hPa", "hectopascal"),
                                        U("bar", "bar"), U("mbar", "millibar")), open=True),
    Kind("force", "力", "force", (U("N", "newton"), U("kN", "kilonewton"), U("mN", "millinewton")),
         open=True),
    # Closed: pint cannot tell N·m from J (toolchain notes); energy is its own kind.
    Kind("torque", "转矩", "torque", (
        U("N·m", "newton*meter", ("N*m", "N.m", "Nm", "m·N", "N m", "newton_meter")),
        U("kN·m", "kilonewton*meter", ("kN*m", "kN.m", "kNm")),
        U("mN·m", "millinewton*meter", ("mN*m", "mN.m", "mNm")),
        U("N·cm", "newton*centimeter", ("N*cm", "N.cm", "Ncm")),
        U("N·mm", "newton*millimeter", ("N*mm", "N.mm", "Nmm")))),
    Kind("voltage", "电压", "voltage", (U("V", "volt"), U("mV", "millivolt"), U("μV", "microvolt"),
                                      U("kV", "kilovolt")), open=True),
    Kind("current", "电流", "electric current", (U("A", "ampere"), U("mA", "milliampere"),
                                               U("μA", "microampere"), U("kA", "kiloampere")),
         open=True),
    Kind("resistance", "电阻", "resistance", (U("Ω", "ohm", ("ohm",)), U("mΩ", "milliohm"),
                                            U("kΩ", "kiloohm"), U("MΩ", "megaohm"),
                                            U("GΩ", "gigaohm")),
         open=True, minimum=Z, domain_unit="ohm"),
    Kind("frequency", "频率", "frequency", (U("Hz", "hertz"), U("mHz", "millihertz"),
                                          U("kHz", "kilohertz"), U("MHz", "megahertz"),
                                          U("GHz", "gigahertz"),
                                          U("s⁻¹", "1/second", ("1/s", "s^-1", "s-1"), infer=False)),
         minimum=Z, domain_unit="hertz"),
    # GB 3102.3 3-7: rotational frequency n, s⁻¹; r/min and r/s are counts per time, no 2π
    # (pint's revolution is 2π rad, which turns 1500 r/min into 157 Hz).
    Kind("rotational_frequency", "转速", "rotational frequency", (
        U("r/min", "1/minute", ("rpm", "r·min⁻¹", "min⁻¹", "1/min", "转/分", "revolutions_per_minute")),
        U("r/s", "1/second", ("rps", "r·s⁻¹", "revolutions_per_second")),
        U("s⁻¹", "1/second", ("1/s", "s^-1", "s-1")),
        U("Hz", "hertz", infer=False)),
         minimum=Z, domain_unit="1/second"),
    Kind("relative_humidity", "相对湿度", "relative humidity", (
        U("%RH", "percent", ("%rh", "%R.H.", "% RH", "percent_relative_humidity")),),
         minimum=Z, maximum=Decimal(100), domain_unit="percent"),
    Kind("mass_fraction", "质量分数", "mass fraction", (
        U("%(m/m)", "percent", ("%m/m", "%(w/w)", "%w/w", "wt%", "%(质量分数)")),
        U("%", "percent", ("percent",), infer=False),
        U("g/100g", "percent", ("g/100 g",)),
        U("g/kg", "gram/kilogram"), U("mg/g", "milligram/gram"),
        U("mg/kg", "milligram/kilogram"), U("μg/g", "microgram/gram"),
        U("μg/kg", "microgram/kilogram"), U("ng/g", "nanogram/gram"),
        U("ppm", "ppm"), U("ppb", "ppb")),
         minimum=Z, maximum=Decimal(100), domain_unit="percent"),
    Kind("volume_fraction", "体积分数", "volume fraction", (
        U("%(V/V)", "percent", ("%V/V", "%(v/v)", "%v/v", "%(体积分数)")),
        U("%vol", "percent", ("vol%", "%Vol", "% vol")),
        U("%", "percent", ("percent",), infer=False),
        U("mL/L", "milliliter/liter", ("ml/l", "ml/L")),
        U("μL/L", "microliter/liter", ("μl/l", "μl/L"))),
         minimum=Z, maximum=Decimal(100), domain_unit="percent"),
    Kind("mass_concentration", "质量浓度", "mass concentration", (
        U("mg/L", "milligram/liter", ("mg/l",)), U("g/L", "gram/liter", ("g/l",)),
        U("μg/L", "microgram/liter", ("μg/l",)), U("ng/L", "nanogram/liter", ("ng/l",)),
        U("mg/mL", "milligram/milliliter", ("mg/ml",)),
        U("μg/mL", "microgram/milliliter", ("μg/ml",)),
        U("g/m³", "gram/meter**3", ("g/m3",)), U("mg/m³", "milligram/meter**3", ("mg/m3",)),
        U("μg/m³", "microgram/meter**3", ("μg/m3",)), U("ng/m³", "nanogram/meter**3", ("ng/m3",))),
         minimum=Z, domain_unit="milligram/liter"),
    Kind("amount_concentration", "物质的量浓度", "amount-of-substance concentration", (
        U("mol/L", "mole/liter", ("mol/l",)), U("mmol/L", "millimole/liter", ("mmol/l",)),
        U("μmol/L", "micromole/liter", ("μmol/l",)), U("mol/m³", "mole/meter**3", ("mol/m3",))),
         minimum=Z, domain_unit="mole/liter"),
    Kind("ph", "pH 值", "pH", (U("pH", None, ("pH值",)),), convertible=False,
         minimum=Z, maximum=Decimal(14), logarithmic=True),
    # Each frequency weighting is its own scale (GB/T 3785.1): no conversion between them, and
    # a level is never converted to a linear unit.
    Kind("sound_level", "声级", "sound level", (
        U("dB", None), U("dB(A)", None, ("dBA", "dB A")), U("dB(C)", None, ("dBC", "dB C")),
        U("dB(Z)", None, ("dBZ",))), convertible=False, logarithmic=True),
    # The scale is part of the unit (GB/T 4340.1, 231.1, 230.1): HV10 and HV1 are different
    # scales; nothing converts between scales.
    Kind("hardness", "硬度", "hardness", (U("HV", None), U("HBW", None), U("HRC", None)),
         convertible=False, minimum=Z,
         pattern=r"^(HV|HK)(0\.0[125]|0\.[125]|[1-9]\d{0,2})?$"
                 r"|^HBW(\d+(\.\d+)?/\d+(\.\d+)?)?$"
                 r"|^HR(A|B|C|D|E|F|G|H|K|15N|30N|45N|15T|30T|45T)$|^HLD?$|^Shore[AD]$",
         pattern_hint="HV0.1 … HV100, HK…, HBW10/3000, HRA … HR45T, HL, ShoreA"),
    Kind("microbial_count", "微生物计数", "microbial count", (
        U("CFU/g", None, ("cfu/g",)), U("CFU/mL", None, ("cfu/mL", "cfu/ml", "CFU/ml")),
        U("CFU/100mL", None, ("CFU/100 mL", "cfu/100mL", "CFU/100ml")),
        U("CFU/cm²", None, ("CFU/cm2",)),
        U("MPN/g", None), U("MPN/100g", None, ("MPN/100 g",)),
        U("MPN/mL", None), U("MPN/100mL", None, ("MPN/100 mL", "MPN/100ml"))),
         convertible=False, minimum=Z),
    Kind("illuminance", "照度", "illuminance", (U("lx", "lux"), U("klx", "kilolux")),
         minimum=Z, domain_unit="lux"),
    Kind("luminance", "亮度", "luminance", (U("cd/m²", "candela/meter**2", ("cd/m2", "nit", "nt")),
                                          U("kcd/m²", "kilocandela/meter**2", ("kcd/m2",))),
         minimum=Z, domain_unit="candela/meter**2"),
    # Ordinal grades (色牢度 1 … 5, "4-5" between 4 and 5): compared by order, never converted.
    Kind("grade", "等级", "grade", (U("级", None, ("",)),), convertible=False, values=GRADE,
         minimum=Z, maximum=Decimal(10)),
    Kind("qualitative", "定性", "qualitative", (U("", None),), convertible=False,
         values=QUALITATIVE),
    Kind("ratio", "比率", "ratio", (U("%", "percent", ("percent",)), U("‰", "permille"),
                                  U("1", "dimensionless"))),
    # Kinds beyond issue 9's list that test methods commonly need.
    Kind("mass_per_area", "单位面积质量", "mass per area", (U("g/m²", "gram/meter**2", ("g/m2",)),),
         open=True, minimum=Z, domain_unit="gram/meter**2"),
    Kind("density", "密度", "density", (U("g/cm³", "gram/centimeter**3", ("g/cm3",)),
                                      U("kg/m³", "kilogram/meter**3", ("kg/m3",))),
         open=True, minimum=Z, domain_unit="kilogram/meter**3"),
    Kind("velocity", "速度", "velocity", (U("m/s", "meter/second"), U("km/h", "kilometer/hour"),
                                        U("mm/min", "millimeter/minute")), open=True),
    Kind("energy", "能量", "energy", (U("J", "joule"), U("kJ", "kilojoule"), U("MJ", "megajoule"),
                                    U("kW·h", "kilowatt*hour", ("kWh", "kW*h", "kW.h")),
                                    U("W·h", "watt*hour", ("Wh", "W*h"))), open=True),
    Kind("power", "功率", "power", (U("W", "watt"), U("mW", "milliwatt"), U("kW", "kilowatt"),
                                  U("MW", "megawatt")), open=True),
    Kind("angle", "角度", "plane angle", (U("°", "degree"), U("′", "arcminute"),
                                        U("″", "arcsecond"), U("rad", "radian"),
                                        U("mrad", "milliradian"))),
    # Any other physical quantity: a dimension check only (what every unit had before kinds).
    # Never for a dimensionless unit: those must name their kind.
    Kind("other", "其他", "other (dimension only)", (), open=True),
)

KINDS: Mapping[str, Kind] = MappingProxyType({k.id: k for k in _KINDS})


@dataclasses.dataclass(frozen=True)
class KindUnit:
    """A unit resolved within a kind.

    ``written`` is the text as written (only equivalent glyphs normalised: μ/µ, Ω/Ω, full-width
    forms); ``canonical`` is what is stored beside it: pint's long form of the unit's meaning
    (``1 / minute`` for r/min), or the notation of a unit pint does not know (``HV10``);
    ``notation`` is its GB 3100 display form.
    """

    kind: Kind
    written: str
    canonical: str
    notation: str
    pint: pint.Unit | None


# --- lookup ----------------------------------------------------------------------------------

def key_of(text: str) -> str:
    """The lookup key of a unit: glyphs normalised, all white space removed."""
    return "".join(normalise_glyphs(text).split())


@cache
def _pint(expression: str) -> pint.Unit:
    return ureg.parse_units(expression)


def _dimension(unit: pint.Unit) -> str:
    dim = str(unit.dimensionality)
    return DIMENSIONLESS if dim in ("", DIMENSIONLESS) else dim


@cache
def _index() -> dict[str, tuple[tuple[Kind, UnitSpec], ...]]:
    out: dict[str, list[tuple[Kind, UnitSpec]]] = {}
    for kind in _KINDS:
        for spec in kind.units:
            for text in (spec.notation, *spec.aliases):
                entries = out.setdefault(key_of(text), [])
                if (kind, spec) not in entries:
                    entries.append((kind, spec))
    return {k: tuple(v) for k, v in out.items()}


def _pattern_kinds(key: str) -> list[Kind]:
    return [k for k in _KINDS if k.pattern and re.match(k.pattern, key)]


def notation_matches(text: str) -> tuple[tuple[Kind, UnitSpec], ...]:
    """The (kind, unit) pairs whose notation or alias the text is."""
    return _index().get(key_of(text), ())


def lab_pint_unit(text: str) -> pint.Unit | None:
    """The pint unit a lab notation means when every kind that lists it agrees, else None.

    Used by :func:`lims.units.parse_unit` for dimension-only checks (calibration points): ``r/min``
    is 1/min, ``%(m/m)`` is percent, and notation units (pH, dB(A), HV10, CFU/g) are
    dimensionless rather than picohenry or decibel × ampere.
    """
    key = key_of(text)
    matches = _index().get(key, ())
    meanings = {spec.pint or DIMENSIONLESS for _k, spec in matches}
    if not matches and _pattern_kinds(key):
        meanings = {DIMENSIONLESS}
    if len(meanings) != 1:
        return None
    return _pint(meanings.pop())


def get(kind_id: object, *, field: str = "kind") -> Kind:
    """The kind with this identifier.

    :raises InvalidInput: not one of the registry's identifiers.
    """
    if isinstance(kind_id, str) and kind_id.strip() in KINDS:
        return KINDS[kind_id.strip()]
    shown = kind_id if isinstance(kind_id, str) and len(kind_id) <= 40 else type(kind_id).__name__
    raise InvalidInput(msg("unknown kind %(kind)r; one of %(choices)s", kind=shown,
                           choices=", ".join(KINDS)), field=field)


def _unit_text(text: object, field: str) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        raise InvalidInput(msg("a unit must be text"), field=field)
    if len(text) > 40:
        raise InvalidInput(msg("unit is longer than 40 characters"), field=field)
    if not text.isprintable():
        raise InvalidInput(msg("unit contains a control character or invalid text"), field=field)
    return normalise_glyphs(text).strip()


def _parse_pint(written: str, field: str) -> pint.Unit:
    return parse_unit(written, field=field)


def infer(text: object, *, field: str = "unit", kind_field: str = "kind") -> Kind:
    """The kind a unit names on its own.

    :raises InvalidInput: an unknown unit; a unit several kinds share (``K``, ``℃``: say
        ``temperature`` or ``temperature_difference``); a dimensionless unit no kind lists.
    """
    written = _unit_text(text, field)
    if not written:
        raise InvalidInput(msg("a unit is required (or a kind: grade, qualitative)"), field=field)
    matches = notation_matches(written)
    if matches:
        kinds = _unique([k for k, spec in matches if spec.infer]) or _unique([k for k, _ in matches])
        if len(kinds) == 1:
            return kinds[0]
        raise _ambiguous(written, kinds, kind_field)
    patterned = _pattern_kinds(key_of(written))
    if patterned:
        return patterned[0]
    unit = _parse_pint(written, field)
    dim = _dimension(unit)
    exact = _unique([k for k in _KINDS if not k.open and k.dimension not in (None, DIMENSIONLESS)
                     and any(s.pint is not None and _pint(s.pint) == unit for s in k.units)])
    exact += _unique([k for k in _KINDS if k.open and k.id != "other"
                      and any(s.pint is not None and _pint(s.pint) == unit for s in k.units)])
    exact = _unique(exact)
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        raise _ambiguous(written, exact, kind_field)
    if dim == DIMENSIONLESS:
        raise InvalidInput(
            msg("unit %(unit)r is dimensionless and names no kind; give %(field)r (ratio, "
                "mass_fraction, volume_fraction, relative_humidity …) and one of its units",
                unit=written, field=kind_field),
            field=kind_field, unit=written)
    by_dimension = [k for k in _KINDS if k.open and k.id != "other" and k.dimension == dim]
    return by_dimension[0] if len(by_dimension) == 1 else KINDS["other"]


def _ambiguous(written: str, kinds: list[Kind], kind_field: str) -> InvalidInput:
    # The kinds by id in English (the API's text), by name on a Chinese page (issue 11 §1).
    names = _either([Named(k.id, k.zh) for k in kinds])
    return InvalidInput(msg("unit %(unit)r does not say what it measures: give the kind "
                            "(%(kinds)s)", unit=written, kinds=names),
                        field=kind_field, unit=written, kinds=[k.id for k in kinds])


def _unique(kinds: Iterable[Kind]) -> list[Kind]:
    out: list[Kind] = []
    for k in kinds:
        if k not in out:
            out.append(k)
    return out


def resolve(kind: Kind, text: object, *, field: str = "unit", like: str | None = None,
            expected: str | None = None) -> KindUnit:
    """Resolve a unit as written within a kind.

    :param like: the canonical unit of the characteristic (kind ``other`` accepts any unit of
        its dimension).
    :param expected: the characteristic's unit as written, named in a mismatch.
    :raises InvalidInput: an unknown unit, or a missing one.
    :raises UnitMismatch: a unit that is not of the kind; the message names the unit and the
        kind (and the kinds the unit does belong to).
    """
    written = _unit_text(text, field)
    key = key_of(written)
    matches = notation_matches(written)
    for k, spec in matches:
        if k is kind:
            return _kind_unit(kind, written, spec)
    if not written and kind.values != NUMBER:
        return _kind_unit(kind, "", kind.units[0])
    if not written:
        raise InvalidInput(msg("a unit is required"), field=field)
    if matches:
        raise _mismatch(kind, written, [k for k, _ in matches], field, expected)
    patterned = _pattern_kinds(key)
    if patterned:
        if kind in patterned:
            return KindUnit(kind, written, key, key, None)
        raise _mismatch(kind, written, patterned, field, expected)
    unit = _parse_pint(written, field)
    dim = _dimension(unit)
    if kind.dimension is None and kind.id != "other":
        raise _mismatch(kind, written, _kinds_of(unit), field, expected)
    for spec in kind.units:
        if spec.pint is not None and dim != DIMENSIONLESS and _pint(spec.pint) == unit:
            return KindUnit(kind, written, str(_pint(spec.pint)), spec.notation, _pint(spec.pint))
    if kind.id == "other":
        want = _dimension(ureg.parse_units(like)) if like else None
        if dim != DIMENSIONLESS and (want is None or want == dim):
            return KindUnit(kind, written, str(unit), written, unit)
    elif kind.open and dim != DIMENSIONLESS and dim == kind.dimension:
        return KindUnit(kind, written, str(unit), written, unit)
    raise _mismatch(kind, written, _kinds_of(unit), field, expected)


def _kinds_of(unit: pint.Unit) -> list[Kind]:
    dim = _dimension(unit)
    if dim == DIMENSIONLESS:
        return []
    return [k for k in _KINDS if k.id != "other" and k.dimension == dim]


def _kind_unit(kind: Kind, written: str, spec: UnitSpec) -> KindUnit:
    if spec.pint is None:
        return KindUnit(kind, written, spec.notation, spec.notation, None)
    unit = _pint(spec.pint)
    return KindUnit(kind, written, str(unit), spec.notation, unit)


def _mismatch(kind: Kind, written: str, others: list[Kind], field: str,
              expected: str | None) -> UnitMismatch:
    of = [Named(k.id, k.zh) for k in _unique(others) if k is not kind]
    # The kinds stay ids in English (the API's text); a Chinese page names them (issue 11 §1).
    what: str = msg("%(unit)s (%(kinds)s)", unit=repr(written), kinds=_either(of)) if of \
        else repr(written)
    if expected is not None:
        message = msg("unit %(given)s is not a unit of %(kind)s; the characteristic is in "
                      "%(expected)r (%(kind_id)s)", given=what, kind=kind.describe(),
                      expected=expected, kind_id=Named(kind.id, kind.zh))
    else:
        message = msg("unit %(given)s is not a unit of %(kind)s", given=what,
                      kind=kind.describe())
    return UnitMismatch(message, field=field, given=written, kind=kind.id,
                        expected=expected if expected is not None else kind.id)


def _either(names: list[Named]) -> Message:
    """``a or b or c``, each language with its own "or"."""
    if len(names) == 1:
        return names[0]
    return msg("%(first)s or %(rest)s", first=names[0], rest=_either(names[1:]))


def convert(value: Decimal, src: KindUnit, dst: KindUnit) -> Decimal:
    """Convert a value between two units of one kind (pint does the arithmetic).

    :raises UnitMismatch: different kinds, or different units of a kind that is never
        converted (HV to HRC, dB(A) to dB(C)).
    """
    if src.kind is not dst.kind:
        raise UnitMismatch(msg("a %(kind)s in %(unit)r is not a %(expected)s",
                               kind=Named(src.kind.id, src.kind.zh), unit=src.written,
                               expected=Named(dst.kind.id, dst.kind.zh)),
                           field="unit", given=src.written, kind=dst.kind.id, expected=dst.written)
    if src.canonical == dst.canonical:
        return value
    if not src.kind.convertible or src.pint is None or dst.pint is None:
        names = {"given": src.written, "expected": dst.written,
                 "kind": Named(src.kind.id, src.kind.zh),
                 "kind_en": src.kind.en}
        raise UnitMismatch(
            msg("unit %(given)r cannot be converted to %(expected)r: %(kind)s (%(kind_en)s) "
                "is never converted between scales", **names) if src.kind.id == "hardness" else
            msg("unit %(given)r cannot be converted to %(expected)r: %(kind)s (%(kind_en)s) "
                "is never converted between units", **names),
            field="unit", given=src.written, kind=src.kind.id, expected=dst.written)
    return pint_convert(value, src.pint, dst.pint)


def domain_bounds(unit: KindUnit) -> tuple[Decimal | None, Decimal | None]:
    """The kind's value domain expressed in ``unit``."""
    kind = unit.kind
    if kind.domain_unit is None or unit.pint is None:
        return kind.minimum, kind.maximum
    src = _pint(kind.domain_unit)

    def conv(x: Decimal | None) -> Decimal | None:
        return None if x is None else pint_convert(x, src, unit.pint)  # type: ignore[arg-type]

    return conv(kind.minimum), conv(kind.maximum)


def stored_unit(canonical: str) -> tuple[str, str, str]:
    """(kind, unit as written, canonical) for a unit stored before kinds existed.

    Migration 0006 uses it. An absolute ``degree_Celsius``/``kelvin``/``degree_Fahrenheit``
    stays an absolute temperature (pint converted it so); a stored notation (``percent``,
    ``revolutions_per_minute``) or a unit a kind lists takes that kind and its GB 3100
    notation; another unit of an open kind's dimension takes that kind; anything else becomes
    ``other`` (a dimension check, as before), or ``ratio`` when dimensionless.
    """
    absolute = {"degree_Celsius": ("℃", "degC"), "kelvin": ("K", "kelvin"),
                "degree_Fahrenheit": ("℉", "degF")}
    if canonical in absolute:
        shown, expression = absolute[canonical]
        return "temperature", shown, str(_pint(expression))
    matches = notation_matches(canonical)
    preferred = [m for m in matches if m[1].infer] or list(matches)
    if preferred:
        kind, spec = preferred[0]
        return kind.id, spec.notation, _kind_unit(kind, spec.notation, spec).canonical
    try:
        unit = ureg.parse_units(canonical)
    except Exception:  # noqa: BLE001 - a stored string pint no longer reads: keep it as it is
        return "other", canonical[:40], canonical
    for kind in _KINDS:
        for spec in kind.units:
            if spec.infer and spec.pint is not None and _pint(spec.pint) == unit:
                return kind.id, spec.notation, str(unit)
    dim = _dimension(unit)
    shown = (format(unit, "~P") or "1")[:40]
    if dim == DIMENSIONLESS:
        return "ratio", shown, str(unit)
    by_dimension = [k for k in _KINDS if k.open and k.id != "other" and k.dimension == dim]
    return (by_dimension[0].id if len(by_dimension) == 1 else "other"), shown, str(unit)
