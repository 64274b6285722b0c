"""Calibration records, their points and standards, providers, intermediate checks, and
nonconforming-work cases (ISO/IEC 17025 6.4, 6.5, 7.10).

A calibration record is never rewritten: a correction is a new version with a reason and the
old version stays readable (``is_current`` false), as for results. Only ``status`` and
``is_current`` change after insert; database triggers refuse anything else (migration 0003).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from lims.db import Model, utcnow


class ProviderKind(enum.StrEnum):
    NMI = "nmi"                 # a national metrology institute: the root of a chain
    ACCREDITED = "accredited"   # accredited under the ILAC MRA (ILAC-P10): also a root
    IN_HOUSE = "in-house"       # this lab: the chain continues through the standards it used
    OTHER = "other"             # neither: a chain through it is not complete (ILAC-P10)


ROOT_KINDS = frozenset({ProviderKind.NMI, ProviderKind.ACCREDITED})


class RecordStatus(enum.StrEnum):
    VALID = "valid"
    SUPERSEDED = "superseded"               # a later calibration of the same item exists
    REVOKED = "revoked"                     # withdrawn by its issuer: never in force
    OUT_OF_TOLERANCE = "out of tolerance"   # the item was later found out of tolerance


class PointState(enum.StrEnum):
    AS_FOUND = "as found"
    AS_LEFT = "as left"


class CalibrationProvider(Model):
    __tablename__ = "calibration_providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    accreditation: Mapped[str] = mapped_column(String(80), default="")  # e.g. CNAS L0123
    country: Mapped[str] = mapped_column(String(2), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CalibrationRecord(Model):
    __tablename__ = "calibration_records"
    __table_args__ = (
        UniqueConstraint("instrument_id", "certificate_number", "version"),
        Index("ix_calibration_records_instrument_calibrated", "instrument_id", "calibrated_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("calibration_providers.id"), index=True)
    certificate_number: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(default=1)
    is_current: Mapped[bool] = mapped_column(default=True)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("calibration_records.id"),
                                                    index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    calibrated_on: Mapped[dt.date | None]  # None only for records migrated without a date
    valid_until: Mapped[dt.date]           # lab calendar: this day is still valid
    status: Mapped[str] = mapped_column(String(20), default=RecordStatus.VALID)
    conditions: Mapped[list[dict[str, str | None]]] = mapped_column(JSON, default=list)
    conformity: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20))  # typed / json / dcc / migrated
    file_name: Mapped[str | None] = mapped_column(String(200))
    file_type: Mapped[str | None] = mapped_column(String(40))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    file: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)

    provider: Mapped[CalibrationProvider] = relationship(lazy="joined")
    points: Mapped[list[CalibrationPoint]] = relationship(
        back_populates="record", order_by="CalibrationPoint.seq", lazy="selectin")
    standards: Mapped[list[CalibrationStandard]] = relationship(
        back_populates="record", order_by="CalibrationStandard.id", lazy="selectin")


class CalibrationPoint(Model):
    """One calibrated point: nominal, indicated or measured value, error, U with k or p.

    Values keep their digits as written; ``unit`` is as written and ``unit_canonical`` is the
    pint form the chain's checks convert with.
    """

    __tablename__ = "calibration_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("calibration_records.id"), index=True)
    seq: Mapped[int]
    state: Mapped[str] = mapped_column(String(10), default=PointState.AS_LEFT)
    quantity: Mapped[str] = mapped_column(String(120))
    nominal: Mapped[str | None] = mapped_column(String(40))
    nominal_unit: Mapped[str | None] = mapped_column(String(60))  # as written
    value: Mapped[str] = mapped_column(String(40))
    unit: Mapped[str] = mapped_column(String(60))
    unit_canonical: Mapped[str] = mapped_column(String(120))
    dimension: Mapped[str] = mapped_column(String(120))
    error: Mapped[str | None] = mapped_column(String(40))   # indicated − reference
    expanded_uncertainty: Mapped[str | None] = mapped_column(String(40))  # in ``unit``
    k: Mapped[str | None] = mapped_column(String(40))
    coverage_probability: Mapped[str | None] = mapped_column(String(40))
    conformity: Mapped[str | None] = mapped_column(String(20))

    record: Mapped[CalibrationRecord] = relationship(back_populates="points")


class CalibrationStandard(Model):
    """A standard used in a calibration; ``point_id`` set when it supported only that point."""

    __tablename__ = "calibration_standards"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("calibration_records.id"), index=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"), index=True)
    point_id: Mapped[int | None] = mapped_column(ForeignKey("calibration_points.id"), index=True)

    record: Mapped[CalibrationRecord] = relationship(back_populates="standards")


class IntermediateCheck(Model):
    """期间核查 (ISO/IEC 17025 6.4.10): readings of a check standard against an acceptance limit."""

    __tablename__ = "intermediate_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"), index=True)
    check_standard_id: Mapped[int | None] = mapped_column(ForeignKey("instruments.id"),
                                                          index=True)
    checked_at: Mapped[dt.datetime]
    nominal: Mapped[str] = mapped_column(String(40))
    unit: Mapped[str] = mapped_column(String(40))
    readings: Mapped[list[str]] = mapped_column(JSON)
    mean: Mapped[str] = mapped_column(String(40))
    deviation: Mapped[str] = mapped_column(String(40))      # mean − nominal
    limit: Mapped[str] = mapped_column(String(40))          # acceptance: |deviation| ≤ limit
    result: Mapped[str] = mapped_column(String(10))         # pass / fail
    notes: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20), default="typed")  # typed / instrument
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    performed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Evaluation(enum.StrEnum):
    PENDING = "pending"
    NO_IMPACT = "no impact"
    RETEST = "re-test"
    RECALL = "recall"


class NonconformingCase(Model):
    """Nonconforming work opened from an impact analysis (ISO/IEC 17025 7.10)."""

    __tablename__ = "nonconforming_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"), index=True)
    from_date: Mapped[dt.date]
    to_date: Mapped[dt.date]
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=CaseStatus.OPEN)
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]

    reports: Mapped[list[AffectedReport]] = relationship(
        back_populates="case", order_by="AffectedReport.id", lazy="selectin")


class AffectedReport(Model):
    __tablename__ = "nonconforming_reports"
    __table_args__ = (UniqueConstraint("case_id", "report_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("nonconforming_cases.id"))
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    evaluation: Mapped[str] = mapped_column(String(20), default=Evaluation.PENDING)
    reason: Mapped[str] = mapped_column(Text, default="")
    evaluated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    evaluated_at: Mapped[dt.datetime | None]

    case: Mapped[NonconformingCase] = relationship(back_populates="reports")


# --- calibration and verification of customer instruments (issue 10, section 1) -------------

class JobKind(enum.StrEnum):
    CALIBRATION = "calibration"     # 校准: results with U (JJF calibration specifications)
    VERIFICATION = "verification"   # 检定: pass/fail against a JJG regulation's MPE


class CalibrationProcedure(Model):
    """A JJF calibration specification or JJG verification regulation as the lab applies it:
    the quantity, its unit, the calibration points, the standards used, the constants and the
    uncertainty budget template (:mod:`lims.calibration.procedures` says its language).

    ``field`` is the signatory scope the work falls under, as a test method's (RB/T 214 4.2.4).
    """

    __tablename__ = "calibration_procedures"
    __table_args__ = (UniqueConstraint("code", "clause", "quantity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80))        # "JJG 1036-2022"
    title: Mapped[str] = mapped_column(String(200))
    clause: Mapped[str] = mapped_column(String(80), default="")
    kind: Mapped[str] = mapped_column(String(20))        # JobKind
    field: Mapped[str] = mapped_column(String(80))
    quantity: Mapped[str] = mapped_column(String(120))   # "示值误差 Error of indication"
    quantity_kind: Mapped[str] = mapped_column(String(40))  # lims.kinds registry id
    unit: Mapped[str] = mapped_column(String(40))        # as written
    unit_canonical: Mapped[str] = mapped_column(String(120))
    method_note: Mapped[str] = mapped_column(Text, default="")
    verification_months: Mapped[int | None]              # JJG: 检定周期, for valid_until
    constants: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    budget: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)

    points: Mapped[list[ProcedurePoint]] = relationship(
        back_populates="procedure", order_by="ProcedurePoint.seq", lazy="selectin")
    standards: Mapped[list[ProcedureStandard]] = relationship(
        back_populates="procedure", order_by="ProcedureStandard.id", lazy="selectin")


class ProcedurePoint(Model):
    """A calibration point: the nominal value with its unit as written, and the MPE (±, in the
    procedure's unit) where the procedure has one."""

    __tablename__ = "procedure_points"
    __table_args__ = (UniqueConstraint("procedure_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("calibration_procedures.id"))
    seq: Mapped[int]
    nominal: Mapped[str] = mapped_column(String(40))     # digits as written
    unit: Mapped[str] = mapped_column(String(40))        # as written
    mpe: Mapped[str | None] = mapped_column(String(40))  # ± in the procedure's unit

    procedure: Mapped[CalibrationProcedure] = relationship(back_populates="points")


class ProcedureStandard(Model):
    """A measurement standard of the equipment register the procedure uses; ``slot`` names it
    in the budget template (``{standard.U}``)."""

    __tablename__ = "procedure_standards"
    __table_args__ = (UniqueConstraint("procedure_id", "slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("calibration_procedures.id"))
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"), index=True)
    slot: Mapped[str] = mapped_column(String(40), default="standard")

    procedure: Mapped[CalibrationProcedure] = relationship(back_populates="standards")


class CalibrationJob(Model):
    """What a sample lacks when it is a customer's instrument to calibrate or verify: the item,
    the procedure, what the customer asked for, conditions, place, date and who calibrated.

    The sample carries the number, receipt and lifecycle (review, approval, separation of
    duties) as for any sample (ISO/IEC 17025 7.4, 7.8.2.1).
    """

    __tablename__ = "calibration_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"), unique=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("calibration_procedures.id"),
                                              index=True)
    kind: Mapped[str] = mapped_column(String(20))        # JobKind
    item_name: Mapped[str] = mapped_column(String(120))
    manufacturer: Mapped[str] = mapped_column(String(120), default="")
    model: Mapped[str] = mapped_column(String(120), default="")
    serial_number: Mapped[str] = mapped_column(String(80), default="")
    accuracy_class: Mapped[str] = mapped_column(String(40), default="")
    resolution: Mapped[str | None] = mapped_column(String(40))  # the item's, procedure's unit
    conformity_requested: Mapped[bool] = mapped_column(default=False)
    # Only when the customer asked for one (ISO/IEC 17025 7.8.4.3), e.g. "12 个月 months".
    recalibration_interval: Mapped[str | None] = mapped_column(String(80))
    place: Mapped[str] = mapped_column(String(200), default="")
    conditions: Mapped[list[dict[str, str | None]]] = mapped_column(JSON, default=list)
    calibrated_on: Mapped[dt.date | None]
    calibrated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)

    procedure: Mapped[CalibrationProcedure] = relationship(lazy="joined")
    readings: Mapped[list[CalibrationReading]] = relationship(
        back_populates="job", order_by="(CalibrationReading.point_id, CalibrationReading.state, "
        "CalibrationReading.version)", lazy="selectin")

    def current_readings(self) -> dict[tuple[int, str], CalibrationReading]:
        """The current reading set of each (point id, state)."""
        return {(r.point_id, r.state): r for r in self.readings if r.is_current}


class CalibrationReading(Model):
    """The readings at one point, as found or as left: the item's indications and optionally
    the standard's, exactly as typed or captured, never rewritten (ISO/IEC 17025 7.5.2).

    A correction is a new row with ``version + 1``, the reason and the person; the row it
    replaces stays readable with ``is_current`` false. ``standards`` keeps, for each standard
    of the procedure, the calibration record in force when measured (7.5.1), which the impact
    analysis follows back from a standard found out of tolerance (7.10).
    """

    __tablename__ = "calibration_readings"
    __table_args__ = (UniqueConstraint("job_id", "point_id", "state", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("calibration_jobs.id"), index=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("procedure_points.id"), index=True)
    state: Mapped[str] = mapped_column(String(10), default=PointState.AS_LEFT)
    version: Mapped[int] = mapped_column(default=1)
    is_current: Mapped[bool] = mapped_column(default=True)
    values: Mapped[list[str]] = mapped_column(JSON)                 # the item's indications
    standard_values: Mapped[list[str]] = mapped_column(JSON, default=list)
    unit: Mapped[str] = mapped_column(String(40))                   # as written
    unit_canonical: Mapped[str] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(20))                 # manual / instrument
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("instruments.id"), index=True)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)          # bytes as received
    measured_at: Mapped[dt.datetime]
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("calibration_readings.id"),
                                                    index=True)
    reason: Mapped[str | None] = mapped_column(Text)

    job: Mapped[CalibrationJob] = relationship(back_populates="readings")
    standards: Mapped[list[ReadingStandard]] = relationship(
        order_by="ReadingStandard.id", lazy="selectin", cascade="save-update, merge")

    @property
    def standard_records(self) -> dict[str, int]:
        """The record in force of each standard slot when measured."""
        return {s.slot: s.record_id for s in self.standards}


class ReadingStandard(Model):
    """A standard used for a reading set and its calibration record in force then."""

    __tablename__ = "calibration_reading_standards"
    __table_args__ = (UniqueConstraint("reading_id", "slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reading_id: Mapped[int] = mapped_column(ForeignKey("calibration_readings.id"))
    slot: Mapped[str] = mapped_column(String(40))
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"), index=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("calibration_records.id"), index=True)
