"""Measurement uncertainty budgets: GUM first-order propagation and GUM Supplement 1 Monte Carlo.

Pure: imports neither Flask nor a Session. The Python API that calibration records and reports
call::

    from lims.calibration.uncertainty import parse_budget, evaluate, monte_carlo

    budget = parse_budget(data)            # the JSON form of `lims uncertainty FILE`
    result = evaluate(budget)              # GUM (JCGM 100) law of propagation
    result.value, result.standard_uncertainty, result.dof_effective, result.k
    result.expanded_uncertainty            # unrounded, in the measurand's unit
    result.reported.text                   # "m_X = 10 000.025 g ± 0.059 g (k = 2, p ≈ 95 %)"
    result.budget                          # rows: symbol, value, unit, u, c, c·u, dof, percent
    mc = monte_carlo(budget, result, trials=10**6, seed=1)   # JCGM 101, with the §8 check
    result.to_json(mc)                     # the `lims uncertainty --json` document

Every error is :class:`lims.errors.InvalidInput` naming the field (``inputs[2].uncertainty.
half_width``) and, for units, both units.

Why GTC: the GUM Tree Calculator (MSL New Zealand) propagates uncertainty with automatic
differentiation, so sensitivity coefficients are analytic rather than numerical; it carries
degrees of freedom and computes ν_eff by Welch–Satterthwaite (with Willink's extension for
correlated inputs), and gives per-input components and Student-t coverage factors.
``uncertainties`` propagates first-order uncertainty equally well but knows nothing of degrees
of freedom, so ν_eff and k would have to be hand-written around it.

All arithmetic runs in SI base units (floats, after exact Decimal parsing of the inputs), then
converts back to the measurand's unit; so writing an input in mm instead of m changes nothing.
Absolute temperatures (°C, °F) are tracked separately from temperature differences (K,
delta_degC); ``°C`` inside a compound unit (``1/°C``, ``µm/°C``) is an interval.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping, Sequence
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import GTC
import numpy as np
import pint
from GTC import reporting as gtc_reporting
from scipy import stats

from lims.calibration.model import Dim, Model
from lims.errors import InvalidInput
from lims.units import normalise_unit_text, ureg

DISTRIBUTIONS = ("normal", "rectangular", "triangular", "arcsine", "standard")
# GUM 4.3.7-4.3.9: divisors from a half-width a to a standard uncertainty.
DIVISORS = {"rectangular": math.sqrt(3), "triangular": math.sqrt(6), "arcsine": math.sqrt(2)}
INF = math.inf
ROUNDING = ("half-up", "up")


# --- units -----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class UnitInfo:
    """A unit as written, with what it takes to go to SI base units and back."""

    text: str
    unit: pint.Unit
    base: pint.Unit        # the SI base unit (kelvin for any temperature)
    factor: float          # base per unit (for an absolute temperature: per degree)
    zero: float            # base value of the unit's zero (273.15 for °C), 0 otherwise
    absolute: bool         # an absolute temperature on an offset scale

    def to_base(self, value: float) -> float:
        return self.zero + value * self.factor

    def from_base(self, value: Any) -> Any:
        return (value - self.zero) / self.factor

    @property
    def dim(self) -> Dim:
        return Dim(self.base, self.absolute, self.text)


def parse_budget_unit(text: Any, field: str, *, interval: bool = False) -> UnitInfo:
    """Parse a unit of a budget; ``interval`` reads °C as a temperature difference."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("a unit is required", field=field)
    norm = normalise_unit_text(text)
    absolute = norm in ("degC", "degF") and not interval
    if not absolute:
        # °C in a compound (1/°C, µm/°C) or as an uncertainty is an interval.
        norm = norm.replace("delta_degC", "degC").replace("degC", "delta_degC")
        norm = norm.replace("delta_degF", "degF").replace("degF", "delta_degF")
    try:
        unit = ureg.parse_units(norm)
        base_q = ureg.Quantity(Decimal(1), unit).to_base_units() if not absolute else None
    except Exception as exc:  # noqa: BLE001 - pint raises many kinds
        raise InvalidInput(f"unknown unit {text!r}", field=field) from exc
    if absolute:
        delta = ureg.parse_units("delta_" + norm)
        factor = float(ureg.Quantity(Decimal(1), delta).to("kelvin").magnitude)
        zero = float(ureg.Quantity(Decimal(0), unit).to("kelvin").magnitude)
        return UnitInfo(text.strip(), unit, ureg.kelvin, factor, zero, True)
    assert base_q is not None  # noqa: S101 - set above when not absolute
    return UnitInfo(text.strip(), unit, base_q.units, float(base_q.magnitude), 0.0, False)


