"""Calibration procedures (JJF specifications, JJG regulations) and their uncertainty budget
templates.

A procedure says how the lab calibrates or verifies a kind of customer instrument: the
document and clause, the quantity (a :mod:`lims.kinds` kind) and its unit, the calibration
points (nominal values as written, ± MPE where the procedure has one), the standards of the
equipment register it uses, constants, and a **budget template**: the JSON form of
:func:`lims.metrology.schema.parse_budget` in which any string may hold placeholders, filled
per point and state before the engine evaluates it (:func:`fill`).

Template language
-----------------
A placeholder is ``{name}``. A string that is exactly one placeholder takes the placeholder's
value (text for numbers, a list for ``{readings}``); placeholders inside a longer string are
replaced as text (``"{unit}"``, ``"m{unit}"``). Numbers are in the procedure's unit.

``{unit}``
    the procedure's unit as written (``g``, ``℃``)
``{nominal}``, ``{mpe}``
    the point's nominal value (converted to the procedure's unit) and its ± MPE
``{readings}``
    the item's indications (a list, for a type A input with ``"readings"``)
``{readings.mean}``, ``{readings.s}``, ``{readings.sdm}``, ``{readings.n}``, ``{readings.dof}``
    their mean, experimental standard deviation s, standard deviation of the mean s/√n
    (GUM 4.2.3; 0 for a single reading), count and degrees of freedom n − 1 (``inf`` for a
    single reading, so that an input with u = 0 stays valid)
``{standard_readings}``, ``{standard_readings.mean}`` … ``{standard_readings.dof}``
    the same for the standard's indications, when they were recorded
``{reference}``, ``{indicated}``, ``{error}``
    the reference value, the mean indication and their difference, unrounded
``{resolution}``, ``{resolution.half}``
    the item's resolution δ and δ/2 (the half-width of a rectangular distribution, JJF
    1059.1 4.3.3.4)
``{SLOT.U}``, ``{SLOT.k}``, ``{SLOT.u}``, ``{SLOT.value}``, ``{SLOT.nominal}``
    from the certificate in force of the standard in slot ``SLOT`` (``standard`` by default):
    the expanded uncertainty, coverage factor, standard uncertainty U/k, value and nominal
    of its calibration point nearest the point's nominal, converted to the procedure's unit
``{const.NAME}``
    a constant of the procedure (digits as written)

Example (JJG 1036 electronic balance, error of indication E = I − m_ref)::

    {"measurand": {"symbol": "E", "unit": "{unit}"},
     "model": "I - m_ref + dI_res",
     "coverage": {"k": 2},
     "inputs": [
       {"symbol": "I", "value": "{readings.mean}", "unit": "{unit}",
        "uncertainty": {"type": "A", "standard": "{readings.sdm}", "dof": "{readings.dof}"}},
       {"symbol": "m_ref", "value": "{reference}", "unit": "{unit}",
        "uncertainty": {"type": "B", "distribution": "normal", "expanded": "{standard.U}",
                        "k": "{standard.k}"}},
       {"symbol": "dI_res", "value": "0", "unit": "{unit}",
        "uncertainty": {"type": "B", "distribution": "rectangular",
                        "half_width": "{resolution.half}"}}],
     "cmc": {"expanded": "{const.cmc}", "unit": "{unit}"}}

The measurand is the error of indication (or the quantity whose U is reported); the engine's
expanded uncertainty, coverage factor and CMC floor are what the certificate reports at the
point (:mod:`lims.calibration.work`).

Services take a session and keyword data, flush but never commit, and write an audit event.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, lazyload

from lims import kinds, validate
from lims.audit.services import record, snapshot
from lims.auth.models import User
from lims.auth.services import require
from lims.calibration.models import (
    CalibrationJob,
    CalibrationProcedure,
    JobKind,
    ProcedurePoint,
    ProcedureStandard,
)
from lims.errors import Choices, Conflict, InvalidInput, NotFound, msg
from lims.instruments.models import EquipmentRole, Instrument
from lims.metrology.schema import parse_budget, parse_budget_unit
from lims.units import parse_value
from lims.validate import as_id, text

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\}")
STANDARD_FIELDS = ("U", "k", "u", "value", "nominal")
READING_FIELDS = ("mean", "s", "sdm", "n", "dof")
SLOT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
STANDARD_ROLES = (EquipmentRole.WORKING_STANDARD, EquipmentRole.REFERENCE_STANDARD)
MAX_POINTS = 200


# --- the template language -------------------------------------------------------------------

Value = str | list[str] | None


def fill(template: Any, values: Mapping[str, Value], *, path: str = "budget") -> Any:
    """Fill a budget template's placeholders from ``values`` (see the module docstring).

    :raises InvalidInput: an unknown placeholder (naming it and where it is), or one with no
        value at this point (a standard's certificate without U near the point, no standard
        readings recorded), naming why.
    """
    if isinstance(template, Mapping):
        return {k: fill(v, values, path=f"{path}.{k}") for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values, path=f"{path}[{i}]") for i, v in enumerate(template)]
    if not isinstance(template, str):
        return template
    whole = PLACEHOLDER.fullmatch(template.strip())
    if whole:
        return _value(whole.group(1), values, path)

    def one(match: re.Match[str]) -> str:
        value = _value(match.group(1), values, path)
        if isinstance(value, list):
            raise InvalidInput(msg("{%(name)s} is a list and cannot stand inside text",
                                   name=match.group(1)),
                               field=path)
        return str(value)

    return PLACEHOLDER.sub(one, template)


def _value(name: str, values: Mapping[str, Value], path: str) -> str | list[str]:
    if name not in values:
        raise InvalidInput(msg("unknown placeholder {%(name)s}", name=name), field=path, placeholder=name)
    value = values[name]
    if value is None:
        raise InvalidInput(msg("placeholder {%(name)s} has no value at this point",
                               name=name), field=path,
                           placeholder=name)
    return value


def placeholders(template: Any) -> set[str]:
    """Every placeholder name a template uses."""
    if isinstance(template, Mapping):
        return set().union(*(placeholders(v) for v in template.values())) if template else set()
    if isinstance(template, list):
        return set().union(*(placeholders(v) for v in template)) if template else set()
    if isinstance(template, str):
        return set(PLACEHOLDER.findall(template))
    return set()


def known_names(slots: list[str], constants: Mapping[str, str]) -> set[str]:
    names = {"unit", "nominal", "mpe", "reference", "indicated", "error", "resolution",
             "resolution.half", "readings", "standard_readings"}
    names |= {f"{group}.{f}" for group in ("readings", "standard_readings")
              for f in READING_FIELDS}
    names |= {f"{slot}.{f}" for slot in slots for f in STANDARD_FIELDS}
    names |= {f"const.{c}" for c in constants}
    return names


# --- procedures ------------------------------------------------------------------------------

def create_procedure(session: Session, *, actor: User, code: Any, title: Any, kind: Any,
                     field: Any, quantity: Any, quantity_kind: Any = None, unit: Any,
                     points: Any, standards: Any, budget: Any, clause: Any = "",
                     constants: Any = None, method_note: Any = "",
                     verification_months: Any = None) -> CalibrationProcedure:
    """Register a calibration procedure (quality manager).

    ``points``: ``[{"nominal": "100", "unit": "g", "mpe": "0.2"}, …]`` (``unit`` default the
    procedure's; ``mpe`` ± in the procedure's unit, required on every point of a
    verification); ``standards``: ``[{"asset_number": "STD-1", "slot": "standard"}, …]``,
    working or reference standards of the register; ``constants``: ``{"cmc": "0.02"}``;
    ``budget``: the template (module docstring); ``verification_months``: the verification
    period (检定周期) a verification certificate's validity is counted with.

    :raises InvalidInput: naming the field: an unknown kind or unit, a point's unit not of
        the procedure's kind (both named), a bad number, a standard not in the register or
        not a standard, an unknown placeholder, a budget the engine refuses.
    :raises Conflict: the same code, clause and quantity are registered already.
    """
    require(actor, "method.manage")
    code = text(code, "code", max_len=80)
    clause = text(clause, "clause", required=False, max_len=80)
    quantity = text(quantity, "quantity", max_len=120)
    if kind not in tuple(JobKind):
        raise InvalidInput(msg("must be one of %(allowed)s", allowed=Choices(JobKind)), field="kind")
    unit_text = text(unit, "unit", max_len=40)
    qkind = kinds.get(quantity_kind) if quantity_kind not in (None, "") else kinds.infer(
        unit_text, field="unit", kind_field="quantity_kind")
    resolved = kinds.resolve(qkind, unit_text, field="unit")
    if resolved.pint is None:
        raise InvalidInput(msg("%(kind)s values are never converted; a calibration needs a unit pint knows",
                               kind=qkind.id), field="unit")
    if session.scalar(select(CalibrationProcedure.id).where(
            CalibrationProcedure.code == code, CalibrationProcedure.clause == clause,
            CalibrationProcedure.quantity == quantity)):
        raise Conflict(msg("procedure %(code)s %(clause)s for %(quantity)s exists",
                           code=code, clause=clause, quantity=quantity), field="code")
    months = None
    if verification_months not in (None, ""):
        if isinstance(verification_months, bool) or not isinstance(verification_months, int) \
                or not 1 <= verification_months <= 120:
            raise InvalidInput(msg("a whole number of months from 1 to 120"),
                               field="verification_months")
        months = verification_months
    if kind == JobKind.VERIFICATION and months is None:
        raise InvalidInput(msg("a verification regulation states its period (检定周期)"),
                           field="verification_months")
    consts = _constants(constants)
    proc = CalibrationProcedure(
        code=code, title=text(title, "title"), clause=clause, kind=kind,
        field=text(field, "field", max_len=80), quantity=quantity, quantity_kind=qkind.id,
        unit=resolved.written, unit_canonical=resolved.canonical,
        method_note=text(method_note, "method_note", required=False, max_len=2000),
        verification_months=months, constants=consts, created_by_id=actor.id, budget={})
    proc.points = _points(points, qkind, resolved, kind)
    proc.standards = _standards(session, standards)
    proc.budget = _check_budget(budget, proc)
    session.add(proc)
    session.flush()
    record(session, actor=actor, action="procedure.create", entity_type="calibration_procedures",
           entity_id=proc.id, after={**snapshot(proc),
                                     "points": [snapshot(p) for p in proc.points],
                                     "standards": [snapshot(s) for s in proc.standards]})
    return proc


def _constants(raw: Any) -> dict[str, str]:
    if raw in (None, ""):
        return {}
    if not isinstance(raw, Mapping) or len(raw) > 50:
        raise InvalidInput(msg("must be an object of at most 50 name: number pairs"),
                           field="constants")
    out = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not SLOT.match(name):
            raise InvalidInput(msg("a constant's name is a word (letters, digits, _)"),
                               field=f"constants.{name}")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise InvalidInput(msg("must be a number written as text"), field=f"constants.{name}")
        parse_value(value, field=f"constants.{name}")
        out[name] = str(value).strip()
    return out


def _points(raw: Any, qkind: kinds.Kind, unit: kinds.KindUnit, kind: str
            ) -> list[ProcedurePoint]:
    if not isinstance(raw, list | tuple) or not raw:
        raise InvalidInput(msg("at least one calibration point is required"), field="points")
    if len(raw) > MAX_POINTS:
        raise InvalidInput(msg("at most %(max_points)s points", max_points=MAX_POINTS), field="points")
    out = []
    for i, spec in enumerate(raw):
        f = f"points[{i}]"
        if not isinstance(spec, Mapping):
            raise InvalidInput(msg("must be an object"), field=f)
        nominal = spec.get("nominal")
        parse_value(nominal, field=f"{f}.nominal")
        written = unit.written if spec.get("unit") in (None, "") else spec.get("unit")
        point_unit = kinds.resolve(qkind, written, field=f"{f}.unit", like=unit.canonical,
                                   expected=unit.written)
        mpe = spec.get("mpe")
        if mpe in (None, ""):
            if kind == JobKind.VERIFICATION:
                raise InvalidInput(msg("a verification point needs its maximum permissible error"),
                                   field=f"{f}.mpe")
            mpe = None
        else:
            if parse_value(mpe, field=f"{f}.mpe") <= 0:
                raise InvalidInput(msg("the MPE is a positive ± value"), field=f"{f}.mpe")
            mpe = str(mpe).strip()
        out.append(ProcedurePoint(seq=i + 1, nominal=str(nominal).strip(),
                                  unit=point_unit.written, mpe=mpe))
    return out


def _standards(session: Session, raw: Any) -> list[ProcedureStandard]:
    if not isinstance(raw, list | tuple) or not raw:
        raise InvalidInput(msg("at least one measurement standard is required"), field="standards")
    out: list[ProcedureStandard] = []
    for i, spec in enumerate(raw[:20]):
        f = f"standards[{i}]"
        if not isinstance(spec, Mapping):
            raise InvalidInput(msg("must be an object"), field=f)
        asset = text(spec.get("asset_number"), f"{f}.asset_number", max_len=40)
        slot = "standard" if spec.get("slot") in (None, "") else spec.get("slot")
        if not isinstance(slot, str) or not SLOT.match(slot) or slot in (
                "const", "readings", "standard_readings", "resolution"):
            raise InvalidInput(msg("a slot is a word (letters, digits, _) other than const, readings, "
                                   "standard_readings and resolution"), field=f"{f}.slot")
        if slot in {s.slot for s in out}:
            raise InvalidInput(msg("slot %(slot)r is given twice", slot=slot), field=f"{f}.slot")
        instrument = session.scalar(select(Instrument).where(Instrument.asset_number == asset))
        if instrument is None:
            raise InvalidInput(msg("no instrument %(asset)r in the register", asset=asset),
                               field=f"{f}.asset_number")
        if instrument.role not in STANDARD_ROLES:
            raise InvalidInput(msg("%(asset)s is %(role)s, not a working or reference standard (ISO/IEC "
                                   "17025 6.4.1)", asset=asset, role=instrument.role),
                               field=f"{f}.asset_number")
        out.append(ProcedureStandard(instrument_id=instrument.id, slot=slot))
    if len(raw) > 20:
        raise InvalidInput(msg("at most 20 standards"), field="standards")
    return out


def _check_budget(raw: Any, proc: CalibrationProcedure) -> dict[str, Any]:
    """Check the template: every placeholder known, and, filled with sample values at the
    first point, a budget the engine accepts whose measurand has the procedure's dimension."""
    if not isinstance(raw, Mapping):
        raise InvalidInput(msg("the budget template must be a JSON object"), field="budget")
    known = known_names([s.slot for s in proc.standards], proc.constants)
    unknown = sorted(placeholders(raw) - known)
    if unknown:
        raise InvalidInput(msg("unknown placeholder(s) %(unknown)s; known: %(known)s",
                               unknown=", ".join("{" + u + "}" for u in unknown),
                               known=", ".join(sorted(known))), field="budget")
    point = proc.points[0]
    nominal = point.nominal
    sample: dict[str, Value] = {
        "unit": proc.unit, "nominal": nominal, "mpe": point.mpe or "1",
        "reference": nominal, "indicated": nominal, "error": "0",
        "resolution": "1", "resolution.half": "0.5",
        "readings": [nominal, nominal], "standard_readings": [nominal, nominal]}
    for group in ("readings", "standard_readings"):
        sample |= {f"{group}.mean": nominal, f"{group}.s": "0.1", f"{group}.sdm": "0.1",
                   f"{group}.n": "2", f"{group}.dof": "1"}
    for s in proc.standards:
        sample |= {f"{s.slot}.U": "0.1", f"{s.slot}.k": "2", f"{s.slot}.u": "0.05",
                   f"{s.slot}.value": nominal, f"{s.slot}.nominal": nominal}
    sample |= {f"const.{k}": v for k, v in proc.constants.items()}
    budget = parse_budget(fill(dict(raw), sample))
    mine = parse_budget_unit(proc.unit, "unit", interval=True)
    if budget.unit.base.dimensionality != mine.base.dimensionality:
        raise InvalidInput(msg("the budget's measurand unit %(budget_unit)r is not compatible with the "
                               "procedure's unit %(unit)r",
                               budget_unit=budget.unit.text, unit=proc.unit),
                           field="budget.measurand.unit")
    return copy.deepcopy(dict(raw))


