"""What a test report says: a frozen snapshot, separate from how it looks.

The snapshot is stored with the issued report as JSON, so the record of what was reported does
not depend on the rows it was built from. Pure: imports neither Flask nor a Session.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any


@dataclasses.dataclass(frozen=True)
class MethodLine:
    code: str
    title: str
    clause: str
    conditions: str = ""   # environmental conditions as printed, "温度 Temperature 23.1 ℃; …"
    deviation: str = ""    # deviation from the method (ISO/IEC 17025 7.8.3.1 a)


@dataclasses.dataclass(frozen=True)
class ResultLine:
    method: str
    characteristic: str
    requirement: str       # e.g. "99.95 … 100.05 g", or "—"
    value: str             # the digits as recorded
    unit: str              # as written (r/min, N·m, %(m/m)); "" when the value carries it
    conformity: str | None  # "pass" / "fail" / None (a person's decision when there is one)
    instrument: str        # asset number and name, or ""
    version: int
    note: str = ""         # e.g. who decided an undecided conformity and why
    uncertainty: str = ""  # e.g. "U = 0.03 g (k = 2)"
    in_scope: bool = True  # inside the lab's accredited scope (CMA/CNAS); "*" when not


@dataclasses.dataclass(frozen=True)
class Signature:
    meaning: str           # 编制 Prepared / 审核 Reviewed / 批准 Approved (21 CFR 11.50)
    name: str
    at: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class ReportContent:
    number: str
    lab_name: str
    lab_name_en: str
    lab_address: str
    customer_name: str
    customer_contact: str
    customer_address: str
    request_number: str
    sample_number: str
    sample_description: str
    condition_on_receipt: str
    received_at: dt.datetime
    tested_from: dt.datetime
    tested_to: dt.datetime
    issued_at: dt.datetime
    methods: tuple[MethodLine, ...]
    results: tuple[ResultLine, ...]
    signatures: tuple[Signature, ...]
    decision_rule: str
    verify_url: str
    timezone: str
    supersedes: str | None = None
    kind: str = "test_report"
    amendment: str = ""    # what changed and why, when this report replaces another (7.8.8.2)
    marks: tuple[str, ...] = ()  # accreditation marks printed: "CMA", "CNAS"
    mark_numbers: tuple[str, ...] = ()  # the certificate number under each mark, in order
    # Particulars of the request and sample (RB/T 214 4.5.20, ISO/IEC 17025 7.8.2.1); "" in
    # snapshots taken before they were recorded.
    inspection_type: str = ""    # 检验类别 as printed, "委托检验 Commissioned inspection"
    product_standard: str = ""   # 判定依据, the standard the verdicts are judged against
    trademark: str = ""          # 商标
    model: str = ""              # 规格型号
    batch: str = ""              # 生产日期/批号
    quantity: str = ""           # 样品数量
    manufacturer: str = ""       # 生产单位
    customer_data: str = ""      # which data the customer supplied (7.8.2.2)
    conclusion: str = ""         # 检验结论 as printed ("" in older snapshots: none printed)
    # The outcome the verdicts give (lims.reports.conclusion: "conforming", "nonconforming" …),
    # what the pass-rate statistics count; "" in older snapshots.
    outcome: str = ""
    # The inspection seal (检验检测专用章) as configured at issue: a PNG path ("" draws the
    # vector seal) and whether a slice of it crosses each page's right edge (骑缝章).
    seal_image: str = ""
    seal_edge: bool = False

    def to_json(self) -> str:
        def default(value: Any) -> Any:
            if isinstance(value, dt.datetime):
                return value.astimezone(dt.UTC).isoformat()
            raise TypeError(type(value))

        return json.dumps(dataclasses.asdict(self), default=default, ensure_ascii=False,
                          sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ReportContent:
        """The snapshot back from :meth:`to_json` (a claimed report is rendered from it)."""
        data = json.loads(text)
        when = dt.datetime.fromisoformat
        for key in ("received_at", "tested_from", "tested_to", "issued_at"):
            data[key] = when(data[key])
        data["methods"] = tuple(MethodLine(**m) for m in data["methods"])
        data["results"] = tuple(ResultLine(**r) for r in data["results"])
        data["signatures"] = tuple(
            Signature(s["meaning"], s["name"], when(s["at"]) if s["at"] else None)
            for s in data["signatures"])
        data["marks"] = tuple(data.get("marks", ()))
        data["mark_numbers"] = tuple(data.get("mark_numbers", ()))
        return cls(**data)