def _same_dimension(a: UnitInfo, b: UnitInfo) -> bool:
    return a.base.dimensionality == b.base.dimensionality


# --- parsing ---------------------------------------------------------------------------------

def _number(value: Any, field: str, *, positive: bool = False, allow_zero: bool = True) -> Decimal:
    if value is None:
        raise InvalidInput("is required", field=field)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput("must be a number (or a number written as text)", field=field)
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(repr(value))
    except InvalidOperation:
        raise InvalidInput(f"{value!r} is not a number", field=field) from None
    if not number.is_finite():
        raise InvalidInput(f"{value!r} is not a finite number", field=field)
    if positive and (number < 0 or (number == 0 and not allow_zero)):
        raise InvalidInput(f"must be {'positive' if not allow_zero else 'zero or positive'}",
                           field=field)
    return number


def _dof(value: Any, field: str) -> float:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("inf", "infinity")):
        return INF
    dof = float(_number(value, field))
    if dof <= 0:
        raise InvalidInput("degrees of freedom must be positive", field=field)
    return dof


@dataclasses.dataclass(frozen=True)
class InputQuantity:
    symbol: str
    value: Decimal            # in ``unit`` (for type A readings: their mean)
    unit: UnitInfo
    type: str                 # "A", "B" or "constant"
    distribution: str         # normal, rectangular, triangular, arcsine, standard, readings
    standard: float           # standard uncertainty in ``unit``
    dof: float
    half_width: float | None  # in ``unit``, for the Monte Carlo draws

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
    correlations: tuple[tuple[str, str, float], ...]
    cmc: Decimal | None       # smallest U the lab may report, in the measurand's unit


