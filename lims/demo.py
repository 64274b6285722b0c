"""Demo data: one of everything, and one sample already reported, so a newcomer sees the path.

Seeded once per instance; the demo passwords are random per instance and kept in
``<instance>/demo_logins.json`` (mode 0600), never in the repository.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from typing import Any

from lims.auth.services import create_user, get_user
from lims.db import unit_of_work, utcnow
from lims.instruments.services import register_instrument
from lims.reports.services import issue_report
from lims.runtime import Runtime
from lims.samples import services as samples

USERS = [
    ("admin", "系统管理员 Admin", ["admin"], []),
    ("tech", "王技术 Wang Jishu", ["technician"], []),
    ("reviewer", "李审核 Li Shenhe", ["reviewer"], []),
    ("signatory", "张批准 Zhang Pizhun", ["signatory"], ["textiles"]),
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
                balance = register_instrument(session, actor=qm, timezone=tz, data={
                    "asset_number": "EQ-BAL-001", "name": "电子天平 Analytical balance",
                    "manufacturer": "Mettler Toledo", "model": "XS204",
                    "serial_number": BALANCE_SERIAL, "location": "力学室 Mechanics lab, bench 2",
                    "driver": "mt-sics", "port": balance_link(rt),
                    "port_settings": {"baudrate": 9600},
                    "calibrated_on": (today - dt.timedelta(days=160)).isoformat(),
                    "calibration_due_on": (today + dt.timedelta(days=205)).isoformat(),
                    "calibration_certificate": "JZ2026-01837"})
                register_instrument(session, actor=qm, timezone=tz, data={
                    "asset_number": "EQ-DMM-001", "name": "数字多用表 Digital multimeter",
                    "manufacturer": "Keysight", "model": "34401A", "serial_number": "MY45012345",
                    "location": "电学室 Electrical lab, bench 1", "driver": "scpi-dmm",
                    "port": dev_link(rt, "dmm-1"), "port_settings": {"baudrate": 9600},
                    "calibrated_on": (today - dt.timedelta(days=90)).isoformat(),
                    "calibration_due_on": (today + dt.timedelta(days=275)).isoformat(),
                    "calibration_certificate": "JZ2026-02210"})
                register_instrument(session, actor=qm, timezone=tz, data={
                    "asset_number": "EQ-HYG-001", "name": "温湿度变送器 Humidity/temperature "
                    "transmitter", "manufacturer": "Vaisala", "model": "HMT330",
                    "serial_number": "G1234567", "location": "恒温恒湿室 Climate room",
                    "driver": "vaisala-hmt330", "port": dev_link(rt, "hygrometer-1"),
                    "port_settings": {"baudrate": 4800},
                    "calibrated_on": (today - dt.timedelta(days=340)).isoformat(),
                    "calibration_due_on": (today + dt.timedelta(days=20)).isoformat(),
                    "calibration_certificate": "JZ2025-09981"})
                register_instrument(session, actor=qm, timezone=tz, data={
                    "asset_number": "EQ-BAL-002", "name": "电子天平 Precision balance (overdue)",
                    "manufacturer": "Sartorius", "model": "BSA224S", "serial_number": "31204567",
                    "location": "力学室 Mechanics lab, bench 3",
                    "calibration_due_on": (today - dt.timedelta(days=3)).isoformat()})
                customer = samples.create_customer(
                    session, actor=tech, name="杭州示例纺织有限公司 Hangzhou Example Textiles Co.",
                    contact="刘经理 Mr Liu, 0571-8888 0000", address="杭州市西湖区文三路 100 号")
                method = samples.create_method(
                    session, actor=qm, code="GB/T 4669-2008",
                    title="纺织品 机织物 单位长度质量和单位面积质量的测定", clause="方法 5",
                    field="textiles", characteristics=[
                        {"name": "试样质量 Specimen mass", "unit": "g",
                         "lower_limit": "99.50", "upper_limit": "100.50"}])
                ch = method.characteristics[0]
                req = samples.create_request(
                    session, actor=tech, customer_id=customer.id, description="委托检验",
                    number_format=settings.request_number_format, timezone=settings.timezone)
                first = samples.register_sample(
                    session, actor=tech, request_id=req.id,
                    description="涤棉坯布 Polyester-cotton grey fabric",
                    method_ids=[method.id], number_format=settings.sample_number_format,
                    timezone=settings.timezone)
                second = samples.register_sample(
                    session, actor=tech, request_id=req.id, description="纯棉府绸 Cotton poplin",
                    method_ids=[method.id], number_format=settings.sample_number_format,
                    timezone=settings.timezone)
                for s in (first, second):
                    samples.receive_sample(session, actor=tech, number=s.number,
                                           condition="完好，密封 intact, sealed")
                first_number, balance_id, ch_id = first.number, balance.id, ch.id
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
                samples.complete_testing(session, actor=users["tech"], number=first_number)
                samples.review_sample(session, actor=users["reviewer"], number=first_number)
                samples.approve_sample(session, actor=users["signatory"], number=first_number)
                issue_report(session, actor=users["signatory"], sample_number=first_number,
                             settings=settings)
        finally:
            session.close()
    logins = [(name, passwords[name], ", ".join(roles)) for name, _f, roles, _s in USERS]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(logins, fh)
    return logins


def _logins(path: Any) -> list[tuple[str, str, str]]:
    return [tuple(x) for x in json.loads(path.read_text(encoding="utf-8"))]  # type: ignore[misc]
