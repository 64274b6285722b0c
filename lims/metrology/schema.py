"""The JSON form of an uncertainty budget: units, inputs, correlations, CMC (``lims uncertainty``).

Every error is :class:`lims.errors.InvalidInput` naming the field (``inputs[2].uncertainty.
half_width``) and, for units, both units. Absolute temperatures (°C, °F) are tracked separately
from temperature differences (K, delta_degC); ``°C`` inside a compound unit (``1/°C``,
``µm/°C``) is an interval.

Pure: imports neither Flask nor a Session.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
import statistics
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import pint
from pint.facets.plain import PlainUnit
from pint.util import UnitsContainer

from lims.errors import InvalidInput, msg
from lims.metrology.coverage import coverage_factor
from lims.metrology.model import FUNCTIONS, Dim, Model, dimension_key, interned
from lims.units import normalise_unit_text, ureg

DISTRIBUTIONS = ("normal", "rectangular", "triangular", "trapezoidal", "arcsine", "standard")
# GUM 4.3.7-4.3.9: divisors from a half-width a to a standard uncertainty.
DIVISORS = {"rectangular": math.sqrt(3), "triangular": math.sqrt(6), "arcsine": math.sqrt(2)}
INF = math.inf
_FUNCTION_NAMES = frozenset(FUNCTIONS)  # looked up once per input: a set, not a tuple scan


# --- units -----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class UnitInfo:
    """A unit as written, with what it takes to go to SI base units and back."""

    text: str
    unit: pint.Unit
    base: PlainUnit        # the SI base unit (kelvin for any temperature)
    factor: float          # base per unit (for an absolute temperature: per degree)
    zero: float            # base value of the unit's zero (273.15 for °C), 0 otherwise
    absolute: bool         # an absolute temperature on an offset scale

    def to_base(self, value: float) -> float:
        return self.zero + value * self.factor

    def from_base(self, value: Any) -> Any:
        return (value - self.zero) / self.factor

    @functools.cached_property
    def dimensionality(self) -> UnitsContainer:
        """Computed once: pint works it out again at every call."""
        return self.base.dimensionality

    @functools.cached_property
    def dim(self) -> Dim:
        return Dim(self.base, self.absolute, self.text)

    @functools.cached_property
    def dimension(self) -> tuple[tuple[str, Any], ...]:
        """The dimension as (dimension, exponent) pairs, () for a number: two of them compare
        in C, two pint dimensionalities in Python."""
        return dimension_key(self.base)


def parse_budget_unit(text: Any, field: str, key: str = "", *, interval: bool = False
                      ) -> UnitInfo:
    """Parse a unit of a budget; ``interval`` reads °C as a temperature difference. Errors name
    ``field``, or ``field.key`` when a key is given."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(msg("a unit is required"), field=_field(field, key))
    unit = _budget_unit(text, interval)
    if unit is None:
        raise InvalidInput(msg("unknown unit %(unit)r", unit=text), field=_field(field, key))
    return unit


# Parsing a unit with pint costs ~0.4 ms, most of a budget's parse, and a budget repeats a few
# units over all its inputs; UnitInfo is immutable, so one is shared by every budget.
@functools.lru_cache(maxsize=1024)
def _budget_unit(text: str, interval: bool) -> UnitInfo | None:
    norm = normalise_unit_text(text)
    absolute = norm in ("degC", "degF") and not interval
    if not absolute:
        # °C in a compound (1/°C, µm/°C) or as an uncertainty is an interval.
        norm = norm.replace("delta_degC", "degC").replace("degC", "delta_degC")
        norm = norm.replace("delta_degF", "degF").replace("degF", "delta_degF")
    try:
        unit = ureg.parse_units(norm)
        base_q = ureg.Quantity(Decimal(1), unit).to_base_units() if not absolute else None
    except Exception:  # noqa: BLE001 - pint raises many kinds
        return None
    if absolute:
        delta = ureg.parse_units("delta_" + norm)
        factor = float(ureg.Quantity(Decimal(1), delta).to("kelvin").magnitude)
        zero = float(ureg.Quantity(Decimal(0), unit).to("kelvin").magnitude)
        return UnitInfo(text.strip(), unit, interned(ureg.kelvin), factor, zero, True)
    assert base_q is not None  # noqa: S101 - set above when not absolute
    return UnitInfo(text.strip(), unit, interned(base_q.units), float(base_q.magnitude), 0.0,
                    False)