def _parse_input(i: int, raw: Any) -> InputQuantity:
    f = f"inputs[{i}]"
    if not isinstance(raw, Mapping):
        raise InvalidInput("must be an object", field=f)
    symbol = raw.get("symbol")
    if not isinstance(symbol, str) or not symbol.isidentifier() or symbol in (
            "sqrt", "exp", "log", "log10", "sin", "cos", "tan", "abs"):
        raise InvalidInput("must be a name such as m_S (letters, digits, _)", field=f"{f}.symbol")
    unit = parse_budget_unit(raw.get("unit"), f"{f}.unit")
    unc = raw.get("uncertainty")
    if unc is None:
        value = _number(raw.get("value"), f"{f}.value")
        return InputQuantity(symbol, value, unit, "constant", "constant", 0.0, INF, None)
    if not isinstance(unc, Mapping):
        raise InvalidInput("must be an object", field=f"{f}.uncertainty")
    uf = f"{f}.uncertainty"
    kind = unc.get("type")
    u_unit = unit if unc.get("unit") is None else parse_budget_unit(
        unc.get("unit"), f"{uf}.unit", interval=True)
    if u_unit.absolute:  # the uncertainty of an absolute temperature is an interval
        u_unit = parse_budget_unit(unit.text, f"{uf}.unit", interval=True)
    if not _same_dimension(u_unit, unit):
        raise InvalidInput(f"the uncertainty unit {u_unit.text!r} of {symbol} is not compatible "
                           f"with its unit {unit.text!r}", field=f"{uf}.unit")
    scale = u_unit.factor / unit.factor  # uncertainty unit -> input unit

    if kind == "A":
        if "readings" in unc:
            readings = unc["readings"]
            if not isinstance(readings, list) or len(readings) < 2:
                raise InvalidInput("needs at least two readings", field=f"{uf}.readings")
            values = [_number(r, f"{uf}.readings[{j}]") for j, r in enumerate(readings)]
            mean = sum(values, Decimal(0)) / len(values)
            s = statistics.stdev(float(v) for v in values)
            # GUM 4.2.3: u = s/√n with ν = n − 1; readings are in the input's unit.
            return InputQuantity(symbol, mean, unit, "A", "readings", s / math.sqrt(len(values)),
                                 float(len(values) - 1), None)
        if "standard" not in unc:
            raise InvalidInput("type A needs readings, or standard and dof", field=uf)
        value = _number(raw.get("value"), f"{f}.value")
        u = float(_number(unc["standard"], f"{uf}.standard", positive=True)) * scale
        return InputQuantity(symbol, value, unit, "A", "normal", u, _dof(unc.get("dof"),
                                                                         f"{uf}.dof"), None)
    if kind != "B":
        raise InvalidInput("must be \"A\" or \"B\"", field=f"{uf}.type")
    value = _number(raw.get("value"), f"{f}.value")
    dist = unc.get("distribution")
    if dist not in DISTRIBUTIONS:
        raise InvalidInput(f"must be one of {', '.join(DISTRIBUTIONS)}", field=f"{uf}.distribution")
    dof = _dof(unc.get("dof"), f"{uf}.dof")
    if dist in DIVISORS:
        a = float(_number(unc.get("half_width"), f"{uf}.half_width", positive=True)) * scale
        return InputQuantity(symbol, value, unit, "B", dist, a / DIVISORS[dist], dof, a)
    if dist == "standard":
        u = float(_number(unc.get("standard"), f"{uf}.standard", positive=True)) * scale
        return InputQuantity(symbol, value, unit, "B", dist, u, dof, None)
    expanded = float(_number(unc.get("expanded"), f"{uf}.expanded", positive=True)) * scale
    if unc.get("k") is not None:
        k = float(_number(unc["k"], f"{uf}.k", positive=True, allow_zero=False))
    elif unc.get("probability") is not None:
        p = _probability(unc["probability"], f"{uf}.probability")
        k = coverage_factor(dof, p)  # GUM G.3: t_p(ν) for the stated dof, normal if infinite
    else:
        raise InvalidInput("a normal uncertainty needs k or probability with expanded",
                           field=uf)
    return InputQuantity(symbol, value, unit, "B", "normal", expanded / k, dof, None)


def _probability(value: Any, field: str) -> float:
    p = float(_number(value, field))
    if not 0 < p < 1:
        raise InvalidInput("must be a probability between 0 and 1, e.g. 0.95", field=field)
    return p


