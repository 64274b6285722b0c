"""What a calibration certificate, verification certificate or notice says: a frozen snapshot.

The shared contract between the calibration work (which builds it from a job's readings, the
procedure and the standards' records in force) and the documents (PDF after JJF 1071, and the
PTB DCC XML embedded in it). Stored with the issued document as JSON like
:class:`lims.reports.content.ReportContent`. Pure: imports neither Flask nor a Session.

Numbers keep the digits they are printed with: every value here is text, already rounded
(ILAC-P14: U to two significant digits, the value to the same decimal place).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

# Document kinds, as ``lims report list --json`` names them.
TEST_REPORT = "test_report"
CALIBRATION_CERTIFICATE = "calibration_certificate"
VERIFICATION_CERTIFICATE = "verification_certificate"
VERIFICATION_NOTICE = "verification_notice"
KINDS = (TEST_REPORT, CALIBRATION_CERTIFICATE, VERIFICATION_CERTIFICATE, VERIFICATION_NOTICE)


@dataclasses.dataclass(frozen=True)
class Party:
    """The laboratory, or the customer."""

    name: str
    name_en: str = ""
    address: str = ""
    contact: str = ""


@dataclasses.dataclass(frozen=True)
class Item:
    """The item calibrated or verified (ISO/IEC 17025 7.8.2.1 f)."""

    name: str
    manufacturer: str
    model: str
    serial_number: str
    sample_number: str            # the lab's unique number for it
    condition_on_receipt: str = ""
    accuracy_class: str = ""      # e.g. "OIML E2", "Ⅲ级"


@dataclasses.dataclass(frozen=True)
class Procedure:
    """The JJF calibration specification or JJG verification regulation, and the clause."""

    code: str        # "JJF 1847-2020", "JJG 1036-2022"
    title: str
    clause: str = ""


@dataclasses.dataclass(frozen=True)
class StandardUsed:
    """A measurement standard used, with the certificate in force on the calibration date
    (ISO/IEC 17025 6.5, 7.8.4.1; the traceability statement lists these)."""

    asset_number: str
    name: str
    model: str
    serial_number: str
    certificate_number: str
    provider: str            # who calibrated the standard
    valid_until: dt.date
    accuracy: str = ""       # class or U, as written ("E2", "U = 0.03 mg (k = 2)")


@dataclasses.dataclass(frozen=True)
class Condition:
    """An environmental or influence condition during the calibration; ``unit`` None: text."""

    name: str        # "温度 Temperature"
    value: str       # "20.3" or "(20 ± 2)"
    unit: str | None  # "℃" (as written)


@dataclasses.dataclass(frozen=True)
class PointLine:
    """One calibration point as printed and as exported to the DCC.

    ``nominal``/``reference``/``indicated``/``error``/``expanded_uncertainty``/``mpe`` are in
    ``unit`` (as written, e.g. "g", "℃"); ``dsi_unit`` is its D-SI form (``\\gram``). ``k`` and
    ``coverage_probability`` ("0.95") go with U. ``conformity`` is "pass"/"fail" (or a
    non-binary verdict) when a statement of conformity is made, else None.
    """

    seq: int
    state: str                 # "as found" / "as left"
    quantity: str              # "示值误差 Error of indication"
    nominal: str
    reference: str             # the standard's value (conventional true value)
    indicated: str             # the item's indication (mean of readings)
    error: str                 # indicated − reference
    unit: str
    dsi_unit: str
    expanded_uncertainty: str
    k: str
    coverage_probability: str
    mpe: str | None = None     # ± maximum permissible error at this point
    conformity: str | None = None
    readings: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Signature:
    meaning: str     # 校准员 Calibrated by / 核验员 Checked by / 批准人 Approved by
    name: str
    at: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class CertificateContent:
    kind: str                         # one of KINDS other than TEST_REPORT
    number: str
    lab: Party
    customer: Party
    item: Item
    procedure: Procedure
    request_number: str
    received_at: dt.datetime
    calibrated_on: dt.date
    issued_at: dt.datetime
    place: str                        # where calibrated ("本实验室 laboratory", on site …)
    standards: tuple[StandardUsed, ...]
    conditions: tuple[Condition, ...]
    points: tuple[PointLine, ...]
    signatures: tuple[Signature, ...]
    verify_url: str
    timezone: str
    conformity_statement: str = ""    # overall statement of conformity, "" when none asked
    decision_rule: str = ""           # the rule applied (ILAC-G8), "" when no statement
    method_note: str = ""             # e.g. "direct comparison with standard weights"
    valid_until: dt.date | None = None  # verification certificates: 有效期至 (JJG)
    recalibration: str = ""           # only when the customer asked (ISO/IEC 17025 7.8.4.3)
    remarks: tuple[str, ...] = ()
    supersedes: str | None = None     # number of the document this one replaces
    amendment: str = ""               # what changed and why (ISO/IEC 17025 7.8.8.2)
    marks: tuple[str, ...] = ()       # accreditation marks printed: "CMA", "CNAS"
    mark_numbers: tuple[str, ...] = ()  # the certificate number under each mark, in order
    outside_scope: bool = False       # the calibration is not within the accredited scope

    def to_json(self) -> str:
        def default(value: Any) -> Any:
            if isinstance(value, dt.datetime):
                return value.astimezone(dt.UTC).isoformat()
            if isinstance(value, dt.date):
                return value.isoformat()
            raise TypeError(type(value))

        return json.dumps(dataclasses.asdict(self), default=default, ensure_ascii=False,
                          sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CertificateContent:
        data = json.loads(text)
        when = dt.datetime.fromisoformat
        day = dt.date.fromisoformat
        for key in ("received_at", "issued_at"):
            data[key] = when(data[key])
        data["calibrated_on"] = day(data["calibrated_on"])
        data["valid_until"] = day(data["valid_until"]) if data.get("valid_until") else None
        for key, klass in (("lab", Party), ("customer", Party), ("item", Item),
                           ("procedure", Procedure)):
            data[key] = klass(**data[key])
        data["standards"] = tuple(StandardUsed(**{**s, "valid_until": day(s["valid_until"])})
                                  for s in data["standards"])
        data["conditions"] = tuple(Condition(**c) for c in data["conditions"])
        data["points"] = tuple(PointLine(**{**p, "readings": tuple(p.get("readings", ()))})
                               for p in data["points"])
        data["signatures"] = tuple(
            Signature(s["meaning"], s["name"], when(s["at"]) if s["at"] else None)
            for s in data["signatures"])
        for key in ("remarks", "marks", "mark_numbers"):
            data[key] = tuple(data.get(key, ()))
        return cls(**data)


def content_kind(text: str) -> str:
    """The kind of a stored snapshot (test reports stored before kinds existed have none)."""
    return str(json.loads(text).get("kind") or TEST_REPORT)