def _same_dimension(a: UnitInfo, b: UnitInfo) -> bool:
    return a is b or a.dimension == b.dimension


def _dimensionless(u: UnitInfo) -> bool:
    return not u.dimension


# --- parsing ---------------------------------------------------------------------------------

def _number(value: Any, field: str, key: str = "", *, positive: bool = False,
            allow_zero: bool = True) -> Decimal:
    """``value`` as a Decimal; errors name ``field``, or ``field.key`` when a key is given (the
    name is only written out for an error: a budget reads thousands of numbers)."""
    kind = type(value)  # the JSON types first: isinstance with a union is the slow path
    if kind is str:
        text = value.strip()
    elif kind is int or kind is float:
        text = repr(value)
    elif value is None:
        raise InvalidInput(msg("is required"), field=_field(field, key))
    elif isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput(msg("must be a number (or a number written as text)"),
                           field=_field(field, key))
    else:
        text = value.strip() if isinstance(value, str) else repr(value)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(msg("%(value)r is not a number", value=value),
                           field=_field(field, key)) from None
    if not number.is_finite():
        raise InvalidInput(msg("%(value)r is not a finite number", value=value),
                           field=_field(field, key))
    # is_zero()/is_signed() rather than comparing with 0: a Decimal's comparison with an int
    # costs three times as much, at every number of a budget (issue 14). -0 counts as zero.
    if positive and (not allow_zero if number.is_zero() else number.is_signed()):
        raise InvalidInput(msg("must be positive") if not allow_zero else
                           msg("must be zero or positive"), field=_field(field, key))
    return number


def _field(field: str, key: str) -> str:
    return f"{field}.{key}" if key else field


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)  # JSON gives dicts


def _dof(value: Any, field: str, key: str = "") -> float:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("inf", "infinity")):
        return INF
    if type(value) is int and 0 < value < 2 ** 53:
        return float(value)  # what the Decimal gives, without making one
    dof = float(_number(value, field, key))
    if dof <= 0:
        raise InvalidInput(msg("degrees of freedom must be positive"), field=_field(field, key))
    return dof


class InputQuantity(NamedTuple):
    """One input of a budget. Immutable; a NamedTuple rather than a frozen dataclass because a
    budget builds one per input and a frozen dataclass of ten fields costs ~2 µs to build,
    as much as a fifth of GTC's own work for the input (issue 14)."""

    symbol: str
    value: Decimal            # in ``unit`` (for type A readings: their mean)
    unit: UnitInfo
    type: str                 # "A", "B" or "constant"
    distribution: str         # normal, rectangular, triangular, arcsine, standard, readings
    standard: float           # standard uncertainty in ``unit``
    dof: float
    half_width: float | None  # in ``unit``, for the Monte Carlo draws
    beta: float | None = None  # trapezoidal: top half-width over base half-width
    readings: tuple[Decimal, ...] = ()  # type A: the indications, in ``unit``

    @property
    def constant(self) -> bool:
        return self.type == "constant"


@dataclasses.dataclass(frozen=True)
class Budget:
    symbol: str
    unit: UnitInfo
    description: str
    model: Model
    k: Decimal | None
    probability: Decimal | None
    inputs: tuple[InputQuantity, ...]
    correlations: tuple[tuple[str, str, float], ...]   # stated
    cmc: CMC | None           # smallest U the lab may report
    # Type A inputs observed together (GUM H.2): their correlations come from the readings.
    simultaneous: tuple[tuple[str, ...], ...] = ()
    # Inputs declared an ensemble (Willink 2007), so finite-dof inputs may be correlated.
    ensembles: tuple[tuple[str, ...], ...] = ()
    # The correlations of simultaneous inputs, estimated from their readings (GUM 5.2.3, C.3.6).
    estimated_correlations: tuple[tuple[str, str, float], ...] = ()