def parse_budget(data: Any) -> Budget:
    """Validate the JSON form of a budget (see ``lims uncertainty``) and return a Budget."""
    if not isinstance(data, Mapping):
        raise InvalidInput("the budget must be a JSON object", field="budget")
    m = data.get("measurand")
    if not isinstance(m, Mapping):
        raise InvalidInput("must be an object with symbol and unit", field="measurand")
    symbol = m.get("symbol")
    if not isinstance(symbol, str) or not symbol.strip():
        raise InvalidInput("is required", field="measurand.symbol")
    unit = parse_budget_unit(m.get("unit"), "measurand.unit")
    raw_inputs = data.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise InvalidInput("at least one input is required", field="inputs")
    inputs = tuple(_parse_input(i, raw) for i, raw in enumerate(raw_inputs))
    symbols = [q.symbol for q in inputs]
    dupes = sorted({s for s in symbols if symbols.count(s) > 1})
    if dupes:
        raise InvalidInput(f"input symbol(s) {', '.join(dupes)} given twice", field="inputs")
    model = Model(data.get("model"), set(symbols))
    unused = [s for s in symbols if s not in model.used]
    if unused:
        raise InvalidInput(f"input(s) {', '.join(unused)} are not used by the model "
                           "(a typo?)", field="inputs")

    coverage = data.get("coverage", {"k": 2})
    k = p = None
    if not isinstance(coverage, Mapping) or ("k" in coverage) == ("probability" in coverage):
        raise InvalidInput('must be {"k": number} or {"probability": p}', field="coverage")
    if "k" in coverage:
        k = _number(coverage["k"], "coverage.k", positive=True, allow_zero=False)
    else:
        p = Decimal(str(_probability(coverage["probability"], "coverage.probability")))

    by_symbol = {q.symbol: q for q in inputs}
    correlations = []
    for j, c in enumerate(data.get("correlations") or []):
        cf = f"correlations[{j}]"
        if not isinstance(c, Mapping):
            raise InvalidInput("must be an object with a, b and r", field=cf)
        a, b = c.get("a"), c.get("b")
        for key, sym in (("a", a), ("b", b)):
            if sym not in by_symbol:
                raise InvalidInput(f"unknown input {sym!r}", field=f"{cf}.{key}")
            if by_symbol[sym].constant:
                raise InvalidInput(f"{sym} is a constant and cannot be correlated",
                                   field=f"{cf}.{key}")
        if a == b:
            raise InvalidInput("an input cannot be correlated with itself", field=cf)
        r = float(_number(c.get("r"), f"{cf}.r"))
        if not -1 <= r <= 1:
            raise InvalidInput("a correlation coefficient lies between -1 and 1", field=f"{cf}.r")
        if by_symbol[a].dof != INF or by_symbol[b].dof != INF:
            # Welch–Satterthwaite is not defined for correlated inputs with finite dof (GUM
            # G.4.1 note); refuse rather than report a meaningless ν_eff.
            raise InvalidInput(f"{a} and {b} are correlated, so both need infinite degrees of "
                               "freedom", field=cf)
        correlations.append((a, b, r))

    cmc = None
    if data.get("cmc") is not None:
        raw = data["cmc"]
        if not isinstance(raw, Mapping):
            raise InvalidInput('must be {"expanded": number, "unit": text}', field="cmc")
        cmc_unit = parse_budget_unit(raw.get("unit", unit.text), "cmc.unit", interval=True)
        if not _same_dimension(cmc_unit, unit):
            raise InvalidInput(f"the CMC unit {cmc_unit.text!r} is not compatible with the "
                               f"measurand unit {unit.text!r}", field="cmc.unit")
        value = _number(raw.get("expanded"), "cmc.expanded", positive=True)
        cmc = value * Decimal(repr(cmc_unit.factor)) / Decimal(repr(unit.factor))

    budget = Budget(symbol.strip(), unit, str(m.get("description") or ""), model, k, p, inputs,
                    tuple(correlations), cmc)
    _check_dimensions(budget)
    return budget


def _check_dimensions(budget: Budget) -> None:
    result = budget.model.dimension({q.symbol: q.unit.dim for q in budget.inputs}, ureg)
    want = budget.unit
    if result.unit.dimensionality != want.base.dimensionality:
        raise InvalidInput(
            f"the model gives {format(result.unit, '~P') or 'a dimensionless number'} "
            f"({result.unit.dimensionality}), not compatible with the measurand unit "
            f"{want.text!r} ({want.base.dimensionality})", field="measurand.unit")
    if want.absolute and not result.absolute:
        raise InvalidInput(f"the model gives a temperature difference but the measurand unit "
                           f"{want.text!r} is an absolute temperature; write K or delta_degC",
                           field="measurand.unit")
    if result.absolute and not want.absolute and want.base == ureg.kelvin and \
            "delta" in str(want.unit):
        raise InvalidInput(f"the model gives an absolute temperature but the measurand unit "
                           f"{want.text!r} is a temperature difference", field="measurand.unit")


# --- coverage and rounding -------------------------------------------------------------------

def coverage_factor(dof: float, p: float) -> float:
    """k_p for ν degrees of freedom: Student's t, truncating ν down (GUM G.4.1), or the normal
    quantile when ν is infinite."""
    if dof == INF or dof > 1e7:
        return float(stats.norm.ppf((1 + p) / 2))
    return float(gtc_reporting.k_factor(max(1, math.floor(dof)), p * 100))


def coverage_probability(k: float, dof: float) -> float:
    """The coverage probability of ±k standard uncertainties for ν degrees of freedom."""
    if dof == INF or dof > 1e7:
        return float(2 * stats.norm.cdf(k) - 1)
    return float(2 * stats.t.cdf(k, max(1, math.floor(dof))) - 1)


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


# --- evaluation ------------------------------------------------------------------------------

