"""Legacy equipment register (设备台账): the instruments with the quantity each measures and
the calibration in force.

A row's calibration (date, due date, certificate, provider) becomes the instrument's first
calibration record, as the register form's does (ISO/IEC 17025 6.4.13 e); its due-date flag is
set from it as :func:`lims.calibration.services.refresh_flag` would. The quantity's unit is
checked against pint and its range against the unit (numbers, lower end not above upper end).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from lims.audit.bulk import PendingEvent
from lims.calibration.models import CalibrationRecord, RecordStatus
from lims.calibration.services import calibration_flag, get_provider
from lims.config import Settings
from lims.db import utcnow
from lims.errors import InvalidInput, LimsError, msg
from lims.imports.table import Column, Row, RowPlan, Rows, choice, chunks, names, table_of
from lims.instruments.models import EquipmentRole, Instrument, InstrumentQuantity, InstrumentStatus
from lims.instruments.services import parse_quantities

PERMISSION = "instrument.manage"
NOT_RECORDED = "未注明的校准机构 Calibration provider not recorded"
COLUMNS = (
    Column("asset_number", ("asset number", "设备编号", "资产编号", "管理编号"), True, "unique"),
    Column("name", ("name", "设备名称", "仪器名称"), True),
    Column("model", ("model", "型号", "规格型号")),
    Column("serial_number", ("serial number", "出厂编号")),
    Column("manufacturer", ("manufacturer", "制造商", "生产厂家")),
    Column("location", ("location", "存放地点", "放置地点")),
    Column("role", ("role", "设备类别"), False, "test equipment (default) / working standard / "
           "reference standard"),
    Column("accuracy_class", ("accuracy class", "准确度等级")),
    Column("status", ("status", "状态", "设备状态"), False, "in service (default) / out of service"),
    Column("calibrated_on", ("calibrated on", "校准日期", "检定日期")),
    Column("calibration_due_on", ("calibration due", "有效期至", "下次校准日期"), False,
           "required with a calibration date"),
    Column("certificate", ("certificate", "证书编号")),
    Column("provider", ("calibration provider", "校准机构", "检定机构")),
    Column("quantity", ("quantity", "测量参数", "被测量"), False, "with its unit"),
    Column("unit", ("unit", "单位")),
    Column("range_min", ("range min", "测量范围下限")),
    Column("range_max", ("range max", "测量范围上限")),
    Column("resolution", ("resolution", "分辨力")),
    Column("mpe", ("mpe", "最大允许误差")),
)
ROLES = names({EquipmentRole.TEST_EQUIPMENT.value: ("检测设备",),
               EquipmentRole.WORKING_STANDARD.value: ("工作标准",),
               EquipmentRole.REFERENCE_STANDARD.value: ("参考标准",)})
STATES = names({InstrumentStatus.IN_SERVICE.value: ("在用", "正常"),
                InstrumentStatus.OUT_OF_SERVICE.value: ("停用", "封存", "报废")})
TEXTS = {"model": 120, "serial_number": 80, "manufacturer": 120, "location": 120,
         "accuracy_class": 40}
QUANTITY_KEYS = ("quantity", "unit", "range_min", "range_max", "resolution", "mpe")


@dataclasses.dataclass
class Plan(RowPlan):
    quantities: dict[str, list[dict[str, Any]]]
    calibrations: dict[str, dict[str, Any]]
    warning_days: int
    today: dt.date


def validate(session: Session, rows: Rows, settings: Settings, tick: Any) -> Plan:
    today = utcnow().astimezone(ZoneInfo(settings.timezone)).date()
    plan = Plan([], {}, {}, settings.calibration_warning_days, today)
    seen: dict[str, int] = {}
    now = utcnow()
    for row in rows:
        tick(1)
        asset = row.text("asset_number", required=True, max_len=40)
        name = row.text("name", required=True)
        given = {key: row.text(key, max_len=size) for key, size in TEXTS.items()}
        role = row.check("role", lambda v: choice(v, ROLES, "role", EquipmentRole.TEST_EQUIPMENT))
        status = row.check("status", lambda v: choice(v, STATES, "status",
                                                      InstrumentStatus.IN_SERVICE))
        calibration = _calibration(row, today)
        quantities = _quantity(row)
        if asset in seen:
            row.error("asset_number", msg("asset number %(asset)s is also in row %(row)s",
                                          asset=asset, row=seen[asset]))
        elif asset:
            seen[asset] = row.number
        if not row.ok:
            continue
        due = calibration["valid_until"] if calibration else None
        in_force = (CalibrationRecord(valid_until=due) if due is not None and due >= today and (
            calibration is None or calibration["calibrated_on"] is None
            or calibration["calibrated_on"] <= today) else None)
        plan.rows.append({"asset_number": asset, "name": name, **given, "role": str(role),
                          "status": str(status), "status_reason": "", "driver": None,
                          "port": None, "port_settings": {},
                          "calibration_flag": str(calibration_flag(
                              in_force, today, warning_days=plan.warning_days)),
                          "flagged_at": now, "created_at": now, "version": 1})
        plan.quantities[asset] = quantities
        if calibration:
            plan.calibrations[asset] = calibration
    for part in chunks(sorted(seen), 500):
        for asset in session.scalars(select(Instrument.asset_number)
                                     .where(Instrument.asset_number.in_(part))):
            rows.error(seen[asset], "asset_number",
                       msg("asset number %(asset)s exists already", asset=asset))
    return plan


def _calibration(row: Row, today: dt.date) -> dict[str, Any] | None:
    calibrated = row.date("calibrated_on")
    due = row.date("calibration_due_on")
    certificate = row.text("certificate", max_len=80)
    provider = row.text("provider")
    if calibrated and calibrated > today:
        row.error("calibrated_on", msg("%(day)s is in the future", day=calibrated))
    if calibrated and due and due < calibrated:
        row.error("calibration_due_on", msg("the due date %(due)s is before the calibration date "
                                            "%(calibrated)s", due=due, calibrated=calibrated))
    if due is None:
        if calibrated or certificate:
            row.error("calibration_due_on", msg("give the date the calibration is due as well"))
        return None
    return {"calibrated_on": calibrated, "valid_until": due, "certificate_number": certificate,
            "provider": provider or NOT_RECORDED}


def _quantity(row: Row) -> list[dict[str, Any]]:
    raw = {key: row.raw(key) for key in QUANTITY_KEYS}
    if not any(raw.values()):
        return []
    try:
        parsed = parse_quantities([raw])
    except LimsError as exc:
        key = (exc.field or "").rsplit(".", 1)[-1]
        row.error(key if key in QUANTITY_KEYS else "quantity", exc.message)
        return []
    return [{k: getattr(q, k) for k in ("quantity", "unit", "dimension", "range_min", "range_max",
                                        "resolution", "mpe")} for q in parsed]


def write(session: Session, plan: Plan, actor: Any, tick: Any) -> list[PendingEvent]:
    providers: dict[str, int] = {}
    for name in sorted({c["provider"] for c in plan.calibrations.values()}):
        try:
            providers[name] = get_provider(session, name=name, kind="other",
                                           field="provider").id
        except InvalidInput:  # registered under another kind: it is the same provider
            providers[name] = get_provider(session, name=name, kind=_kind(session, name)).id
    table, q_table = table_of(Instrument), table_of(InstrumentQuantity)
    c_table = table_of(CalibrationRecord)
    events: list[PendingEvent] = []
    for part in chunks(plan.rows, 1000):
        ids = session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                              part).scalars().all()
        quantities = [q | {"instrument_id": iid} for iid, row in zip(ids, part, strict=True)
                      for q in plan.quantities[row["asset_number"]]]
        if quantities:
            session.execute(insert(q_table), quantities)
        records = []
        for iid, row in zip(ids, part, strict=True):
            cal = plan.calibrations.get(row["asset_number"])
            if cal:
                records.append({
                    "instrument_id": iid, "provider_id": providers[cal["provider"]],
                    "certificate_number": cal["certificate_number"]
                    or f"{row['asset_number']}-initial",
                    "version": 1, "is_current": True, "calibrated_on": cal["calibrated_on"],
                    "valid_until": cal["valid_until"], "status": RecordStatus.VALID.value,
                    "conditions": [], "conformity": "", "source": "migrated",
                    "recorded_by_id": actor.id})
        if records:
            session.execute(insert(c_table), records)
        for iid, row in zip(ids, part, strict=True):
            after = {**row, "id": iid, "quantities": plan.quantities[row["asset_number"]],
                     "calibration": plan.calibrations.get(row["asset_number"])}
            events.append(PendingEvent("instrument.import", "instruments", row["asset_number"],
                                       after=after))
        tick(len(part))
    return events


def _kind(session: Session, name: str) -> str:
    from lims.calibration.models import CalibrationProvider

    return str(session.scalar(select(CalibrationProvider.kind)
                              .where(CalibrationProvider.name == name)))