@dataclasses.dataclass(frozen=True)
class CMC:
    """A calibration and measurement capability U = a + b·|y| (ILAC-P14 5.4), with ``a`` in the
    measurand's unit and ``b`` a plain number (ppm, % and µV/V already applied)."""

    a: Decimal
    b: Decimal = Decimal(0)

    def at(self, value: Decimal) -> Decimal:
        """The CMC for a result ``value`` in the measurand's unit."""
        return self.a + self.b * abs(value)


def _parse_input(i: int, raw: Any) -> InputQuantity:
    # Field names are only written out for an error (``_field``): a budget has many inputs.
    f = f"inputs[{i}]"
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise InvalidInput(msg("must be an object"), field=f)
    symbol = raw.get("symbol")
    if not isinstance(symbol, str) or not symbol.isidentifier() or symbol in _FUNCTION_NAMES:
        raise InvalidInput(msg("must be a name such as m_S (letters, digits, _)"), field=f"{f}.symbol")
    unit = parse_budget_unit(raw.get("unit"), f, "unit")
    unc = raw.get("uncertainty")
    if unc is None:
        value = _number(raw.get("value"), f, "value")
        return InputQuantity(symbol, value, unit, "constant", "constant", 0.0, INF, None)
    if type(unc) is not dict and not isinstance(unc, Mapping):
        raise InvalidInput(msg("must be an object"), field=f"{f}.uncertainty")
    kind = unc.get("type")
    u_text = unc.get("unit")
    if u_text is None and not unit.absolute:
        # Most uncertainties are in the input's own unit: what the branches below give then
        # (factor / factor is exactly 1.0), without their checks at every input (issue 14).
        scale = 1.0
    else:
        scale = _uncertainty_scale(raw, unc, f, kind, symbol, unit, u_text)
    if kind == "A":
        if "readings" in unc:
            readings = unc["readings"]
            if not isinstance(readings, list) or len(readings) < 2:
                raise InvalidInput(msg("needs at least two readings"), field=f"{f}.uncertainty.readings")
            values = [_number(r, f"{f}.uncertainty.readings[{j}]") for j, r in enumerate(readings)]
            mean = sum(values, Decimal(0)) / len(values)
            s = statistics.stdev(float(v) for v in values)
            # GUM 4.2.3: u = s/√n with ν = n − 1; readings are in the input's unit.
            return InputQuantity(symbol, mean, unit, "A", "readings", s / math.sqrt(len(values)),
                                 float(len(values) - 1), None, readings=tuple(values))
        if "standard" not in unc:
            raise InvalidInput(msg("type A needs readings, or standard and dof"), field=f"{f}.uncertainty")
        value = _number(raw.get("value"), f, "value")
        u = float(_number(unc["standard"], f, "uncertainty.standard", positive=True)) * scale
        return InputQuantity(symbol, value, unit, "A", "normal", u,
                             _dof(unc.get("dof"), f, "uncertainty.dof"), None)
    if kind != "B":
        raise InvalidInput(msg("must be \"A\" or \"B\""), field=f"{f}.uncertainty.type")
    value = _number(raw.get("value"), f, "value")
    dist = unc.get("distribution")
    if dist not in DISTRIBUTIONS:
        raise InvalidInput(msg("must be one of %(choices)s", choices=", ".join(DISTRIBUTIONS)),
                           field=f"{f}.uncertainty.distribution")
    dof = _dof(unc.get("dof"), f, "uncertainty.dof")
    if dist in DIVISORS:
        a = float(_number(unc.get("half_width"), f, "uncertainty.half_width", positive=True)) * scale
        return InputQuantity(symbol, value, unit, "B", dist, a / DIVISORS[dist], dof, a)
    if dist == "trapezoidal":
        # GUM 4.3.9: a symmetric trapezoid of half-width a whose top has half-width β·a has
        # u² = a²(1 + β²)/6; β = 0 is triangular, β = 1 rectangular.
        a = float(_number(unc.get("half_width"), f, "uncertainty.half_width", positive=True)) * scale
        beta = float(_number(unc.get("beta"), f, "uncertainty.beta", positive=True))
        if beta > 1:
            raise InvalidInput(msg("β, the top's half-width over the base's, lies between 0 and 1"),
                               field=f"{f}.uncertainty.beta")
        return InputQuantity(symbol, value, unit, "B", dist, a * math.sqrt((1 + beta ** 2) / 6),
                             dof, a, beta=beta)
    if dist == "standard":
        u = float(_number(unc.get("standard"), f, "uncertainty.standard", positive=True)) * scale
        return InputQuantity(symbol, value, unit, "B", dist, u, dof, None)
    expanded = float(_number(unc.get("expanded"), f, "uncertainty.expanded", positive=True)) * scale
    if unc.get("k") is not None:
        k = float(_number(unc["k"], f, "uncertainty.k", positive=True, allow_zero=False))
    elif unc.get("probability") is not None:
        p = _probability(unc["probability"], f"{f}.uncertainty.probability")
        k = coverage_factor(dof, p)  # GUM G.3: t_p(ν) for the stated dof, normal if infinite
    else:
        raise InvalidInput(msg("a normal uncertainty needs k or probability with expanded"),
                           field=f"{f}.uncertainty")
    return InputQuantity(symbol, value, unit, "B", "normal", expanded / k, dof, None)


