"""Hand-made :class:`CertificateContent` snapshots for tests and benchmarks.

``sample_certificate(kind, n_points=N)`` gives a customer's balance calibrated (or verified,
or failing verification) at N points with realistic, already rounded numbers: nominals
10 g, 20 g, …; every value of a point is in the point's one unit (the contract), here g.
``adjusted(content)`` adds as-found points before the as-left ones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from lims.reports.certificate_content import (
    CALIBRATION_CERTIFICATE,
    VERIFICATION_CERTIFICATE,
    VERIFICATION_NOTICE,
    CertificateContent,
    Condition,
    Item,
    Party,
    PointLine,
    Procedure,
    Signature,
    StandardUsed,
)

T = dt.datetime(2026, 11, 20, 2, 30, tzinfo=dt.UTC)
MPE = Decimal("0.010")  # g, ± at every point


def point(seq: int, *, state: str = "as left", nominal: Decimal, error: Decimal,
          u: str = "0.0012", fail: bool | None = None, mpe: bool = False) -> PointLine:
    reference = nominal  # the standard weights' conventional mass, nominal here
    indicated = reference + error
    conformity = None if fail is None else ("fail" if fail else "pass")
    return PointLine(
        seq=seq, state=state, quantity="示值误差 Error of indication", nominal=f"{nominal}",
        reference=f"{reference:.4f}", indicated=f"{indicated:.4f}", error=f"{error:.4f}",
        unit="g", dsi_unit="\\gram", expanded_uncertainty=u, k="2",
        coverage_probability="0.95", mpe=f"{MPE}" if mpe else None, conformity=conformity,
        readings=(f"{indicated:.4f}", f"{indicated:.4f}", f"{indicated:.4f}"))


def points(n: int, *, state: str = "as left", verdicts: bool = False, mpe: bool = False,
           failing: tuple[int, ...] = (), start: int = 1) -> tuple[PointLine, ...]:
    """``n`` points, nominals 10 g apart; the points whose 0-based index is in ``failing``
    are 0.015 g off (over the 0.010 g MPE), the others 0.0002·i g."""
    out = []
    for i in range(n):
        bad = i in failing
        error = Decimal("0.0150") if bad else Decimal("0.0002") * (i % 7) - Decimal("0.0004")
        out.append(point(start + i, state=state, nominal=Decimal(10 * (i + 1)), error=error,
                         fail=bad if verdicts else None, mpe=mpe))
    return tuple(out)


def sample_certificate(kind: str = CALIBRATION_CERTIFICATE, *, n_points: int = 3,
                       **changes: object) -> CertificateContent:
    """A certificate of ``kind`` for a customer's balance; ``changes`` replace fields."""
    verification = kind in (VERIFICATION_CERTIFICATE, VERIFICATION_NOTICE)
    failing = (1,) if kind == VERIFICATION_NOTICE else ()
    prefix = {CALIBRATION_CERTIFICATE: "JZ", VERIFICATION_CERTIFICATE: "JD",
              VERIFICATION_NOTICE: "JT"}[kind]
    number = f"{prefix}2026-000042"
    base = CertificateContent(
        kind=kind,
        number=number,
        lab=Party("省计量科学研究院", "Provincial Institute of Metrology",
                  "杭州市文一路 1 号 1 Wenyi Road, Hangzhou", "cal@metrology.example"),
        customer=Party("杭州示例精密仪器有限公司", "Hangzhou Example Instruments Co.",
                       "文三路 100 号", "刘经理 0571-8888 0000"),
        item=Item(name="电子天平 Electronic balance", manufacturer="梅特勒-托利多 Mettler-Toledo",
                  model="ME204E", serial_number="B812345678", sample_number="YQ2026-000017",
                  condition_on_receipt="完好 intact", accuracy_class="Ⅰ级"),
        procedure=(Procedure("JJG 1036-2022", "电子天平检定规程 Electronic balances", "7.3")
                   if verification else
                   Procedure("JJF 1847-2020", "电子天平校准规范 Calibration of electronic balances",
                             "6.2")),
        request_number="WT2026-000031",
        received_at=T - dt.timedelta(days=3),
        calibrated_on=dt.date(2026, 11, 19),
        issued_at=T + dt.timedelta(days=1),
        place="本院力学实验室 Mass laboratory, 1 Wenyi Road",
        standards=(
            StandardUsed("BZ-M-001", "E2 等级砝码组 Weight set class E2", "1 mg – 200 g",
                         "E2-0419", "ZLJL2026-00173", "中国计量科学研究院 NIM",
                         dt.date(2027, 3, 4), "E2"),
            StandardUsed("BZ-T-007", "温湿度计 Thermo-hygrometer", "TH-20", "TH20-3391",
                         "WD2026-1102", "省计量院 PIM", dt.date(2027, 1, 15),
                         "U = 0.2 ℃ (k = 2)"),
        ),
        conditions=(Condition("温度 Temperature", "20.3", "℃"),
                    Condition("相对湿度 Relative humidity", "45", "%RH"),
                    Condition("气压 Air pressure", "(101 ± 2)", "kPa")),
        points=points(n_points, verdicts=verification, mpe=verification, failing=failing),
        signatures=(Signature("校准员 Calibrated by", "王技术", T),
                    Signature("核验员 Checked by", "李核验", T + dt.timedelta(hours=2)),
                    Signature("批准人 Approved by", "张批准", T + dt.timedelta(hours=4))),
        verify_url=f"https://lims.example/verify/{number}",
        timezone="Asia/Shanghai",
        method_note="与标准砝码直接比较 direct comparison with standard weights",
    )
    if kind == VERIFICATION_CERTIFICATE:
        base = dataclasses.replace(
            base, conformity_statement="符合 JJG 1036-2022 Ⅰ级要求 Conforms to class I",
            decision_rule="简单接受 Simple acceptance (ILAC-G8 4.2.1, w = 0)",
            valid_until=dt.date(2027, 11, 18))
    elif kind == VERIFICATION_NOTICE:
        base = dataclasses.replace(
            base, conformity_statement="不符合 JJG 1036-2022 Ⅰ级要求 Does not conform",
            decision_rule="简单接受 Simple acceptance (ILAC-G8 4.2.1, w = 0)")
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def adjusted(content: CertificateContent) -> CertificateContent:
    """The same certificate with as-found points (all off by +0.012 g) before the as-left
    ones: the item was adjusted (JJF 1071-2010 5.12 i, as found and as left)."""
    found = tuple(dataclasses.replace(
        p, state="as found", seq=p.seq,
        indicated=f"{Decimal(p.reference) + Decimal('0.0120'):.4f}", error="0.0120",
        expanded_uncertainty="0.0013")
        for p in content.points)
    left = tuple(dataclasses.replace(p, seq=p.seq + len(found)) for p in content.points)
    return dataclasses.replace(content, points=found + left)
