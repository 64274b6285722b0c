"""Metrological traceability chains (ISO/IEC 17025 6.5, ILAC-P10): pure logic.

From a measurement, walk up: the instrument's calibration record in force when it measured, the
standards used in that calibration, *their* records in force on *that* calibration's date, and so
on, until a provider that is a national metrology institute or a calibration laboratory
accredited under the ILAC MRA (ILAC-P10 2.1 a, b). Each link is checked:

- **valid at use**: a record was in force on the day (lab calendar; the valid-until day counts);
- **dimension**: the calibrated quantity has the dimension the link below needs (a mass result
  cannot be traced through a voltage standard);
- **range**: the value used lies inside the calibrated points' range, else "extrapolated";
- **test uncertainty ratio**: the relative standard uncertainty (U/k) of what was calibrated
  over that of the standard at the nearest point; below 4:1 is a warning;
- **cycles** in the data are reported, never followed.

Pure: the database is reached only through the :class:`Loader` the caller passes in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Protocol

ROOT_KINDS = ("nmi", "accredited")
MIN_TUR = Decimal(4)
MAX_DEPTH = 50  # no real chain is this long; data that is, is a cycle we failed to see


@dataclasses.dataclass(frozen=True)
class PointInfo:
    id: int
    quantity: str
    state: str
    nominal: str | None
    nominal_unit: str | None  # pint form
    value: str
    unit: str               # as written
    unit_canonical: str     # pint form
    dimension: str
    expanded_uncertainty: str | None
    k: str | None


@dataclasses.dataclass(frozen=True)
class RecordInfo:
    id: int
    instrument_id: int
    certificate: str
    provider: str
    provider_kind: str
    calibrated_on: dt.date | None
    valid_until: dt.date
    status: str
    points: tuple[PointInfo, ...]
    standards: tuple[tuple[int, int | None], ...]   # (instrument id, point id or None)


@dataclasses.dataclass(frozen=True)
class InstrumentInfo:
    id: int
    asset: str
    name: str
    role: str


class Loader(Protocol):
    def instrument(self, instrument_id: int) -> InstrumentInfo: ...

    def record_in_force(self, instrument_id: int, day: dt.date) -> RecordInfo | None: ...

    def record(self, record_id: int) -> RecordInfo: ...


class Converter(Protocol):
    def __call__(self, value: Decimal, unit: str, to: str) -> Decimal: ...


@dataclasses.dataclass
class Node:
    asset: str
    role: str
    name: str
    needed_on: dt.date                  # the day the record had to be in force
    record_id: int | None = None
    certificate: str | None = None
    provider: str | None = None
    provider_kind: str | None = None
    calibrated_on: dt.date | None = None
    valid_until: dt.date | None = None
    status: str | None = None
    valid_at_use: bool = False
    quantity: str | None = None
    unit: str | None = None
    expanded_uncertainty: str | None = None
    k: str | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)
    others: list[str] = dataclasses.field(default_factory=list)  # other standards used
    branches: list[dict[str, object]] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"asset": self.asset, "role": self.role, "certificate": self.certificate,
                "provider": self.provider, "provider_kind": self.provider_kind,
                "calibrated_on": _iso(self.calibrated_on), "valid_until": _iso(self.valid_until),
                "valid_at_use": self.valid_at_use, "quantity": self.quantity, "unit": self.unit,
                "expanded_uncertainty": self.expanded_uncertainty, "k": self.k,
                "warnings": list(self.warnings), "record_id": self.record_id,
                "status": self.status, "needed_on": self.needed_on.isoformat(),
                "other_standards": list(self.others), "branches": list(self.branches)}


@dataclasses.dataclass
class Chain:
    nodes: list[Node]
    complete: bool
    reason: str | None


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _dec(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def trace(loader: Loader, convert: Converter, *, instrument_id: int, day: dt.date,
          dimension: str | None, value: Decimal | None, unit: str | None,
          first_record: int | None = None, _path: frozenset[int] = frozenset()) -> Chain:
    """Walk the chain from a measurement made with ``instrument_id`` on ``day``.

    The chain returned follows, at each link, the standard calibrated for the quantity (the
    primary path, ``chain[0]`` … root). Every other standard behind the same point (a
    thermometer for the air-buoyancy correction, a second weight) is traced too, and the chain
    is complete only if all of them reach a root: each is a link of the traceability of the
    result (ILAC-P10 2.1). Their verdicts are on the node as ``branches``.

    :param dimension: pint's dimensionality of the measured quantity, e.g. ``[mass]``; None
        for an auxiliary standard, traced for whatever it was calibrated for.
    :param value: the measured value in ``unit`` (pint form), for the range check.
    :param first_record: the record the measurement recorded as in force, if it did.
    """
    nodes: list[Node] = []
    seen: set[int] = set(_path)
    branch_failure: str | None = None
    below: tuple[PointInfo, ...] = ()   # the calibrated points of the link below, for the TUR
    current, needed_on = instrument_id, day
    for depth in range(MAX_DEPTH):
        inst = loader.instrument(current)
        node = Node(asset=inst.asset, role=inst.role, name=inst.name, needed_on=needed_on)
        nodes.append(node)
        rec = loader.record(first_record) if depth == 0 and first_record else \
            loader.record_in_force(current, needed_on)
        if rec is None:
            node.warnings.append(f"no calibration of {inst.asset} was in force on {needed_on}")
            return Chain(nodes, False, f"{inst.asset} had no calibration in force on {needed_on}")
        _fill(node, rec, needed_on)
        if rec.id in seen:
            node.warnings.append("cycle: this calibration already appears lower in the chain")
            return Chain(nodes, False, f"the data loops back to {inst.asset} "
                                       f"({rec.certificate}); the chain is not followed further")
        seen.add(rec.id)
        if not node.valid_at_use:
            return Chain(nodes, False, f"{inst.asset}'s calibration {rec.certificate} was not "
                                       f"in force on {needed_on}")
        points = _matching(rec.points, dimension) if dimension else _matching(
            rec.points, rec.points[0].dimension) if rec.points else []
        if rec.points and not points:
            shown = ", ".join(sorted({p.quantity + " (" + p.dimension + ")" for p in rec.points}))
            node.warnings.append(f"dimension mismatch: calibrated for {shown}, "
                                 f"not {dimension}")
            return Chain(nodes, False, f"{inst.asset} ({rec.certificate}) was not calibrated for "
                                       f"a quantity of dimension {dimension}")
        if not points:
            node.warnings.append("no calibrated points recorded: range and uncertainty "
                                 "not checked")
        chosen = _nearest(points, value, unit, convert)
        if chosen is not None:
            node.quantity, node.unit = chosen.quantity, chosen.unit
            node.expanded_uncertainty, node.k = chosen.expanded_uncertainty, chosen.k
        if points and value is not None and unit is not None:
            _check_range(node, points, value, unit, convert)
        if points and below:
            _check_tur(node, points, below, convert)
        if rec.status == "out of tolerance":
            node.warnings.append("this calibration was later found out of tolerance")
        if rec.provider_kind in ROOT_KINDS:
            return Chain(nodes, branch_failure is None, branch_failure)
        if rec.provider_kind != "in-house":
            return Chain(nodes, False, f"{rec.provider} is neither a national metrology "
                                       "institute nor accredited under the ILAC MRA (ILAC-P10)")
        # The standards behind the point the value was compared with; a standard linked only
        # to other points of the record did not support this measurement.
        standards = _standards_for(rec, [chosen] if chosen else points)
        if not standards:
            return Chain(nodes, False, f"the in-house calibration {rec.certificate} of "
                                       f"{inst.asset} names no standard")
        if rec.calibrated_on is None:
            return Chain(nodes, False, f"the calibration date of {rec.certificate} is not "
                                       "recorded, so its standards cannot be checked")
        nxt = _pick_standard(loader, standards, rec.calibrated_on, dimension)
        for other in standards:
            if other == nxt:
                continue
            asset = loader.instrument(other).asset
            branch = trace(loader, convert, instrument_id=other, day=rec.calibrated_on,
                           dimension=None, value=None, unit=None, _path=frozenset(seen))
            node.others.append(asset)
            node.branches.append({"asset": asset, "complete": branch.complete,
                                  "reason": branch.reason,
                                  "root": branch.nodes[-1].asset if branch.complete else None})
            if not branch.complete and branch_failure is None:
                branch_failure = (f"{asset}, also used in {rec.certificate}, does not trace to a "
                                  f"root: {branch.reason}")
        value, unit = _used_at(chosen)
        below = tuple(points)
        current, needed_on = nxt, rec.calibrated_on
    return Chain(nodes, False, "the chain is longer than any real one: a cycle in the data?")


def _fill(node: Node, rec: RecordInfo, day: dt.date) -> None:
    node.record_id, node.certificate = rec.id, rec.certificate
    node.provider, node.provider_kind = rec.provider, rec.provider_kind
    node.calibrated_on, node.valid_until, node.status = rec.calibrated_on, rec.valid_until, rec.status
    node.valid_at_use = (rec.status != "revoked" and day <= rec.valid_until
                         and (rec.calibrated_on is None or rec.calibrated_on <= day))
    if rec.calibrated_on is None:
        node.warnings.append("calibration date not recorded (migrated record)")


def _matching(points: Sequence[PointInfo], dimension: str) -> list[PointInfo]:
    matching = [p for p in points if p.dimension == dimension]
    as_left = [p for p in matching if p.state == "as left"]
    return as_left or matching


def _at(p: PointInfo) -> tuple[Decimal, str] | None:
    """Where a point sits on the scale: its nominal (in its unit) or else its value."""
    if p.nominal is not None and _same_dimension(p.nominal_unit, p.unit_canonical):
        x = _dec(p.nominal)
        return None if x is None else (x, p.nominal_unit or p.unit_canonical)
    x = _dec(p.value)
    return None if x is None else (x, p.unit_canonical)


@functools.cache
def _same_dimension(a: str | None, b: str) -> bool:
    if a is None:
        return False
    from lims.units import ureg  # the one registry; imported here to keep this module light

    try:
        return bool(ureg.parse_units(a).dimensionality == ureg.parse_units(b).dimensionality)
    except Exception:  # noqa: BLE001 - an unparsable unit is simply not comparable
        return False


def _nearest(points: Sequence[PointInfo], value: Decimal | None, unit: str | None,
             convert: Converter) -> PointInfo | None:
    if not points:
        return None
    if value is None or unit is None:
        return points[0]

    def distance(p: PointInfo) -> Decimal:
        at = _at(p)
        if at is None:
            return Decimal("Infinity")
        try:
            return abs(convert(at[0], at[1], unit) - value)
        except Exception:  # noqa: BLE001 - an unconvertible point is simply not nearest
            return Decimal("Infinity")

    return min(points, key=distance)


def _used_at(point: PointInfo | None) -> tuple[Decimal | None, str | None]:
    """The value at which the standards of a calibration were used: the point's nominal."""
    at = None if point is None else _at(point)
    return (None, None) if at is None else at