def _uncertainty_scale(raw: Mapping[str, Any], unc: Mapping[str, Any], f: str, kind: Any,
                       symbol: str, unit: UnitInfo, u_text: Any) -> float:
    """What converts an input's uncertainty, as written, to the input's unit: from the unit
    its uncertainty gives, or relative to its value (ppm, %, µV/V)."""
    u_unit = unit if u_text is None else parse_budget_unit(
        u_text, f, "uncertainty.unit", interval=True)
    if u_unit.absolute:  # the uncertainty of an absolute temperature is an interval
        u_unit = parse_budget_unit(unit.text, f, "uncertainty.unit", interval=True)
    relative = not u_unit.dimension and bool(unit.dimension)  # dimensionless on a unit
    if relative:
        # ppm, %, µV/V on a quantity with a unit: relative to the input's value, as calibrator
        # and DMM certificates state them (u = 5 ppm of 10 V is 50 µV).
        if kind == "A" and "readings" in unc:
            raise InvalidInput(msg("readings are in the input's unit; a relative unit applies "
                                   "to standard, expanded or half_width"), field=f"{f}.uncertainty.unit")
        if unit.absolute:
            raise InvalidInput(msg("an uncertainty relative to an absolute temperature "
                                   "(%(relative)r of %(unit)r) has no meaning; give it in K or mK",
                                   relative=u_unit.text, unit=unit.text), field=f"{f}.uncertainty.unit")
        value = _number(raw.get("value"), f, "value")
        if value == 0:
            raise InvalidInput(msg("a relative uncertainty (%(relative)r) needs a value other "
                                   "than zero", relative=u_unit.text), field=f"{f}.uncertainty.unit")
        scale = u_unit.factor * abs(float(value))  # relative unit -> input unit
    elif u_unit is not unit and u_unit.dimension != unit.dimension:
        raise InvalidInput(msg("the uncertainty unit %(given)r of %(symbol)s is not compatible "
                               "with its unit %(unit)r", given=u_unit.text, symbol=symbol,
                               unit=unit.text), field=f"{f}.uncertainty.unit")
    else:
        scale = u_unit.factor / unit.factor  # uncertainty unit -> input unit
    return scale


def _probability(value: Any, field: str) -> float:
    p = float(_number(value, field))
    if not 0 < p < 1:
        raise InvalidInput(msg("must be a probability between 0 and 1, e.g. 0.95"), field=field)
    return p


# A budget's model is parsed once per expression and symbols: a procedure's budget is
# evaluated for every calibration with new values and the same model (issue 14). A Model is
# not changed after it is built. Long models are parsed each time, so the cache stays small.
_CACHED_MODEL_LENGTH = 4_000


def _model(expression: object, symbols: set[str]) -> Model:
    if isinstance(expression, str) and len(expression) <= _CACHED_MODEL_LENGTH:
        return _cached_model(expression.strip(), frozenset(symbols))
    return Model(expression, symbols)