GTC_FUNCTIONS = {"sqrt": GTC.sqrt, "exp": GTC.exp, "log": GTC.log, "log10": GTC.log10,
                 "sin": GTC.sin, "cos": GTC.cos, "tan": GTC.tan, "abs": abs}
NUMPY_FUNCTIONS = {"sqrt": np.sqrt, "exp": np.exp, "log": np.log, "log10": np.log10,
                   "sin": np.sin, "cos": np.cos, "tan": np.tan, "abs": np.abs}


@dataclasses.dataclass(frozen=True)
class BudgetRow:
    symbol: str
    value: float
    unit: str
    standard_uncertainty: float
    type: str
    distribution: str
    sensitivity: float | None     # measurand unit per input unit
    contribution: float           # c_i·u(x_i), in the measurand's unit
    dof: float
    percent: float


@dataclasses.dataclass(frozen=True)
class Reported:
    value: Decimal
    expanded_uncertainty: Decimal
    unit: str
    text: str
    cmc_applied: bool


@dataclasses.dataclass(frozen=True)
class Evaluation:
    budget: Budget
    value: float
    standard_uncertainty: float
    dof_effective: float
    k: float
    coverage_probability: float
    expanded_uncertainty: float
    rows: tuple[BudgetRow, ...]
    reported: Reported

    def to_json(self, mc: MonteCarlo | None = None) -> dict[str, Any]:
        def dof(value: float) -> float | None:
            return None if value == INF else value

        data: dict[str, Any] = {
            "measurand": self.budget.symbol,
            "description": self.budget.description,
            "value": self.value,
            "unit": self.budget.unit.text,
            "standard_uncertainty": self.standard_uncertainty,
            "dof_effective": dof(self.dof_effective),
            "k": self.k,
            "coverage_probability": self.coverage_probability,
            "expanded_uncertainty": self.expanded_uncertainty,
            "reported": {"value": str(self.reported.value),
                         "expanded_uncertainty": str(self.reported.expanded_uncertainty),
                         "unit": self.reported.unit, "text": self.reported.text,
                         "cmc_applied": self.reported.cmc_applied},
            "budget": [{"symbol": r.symbol, "value": r.value, "unit": r.unit,
                        "standard_uncertainty": r.standard_uncertainty, "type": r.type,
                        "distribution": r.distribution, "sensitivity": r.sensitivity,
                        "contribution": r.contribution, "dof": dof(r.dof),
                        "percent": r.percent} for r in self.rows],
        }
        if mc is not None:
            data["monte_carlo"] = mc.to_json()
        return data


def _env(budget: Budget) -> dict[str, Any]:
    correlated = {s for a, b, _r in budget.correlations for s in (a, b)}
    env: dict[str, Any] = {}
    for q in budget.inputs:
        x = q.unit.to_base(float(q.value))
        if q.constant:
            env[q.symbol] = x
        else:
            env[q.symbol] = GTC.ureal(x, q.standard * q.unit.factor, q.dof, label=q.symbol,
                                      independent=q.symbol not in correlated)
    for a, b, r in budget.correlations:
        GTC.set_correlation(r, env[a], env[b])
    return env