def _check_range(node: Node, points: Sequence[PointInfo], value: Decimal, unit: str,
                 convert: Converter) -> None:
    xs = []
    for p in points:
        at = _at(p)
        if at is None:
            continue
        try:
            xs.append(convert(at[0], at[1], unit))
        except Exception:  # noqa: BLE001, S112 - skip a point that cannot be compared
            continue
    if xs and not min(xs) <= value <= max(xs):
        node.warnings.append(f"extrapolated: {value.normalize():f} lies outside the calibrated "
                             f"range {min(xs).normalize():f} … {max(xs).normalize():f}")


def _relative_u(p: PointInfo, convert: Converter) -> Decimal | None:
    """The relative standard uncertainty u/|x| = (U/k)/|x| of a point: certificates state U
    with different k, so U themselves are not comparable."""
    expanded, at, k = _dec(p.expanded_uncertainty), _at(p), _dec(p.k)
    if expanded is None or at is None:
        return None
    u = expanded / k if k else expanded
    try:
        x = convert(at[0], at[1], p.unit_canonical)
    except Exception:  # noqa: BLE001 - no ratio for a point that cannot be compared
        return None
    return None if x == 0 else abs(u / x)


def _check_tur(node: Node, points: Sequence[PointInfo], below: Sequence[PointInfo],
               convert: Converter) -> None:
    ratios = []
    for lower in below:
        u_low, at = _relative_u(lower, convert), _at(lower)
        if u_low is None or at is None:
            continue
        std = _nearest(points, at[0], at[1], convert)
        u_std = None if std is None else _relative_u(std, convert)
        if u_std:
            ratios.append(u_low / u_std)
    if ratios and min(ratios) < MIN_TUR:
        node.warnings.append(f"test uncertainty ratio {min(ratios):.1f}:1 is below 4:1")


def _standards_for(rec: RecordInfo, points: Sequence[PointInfo]) -> list[int]:
    """The standards behind the chosen points: point-level links first, then record-level."""
    ids = {p.id for p in points}
    at_points = [s for s, pid in rec.standards if pid is not None and pid in ids]
    general = [s for s, pid in rec.standards if pid is None]
    out: list[int] = []
    for s in at_points or general or [s for s, _ in rec.standards]:
        if s not in out:
            out.append(s)
    return out


def _pick_standard(loader: Loader, standards: Sequence[int], day: dt.date,
                   dimension: str | None) -> int:
    """Prefer a standard that was in force and calibrated for the dimension on that day."""
    for s in standards:
        rec = loader.record_in_force(s, day)
        if rec is not None and (not rec.points or dimension is None
                                or _matching(rec.points, dimension)):
            return s
    return standards[0]