@functools.lru_cache(maxsize=64)
def _cached_model(expression: str, symbols: frozenset[str]) -> Model:
    return Model(expression, set(symbols))


def parse_budget(data: Any) -> Budget:
    """Validate the JSON form of a budget (see ``lims uncertainty``) and return a Budget."""
    if not _is_mapping(data):
        raise InvalidInput(msg("the budget must be a JSON object"), field="budget")
    m = data.get("measurand")
    if not _is_mapping(m):
        raise InvalidInput(msg("must be an object with symbol and unit"), field="measurand")
    symbol = m.get("symbol")
    if not isinstance(symbol, str) or not symbol.strip():
        raise InvalidInput(msg("is required"), field="measurand.symbol")
    unit = parse_budget_unit(m.get("unit"), "measurand.unit")
    raw_inputs = data.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise InvalidInput(msg("at least one input is required"), field="inputs")
    inputs = tuple(_parse_input(i, raw) for i, raw in enumerate(raw_inputs))
    symbols = [q.symbol for q in inputs]
    distinct = set(symbols)
    if len(distinct) != len(symbols):
        dupes = sorted(s for s, n in collections.Counter(symbols).items() if n > 1)
        raise InvalidInput(msg("input symbol(s) %(symbols)s given twice",
                               symbols=", ".join(dupes)), field="inputs")
    model = _model(data.get("model"), distinct)
    unused = [] if len(model.used) == len(distinct) else [
        s for s in symbols if s not in model.used]
    if unused:
        raise InvalidInput(msg("input(s) %(symbols)s are not used by the model (a typo?)",
                               symbols=", ".join(unused)), field="inputs")

    coverage = data.get("coverage", {"k": 2})
    k = p = None
    if not _is_mapping(coverage) or ("k" in coverage) == ("probability" in coverage):
        raise InvalidInput(msg('must be {"k": number} or {"probability": p}'), field="coverage")
    if "k" in coverage:
        k = _number(coverage["k"], "coverage.k", positive=True, allow_zero=False)
    else:
        p = Decimal(str(_probability(coverage["probability"], "coverage.probability")))

    raw_correlations = data.get("correlations") or []
    if raw_correlations or data.get("simultaneous") is not None or \
            data.get("ensembles") is not None:
        correlations, simultaneous, ensembles, estimated = _parse_relations(
            data, inputs, raw_correlations)
    else:  # most budgets: independent inputs, nothing to index them for (issue 14)
        correlations, simultaneous, ensembles, estimated = [], (), (), []

    cmc = _parse_cmc(data.get("cmc"), unit)
    budget = Budget(symbol.strip(), unit, str(m.get("description") or ""), model, k, p, inputs,
                    tuple(correlations), cmc, simultaneous, ensembles, tuple(estimated))
    _check_dimensions(budget)
    return budget