def get_procedure(session: Session, procedure_id: Any) -> CalibrationProcedure:
    proc = session.get(CalibrationProcedure, as_id(procedure_id, "procedure_id"))
    if proc is None:
        raise NotFound(msg("no procedure %(procedure_id)s", procedure_id=procedure_id),
                       procedure=procedure_id)
    return proc


# -- the reception form's procedure: typed with suggestions (issue 14) -----------------------

SUGGESTED = 20  # procedures the reception form offers before anything is typed
_TAGGED = re.compile(r"^(?P<code>.*?)\s*#(?P<id>\d{1,9})$")


def choice_text(proc: CalibrationProcedure) -> str:
    """The procedure as the form's list offers it: its code tagged with its id, since one
    code serves several quantities ("JJG 1036-2022 #3")."""
    return f"{proc.code} #{proc.id}"


def find_procedures(session: Session, term: str, limit: int = SUGGESTED
                    ) -> list[CalibrationProcedure]:
    """Procedures whose code, clause, title or quantity contains ``term`` (any case), those
    whose code starts with it first; with no term, the procedures of the latest jobs, then
    the others by code. At most ``limit``: never the whole register."""
    from lims.web.listing import contains_text

    query = select(CalibrationProcedure).options(lazyload(CalibrationProcedure.points),
                                                 lazyload(CalibrationProcedure.standards))
    term = term.strip()[:100]
    if not term:
        recent = list(dict.fromkeys(session.scalars(
            select(CalibrationJob.procedure_id).order_by(CalibrationJob.id.desc())
            .limit(5 * limit))))[:limit]
        found = {p.id: p for p in session.scalars(
            query.where(CalibrationProcedure.id.in_(recent)))} if recent else {}
        first = [found[i] for i in recent if i in found]
        rest: Iterable[CalibrationProcedure] = session.scalars(
            query.where(CalibrationProcedure.id.not_in(recent))
            .order_by(CalibrationProcedure.code, CalibrationProcedure.id)
            .limit(limit - len(first))) if len(first) < limit else []
        return first + list(rest)
    query = query.where(or_(*(contains_text(c, term) for c in (
        CalibrationProcedure.code, CalibrationProcedure.clause, CalibrationProcedure.title,
        CalibrationProcedure.quantity))))
    return list(session.scalars(query.order_by(
        func.upper(CalibrationProcedure.code).startswith(term.upper(), autoescape=True).desc(),
        CalibrationProcedure.code, CalibrationProcedure.id).limit(limit)))


