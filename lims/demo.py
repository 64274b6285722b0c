"""Demo data: one of everything, and one sample already reported, so a newcomer sees the path.

Seeded once per instance; the demo passwords are random per instance and kept in
``<instance>/demo_logins.json`` (mode 0600), never in the repository.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from lims.auth.services import create_user, get_user
from lims.calibration.certificates import parse_json
from lims.calibration.services import record_certificate, record_check
from lims.db import unit_of_work, utcnow
from lims.instruments.services import register_instrument
from lims.reports.services import issue_report
from lims.runtime import Runtime
from lims.samples import services as samples
from lims.samples.models import Sample

USERS = [
    ("admin", "系统管理员 Admin", ["admin"], []),
    ("tech", "王技术 Wang Jishu", ["technician"], []),
    ("reviewer", "李审核 Li Shenhe", ["reviewer"], []),
    ("signatory", "张批准 Zhang Pizhun", ["signatory"], ["textiles", "mass"]),
    ("qm", "赵质量 Zhao Zhiliang", ["quality_manager"], []),
    ("auditor", "陈评审 Chen Pingshen", ["auditor"], []),
]
BALANCE_SERIAL = "B021002593"


def balance_link(rt: Runtime) -> str:
    return dev_link(rt, "balance-1")


def dev_link(rt: Runtime, name: str) -> str:
    """Where `make run` serves the simulated bench instruments."""
    return str(rt.settings.instance_path / "dev" / name)


def _logins_path(rt: Runtime) -> Any:
    return rt.settings.instance_path / "demo_logins.json"


def seed(rt: Runtime) -> list[tuple[str, str, str]]:
    """Seed the demo data unless present; return the demo logins."""
    from drivers.simulators.mtsics import MTSICSBalanceModel
    from drivers.simulators.pty import PtySimulator
    path = _logins_path(rt)
    settings = rt.settings
    tz = settings.timezone
    if True:  # keeps the diff of the restructure small
        session = rt.sessionmaker()
        try:
            if get_user(session, "tech") is not None and path.exists():
                return _logins(path)
            passwords = {u[0]: secrets.token_urlsafe(9) for u in USERS}
            with unit_of_work(session):
                users = {name: create_user(session, username=name, full_name=full, password=passwords[name],
                                           roles=roles, scopes=scopes)
                         for name, full, roles, scopes in USERS}
                qm, tech = users["qm"], users["tech"]
                today = utcnow().date()
                balance = _demo_equipment(session, rt, qm, today)
                customer = samples.create_customer(
                    session, actor=tech, name="杭州示例纺织有限公司 Hangzhou Example Textiles Co.",
                    contact="刘经理 Mr Liu, 0571-8888 0000", address="杭州市西湖区文三路 100 号")
                method = samples.create_method(
                    session, actor=qm, code="GB/T 4669-2008",
                    title="纺织品 机织物 单位长度质量和单位面积质量的测定", clause="方法 5",
                    # Specimens are weighed in the standard atmosphere (GB/T 6529): the
                    # report states the conditions.
                    field="textiles", requires_conditions=True, characteristics=[
                        {"name": "试样质量 Specimen mass", "kind": "mass", "unit": "g",
                         "lower_limit": "99.50", "upper_limit": "100.50"}])
                # A method whose characteristics show kinds the lab needs beyond a plain
                # dimension (issue 9): a mass fraction with LOD/LOQ, a grade, a qualitative
                # result and a temperature rise.
                samples.create_method(
                    session, actor=qm, code="GB 18401-2010", title="国家纺织产品基本安全技术规范",
                    field="textiles", characteristics=[
                        {"name": "甲醛含量 Formaldehyde", "kind": "mass_fraction",
                         "unit": "mg/kg", "upper_limit": "75", "lod": "5", "loq": "20",
                         "uncertainty": {"relative": "10", "k": "2"}},
                        {"name": "pH 值", "kind": "ph", "unit": "pH", "lower_limit": "4.0",
                         "upper_limit": "8.5"},
                        {"name": "耐水色牢度 Colour fastness to water", "kind": "grade",
                         "unit": "级", "lower_limit": "3"},
                        {"name": "异味 Odour", "kind": "qualitative", "expected": "未检出"}])
                procs = _demo_procedures(session, qm)
                # The demo report and certificates carry CMA and CNAS.
                _demo_scope(session, users, today)
                ch = method.characteristics[0]
                req = samples.create_request(
                    session, actor=tech, customer_id=customer.id, description="委托检验",
                    inspection_type="commissioned",
                    product_standard="GB/T 5325-2009 精梳涤棉混纺本色布",
                    customer_data="样品名称、生产日期由委托方提供 / sample name and production "
                                  "date supplied by the customer",
                    number_format=settings.request_number_format, timezone=settings.timezone)
                first = samples.register_sample(
                    session, actor=tech, request_id=req.id,
                    description="涤棉坯布 Polyester-cotton grey fabric",
                    method_ids=[method.id], number_format=settings.sample_number_format,
                    timezone=settings.timezone, trademark="西湖 Xihu",
                    model="T/C 65/35 45×45 133×72 160 cm", batch="2026-10-08 / P261008",
                    quantity="3 块 pieces, 1 m × 1.6 m", manufacturer="杭州示例纺织有限公司",
                    # pass rates per product category on the dashboard (seeded catalogue)
                    category="IND-TEXTILE")
                second = samples.register_sample(
                    session, actor=tech, request_id=req.id, description="纯棉府绸 Cotton poplin",
                    method_ids=[method.id], number_format=settings.sample_number_format,
                    timezone=settings.timezone, category="IND-TEXTILE")
                for s in (first, second):
                    samples.receive_sample(session, actor=tech, number=s.number,
                                           condition="完好，密封 intact, sealed")
                first_number, balance_id, ch_id = first.number, balance.id, ch.id
                method_id = method.id
            # A real capture over a pseudo-terminal from the simulated balance.
            with PtySimulator(MTSICSBalanceModel(serial_number=BALANCE_SERIAL, load="100.02"),
                              balance_link(rt)):
                instrument, reading = samples.read_for_result(
                    session, actor=users["tech"], number=first_number, characteristic_id=ch_id,
                    instrument_id=balance_id, timezone=tz)
            with unit_of_work(session):
                samples.record_reading(session, actor=users["tech"], number=first_number,
                                       characteristic_id=ch_id, instrument=instrument,
                                       reading=reading, timezone=tz)
                samples.record_conditions(
                    session, actor=users["tech"], number=first_number, method_id=method_id,
                    conditions=[{"kind": "temperature", "value": "20.2", "unit": "℃"},
                                {"kind": "relative_humidity", "value": "64", "unit": "%RH"}])
                samples.complete_testing(session, actor=users["tech"], number=first_number)
                samples.review_sample(session, actor=users["reviewer"], number=first_number)
                # Electronic signatures: the signatory's password, as on the forms.
                samples.approve_sample(session, actor=users["signatory"], number=first_number,
                                       password=passwords["signatory"])
                report = issue_report(session, actor=users["signatory"],
                                      sample_number=first_number, settings=settings,
                                      password=passwords["signatory"])
                report_number = report.number
            _demo_certificates(session, rt, users, passwords, procs)
            _demo_amendment(session, rt, users, passwords, report_number)
        finally:
            session.close()
    logins = [(name, passwords[name], ", ".join(roles)) for name, _f, roles, _s in USERS]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(logins, fh)
    return logins


def _demo_scope(session: Any, users: dict[str, Any], today: dt.date) -> None:
    """The lab's CMA and CNAS certificates, the fabric mass method in both scopes, and the
    demo signatory authorised for it (授权签字人), so that the demo report carries the marks."""
    from lims.accreditation.services import add_scope_item, set_accreditation
    from lims.auth.services import set_roles

    until = today.replace(year=today.year + 3, day=min(today.day, 28))
    for scheme, number in (("CMA", "231234567890"), ("CNAS", "CNAS L1234")):
        set_accreditation(session, actor=users["qm"], scheme=scheme, certificate_number=number,
                          valid_from="2024-03-15", valid_until=until.isoformat())
    item = add_scope_item(session, actor=users["qm"], method_code="GB/T 4669-2008",
                          parameter="试样质量 Specimen mass", schemes=["CMA", "CNAS"],
                          object_="纺织品 Textiles", minimum="0.1", maximum="1000", unit="g")
    # The calibration and verification of balances, for the demo certificates (a calibration
    # item of the scope: the marks only when every point is within its range, CNAS-R01).
    items: list[object] = [item.id]
    items += [
        add_scope_item(session, actor=users["qm"], method_code=code, parameter="",
                       category="calibration", schemes=["CMA", "CNAS"],
                       object_="电子天平 Electronic balances", kind="mass", minimum="0",
                       maximum="220", unit="g").id
        for code in (CALIBRATION_CODE, VERIFICATION_CODE)]
    set_roles(session, actor=users["admin"], username="signatory", roles=["signatory"],
              scopes=["textiles", "mass"], scope_items=items)


CALIBRATION_CODE = "JJF 1847-2020"
VERIFICATION_CODE = "JJG 1036-2022"
# JJF 1847-2020 style: the error of indication E = I − m_ref + δI (indication, the reference
# weight's conventional mass, the rounding of the display), U with k = 2 (JJF 1059.1), and the
# lab's CMC as the floor of the reported U (CNAS-CL01-G003).
BUDGET: dict[str, Any] = {
    "measurand": {"symbol": "E", "unit": "{unit}", "description": "示值误差 error of indication"},
    "model": "I - m_ref + dI",
    "coverage": {"k": 2},
    "inputs": [
        {"symbol": "I", "value": "{readings.mean}", "unit": "{unit}",
         "uncertainty": {"type": "A", "standard": "{readings.sdm}", "dof": "{readings.dof}"}},
        {"symbol": "m_ref", "value": "{reference}", "unit": "{unit}",
         "uncertainty": {"type": "B", "distribution": "normal", "expanded": "{standard.U}",
                         "k": "{standard.k}"}},
        {"symbol": "dI", "value": "0", "unit": "{unit}",
         "uncertainty": {"type": "B", "distribution": "rectangular",
                         "half_width": "{resolution.half}"}}],
    "cmc": {"expanded": "{const.cmc}", "unit": "{unit}"},
}
# A class Ⅰ balance, e = 1 mg: MPE ±0.5e up to 50 000e, ±1.0e to 200 000e (JJG 1036-2022).
POINTS = (("10", "0.0005"), ("50", "0.0005"), ("100", "0.0010"), ("200", "0.0010"))


def _demo_procedures(session: Any, qm: Any) -> dict[str, int]:
    """A calibration specification and a verification regulation for customers' balances,
    both using the E2 weights STD-E2-002 (calibrated by an accredited provider)."""
    from lims.calibration.procedures import create_procedure

    out = {}
    for kind, code, title, clause, months in (
            ("calibration", CALIBRATION_CODE, "电子天平校准规范 Calibration of electronic "
             "balances", "", None),
            ("verification", VERIFICATION_CODE, "电子天平检定规程 Verification of electronic "
             "balances", "", 12)):
        proc = create_procedure(
            session, actor=qm, code=code, title=title, clause=clause, kind=kind, field="mass",
            quantity="示值误差 Error of indication", unit="g",
            points=[{"nominal": n, "mpe": mpe} for n, mpe in POINTS],
            standards=[{"asset_number": "STD-E2-002"}], constants={"cmc": "0.00012"},
            verification_months=months, budget=BUDGET)
        out[kind] = proc.id
    return out


def _demo_certificates(session: Any, rt: Any, users: dict[str, Any], passwords: dict[str, str],
                       procs: dict[str, int]) -> None:
    """A customer's balance calibrated (one point adjusted: as found and as left) and another
    verified, each read by the technician, reviewed, approved and issued by the signatory with
    its DCC (separation of duties, RB/T 214 4.5.20)."""
    from lims.calibration import work

    settings, tz = rt.settings, rt.settings.timezone
    tech, reviewer, signatory = users["tech"], users["reviewer"], users["signatory"]
    with unit_of_work(session):
        customer = samples.create_customer(
            session, actor=tech, name="宁波示例制药有限公司 Ningbo Example Pharmaceutical Co.",
            contact="周工 Ms Zhou, 0574-8777 0000", address="宁波市鄞州区示例路 8 号")
        customer_id = customer.id
    Job = tuple[str, dict[str, str], dict[str, tuple[str, str]], str]
    jobs: tuple[Job, ...] = (
        ("calibration", {"name": "电子天平 Electronic balance", "manufacturer": "Mettler Toledo",
                         "model": "XPR205DR", "serial_number": "C318074562",
                         "accuracy_class": "Ⅰ"},
         # (as found, as left) per point: the 200 g point was adjusted.
         {"200": ("200.0014", "200.0003")}, "0.0002"),
        ("verification", {"name": "电子天平 Electronic balance", "manufacturer": "Sartorius",
                          "model": "Quintix224-1CN", "serial_number": "0037512468",
                          "accuracy_class": "Ⅰ"}, {}, "0.0003"))
    for kind, item, adjusted, offset in jobs:
        with unit_of_work(session):
            job = work.create_job(
                session, actor=tech, procedure_id=procs[kind], customer_id=customer_id,
                condition="完好，附电源适配器 intact, with its power adapter", item=item,
                resolution="0.0001", conformity_requested=kind == "verification",
                place="本实验室 Laboratory",
                conditions=[{"name": "温度 Temperature", "value": "20.3", "unit": "℃"},
                            {"name": "相对湿度 Relative humidity", "value": "45",
                             "unit": "%RH"}],
                request_number_format=settings.request_number_format,
                sample_number_format=settings.sample_number_format, timezone=tz)
            number = session.get(Sample, job.sample_id).number
            for point in job.procedure.points:
                nominal = Decimal(point.nominal)
                values = [str(nominal + Decimal(offset)), str(nominal + Decimal(offset)),
                          str(nominal + Decimal(offset) - Decimal("0.0001"))]
                if point.nominal in adjusted:
                    found, left = adjusted[point.nominal]
                    work.record_readings(session, actor=tech, number=number,
                                         point_id=point.id, values=[found], state="as found",
                                         timezone=tz)
                    values = [left, left, left]
                work.record_readings(session, actor=tech, number=number, point_id=point.id,
                                     values=values, state="as left", timezone=tz)
            samples.complete_testing(session, actor=tech, number=number)
            samples.review_sample(session, actor=reviewer, number=number)
            samples.approve_sample(session, actor=signatory, number=number,
                                   password=passwords["signatory"])
            issue_report(session, actor=signatory, sample_number=number, settings=settings,
                         password=passwords["signatory"])


def _demo_amendment(session: Any, rt: Any, users: dict[str, Any], passwords: dict[str, str],
                    number: str) -> None:
    """The demo test report amended: a result corrected with its reason, reviewed, approved
    and issued again; the original stays, superseded (ISO/IEC 17025 7.8.8)."""
    from lims.reports.amend import amend_report
    from lims.reports.models import Report

    tz = rt.settings.timezone
    tech, signatory = users["tech"], users["signatory"]
    why = "原始记录核对：试样质量誊写有误 / record check: the specimen mass was mistranscribed"
    with unit_of_work(session):
        report = session.scalar(select(Report).where(Report.number == number))
        sample = session.get(Sample, report.sample_id)
        amend_report(session, actor=signatory, number=number, reason=why)
        result = next(r for t in sample.tests for r in t.results if r.is_current)
        samples.correct_result(session, actor=tech, result_id=result.id, value="100.03",
                               unit="g", reason=why, timezone=tz)
        samples.complete_testing(session, actor=tech, number=sample.number)
        samples.review_sample(session, actor=users["reviewer"], number=sample.number)
        samples.approve_sample(session, actor=signatory, number=sample.number,
                               password=passwords["signatory"])
        issue_report(session, actor=signatory, sample_number=sample.number,
                     settings=rt.settings, password=passwords["signatory"])


def _demo_equipment(session: Any, rt: Runtime, qm: Any, today: dt.date) -> Any:
    """A real traceability chain a newcomer can click through (ISO/IEC 17025 6.5):

    NMI (中国计量科学研究院) → E1 weight set → in-house calibration of the E2 set against it →
    in-house calibration of the demo balance against the E2 set → the demo report's mass.
    The multimeter and the hygrometer are traced through an accredited laboratory; one balance
    is overdue, and the balance has a history of intermediate checks.
    """
    tz = rt.settings.timezone

    def day(offset: int) -> str:
        return (today + dt.timedelta(days=offset)).isoformat()

    def register(**data: Any) -> Any:
        return register_instrument(session, actor=qm, timezone=tz, data=data)

    def calibrate(asset: Any, number: str, provider: dict[str, str], calibrated: int,
                  valid: int, results: list[dict[str, str]], standards: list[str] = (),  # type: ignore[assignment]
                  conditions: list[dict[str, str]] = ()) -> None:  # type: ignore[assignment]
        cert = parse_json({"number": number, "provider": provider,
                           "instrument": asset.asset_number, "calibrated_on": day(calibrated),
                           "valid_until": day(valid), "standards_used": list(standards),
                           "conditions": list(conditions), "results": results})
        record_certificate(session, actor=qm, instrument=asset, cert=cert, source="typed",
                           timezone=tz)

    nim = {"name": "中国计量科学研究院 National Institute of Metrology, China", "kind": "nmi",
           "accreditation": "", "country": "CN"}
    prov = {"name": "浙江省计量科学研究院 Zhejiang Institute of Metrology", "kind": "accredited",
            "accreditation": "CNAS L0236", "country": "CN"}
    lab = {"name": f"{rt.settings.lab_name} (本实验室 in-house)", "kind": "in-house",
           "accreditation": "", "country": "CN"}
    room = [{"name": "温度 temperature", "value": "20.3", "unit": "℃"},
            {"name": "相对湿度 relative humidity", "value": "45", "unit": "%RH"}]
    mass = [{"quantity": "mass", "unit": "g", "range_min": "1", "range_max": "200"}]

    e1 = register(asset_number="STD-E1-001", name="E1 等级砝码 E1 weight set 1 g–200 g",
                  manufacturer="Häfner", model="E1-200", serial_number="E1-2019-0457",
                  location="质量室 Mass lab, cabinet 1", role="reference standard",
                  accuracy_class="OIML E1", quantities=mass)
    calibrate(e1, "NIM-ZL2026-0311", nim, -300, 430, conditions=room, results=[
        {"quantity": "conventional mass", "nominal": n, "nominal_unit": "g", "value": v,
         "unit": "g", "expanded_uncertainty": u, "k": "2"}
        for n, v, u in (("1", "1.000002", "0.000005"), ("10", "10.000008", "0.000007"),
                        ("100", "100.000021", "0.000012"), ("200", "200.000035", "0.000020"))])
    e2 = register(asset_number="STD-E2-001", name="E2 等级砝码 E2 weight set 1 g–200 g",
                  manufacturer="Sartorius", model="YCW-E2", serial_number="E2-2021-1183",
                  location="质量室 Mass lab, cabinet 2", role="working standard",
                  accuracy_class="OIML E2", quantities=mass)
    calibrate(e2, "JZ2026-E2-0042", lab, -200, 165, standards=["STD-E1-001"], conditions=room,
              results=[{"quantity": "conventional mass", "nominal": n, "nominal_unit": "g",
                        "value": v, "unit": "g", "expanded_uncertainty": u, "k": "2"}
                       for n, v, u in (("1", "1.000012", "0.000020"),
                                       ("10", "10.000031", "0.000030"),
                                       ("100", "99.999950", "0.000050"),
                                       ("200", "200.000120", "0.000080"))])
    # The weights the lab calibrates customers' balances with, calibrated by an accredited
    # provider (E2 weights for a class Ⅰ balance, JJF 1847-2020).
    e2b = register(asset_number="STD-E2-002", name="E2 等级砝码 E2 weight set 10 g–200 g",
                   manufacturer="Mettler Toledo", model="E2-200", serial_number="E2-2023-0719",
                   location="质量室 Mass lab, cabinet 3", role="reference standard",
                   accuracy_class="OIML E2", quantities=mass)
    calibrate(e2b, "ZJ-ZL2026-1506", prov, -60, 305, conditions=room, results=[
        {"quantity": "conventional mass", "nominal": n, "nominal_unit": "g", "value": v,
         "unit": "g", "expanded_uncertainty": u, "k": "2"}
        for n, v, u in (("10", "10.000015", "0.000020"), ("50", "50.000022", "0.000030"),
                        ("100", "100.000041", "0.000050"), ("200", "200.000060", "0.000100"))])
    balance = register(asset_number="EQ-BAL-001", name="电子天平 Analytical balance",
                       manufacturer="Mettler Toledo", model="XS204",
                       serial_number=BALANCE_SERIAL, location="力学室 Mechanics lab, bench 2",
                       driver="mt-sics", port=balance_link(rt), port_settings={"baudrate": 9600},
                       quantities=[{"quantity": "mass", "unit": "g", "range_min": "0.01",
                                    "range_max": "220", "resolution": "0.0001",
                                    "mpe": "0.0005"}])
    calibrate(balance, "JZ2026-01837", lab, -160, 205, standards=["STD-E2-001"],
              conditions=room, results=[
                  {"quantity": "indication", "nominal": n, "nominal_unit": "g", "value": v,
                   "unit": "g", "expanded_uncertainty": u, "k": "2"}
                  for n, v, u in (("10", "10.0001", "0.0002"), ("100", "100.0002", "0.0003"),
                                  ("200", "200.0003", "0.0004"))])
    dmm = register(asset_number="EQ-DMM-001", name="数字多用表 Digital multimeter",
                   manufacturer="Keysight", model="34401A", serial_number="MY45012345",
                   location="电学室 Electrical lab, bench 1", driver="scpi-dmm",
                   port=dev_link(rt, "dmm-1"), port_settings={"baudrate": 9600},
                   quantities=[{"quantity": "DC voltage", "unit": "V", "range_min": "0",
                                "range_max": "1000", "resolution": "0.000001"}])
    calibrate(dmm, "ZJ-DC2026-2210", prov, -90, 275, results=[
        {"quantity": "DC voltage", "nominal": "10", "nominal_unit": "V", "value": "10.00003",
         "unit": "V", "expanded_uncertainty": "0.00006", "k": "2"}])
    hyg = register(asset_number="EQ-HYG-001", name="温湿度变送器 Humidity/temperature transmitter",
                   manufacturer="Vaisala", model="HMT330", serial_number="G1234567",
                   location="恒温恒湿室 Climate room", driver="vaisala-hmt330",
                   port=dev_link(rt, "hygrometer-1"), port_settings={"baudrate": 4800},
                   quantities=[{"quantity": "relative humidity", "unit": "%RH"},
                               {"quantity": "temperature", "unit": "℃"}])
    calibrate(hyg, "ZJ-RH2025-9981", prov, -340, 20, results=[
        {"quantity": "relative humidity", "nominal": "50", "nominal_unit": "%RH",
         "value": "50.8", "unit": "%RH", "expanded_uncertainty": "1.5", "k": "2"},
        {"quantity": "temperature", "nominal": "20", "nominal_unit": "℃", "value": "20.1",
         "unit": "℃", "expanded_uncertainty": "0.2", "k": "2"}])
    register(asset_number="EQ-BAL-002", name="电子天平 Precision balance (overdue)",
             manufacturer="Sartorius", model="BSA224S", serial_number="31204567",
             location="力学室 Mechanics lab, bench 3", calibration_due_on=day(-3))
    for weeks, readings in ((20, ["100.0002", "100.0003", "100.0002"]),
                            (16, ["100.0001", "100.0002", "100.0002"]),
                            (12, ["100.0003", "100.0004", "100.0003"]),
                            (8, ["100.0002", "100.0002", "100.0001"]),
                            (4, ["100.0004", "100.0003", "100.0004"]),
                            (1, ["100.0002", "100.0003", "100.0003"])):
        at = dt.datetime.combine(today - dt.timedelta(weeks=weeks), dt.time(9, 30),
                                 ZoneInfo(tz))
        record_check(session, actor=qm, instrument=balance, timezone=tz, data={
            "check_standard": "STD-E2-001", "nominal": "100.0000", "unit": "g",
            "readings": readings, "limit": "0.0005", "checked_at": at.isoformat(),
            "notes": "100 g E2 砝码 weight"})
    return balance


def _logins(path: Any) -> list[tuple[str, str, str]]:
    return [tuple(x) for x in json.loads(path.read_text(encoding="utf-8"))]