def _parse_relations(data: Mapping[str, Any], inputs: tuple[InputQuantity, ...],
                     raw_correlations: Any) -> tuple[
        list[tuple[str, str, float]], tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...],
        list[tuple[str, str, float]]]:
    """The stated correlations, the simultaneous inputs and ensembles, and the correlations
    estimated from simultaneous readings."""
    by_symbol = {q.symbol: q for q in inputs}
    taken: dict[str, str] = {}
    simultaneous = _parse_groups(data, "simultaneous", by_symbol, taken)
    ensembles = _parse_groups(data, "ensembles", by_symbol, taken)
    in_group = {s: group for group in simultaneous for s in group}
    in_ensemble = {s: group for group in (*simultaneous, *ensembles) for s in group}
    correlations: list[tuple[str, str, float]] = []
    for j, c in enumerate(raw_correlations):
        cf = f"correlations[{j}]"
        if not isinstance(c, Mapping):
            raise InvalidInput(msg("must be an object with a, b and r"), field=cf)
        pair: list[str] = []
        for key in ("a", "b"):
            sym = c.get(key)
            # A list or object here is no symbol (and would not even hash for the lookup).
            if not isinstance(sym, str) or sym not in by_symbol:
                raise InvalidInput(msg("unknown input %(symbol)r", symbol=sym),
                                   field=f"{cf}.{key}")
            if by_symbol[sym].constant:
                raise InvalidInput(msg("%(symbol)s is a constant and cannot be correlated",
                                       symbol=sym), field=f"{cf}.{key}")
            pair.append(sym)
        a, b = pair
        if a == b:
            raise InvalidInput(msg("an input cannot be correlated with itself"), field=cf)
        r = float(_number(c.get("r"), f"{cf}.r"))
        if not -1 <= r <= 1:
            raise InvalidInput(msg("a correlation coefficient lies between -1 and 1"), field=f"{cf}.r")
        if a in in_group and in_group.get(b) == in_group[a]:
            raise InvalidInput(msg("%(a)s and %(b)s are simultaneous: their correlation is "
                                   "estimated from their readings", a=a, b=b), field=cf)
        if (by_symbol[a].dof != INF or by_symbol[b].dof != INF) and (
                a not in in_ensemble or in_ensemble.get(b) != in_ensemble[a]):
            # Welch–Satterthwaite is not defined for correlated inputs with finite dof (GUM
            # G.4.1 note) unless they form an ensemble, i.e. come from the same simultaneous
            # observations (Willink 2007, 4.1); refuse rather than report a meaningless ν_eff.
            raise InvalidInput(msg("%(a)s and %(b)s are correlated and have finite degrees of "
                                   'freedom: declare them an ensemble ("ensembles": [["%(a)s", '
                                   '"%(b)s", …]]) or give both infinite degrees of freedom',
                                   a=a, b=b), field=cf)
        correlations.append((a, b, r))

    estimated = []
    for group in simultaneous:
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                # GUM 5.2.3 with C.3.6 (H.2.3): r = s(q̄, r̄)/(s(q̄)·s(r̄)), the sample
                # correlation of the simultaneous readings.
                x = [float(v) for v in by_symbol[a].readings]
                y = [float(v) for v in by_symbol[b].readings]
                r = statistics.correlation(x, y)
                estimated.append((a, b, max(-1.0, min(1.0, r))))  # rounding: |r| ≤ 1
    return correlations, simultaneous, ensembles, estimated


def _parse_groups(data: Mapping[str, Any], key: str, by_symbol: Mapping[str, InputQuantity],
                  taken: dict[str, str]) -> tuple[tuple[str, ...], ...]:
    """``"simultaneous"`` or ``"ensembles"``: lists of two or more input symbols, each input in
    one group at most.

    Simultaneous inputs are type A with the same number of ``readings``, taken together (GUM
    H.2: five sets of V, I, φ). An ensemble's inputs share their degrees of freedom, as
    estimates from the same observations do (Willink, Metrologia 44 (2007) 340, 4.1).
    """
    raw = data.get(key)
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidInput(msg('must be a list of lists of input symbols, e.g. [["V", "I"]]'),
                           field=key)
    groups = []
    for g, group in enumerate(raw):
        gf = f"{key}[{g}]"
        if not isinstance(group, list) or len(group) < 2:
            raise InvalidInput(msg("must list at least two input symbols"), field=gf)
        for j, sym in enumerate(group):
            if not isinstance(sym, str) or sym not in by_symbol:
                raise InvalidInput(msg("unknown input %(symbol)r", symbol=sym),
                                   field=f"{gf}[{j}]")
            if by_symbol[sym].constant:
                raise InvalidInput(msg("%(symbol)s is a constant", symbol=sym),
                                   field=f"{gf}[{j}]")
            if sym in taken:
                raise InvalidInput(msg("%(symbol)s is already in %(group)s", symbol=sym,
                                       group=taken[sym]), field=f"{gf}[{j}]")
            taken[sym] = gf
        members = [by_symbol[sym] for sym in group]
        if key == "simultaneous":
            for j, q in enumerate(members):
                if q.distribution != "readings":
                    raise InvalidInput(msg("%(symbol)s must be type A with its readings, taken "
                                           "together with the others'", symbol=q.symbol),
                                       field=f"{gf}[{j}]")
            for j, q in enumerate(members):
                if q.standard == 0:
                    raise InvalidInput(msg("the readings of %(symbol)s do not vary, so its "
                                           "correlations cannot be estimated", symbol=q.symbol),
                                       field=f"{gf}[{j}]")
            counts = sorted({len(q.readings) for q in members})
            if len(counts) > 1:
                raise InvalidInput(msg("simultaneous inputs need the same number of readings, "
                                       "not %(counts)s", counts=" and ".join(map(str, counts))),
                                   field=gf)
        else:
            dofs = sorted({q.dof for q in members})
            if len(dofs) > 1:
                raise InvalidInput(msg("the inputs of an ensemble come from the same "
                                       "observations and share their degrees of freedom, not "
                                       "%(dofs)s", dofs=" and ".join(f"{d:g}" for d in dofs)),
                                   field=gf)
        groups.append(tuple(group))
    return tuple(groups)