def evaluate(budget: Budget, *, rounding: str = "half-up", digits: int = 2) -> Evaluation:
    """Propagate the uncertainties of a budget by the GUM law of propagation (JCGM 100 5.1, 5.2).

    :raises InvalidInput: the model cannot be evaluated at the input values.
    """
    env = _env(budget)
    try:
        y = budget.model.evaluate(env, GTC_FUNCTIONS)
    except (ZeroDivisionError, ValueError, OverflowError) as exc:
        raise InvalidInput(f"the model cannot be evaluated at the input values: {exc}",
                           field="model") from None
    m = budget.unit
    if isinstance(y, float | int):
        y_value, y_u, nu = float(y), 0.0, INF
    else:
        y_value, y_u, nu = float(y.x), float(y.u), float(y.df)
    if not math.isfinite(y_value):
        raise InvalidInput("the model gives a non-finite value at the input values",
                           field="model")
    if math.isnan(nu):
        nu = INF
    value = float(m.from_base(y_value))
    u = y_u / m.factor
    if budget.k is not None:
        k = float(budget.k)
        p = coverage_probability(k, nu)
    else:
        p = float(budget.probability)  # type: ignore[arg-type]
        k = coverage_factor(nu, p)
    expanded = k * u

    rows = []
    squares = []
    for q in budget.inputs:
        if q.constant or isinstance(y, float | int):
            rows.append((q, None, 0.0))
            continue
        c = float(gtc_reporting.sensitivity(y, env[q.symbol])) * q.unit.factor / m.factor
        contribution = float(gtc_reporting.u_component(y, env[q.symbol])) / m.factor
        rows.append((q, c + 0.0, contribution + 0.0))  # + 0.0 turns -0.0 into 0.0
        squares.append(contribution ** 2)
    total = sum(squares) or 1.0
    budget_rows = tuple(
        BudgetRow(symbol=q.symbol, value=float(q.value), unit=q.unit.text,
                  standard_uncertainty=q.standard, type=q.type, distribution=q.distribution,
                  sensitivity=c, contribution=contribution, dof=q.dof,
                  percent=100 * contribution ** 2 / total)
        for q, c, contribution in rows)
    return Evaluation(budget, value, u, nu, k, p, expanded, budget_rows,
                      _report(budget, value, expanded, k, p, rounding=rounding, digits=digits))


def _report(budget: Budget, value: float, expanded: float, k: float, p: float, *, rounding: str,
            digits: int) -> Reported:
    U = round_uncertainty(Decimal(repr(expanded)), digits=digits, mode=rounding)
    cmc_applied = False
    if budget.cmc is not None and U < budget.cmc:
        # ILAC-P14 5.4: a reported U is never smaller than the CMC for the quantity and range.
        U, cmc_applied = round_uncertainty(budget.cmc, digits=digits, mode="up"), True
    if U > 0:
        quantum = Decimal(1).scaleb(U.as_tuple().exponent)  # type: ignore[arg-type]
        y = round_to(Decimal(repr(value)), quantum)
    else:
        y = Decimal(repr(value))
    k_text = (format(budget.k.normalize(), "f") if budget.k is not None else f"{k:.2f}")
    if budget.probability is not None:
        p_text = format((budget.probability * 100).normalize(), "f")
    else:
        p_text = f"{round(p * 100)}"
    unit = budget.unit.text
    text = (f"{budget.symbol} = {group_digits(y)} {unit} ± {group_digits(U)} {unit} "
            f"(k = {k_text}, p ≈ {p_text} %)")
    return Reported(y, U, unit, text, cmc_applied)


# --- Monte Carlo (JCGM 101) ------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class MonteCarlo:
    trials: int
    seed: int | None
    value: float
    standard_uncertainty: float
    coverage_probability: float
    low: float
    high: float
    tolerance: float
    d_low: float
    d_high: float

    @property
    def validated(self) -> bool:
        return self.d_low <= self.tolerance and self.d_high <= self.tolerance

    def to_json(self) -> dict[str, Any]:
        return {"trials": self.trials, "seed": self.seed, "value": self.value,
                "standard_uncertainty": self.standard_uncertainty,
                "coverage_probability": self.coverage_probability,
                "coverage_interval": [self.low, self.high],
                "validation": {"tolerance": self.tolerance, "d_low": self.d_low,
                               "d_high": self.d_high, "gum_validated": self.validated}}


def numerical_tolerance(u: float, digits: int = 2) -> float:
    """JCGM 101 7.9.2: δ = ½·10^l where u written with ``digits`` significant digits is c·10^l."""
    if u <= 0:
        return 0.0
    exponent = math.floor(math.log10(u)) - digits + 1
    return 0.5 * 10.0 ** exponent


def _draw(q: InputQuantity, rng: np.random.Generator, trials: int) -> Any:
    x = q.unit.to_base(float(q.value))
    u = q.standard * q.unit.factor
    if q.constant:
        return x
    if q.distribution in DIVISORS:
        a = (q.half_width or 0.0) * q.unit.factor
        if q.distribution == "rectangular":
            return rng.uniform(x - a, x + a, trials)
        if q.distribution == "triangular":
            return rng.triangular(x - a, x, x + a, trials)
        return x + a * np.sin(2 * np.pi * rng.random(trials))  # arcsine, JCGM 101 6.4.6
    if q.dof != INF:
        # JCGM 101 6.4.9: a scaled and shifted t distribution with ν degrees of freedom.
        return x + u * rng.standard_t(q.dof, trials)
    return rng.normal(x, u, trials)