def resolve_procedure(session: Session, text: str | None, *, field: str = "procedure") -> int:
    """The id of the procedure the reception form's text names: as the list offers it
    (:func:`choice_text`), or its code alone when one procedure has that code.

    :raises InvalidInput: naming ``field``, when nothing or more than one procedure matches.
    """
    if not (text or "").strip():
        raise InvalidInput(msg("procedure is required: type its code"), field=field)
    # Checked as any text is (control characters, a lone surrogate: PostgreSQL refuses NUL).
    text = validate.text(text, field, max_len=200)
    if (tagged := _TAGGED.match(text)) is not None:
        found = session.get(CalibrationProcedure, int(tagged["id"]))
        if found is not None and tagged["code"].lower() in ("", found.code.lower()):
            return found.id
    ids = list(session.scalars(select(CalibrationProcedure.id).where(
        func.lower(CalibrationProcedure.code) == text.lower()).limit(2)))
    if len(ids) == 1:
        return ids[0]
    if ids:
        raise InvalidInput(msg("several procedures have the code %(code)r: pick one from the "
                               "list", code=text[:80]), field=field)
    raise InvalidInput(msg("no procedure has the code %(code)r", code=text[:80]), field=field)


def procedure_json(proc: CalibrationProcedure, session: Session) -> dict[str, Any]:
    assets = {i.id: i.asset_number for i in session.scalars(select(Instrument).where(
        Instrument.id.in_([s.instrument_id for s in proc.standards])))}
    return {"id": proc.id, "code": proc.code, "title": proc.title, "clause": proc.clause,
            "kind": proc.kind, "field": proc.field, "quantity": proc.quantity,
            "quantity_kind": proc.quantity_kind, "unit": proc.unit,
            "method_note": proc.method_note, "verification_months": proc.verification_months,
            "constants": proc.constants, "budget": proc.budget,
            "points": [{"id": p.id, "seq": p.seq, "nominal": p.nominal, "unit": p.unit,
                        "mpe": p.mpe} for p in proc.points],
            "standards": [{"asset_number": assets.get(s.instrument_id, ""), "slot": s.slot}
                          for s in proc.standards]}


def decimal_text(value: Decimal) -> str:
    """A Decimal as plain digits (no exponent), as templates and records write numbers."""
    return format(value, "f")