def _parse_cmc(raw: Any, unit: UnitInfo) -> CMC | None:
    """``{"expanded", "unit"}`` (a constant U), or ``{"a", "unit", "b", "b_unit"}`` for
    U = a + b·|y| as CMC tables state it (ILAC-P14 5.4), b in ppm, %, µV/V or a plain number."""
    if raw is None:
        return None
    form = msg('must be {"expanded": number, "unit": text} or {"a", "b", "unit", "b_unit"}')
    if not isinstance(raw, Mapping) or ("expanded" in raw) == ("a" in raw):
        raise InvalidInput(form, field="cmc")
    cmc_unit = parse_budget_unit(raw.get("unit", unit.text), "cmc.unit", interval=True)
    if not _same_dimension(cmc_unit, unit):
        raise InvalidInput(msg("the CMC unit %(given)r is not compatible with the measurand "
                               "unit %(unit)r", given=cmc_unit.text, unit=unit.text),
                           field="cmc.unit")
    key = "expanded" if "expanded" in raw else "a"
    a = _number(raw.get(key), f"cmc.{key}", positive=True)
    a = a * Decimal(repr(cmc_unit.factor)) / Decimal(repr(unit.factor))
    if raw.get("b") is None:
        if "b_unit" in raw:
            raise InvalidInput(msg("b_unit without b"), field="cmc.b")
        return CMC(a)
    if key == "expanded":
        raise InvalidInput(form, field="cmc")
    b_unit = parse_budget_unit(raw.get("b_unit", "1"), "cmc.b_unit", interval=True)
    if not _dimensionless(b_unit):
        raise InvalidInput(msg("b multiplies |y| and is relative: ppm, %%, µV/V or 1, not "
                               "%(unit)r", unit=b_unit.text), field="cmc.b_unit")
    b = _number(raw.get("b"), "cmc.b", positive=True) * Decimal(repr(b_unit.factor))
    return CMC(a, b)


def _check_dimensions(budget: Budget) -> None:
    result = budget.model.dimension({q.symbol: q.unit.dim for q in budget.inputs}, ureg)
    want = budget.unit
    if result.key != want.dimension:
        gives = format(result.unit, "~P")
        dims = {"dimension": str(result.unit.dimensionality), "unit": want.text,
                "unit_dimension": str(want.base.dimensionality)}
        raise InvalidInput(
            msg("the model gives %(gives)s (%(dimension)s), not compatible with the measurand "
                "unit %(unit)r (%(unit_dimension)s)", gives=gives, **dims) if gives else
            msg("the model gives a dimensionless number (%(dimension)s), not compatible with "
                "the measurand unit %(unit)r (%(unit_dimension)s)", **dims),
            field="measurand.unit")
    if want.absolute and not result.absolute:
        raise InvalidInput(msg("the model gives a temperature difference but the measurand "
                               "unit %(unit)r is an absolute temperature; write K or delta_degC",
                               unit=want.text), field="measurand.unit")
    if result.absolute and not want.absolute and want.base == ureg.kelvin and \
            "delta" in str(want.unit):
        raise InvalidInput(msg("the model gives an absolute temperature but the measurand "
                               "unit %(unit)r is a temperature difference", unit=want.text),
                           field="measurand.unit")
