"""Particulars of a request and its sample that a test report states (RB/T 214 4.5.20,
ISO/IEC 17025 7.8.2): the inspection type, and the environmental conditions of a test.

Pure: imports neither Flask nor a Session.
"""

from __future__ import annotations

import json
from typing import Any

from lims import kinds
from lims.errors import Choices, InvalidInput, msg
from lims.kinds import judge

# 检验类别: a closed set, each with its Chinese and English label as the report prints them.
INSPECTION_TYPES: dict[str, tuple[str, str]] = {
    "commissioned": ("委托检验", "Commissioned inspection"),
    "supervision": ("监督抽查", "Supervision spot check"),
    "sampling": ("抽样检验", "Sampling inspection"),
    "type": ("型式检验", "Type test"),
    "acceptance": ("验收检验", "Acceptance inspection"),
    "arbitration": ("仲裁检验", "Arbitration inspection"),
    "certification": ("认证检验", "Certification inspection"),
}


def inspection_type(value: Any, field: str = "inspection_type") -> str:
    """The inspection type's id (default ``commissioned``).

    :raises InvalidInput: not one of :data:`INSPECTION_TYPES`.
    """
    if value in (None, ""):
        return "commissioned"
    if value not in INSPECTION_TYPES:
        raise InvalidInput(msg("must be one of %(choices)s",
                               choices=Choices(INSPECTION_TYPES)), field=field)
    return str(value)


def inspection_label(value: str) -> str:
    """``委托检验 Commissioned inspection`` (the id itself when unknown)."""
    zh, en = INSPECTION_TYPES.get(value, (value, ""))
    return f"{zh} {en}".strip()


# The conditions a method may ask for, by quantity kind (lims.kinds): a value is accepted only
# in a unit of its kind, so "23 %RH" as a temperature is refused naming both.
CONDITION_KINDS: dict[str, str] = {
    "temperature": "温度 Temperature",
    "relative_humidity": "相对湿度 Relative humidity",
    "pressure": "大气压 Atmospheric pressure",
}


def parse_conditions(raw: Any, field: str = "conditions") -> list[dict[str, str]]:
    """Check recorded conditions: a list of ``{"kind", "value", "unit"}``, at most one per
    kind, each value a number in a unit of its kind (kept as written).

    :raises InvalidInput: an unknown kind, a repeated one, a value that is not a number.
    :raises UnitMismatch: a unit not of the kind (naming the unit and the kind).
    """
    if not isinstance(raw, list | tuple) or not raw:
        raise InvalidInput(msg("give at least one condition"), field=field)
    if len(raw) > len(CONDITION_KINDS):
        raise InvalidInput(msg("at most %(count)s conditions", count=len(CONDITION_KINDS)),
                           field=field)
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        prefix = f"{field}[{i}]"
        if not isinstance(item, dict):
            raise InvalidInput(msg("must be an object"), field=prefix)
        kind_id = item.get("kind")
        if kind_id not in CONDITION_KINDS:
            raise InvalidInput(msg("must be one of %(choices)s",
                                   choices=Choices(CONDITION_KINDS)),
                               field=f"{prefix}.kind")
        if kind_id in seen:
            raise InvalidInput(msg("%(kind)s is given twice", kind=kind_id),
                               field=f"{prefix}.kind")
        seen.add(kind_id)
        kind = kinds.get(kind_id, field=f"{prefix}.kind")
        value = kinds.values.written(item.get("value"), f"{prefix}.value")
        number = kinds.values.number(value, field=f"{prefix}.value")
        unit = kinds.resolve(kind, item.get("unit"), field=f"{prefix}.unit")
        judge.check_domain(number, unit, field=f"{prefix}.value")
        out.append({"kind": kind.id, "value": value, "unit": unit.written})
    return out


def conditions_text(stored: str | None) -> str:
    """Stored conditions as a report prints them: ``温度 Temperature 23.1 ℃; …``."""
    if not stored:
        return ""
    items = json.loads(stored)
    return "; ".join(f"{CONDITION_KINDS.get(c['kind'], c['kind'])} {c['value']} {c['unit']}"
                     .rstrip() for c in items)
