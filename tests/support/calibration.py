"""Builders for calibration work: a standard with its certificate, a procedure with N points,
and a customer's balance calibrated (or verified) through to an approved sample.

Shared by the certificate issuing tests and the benchmark; they go through the services, as a
user would, so that what is issued is what the LIMS computes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from lims.calibration import procedures, work
from lims.calibration.certificates import parse_json
from lims.calibration.services import record_certificate
from lims.db import unit_of_work, utcnow
from lims.demo import BUDGET as DEMO_BUDGET
from lims.instruments.services import register_instrument
from lims.samples import services as samples
from tests.support.world import PASSWORD, TZ

FORMATS = {"request_number_format": "WT{year}-{seq:06d}",
           "sample_number_format": "YP{year}-{seq:06d}", "timezone": TZ}
LAB = {"name": "Provincial Institute of Metrology", "kind": "accredited",
       "accreditation": "CNAS L0001", "country": "CN"}

# JJF 1847 style: E = I − m_ref + δI (indication, reference mass, resolution), k = 2, the
# CMC as the floor of U: the demo's budget template.
BUDGET: dict[str, Any] = DEMO_BUDGET


def day(offset: int) -> str:
    return (utcnow().date() + dt.timedelta(days=offset)).isoformat()


def nominals(n: int) -> list[str]:
    """n calibration points of a 220 g balance: 10 g, 20 g, … (at most 22 of them)."""
    return [str(10 * (i + 1)) for i in range(n)]


def standard(session: Any, world: Any, asset: str = "STD-W1", *, n_points: int = 2,
             number: str = "W-1", calibrated: int = -100, valid: int = 200) -> Any:
    """A set of E2 weights with a certificate of an accredited lab, one certified value per
    nominal (U 0.08 mg, k = 2)."""
    qm = world.user(session, "qm")
    with unit_of_work(session):
        inst = register_instrument(session, actor=qm, timezone=TZ, data={
            "asset_number": asset, "name": "E2 weights", "model": "F1-set",
            "serial_number": f"SN-{asset}", "role": "reference standard",
            "quantities": [{"quantity": "mass", "unit": "g"}]})
        cert = parse_json({
            "number": number, "provider": LAB, "instrument": asset,
            "calibrated_on": day(calibrated), "valid_until": day(valid), "standards_used": [],
            "results": [{"quantity": "mass", "nominal": n, "value": f"{n}.00003", "unit": "g",
                         "expanded_uncertainty": "0.00008", "k": "2"}
                        for n in nominals(n_points)]})
        record_certificate(session, actor=qm, instrument=inst, cert=cert, source="typed",
                           timezone=TZ)
        return inst


def procedure(session: Any, world: Any, *, kind: str = "calibration", asset: str = "STD-W1",
              n_points: int = 2, field: str = "textiles", code: str = "JJF 1847-2020") -> int:
    with unit_of_work(session):
        proc = procedures.create_procedure(
            session, actor=world.user(session, "qm"), code=code,
            title="电子天平校准规范 Calibration of electronic balances", clause="6.3",
            kind=kind, field=field, quantity="示值误差 Error of indication", unit="g",
            points=[{"nominal": n, "mpe": "0.0005"} for n in nominals(n_points)],
            standards=[{"asset_number": asset}], constants={"cmc": "0.00013"},
            verification_months=12 if kind == "verification" else None, budget=BUDGET)
        return int(proc.id)


def approved_job(session: Any, world: Any, proc_id: int, *, offset: str = "0.0003",
                 conformity: bool = True, serial: str = "C123", **kw: Any) -> str:
    """A customer's balance received, read at every point (indication = nominal + offset),
    completed, reviewed and approved; returns the sample number."""
    with unit_of_work(session):
        j = work.create_job(
            session, actor=world.user(session, "tech"), procedure_id=proc_id,
            customer_id=world.customer_id, condition="完好 intact",
            item={"name": "电子天平 Electronic balance", "manufacturer": "Mettler Toledo",
                  "model": "XPR205", "serial_number": serial, "accuracy_class": "Ⅰ"},
            resolution="0.0001", conformity_requested=conformity, place="本实验室 Laboratory",
            conditions=[{"name": "温度 Temperature", "value": "20.3", "unit": "℃"},
                        {"name": "相对湿度 Relative humidity", "value": "45", "unit": "%RH"}],
            **FORMATS, **kw)
        number = str(session.get(work.Sample, j.sample_id).number)
    sample, job = work.get_job(session, number)
    point_ids = [p.id for p in job.procedure.points]
    nominal = [Decimal(p.nominal) for p in job.procedure.points]
    with unit_of_work(session):
        for pid, n in zip(point_ids, nominal, strict=True):
            work.record_readings(session, actor=world.user(session, "tech"), number=number,
                                 point_id=pid, values=[str(n + Decimal(offset))],
                                 state="as left", unit=None, standard_values=None, timezone=TZ)
    with unit_of_work(session):
        samples.complete_testing(session, actor=world.user(session, "tech"), number=number)
        samples.review_sample(session, actor=world.user(session, "reviewer"), number=number)
        samples.approve_sample(session, actor=world.user(session, "signatory"), number=number,
                               password=PASSWORD)
    return number