def monte_carlo(budget: Budget, gum: Evaluation, *, trials: int = 10**6,
                seed: int | None = None, digits: int = 2) -> MonteCarlo:
    """Propagate distributions by Monte Carlo (JCGM 101) and compare with the GUM result (§8).

    The coverage probability is the GUM result's. Correlated inputs must be Gaussian with
    infinite degrees of freedom (they are drawn jointly from a multivariate normal).
    """
    if not 1000 <= trials <= 10**7:
        raise InvalidInput("Monte Carlo needs between 1 000 and 10 000 000 trials",
                           field="trials")
    rng = np.random.default_rng(seed)
    draws: dict[str, Any] = {}
    correlated = sorted({s for a, b, _r in budget.correlations for s in (a, b)})
    by_symbol = {q.symbol: q for q in budget.inputs}
    if correlated:
        for s in correlated:
            if by_symbol[s].distribution not in ("normal", "standard"):
                raise InvalidInput(f"Monte Carlo draws correlated inputs from a joint normal "
                                   f"distribution; {s} is {by_symbol[s].distribution}",
                                   field="correlations")
        index = {s: i for i, s in enumerate(correlated)}
        sd = np.array([by_symbol[s].standard * by_symbol[s].unit.factor for s in correlated])
        corr = np.eye(len(correlated))
        for a, b, r in budget.correlations:
            corr[index[a], index[b]] = corr[index[b], index[a]] = r
        mean = np.array([by_symbol[s].unit.to_base(float(by_symbol[s].value))
                         for s in correlated])
        joint = rng.multivariate_normal(mean, corr * np.outer(sd, sd), trials, method="eigh")
        for s, i in index.items():
            draws[s] = joint[:, i]
    for q in budget.inputs:
        if q.symbol not in draws:
            draws[q.symbol] = _draw(q, rng, trials)
    with np.errstate(all="ignore"):
        y = budget.model.evaluate(draws, NUMPY_FUNCTIONS)
    y = np.broadcast_to(np.asarray(y, dtype=float), (trials,))
    if not np.all(np.isfinite(y)):
        raise InvalidInput("the model is undefined for some Monte Carlo trials (division by "
                           "zero, log of a negative number)", field="model")
    y = budget.unit.from_base(y)
    p = gum.coverage_probability
    low, high = np.quantile(y, [(1 - p) / 2, (1 + p) / 2])
    tolerance = numerical_tolerance(gum.standard_uncertainty, digits)
    return MonteCarlo(
        trials=trials, seed=seed, value=float(np.mean(y)),
        standard_uncertainty=float(np.std(y, ddof=1)), coverage_probability=p,
        low=float(low), high=float(high), tolerance=tolerance,
        d_low=abs(gum.value - gum.expanded_uncertainty - float(low)),
        d_high=abs(gum.value + gum.expanded_uncertainty - float(high)))


def budget_table(result: Evaluation) -> str:
    """The budget as a plain-text table for the terminal."""
    head = ("symbol", "value", "unit", "u(x_i)", "type/distribution", "c_i", "c_i·u(x_i)",
            "ν_i", "%")
    lines = [head]
    for r in result.rows:
        lines.append((r.symbol, f"{r.value:.10g}", r.unit, f"{r.standard_uncertainty:.4g}",
                      f"{r.type} {r.distribution}",
                      "—" if r.sensitivity is None else f"{r.sensitivity:.4g}",
                      f"{r.contribution:.4g}", "∞" if r.dof == INF else f"{r.dof:g}",
                      f"{r.percent:.1f}"))
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(head))]
    out = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
           for row in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


__all__: Sequence[str] = ("Budget", "Evaluation", "MonteCarlo", "budget_table",
                          "coverage_factor", "coverage_probability", "evaluate", "monte_carlo",
                          "parse_budget", "round_uncertainty")
